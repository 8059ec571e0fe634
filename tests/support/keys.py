"""anvil's development accounts, derived from its well-known test mnemonic."""

from __future__ import annotations

from functools import cache

from eth_account import Account

MNEMONIC = "test test test test test test test test test test test junk"


@cache
def dev_key(index: int) -> str:
    """The private key (0x-hex) of anvil's development account ``index`` (0–9 are funded)."""
    Account.enable_unaudited_hdwallet_features()
    account = Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return "0x" + bytes(account.key).hex()


def dev_address(index: int) -> str:
    return str(Account.from_key(dev_key(index)).address)
