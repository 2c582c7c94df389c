"""Several wikis in the configuration: `WIKIS`, `WIKI_<KEY>_*` and `WIKI_GUILD_IDS`."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from bot import app
from bot.settings import DEFAULT_WIKI, Settings, WikiConfigError, wiki_configs
from tests.unit.wiki.payloads import API, BOT_LOGIN, PASSWORD, USER_AGENT

TOKEN = "MTIzNDU2Nzg5.discord-token-secret-value"
HOME, PARTNER, THIRD = 1_100_000_000_000_000_001, 1_100_000_000_000_000_002, 1_100_000_000_000_000_3
SECOND_API = "https://second.example.org/w/api.php"
SECOND_PASSWORD = "second-bot-password-value"


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "discord_token": SecretStr(TOKEN),
        "discord_guild_ids": [HOME, PARTNER],
        "rollback_role_ids": [1],
        "wiki_api_url": API,
        "wiki_username": BOT_LOGIN,
        "wiki_password": SecretStr(PASSWORD),
        "wiki_user_agent": USER_AGENT,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


SECOND = {
    "WIKI_SECOND_API_URL": SECOND_API,
    "WIKI_SECOND_USERNAME": "Rollbot@second",
    "WIKI_SECOND_PASSWORD": SECOND_PASSWORD,
}


def test_without_wikis_there_is_the_default_wiki_for_every_served_server() -> None:
    [only] = wiki_configs(settings(), environ={})

    assert only.key == DEFAULT_WIKI
    assert (only.api_url, only.username, only.user_agent) == (API, BOT_LOGIN, USER_AGENT)
    assert only.password.get_secret_value() == PASSWORD
    assert only.guild_ids == frozenset({HOME, PARTNER})


def test_an_extra_wiki_reads_its_prefixed_variables_and_inherits_the_user_agent() -> None:
    default, second = wiki_configs(settings(wikis=["second"]), environ=SECOND)

    assert default.key == DEFAULT_WIKI
    assert second.key == "second"
    assert second.api_url == SECOND_API
    assert second.username == "Rollbot@second"
    assert second.password.get_secret_value() == SECOND_PASSWORD
    assert second.user_agent == USER_AGENT  # WIKI_SECOND_USER_AGENT unset: the main one
    assert second.guild_ids == frozenset({HOME, PARTNER})
    assert SECOND_PASSWORD not in repr(second)


def test_a_dash_in_the_key_is_an_underscore_in_the_variable_names() -> None:
    environ = {
        "WIKI_FR_WIKI_API_URL": SECOND_API,
        "WIKI_FR_WIKI_USERNAME": "Rollbot@fr",
        "WIKI_FR_WIKI_PASSWORD": SECOND_PASSWORD,
        "WIKI_FR_WIKI_USER_AGENT": "rollbot-fr/1.0 (https://fr.example.org; ops@example.org)",
        "wiki_fr_wiki_guild_ids": f" {PARTNER} ",  # case and spaces as .env files have them
    }
    _, french = wiki_configs(settings(wikis=["fr-wiki"]), environ=environ)

    assert french.key == "fr-wiki"
    assert french.user_agent.startswith("rollbot-fr/1.0")
    assert french.guild_ids == frozenset({PARTNER})


def test_the_operator_restricts_each_wiki_to_some_servers() -> None:
    environ = {**SECOND, "WIKI_SECOND_GUILD_IDS": str(PARTNER)}
    default, second = wiki_configs(
        settings(wikis=["second"], wiki_guild_ids=str(HOME)), environ=environ
    )

    assert default.guild_ids == frozenset({HOME})
    assert second.guild_ids == frozenset({PARTNER})


def test_every_problem_of_every_wiki_is_one_line() -> None:
    environ = {
        "WIKI_SECOND_API_URL": "second.example.org",  # no scheme
        "WIKI_SECOND_PASSWORD": SECOND_PASSWORD,
        "WIKI_SECOND_USER_AGENT": "rollbot",  # no contact
        "WIKI_SECOND_GUILD_IDS": f"{HOME}, {THIRD}",  # THIRD is not a served server
        "WIKI_META_GUILD_IDS": "one, two",
    }
    with pytest.raises(WikiConfigError) as raised:
        wiki_configs(settings(wikis=["second", "meta"], wiki_guild_ids=str(THIRD)), environ=environ)

    lines = raised.value.lines
    assert "  WIKI_SECOND_USERNAME: missing" in lines
    assert "  WIKI_META_API_URL: missing" in lines
    assert "  WIKI_META_USERNAME: missing" in lines
    assert "  WIKI_META_PASSWORD: missing" in lines
    assert any(line.startswith("  WIKI_SECOND_API_URL: ") for line in lines)
    assert any(
        line.startswith("  WIKI_SECOND_USER_AGENT: ") and "contact" in line for line in lines
    )
    assert f"  WIKI_SECOND_GUILD_IDS: [{THIRD}] not in DISCORD_GUILD_IDS" in lines
    assert f"  WIKI_GUILD_IDS: [{THIRD}] not in DISCORD_GUILD_IDS" in lines
    assert "  WIKI_META_GUILD_IDS: must be a comma list of server ids" in lines
    assert all(SECOND_PASSWORD not in line for line in lines)


@pytest.mark.parametrize(
    ("wikis", "problem"),
    [
        ("Second", "is not a wiki key"),
        ("se cond", "is not a wiki key"),
        ("2nd", "is not a wiki key"),
        ("a_b", "is not a wiki key"),
        ("x" * 33, "is not a wiki key"),
        ("default", "'default' is the unprefixed WIKI_\\* wiki"),
        ("second, second", "lists a wiki twice"),
    ],
)
def test_wikis_lists_valid_distinct_keys(wikis: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        settings(wikis=wikis)


def test_wikis_is_a_comma_list() -> None:
    assert settings(wikis=" second ,meta-wiki,, ").wikis == ["second", "meta-wiki"]


def test_load_wikis_exits_2_with_one_line_per_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    for name in SECOND:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WIKI_SECOND_PASSWORD", SECOND_PASSWORD)

    with pytest.raises(SystemExit) as exited:
        app.load_wikis(settings(wikis=["second"]))

    assert exited.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "rollbot: invalid configuration (see .env.example):",
        "  WIKI_SECOND_API_URL: missing",
        "  WIKI_SECOND_USERNAME: missing",
    ]


def test_load_wikis_reads_the_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in SECOND:
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text("".join(f"{name}={value}\n" for name, value in SECOND.items()))

    _, second = app.load_wikis(settings(wikis=["second"]))

    assert second.api_url == SECOND_API
    assert second.password.get_secret_value() == SECOND_PASSWORD
