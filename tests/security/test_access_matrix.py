"""Deny by default, proven: every operation of the OpenAPI document, called by every role,
against two post offices, two desks and two API keys, gives what docs/ACCESS.md says.

Outcomes: ``ok`` (2xx), ``deny`` (401, 403, or 404 for a thing the caller may not know of),
``conflict`` (409: allowed, but the state refuses), ``invalid`` (422). A batch of events is
judged by its event's own result (the batch itself answers 200). An operation added to the
API without a row in the table fails the first test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.security.access_world import (
    OPTIMISE_PLAN_PROBLEM,
    OPTIMISE_PROBLEM,
    ROLES,
    AccessWorld,
    Replayer,
    build,
)

TABLE = Path(__file__).parents[2] / "docs" / "ACCESS.md"
Ids = dict[str, Any]
Call = tuple[str, str, dict[str, Any]]


def _json(body: Any) -> dict[str, Any]:
    return {"json": body}


#: One request per row: what each role sends (the ids are the world's, "ours" = office A).
REQUESTS: dict[str, Callable[[Ids], Call]] = {
    "POST /api/v1/auth/token": lambda i: (
        "POST", "/api/v1/auth/token", {"data": {"username": "clerk", "password": "access-pass-123"}}
    ),
    "POST /api/v1/auth/logout": lambda i: ("POST", "/api/v1/auth/logout", {}),
    "GET /api/v1/auth/me": lambda i: ("GET", "/api/v1/auth/me", {}),
    "POST /api/v1/bookings": lambda i: ("POST", "/api/v1/bookings", _json(i["new_booking"])),
    "GET /api/v1/bookings": lambda i: ("GET", "/api/v1/bookings", {"params": {"date": i["date"]}}),
    "GET /api/v1/bookings/{reference}": lambda i: (
        "GET", f"/api/v1/bookings/{i['reference']}", {}
    ),
    "GET /api/v1/bookings/{reference} [booked through key A]": lambda i: (
        "GET", f"/api/v1/bookings/{i['key_reference']}", {}
    ),
    "POST /api/v1/bookings/{reference}/reschedule": lambda i: (
        "POST", f"/api/v1/bookings/{i['key_reference']}/reschedule",
        _json({"date": "2026-12-09", "slot": "afternoon"}),
    ),
    "POST /api/v1/bookings/{reference}/cancel": lambda i: (
        "POST", f"/api/v1/bookings/{i['key_reference']}/cancel", _json({"reason": "no longer"})
    ),
    "GET /api/v1/procedures": lambda i: ("GET", "/api/v1/procedures", {}),
    "GET /api/v1/procedures/{code}": lambda i: (
        "GET", f"/api/v1/procedures/{i['procedure_code']}", {}
    ),
    "GET /api/v1/desks": lambda i: ("GET", "/api/v1/desks", {}),
    "GET /api/v1/post-offices": lambda i: ("GET", "/api/v1/post-offices", {}),
    "GET /api/v1/communes": lambda i: ("GET", "/api/v1/communes", {"params": {"q": "Ba Đình"}}),
    "POST /api/v1/events": lambda i: (
        "POST", "/api/v1/events", _json({"events": [i["waiting_pickup"]]})
    ),
    "POST /api/v1/items/{number}/otp": lambda i: (
        "POST", f"/api/v1/items/{i['waiting_number']}/otp", {}
    ),
    "GET /api/v1/items/{number}/tracking": lambda i: (
        "GET", f"/api/v1/items/{i['item_number']}/tracking", {}
    ),
    "GET /api/v1/events/epcis": lambda i: (
        "GET", "/api/v1/events/epcis", {"params": {"item_number": i["item_number"]}}
    ),
    "GET /api/v1/events/epcis [a day]": lambda i: (
        "GET", "/api/v1/events/epcis", {"params": {"date": i["today"]}}
    ),
    "GET /api/v1/ledger/verify": lambda i: ("GET", "/api/v1/ledger/verify", {}),
    "POST /api/v1/handover-records": lambda i: (
        "POST", "/api/v1/handover-records",
        _json({"direction": "courier_to_desk", "desk_code": "MC-00004",
               "item_numbers": [i["waiting_number"]]}),
    ),
    "GET /api/v1/handover-records/{record_id}": lambda i: (
        "GET", f"/api/v1/handover-records/{i['record_id']}", {}
    ),
    "POST /api/v1/handover-records/{record_id}/lines": lambda i: (
        "POST", f"/api/v1/handover-records/{i['record_id']}/lines",
        _json({"item_number": i["item_number"], "status": "received"}),
    ),
    "POST /api/v1/handover-records/{record_id}/close": lambda i: (
        "POST", f"/api/v1/handover-records/{i['record_id']}/close", {}
    ),
    "POST /api/v1/handover-records/{record_id}/acknowledge": lambda i: (
        "POST", f"/api/v1/handover-records/{i['record_id']}/acknowledge",
        _json({"signature_strokes": [[[10 + 3 * k, 40 + k % 5] for k in range(12)]]}),
    ),
    "GET /api/v1/handover-records/{record_id}/pdf": lambda i: (
        "GET", f"/api/v1/handover-records/{i['record_id']}/pdf", {}
    ),
    "POST /api/v1/plans": lambda i: (
        "POST", "/api/v1/plans",
        _json({"date": "2026-12-09", "post_office_codes": [i["office_a"]], "time_limit_s": 1}),
    ),
    "GET /api/v1/plans": lambda i: ("GET", "/api/v1/plans", {"params": {"date": i["date"]}}),
    "GET /api/v1/plans/{plan_id}": lambda i: ("GET", f"/api/v1/plans/{i['plan_id']}", {}),
    "POST /api/v1/plans/{plan_id}/cancel": lambda i: (
        "POST", f"/api/v1/plans/{i['plan_id']}/cancel", {}
    ),
    "GET /api/v1/plans/{plan_id}/routes": lambda i: (
        "GET", f"/api/v1/plans/{i['plan_id']}/routes", {}
    ),
    "POST /api/v1/plans/{plan_id}/replan": lambda i: (
        "POST", f"/api/v1/plans/{i['plan_id']}/replan", _json({"time_limit_s": 1})
    ),
    "GET /api/v1/routes/{route_id}": lambda i: ("GET", f"/api/v1/routes/{i['route_id']}", {}),
    "GET /api/v1/routes/{route_id}/geojson": lambda i: (
        "GET", f"/api/v1/routes/{i['route_id']}/geojson", {}
    ),
    "POST /api/v1/routes/{route_id}/lock": lambda i: (
        "POST", f"/api/v1/routes/{i['route_id']}/lock", {}
    ),
    "POST /api/v1/routes/{route_id}/unlock": lambda i: (
        "POST", f"/api/v1/routes/{i['route_id']}/unlock", {}
    ),
    "POST /api/v1/routes/{route_id}/edit": lambda i: (
        "POST", f"/api/v1/routes/{i['route_id']}/edit",
        _json({"order": i["route_stop_ids"], "dry_run": True}),
    ),
    "GET /api/v1/routes/{route_id}/sheet.pdf": lambda i: (
        "GET", f"/api/v1/routes/{i['route_id']}/sheet.pdf", {}
    ),
    "GET /api/v1/couriers/me/route": lambda i: (
        "GET", "/api/v1/couriers/me/route", {"params": {"date": i["date"]}}
    ),
    "POST /api/v1/optimise": lambda i: ("POST", "/api/v1/optimise", _json(OPTIMISE_PROBLEM)),
    "POST /api/v1/optimise/plan": lambda i: (
        "POST", "/api/v1/optimise/plan", _json(OPTIMISE_PLAN_PROBLEM)
    ),
    "GET /api/v1/optimise/{job_id}": lambda i: ("GET", f"/api/v1/optimise/{i['job_id']}", {}),
    "GET /api/v1/messages": lambda i: ("GET", "/api/v1/messages", {}),
    "POST /api/v1/messages/{message_id}/resend": lambda i: (
        "POST", f"/api/v1/messages/{i['message_id']}/resend", {}
    ),
    "GET /api/v1/webhook-deliveries": lambda i: ("GET", "/api/v1/webhook-deliveries", {}),
    "POST /api/v1/webhook-deliveries/{delivery_id}/resend": lambda i: (
        "POST", f"/api/v1/webhook-deliveries/{i['delivery_id']}/resend", {}
    ),
}  # fmt: skip

# A per-item result of a batch of events that means "not yours to record".
_DENIED_EVENT = {"forbidden", "not_holder", "role_not_allowed", "item_of_other_post_office"}


def _table() -> dict[str, dict[str, str]]:
    """docs/ACCESS.md's rows: operation -> role -> outcome."""
    rows: dict[str, dict[str, str]] = {}
    header: list[str] = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or set(cells[0]) <= {"-", ":"}:
            continue
        if cells[0] == "operation":
            header = cells[1:]
            continue
        rows[cells[0].strip("`")] = dict(zip(header, cells[1:], strict=True))
    assert tuple(header) == ROLES, f"the table's columns must be {ROLES}"
    return rows


def _operations() -> set[str]:
    from api.main import create_app
    from tests.conftest import make_settings

    spec = create_app(make_settings("sqlite://")).openapi()
    return {
        f"{method.upper()} {path}"
        for path, ops in spec["paths"].items()
        for method in ops
        if path.startswith("/api/v1/")
    }


def _outcome(status: int, body: Any) -> str:
    if status in (401, 403, 404):
        return "deny"
    if status == 409:
        return "conflict"
    if status == 422:
        return "invalid"
    if 200 <= status < 300:
        return "ok"
    return f"status {status}"


def test_every_operation_has_a_row_and_a_request() -> None:
    """A new endpoint fails here until the table says who may call it."""
    operations = _operations()
    table = _table()
    base = {re.sub(r" \[.*\]$", "", key) for key in table}
    assert operations - base == set(), "operations without a row in docs/ACCESS.md"
    assert base - operations == set(), "rows in docs/ACCESS.md for no operation"
    assert set(table) == set(REQUESTS), "every row has its request here, and only those"


@pytest.fixture(scope="module")
def replayer(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replayer]:
    """The world, built once for this module's tests."""
    world: AccessWorld = build(sqlite_template, tmp_path_factory.mktemp("access") / "world.db")
    replay = Replayer(world)
    yield replay
    replay.close()


@pytest.mark.xdist_group("access_matrix")
@pytest.mark.parametrize("row", sorted(REQUESTS))
def test_who_may_call_what(replayer: Replayer, row: str) -> None:
    """Each role's outcome on this operation is the table's."""
    expected = _table()[row]
    method, url, kwargs = REQUESTS[row](replayer.world.ids)
    observed: dict[str, str] = {}
    for role in ROLES:
        status, body = replayer.request(role, method, url, **kwargs)
        outcome = _outcome(status, body)
        if row == "POST /api/v1/events" and status == 200:
            result = body["results"][0]
            if result.get("code") in _DENIED_EVENT:
                outcome = "deny"
            else:
                outcome = "ok" if result["status"] == "recorded" else result["status"]
        observed[role] = outcome
    wrong = {
        r: f"{observed[r]} (table: {expected[r]})" for r in ROLES if observed[r] != expected[r]
    }
    assert wrong == {}, f"{row}: {wrong}"


@pytest.mark.xdist_group("access_matrix")
def test_lists_and_exports_hold_only_what_the_caller_may_see(replayer: Replayer) -> None:
    """The rows answered "ok" to every staff role: their contents are scoped."""
    ids = replayer.world.ids
    day = {"params": {"date": ids["today"]}}

    def epcis_items(role: str) -> set[str]:
        status, body = replayer.request(role, "GET", "/api/v1/events/epcis", **day)
        assert status == 200, body
        events = body["epcisBody"]["eventList"]
        return {epc for e in events for epc in e.get("epcList", [])}

    ours = epcis_items("admin")
    assert ours, "the world's pickup is in the day's export"
    for role in ("clerk", "dispatcher"):
        assert epcis_items(role) == ours
    for role in ("clerk_other", "dispatcher_other", "api_key", "api_key_other"):
        assert epcis_items(role) == set(), role

    def booking_refs(role: str) -> set[str]:
        status, body = replayer.request(
            role, "GET", "/api/v1/bookings", params={"date": ids["date"]}
        )
        assert status == 200, body
        return {b["reference"] for b in body["items"]}

    assert ids["reference"] in booking_refs("clerk") and ids["reference"] in booking_refs(
        "dispatcher"
    )
    assert booking_refs("clerk_other") == booking_refs("dispatcher_other") == set()
