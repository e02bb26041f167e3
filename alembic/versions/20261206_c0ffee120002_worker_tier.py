"""Worker tier: the task queue's schema (PostgreSQL), plan parts, one active plan per office.

Revision ID: c0ffee120002
Revises: c0ffee120001
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import postal.db

revision: str = "c0ffee120002"
down_revision: str | None = "c0ffee120001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # procrastinate's own schema (jobs, events, workers' heartbeats, periodic defers), as
        # its SchemaManager ships it for the pinned major version.
        from procrastinate.schema import SchemaManager

        # Straight to the driver: the schema's '%' are text, not parameters.
        with bind.connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(SchemaManager.get_schema())
    with op.batch_alter_table("plan_run") as batch:
        batch.add_column(sa.Column("seed", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("unavailable_courier_ids", sa.String(), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("parts_total", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("parts_done", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "plan_office",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("post_office_code", sa.String(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plan_run.id"]),
        sa.ForeignKeyConstraint(["post_office_code"], ["post_office.code"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_plan_office_plan_id", "plan_office", ["plan_id"])
    op.create_index(
        "uq_plan_office_active",
        "plan_office",
        ["date", "post_office_code"],
        unique=True,
        postgresql_where=sa.text("active"),
        sqlite_where=sa.text("active"),
    )
    op.create_table(
        "plan_part",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("post_office_code", sa.String(), nullable=False),
        sa.Column("part_index", sa.Integer(), nullable=False),
        sa.Column("parts_in_office", sa.Integer(), nullable=False),
        sa.Column("item_numbers", sa.Text(), nullable=False),
        sa.Column("courier_slots", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("stop_count", sa.Integer(), nullable=False),
        sa.Column("routes", sa.Integer(), nullable=False),
        sa.Column("unassigned_count", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(), nullable=False),
        sa.Column("started_at", postal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", postal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["plan_id"], ["plan_run.id"]),
        sa.ForeignKeyConstraint(["post_office_code"], ["post_office.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan_id", "post_office_code", "part_index"),
    )
    op.create_index("ix_plan_part_plan_id", "plan_part", ["plan_id"])
    op.create_index("ix_plan_part_status", "plan_part", ["status"])
    op.create_table(
        "optimise_job",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("client", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("time_limit_s", sa.Float(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.String(), nullable=False),
        sa.Column("created_at", postal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", postal.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_optimise_job_client_status", "optimise_job", ["client", "status"])
    op.create_table(
        "ledger_checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.Column("verified_at", postal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # Plans the old in-process runner left queued or running can never finish: say so.
    op.execute(
        "UPDATE plan_run SET status = 'failed', message = 'interrupted: re-plan' "
        "WHERE status IN ('queued', 'running')"
    )


def downgrade() -> None:
    op.drop_table("ledger_checkpoint")
    op.drop_index("ix_optimise_job_client_status", table_name="optimise_job")
    op.drop_table("optimise_job")
    op.drop_table("plan_part")
    op.drop_index("uq_plan_office_active", table_name="plan_office")
    op.drop_table("plan_office")
    with op.batch_alter_table("plan_run") as batch:
        for column in ("parts_done", "parts_total", "unavailable_courier_ids", "seed"):
            batch.drop_column(column)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, "
            "procrastinate_jobs, procrastinate_workers CASCADE"
        )
