"""Compiled contracts shipped inside the package.

``scripts/build_contracts.mjs`` compiles ``contracts/**/*.sol`` with solcjs and writes one JSON
file per contract into ``hexavatar/chain/build/``; this module reads them with
:mod:`importlib.resources`, so nothing needs a Solidity compiler at run time.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .errors import ArtifactError, quote

__all__ = ["Artifact", "artifact_names", "load_artifact"]

_PACKAGE = "hexavatar.chain"
_BUILD_DIR = "build"


@dataclass(frozen=True, slots=True)
class Artifact:
    """One compiled contract: its ABI, creation bytecode and runtime (deployed) bytecode."""

    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: bytes
    deployed_bytecode: bytes
    solc_version: str


def artifact_names() -> list[str]:
    """Names of every contract in the build output, sorted."""
    folder = resources.files(_PACKAGE) / _BUILD_DIR
    return sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))


@functools.cache
def load_artifact(name: str) -> Artifact:
    """Load the compiled contract ``name`` (e.g. ``"HexavatarNFT"``)."""
    resource = resources.files(_PACKAGE) / _BUILD_DIR / f"{name}.json"
    try:
        data = json.loads(resource.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise ArtifactError(
            f"expected a compiled contract named {quote(name)} in {_PACKAGE}/{_BUILD_DIR}, "
            f"found none (known: {', '.join(artifact_names())})"
        ) from exc
    try:
        return Artifact(
            name=str(data["contractName"]),
            abi=tuple(data["abi"]),
            bytecode=bytes.fromhex(data["bytecode"].removeprefix("0x")),
            deployed_bytecode=bytes.fromhex(data["deployedBytecode"].removeprefix("0x")),
            solc_version=str(data["compiler"]["solc"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(
            f"expected contractName, abi, bytecode, deployedBytecode in {name}.json, "
            f"found a malformed file ({exc!s})"
        ) from exc
