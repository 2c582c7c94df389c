"""Several wikis: the wiki of each request, a server's default wiki, the search's wiki filter.

Existing requests were all made on the one wiki there was: they become `default`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 05:00:00.000000+00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rollback_request", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("wiki", sa.String(length=32), server_default="default", nullable=False)
        )
        batch_op.create_index(
            "ix_rollback_request_guild_wiki_recent",
            ["guild_id", "wiki", "created_at", "id"],
            unique=False,
        )
    with op.batch_alter_table("guild_config", schema=None) as batch_op:
        batch_op.add_column(sa.Column("default_wiki", sa.String(length=32), nullable=True))
    with op.batch_alter_table("log_search", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wiki", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("log_search", schema=None) as batch_op:
        batch_op.drop_column("wiki")
    with op.batch_alter_table("guild_config", schema=None) as batch_op:
        batch_op.drop_column("default_wiki")
    with op.batch_alter_table("rollback_request", schema=None) as batch_op:
        batch_op.drop_index("ix_rollback_request_guild_wiki_recent")
        batch_op.drop_column("wiki")
