"""Persisted plans: a plan run per date and post offices, its routes, stops and left-outs."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, Index, Text, UniqueConstraint, text
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
    seed: int = 0
    unavailable_courier_ids: str = ""
    parts_total: int = 0
    parts_done: int = 0
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    finished_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))

    def offices(self) -> list[str]:
        """The post office codes of this plan."""
        return [c for c in self.post_office_codes.split(",") if c]

    def unavailable(self) -> set[int]:
        """The couriers this plan (a re-plan) must not use."""
        return {int(c) for c in self.unavailable_courier_ids.split(",") if c}


class PlanOffice(SQLModel, table=True):
    """A post office taking part in a plan; the database allows one active plan per office
    and date (a partial unique index), whatever the number of web processes."""

    __tablename__ = "plan_office"
    __table_args__ = (
        Index(
            "uq_plan_office_active",
            "date",
            "post_office_code",
            unique=True,
            postgresql_where=text("active"),
            sqlite_where=text("active"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan_run.id", index=True)
    date: dt.date
    post_office_code: str = Field(foreign_key="post_office.code")
    active: bool = True


class PartStatus(StrEnum):
    """Life of one planning task (a post office, or a sector of a big one)."""

    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


class PlanPart(SQLModel, table=True):
    """One task of a plan: a post office's stops, or one sector of them, with its couriers."""

    __tablename__ = "plan_part"
    __table_args__ = (UniqueConstraint("plan_id", "post_office_code", "part_index"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan_run.id", index=True)
    post_office_code: str = Field(foreign_key="post_office.code")
    part_index: int = 0
    parts_in_office: int = 1
    item_numbers: str = Field(default="", sa_column=Column(Text, nullable=False))
    """Comma-separated items of this sector; empty: every plannable item of the office."""
    courier_slots: str = Field(default="", sa_column=Column(Text, nullable=False))
    """The sector's couriers as JSON [[user id or null, label], ...]; empty: the office's."""
    status: PartStatus = Field(sa_type=EnumText(PartStatus), index=True)
    attempts: int = 0
    stop_count: int = 0
    routes: int = 0
    unassigned_count: int = 0
    error: str = ""
    started_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    finished_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


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
    post_office_code: str | None = Field(default=None, index=True)
    """The post office whose stop it is (only its dispatchers see it)."""


class CourierShift(SQLModel, table=True):
    """A courier's shift on one date (the roster): start and end in minutes after local
    midnight, and whether the courier works that day. A courier with no row works the
    default shift (``Settings.courier_shift``)."""

    __tablename__ = "courier_shift"
    __table_args__ = (
        UniqueConstraint("user_id", "date", name="uq_courier_shift_user_date"),
        CheckConstraint(
            "start_minute >= 0 AND end_minute <= 1440 AND start_minute < end_minute",
            name="ck_courier_shift_span",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="staff_user.id")
    date: dt.date = Field(index=True)
    start_minute: int
    end_minute: int
    available: bool = True
    updated_by: int | None = Field(default=None, foreign_key="staff_user.id")
