"""SQLModel tables. Every rollback request, whatever its outcome, is one `RollbackRequest` row."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

# A naming convention gives every constraint and index a stable name, which Alembic needs to
# alter them later (and SQLite's batch mode needs to recreate tables).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Stores UTC; always returns aware UTC datetimes (SQLite drops the zone otherwise)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class RollbackStatus(enum.StrEnum):
    """Lifecycle of a request. These exact words are a public contract (log, search, export)."""

    PENDING = "pending"
    DENIED = "denied"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self not in (RollbackStatus.PENDING, RollbackStatus.RUNNING)


class RollbackStatusType(sa.types.TypeDecorator[RollbackStatus]):
    """A plain VARCHAR(16) holding the status word, loaded back as a `RollbackStatus`.

    A bare `sa.String` column hands back `str`, so `row.status.is_terminal` would fail on a row
    read from the database. A VARCHAR (not a native ENUM) keeps new statuses a code-only change.
    """

    impl = sa.String(16)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        # RollbackStatus(...) rejects a misspelt word before it reaches the audit log.
        return None if value is None else RollbackStatus(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> RollbackStatus | None:
        return None if value is None else RollbackStatus(value)


def _big(nullable: bool = True, index: bool = False) -> sa.Column[int]:
    # Discord snowflakes exceed 32 bits, and so do MediaWiki ids on big wikis (Wikidata's revision
    # ids passed 2**31 long ago): PostgreSQL's INTEGER would overflow.
    return sa.Column(sa.BigInteger, nullable=nullable, index=index)


class RollbackRequest(SQLModel, table=True):
    """The audit row of one `/rollback` request."""

    __tablename__ = "rollback_request"
    # `/rollback-log search` reads newest first within one guild, optionally filtered on one
    # column, and pages by keyset on (created_at, id). One index per filter, each ending in
    # (created_at, id), lets every such page be an index range scan of 11 entries, however deep.
    __table_args__ = (
        sa.Index("ix_rollback_request_guild_recent", "guild_id", "created_at", "id"),
        # A trailing status: "user/page/moderator AND status" is checked (and counted) from
        # the index alone, without reading each row.
        sa.Index(
            "ix_rollback_request_guild_target_recent",
            *("guild_id", "target_user", "created_at", "id", "status"),
        ),
        sa.Index(
            "ix_rollback_request_guild_page_recent",
            *("guild_id", "page_title", "created_at", "id", "status"),
        ),
        sa.Index(
            "ix_rollback_request_guild_requester_recent",
            *("guild_id", "requester_id", "created_at", "id", "status"),
        ),
        sa.Index(
            "ix_rollback_request_guild_status_recent", "guild_id", "status", "created_at", "id"
        ),
        # `/rollback-log search wiki:` within one guild.
        sa.Index("ix_rollback_request_guild_wiki_recent", "guild_id", "wiki", "created_at", "id"),
        # The outbox sweep: rows waiting to be posted, by when they are due.
        sa.Index("ix_rollback_request_log_due", "log_state", "log_next_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime, nullable=False, index=True)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime, nullable=False)
    )

    guild_id: int = Field(sa_column=_big(nullable=False, index=True))
    channel_id: int | None = Field(default=None, sa_column=_big())
    requester_id: int = Field(sa_column=_big(nullable=False, index=True))
    requester_name: str = Field(max_length=100)

    # The wiki's key (`default`, or one of WIKIS): reconcile, settle and re-checks use its client.
    wiki: str = Field(
        default="default",
        sa_column=sa.Column(sa.String(32), nullable=False, server_default="default"),
    )
    wiki_api_url: str = Field(max_length=500)
    page_title: str = Field(max_length=512, index=True)
    page_id: int | None = Field(default=None, sa_column=_big())
    target_user: str = Field(max_length=255, index=True)
    summary: str | None = Field(default=None, max_length=1000)
    markbot: bool = False

    status: RollbackStatus = Field(
        sa_column=sa.Column(RollbackStatusType, nullable=False, index=True)
    )
    expires_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime))

    # What the preview showed the moderator.
    edits_to_revert: int | None = None
    top_revid: int | None = Field(default=None, sa_column=_big())
    restored_revid: int | None = Field(default=None, sa_column=_big())

    # What MediaWiki answered.
    revid: int | None = Field(default=None, sa_column=_big())
    old_revid: int | None = Field(default=None, sa_column=_big())
    last_revid: int | None = Field(default=None, sa_column=_big())
    error_code: str | None = Field(default=None, max_length=100)
    error_message: str | None = Field(default=None, max_length=2000)

    confirmed_by_id: int | None = Field(default=None, sa_column=_big())
    confirmed_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime))

    prompt_message_id: int | None = Field(default=None, sa_column=_big())
    # The /rollback interaction's token while its prompt is open, so a prompt that expired
    # while the bot was down can still be greyed out after a restart (an interaction token can
    # edit its ephemeral response for 15 minutes; a prompt lives at most 14). Cleared when the
    # request ends (for `expired`, once the prompt was greyed out).
    prompt_token: str | None = Field(default=None, max_length=1000)
    log_message_id: int | None = Field(default=None, sa_column=_big())
    log_post_error: str | None = Field(default=None, max_length=500)

    # The summary the wiki saved (its answer, or the rollback revision's comment).
    result_summary: str | None = Field(default=None, max_length=1000)

    # Which process carries out a `running` request, and until when that claim holds. The
    # owner renews it while it works; only a lapsed lease may be settled by another process.
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime))

    # A `failed` row whose wiki answer was lost (timeout, unverified) is checked against the
    # page history again at `recheck_at`; `recheck_count` bounds how often.
    recheck_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime, index=True))
    recheck_count: int = Field(
        default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0")
    )

    # The log outbox: every terminal row is posted once to `log_channel_id` (the channel in
    # force when it ended). `log_state` is NULL (nothing to post), `pending`, `posted`,
    # `folded` (a denial counted into the member's next denial post) or `failed` (permanent).
    log_channel_id: int | None = Field(default=None, sa_column=_big())
    log_state: str | None = Field(default=None, max_length=16)
    log_attempts: int = Field(
        default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0")
    )
    log_next_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime))
    log_claim_until: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime))


class RoleIdSet(sa.types.TypeDecorator[frozenset[int]]):
    """A set of Discord role ids as text (`"1,2,3"`); NULL and the empty set stay distinct.

    NULL means "not set for this guild: use the .env default"; `""` means "explicitly none".
    Text rather than JSON or an array keeps the column identical on SQLite and PostgreSQL.
    """

    impl = sa.Text()
    cache_ok = True

    def process_bind_param(self, value: frozenset[int] | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return ",".join(str(int(role_id)) for role_id in sorted(value))

    def process_result_value(self, value: str | None, dialect: Dialect) -> frozenset[int] | None:
        if value is None:
            return None
        return frozenset(int(part) for part in value.split(",") if part)


class GuildConfig(SQLModel, table=True):
    """One guild's overrides of the `.env` defaults (set with `/rollbot-config`).

    Each setting is independent: a NULL role set, or `log_channel_set = False`, means the guild
    uses the `.env` value. `log_channel_set = True` with a NULL `log_channel_id` means "no log
    channel for this guild", which differs from "use LOG_CHANNEL_ID".
    """

    __tablename__ = "guild_config"

    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    log_channel_set: bool = False
    log_channel_id: int | None = Field(default=None, sa_column=_big())
    rollback_role_ids: frozenset[int] | None = Field(
        default=None, sa_column=sa.Column(RoleIdSet, nullable=True)
    )
    log_viewer_role_ids: frozenset[int] | None = Field(
        default=None, sa_column=sa.Column(RoleIdSet, nullable=True)
    )
    # The server's default wiki among those the operator allows it (NULL: the first allowed).
    default_wiki: str | None = Field(default=None, max_length=32)
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime, nullable=False)
    )
    updated_by_id: int | None = Field(default=None, sa_column=_big())


class ConfigChange(SQLModel, table=True):
    """Who changed which setting of a guild, when, from what to what (never updated)."""

    __tablename__ = "config_change"
    __table_args__ = (sa.Index("ix_config_change_guild_recent", "guild_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime, nullable=False)
    )
    guild_id: int = Field(sa_column=_big(nullable=False))
    changed_by_id: int = Field(sa_column=_big(nullable=False))
    changed_by_name: str = Field(max_length=100)
    setting: str = Field(max_length=32)
    # Human-readable values as `/rollbot-config show` prints them, e.g. "default (<#1>)" or
    # "<@&1>, <@&2>"; for the record, not parsed back.
    old_value: str = Field(max_length=2000)
    new_value: str = Field(max_length=2000)
