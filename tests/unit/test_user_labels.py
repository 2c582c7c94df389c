"""Temporary accounts and IPv6 neighbours in the embeds; the WIKI_*TEMP_ACCOUNT_PATTERN settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr, ValidationError

from bot.db.models import RollbackRequest, RollbackStatus
from bot.settings import Settings, WikiConfigError, wiki_configs
from bot.ui.embeds import log_embed, preview_embed
from tests.unit.services.fakes import FakeWiki, ready_preview
from tests.unit.wiki.payloads import API, BOT_LOGIN, PASSWORD, USER_AGENT

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def row(user: str) -> RollbackRequest:
    return RollbackRequest(
        id=7,
        created_at=NOW,
        updated_at=NOW,
        guild_id=1,
        channel_id=2,
        requester_id=3,
        requester_name="Mod",
        wiki="default",
        wiki_api_url=API,
        page_title="Main Page",
        target_user=user,
        markbot=False,
        status=RollbackStatus.SUCCEEDED,
        edits_to_revert=1,
    )


def test_a_temporary_account_is_labelled_in_the_preview_and_the_log() -> None:
    links = FakeWiki()
    preview = replace(ready_preview(user="~2025-1_*x*"), temp_account=True)
    description = preview_embed(row("~2025-1_*x*"), preview, links).description or ""
    assert "(temporary account)" in description
    assert "[~2025-1_*x*]" not in description  # the name is escaped Markdown
    assert "\\*x\\*" in description
    user = next(f for f in log_embed(row("~2025-1"), links).fields if f.name == "User")
    assert (user.value or "").endswith("(temporary account)")
    plain = next(f for f in log_embed(row("Vandal"), links).fields if f.name == "User")
    assert "temporary" not in (plain.value or "")


def test_the_preview_notes_other_addresses_of_the_64_in_one_line() -> None:
    ips = tuple(f"2001:DB8:0:0:0:0:0:{n}" for n in range(2, 7))
    preview = replace(ready_preview(user="2001:DB8:0:0:0:0:0:1"), same_range_ips=ips)
    description = preview_embed(row(preview.target_user), preview, FakeWiki()).description or ""
    [line] = [line for line in description.splitlines() if "/64" in line]
    assert "`2001:DB8:0:0:0:0:0:2`" in line
    assert "`2001:DB8:0:0:0:0:0:4`" in line
    assert "0:0:5" not in line
    assert line.endswith("and 2 more (not rolled back).")
    plain = preview_embed(row("Vandal"), ready_preview(), FakeWiki()).description or ""
    assert "/64" not in plain


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "discord_token": SecretStr("MTIz.token-value"),
        "discord_guild_ids": [1],
        "rollback_role_ids": [1],
        "wiki_api_url": API,
        "wiki_username": BOT_LOGIN,
        "wiki_password": SecretStr(PASSWORD),
        "wiki_user_agent": USER_AGENT,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


SECOND = {
    "WIKI_SECOND_API_URL": "https://second.example.org/w/api.php",
    "WIKI_SECOND_USERNAME": "Rollbot@second",
    "WIKI_SECOND_PASSWORD": "second-password",
}


def test_temp_account_patterns_per_wiki_not_inherited() -> None:
    configs = wiki_configs(
        settings(wiki_temp_account_pattern=" ~$1 ", wikis=["second", "third"]),
        environ={
            **SECOND,
            **{k.replace("SECOND", "THIRD"): v for k, v in SECOND.items()},
            "WIKI_SECOND_TEMP_ACCOUNT_PATTERN": "*$1",
        },
    )
    assert [c.temp_account_pattern for c in configs] == ["~$1", "*$1", None]
    assert settings(wiki_temp_account_pattern="  ").wiki_temp_account_pattern is None


@pytest.mark.parametrize("bad", ["~", "$1", "~$1$1"])
def test_a_temp_account_pattern_needs_one_serial(bad: str) -> None:
    with pytest.raises(ValidationError, match="serial goes"):
        settings(wiki_temp_account_pattern=bad)
    with pytest.raises(WikiConfigError, match="WIKI_SECOND_TEMP_ACCOUNT_PATTERN"):
        wiki_configs(
            settings(wikis=["second"]),
            environ={**SECOND, "WIKI_SECOND_TEMP_ACCOUNT_PATTERN": bad},
        )
