"""Per-guild settings (guild_config), their change log (config_change), search indexes.

The composite indexes serve `/rollback-log search`: one per filter, each ending in
(created_at, id) so a keyset page is an index range scan however deep it is.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:14:13.111083+00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEARCH_INDEXES: dict[str, list[str]] = {
    "ix_rollback_request_guild_recent": ["guild_id", "created_at", "id"],
    # The trailing status lets "this user/page/moderator AND this status" be counted and
    # filtered from the index alone (covering on SQLite, index-only on PostgreSQL).
    "ix_rollback_request_guild_target_recent": [
        "guild_id",
        "target_user",
        "created_at",
        "id",
        "status",
    ],
    "ix_rollback_request_guild_page_recent": [
        "guild_id",
        "page_title",
        "created_at",
        "id",
        "status",
    ],
    "ix_rollback_request_guild_requester_recent": [
        "guild_id",
        "requester_id",
        "created_at",
        "id",
        "status",
    ],
    "ix_rollback_request_guild_status_recent": ["guild_id", "status", "created_at", "id"],
}


def upgrade() -> None:
    op.create_table(
        "guild_config",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("log_channel_set", sa.Boolean(), nullable=False),
        sa.Column("log_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("rollback_role_ids", sa.Text(), nullable=True),
        sa.Column("log_viewer_role_ids", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("guild_id", name=op.f("pk_guild_config")),
    )
    op.create_table(
        "config_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("changed_by_id", sa.BigInteger(), nullable=False),
        sa.Column("changed_by_name", sa.String(length=100), nullable=False),
        sa.Column("setting", sa.String(length=32), nullable=False),
        sa.Column("old_value", sa.String(length=2000), nullable=False),
        sa.Column("new_value", sa.String(length=2000), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_change")),
    )
    op.create_index("ix_config_change_guild_recent", "config_change", ["guild_id", "id"])
    for name, columns in _SEARCH_INDEXES.items():
        op.create_index(name, "rollback_request", columns)


def downgrade() -> None:
    for name in reversed(_SEARCH_INDEXES):
        op.drop_index(name, table_name="rollback_request")
    op.drop_index("ix_config_change_guild_recent", table_name="config_change")
    op.drop_table("config_change")
    op.drop_table("guild_config")
