"""Reads of the reference data: procedures, desks and their hours, calendar, areas, tariffs."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlmodel import Session, col, or_, select

from postal.calendar import DeskHours, Window, WorkCalendar
from postal.catalogue.models import (
    CalendarDay,
    CalendarDayKind,
    Commune,
    Desk,
    DeskWindow,
    ItemKind,
    PostOffice,
    Procedure,
    ProcedureDocument,
    ServiceArea,
    Tariff,
    TariffZone,
)
from postal.errors import NotFound, ValidationFailed


def get_procedure(session: Session, code: str, field: str = "procedure_code") -> Procedure:
    """A procedure by code; 422 naming ``field`` when unknown."""
    proc = session.get(Procedure, code.strip())
    if proc is None:
        raise ValidationFailed("unknown_procedure", field=field)
    return proc


def procedure_documents(session: Session, code: str) -> list[ProcedureDocument]:
    """The document list of a procedure, in order."""
    return list(
        session.exec(
            select(ProcedureDocument)
            .where(ProcedureDocument.procedure_code == code)
            .order_by(col(ProcedureDocument.position))
        ).all()
    )


def get_desk(session: Session, code: str, field: str = "desk_code") -> Desk:
    """A desk by code; 422 naming ``field`` when unknown."""
    desk = session.get(Desk, code.strip())
    if desk is None:
        raise ValidationFailed("unknown_desk", field=field)
    return desk


def desk_or_404(session: Session, code: str) -> Desk:
    """A desk by code for a path parameter; 404 when unknown."""
    desk = session.get(Desk, code)
    if desk is None:
        raise NotFound("unknown_desk")
    return desk


def desk_hours(session: Session, desk_code: str) -> DeskHours:
    """The weekly opening windows of a desk."""
    rows = session.exec(
        select(DeskWindow).where(DeskWindow.desk_code == desk_code).order_by(col(DeskWindow.opens))
    ).all()
    by_day: dict[int, list[Window]] = defaultdict(list)
    for row in rows:
        by_day[row.weekday].append(Window(row.opens, row.closes))
    return {day: tuple(windows) for day, windows in by_day.items()}


def work_calendar(session: Session) -> WorkCalendar:
    """The working calendar (holidays and make-up Saturdays) from the loaded data."""
    rows = session.exec(select(CalendarDay)).all()
    holidays = {r.day: r.name for r in rows if r.kind == CalendarDayKind.holiday}
    saturdays = frozenset(r.day for r in rows if r.kind == CalendarDayKind.working_saturday)
    return WorkCalendar(holidays, saturdays)


def get_commune(session: Session, code: str, field: str = "commune_code") -> Commune:
    """A commune by its 5-digit code; 422 naming ``field`` when unknown."""
    commune = session.get(Commune, code.strip())
    if commune is None:
        raise ValidationFailed("unknown_commune", field=field)
    return commune


def serving_post_office(session: Session, commune_code: str) -> PostOffice | None:
    """The post office whose service area holds the commune, if any."""
    area = session.get(ServiceArea, commune_code)
    return session.get(PostOffice, area.post_office_code) if area else None


def tariff_amount(
    session: Session, day: dt.date, kind: ItemKind, zone: TariffZone, fee_collection: bool
) -> int:
    """The postal charge in force on ``day`` for one item; 422 ``no_tariff`` when none is."""
    row = session.exec(
        select(Tariff).where(
            Tariff.item_kind == kind,
            Tariff.zone == zone,
            Tariff.fee_collection == fee_collection,
            Tariff.valid_from <= day,
            or_(col(Tariff.valid_to).is_(None), col(Tariff.valid_to) >= day),
        )
    ).first()
    if row is None:
        raise ValidationFailed("no_tariff", field="date")
    return row.amount_vnd
