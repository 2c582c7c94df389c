"""Configuration from the environment and `.env` (pydantic-settings).

The variable names are a contract with deployment files; keep them exactly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from dotenv import dotenv_values
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATA_DIR = Path("data")
DEFAULT_WIKI = "default"  # the key of the wiki the unprefixed WIKI_* variables configure
WIKI_KEY = re.compile(r"[a-z][a-z0-9-]{0,31}")
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
    # Extra wikis beside `default` (the unprefixed WIKI_*), each configured by WIKI_<KEY>_*;
    # read by `wiki_configs`, since their variable names depend on this list.
    wikis: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # The servers that may use the default wiki; empty = all of DISCORD_GUILD_IDS.
    wiki_guild_ids: IdList = Field(default_factory=list)
    wiki_max_concurrency: int = Field(default=1, ge=1, le=8)
    wiki_timeout_seconds: float = Field(default=30.0, gt=0)
    # The names of the wiki's temporary accounts ($1: the serial), for a wiki too old to say
    # (before MediaWiki 1.42); unset: MediaWiki's default for the wiki's version.
    wiki_temp_account_pattern: str | None = None

    database_url: str = DEFAULT_DATABASE_URL
    confirm_timeout_seconds: int = Field(default=120, ge=10, le=840)
    # Largest /rollback-log export attachment; Discord's own per-server limit also applies.
    export_max_bytes: int = Field(default=8 * 1024 * 1024, ge=256 * 1024, le=500 * 1024 * 1024)
    log_level: str = "INFO"

    @field_validator("wikis", mode="before")
    @classmethod
    def _parse_wiki_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("wikis")
    @classmethod
    def _check_wiki_keys(cls, value: list[str]) -> list[str]:
        for key in value:
            if not WIKI_KEY.fullmatch(key):
                raise ValueError(
                    f"{key!r} is not a wiki key (lower-case letters, digits and '-', "
                    "starting with a letter, at most 32)"
                )
            if key == DEFAULT_WIKI:
                raise ValueError("'default' is the unprefixed WIKI_* wiki; list only the others")
        if len(set(value)) != len(value):
            raise ValueError("lists a wiki twice")
        return value

    @field_validator(
        "discord_guild_ids",
        "rollback_role_ids",
        "log_viewer_role_ids",
        "wiki_guild_ids",
        mode="before",
    )
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

    @field_validator("log_channel_id", "wiki_temp_account_pattern", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("wiki_api_url")
    @classmethod
    def _check_api_url(cls, value: str) -> str:
        return check_api_url(value)

    @field_validator("wiki_user_agent")
    @classmethod
    def _check_user_agent(cls, value: str) -> str:
        return check_user_agent(value)

    @field_validator("wiki_temp_account_pattern")
    @classmethod
    def _check_temp_account_pattern(cls, value: str | None) -> str | None:
        return None if value is None else check_temp_account_pattern(value)

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level


def check_api_url(value: str) -> str:
    value = value.strip()
    if not value.startswith(("http://", "https://")) or not value.endswith("api.php"):
        raise ValueError("must be the full URL of the wiki's api.php (http:// or https://)")
    return value


def check_temp_account_pattern(value: str) -> str:
    value = value.strip()
    # MediaWiki's TempUser\Pattern: a prefix and/or suffix around "$1", the serial.
    if value.count("$1") != 1 or value == "$1":
        raise ValueError('must be a name with "$1" where the serial goes, e.g. ~$1 or *$1')
    return value


def check_user_agent(value: str) -> str:
    value = value.strip()
    # Wikimedia's User-Agent policy: a descriptive name plus a way to contact the operator.
    if not value:
        raise ValueError("must not be empty: name the bot and give a contact (URL or e-mail)")
    if "@" not in value and "http" not in value:
        raise ValueError("must include a contact (an e-mail address or a URL)")
    return value


@dataclass(frozen=True, slots=True)
class WikiConfig:
    """One wiki the bot serves, and the servers the operator allows to use it."""

    key: str
    api_url: str
    username: str
    password: SecretStr
    user_agent: str
    guild_ids: frozenset[int]
    temp_account_pattern: str | None = None


class WikiConfigError(ValueError):
    """Invalid WIKI_<KEY>_* values: one line per problem, as `NAME: problem`."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines


def wiki_configs(settings: Settings, environ: Mapping[str, str] | None = None) -> list[WikiConfig]:
    """The default wiki (unprefixed WIKI_*) and each of WIKIS from WIKI_<KEY>_* variables.

    `environ` defaults to `.env` overlaid with the process environment (as Settings reads
    them). Raises WikiConfigError listing every problem.
    """
    values = _environment() if environ is None else {k.upper(): v for k, v in environ.items()}
    served = frozenset(settings.discord_guild_ids)
    problems: list[str] = []

    def servers(name: str, text: str | None) -> frozenset[int]:
        if text is None or not text.strip():
            return served
        try:
            ids = frozenset(int(part) for part in text.split(",") if part.strip())
        except ValueError:
            problems.append(f"  {name}: must be a comma list of server ids")
            return frozenset()
        stray = ids - served
        if stray:
            problems.append(f"  {name}: {sorted(stray)} not in DISCORD_GUILD_IDS")
        return ids & served

    default_servers = (
        frozenset(settings.wiki_guild_ids) & served if settings.wiki_guild_ids else served
    )
    stray = frozenset(settings.wiki_guild_ids) - served
    if stray:
        problems.append(f"  WIKI_GUILD_IDS: {sorted(stray)} not in DISCORD_GUILD_IDS")
    configs = [
        WikiConfig(
            key=DEFAULT_WIKI,
            api_url=settings.wiki_api_url,
            username=settings.wiki_username,
            password=settings.wiki_password,
            user_agent=settings.wiki_user_agent,
            guild_ids=default_servers,
            temp_account_pattern=settings.wiki_temp_account_pattern,
        )
    ]
    for key in settings.wikis:
        prefix = f"WIKI_{key.upper().replace('-', '_')}_"
        fields: dict[str, str] = {}
        for field in ("API_URL", "USERNAME", "PASSWORD"):
            value = (values.get(prefix + field) or "").strip()
            if not value:
                problems.append(f"  {prefix}{field}: missing")
            fields[field] = value
        user_agent = (values.get(prefix + "USER_AGENT") or "").strip() or settings.wiki_user_agent
        temp_pattern = (values.get(prefix + "TEMP_ACCOUNT_PATTERN") or "").strip() or None
        for field, check, value in (
            ("API_URL", check_api_url, fields["API_URL"]),
            ("USER_AGENT", check_user_agent, user_agent),
            ("TEMP_ACCOUNT_PATTERN", check_temp_account_pattern, temp_pattern or ""),
        ):
            if value:
                try:
                    check(value)
                except ValueError as exc:
                    problems.append(f"  {prefix}{field}: {exc}")
        configs.append(
            WikiConfig(
                key=key,
                api_url=fields["API_URL"],
                username=fields["USERNAME"],
                password=SecretStr(fields["PASSWORD"]),
                user_agent=user_agent,
                guild_ids=servers(prefix + "GUILD_IDS", values.get(prefix + "GUILD_IDS")),
                # Each wiki has its own; the default wiki's is not inherited.
                temp_account_pattern=temp_pattern,
            )
        )
    if problems:
        raise WikiConfigError(problems)
    return configs


def _environment() -> dict[str, str]:
    """`.env` overlaid with the process environment, names upper-cased (as Settings reads)."""
    merged = {k.upper(): v for k, v in dotenv_values(".env").items() if v is not None}
    merged.update({k.upper(): v for k, v in os.environ.items()})
    return merged
