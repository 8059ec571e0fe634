"""The minting, wallet and NFT-picker pages on a real anvil, without a browser: plain form
posts end in the token's details, the NFT avatar with its provenance, or the service's
error message on the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from hexavatar.app import create_app
from hexavatar.chain.siwe import build_message
from hexavatar.config import Settings, load_settings
from tests.conftest import DevChain
from tests.web.test_nft_avatars import png
from tests.web.test_pages import Page, check_page, csrf_of, sign_up

pytestmark = pytest.mark.chain

WALLET_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"  # anvil dev 2
WALLET = Account.from_key(WALLET_KEY).address
ELSEWHERE = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"  # anvil dev 3


@pytest.fixture
def settings(tmp_path: Path, dev_chain: DevChain) -> Settings:
    return load_settings(
        data_dir=str(tmp_path / "data"), public_url="http://testserver", **dev_chain.settings()
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), follow_redirects=False) as c:
        sign_up(c, "carol")
        yield c


def mint_form(client: TestClient, **fields: str) -> object:
    page = client.get("/mint").text
    key = re.search(r'name="key" value="([^"]+)"', page)
    assert key
    data = {"csrf": csrf_of(page), "key": key.group(1), "name": "Teal", "description": "d"}
    return client.post(
        "/mint", data={**data, **fields}, files={"image": ("t.png", png("teal"), "image/png")}
    )


def link(client: TestClient) -> None:
    info = client.get("/api/v1/auth/siwe/nonce").json()
    text = build_message(
        scheme="http", domain=info["domain"], address=WALLET, uri=info["uri"], chain_id=31337,
        nonce=info["nonce"], issued_at=datetime.now(UTC),
    ).to_text()  # fmt: skip
    sig = "0x" + Account.sign_message(encode_defunct(text=text), WALLET_KEY).signature.hex()
    assert client.post("/api/v1/me/wallets", json={"message": text, "signature": sig}).is_success


def minted(client: TestClient, to: str = WALLET) -> tuple[Page, str]:
    r = mint_form(client, to=to)
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    location = r.headers["location"]  # type: ignore[attr-defined]
    assert re.fullmatch(r"/mint/[0-9a-f-]{36}", location)
    return Page(client.get(location).text), location


def test_mint_form_shows_the_token_without_javascript(client: TestClient) -> None:
    page, _ = minted(client)
    for label in ("Token ID", "Metadata URI", "Image URI", "Transaction"):
        assert label in page.text
    assert re.search(r"Token #\d+ is on-chain", page.text)
    assert re.search(r"Transaction 0x[0-9a-f]{64}", page.text)
    assert re.search(r"Metadata URI ipfs://bafk\w+", page.text)
    mint = client.get("/api/v1/me/mints").json()[0]
    assert mint["status"] == "confirmed" and mint["owner"] == WALLET
    assert f"Token #{mint['token_id']} is on-chain" in page.text


def test_reposting_the_same_mint_form_mints_once(client: TestClient) -> None:
    page = client.get("/mint").text
    key = re.search(r'name="key" value="([^"]+)"', page)
    assert key
    data = {"csrf": csrf_of(page), "key": key.group(1), "name": "Once", "to": WALLET}
    files = {"image": ("t.png", png("navy"), "image/png")}
    first = client.post("/mint", data=data, files=files)
    second = client.post("/mint", data=data, files=files)
    assert first.headers["location"] == second.headers["location"]
    assert len(client.get("/api/v1/me/mints").json()) == 1


@pytest.mark.parametrize(
    "fields,status,message",
    [
        ({"attributes": "{not json"}, 422, "attributes: expected JSON"),
        ({"to": "0x1234"}, 422, "expected an address"),
        ({"name": ""}, 422, "name: expected 1 to 200 characters"),
    ],
)
def test_mint_errors_are_shown_and_the_form_kept(
    client: TestClient, fields: dict[str, str], status: int, message: str
) -> None:
    r = mint_form(client, **fields)
    assert r.status_code == status  # type: ignore[attr-defined]
    page = Page(r.text)  # type: ignore[attr-defined]
    assert message in page.text and "Not done" in page.text
    assert client.get("/api/v1/me/mints").json() == []


def test_nft_avatar_by_form_then_unlinking_drops_it(client: TestClient) -> None:
    _, location = minted(client)
    mint = client.get("/api/v1" + location.replace("/mint/", "/nfts/")).json()
    ref = f"eip155:31337/erc721:{mint['contract']}/{mint['token_id']}"
    picker = client.get("/nfts").text
    assert "Link a wallet first" in picker and f'value="{ref}"' not in picker
    r = client.post("/nfts/use", data={"csrf": csrf_of(picker), "ref": ref})
    assert r.status_code == 403 and "link a wallet first" in Page(r.text).text
    link(client)
    picker = client.get("/nfts").text
    assert f'value="{ref}"' in picker  # listed from the chain: in the linked wallet
    r = client.post("/nfts/use", data={"csrf": csrf_of(picker), "ref": ref})
    assert r.status_code == 303 and r.headers["location"] == "/@carol"
    profile = client.get("/@carol")
    page = Page(profile.text)
    assert "The NFT is now your avatar" in page.text and "verified NFT" in page.text
    assert 'class="avatar avatar--hexagon"' in profile.text
    for shown in (mint["contract"], WALLET, f"Token ID {mint['token_id']}"):
        assert shown in page.text
    links = re.findall(r'href="(/ipfs/[^"]+)"', profile.text)
    assert [link_.removeprefix("/ipfs/") for link_ in links] == [
        mint["metadata_uri"].removeprefix("ipfs://"),
        mint["image_uri"].removeprefix("ipfs://"),
    ]
    assert client.get(links[0]).json()["name"] == "Teal"
    for path in ("/@carol", "/nfts", "/wallets", location):  # with an NFT, a wallet, a mint
        check_page(client, path)
    wallets = client.get("/wallets").text
    r = client.post("/wallets/unlink", data={"csrf": csrf_of(wallets), "address": WALLET})
    assert r.status_code == 303
    assert "avatar--hexagon" not in client.get("/@carol").text


def test_a_token_in_someone_elses_wallet_is_refused_with_the_reason(client: TestClient) -> None:
    _, location = minted(client, to=ELSEWHERE)
    mint = client.get("/api/v1" + location.replace("/mint/", "/nfts/")).json()
    link(client)
    picker = client.get("/nfts").text
    assert "Your other mints" in picker and f"Token #{mint['token_id']}" in picker
    ref = f"eip155:31337/erc721:{mint['contract']}/{mint['token_id']}"
    r = client.post("/nfts/use", data={"csrf": csrf_of(picker), "ref": ref})
    assert r.status_code == 403
    assert f"is owned by {ELSEWHERE}, not a linked wallet" in Page(r.text).text
    assert f'value="{ref}"' in r.text  # the reference stays in the form


@pytest.mark.parametrize(
    "ref,message",
    [("not a ref", "eip155"), ("eip155:1/erc721:0x5FbDB2315678afecb367f032d93F642f64180aa3/1",
                                "chain 1 is not configured")],
)  # fmt: skip
def test_bad_references_explain_themselves(client: TestClient, ref: str, message: str) -> None:
    link(client)
    picker = client.get("/nfts").text
    r = client.post("/nfts/use", data={"csrf": csrf_of(picker), "ref": ref})
    assert r.status_code == 422 and message in Page(r.text).text


def test_stop_showing_the_nft(client: TestClient) -> None:
    _, location = minted(client)
    mint = client.get("/api/v1" + location.replace("/mint/", "/nfts/")).json()
    link(client)
    ref = f"eip155:31337/erc721:{mint['contract']}/{mint['token_id']}"
    client.post("/nfts/use", data={"csrf": csrf_of(client.get("/nfts").text), "ref": ref})
    picker = client.get("/nfts").text
    assert "Showing now" in picker and "in use" in picker
    r = client.post("/nfts/stop", data={"csrf": csrf_of(picker)})
    assert r.status_code == 303
    assert "avatar--hexagon" not in client.get("/@carol").text
    r = client.post("/nfts/stop", data={"csrf": csrf_of(picker)})
    assert r.status_code == 404 and "no NFT avatar is set" in Page(r.text).text


def test_a_mint_still_waiting_for_its_block_refreshes_itself(
    tmp_path: Path, dev_chain: DevChain
) -> None:
    settings = load_settings(
        data_dir=str(tmp_path / "data"), public_url="http://testserver", **dev_chain.settings(),
        chain_confirmations=50, chain_timeout_seconds=0.5,
    )  # fmt: skip
    with TestClient(create_app(settings), follow_redirects=False) as client:
        sign_up(client, "dave")
        r = mint_form(client, to=WALLET)
        assert r.status_code == 303  # type: ignore[attr-defined]
        page = client.get(r.headers["location"])  # type: ignore[attr-defined]
        assert page.status_code == 200
        assert '<meta http-equiv="refresh" content="2">' in page.text
        text = Page(page.text).text
        assert "Minting…" in text and "refreshes by itself" in text
        assert "Last attempt: expected 0x" in text  # the receipt timeout, as the ledger has it
        assert re.search(r'<li class="done">sent</li>\s*<li class="current">confirmed</li>',
                         page.text)  # fmt: skip


def test_use_it_as_your_avatar_from_the_mint_result(client: TestClient) -> None:
    link(client)
    page, location = minted(client)
    assert "Use it as your avatar" in page.text
    html = client.get(location).text
    ref = re.search(r'name="ref" value="([^"]+)"', html)
    assert ref and ref.group(1).startswith("eip155:31337/erc721:")
    r = client.post("/nfts/use", data={"csrf": csrf_of(html), "ref": ref.group(1)})
    assert r.status_code == 303 and r.headers["location"] == "/@carol"
    assert "avatar--hexagon" in client.get("/@carol").text
