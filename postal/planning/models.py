"""Persisted plans: a plan run per date and post offices, its routes, stops and left-outs."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from postal.db import EnumText, UTCDateTime, utcnow


class PlanStatus(StrEnum):
    """Life of a planning job."""

    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


class StopPlace(StrEnum):
    """Where a stop is: at a citizen's address or at a desk."""

    citizen = "citizen"
    desk = "desk"


class PlanRun(SQLModel, table=True):
    """One planning job for a date and a set of post offices (kế hoạch tuyến)."""

    __tablename__ = "plan_run"

    id: int | None = Field(default=None, primary_key=True)
    date: dt.date = Field(index=True)
    post_office_codes: str
    status: PlanStatus = Field(sa_type=EnumText(PlanStatus), index=True)
    progress: int = 0
    message: str = ""
    replans_id: int | None = Field(default=None, foreign_key="plan_run.id")
    created_by: int | None = Field(default=None, foreign_key="staff_user.id")
    time_limit_s: float = 30.0
    couriers_used: int = 0
    distance_m: int = 0
    duration_s: int = 0
    stop_count: int = 0
    unassigned_count: int = 0
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    finished_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))

    def offices(self) -> list[str]:
        """The post office codes of this plan."""
        return [c for c in self.post_office_codes.split(",") if c]


class PlannedRoute(SQLModel, table=True):
    """One courier's ordered stops for the day (tuyến)."""

    __tablename__ = "planned_route"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan_run.id", index=True)
    post_office_code: str = Field(foreign_key="post_office.code")
    courier_user_id: int | None = Field(default=None, foreign_key="staff_user.id", index=True)
    courier_label: str
    color: str
    locked: bool = False
    start_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    end_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    break_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    distance_m: int
    duration_s: int
    stop_count: int


class PlannedStop(SQLModel, table=True):
    """One visit of a route, with its times (điểm dừng)."""

    __tablename__ = "planned_stop"

    id: int | None = Field(default=None, primary_key=True)
    route_id: int = Field(foreign_key="planned_route.id", index=True)
    plan_id: int = Field(foreign_key="plan_run.id", index=True)
    sequence: int
    kind: str
    place: StopPlace = Field(sa_type=EnumText(StopPlace))
    item_number: str = Field(index=True)
    booking_reference: str
    desk_code: str = Field(foreign_key="desk.code")
    lat: float
    lon: float
    arrival_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    start_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    departure_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    window_start: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    window_end: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    load_after: int


class UnassignedStop(SQLModel, table=True):
    """A stop the plan could not serve, with the optimiser's reason."""

    __tablename__ = "unassigned_stop"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan_run.id", index=True)
    item_number: str
    booking_reference: str
    kind: str
    place: StopPlace = Field(sa_type=EnumText(StopPlace))
    lat: float
    lon: float
    reason: str
