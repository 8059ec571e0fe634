"""Settings: one object, read from env ``HEXAVATAR_*`` and an optional TOML file.

Precedence, highest first: values passed to :func:`load_settings` (the CLI's flags), environment
variables, the TOML file (``HEXAVATAR_CONFIG_FILE`` or ``config_file=``), then the defaults here.
Nothing is read at import: :func:`load_settings` is called once in ``main()`` / ``create_app()``.
Every field must be documented in ``docs/configuration.md`` (a test enforces it).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

__all__ = ["Settings", "load_settings"]


class _TomlFileSource(PydanticBaseSettingsSource):
    """Reads the TOML file named by ``config_file`` (from init kwargs or the environment)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ returns the whole table

    def __call__(self) -> dict[str, Any]:
        path = self.current_state.get("config_file")
        if not path:
            return {}
        try:
            with Path(path).open("rb") as f:
                data = tomllib.load(f)
        except FileNotFoundError as e:
            raise ValueError(f"config file {str(path)!r} does not exist") from e
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"config file {str(path)!r} is not valid TOML: {e}") from e
        table = data.get("hexavatar", data)
        if not isinstance(table, dict):
            raise ValueError("config file: expected a [hexavatar] table")
        return dict(table)


class Settings(BaseSettings):
    """Everything Hexavatar can be configured with. See docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_prefix="HEXAVATAR_", extra="forbid", frozen=True, validate_default=True
    )

    config_file: Path | None = None
    data_dir: Path = Path(".hexavatar")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = ""
    database_url: str = ""
    object_store_url: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: SecretStr = SecretStr("")
    object_public_base_url: str = ""
    avatar_serving: Literal["stream", "redirect"] = "stream"
    avatar_cache_ttl_seconds: float = Field(default=300.0, ge=0)
    avatar_change_poll_seconds: float = Field(default=1.0, ge=0)
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(default=40_000_000, ge=1)
    session_ttl_seconds: int = Field(default=14 * 24 * 3600, ge=60)
    cookie_secure: bool = False
    login_max_failures_per_user: int = Field(default=5, ge=1)
    login_max_failures_per_client: int = Field(default=20, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)
    gc_grace_seconds: int = Field(default=3600, ge=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = "json"
    metrics_enabled: bool = True
    shutdown_timeout_seconds: float = Field(default=90.0, gt=0)
    nft_enabled: bool = True
    chain_rpc_url: str = ""
    chain_id: int | None = Field(default=None, ge=1)
    contract_address: str = ""
    minter_keystore: Path | None = None
    minter_password: SecretStr = SecretStr("")
    minter_password_file: Path | None = None
    chain_confirmations: int = Field(default=1, ge=1, le=100)
    chain_timeout_seconds: float = Field(default=60.0, gt=0)
    chains: dict[int, str] = Field(default_factory=dict)
    watcher_interval_seconds: float = Field(default=1.0, gt=0)
    watcher_full_every_seconds: float = Field(default=300.0, gt=0)
    ipfs_gateways: list[str] = Field(default_factory=list)
    fetch_unsafe_allow: list[str] = Field(default_factory=list)
    kubo_rpc_url: str = ""

    @field_validator("public_url", "object_public_base_url", "s3_endpoint_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlFileSource(settings_cls))

    # Derived values: the embedded defaults live in the data dir.
    @property
    def effective_public_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'hexavatar.db').resolve()}"

    @property
    def effective_object_store_url(self) -> str:
        return self.object_store_url or f"file://{(self.data_dir / 'objects').resolve()}"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once; ``overrides`` (e.g. CLI flags) beat env and file values."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
