"""Mint and transfer gas: HexavatarNFT against OpenZeppelin's ERC721URIStorage baseline.

Both contracts are deployed on one fresh anvil (a DevNode in a temporary directory) and get the
same metadata CID: HexavatarNFT as (digest, codec), the baseline as the ``ipfs://b...`` string.
Each figure is measured after a warm-up mint (so the token counter is no longer zero, as on a
live contract). Prints ratios against the baseline and, as its last line, one JSON object.

The raw chain throughput (:func:`raw_chain_mints_per_second`: build + sign + send + receipt,
one at a time, explicit nonces) is printed too, and end-to-end mints per second through the
service layer (IPFS import, ledger, nonce lock, receipt), one at a time and 8 at once.

Run: ``.venv/bin/python benchmarks/bench_mint.py [--mints N]``
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eth_keys.backends.coincurve import CoinCurveECCBackend
from eth_keys.backends.native.main import NativeECCBackend
from eth_keys.datatypes import PrivateKey
from eth_utils.address import to_checksum_address
from web3 import Web3

from hexavatar.chain.artifacts import load_artifact
from hexavatar.chain.contract import deploy, deploy_artifact
from hexavatar.chain.devnode import DEV_PRIVATE_KEYS, DevNode
from hexavatar.chain.minter import CODEC_DAG_PB, CODEC_RAW, Minter, suggest_fees, wait_receipt
from hexavatar.chain.rpc import connect
from hexavatar.chain.signer import Signer, signing_backend

TARGET_MINT_RATIO = 0.6


def cid_uri(digest: bytes, codec: int) -> str:
    raw = bytes([0x01, codec, 0x12, 0x20]) + digest
    return "ipfs://b" + base64.b32encode(raw).decode().lower().rstrip("=")


def _send(w3: Web3, signer: Signer, to: str, data: bytes) -> int:
    fees = suggest_fees(w3)
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": int(w3.eth.chain_id),
        "to": to,
        "data": "0x" + data.hex(),
        "value": 0,
        "nonce": int(w3.eth.get_transaction_count(signer.address, "pending")),
        "maxFeePerGas": fees.max_fee_per_gas,
        "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
        "gas": 1_000_000,
    }
    signed = signer.sign_transaction(tx)
    w3.eth.send_raw_transaction(signed.raw)
    return int(wait_receipt(w3, signed.hash)["gasUsed"])


def _calldata(w3: Web3, name: str, address: str, fn: str, args: list[Any]) -> bytes:
    contract = w3.eth.contract(address=to_checksum_address(address), abi=load_artifact(name).abi)
    return bytes.fromhex(contract.encode_abi(fn, args=args)[2:])


def gas_figures(w3: Web3, signer: Signer, *, codec: int) -> dict[str, int]:
    """Mint (new holder, existing holder) and transfer gas for both contracts."""
    ours = deploy(w3, account=signer, name="Hexavatar", symbol="HXA")
    base = deploy_artifact(w3, "BaselineURIStorage", signer.address, account=signer)
    holder, newcomer, other = (Signer.generate().address for _ in range(3))
    digest = hashlib.sha256(b"bench metadata").digest()
    uri = cid_uri(digest, codec)

    def mint_ours(to: str) -> int:
        data = _calldata(w3, "HexavatarNFT", ours, "mint", [to, digest, codec])
        return _send(w3, signer, ours, data)

    def mint_base(to: str) -> int:
        return _send(
            w3, signer, base, _calldata(w3, "BaselineURIStorage", base, "safeMint", [to, uri])
        )

    def safe_mint_ours(to: str) -> int:
        data = _calldata(w3, "HexavatarNFT", ours, "safeMint", [to, digest, codec])
        return _send(w3, signer, ours, data)

    mint_ours(holder), mint_base(holder)  # warm-up: counters leave zero
    figures = {
        "ours_mint_new_holder": mint_ours(newcomer),
        "base_mint_new_holder": mint_base(newcomer),
        "ours_mint_existing_holder": mint_ours(newcomer),
        "base_mint_existing_holder": mint_base(newcomer),
        "ours_safe_mint_new_holder": safe_mint_ours(Signer.generate().address),
    }
    # transfer signer-owned tokens: mint to the signer first
    mint_ours(signer.address), mint_base(signer.address)
    ours_id = int(
        w3.eth.call(
            {
                "to": ours,
                "data": _calldata(w3, "HexavatarNFT", ours, "totalMinted", []),
            }
        ).hex(),
        16,
    )
    figures["ours_transfer"] = _send(
        w3,
        signer,
        ours,
        _calldata(w3, "HexavatarNFT", ours, "safeTransferFrom", [signer.address, other, ours_id]),
    )
    figures["base_transfer"] = _send(
        w3,
        signer,
        base,
        _calldata(w3, "BaselineURIStorage", base, "safeTransferFrom", [signer.address, other, 3]),
    )  # 4th baseline mint
    return figures


def raw_chain_mints_per_second(w3: Web3, minter: Minter, *, count: int) -> float:
    """Sequential mints through :class:`Minter` (build, sign, send, wait receipt) per second."""
    to = Signer.generate().address
    fees = suggest_fees(w3)
    nonce = minter.next_nonce()
    start = time.perf_counter()
    for i in range(count):
        digest = hashlib.sha256(i.to_bytes(8, "big")).digest()
        tx = minter.build_mint_tx(
            to=to, digest=digest, codec=CODEC_RAW, nonce=nonce + i, fees=fees, gas=150_000
        )
        signed = minter.sign(tx)
        minter.send_raw(signed.raw)
        minter.wait_receipt(signed.hash)
    return count / (time.perf_counter() - start)


def service_mints_per_second(
    w3: Web3, signer: Signer, rpc_url: str, *, count: int, workers: int
) -> float:
    """End-to-end mints per second through the service layer: image check, IPFS import of
    image and metadata, ledger rows, nonce under the DB lock, sign, send, receipt. ``workers``
    requests at a time, each with its own image, on a SQLite database."""
    import io
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image

    from hexavatar.ipfs.blockstore import FilesystemBlockstore
    from hexavatar.services.chainlink import ChainLink
    from hexavatar.services.minting import Minting, MintRequest
    from hexavatar.storage.db import make_engine, make_session_factory
    from hexavatar.storage.migrate import upgrade

    contract = deploy(w3, account=signer, name="S", symbol="S")
    link = ChainLink(w3, Minter(w3, signer=signer, contract=contract), contract, 31337, rpc_url)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        upgrade(engine)
        minting = Minting(
            make_session_factory(engine), FilesystemBlockstore(Path(tmp) / "blocks"), link
        )
        images = []
        for i in range(count):
            buf = io.BytesIO()
            Image.new("RGB", (64, 64), (i % 256, i // 256 % 256, 7)).save(buf, "PNG")
            images.append(buf.getvalue())
        to = Signer.generate().address

        def one(i: int) -> None:
            req = MintRequest.parse(
                image=images[i], name=f"n{i}", description="bench", attributes=None, to=to,
                idempotency_key=f"k{i}",
            )  # fmt: skip
            assert minting.submit(None, req).status == "confirmed"

        start = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, range(count)))
        rate = count / (time.perf_counter() - start)
        engine.dispose()
    return rate


def signing_per_second(minter: Minter, *, count: int) -> float:
    """Transaction signatures per second alone (no node)."""
    tx = {
        "type": 2,
        "chainId": 31337,
        "to": minter.contract,
        "data": "0x" + "00" * 100,
        "value": 0,
        "nonce": 0,
        "gas": 150_000,
        "maxFeePerGas": 10**9,
        "maxPriorityFeePerGas": 10**9,
    }
    start = time.perf_counter()
    for i in range(count):
        minter.sign({**tx, "nonce": i})
    return count / (time.perf_counter() - start)


def ecdsa_signing_speedup(*, count: int) -> dict[str, float]:
    """Signatures/s of eth-keys' coincurve backend against its pure-Python one (same hashes)."""
    key = bytes(range(1, 33))
    hashes = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(count)]
    rates = {}
    for name, backend in (("coincurve", CoinCurveECCBackend()), ("native", NativeECCBackend())):
        private = PrivateKey(key, backend=backend)
        start = time.perf_counter()
        for digest in hashes:
            private.sign_msg_hash(digest)
        rates[name] = count / (time.perf_counter() - start)
    return {**rates, "ratio": rates["coincurve"] / rates["native"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mints", type=int, default=200, help="mints for the throughput figure")
    args = parser.parse_args(argv)
    signer = Signer.from_key(DEV_PRIVATE_KEYS[0])
    with (
        tempfile.TemporaryDirectory() as tmp,
        DevNode(data_dir=Path(tmp), state_interval=None) as node,
    ):
        w3 = connect(node.rpc_url)
        raw = gas_figures(w3, signer, codec=CODEC_RAW)
        dag = gas_figures(w3, signer, codec=CODEC_DAG_PB)
        minter = Minter(
            w3, signer=signer, contract=deploy(w3, account=signer, name="B", symbol="B")
        )
        mps = raw_chain_mints_per_second(w3, minter, count=args.mints)
        service_1 = service_mints_per_second(w3, signer, node.rpc_url, count=args.mints, workers=1)
        service_8 = service_mints_per_second(w3, signer, node.rpc_url, count=args.mints, workers=8)
        sps = signing_per_second(minter, count=2000)
    ecdsa = ecdsa_signing_speedup(count=300)
    result: dict[str, Any] = {"raw_codec": raw, "dag_pb_codec": dag}
    for label, fig in (("raw", raw), ("dag_pb", dag)):
        for kind in ("mint_new_holder", "mint_existing_holder", "transfer"):
            ratio = fig[f"ours_{kind}"] / fig[f"base_{kind}"]
            result[f"ratio_{label}_{kind}"] = round(ratio, 4)
            print(
                f"{label:6} {kind:22} ours {fig[f'ours_{kind}']:>7}  baseline "
                f"{fig[f'base_{kind}']:>7}  ratio {ratio:.3f}"
            )
        safe = fig["ours_safe_mint_new_holder"] / fig["base_mint_new_holder"]
        result[f"ratio_{label}_safe_mint_new_holder"] = round(safe, 4)
        print(
            f"{label:6} {'safeMint_new_holder':22} ours {fig['ours_safe_mint_new_holder']:>7}  "
            f"baseline {fig['base_mint_new_holder']:>7}  ratio {safe:.3f}"
        )
    ok = result["ratio_raw_mint_new_holder"] <= TARGET_MINT_RATIO
    print(f"target mint ratio <= {TARGET_MINT_RATIO}: {'met' if ok else 'NOT met'}")
    print(f"raw chain mints/s (sign+send+receipt, sequential): {mps:.1f}")
    print(
        f"service mints/s end to end: {service_1:.1f} one at a time "
        f"({service_1 / mps:.2f}x raw chain), {service_8:.1f} with 8 at once "
        f"({service_8 / mps:.2f}x raw chain)"
    )
    print(f"transaction signatures/s (eth-account, {signing_backend()}): {sps:.0f}")
    print(
        f"ECDSA signs/s: coincurve {ecdsa['coincurve']:.0f}, pure Python {ecdsa['native']:.0f}, "
        f"ratio {ecdsa['ratio']:.1f}x"
    )
    result.update(
        target_mint_ratio=TARGET_MINT_RATIO,
        target_met=ok,
        raw_chain_mints_per_second=round(mps, 1),
        service_mints_per_second=round(service_1, 1),
        service_mints_per_second_8_workers=round(service_8, 1),
        service_vs_raw_ratio=round(service_1 / mps, 3),
        signatures_per_second=round(sps),
    )
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
