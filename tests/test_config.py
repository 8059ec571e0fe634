"""Settings: sources, precedence, validation, and docs that cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from hexavatar.config import Settings, load_settings

DOC = Path(__file__).parents[1] / "docs" / "configuration.md"


def test_every_setting_is_documented() -> None:
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", DOC.read_text(), flags=re.M))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - documented == set(), "undocumented settings"
    assert documented - fields == set(), "documented settings that do not exist"


def test_env_beats_file_and_flags_beat_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "h.toml"
    cfg.write_text('[hexavatar]\nport = 7000\nhost = "0.0.0.0"\nlog_level = "debug"\n')
    monkeypatch.setenv("HEXAVATAR_PORT", "9000")
    s = load_settings(config_file=cfg)
    assert (s.port, s.host, s.log_level) == (9000, "0.0.0.0", "debug")
    assert load_settings(config_file=cfg, port=1234).port == 1234


def test_config_file_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "h.toml"
    cfg.write_text('public_url = "https://pics.example/"\n')
    monkeypatch.setenv("HEXAVATAR_CONFIG_FILE", str(cfg))
    assert load_settings().effective_public_url == "https://pics.example"


def test_embedded_defaults_live_in_the_data_dir(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path)
    assert s.effective_database_url == f"sqlite:///{tmp_path.resolve()}/hexavatar.db"
    assert s.effective_object_store_url == f"file://{tmp_path.resolve()}/objects"
    assert s.effective_public_url == "http://127.0.0.1:8000"


@pytest.mark.parametrize("bad", [{"port": 0}, {"avatar_serving": "teleport"}, {"nonsense": 1}])
def test_invalid_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        load_settings(**bad)


def test_unknown_key_in_file_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "h.toml"
    cfg.write_text("prot = 80\n")
    with pytest.raises(ValidationError, match="prot"):
        load_settings(config_file=cfg)


def test_missing_or_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        load_settings(config_file=tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("port = = 1")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_settings(config_file=bad)


def test_secrets_are_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEXAVATAR_S3_SECRET_ACCESS_KEY", "hunter2-secret")
    s = load_settings()
    assert "hunter2-secret" not in repr(s) and "hunter2-secret" not in str(s)
    assert s.s3_secret_access_key.get_secret_value() == "hunter2-secret"


def test_nothing_reads_settings_at_import() -> None:
    import ast

    src = Path(__file__).parents[1] / "src" / "hexavatar"
    for path in src.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only
            for call in ast.walk(node):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    break
                if isinstance(call, ast.Call) and getattr(call.func, "id", "") in (
                    "load_settings",
                    "Settings",
                    "create_app",
                ):
                    raise AssertionError(f"{path} builds settings or the app at import")
