"""hexavatar.ipfs is a library on its own: it imports nothing else from hexavatar."""

from __future__ import annotations

import ast
from pathlib import Path

import hexavatar.ipfs

PACKAGE_DIR = Path(hexavatar.ipfs.__file__).parent


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
    return found


def test_modules_import_only_stdlib_and_own_package() -> None:
    modules = sorted(PACKAGE_DIR.glob("*.py"))
    assert len(modules) >= 4
    offenders = []
    for path in modules:
        for name, level in _imports(path):
            if level > 1:
                offenders.append(f"{path.name}: relative import above the package ({name})")
            elif (
                level == 0
                and name.split(".")[0] == "hexavatar"
                and not (name == "hexavatar.ipfs" or name.startswith("hexavatar.ipfs."))
            ):
                offenders.append(f"{path.name}: imports {name}")
    assert offenders == []


def test_public_api_is_pinned() -> None:
    assert sorted(hexavatar.ipfs.__all__) == sorted(
        [
            "CID",
            "CID_VERSION_1",
            "DAG_CBOR",
            "DAG_JSON",
            "DAG_PB",
            "IDENTITY",
            "JSON",
            "PROFILES",
            "RAW",
            "SHA2_256",
            "UNIXFS_V0_2015",
            "UNIXFS_V1_2025",
            "BlockNotFound",
            "BlockVerificationError",
            "Blockstore",
            "CidError",
            "DagPbError",
            "DataType",
            "FilesystemBlockstore",
            "ImportProfile",
            "ImportResult",
            "ImporterError",
            "IpfsError",
            "MemoryBlockstore",
            "MultibaseError",
            "PBLink",
            "PBNode",
            "PathNotFound",
            "PathResolutionError",
            "UnixFSData",
            "UnixFSError",
            "UnixTime",
            "UnsupportedHashError",
            "VerifyingBlockstore",
            "compute_cid",
            "decode_node",
            "decode_unixfs",
            "encode_node",
            "encode_unixfs",
            "get_profile",
            "import_bytes",
            "import_directory",
            "import_stream",
            "import_tree",
            "list_directory",
            "resolve_path",
            "verify_block",
        ]
    )
    for name in hexavatar.ipfs.__all__:
        assert hasattr(hexavatar.ipfs, name), name
