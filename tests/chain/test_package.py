"""hexavatar.chain as a package: import boundary, error classes, shipped build output."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hexavatar.chain import errors
from hexavatar.chain.artifacts import artifact_names, load_artifact
from hexavatar.chain.errors import ArtifactError, ChainError

CHAIN_DIR = Path(importlib.import_module("hexavatar.chain").__file__ or "").parent
REPO = CHAIN_DIR.parents[2]
MODULES = ["artifacts", "contract", "devnode", "errors", "minter", "rpc", "signer", "tokens"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_chain_imports_no_other_hexavatar_package() -> None:
    for path in CHAIN_DIR.glob("*.py"):
        outside = {
            name
            for name in _imports(path)
            if name.startswith("hexavatar") and not name.startswith("hexavatar.chain")
        }
        assert outside == set(), f"{path.name} imports {outside}"


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(f"hexavatar.chain.{name}")
    exported = getattr(module, "__all__", [])
    assert exported, f"{name} has no __all__"
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ names missing {attr}"


def test_every_error_has_a_code_and_a_builtin() -> None:
    classes = [
        obj
        for obj in vars(errors).values()
        if inspect.isclass(obj) and issubclass(obj, ChainError) and obj is not ChainError
    ]
    assert len(classes) >= 16
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes)), "codes must be unique"
    for cls in classes:
        assert cls.code != ChainError.code, cls.__name__
        builtins = [b for b in cls.__mro__ if b.__module__ == "builtins" and b is not object]
        assert any(b not in (Exception, BaseException) for b in builtins), cls.__name__


def test_shipped_artifacts() -> None:
    names = artifact_names()
    for expected in (
        "HexavatarNFT",
        "BaselineURIStorage",
        "Multicall3",
        "AcceptingReceiver",
        "TestERC1155",
        "TestERC1271Wallet",
        "OffchainLookupNFT",
    ):
        assert expected in names
    nft = load_artifact("HexavatarNFT")
    assert nft.solc_version.startswith("0.8.30+")
    assert nft.bytecode.endswith(nft.deployed_bytecode[-40:])  # metadata trailer is shared
    assert len(nft.deployed_bytecode) < 24_576  # EIP-170 code size limit
    functions = {item["name"] for item in nft.abi if item.get("type") == "function"}
    assert {"mint", "safeMint", "tokenURI", "metadataOf", "totalMinted"} <= functions
    with pytest.raises(ArtifactError, match="HexavatarNFT") as info:
        load_artifact("NoSuchContract")
    assert isinstance(info.value, LookupError)


def test_build_output_matches_sources() -> None:
    """The committed build/*.json is what scripts/build_contracts.mjs makes from contracts/."""
    node = shutil.which("node")
    if node is None or not (REPO / "node_modules" / "solc").is_dir():
        if os.environ.get("CI"):
            pytest.fail("CI must run `npm ci` so the contract build can be checked")
        pytest.skip("node or node_modules/solc missing (run `npm ci`)")
    result = subprocess.run(
        [node, str(REPO / "scripts" / "build_contracts.mjs"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
