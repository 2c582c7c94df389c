"""Initial schema: the rollback_request audit table.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 09:38:10.868581+00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rollback_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=True),
        sa.Column("requester_id", sa.BigInteger(), nullable=False),
        sa.Column("requester_name", sa.String(length=100), nullable=False),
        sa.Column("wiki_api_url", sa.String(length=500), nullable=False),
        sa.Column("page_title", sa.String(length=512), nullable=False),
        sa.Column("page_id", sa.BigInteger(), nullable=True),
        sa.Column("target_user", sa.String(length=255), nullable=False),
        sa.Column("summary", sa.String(length=1000), nullable=True),
        sa.Column("markbot", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("edits_to_revert", sa.Integer(), nullable=True),
        sa.Column("top_revid", sa.BigInteger(), nullable=True),
        sa.Column("restored_revid", sa.BigInteger(), nullable=True),
        sa.Column("revid", sa.BigInteger(), nullable=True),
        sa.Column("old_revid", sa.BigInteger(), nullable=True),
        sa.Column("last_revid", sa.BigInteger(), nullable=True),
        sa.Column("error_code", sa.String(length=100), nullable=True),
        sa.Column("error_message", sa.String(length=2000), nullable=True),
        sa.Column("confirmed_by_id", sa.BigInteger(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prompt_message_id", sa.BigInteger(), nullable=True),
        sa.Column("log_message_id", sa.BigInteger(), nullable=True),
        sa.Column("log_post_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollback_request")),
    )
    op.create_index(op.f("ix_rollback_request_created_at"), "rollback_request", ["created_at"])
    op.create_index(op.f("ix_rollback_request_guild_id"), "rollback_request", ["guild_id"])
    op.create_index(op.f("ix_rollback_request_page_title"), "rollback_request", ["page_title"])
    op.create_index(op.f("ix_rollback_request_requester_id"), "rollback_request", ["requester_id"])
    op.create_index(op.f("ix_rollback_request_status"), "rollback_request", ["status"])
    op.create_index(op.f("ix_rollback_request_target_user"), "rollback_request", ["target_user"])


def downgrade() -> None:
    op.drop_index(op.f("ix_rollback_request_target_user"), table_name="rollback_request")
    op.drop_index(op.f("ix_rollback_request_status"), table_name="rollback_request")
    op.drop_index(op.f("ix_rollback_request_requester_id"), table_name="rollback_request")
    op.drop_index(op.f("ix_rollback_request_page_title"), table_name="rollback_request")
    op.drop_index(op.f("ix_rollback_request_guild_id"), table_name="rollback_request")
    op.drop_index(op.f("ix_rollback_request_created_at"), table_name="rollback_request")
    op.drop_table("rollback_request")
