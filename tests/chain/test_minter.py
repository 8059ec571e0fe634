"""Signer, keystores and the Minter's build/sign/send/wait steps, on anvil."""

from __future__ import annotations

import hashlib
import json
import pickle
import stat
from pathlib import Path

import pytest
from web3 import Web3
from web3.contract import Contract

from hexavatar.chain.errors import (
    ChainError,
    InvalidAddress,
    KeystoreError,
    MintReverted,
    NonceConflict,
    ReceiptTimeout,
    TransactionReverted,
)
from hexavatar.chain.minter import CODEC_DAG_PB, CODEC_RAW, Fees, Minter, suggest_fees
from hexavatar.chain.signer import (
    PASSWORD_ENV,
    PASSWORD_FILE_ENV,
    Signer,
    decrypt_keystore,
    encrypt_keystore,
    load_keystore,
    read_password,
    save_keystore,
    signing_backend,
)

from .helpers import cid_v1_uri

PASSWORD = "correct horse battery staple"
FAST = 2  # scrypt cost for tests only


def test_signing_uses_coincurve() -> None:
    assert signing_backend() == "CoinCurveECCBackend"


def test_signer_repr_hides_key() -> None:
    signer = Signer.generate()
    key_hex = signer.unsafe_export_key().hex()
    for text in (repr(signer), str(signer), f"{signer}", repr([signer])):
        assert key_hex not in text
        assert signer.address in text
    with pytest.raises(TypeError):
        pickle.dumps(signer)


def test_invalid_private_key() -> None:
    with pytest.raises(KeystoreError, match="32-byte"):
        Signer.from_key(b"\x00" * 31)


def test_keystore_round_trip(tmp_path: Path) -> None:
    signer = Signer.generate()
    path = tmp_path / "keys" / "minter.json"
    save_keystore(path, signer, PASSWORD, iterations=FAST)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert json.loads(text)["version"] == 3
    assert signer.unsafe_export_key().hex() not in text
    assert PASSWORD not in text
    opened = load_keystore(path, password=PASSWORD)
    assert opened.address == signer.address
    assert opened.unsafe_export_key() == signer.unsafe_export_key()


def test_keystore_password_from_env_and_file(tmp_path: Path) -> None:
    signer = Signer.generate()
    path = tmp_path / "minter.json"
    save_keystore(path, signer, PASSWORD, iterations=FAST)
    assert load_keystore(path, env={PASSWORD_ENV: PASSWORD}).address == signer.address
    secret = tmp_path / "password.txt"
    secret.write_text(PASSWORD + "\n")
    env = {PASSWORD_FILE_ENV: str(secret), PASSWORD_ENV: "ignored: the file wins"}
    assert read_password(env=env) == PASSWORD
    assert load_keystore(path, env=env).address == signer.address
    assert load_keystore(path, env={}, password_file=secret).address == signer.address


def test_missing_password_says_where_to_put_it(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match=PASSWORD_ENV):
        read_password(env={})


def test_wrong_password_never_echoes_secrets(tmp_path: Path) -> None:
    signer = Signer.generate()
    keystore = encrypt_keystore(signer, PASSWORD, iterations=FAST)
    wrong = "hunter2-not-the-password"
    with pytest.raises(KeystoreError) as info:
        decrypt_keystore(keystore, wrong)
    error = info.value
    assert isinstance(error, ValueError)
    assert error.code == "keystore_invalid"
    assert "wrong password" in str(error)
    for text in (str(error), repr(error), repr(error.__cause__), repr(error.__context__)):
        assert wrong not in text
        assert PASSWORD not in text
        assert signer.unsafe_export_key().hex() not in text


def test_unreadable_keystore_errors(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="readable keystore"):
        load_keystore(tmp_path / "none.json", password=PASSWORD)
    with pytest.raises(KeystoreError, match="keystore JSON"):
        decrypt_keystore("{nope", PASSWORD)
    with pytest.raises(KeystoreError, match="non-empty"):
        encrypt_keystore(Signer.generate(), "")


@pytest.fixture
def minter(w3: Web3, nft: Contract, deployer: Signer) -> Minter:
    return Minter(w3, signer=deployer, contract=nft.address)


def test_mint_steps_with_explicit_nonce(
    w3: Web3, nft: Contract, minter: Minter, alice: Signer
) -> None:
    digest = hashlib.sha256(b"steps").digest()
    nonce = minter.next_nonce()
    tx = minter.build_mint_tx(to=alice.address, digest=digest, codec=CODEC_RAW, nonce=nonce)
    assert tx["nonce"] == nonce
    assert tx["type"] == 2
    assert tx["chainId"] == 31337
    assert tx["maxFeePerGas"] >= tx["maxPriorityFeePerGas"]
    assert 80_000 < tx["gas"] < 200_000
    signed = minter.sign(tx)
    assert signed.hash == "0x" + Web3.keccak(signed.raw).hex()
    assert minter.send_raw(signed.raw) == signed.hash
    assert minter.send_raw(signed.raw) == signed.hash  # a resend (already mined) is harmless
    receipt = minter.wait_receipt(signed.hash, confirmations=1, timeout=10)
    assert minter.token_id_from_receipt(receipt) == 1
    assert nft.functions.ownerOf(1).call() == alice.address
    assert nft.functions.tokenURI(1).call() == cid_v1_uri(digest, CODEC_RAW)
    assert minter.next_nonce() == nonce + 1


def test_several_nonces_in_flight(w3: Web3, nft: Contract, minter: Minter, bob: Signer) -> None:
    fees = suggest_fees(w3)
    nonce = minter.next_nonce()
    signed = [
        minter.sign(
            minter.build_mint_tx(
                to=bob.address,
                digest=bytes([i]) * 32,
                codec=CODEC_DAG_PB,
                nonce=nonce + i,
                fees=fees,
                gas=150_000,
            )
        )
        for i in range(5)
    ]
    for tx in reversed(signed):  # out of order: the node queues the gaps
        minter.send_raw(tx.raw)
    ids = [minter.token_id_from_receipt(minter.wait_receipt(tx.hash, timeout=10)) for tx in signed]
    assert ids == [1, 2, 3, 4, 5]


def test_reused_nonce_is_a_nonce_conflict(minter: Minter, alice: Signer) -> None:
    first = minter.mint(to=alice.address, digest=bytes(32), codec=CODEC_RAW)
    stale = minter.build_mint_tx(
        to=alice.address, digest=bytes(32), codec=CODEC_RAW, nonce=0, gas=150_000
    )
    with pytest.raises(NonceConflict) as info:
        minter.send_raw(minter.sign(stale).raw)
    assert info.value.code == "nonce_conflict"
    assert first.token_id == 1


def test_wait_receipt_times_out_on_nonce_gap(w3: Web3, nft: Contract) -> None:
    loner = Signer.generate()  # its own account: the gap must not stall other tests' senders
    w3.provider.make_request("anvil_setBalance", [loner.address, hex(10**18)])  # type: ignore[arg-type]
    minter = Minter(w3, signer=loner, contract=nft.address)
    tx = minter.build_mint_tx(
        to=loner.address, digest=bytes(32), codec=CODEC_RAW, nonce=5, gas=150_000
    )
    signed = minter.sign(tx)
    minter.send_raw(signed.raw)
    try:
        with pytest.raises(ReceiptTimeout) as info:
            minter.wait_receipt(signed.hash, timeout=0.3)
    finally:
        w3.provider.make_request("anvil_dropTransaction", [signed.hash])  # type: ignore[arg-type]
    assert isinstance(info.value, TimeoutError)
    assert signed.hash in str(info.value)


def test_mint_by_non_minter_is_refused_before_signing(
    w3: Web3, nft: Contract, alice: Signer
) -> None:
    outsider = Minter(w3, signer=alice, contract=nft.address)
    with pytest.raises(MintReverted, match="AccessControlUnauthorizedAccount") as info:
        outsider.build_mint_tx(to=alice.address, digest=bytes(32), codec=CODEC_RAW, nonce=0)
    assert info.value.code == "mint_reverted"


def test_reverted_mint_is_reported(w3: Web3, nft: Contract, alice: Signer) -> None:
    outsider = Minter(w3, signer=alice, contract=nft.address)
    tx = outsider.build_mint_tx(
        to=alice.address,
        digest=bytes(32),
        codec=CODEC_RAW,
        nonce=outsider.next_nonce(),
        gas=150_000,  # explicit gas: no estimate, mined, reverts
    )
    signed = outsider.sign(tx)
    outsider.send_raw(signed.raw)
    with pytest.raises(TransactionReverted) as info:
        outsider.wait_receipt(signed.hash, timeout=10)
    assert info.value.receipt["status"] == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("digest", "codec", "match"),
    [(bytes(31), CODEC_RAW, "32-byte"), (bytes(32), 0x71, "codec")],
)
def test_bad_mint_arguments(
    minter: Minter, alice: Signer, digest: bytes, codec: int, match: str
) -> None:
    with pytest.raises(MintReverted, match=match):
        minter.build_mint_tx(to=alice.address, digest=digest, codec=codec, nonce=0, gas=1)


def test_bad_recipient_address(minter: Minter) -> None:
    with pytest.raises(InvalidAddress):
        minter.build_mint_tx(to="0xnope", digest=bytes(32), codec=CODEC_RAW, nonce=0, gas=1)


def test_safe_transfer_tx(
    w3: Web3, nft: Contract, minter: Minter, deployer: Signer, bob: Signer
) -> None:
    minted = minter.mint(to=deployer.address, digest=bytes(32), codec=CODEC_RAW)
    tx = minter.build_transfer_tx(
        from_address=deployer.address,
        to=bob.address,
        token_id=minted.token_id,
        nonce=minter.next_nonce(),
    )
    signed = minter.sign(tx)
    minter.send_raw(signed.raw)
    minter.wait_receipt(signed.hash, timeout=10)
    assert nft.functions.ownerOf(minted.token_id).call() == bob.address
    again = minter.build_transfer_tx
    with pytest.raises(TransactionReverted, match="ERC721InsufficientApproval"):
        again(from_address=bob.address, to=deployer.address, token_id=1, nonce=0)


def test_token_id_from_receipt_needs_our_transfer(w3: Web3, minter: Minter) -> None:
    with pytest.raises(MintReverted, match="Transfer"):
        minter.token_id_from_receipt({"logs": []})


def test_fees_follow_the_node(w3: Web3) -> None:
    fees = suggest_fees(w3)
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    assert isinstance(fees, Fees)
    assert fees.max_fee_per_gas == 2 * base + fees.max_priority_fee_per_gas


def test_minter_repr_hides_key(minter: Minter, deployer: Signer) -> None:
    assert deployer.unsafe_export_key().hex() not in repr(minter)
    assert isinstance(MintReverted("x"), ChainError)
