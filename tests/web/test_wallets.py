"""Wallet links with Sign-In with Ethereum: every way a message can be wrong is refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from hexavatar.app import create_app
from hexavatar.chain.contract import deploy_artifact
from hexavatar.chain.rpc import connect
from hexavatar.chain.signer import Signer
from hexavatar.chain.siwe import build_message
from hexavatar.config import Settings, load_settings
from tests.conftest import DevChain
from tests.support.keys import dev_key
from tests.web.conftest import signup

KEY = dev_key(3)
ADDRESS = Account.from_key(KEY).address
OTHER_KEY = dev_key(4)


@pytest.fixture
def nft_settings(storage_config: dict[str, str], dev_chain: DevChain) -> Settings:
    return load_settings(**storage_config, **dev_chain.settings(), public_url="http://testserver")


@pytest.fixture
def client(nft_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(nft_settings)) as c:
        signup(c)
        yield c


def message(client: TestClient, **over: Any) -> tuple[str, dict[str, Any]]:
    n = client.get("/api/v1/auth/siwe/nonce")
    assert n.status_code == 200, n.text
    info = n.json()
    assert info["scheme"] == "http"  # the test server's: a message must name it
    fields: dict[str, Any] = {
        "scheme": info["scheme"],
        "domain": info["domain"],
        "address": ADDRESS,
        "statement": "Link this wallet to Hexavatar (read-only).",
        "uri": info["uri"] + "/settings/wallets",
        "chain_id": 31337,
        "nonce": info["nonce"],
        "issued_at": datetime.now(UTC),
    }
    fields.update(over)
    return build_message(**fields).to_text(), info


def sign(text: str, key: str = KEY) -> str:
    return "0x" + Account.sign_message(encode_defunct(text=text), key).signature.hex()


def link(client: TestClient, text: str, signature: str) -> Any:
    return client.post("/api/v1/me/wallets", json={"message": text, "signature": signature})


def test_nonce_names_this_service(client: TestClient) -> None:
    info = client.get("/api/v1/auth/siwe/nonce").json()
    assert info["domain"] == "testserver" and info["uri"] == "http://testserver"
    assert 31337 in info["chain_ids"] and len(info["nonce"]) >= 8
    issued = datetime.fromisoformat(info["issued_at"])
    assert datetime.fromisoformat(info["expires_at"]) - issued == timedelta(minutes=10)


def test_link_list_and_unlink(client: TestClient) -> None:
    text, _ = message(client)
    r = link(client, text, sign(text))
    assert r.status_code == 201, r.text
    assert r.json()["address"] == ADDRESS and r.json()["signer_kind"] == "eoa"
    assert [w["address"] for w in client.get("/api/v1/me/wallets").json()] == [ADDRESS]
    assert client.delete(f"/api/v1/me/wallets/{ADDRESS.lower()}").status_code == 204
    assert client.get("/api/v1/me/wallets").json() == []
    assert client.delete(f"/api/v1/me/wallets/{ADDRESS}").status_code == 404


def test_several_wallets_per_user(client: TestClient) -> None:
    text, _ = message(client)
    assert link(client, text, sign(text)).status_code == 201
    other = Account.from_key(OTHER_KEY).address
    text2, _ = message(client, address=other)
    assert link(client, text2, sign(text2, OTHER_KEY)).status_code == 201
    assert {w["address"] for w in client.get("/api/v1/me/wallets").json()} == {ADDRESS, other}


def test_replay_is_refused(client: TestClient) -> None:
    text, _ = message(client)
    sig = sign(text)
    assert link(client, text, sig).status_code == 201
    r = link(client, text, sig)
    assert r.status_code == 401 and r.json()["error"]["code"] == "siwe_bad_nonce"


def test_nonce_from_another_session_is_refused(client: TestClient, nft_settings: Settings) -> None:
    text, _ = message(client)
    client.post("/api/v1/auth/logout")
    r = client.post("/api/v1/auth/login", json={"username": "alice", "password": "correct horse"})
    assert r.status_code == 200
    r = link(client, text, sign(text))
    assert r.status_code == 401 and r.json()["error"]["code"] == "siwe_bad_nonce"


def test_unissued_nonce_is_refused(client: TestClient) -> None:
    text, _ = message(client, nonce="abcdefgh12345678")
    r = link(client, text, sign(text))
    assert r.json()["error"]["code"] == "siwe_bad_nonce"


NOW = datetime.now(UTC)


@pytest.mark.parametrize(
    "over,code",
    [
        ({"domain": "evil.example"}, "siwe_bad_domain"),
        ({"scheme": "https"}, "siwe_bad_scheme"),
        ({"uri": "http://evil.example/login"}, "siwe_bad_uri"),
        ({"chain_id": 1}, "siwe_bad_chain"),
        ({"expiration_time": NOW - timedelta(minutes=5)}, "siwe_expired"),
        ({"not_before": NOW + timedelta(hours=1)}, "siwe_not_yet_valid"),
        ({"issued_at": NOW + timedelta(hours=1)}, "siwe_issued_in_future"),
    ],
)
def test_wrong_message_fields_are_refused(
    client: TestClient, over: dict[str, Any], code: str
) -> None:
    text, _ = message(client, **over)
    r = link(client, text, sign(text))
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == code
    assert client.get("/api/v1/me/wallets").json() == []


def test_another_addresss_signature_is_refused(client: TestClient) -> None:
    text, _ = message(client)
    r = link(client, text, sign(text, OTHER_KEY))
    assert r.status_code == 401 and r.json()["error"]["code"] == "siwe_wrong_signer"


def test_altered_text_is_refused(client: TestClient) -> None:
    text, _ = message(client)
    sig = sign(text)
    altered = text.replace("read-only", "read-write")
    r = link(client, altered, sig)
    assert r.status_code == 401 and r.json()["error"]["code"] == "siwe_wrong_signer"


def test_malformed_message_is_422(client: TestClient) -> None:
    r = link(client, "hello, please link me", sign("hello"))
    assert r.status_code == 422 and r.json()["error"]["code"].startswith("siwe_")


def test_address_linked_to_another_account_is_409(nft_settings: Settings) -> None:
    with TestClient(create_app(nft_settings)) as a, TestClient(create_app(nft_settings)) as b:
        signup(a, "first")
        signup(b, "second")
        text, _ = message(a)
        assert link(a, text, sign(text)).status_code == 201
        text2, _ = message(b)
        r = link(b, text2, sign(text2))
        assert r.status_code == 409 and r.json()["error"]["code"] == "wallet_taken"


def test_contract_wallet_signs_with_eip1271(client: TestClient, dev_chain: DevChain) -> None:
    w3 = connect(dev_chain.rpc_url)
    deployer = Signer.from_key(dev_key(6))
    wallet = deploy_artifact(w3, "TestERC1271Wallet", ADDRESS, account=deployer)
    text, _ = message(client, address=wallet)
    r = link(client, text, sign(text))  # the wallet's owner signs for the wallet
    assert r.status_code == 201, r.text
    assert r.json() == {**r.json(), "address": wallet, "signer_kind": "eip1271"}
    text2, _ = message(client, address=wallet)
    r = link(client, text2, sign(text2, OTHER_KEY))  # not the owner
    assert r.status_code == 401


def test_nonce_needs_sign_in(nft_settings: Settings) -> None:
    with TestClient(create_app(nft_settings)) as c:
        assert c.get("/api/v1/auth/siwe/nonce").status_code == 401
