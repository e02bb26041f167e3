"""Courier roster (a shift per courier and day, with availability); the post office of each
stop a plan left out (so that a dispatcher sees only their own office's).

Revision ID: c0ffee130001
Revises: c0ffee140002
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "c0ffee130001"
down_revision: str | None = "c0ffee140002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "courier_shift",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["staff_user.id"]),
        sa.ForeignKeyConstraint(["updated_by"], ["staff_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "date", name="uq_courier_shift_user_date"),
        sa.CheckConstraint(
            "start_minute >= 0 AND end_minute <= 1440 AND start_minute < end_minute",
            name="ck_courier_shift_span",
        ),
    )
    op.create_index("ix_courier_shift_date", "courier_shift", ["date"])
    with op.batch_alter_table("unassigned_stop") as batch:
        batch.add_column(sa.Column("post_office_code", sa.String(), nullable=True))
        batch.create_index("ix_unassigned_stop_post_office_code", ["post_office_code"])
    # Stops left out before this revision: their booking says which post office they are of.
    op.execute(
        "UPDATE unassigned_stop SET post_office_code = (SELECT booking.post_office_code "
        "FROM booking WHERE booking.reference = unassigned_stop.booking_reference)"
    )


def downgrade() -> None:
    with op.batch_alter_table("unassigned_stop") as batch:
        batch.drop_index("ix_unassigned_stop_post_office_code")
        batch.drop_column("post_office_code")
    op.drop_index("ix_courier_shift_date", table_name="courier_shift")
    op.drop_table("courier_shift")
