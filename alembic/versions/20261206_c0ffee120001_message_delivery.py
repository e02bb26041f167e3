"""Message delivery: channels, retries, dead letters (filled by the messages work).

Revision ID: c0ffee120001
Revises: 1b7cd3e9ecc5
Create Date: 2026-12-06
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
import postal.db
from alembic import op


revision: str = "c0ffee120001"
down_revision: str | None = "1b7cd3e9ecc5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The citizen's contact preference and language on the booking.
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True)
        )
        batch_op.add_column(
            sa.Column("contact_channel", sa.String(length=32), nullable=False, server_default="sms")
        )
        batch_op.add_column(
            sa.Column(
                "lang", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False, server_default="vi"
            )
        )

    # The notification outbox: idempotency key, template and parameters, retries.
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True)
        )
        batch_op.add_column(
            sa.Column("sent_via", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch_op.add_column(
            sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "lang", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False, server_default="vi"
            )
        )
        batch_op.add_column(sa.Column("params", sa.Text(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("booking_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("dedup_key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True)
        )
        batch_op.add_column(
            sa.Column("attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("next_attempt_at", postal.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("claimed_at", postal.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )

    # Existing rows: a fresh idempotency key each, due now, "failed" becomes "dead".
    conn = op.get_bind()
    notification = sa.table(
        "notification",
        sa.column("id", sa.Integer()),
        sa.column("message_id", sa.String()),
        sa.column("status", sa.String()),
        sa.column("created_at", postal.db.UTCDateTime(timezone=True)),
        sa.column("next_attempt_at", postal.db.UTCDateTime(timezone=True)),
    )
    ids = [row[0] for row in conn.execute(sa.select(notification.c.id))]
    for row_id in ids:
        conn.execute(
            notification.update()
            .where(notification.c.id == row_id)
            .values(message_id=str(uuid.uuid4()))
        )
    conn.execute(notification.update().values(next_attempt_at=notification.c.created_at))
    conn.execute(
        notification.update().where(notification.c.status == "failed").values(status="dead")
    )

    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.alter_column(
            "message_id",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=36),
            nullable=False,
        )
        batch_op.alter_column(
            "next_attempt_at", existing_type=postal.db.UTCDateTime(timezone=True), nullable=False
        )
        batch_op.create_unique_constraint("uq_notification_message_id", ["message_id"])
        batch_op.create_unique_constraint("uq_notification_dedup_key", ["dedup_key"])
        batch_op.create_foreign_key(
            "fk_notification_booking_id_booking", "booking", ["booking_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_notification_booking_id"), ["booking_id"], unique=False)
        batch_op.create_index("ix_notification_due", ["status", "next_attempt_at"], unique=False)

    # Webhook deliveries: the same claim and dead-letter columns.
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("claimed_at", postal.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )
    delivery = sa.table("webhook_delivery", sa.column("status", sa.String()))
    conn.execute(delivery.update().where(delivery.c.status == "failed").values(status="dead"))


def downgrade() -> None:
    conn = op.get_bind()
    delivery = sa.table("webhook_delivery", sa.column("status", sa.String()))
    conn.execute(
        delivery.update()
        .where(delivery.c.status.in_(["dead", "sending"]))
        .values(status="failed")
    )
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.drop_column("last_error")
        batch_op.drop_column("claimed_at")

    notification = sa.table("notification", sa.column("status", sa.String()))
    conn.execute(
        notification.update().where(notification.c.status == "dead").values(status="failed")
    )
    conn.execute(
        notification.update().where(notification.c.status == "sending").values(status="pending")
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_due")
        batch_op.drop_index(batch_op.f("ix_notification_booking_id"))
        batch_op.drop_constraint("fk_notification_booking_id_booking", type_="foreignkey")
        batch_op.drop_constraint("uq_notification_dedup_key", type_="unique")
        batch_op.drop_constraint("uq_notification_message_id", type_="unique")
        for name in (
            "last_error",
            "claimed_at",
            "next_attempt_at",
            "attempts",
            "dedup_key",
            "booking_id",
            "params",
            "lang",
            "email",
            "sent_via",
            "message_id",
        ):
            batch_op.drop_column(name)

    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.drop_column("lang")
        batch_op.drop_column("contact_channel")
        batch_op.drop_column("email")
