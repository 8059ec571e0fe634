"""The service's connection to its chain: a node (the embedded anvil or any JSON-RPC URL), the
HexavatarNFT contract on it, and the minter account that signs.

Built once in the app's lifespan (or by a CLI command) from Settings and closed at shutdown. With
no ``chain_rpc_url`` the embedded development chain is started in ``<data dir>/chain`` and
anvil's first development account (a publicly known key, fine for a dev chain only) mints.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path

from web3 import Web3

from ..chain.contract import ensure_deployed, install_multicall3
from ..chain.devnode import DEV_CHAIN_ID, DEV_PRIVATE_KEYS, DevNode, chain_up
from ..chain.errors import ChainUnavailable, KeystoreError
from ..chain.minter import Minter
from ..chain.rpc import chain_id_of, connect
from ..chain.signer import Signer, load_keystore
from ..config import Settings
from ..resolve.http import AddressPolicy

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
            (self.devnode.data_dir / _NODE_FILE).unlink(missing_ok=True)
            self.devnode.stop()
            self.devnode = None


def _signer(settings: Settings) -> Signer:
    if settings.minter_keystore is None:
        raise KeystoreError("HEXAVATAR_MINTER_KEYSTORE is required with HEXAVATAR_CHAIN_RPC_URL")
    password = settings.minter_password.get_secret_value() or None
    return load_keystore(
        settings.minter_keystore, password=password, password_file=settings.minter_password_file
    )


_NODE_FILE = "node.json"


def _running_embedded(chain_dir: Path) -> str | None:
    """The RPC URL of an embedded chain another process of ours runs on this data dir."""
    try:
        info = json.loads((chain_dir / _NODE_FILE).read_text())
        os.kill(int(info["pid"]), 0)
        url = str(info["rpc_url"])
        if chain_id_of(connect(url, timeout=2.0)) == DEV_CHAIN_ID:
            return url
    except (OSError, ValueError, KeyError, TypeError, ChainUnavailable):
        return None
    return None


def _open_embedded(settings: Settings) -> ChainLink:
    """Join the embedded chain another process runs on this data dir, or start it."""
    chain_dir = settings.data_dir / "chain"
    signer = Signer.from_key(DEV_PRIVATE_KEYS[0])
    url = _running_embedded(chain_dir)
    node: DevNode | None = None
    if url is None:
        up = chain_up(data_dir=chain_dir)
        node, url = up.node, up.rpc_url
        info = {"rpc_url": url, "pid": node.pid}
        (chain_dir / _NODE_FILE).write_text(json.dumps(info))
    w3 = connect(url)
    contract = ensure_deployed(w3, account=signer, data_dir=chain_dir)
    install_multicall3(w3)
    minter = Minter(w3, signer=signer, contract=contract, chain_id=DEV_CHAIN_ID)
    return ChainLink(w3, minter, minter.contract, DEV_CHAIN_ID, url, devnode=node)


def open_chain(settings: Settings) -> ChainLink:
    """Connect to the configured chain, or join/start the embedded one; deploy the contract
    once (its address is remembered in the data dir)."""
    if not settings.chain_rpc_url:
        return _open_embedded(settings)
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


def chain_reader(settings: Settings, link: ChainLink | None) -> Callable[[int], Web3 | None]:
    """chain ID → a Web3 to read it: the service's own chain, or one from ``chains``."""
    cache: dict[int, Web3] = {}

    def read(chain_id: int) -> Web3 | None:
        if link is not None and link.chain_id == chain_id:
            return link.w3
        url = settings.chains.get(chain_id)
        if url is None:
            return None
        if chain_id not in cache:
            cache[chain_id] = connect(url, timeout=settings.chain_timeout_seconds)
        return cache[chain_id]

    return read


def unsafe_allow_policy(pairs: Sequence[str]) -> AddressPolicy | None:
    """The outbound-fetch policy with the configured ``address:port`` exceptions, if any."""
    if not pairs:
        return None
    allowed = set()
    for pair in pairs:
        host, _, port = pair.rpartition(":")
        allowed.add((ip_address(host.strip("[]")), int(port)))
    return AddressPolicy(unsafe_allow=frozenset(allowed))
