"""Trust: settlement leases, re-checks, the saved summary and the log outbox.

- `lease_owner`/`lease_until`: the process carrying out a `running` request and how long its
  claim holds; another process settles the row only after the lease lapses.
- `recheck_at`/`recheck_count`: failed rows whose answer was lost are checked again later.
- `result_summary`: the summary the wiki saved.
- `prompt_token`: the open prompt's interaction token, to grey it out after a restart.
- `log_channel_id`, `log_state`, `log_attempts`, `log_next_at`, `log_claim_until`: the outbox
  that posts every outcome to the log channel exactly once, retried until it lands. Rows that
  existed before have `log_state` NULL: they are not posted again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 04:20:00.000000+00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rollback_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("result_summary", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("prompt_token", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("recheck_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("recheck_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("log_channel_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("log_state", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("log_attempts", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("log_next_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("log_claim_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_rollback_request_recheck_at"), ["recheck_at"], unique=False
        )
        batch_op.create_index(
            "ix_rollback_request_log_due", ["log_state", "log_next_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("rollback_request", schema=None) as batch_op:
        batch_op.drop_index("ix_rollback_request_log_due")
        batch_op.drop_index(batch_op.f("ix_rollback_request_recheck_at"))
        for column in (
            "log_claim_until",
            "log_next_at",
            "log_attempts",
            "log_state",
            "log_channel_id",
            "recheck_count",
            "recheck_at",
            "lease_until",
            "lease_owner",
            "result_summary",
            "prompt_token",
        ):
            batch_op.drop_column(column)
