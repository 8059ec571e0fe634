"""Re-verifying NFT avatars: Multicall3 batches against one ownerOf call per token.

Starts anvil, deploys HexavatarNFT, mints N tokens (each to its own address) and records N
active NFT avatars for N users in a SQLite database; then re-verifies all of them once through
``NftAvatars.reverify`` (Multicall3 ``aggregate3``, pinned to one block) and once with one
``ownerOf`` per token (the baseline), counting JSON-RPC requests for each. Prints both times,
the request counts and the speed-up; the last line is one JSON object with the figures.

    python benchmarks/bench_verify.py [--tokens 10000] [--batch 2000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hexavatar.chain.contract import deploy, install_multicall3
from hexavatar.chain.devnode import DEV_PRIVATE_KEYS, DevNode
from hexavatar.chain.minter import CODEC_RAW, Fees, Minter
from hexavatar.chain.rpc import connect
from hexavatar.chain.signer import Signer
from hexavatar.services.avatars import Avatars
from hexavatar.services.nft_avatars import NftAvatars
from hexavatar.services.wallets import Wallets
from hexavatar.storage.db import make_engine, make_session_factory
from hexavatar.storage.migrate import upgrade
from hexavatar.storage.models import Avatar, NftAvatar, User, Wallet
from hexavatar.storage.objects import LocalObjectStore


class _Counter:
    """Counts the HTTP JSON-RPC requests a Web3 provider sends (each POST to the node)."""

    def __init__(self, w3: Any) -> None:
        self.count = 0
        inner = w3.provider._make_request  # the one place every request goes out

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return inner(*args, **kwargs)

        w3.provider._make_request = counted


def _address(i: int) -> str:
    from eth_utils.address import to_checksum_address

    return to_checksum_address(f"0x{0xA000000000000000000000000000000000000000 + i:040x}")


def _owner_of_one_request(w3: Any, contract: str, token_id: int, block: int) -> str:
    """ownerOf as one bare eth_call: the cheapest per-token baseline (one request each)."""
    from eth_utils.address import to_checksum_address

    data = "0x6352211e" + f"{token_id:064x}"
    result = w3.provider.make_request("eth_call", [{"to": contract, "data": data}, hex(block)])
    return str(to_checksum_address("0x" + result["result"][-40:]))


def mint_all(w3: Any, contract: str, n: int) -> None:
    """Mint ``n`` tokens fast: automine off, signed mints sent 250 at a time, each group
    mined into one block (a pool of thousands of pending transactions slows anvil down)."""
    minter = Minter(w3, signer=Signer.from_key(DEV_PRIVATE_KEYS[0]), contract=contract)
    nonce = minter.next_nonce()
    fees = Fees(max_fee_per_gas=200 * 10**9, max_priority_fee_per_gas=10**9)  # full blocks
    w3.provider.make_request("evm_setAutomine", [False])
    last = ""
    for i in range(n):
        tx = minter.build_mint_tx(
            to=_address(i), digest=i.to_bytes(32, "big"), codec=CODEC_RAW, nonce=nonce + i,
            gas=150_000, fees=fees,
        )  # fmt: skip
        last = minter.send_raw(minter.sign(tx).raw)
        if i % 250 == 249:
            w3.provider.make_request("evm_mine", [])
    while w3.eth.get_transaction_count(minter.address) < nonce + n:
        w3.provider.make_request("evm_mine", [])
    w3.provider.make_request("evm_setAutomine", [True])
    minter.wait_receipt(last, timeout=60)


def seed_database(factory: Any, contract: str, n: int, block: int) -> None:
    now = datetime.now(UTC)
    with factory() as s, s.begin():
        s.add_all(
            User(id=i + 1, username=f"u{i}", password_hash="x", created_at=now) for i in range(n)
        )
        s.flush()
        s.add_all(
            Wallet(user_id=i + 1, address=_address(i), chain_id=31337, signer_kind="eoa",
                   linked_at=now)
            for i in range(n)
        )  # fmt: skip
        ids = [str(uuid.uuid4()) for _ in range(n)]
        s.add_all(
            Avatar(id=ids[i], user_id=i + 1, kind="nft", sha256="0" * 64, source_format="png",
                   width=1, height=1, created_at=now)
            for i in range(n)
        )  # fmt: skip
        s.flush()
        s.add_all(
            NftAvatar(
                id=str(uuid.uuid4()), user_id=i + 1, status="active", chain_id=31337,
                contract=contract, token_id=str(i + 1), standard="erc721", owner=_address(i),
                block_number=block, token_uri="", metadata_uri="", metadata_verified=True,
                image_uri="", image_verified=True, steps=[], avatar_id=ids[i], created_at=now,
                checked_at=now, checked_block=block,
            )
            for i in range(n)
        )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=2_000)
    args = parser.parse_args()
    n = args.tokens
    with (
        tempfile.TemporaryDirectory() as tmp,
        DevNode(data_dir=Path(tmp) / "chain", state_interval=None) as node,
    ):
        w3 = connect(node.rpc_url, timeout=120)
        install_multicall3(w3)
        contract = deploy(w3, account=Signer.from_key(DEV_PRIVATE_KEYS[0]), name="B", symbol="B")
        t0 = time.perf_counter()
        mint_all(w3, contract, n)
        print(f"minted {n} tokens in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        upgrade(engine)
        factory = make_session_factory(engine)
        seed_database(factory, contract, n, int(w3.eth.block_number))

        counter = _Counter(w3)
        wallets = Wallets(factory, public_url="http://x", chain_ids=[31337])
        avatars = Avatars(factory, LocalObjectStore(Path(tmp) / "o"), public_url="http://x")
        service = NftAvatars(
            factory,
            avatars=avatars,
            wallets=wallets,
            chains=lambda _c: w3,
            ipfs=None,  # type: ignore[arg-type]
        )
        t0 = time.perf_counter()
        report = service.reverify(batch_size=args.batch)
        batched_s = time.perf_counter() - t0
        batched_rpc = counter.count
        assert report.checked == n and not report.dropped, report

        counter.count = 0
        t0 = time.perf_counter()
        block = int(w3.eth.block_number)
        owners = [_owner_of_one_request(w3, contract, i + 1, block) for i in range(n)]
        single_s = time.perf_counter() - t0
        single_rpc = counter.count
        assert owners == [_address(i) for i in range(n)]

    ratio = single_s / batched_s
    print(f"tokens:              {n}")
    print(f"multicall reverify:  {batched_s:8.2f} s  {batched_rpc:6d} RPC requests", end="")
    print(f" (batch {args.batch}, incl. DB work)")
    print(f"one call per token:  {single_s:8.2f} s  {single_rpc:6d} RPC requests", end="")
    print(" (bare eth_call ownerOf)")
    print(f"speed-up: {ratio:.1f}x (target >= 20x), RPC requests {batched_rpc} (target <= 10)")
    print(json.dumps({
        "tokens": n, "batch_size": args.batch,
        "multicall_seconds": round(batched_s, 3), "multicall_rpc_requests": batched_rpc,
        "single_seconds": round(single_s, 3), "single_rpc_requests": single_rpc,
        "speedup": round(ratio, 1), "speedup_target": 20, "rpc_requests_target": 10,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
