"""A province's day in the database, for `postal bench province`.

Hà Nội as loaded has ten post offices; a province's worth is about one per commune. This adds a
post office beside each chosen commune's one-stop desk, re-points the commune's service area to
it, and books the next working day through the booking service, as citizens and the one-stop
system would: results to deliver (ready at the desk) outnumber dossiers to pick up about 5 to 1,
citizens live inside their commune's polygon, each booking holds one item (two stops).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable

import numpy as np
from sqlmodel import Session, col, select

from postal.booking.models import ServiceForm
from postal.booking.schemas import BookingCreate
from postal.booking.service import create_booking
from postal.calendar import Slot, to_local
from postal.catalogue import service as catalogue
from postal.catalogue.models import Commune, Desk, Locality, PostOffice, Procedure, ServiceArea
from postal.config import Settings
from postal.db import utcnow
from postal.demo import CitizenPools, booking_channel, eligible_procedures
from postal.geo.boundaries import CommuneBoundaries
from postal.planning.city import RESULT_SHARE

# Province post offices are "BC" + the commune code (BC00004): never a real six-digit code.
OFFICE_PREFIX = "BC"
# The post office stands this far (degrees, about 90 m) north-east of the commune's desk.
OFFICE_OFFSET_DEG = 0.0008

Progress = Callable[[int, int], None]


def office_code(commune_code: str) -> str:
    """The province post office of a commune."""
    return f"{OFFICE_PREFIX}{commune_code}"


def province_office_codes(session: Session) -> list[str]:
    """Codes of the post offices `build_province` added, in order."""
    rows = session.exec(
        select(PostOffice.code)
        .where(col(PostOffice.code).startswith(OFFICE_PREFIX))
        .order_by(col(PostOffice.code))
    ).all()
    return list(rows)


def province_day(session: Session, now: dt.datetime | None = None) -> dt.date:
    """The next working weekday after today (local): the day `build_province` books."""
    cal = catalogue.work_calendar(session)
    day = cal.next_working_day(to_local(now or utcnow()).date())
    while day.weekday() >= 5:  # a make-up Saturday: most desks are closed
        day = cal.next_working_day(day)
    return day


def build_province(
    session: Session,
    settings: Settings,
    *,
    offices: int = 126,
    stops: int = 25000,
    seed: int = 0,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> dt.date:
    """Add ``offices`` post offices (one per commune of the loaded locality) and book the next
    working day so that the planner sees ``stops`` stops; return that day.

    Deterministic in ``seed`` (communes, citizens, slots, forms). Writes through the booking
    service, so slot loads and item numbers are issued as in production; the caller commits.
    Raises ValueError when the locality has fewer communes with a desk than ``offices``, or the
    province was already built in this database.
    """
    now = now or utcnow()
    if province_office_codes(session):
        raise ValueError("the province's post offices exist already in this database")
    if stops < 2 or offices < 1:
        raise ValueError("offices and stops must be positive (stops: at least 2)")
    locality = session.get(Locality, settings.locality)
    if locality is None:
        raise ValueError(f"locality {settings.locality!r} is not loaded (postal load)")
    rng = np.random.default_rng(seed)
    desks = list(
        session.exec(
            select(Desk).where(Desk.locality_slug == locality.slug).order_by(col(Desk.code))
        ).all()
    )
    by_commune = {d.commune_code: d for d in desks}  # the commune's first desk
    communes = sorted(by_commune)
    if offices > len(communes):
        raise ValueError(f"offices: {locality.name} has {len(communes)} communes with a desk")
    chosen = sorted(rng.choice(communes, size=offices, replace=False).tolist())
    day = province_day(session, now)
    requests = _draw_requests(session, settings, rng, [by_commune[c] for c in chosen], day, stops)
    load = Counter((office_code(r.commune_code), r.slot) for r, _ in requests)
    for code in chosen:
        desk = by_commune[code]
        commune = session.get(Commune, code)
        assert commune is not None
        needed = max((load[(office_code(code), s)] for s in Slot), default=0)
        session.add(
            PostOffice(
                code=office_code(code),
                locality_slug=locality.slug,
                name=f"Bưu cục {commune.full_name}",
                address=f"Cạnh {desk.name}, {desk.address}",
                lat=round(desk.lat + OFFICE_OFFSET_DEG, 6),
                lon=round(desk.lon + OFFICE_OFFSET_DEG, 6),
                slot_capacity=max(locality.default_slot_capacity, needed),
                location_note="bench province: beside the commune's one-stop desk",
            )
        )
    session.flush()
    for code in chosen:
        area = session.get(ServiceArea, code)
        if area is None:
            area = ServiceArea(commune_code=code, post_office_code=office_code(code))
        area.post_office_code = office_code(code)
        session.add(area)
    session.flush()
    for n, (request, form) in enumerate(requests, start=1):
        create_booking(session, settings, request, channel=booking_channel(form), now=now)
        if progress is not None and (n % 500 == 0 or n == len(requests)):
            progress(n, len(requests))
    _roster(session, settings, chosen, Counter(office_code(r.commune_code) for r, _ in requests))
    return day


def _roster(session: Session, settings: Settings, communes: list[str], items: Counter[str]) -> None:
    """Named couriers for each post office, as many as its day needs (nobody signs in)."""
    from postal.planning.roster import add_couriers, person_names

    pools = CitizenPools.load(settings).pools
    for k, commune in enumerate(communes):
        code = office_code(commune)
        count = max(1, math.ceil(items[code] / 12 * settings.courier_fleet_factor))
        add_couriers(session, code, person_names(pools, count, k), "!", f"bt{code}-")


def _draw_requests(
    session: Session,
    settings: Settings,
    rng: np.random.Generator,
    desks: list[Desk],
    day: dt.date,
    stops: int,
) -> list[tuple[BookingCreate, ServiceForm]]:
    """One single-item booking per two stops, at the chosen communes' desks."""
    pools = CitizenPools.load(settings)
    boundaries = CommuneBoundaries.load(settings.data_dir, settings.locality)
    procedures = list(session.exec(select(Procedure).order_by(col(Procedure.code))).all())
    eligible = {
        form: [
            p
            for p in eligible_procedures(procedures, form)
            if all(str(p.level) in d.accepted_levels.split(";") for d in desks)
        ]
        for form in (ServiceForm.result_delivery, ServiceForm.dossier_pickup)
    }
    out: list[tuple[BookingCreate, ServiceForm]] = []
    for k in range(stops // 2):
        desk = desks[int(rng.integers(len(desks)))]
        is_result = rng.random() < RESULT_SHARE
        form = ServiceForm.result_delivery if is_result else ServiceForm.dossier_pickup
        procs = eligible[form]
        proc = procs[int(rng.integers(len(procs)))]
        point = boundaries.sample_points(desk.commune_code, 1, rng)[0]
        slot = Slot.MORNING if rng.random() < 0.5 else Slot.AFTERNOON
        request = pools.request(
            rng,
            form=form,
            procedure_code=proc.code,
            desk=desk,
            point=point,
            day=day,
            slot=slot,
            external_reference=f"TINH-{k:06d}" if is_result else None,
        )
        out.append((request, form))
    return out
