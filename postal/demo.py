"""`postal demo`: a fresh SQLite database with the Hà Nội locality, demo staff and bookings."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sqlmodel import Session, col, select

from postal.auth.models import Role
from postal.auth.service import create_api_key, create_user
from postal.booking.models import BookingChannel, ServiceForm
from postal.booking.schemas import BookingCreate
from postal.booking.service import create_booking
from postal.calendar import Slot, to_local
from postal.catalogue import service as catalogue
from postal.catalogue.load import load_locality
from postal.catalogue.models import Desk, PostOffice, Procedure
from postal.config import Settings, get_settings
from postal.db import get_engine, session_scope, utcnow
from postal.errors import PostalError
from postal.geo.boundaries import CommuneBoundaries
from postal.migrations import upgrade

DEMO_PASSWORD = "demo-pass-2026"
# Province codes of ID numbers drawn for demo citizens (Hà Nội's 001 most often).
ID_PREFIXES = ["001", "001", "001", "034", "036", "038", "040", "030", "033", "022"]


@dataclass(frozen=True)
class DemoStaff:
    """A demo account as printed for the newcomer."""

    username: str
    role: Role
    binding: str


def _id_number(rng: np.random.Generator, prefixes: list[str], today: dt.date) -> str:
    year = int(rng.integers(1950, today.year - 18))
    sex = int(rng.integers(0, 2))
    century = 0 if year < 2000 else 2
    return f"{rng.choice(prefixes)}{century + sex}{year % 100:02d}{int(rng.integers(0, 10**6)):06d}"


def create_demo_staff(session: Session) -> tuple[list[DemoStaff], str]:
    """Admin, one dispatcher for all post offices, a courier and a clerk; and an API key."""
    offices = [o.code for o in session.exec(select(PostOffice).order_by(col(PostOffice.code)))]
    desk = session.exec(select(Desk).order_by(col(Desk.code))).first()
    assert desk is not None and offices
    staff = [
        ("admin", Role.admin, "Quản trị hệ thống", None, []),
        ("dieuphoi", Role.dispatcher, "Điều phối viên Hà Nội", None, offices),
        ("buuta1", Role.courier, "Nguyễn Văn Tâm", None, offices[:1]),
        ("motcua1", Role.clerk, "Cán bộ một cửa Lê Thị Hoa", desk.code, []),
    ]
    out = []
    for username, role, name, desk_code, po in staff:
        create_user(
            session,
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            full_name=name,
            desk_code=desk_code,
            post_office_codes=po,
        )
        binding = desk_code or ", ".join(po[:3]) + ("..." if len(po) > 3 else "")
        out.append(DemoStaff(username, role, binding))
    return out, create_api_key(session, "one-stop-demo")


@dataclass(frozen=True)
class CitizenPools:
    """Synthetic citizens and addresses (data/demo/citizens.yaml), for demo and bench bookings."""

    pools: dict[str, Any]

    @classmethod
    def load(cls, settings: Settings) -> CitizenPools:
        """Read the pools of the configured data directory."""
        path = settings.data_dir / "demo" / "citizens.yaml"
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")))

    def form_shares(self) -> tuple[list[ServiceForm], np.ndarray]:
        """The service forms and their probabilities."""
        shares = self.pools["service_forms"]
        weights = np.array(list(shares.values()), dtype=float)
        return [ServiceForm(f) for f in shares], weights / weights.sum()

    def request(
        self,
        rng: np.random.Generator,
        *,
        form: ServiceForm,
        procedure_code: str,
        desk: Desk,
        point: tuple[float, float],
        day: dt.date,
        slot: Slot,
        external_reference: str | None,
    ) -> BookingCreate:
        """A booking request for a synthetic citizen living at ``point`` (lat, lon)."""
        name = " ".join(
            str(rng.choice(self.pools[k])) for k in ("family_names", "middle_names", "given_names")
        )
        mobile = rng.choice(self.pools["mobile_prefixes"])
        return BookingCreate(
            service_form=form,
            procedure_code=procedure_code,
            desk_code=desk.code,
            citizen_name=name,
            phone=f"{mobile}{int(rng.integers(0, 10**7)):07d}",
            id_number=_id_number(rng, ID_PREFIXES, day),
            address_text=f"Số {int(rng.integers(1, 300))} {rng.choice(self.pools['streets'])}",
            commune_code=desk.commune_code,
            lat=round(point[0], 6),
            lon=round(point[1], 6),
            date=day,
            slot=slot,
            external_reference=external_reference,
        )


def eligible_procedures(procedures: list[Procedure], form: ServiceForm) -> list[Procedure]:
    """Procedures a citizen may book with ``form`` (never the in-person-only ones)."""
    return [
        p
        for p in procedures
        if not p.in_person_only
        and (p.dossier_pickup or form == ServiceForm.result_delivery)
        and (p.result_delivery or form == ServiceForm.dossier_pickup)
    ]


def booking_channel(form: ServiceForm) -> BookingChannel:
    """Results to deliver come from the one-stop system (ready at once); the rest from citizens."""
    if form == ServiceForm.result_delivery:
        return BookingChannel.integration
    return BookingChannel.citizen


def create_demo_bookings(
    session: Session, settings: Settings, count: int, seed: int = 2026
) -> tuple[dt.date, int, dict[str, int]]:
    """About ``count`` bookings for the next working day, over communes, slots and forms."""
    pools = CitizenPools.load(settings)
    rng = np.random.default_rng(seed)
    now = utcnow()
    day = catalogue.work_calendar(session).next_working_day(to_local(now).date())
    desks = list(session.exec(select(Desk).order_by(col(Desk.code))).all())
    procedures = list(session.exec(select(Procedure).order_by(col(Procedure.code))).all())
    boundaries = CommuneBoundaries.load(settings.data_dir, settings.locality)
    forms, shares = pools.form_shares()
    made, failures = 0, dict[str, int]()
    for i in range(count * 2):
        if made >= count:
            break
        desk = desks[int(rng.integers(0, len(desks)))]
        form = forms[int(rng.choice(len(forms), p=shares))]
        eligible = eligible_procedures(procedures, form)
        proc = eligible[int(rng.integers(0, len(eligible)))]
        point = boundaries.sample_points(desk.commune_code, 1, rng)[0]
        request = pools.request(
            rng,
            form=form,
            procedure_code=proc.code,
            desk=desk,
            point=point,
            day=day,
            slot=Slot.MORNING if i % 2 == 0 else Slot.AFTERNOON,
            external_reference=f"DEMO-{i:05d}" if form == ServiceForm.result_delivery else None,
        )
        try:
            with session.begin_nested():
                create_booking(session, settings, request, channel=booking_channel(form), now=now)
            made += 1
        except PostalError as exc:
            # A full slot is expected on busy post offices: the citizen picks another desk.
            failures[exc.code] = failures.get(exc.code, 0) + 1
    return day, made, failures


def create_demo_roster(session: Session, settings: Settings, day: dt.date) -> list[str]:
    """Named courier accounts for every post office, as many as its day's items need plus
    two, with the day's shifts: one courier on leave, one on the afternoon shift, the others
    on the default shift. Returns a line per office for the newcomer."""
    from postal.auth.service import hash_password
    from postal.booking.models import Booking, BookingStatus, Item
    from postal.planning.roster import add_couriers, office_couriers, person_names, set_shift

    pools = CitizenPools.load(settings).pools
    password_hash = hash_password(DEMO_PASSWORD)  # one hash for every demo courier
    lines = []
    codes = [o.code for o in session.exec(select(PostOffice).order_by(col(PostOffice.code)))]
    for k, code in enumerate(codes):
        items = len(
            session.exec(
                select(Item.id)
                .join(Booking, col(Booking.id) == col(Item.booking_id))
                .where(
                    Booking.date == day,
                    Booking.post_office_code == code,
                    Booking.status == BookingStatus.booked,
                )
            ).all()
        )
        existing = office_couriers(session, code)
        wanted = math.ceil(items / 12 * settings.courier_fleet_factor) + 2
        taken = {u.full_name for u in existing}
        names = [n for n in person_names(pools, wanted + len(taken), 100 + k) if n not in taken]
        add_couriers(
            session, code, names[: max(0, wanted - len(existing))], password_hash, f"bt{code}-"
        )
        couriers = office_couriers(session, code)
        for n, user in enumerate(couriers):
            assert user.id is not None
            if n == len(couriers) - 1 and len(couriers) > 2:
                set_shift(session, user.id, day, "07:30", "17:30", available=False)
            elif n == len(couriers) - 2 and len(couriers) > 2:
                set_shift(session, user.id, day, "13:00", "17:30")
            else:
                set_shift(session, user.id, day, "07:30", "17:30")
        lines.append(f"  {code}: {len(couriers)} couriers (bt{code}-1, bt{code}-2, ...)")
    return lines


def build_demo(database: Path, bookings: int | None = None) -> str:
    """Recreate ``database`` with everything the demo needs; return the text to print."""
    settings = get_settings()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    engine = get_engine()
    upgrade(engine)
    with session_scope(engine) as session:
        counts = load_locality(session, settings.data_dir, settings.locality)
        staff, api_key = create_demo_staff(session)
    with session_scope(engine) as session:
        day, made, failures = create_demo_bookings(
            session, settings, bookings if bookings is not None else settings.demo_bookings
        )
    with session_scope(engine) as session:
        roster = create_demo_roster(session, settings, day)
    base = f"http://{settings.host}:{settings.port}"
    lines = [
        f"Demo database: {database}",
        "Loaded: " + ", ".join(f"{v} {k}" for k, v in counts.items()),
        f"Bookings for {day:%d/%m/%Y}: {made}" + (f" (refused: {failures})" if failures else ""),
        "",
        f"Staff accounts (password: {DEMO_PASSWORD}):",
        *[f"  {s.username:<10} {s.role.value:<11} {s.binding}" for s in staff],
        "Courier rosters (same password; shifts of the demo day on /dispatcher/roster):",
        *roster,
        f"One-stop system API key (X-API-Key): {api_key}",
        "",
        f"Booking page:        {base}/",
        f"English:             {base}/?lang=en",
        f"Track an item:       {base}/track",
        f"Staff sign-in:       {base}/staff/login  (courier, clerk, dispatcher: each lands on "
        "the page of their job)",
        f"API documentation:   {base}/api/v1/docs",
        *(
            [f"Citizens' phone:     {base}/demo/phone  (the SMS the service sends)"]
            if settings.demo_phone
            else []
        ),
        f"OpenAPI:             {base}/api/v1/openapi.json",
    ]
    return "\n".join(lines)
