"""The API key a booking was made through, so that each one-stop system reads only its own.

Revision ID: c0ffee140003
Revises: c0ffee130001
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0ffee140003"
down_revision: str | None = "c0ffee130001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("booking") as batch:
        batch.add_column(sa.Column("api_key_name", sa.String(length=100), nullable=True))
        batch.create_index("ix_booking_api_key_name", ["api_key_name"])


def downgrade() -> None:
    with op.batch_alter_table("booking") as batch:
        batch.drop_index("ix_booking_api_key_name")
        batch.drop_column("api_key_name")
