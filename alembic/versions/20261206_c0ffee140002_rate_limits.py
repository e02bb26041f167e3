"""Rate limits and counters: the counter table, one-time code tries and requester, one active
citizen booking per ID number per slot.

Revision ID: c0ffee140002
Revises: c0ffee120002
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0ffee140002"
down_revision: str | None = "c0ffee120002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status <> 'cancelled' AND channel = 'citizen'"


def upgrade() -> None:
    op.create_table(
        "rate_limit_counter",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("reset_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("otp_challenge") as batch:
        batch.add_column(
            sa.Column("attempts_left", sa.Integer(), nullable=False, server_default="5")
        )
        batch.add_column(sa.Column("requested_by", sa.String(length=100), nullable=True))
        batch.create_index("ix_otp_challenge_requested_by", ["requested_by"])
    op.create_index(
        "uq_booking_active_id_number_slot",
        "booking",
        ["id_number_hash", "date", "slot"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_booking_active_id_number_slot", table_name="booking")
    with op.batch_alter_table("otp_challenge") as batch:
        batch.drop_index("ix_otp_challenge_requested_by")
        batch.drop_column("requested_by")
        batch.drop_column("attempts_left")
    op.drop_table("rate_limit_counter")
