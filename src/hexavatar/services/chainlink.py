"""The service's connection to its chain: a node (the embedded anvil or any JSON-RPC URL), the
HexavatarNFT contract on it, and the minter account that signs.

Built once in the app's lifespan (or by a CLI command) from Settings and closed at shutdown. With
no ``chain_rpc_url`` the embedded development chain is started in ``<data dir>/chain`` and
anvil's first development account (a publicly known key, fine for a dev chain only) mints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from web3 import Web3

from ..chain.contract import ensure_deployed, install_multicall3
from ..chain.devnode import DEV_PRIVATE_KEYS, DevNode, chain_up
from ..chain.errors import ChainUnavailable, KeystoreError
from ..chain.minter import Minter
from ..chain.rpc import chain_id_of, connect
from ..chain.signer import Signer, load_keystore
from ..config import Settings

__all__ = ["ChainLink", "open_chain"]


@dataclass(slots=True)
class ChainLink:
    w3: Web3
    minter: Minter
    contract: str
    chain_id: int
    rpc_url: str
    devnode: DevNode | None = None

    def close(self) -> None:
        if self.devnode is not None:
            self.devnode.stop()
            self.devnode = None


def _signer(settings: Settings) -> Signer:
    if settings.minter_keystore is None:
        raise KeystoreError("HEXAVATAR_MINTER_KEYSTORE is required with HEXAVATAR_CHAIN_RPC_URL")
    password = settings.minter_password.get_secret_value() or None
    return load_keystore(
        settings.minter_keystore, password=password, password_file=settings.minter_password_file
    )


def open_chain(settings: Settings) -> ChainLink:
    """Connect to the configured chain, or start the embedded one; deploy the contract once."""
    if not settings.chain_rpc_url:
        up = chain_up(data_dir=settings.data_dir / "chain")
        w3 = connect(up.rpc_url)
        signer = Signer.from_key(DEV_PRIVATE_KEYS[0])
        minter = Minter(w3, signer=signer, contract=up.contract, chain_id=up.chain_id)
        return ChainLink(w3, minter, up.contract, up.chain_id, up.rpc_url, devnode=up.node)
    w3 = connect(settings.chain_rpc_url, timeout=settings.chain_timeout_seconds)
    chain_id = chain_id_of(w3)
    if settings.chain_id is not None and settings.chain_id != chain_id:
        raise ChainUnavailable(
            f"expected chain {settings.chain_id} at the RPC URL, found chain {chain_id}"
        )
    signer = _signer(settings)
    contract = settings.contract_address or ensure_deployed(
        w3, account=signer, data_dir=Path(settings.data_dir)
    )
    if chain_id == 31337:
        install_multicall3(w3)
    minter = Minter(w3, signer=signer, contract=contract, chain_id=chain_id)
    return ChainLink(w3, minter, minter.contract, chain_id, settings.chain_rpc_url)
