"""Migration 0005 on a database made by the schema before it (0004), holding rows as that schema
wrote them: every old request becomes a request on the wiki `default`, and the new code reads it.

tests/db/test_db_migrations.py proves the migrated schema equals the models on an empty
database; this is about the data already there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.command import upgrade
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import audit
from bot.db.engine import alembic_config, create_engine, create_session_factory
from bot.db.models import RollbackStatus, utcnow
from bot.services.authz import StaticRolePolicy
from bot.services.guild_settings import GuildDefaults, GuildSettingsService
from bot.services.history import HistoryService, build_filters
from bot.services.rollback import LEASE, RollbackService
from bot.wiki.results import RollbackResult
from tests.unit.services.fakes import FakeWiki

GUILD = 1234567890123456789
OLD_API_URL = "https://wiki.example.org/w/api.php"
T = utcnow() - timedelta(hours=1)


def _upgrade(connection: Connection, revision: str) -> None:
    upgrade(alembic_config(connection), revision)


def _old_rows(connection: Connection) -> dict[str, Any]:
    """Rows as rollbot wrote them at 0004, through the tables as they were then (reflected)."""
    meta = sa.MetaData()
    requests = sa.Table("rollback_request", meta, autoload_with=connection)
    guilds = sa.Table("guild_config", meta, autoload_with=connection)
    searches = sa.Table("log_search", meta, autoload_with=connection)
    assert "wiki" not in requests.c  # really the old schema
    common = {
        "updated_at": T,
        "guild_id": GUILD,
        "channel_id": 5,
        "requester_id": 1001,
        "requester_name": "Mod",
        "wiki_api_url": OLD_API_URL,
        "target_user": "Vandal",
        "markbot": False,
    }
    ids = {}
    for name, minutes, fields in [
        ("succeeded", 0, {"status": "succeeded", "revid": 13, "old_revid": 12, "last_revid": 10}),
        ("denied", 1, {"status": "denied", "error_code": "missingrole"}),
        # Confirmed, then the process died long ago: its lease has lapsed.
        (
            "running",
            2,
            {
                "status": "running",
                "top_revid": 12,
                "page_id": 7,
                "confirmed_by_id": 1001,
                "confirmed_at": T + timedelta(minutes=2),
                "lease_owner": "dead-process",
                "lease_until": T + timedelta(minutes=3),
            },
        ),
    ]:
        inserted = connection.execute(
            requests.insert().values(
                created_at=T + timedelta(minutes=minutes),
                page_title=f"Page {name}",
                **common,
                **fields,
            )
        )
        ids[name] = inserted.inserted_primary_key[0]
    connection.execute(
        guilds.insert().values(
            guild_id=GUILD,
            log_channel_set=True,
            log_channel_id=42,
            rollback_role_ids="7,8",
            updated_at=T,
        )
    )
    search = connection.execute(
        searches.insert().values(
            created_at=utcnow(),
            guild_id=GUILD,
            searcher_id=1001,
            target_user="Vandal",
            total=3,
            total_capped=False,
        )
    )
    ids["search"] = search.inserted_primary_key[0]
    return ids


def _new_columns(connection: Connection) -> dict[str, Any]:
    inspector = sa.inspect(connection)
    wiki = connection.execute(sa.text("SELECT DISTINCT wiki FROM rollback_request")).all()
    return {
        "request_wikis": sorted(row[0] for row in wiki),
        "default_wiki": connection.execute(sa.text("SELECT default_wiki FROM guild_config")).all(),
        "search_wiki": connection.execute(sa.text("SELECT wiki FROM log_search")).all(),
        "indexes": {str(i["name"]) for i in inspector.get_indexes("rollback_request")},
    }


@pytest.fixture
async def old_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A database at revision 0004 (not head)."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, "0004")
        yield engine
    finally:
        await engine.dispose()


async def test_old_rows_become_the_default_wikis_and_the_new_code_reads_them(
    old_engine: AsyncEngine,
) -> None:
    async with old_engine.begin() as connection:
        ids = await connection.run_sync(_old_rows)

    async with old_engine.begin() as connection:
        await connection.run_sync(_upgrade, "head")

    async with old_engine.connect() as connection:
        found = await connection.run_sync(_new_columns)
    assert found["request_wikis"] == ["default"]
    assert found["default_wiki"] == [(None,)]
    assert found["search_wiki"] == [(None,)]
    assert "ix_rollback_request_guild_wiki_recent" in found["indexes"]

    sessions = create_session_factory(old_engine)
    async with sessions() as session:
        old = await audit.get_request(session, ids["succeeded"])
    assert old is not None
    assert (old.wiki, old.wiki_api_url, old.revid) == ("default", OLD_API_URL, 13)

    history = HistoryService(sessions=sessions)
    on_default = build_filters(guild_id=GUILD, now=history.now(), wiki="default")
    found_default = await history.search(on_default, searcher_id=1001)
    assert [row.id for row in found_default.page.rows] == [
        ids["running"],
        ids["denied"],
        ids["succeeded"],
    ]
    on_second = build_filters(guild_id=GUILD, now=history.now(), wiki="second")
    assert (await history.search(on_second, searcher_id=1001)).page.rows == []
    stats = await history.stats(GUILD, since=None, wiki="default")
    assert stats.by_status == {
        RollbackStatus.SUCCEEDED: 1,
        RollbackStatus.DENIED: 1,
        RollbackStatus.RUNNING: 1,
    }
    # A search saved before the upgrade still turns its pages: it had no wiki filter.
    saved = await history.saved_search(ids["search"])
    assert saved is not None
    assert saved.filters.wiki is None
    assert len((await history.page(saved)).rows) == 3

    # The guild's own settings survive; its default wiki is the first one it may use.
    guilds = GuildSettingsService(
        sessions=sessions,
        defaults=GuildDefaults(
            log_channel_id=None,
            rollback_role_ids=frozenset(),
            wiki_guilds={"default": None, "second": None},
        ),
    )
    settings = await guilds.settings(GUILD)
    assert (settings.rollback_role_ids, settings.log_channel_id) == (frozenset({7, 8}), 42)
    assert (settings.default_wiki, settings.wikis) == ("default", ("default", "second"))

    # The old `running` row is settled from the default wiki's history, not another's.
    default = FakeWiki(
        found=[
            RollbackResult(
                title="Page running", pageid=7, summary="", revid=15, old_revid=12, last_revid=10
            )
        ]
    )
    second = FakeWiki()
    service = RollbackService(
        wikis={"default": default, "second": second},
        sessions=sessions,
        roles=StaticRolePolicy(rollback_roles=frozenset({7})),
        confirm_timeout=timedelta(minutes=5),
        clock=lambda: utcnow() + LEASE,
    )
    settled = await service.reconcile()
    assert [row.id for row in settled] == [ids["running"]]
    assert (default.find_calls, second.find_calls) == ([("Page running", 12)], [])
    row = await service.get(ids["running"])
    assert row is not None
    assert (row.status, row.revid) == (RollbackStatus.SUCCEEDED, 15)
