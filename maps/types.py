"""Plain inputs of the map functions: routes, stops and unassigned points (no database types)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

StopKind = Literal["pickup", "delivery"]
StopPlace = Literal["citizen", "desk"]


@dataclass(frozen=True)
class Point:
    """A WGS 84 position."""

    lat: float
    lon: float


@dataclass(frozen=True)
class MapStop:
    """One visit of a route; ``eta`` is in local time; personal data arrives already masked."""

    sequence: int
    point: Point
    kind: StopKind
    place: StopPlace
    eta: dt.datetime | None = None
    slot_text: str = ""
    label: str = ""
    item_numbers: tuple[str, ...] = ()
    name_masked: str = ""
    phone_masked: str = ""


@dataclass(frozen=True)
class MapRoute:
    """A courier's ordered stops from and back to the post office (the depot)."""

    courier_label: str
    color: str
    depot: Point
    stops: tuple[MapStop, ...]
    depot_label: str = ""
    route_id: int | None = None


@dataclass(frozen=True)
class UnassignedPoint:
    """A stop the plan could not serve, with the reason."""

    point: Point
    item_number: str
    reason: str = ""


@dataclass(frozen=True)
class Overview:
    """A day's plan for the dispatcher: routes, unassigned stops and optional commune outlines."""

    routes: tuple[MapRoute, ...]
    unassigned: tuple[UnassignedPoint, ...] = ()
    boundaries: tuple[dict[str, Any], ...] = field(default=())
