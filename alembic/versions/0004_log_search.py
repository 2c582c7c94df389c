"""Saved log searches (log_search): Prev / Next survive a restart and count once.

Each `/rollback-log search` is a row: who searched, in which guild, the filters, and the total
counted when it was made. Its buttons carry only the row id and a keyset cursor.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 09:00:00.000000+00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_search",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("searcher_id", sa.BigInteger(), nullable=False),
        sa.Column("target_user", sa.String(length=255), nullable=True),
        sa.Column("page_title", sa.String(length=512), nullable=True),
        sa.Column("requester_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("total_capped", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_search")),
        # SQLite must never reuse a pruned search's id (an old button would find a new search).
        sqlite_autoincrement=True,
    )
    # Pruning deletes searches older than a week.
    op.create_index(op.f("ix_log_search_created_at"), "log_search", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_log_search_created_at"), table_name="log_search")
    op.drop_table("log_search")
