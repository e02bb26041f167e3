"""`postal load <locality>`: write the parsed reference data files into the database.

Idempotent: loading twice leaves the same rows. Rows are upserted by key; a desk's windows,
a procedure's document list and the tariff table are replaced as a whole.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, delete, select

from postal.catalogue import files
from postal.catalogue.models import (
    CalendarDay,
    CalendarDayKind,
    Commune,
    Desk,
    DeskWindow,
    DocumentKind,
    ItemKind,
    Locality,
    PostOffice,
    Procedure,
    ProcedureDocument,
    ProcedureLevel,
    Province,
    ServiceArea,
    Tariff,
    TariffZone,
)

M = TypeVar("M", bound=SQLModel)


def _upsert(session: Session, model: type[M], key: str, rows: Iterable[dict[str, Any]]) -> int:
    """Insert new rows and update changed ones, keyed by the single primary key ``key``."""
    existing = {getattr(r, key): r for r in session.exec(select(model)).all()}
    n = 0
    for values in rows:
        n += 1
        row = existing.get(values[key])
        if row is None:
            session.add(model(**values))
        else:
            for name, value in values.items():
                if getattr(row, name) != value:
                    setattr(row, name, value)
            session.add(row)
    session.flush()
    return n


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def load_units(session: Session, data_dir: Path) -> tuple[int, int]:
    """Provinces and communes of the whole country (34 and 3,321 rows)."""
    provinces = [
        {
            "code": p["code"],
            "name": p["name"],
            "full_name": p["full_name"],
            "name_en": p["name_en"],
            "label_lat": float(p["label_lat"]),
            "label_lon": float(p["label_lon"]),
        }
        for p in _csv(data_dir / "units" / "provinces.csv")
    ]
    communes = [
        {
            "code": c["code"],
            "name": c["name"],
            "full_name": c["full_name"],
            "name_en": c["name_en"],
            "type": c["type"],
            "province_code": c["province_code"],
            "label_lat": float(c["label_lat"]),
            "label_lon": float(c["label_lon"]),
        }
        for c in _csv(data_dir / "units" / "communes.csv")
    ]
    return _upsert(session, Province, "code", provinces), _upsert(
        session, Commune, "code", communes
    )


def load_catalogue(session: Session, data_dir: Path) -> dict[str, int]:
    """Procedures with their document lists, the tariff table and the holiday calendar."""
    procedures = files.load_procedures(data_dir)
    _upsert(
        session,
        Procedure,
        "code",
        (
            {
                "code": p.code,
                "name": p.name,
                "name_en": p.name_en,
                "level": ProcedureLevel(p.level),
                "field_name": p.field,
                "dossier_pickup": p.dossier_pickup,
                "result_delivery": p.result_delivery,
                "in_person_only": p.in_person_only,
                "processing_days": p.processing_days,
                "fee_vnd": p.fee_vnd,
            }
            for p in procedures
        ),
    )
    session.execute(delete(ProcedureDocument))
    documents = 0
    for p in procedures:
        for position, d in enumerate(p.documents, start=1):
            session.add(
                ProcedureDocument(
                    procedure_code=p.code,
                    position=position,
                    name=d.name,
                    kind=DocumentKind(d.kind),
                    quantity=d.quantity,
                )
            )
            documents += 1
    tariffs = files.load_tariffs(data_dir)
    session.execute(delete(Tariff))
    for t in tariffs:
        session.add(
            Tariff(
                valid_from=t.valid_from,
                valid_to=t.valid_to,
                item_kind=ItemKind(t.item_kind),
                zone=TariffZone(t.zone),
                fee_collection=t.fee_collection,
                amount_vnd=t.amount_vnd,
            )
        )
    cal = files.load_holidays(data_dir)
    session.execute(delete(CalendarDay))
    for day, name in cal.holidays.items():
        session.add(
            CalendarDay(
                day=day,
                kind=CalendarDayKind.holiday,
                name=name,
                name_en=cal.holiday_names_en.get(day, ""),
            )
        )
    for day, note in cal.working_saturdays.items():
        session.add(CalendarDay(day=day, kind=CalendarDayKind.working_saturday, name=note))
    session.flush()
    return {
        "procedures": len(procedures),
        "procedure documents": documents,
        "tariffs": len(tariffs),
        "calendar days": len(cal.holidays) + len(cal.working_saturdays),
    }


def load_locality(session: Session, data_dir: Path, slug: str) -> dict[str, int]:
    """Load the country's units, the catalogue and one locality's post offices and desks."""
    data = files.load_locality(data_dir, slug)  # parse and check everything before writing
    n_provinces, n_communes = load_units(session, data_dir)
    counts = {"provinces": n_provinces, "communes": n_communes}
    counts.update(load_catalogue(session, data_dir))
    _upsert(
        session,
        Locality,
        "slug",
        [
            {
                "slug": data.slug,
                "name": data.name,
                "province_code": data.province_code,
                "timezone": data.timezone,
                "default_slot_capacity": data.default_slot_capacity,
            }
        ],
    )
    counts["post offices"] = _upsert(
        session,
        PostOffice,
        "code",
        (
            {
                "code": o.code,
                "locality_slug": data.slug,
                "name": o.name,
                "address": o.address,
                "lat": o.lat,
                "lon": o.lon,
                "slot_capacity": o.slot_capacity,
                "location_note": o.location_note,
            }
            for o in data.post_offices
        ),
    )
    counts["service areas"] = _upsert(
        session,
        ServiceArea,
        "commune_code",
        (
            {"commune_code": c, "post_office_code": o.code}
            for o in data.post_offices
            for c in o.commune_codes
        ),
    )
    counts["desks"] = _upsert(
        session,
        Desk,
        "code",
        (
            {
                "code": d.code,
                "locality_slug": data.slug,
                "commune_code": d.commune_code,
                "name": d.name,
                "address": d.address,
                "lat": d.lat,
                "lon": d.lon,
                "location_approximate": d.location_approximate,
                "accepted_levels": ";".join(d.accepted_levels),
            }
            for d in data.desks
        ),
    )
    profiles = {p.name: p.hours for p in data.hours_profiles}
    desk_codes = [d.code for d in data.desks]
    session.execute(delete(DeskWindow).where(DeskWindow.desk_code.in_(desk_codes)))  # type: ignore[attr-defined]
    windows = 0
    for d in data.desks:
        for weekday, day_windows in profiles[d.hours_profile].items():
            for w in day_windows:
                session.add(
                    DeskWindow(desk_code=d.code, weekday=weekday, opens=w.start, closes=w.end)
                )
                windows += 1
    session.flush()
    counts["desk windows"] = windows
    return counts
