"""An optimise problem waiting for, or solved by, a worker."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from postal.db import EnumText, UTCDateTime, utcnow


class OptimiseStatus(StrEnum):
    """Life of an optimise problem."""

    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class OptimiseJob(SQLModel, table=True):
    """A VROOM-format problem and, once solved, its VROOM-format plan."""

    __tablename__ = "optimise_job"

    id: str = Field(primary_key=True, max_length=36)
    client: str = Field(max_length=80)
    status: OptimiseStatus = Field(sa_type=EnumText(OptimiseStatus))
    problem: str = Field(sa_column=Column(Text, nullable=False))
    time_limit_s: float
    seed: int = 0
    result: str | None = Field(default=None, sa_column=Column(Text))
    error: str = ""
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    finished_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
