"""Docs that cannot drift: the README's quick start, the generated CLI reference."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_quick_start_is_two_make_commands_that_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make run", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run", "test", "setup"):
        assert re.search(rf"^{target}:", makefile, flags=re.M), target
    assert "hexavatar serve" in makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "mypy --strict src/" in ci and "ruff format --check" in ci


def test_cli_reference_is_current(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.setenv("COLUMNS", "100")
    spec = importlib.util.spec_from_file_location("gen", ROOT / "scripts" / "gen_cli_docs.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    current = (ROOT / "docs" / "cli.md").read_text()
    assert gen.render() == current, "run scripts/gen_cli_docs.py to refresh docs/cli.md"


def test_every_interface_name_in_the_blueprint_exists() -> None:
    cli = (ROOT / "docs" / "cli.md").read_text()
    for command in ("serve", "demo", "ipfs add", "ipfs cat", "ipfs get", "car export",
                    "car import", "mint", "nft show", "chain up", "db upgrade", "gc"):  # fmt: skip
        assert f"## `hexavatar {command}`" in cli, command
