"""Configuration from the environment and `.env` (pydantic-settings).

The variable names are a contract with deployment files; keep them exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATA_DIR = Path("data")
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{DEFAULT_DATA_DIR}/rollbot.sqlite3"


def _split_ids(value: object) -> object:
    """Accept `1,2, 3` (the documented form) as well as a JSON list or a single int."""
    if isinstance(value, int):
        return [value]
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            return text  # let pydantic parse JSON
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


IdList = Annotated[list[int], NoDecode]


class Settings(BaseSettings):
    """Everything an operator configures. No module-level instance: `app.py` builds one."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    discord_token: SecretStr = Field(min_length=1)
    # The servers rollbot serves; it refuses every other server (see bot/interaction_gate.py).
    discord_guild_ids: IdList
    rollback_role_ids: IdList = Field(min_length=1)
    log_viewer_role_ids: IdList = Field(default_factory=list)
    log_channel_id: int | None = None

    wiki_api_url: str
    wiki_username: str = Field(min_length=1)
    wiki_password: SecretStr = Field(min_length=1)
    wiki_user_agent: str
    wiki_max_concurrency: int = Field(default=1, ge=1, le=8)
    wiki_timeout_seconds: float = Field(default=30.0, gt=0)

    database_url: str = DEFAULT_DATABASE_URL
    confirm_timeout_seconds: int = Field(default=120, ge=10, le=840)
    # Largest /rollback-log export attachment; Discord's own per-server limit also applies.
    export_max_bytes: int = Field(default=8 * 1024 * 1024, ge=256 * 1024, le=500 * 1024 * 1024)
    log_level: str = "INFO"

    @field_validator("discord_guild_ids", "rollback_role_ids", "log_viewer_role_ids", mode="before")
    @classmethod
    def _parse_id_list(cls, value: object) -> object:
        return _split_ids(value)

    @field_validator("discord_guild_ids")
    @classmethod
    def _check_guild_ids(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError(
                "must list the ids of the servers rollbot serves (comma-separated); "
                "it refuses every other server"
            )
        if any(guild_id <= 0 for guild_id in value):
            raise ValueError("server ids are positive numbers")
        return value

    @field_validator("log_channel_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("wiki_api_url")
    @classmethod
    def _check_api_url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")) or not value.endswith("api.php"):
            raise ValueError("must be the full URL of the wiki's api.php (http:// or https://)")
        return value

    @field_validator("wiki_user_agent")
    @classmethod
    def _check_user_agent(cls, value: str) -> str:
        value = value.strip()
        # Wikimedia's User-Agent policy: a descriptive name plus a way to contact the operator.
        if not value:
            raise ValueError("must not be empty: name the bot and give a contact (URL or e-mail)")
        if "@" not in value and "http" not in value:
            raise ValueError("must include a contact (an e-mail address or a URL)")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level
