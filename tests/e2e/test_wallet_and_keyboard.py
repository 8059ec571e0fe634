"""Browser checks around the edges: the pages work from the keyboard, the wallet page says
what is missing without a wallet, a refused signature links nothing and says why, and a
signed-out visitor who picks a protected page comes back to it after signing in."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.conftest import DevChain
from tests.e2e.conftest import AnvilWallet, install_wallet, screenshot
from tests.support.keys import dev_address

pytestmark = [pytest.mark.e2e, pytest.mark.chain]

PASSWORD = "correct horse battery"
EIP55_VECTORS = [  # from EIP-55
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


class RefusingWallet(AnvilWallet):
    """Shares its account but refuses to sign, as a user pressing "Reject" would."""

    def handle(self, source: Any, method: str, params: list[Any]) -> dict[str, Any]:
        if method == "personal_sign":
            self.calls.append(method)
            return {"error": {"code": 4001, "message": "User rejected the request."}}
        return super().handle(source, method, params)


def _page(browser: Any, wallet: AnvilWallet | None = None) -> Page:
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    if wallet is not None:
        install_wallet(context, wallet)
    page: Page = context.new_page()
    return page


def test_sign_up_and_out_with_the_keyboard_only(browser: Any, base_url: str) -> None:
    page = _page(browser)
    page.goto(f"{base_url}/signup")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    for _ in range(10):  # from the main region, Tab reaches the form's first field
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "username":
            break
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type("keyboard_kim")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base_url}/settings")
    sign_out = page.get_by_role("button", name="Sign out")
    sign_out.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base_url}/")
    expect(page.get_by_role("status")).to_have_text("You are signed out.")


def test_without_a_wallet_the_page_says_so(browser: Any, base_url: str) -> None:
    page = _page(browser)
    page.goto(f"{base_url}/signup")
    page.get_by_label("Username").fill("nowallet")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{base_url}/settings")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base_url}/")
    page.goto(f"{base_url}/wallets")
    page.wait_for_url(f"{base_url}/login?next=/wallets")
    page.get_by_label("Username").fill("nowallet")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/wallets")  # back where the visitor wanted to go
    expect(page.locator("#wallet-status")).to_contain_text("No Ethereum wallet was found")
    expect(page.get_by_role("button", name="Connect wallet")).to_be_hidden()
    screenshot(page, "20-wallets-no-wallet")
    for spelled in EIP55_VECTORS:  # the page's own keccak-256 gives EIP-55's checksums
        assert page.evaluate("a => window.hexavatarChecksumAddress(a)", spelled.lower()) == spelled


def test_a_refused_signature_links_nothing(
    browser: Any, base_url: str, dev_chain: DevChain
) -> None:
    wallet = RefusingWallet(dev_chain.rpc_url, dev_address(5))
    page = _page(browser, wallet)
    page.goto(f"{base_url}/signup")
    page.get_by_label("Username").fill("refuser")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{base_url}/settings")
    page.goto(f"{base_url}/wallets")
    page.get_by_role("button", name="Connect wallet").click()
    expect(page.get_by_role("alert")).to_have_text("Not linked: User rejected the request.")
    expect(page.get_by_role("button", name="Connect wallet")).to_be_enabled()
    expect(page.get_by_text("No wallet is linked yet.")).to_be_visible()
    screenshot(page, "21-wallets-refused")
    assert wallet.calls[-1] == "personal_sign"


def test_errors_are_shown_in_place(browser: Any, base_url: str, tmp_path: Path) -> None:
    page = _page(browser)
    page.goto(f"{base_url}/signup")
    page.get_by_label("Username").fill("oops")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{base_url}/settings")
    page.goto(f"{base_url}/mint")
    image = tmp_path / "x.png"
    image.write_bytes(_tiny_png())
    page.get_by_label("Image").set_input_files(str(image))
    page.get_by_label("Name").fill("Broken attributes")
    page.get_by_label("Attributes").fill("{not json")
    page.get_by_role("button", name="Mint").click()
    expect(page.get_by_role("alert")).to_contain_text("attributes: expected JSON")
    expect(page.get_by_label("Name")).to_have_value("Broken attributes")  # kept
    screenshot(page, "22-mint-error")
    page.goto(f"{base_url}/nfts")
    ref = "eip155:31337/erc721:0x5FbDB2315678afecb367f032d93F642f64180aa3/999"
    page.get_by_label("NFT reference").fill(ref)
    page.get_by_role("button", name="Use this NFT").click()
    expect(page.get_by_role("alert")).to_contain_text("link a wallet first")
    screenshot(page, "23-nfts-error")


def _tiny_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "purple").save(buf, "PNG")
    return buf.getvalue()


class OtherChainWallet(AnvilWallet):
    """A wallet switched to Ethereum mainnet."""

    def handle(self, source: Any, method: str, params: list[Any]) -> dict[str, Any]:
        if method == "eth_chainId":
            self.calls.append(method)
            return {"result": "0x1"}
        return super().handle(source, method, params)


def test_a_wallet_on_another_chain_is_told_which_one(
    browser: Any, base_url: str, dev_chain: DevChain
) -> None:
    wallet = OtherChainWallet(dev_chain.rpc_url, dev_address(5))
    page = _page(browser, wallet)
    _sign_up(page, base_url, "mainnet_mo")
    page.goto(f"{base_url}/wallets")
    page.get_by_role("button", name="Connect wallet").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Not linked: your wallet is on chain 1; switch it to chain 31337 and try again"
    )
    assert "personal_sign" not in wallet.calls  # nothing to sign for the wrong chain


@pytest.mark.parametrize("path", ["/signup", "/settings", "/mint", "/wallets", "/nfts"])
def test_pages_fit_a_phone(browser: Any, base_url: str, path: str) -> None:
    page = _page(browser)
    page.set_viewport_size({"width": 360, "height": 740})
    _sign_up(page, base_url, "phone_" + path.strip("/"))
    page.goto(f"{base_url}{path}")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
    screenshot(page, f"30-phone-{path.strip('/')}")


def _sign_up(page: Page, base_url: str, name: str) -> None:
    page.goto(f"{base_url}/signup")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{base_url}/settings")
