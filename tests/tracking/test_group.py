"""Group commit: batches of several requests recorded in one transaction, failures isolated."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from postal.auth.models import Role
from postal.auth.service import Principal, create_user, principal_for_user
from postal.booking.models import Booking, BookingChannel, Item
from postal.booking.schemas import BookingCreate
from postal.booking.service import create_booking
from postal.catalogue.models import ItemKind
from postal.config import Settings
from postal.errors import ServiceUnavailable
from postal.tracking import ledger
from postal.tracking.group import GroupWriter
from postal.tracking.models import CustodyEvent
from postal.tracking.schemas import EventIn
from tests.booking.helpers import booking_body
from tests.conftest import NOW, make_settings
from tests.tracking.helpers import TSETTINGS, World, at, event, pickup_body, world


def _writer(engine: Engine, settings: Settings) -> GroupWriter:
    # One thread, started once every batch waits: the batches make one group.
    one = TSETTINGS.model_copy(update={"ledger_group_writers": 1})
    return GroupWriter(engine, settings, one, autostart=False)


def _parse(*bodies: dict[str, Any]) -> list[EventIn]:
    return [EventIn.model_validate(b) for b in bodies]


def _long_named_courier(session: Session, like: Principal) -> Principal:
    # "courier:" + 76 characters does not fit the 80 of to_party: PostgreSQL refuses the INSERT.
    user = create_user(
        session,
        username="c" * 76,
        password="password123",
        role=Role.courier,
        full_name="Long Name",
        post_office_codes=sorted(like.post_office_codes),
    )
    courier = principal_for_user(session, user)
    session.commit()
    return courier


def _pickup_and_arrival(
    session: Session, settings: Settings
) -> tuple[World, dict[str, Any], dict[str, Any]]:
    """A booking, its dossier's pickup and its arrival at the post office."""
    w = world(session, settings)
    arrive = event("arrive_post_office", w.dossier.number, at(6, 50, day=7))
    return w, pickup_body(session, w), arrive


def _pickup_of_another_booking(session: Session, settings: Settings, w: World) -> dict[str, Any]:
    """A valid pickup of the dossier of a second booking, by the same courier."""
    body = BookingCreate.model_validate(booking_body(session, phone="0987654329"))
    created = create_booking(session, settings, body, channel=BookingChannel.citizen, now=NOW)
    booking = session.exec(select(Booking).where(Booking.reference == created.reference)).one()
    dossier = session.exec(
        select(Item).where(Item.booking_id == booking.id, Item.kind == ItemKind.dossier)
    ).one()
    session.commit()
    return pickup_body(session, replace(w, booking=booking, dossier=dossier))


def test_waiting_batches_commit_together_as_if_one_by_one(
    engine: Engine, session: Session, settings: Settings
) -> None:
    w, pickup, arrive = _pickup_and_arrival(session, settings)
    writer = _writer(engine, settings)
    futures = [
        writer.submit(w.courier, _parse(pickup), NOW, "en"),
        writer.submit(w.courier, _parse(arrive), NOW, "en"),
        writer.submit(w.courier, _parse(pickup, arrive), NOW, "en"),  # a re-sent copy
        writer.submit(w.courier2, _parse(dict(arrive, event_id=str(uuid.uuid4()))), NOW, "en"),
    ]
    writer.start()
    results = [f.result(timeout=30) for f in futures]
    writer.stop()
    assert writer.groups == 1
    assert [r.status for r in results[0] + results[1]] == ["recorded", "recorded"]
    assert [r.status for r in results[2]] == ["replayed", "replayed"]
    assert [r.seq for r in results[2]] == [results[0][0].seq, results[1][0].seq]
    assert results[3][0].status == "rejected"  # courier2 does not hold the item
    session.expire_all()
    assert session.exec(select(func.count()).select_from(CustodyEvent)).one() == 2
    assert ledger.verify(session).ok


@pytest.mark.postgres
def test_a_failing_batch_fails_alone_and_the_rest_of_its_group_is_recorded(
    pg_engine: Engine,
) -> None:
    settings = make_settings(pg_engine.url.render_as_string(hide_password=False))
    with Session(pg_engine, expire_on_commit=False) as session:
        w = world(session, settings)
        long_named = _long_named_courier(session, w.courier)
        pickup = pickup_body(session, w)
    arrive = event("arrive_post_office", w.dossier.number, at(6, 50, day=7))
    writer = _writer(pg_engine, settings)
    failing = writer.submit(long_named, _parse(dict(pickup, event_id=str(uuid.uuid4()))), NOW, "en")
    first = writer.submit(w.courier, _parse(pickup), NOW, "en")
    second = writer.submit(w.courier, _parse(arrive), NOW, "en")
    writer.start()
    with pytest.raises(DBAPIError, match="too long"):
        failing.result(timeout=30)
    assert first.result(timeout=30)[0].status == "recorded"
    assert second.result(timeout=30)[0].status == "recorded"
    writer.stop()
    assert writer.groups == 2  # the broken group, then each batch alone
    with Session(pg_engine) as session:
        assert session.exec(select(func.count()).select_from(CustodyEvent)).one() == 2
        assert ledger.verify(session).ok


def test_a_request_that_stops_waiting_still_has_its_batch_recorded(
    engine: Engine, session: Session, settings: Settings
) -> None:
    w, pickup, arrive = _pickup_and_arrival(session, settings)
    writer = _writer(engine, settings)
    gave_up = writer.submit(w.courier, _parse(pickup), NOW, "en")
    assert gave_up.cancel()
    writer.start()
    later = writer.submit(w.courier, _parse(arrive), NOW, "en")
    assert later.result(timeout=30)[0].status == "recorded"  # the writer carried on
    writer.stop()
    with pytest.raises(ServiceUnavailable) as stopped:
        writer.submit(w.courier, _parse(arrive), NOW, "en")
    assert stopped.value.code == "ledger_writer_stopped"
    session.expire_all()
    assert session.exec(select(func.count()).select_from(CustodyEvent)).one() == 2


def test_a_correction_of_an_event_of_an_earlier_batch_of_the_group_is_accepted(
    engine: Engine, session: Session, settings: Settings
) -> None:
    w, pickup, _ = _pickup_and_arrival(session, settings)
    correction = event(
        "correction",
        w.dossier.number,
        at(6, 45, day=7),
        corrects_event_id=pickup["event_id"],
        correction={"seal_number": "S-0002"},
    )
    writer = _writer(engine, settings)
    first = writer.submit(w.courier, _parse(pickup), NOW, "en")
    second = writer.submit(w.courier, _parse(correction), NOW, "en")
    writer.start()
    assert first.result(timeout=30)[0].status == "recorded"
    assert second.result(timeout=30)[0].status == "recorded"
    writer.stop()
    assert writer.groups == 1
    session.expire_all()
    assert ledger.verify(session).ok


@pytest.mark.postgres
def test_an_item_held_elsewhere_fails_its_batch_alone_after_the_lock_timeout(
    pg_engine: Engine,
) -> None:
    settings = make_settings(pg_engine.url.render_as_string(hide_password=False))
    with Session(pg_engine, expire_on_commit=False) as session:
        w, pickup, _ = _pickup_and_arrival(session, settings)
        other = _pickup_of_another_booking(session, settings, w)
        dossier_id = w.dossier.id
    quick = TSETTINGS.model_copy(update={"ledger_group_writers": 1, "ledger_lock_timeout_s": 0.3})
    writer = GroupWriter(pg_engine, settings, quick, autostart=False)
    blocked = writer.submit(w.courier, _parse(pickup), NOW, "en")
    free = writer.submit(w.courier, _parse(other), NOW, "en")
    with pg_engine.connect() as holder:  # an idle transaction holding the dossier's row
        holder.execute(text("SELECT 1 FROM item WHERE id = :i FOR UPDATE"), {"i": dossier_id})
        writer.start()
        with pytest.raises(ServiceUnavailable) as busy:
            blocked.result(timeout=30)
        assert busy.value.code == "ledger_busy"
        assert free.result(timeout=30)[0].status == "recorded"
        holder.rollback()
    writer.stop()
