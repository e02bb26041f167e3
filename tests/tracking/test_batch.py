"""The batch write path: several events of one item in one batch, Core writes, the bench."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from postal.auth.models import Role
from postal.auth.service import create_user, principal_for_user
from postal.booking.models import Item, ItemState
from postal.config import Settings
from postal.ids import format_s10
from postal.tracking import bench, ledger
from postal.tracking.models import CustodyEvent, ItemCustody
from tests.tracking.helpers import at, event, pickup_body, record, world


def test_one_batch_moves_an_item_twice_and_links_the_chain(
    session: Session, settings: Settings
) -> None:
    w = world(session, settings)
    pickup = pickup_body(session, w)
    arrive = event("arrive_post_office", w.dossier.number, at(6, 50, day=7))
    unknown = event("arrive_post_office", format_s10("RR", 12345678, "VN"), at(6, 50, day=7))
    results = record(session, settings, w.courier, pickup, arrive, dict(arrive), unknown)
    assert [r.status for r in results] == ["recorded", "recorded", "replayed", "rejected"]
    assert [r.state for r in results[:3]] == [
        ItemState.picked_up,
        ItemState.at_post_office,
        ItemState.at_post_office,
    ]
    assert results[3].code == "unknown_item"
    session.expire_all()
    item = session.get(Item, w.dossier.id)
    assert item is not None and item.state == ItemState.at_post_office
    custody = session.get(ItemCustody, w.dossier.id)
    rows = session.exec(
        select(CustodyEvent)
        .where(CustodyEvent.item_id == w.dossier.id)
        .order_by(col(CustodyEvent.seq))
    ).all()
    assert [r.type.value for r in rows] == ["pickup", "arrive_post_office"]
    assert rows[1].item_prev_hash == rows[0].hash
    assert custody is not None and custody.last_hash == rows[1].hash
    assert custody.event_count == 2 and custody.holder.startswith("post_office:")
    # A second request re-sending both events replays them and writes nothing.
    again = record(session, settings, w.courier, pickup, arrive)
    assert [r.status for r in again] == ["replayed", "replayed"]
    assert [r.seq for r in again] == [r.seq for r in results[:2]]
    assert session.exec(select(func.count()).select_from(CustodyEvent)).one() == 2
    assert ledger.verify(session).ok


@pytest.mark.postgres
def test_a_value_too_long_is_refused_not_cut(pg_engine: Engine, settings: Settings) -> None:
    # The one-statement write sends strings as TEXT arrays: a value longer than its column is
    # refused by the INSERT (a cast to VARCHAR(n) would cut it and break the event's hash).
    with Session(pg_engine, expire_on_commit=False) as session:
        w = world(session, settings)
        user = create_user(
            session,
            username="c" * 76,  # "courier:" + 76 characters does not fit the 80 of to_party
            password="password123",
            role=Role.courier,
            full_name="Long Name",
            post_office_codes=sorted(w.courier.post_office_codes),
        )
        courier = principal_for_user(session, user)
        session.commit()
        with pytest.raises(DBAPIError, match="too long"):
            record(session, settings, courier, pickup_body(session, w))
        session.rollback()
        assert session.exec(select(func.count()).select_from(CustodyEvent)).one() == 0
        state = session.execute(
            text("SELECT state FROM item WHERE id = :i"), {"i": w.dossier.id}
        ).scalar_one()
        assert state == ItemState.booked.value


@pytest.mark.postgres
def test_bench_accounts_for_every_event(pg_engine: Engine, tmp_path: Path) -> None:
    url = pg_engine.url.render_as_string(hide_password=False)
    figures = bench.run(url, clients=3, events=60, out=tmp_path, workers=1)
    assert figures["acknowledged"] == figures["events"] == 60
    assert figures["lost"] == 0 and figures["duplicated"] == 0
    assert figures["inconsistent_items"] == 0 and figures["rejected_or_errors"] == 0
    assert figures["ledger_ok"] and figures["ledger_events"] == 60
    assert figures["event_ack_p99_ms"] >= figures["event_ack_p50_ms"] > 0
    lines = (tmp_path / "ledger_bench.csv").read_text().splitlines()
    assert len(lines) == 2 and lines[0].startswith("clients,workers")
