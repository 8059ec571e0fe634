"""The whole path in a real browser: sign up, upload, mint to a wallet, link the wallet by
SIWE, show the minted NFT in a hexagon with its provenance, move the token away on-chain and
watch the profile fall back to the uploaded picture. Screenshots of each page are saved."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageColor, ImageDraw
from playwright.sync_api import Page, expect

from hexavatar.chain.artifacts import load_artifact
from hexavatar.chain.rpc import connect
from tests.conftest import DevChain
from tests.e2e.conftest import WALLET_METHODS, AnvilWallet, install_wallet, screenshot
from tests.support.chain import transact
from tests.support.keys import dev_address, dev_key

pytestmark = [pytest.mark.e2e, pytest.mark.chain]

WALLET_KEY = dev_key(5)  # no other test uses anvil's account 5
WALLET = dev_address(5)
BUYER = dev_address(8)
PASSWORD = "correct horse battery"


_HOLD_SUBMIT = """() => {
  window.__hold = (e) => e.preventDefault();
  document.querySelector("form[data-progress]").addEventListener("submit", window.__hold);
}"""
_RELEASE_SUBMIT = """() => {
  const form = document.querySelector("form[data-progress]");
  form.removeEventListener("submit", window.__hold);
  form.querySelectorAll("button").forEach((b) => { b.disabled = false; });
}"""


def _art(top: str, bottom: str, mark: str, size: int = 320) -> bytes:
    """A picture worth looking at in a screenshot: a vertical gradient and a ring."""
    image = Image.new("RGB", (size, size))
    a, b = ImageColor.getrgb(top), ImageColor.getrgb(bottom)
    draw = ImageDraw.Draw(image)
    for y in range(size):
        t = y / (size - 1)
        draw.line(
            [(0, y), (size, y)],
            fill=tuple(round(p + (q - p) * t) for p, q in zip(a, b, strict=True)),
        )
    r = size // 4
    draw.ellipse(
        [size // 2 - r, size // 2 - r, size // 2 + r, size // 2 + r], outline=mark, width=18
    )
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _new_page(browser: Any, wallet: AnvilWallet | None, problems: list[str]) -> Page:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    if wallet is not None:
        install_wallet(context, wallet)
    page: Page = context.new_page()
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "console",
        lambda m: m.type == "error" and problems.append(f"console: {m.text} {m.location}"),
    )
    return page


def _sign_up(page: Page, base_url: str, name: str) -> None:
    page.goto(f"{base_url}/signup")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{base_url}/settings")


def _upload(page: Page, tmp_path: Path) -> str:
    picture = tmp_path / "me.png"
    picture.write_bytes(_art("#2dd4bf", "#0f766e", "white"))
    page.get_by_label("Picture").set_input_files(str(picture))
    expect(page.get_by_alt_text("Preview of the chosen picture")).to_be_visible()  # JS preview
    screenshot(page, "02-settings-preview")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("status")).to_contain_text("Your new picture is saved")
    screenshot(page, "03-settings-uploaded")
    src = page.get_by_alt_text("Your uploaded picture").get_attribute("src")
    assert src and src.startswith("/a/")
    return src


def _mint(page: Page, base_url: str, tmp_path: Path) -> int:
    page.goto(f"{base_url}/mint")
    image = tmp_path / "gold.png"
    image.write_bytes(_art("#fde047", "#f59e0b", "#7c2d12"))
    page.get_by_label("Image").set_input_files(str(image))
    page.get_by_label("Name").fill("Golden hexagon")
    page.get_by_label("Description").fill("Minted from a browser test")
    page.get_by_label("Attributes").fill('[{"trait_type": "Colour", "value": "gold"}]')
    page.get_by_label("Mint to address").fill(WALLET)
    screenshot(page, "04-mint-form")
    # First a submit that the test stops from leaving the page, to see the progress note.
    page.evaluate(_HOLD_SUBMIT)
    page.get_by_role("button", name="Mint").click()
    expect(page.get_by_role("status")).to_contain_text("Minting: adding the image")
    expect(page.get_by_role("button", name="Mint")).to_be_disabled()
    screenshot(page, "05-mint-progress")
    page.evaluate(_RELEASE_SUBMIT)
    page.get_by_role("button", name="Mint").click()
    page.wait_for_url(re.compile(r"/mint/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Minted")
    screenshot(page, "06-mint-result")
    return int(page.get_by_test_id("token-id").inner_text())


def _link_wallet(page: Page, base_url: str, wallet: AnvilWallet) -> None:
    page.goto(f"{base_url}/wallets")
    screenshot(page, "07-wallets-empty")
    page.get_by_role("button", name="Connect wallet").click()
    expect(page.get_by_test_id("wallet-address")).to_have_text(WALLET)
    screenshot(page, "08-wallets-linked")
    assert "personal_sign" in wallet.calls and set(wallet.calls) <= WALLET_METHODS


def test_sign_up_to_nft_avatar_and_back(
    browser: Any, base_url: str, dev_chain: DevChain, tmp_path: Path
) -> None:
    problems: list[str] = []
    wallet = AnvilWallet(dev_chain.rpc_url, WALLET)
    page = _new_page(browser, wallet, problems)
    page.goto(f"{base_url}/")
    screenshot(page, "00-home")
    _sign_up(page, base_url, "erin")
    screenshot(page, "01-settings-new")
    uploaded = _upload(page, tmp_path)
    token_id = _mint(page, base_url, tmp_path)
    _link_wallet(page, base_url, wallet)

    page.goto(f"{base_url}/nfts")
    screenshot(page, "09-nft-picker")
    page.get_by_role("button", name=f"Use token {token_id} as avatar").click()
    page.wait_for_url(f"{base_url}/@erin")
    avatar = page.get_by_alt_text("NFT avatar of erin: Golden hexagon")
    expect(avatar).to_have_class(re.compile(r"\bavatar--hexagon\b"))
    assert avatar.evaluate("e => getComputedStyle(e).clipPath").startswith("polygon(")
    expect(page.get_by_text("verified NFT")).to_be_visible()
    provenance = page.get_by_role("region", name="Provenance")
    for text in ("eip155:31337", dev_chain.contract, WALLET, "verified against its CID"):
        expect(provenance).to_contain_text(text)
    expect(provenance.get_by_test_id("checked-block")).to_have_text(re.compile(r"^\d+$"))
    metadata = provenance.get_by_role("link").first
    doc = page.request.get(f"{base_url}{metadata.get_attribute('href')}").json()
    assert doc["name"] == "Golden hexagon" and doc["image"].startswith("ipfs://")
    screenshot(page, "10-profile-nft")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "11-profile-nft-phone")
    page.set_viewport_size({"width": 1100, "height": 900})

    # The token leaves the wallet on-chain; the service's watcher reverts the avatar.
    w3 = connect(dev_chain.rpc_url)
    nft = w3.eth.contract(address=dev_chain.contract, abi=load_artifact("HexavatarNFT").abi)
    transact(w3, WALLET_KEY, nft.functions.transferFrom(WALLET, BUYER, token_id))
    deadline = time.monotonic() + 20
    while page.locator(".avatar--hexagon").count():
        assert time.monotonic() < deadline, "the profile still shows the NFT"
        time.sleep(0.25)
        page.reload()
    picture = page.get_by_alt_text("Profile picture of erin")
    expect(picture).to_have_class(re.compile(r"\bavatar--circle\b"))
    assert picture.get_attribute("src") == uploaded
    expect(page.get_by_role("region", name="Provenance")).to_have_count(0)
    screenshot(page, "12-profile-reverted")
    page.goto(f"{base_url}/nfts")  # the owner is told why
    gone = page.get_by_role("region", name="No longer shown")
    expect(gone).to_contain_text(f"owned by {BUYER}")
    screenshot(page, "13-nfts-no-longer-shown")
    assert problems == []
