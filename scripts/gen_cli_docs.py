"""Write docs/cli.md from the command line's own --help (a test checks it is current).

.venv/bin/python scripts/gen_cli_docs.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from typer.main import get_command
from typer.testing import CliRunner

from hexavatar.cli import app

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def _walk(cmd: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    found = [(path, cmd)]
    commands = getattr(cmd, "commands", None) or {}
    for name in sorted(commands):
        found += _walk(commands[name], [*path, name])
    return found


def render() -> str:
    runner = CliRunner()
    env = {"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"}
    parts = [
        "# Command line reference\n",
        "Generated from `hexavatar --help` by `scripts/gen_cli_docs.py`; do not edit by hand.\n",
    ]
    for path, _cmd in _walk(get_command(app), ["hexavatar"]):
        result = runner.invoke(app, [*path[1:], "--help"], env=env, prog_name="hexavatar")
        text = "\n".join(line.rstrip() for line in result.stdout.strip("\n").splitlines())
        parts.append(f"## `{' '.join(path)}`\n\n```\n{text}\n```\n")
    return "\n".join(parts)


def main() -> None:
    DOC.write_text(render())
    print(DOC, file=sys.stderr)


if __name__ == "__main__":
    main()
