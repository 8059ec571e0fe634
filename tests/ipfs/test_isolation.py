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
