"""Folders: every vector of unixfs-dirs.json, as `ipfs add -r` builds them, in every profile."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hexavatar.ipfs.blockstore import MemoryBlockstore, list_directory, resolve_path
from hexavatar.ipfs.cid import CID, verify_block
from hexavatar.ipfs.dagpb import DataType, decode_node, decode_unixfs, murmur3_x64_64
from hexavatar.ipfs.errors import ImporterError
from hexavatar.ipfs.importer import ImportResult, import_directory, import_tree
from hexavatar.ipfs.profiles import CID_VERSION_1, PROFILES, UNIXFS_V0_2015, ImportProfile

from .conftest import VECTORS_DIR, chacha20_input, load_vectors

DIRS = load_vectors("unixfs-dirs.json")
FOLDERS = {folder["name"]: folder for folder in DIRS["folders"]}
BIG = {
    "nft_5373",
    "nft_6581",
    "nft_6582",
    "nft_6927",
    "nft_6928",
    "nft_10000",
    "nft_by_folder_7000",
    "nft_5372",
}


def _load_inputs() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "unixfs_dirs_inputs", VECTORS_DIR / "unixfs_dirs_inputs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


INPUTS = _load_inputs()


def _cases() -> Iterator[Any]:
    for name in FOLDERS:
        for profile in PROFILES:
            marks = [pytest.mark.slow] if name in BIG else []
            yield pytest.param(name, profile, id=f"{name}-{profile}", marks=marks)


def _check_root(result: ImportResult, store: MemoryBlockstore, expected: dict[str, Any]) -> None:
    assert str(result.cid) == expected["root"]
    assert result.tsize == expected["root_tsize"]
    block = store.get(result.cid)
    verify_block(result.cid, block)
    assert len(block) == expected["root_block_bytes"]
    node = decode_node(block)
    assert len(node.links) == expected["root_links"]
    kind = decode_unixfs(node.data or b"").type
    assert (
        kind
        == {"Directory": DataType.DIRECTORY, "HAMTShard": DataType.HAMT_SHARD}[
            expected["root_type"]
        ]
    )
    for path, cid in expected["paths"].items():
        if cid is None:
            assert path not in result.entries
            continue
        assert str(result.entries[path]) == cid, path
        assert str(resolve_path(store, result.cid, path)) == cid, path


@pytest.mark.parametrize(("folder", "profile_name"), list(_cases()))
def test_folder_vector_in_memory(folder: str, profile_name: str) -> None:
    store = MemoryBlockstore()
    result = import_tree(INPUTS.FOLDERS[folder](), profile=PROFILES[profile_name], blockstore=store)
    _check_root(result, store, FOLDERS[folder][profile_name])
    # only-hash gives the same root
    assert import_tree(INPUTS.FOLDERS[folder](), profile=PROFILES[profile_name]).cid == result.cid


@pytest.fixture(scope="module")
def written_folders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("unixfs-dirs")
    for name, make in INPUTS.FOLDERS.items():
        INPUTS.write_folder(str(out / name), make())
    return out


@pytest.mark.parametrize(("folder", "profile_name"), list(_cases()))
def test_folder_vector_on_disk(folder: str, profile_name: str, written_folders: Path) -> None:
    store = MemoryBlockstore()
    result = import_directory(
        written_folders / folder, profile=PROFILES[profile_name], blockstore=store
    )
    _check_root(result, store, FOLDERS[folder][profile_name])


@pytest.mark.parametrize("profile_name", list(PROFILES))
def test_wrap_with_directory(profile_name: str, written_folders: Path) -> None:
    expected = FOLDERS["three_files"]["wrap_with_directory"][profile_name]
    profile = PROFILES[profile_name]
    on_disk = import_directory(written_folders / "three_files", profile=profile, wrap=True)
    assert str(on_disk.cid) == expected
    assert "three_files/hello.txt" in on_disk.entries
    in_memory = import_tree(INPUTS.three_files(), profile=profile, wrap="three_files")
    assert str(in_memory.cid) == expected


@pytest.mark.parametrize("profile_name", list(PROFILES))
def test_hidden_files_kept_with_flag(profile_name: str, written_folders: Path) -> None:
    expected = FOLDERS["nested"]["with_hidden"][profile_name]
    profile = PROFILES[profile_name]
    assert (
        str(import_directory(written_folders / "nested", profile=profile, hidden=True).cid)
        == expected
    )
    assert str(import_tree(INPUTS.nested(), profile=profile, hidden=True).cid) == expected


# --- Kubo's own fixtures -------------------------------------------------------------------

_ALPHABET = "abcdefghijklmnopqrstuvwxyz01234567890-_"


def _hamt_names(seed: str, lengths: list[int]) -> list[str]:
    stream = chacha20_input(seed, sum(lengths))
    names, pos = [], 0
    for length in lengths:
        names.append("".join(_ALPHABET[b % 39] for b in stream[pos : pos + length]))
        pos += length
    return names


def _kubo_folder(name: str) -> dict[str, bytes]:
    if name.startswith(("v0_dir", "v1_2025_dir")):
        if name.startswith("v0_dir"):
            seed, count = "hamt-unixfs-v0-2015", (4096 if "at_threshold" in name else 4033)
            lengths = [30 if count == 4096 else 31] * count
        else:
            seed = "hamt-unixfs-v1-2025"
            lengths = [11] * 4765 + [21 if "at_threshold" in name else 22]
        return {n: b"x" for n in _hamt_names(seed, lengths)}
    return {
        "t0260_testdata": lambda: {f"file{i}": f"{i}\n".encode() for i in range(1, 2001)},
        "t0040_planets": lambda: {"mars.txt": b"Hello Mars!\n", "venus.txt": b"Hello Venus!\n"},
        "t0040_moons": lambda: {
            "jupiter/europa.txt": b"Hello Europa!\n",
            "saturn/titan.txt": b"Hello Titan!\n",
            "mercury.txt": b"hey you are no moon!\n",
        },
        "t0040_current_dir": lambda: {"hey": b"Hey\n", "hello/world": b"World\n"},
    }[name]()


def _kubo_profile(params: str) -> ImportProfile:
    name, *rest = params.split()
    profile = PROFILES[name]
    for item in rest:
        if item.startswith("threshold="):
            value = item.split("=", 1)[1]
            profile = replace(profile, hamt_threshold={"1B": 1, "1G": 1 << 30}[value])
    return profile


@pytest.mark.parametrize(
    "fixture",
    DIRS["kubo_test_fixtures"]["vectors"],
    ids=[
        f"{v['folder']}-{v['kubo_params'].split(' (')[0]}"
        for v in DIRS["kubo_test_fixtures"]["vectors"]
    ],
)
def test_kubo_fixture(fixture: dict[str, Any]) -> None:
    if fixture["folder"].startswith(("v0_dir", "v1_2025")):
        pytest.importorskip("cryptography")
    store = MemoryBlockstore()
    result = import_tree(
        _kubo_folder(fixture["folder"]),
        profile=_kubo_profile(fixture["kubo_params"]),
        blockstore=store,
    )
    assert str(result.cid) == fixture["root"]
    for path, cid in fixture.get("paths", {}).items():
        assert str(resolve_path(store, result.cid, path)) == cid


def test_hamt_threshold_is_strictly_greater() -> None:
    # 'at_threshold' has an estimate of exactly 262144: it stays a flat directory
    pytest.importorskip("cryptography")
    store = MemoryBlockstore()
    tree = _kubo_folder("v0_dir_basic_at_threshold")
    assert sum(len(n) + 34 for n in tree) == 262_144
    root = import_tree(tree, profile=UNIXFS_V0_2015, blockstore=store).cid
    assert decode_unixfs(decode_node(store.get(root)).data or b"").type == DataType.DIRECTORY


# --- behaviour ----------------------------------------------------------------------------


def test_murmur3_x64_64_known_values() -> None:
    # MurmurHash3_x64_128 (seed 0), first 64 bits: reference values from the C implementation
    assert murmur3_x64_64(b"").hex() == "0000000000000000"
    assert murmur3_x64_64(b"hello").hex() == "cbd8a7b341bd9b02"
    assert (
        murmur3_x64_64(b"The quick brown fox jumps over the lazy dog").hex() == "e34bbc7bbc071b6c"
    )


def test_list_directory_flattens_hamt() -> None:
    store = MemoryBlockstore()
    tree = INPUTS.nft(3000)
    result = import_tree(
        tree, profile=replace(CID_VERSION_1, hamt_threshold=1000), blockstore=store
    )
    listing = dict(list_directory(store, result.cid))
    assert set(listing) == set(tree)
    assert listing["1234"].hash == result.entries["1234"]


def test_directory_progress_is_cumulative(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(bytes(300_000))
    (tmp_path / "b.bin").write_bytes(bytes(10))
    seen: list[int] = []
    import_directory(tmp_path, profile=CID_VERSION_1, progress=seen.append)
    assert seen == [262_144, 300_000, 300_010]


def test_symlinks_are_stored_not_followed(tmp_path: Path) -> None:
    (tmp_path / "target.txt").write_bytes(b"data")
    os.symlink("target.txt", tmp_path / "link")
    store = MemoryBlockstore()
    result = import_directory(tmp_path, profile=UNIXFS_V0_2015, blockstore=store)
    node = decode_node(store.get(result.entries["link"]))
    unixfs = decode_unixfs(node.data or b"")
    assert (unixfs.type, unixfs.data) == (DataType.SYMLINK, b"target.txt")


def test_empty_folder_and_nesting_in_memory() -> None:
    result = import_tree({"a": {"b": None}, "c/d.txt": b"x"}, profile=UNIXFS_V0_2015)
    assert set(result.entries) == {"a", "a/b", "c", "c/d.txt"}
    assert str(result.entries["a/b"]) == "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"
    assert result.size == 1


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ({"a/../b": b""}, "segments that are names"),
        ({"": b""}, "segments that are names"),
        ({"a": b"x", "a/b": b"y"}, "to be a folder"),
        ({"a": 5}, "expected bytes, None or a mapping"),
        ({1: b""}, "str paths"),
    ],
)
def test_tree_errors(tree: Any, message: str) -> None:
    with pytest.raises(ImporterError, match=message):
        import_tree(tree, profile=CID_VERSION_1)


def test_import_directory_requires_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ImporterError, match="expected a folder"):
        import_directory(tmp_path / "missing", profile=CID_VERSION_1)


def test_entries_are_read_only() -> None:
    result = import_tree(INPUTS.nested(), profile=CID_VERSION_1)
    with pytest.raises(TypeError):
        result.entries["x"] = CID.decode(str(result.cid))  # type: ignore[index]
