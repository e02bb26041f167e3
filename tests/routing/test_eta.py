"""Plan mode for our own routes (``postal.routing.eta``): the times of an order a person gave,
with VROOM's violations, on a line where minutes are easy to add (10 m per second)."""

from __future__ import annotations

import copy

import pytest

from postal.routing.checker import ViolationKind, check_plan
from postal.routing.eta import timed_route, timed_routes, vroom_input
from postal.routing.model import CourierBreak, Plan, Stop, StopKind
from postal.routing.prep import prepare
from postal.routing.schedule import earliest_schedule
from tests.routing.helpers import courier, desk, hm, line_problem


def _item(n: int, at: int, to: int, window: tuple[int, int] | None = None) -> list[Stop]:
    """Item ``n``: picked up at location ``at`` (in ``window``), delivered at ``to``."""
    return [
        Stop(f"p{n}", StopKind.PICKUP, at, (window,) if window else (), 60, 1, f"i{n}"),
        Stop(f"d{n}", StopKind.DELIVERY, to, (), 60, 1, f"i{n}"),
    ]


def test_a_feasible_order_is_timed_within_every_rule_and_no_longer_than_the_earliest() -> None:
    stops = [*_item(1, 1, 3, (hm(9), hm(10))), *_item(2, 2, 3, (hm(10), hm(11)))]
    problem = line_problem([0, 6000, 12000, 18000], stops)
    timed = timed_routes(problem, [[0, 2, 1, 3]])[0]
    assert timed.causes == frozenset() and timed.lead == timed.delay == 0
    assert check_plan(problem, Plan(routes=(timed.route,))) == []
    earliest = earliest_schedule(prepare(problem), 0, [0, 2, 1, 3])
    assert earliest is not None
    assert timed.route.end - timed.route.start <= earliest.end - earliest.start
    # The shortest day without waiting: leave at 09:39, the first citizen (10 min away) at
    # 09:49, one minute there and ten to the second, who is ready from 10:00.
    assert timed.waiting == 0 and timed.route.visits[1].start == hm(10)
    assert timed.route.start == hm(9, 39) and timed.route.visits[0].start == hm(9, 49)


def test_a_late_stop_is_delayed_by_exactly_its_lateness() -> None:
    # Item 2's citizen is 10 min out and only until 09:05; item 1 at the far end first, at
    # 09:00 sharp. The shift starts at 08:30: coming earlier to item 1 would cost lead time
    # twice (at the start and at item 1), so the lateness falls on item 2.
    stops = [*_item(1, 3, 0, (hm(9), hm(9))), *_item(2, 1, 0, (hm(9), hm(9, 5)))]
    problem = line_problem([0, 6000, 12000, 18000], stops, [courier(shift=(hm(8, 30), hm(18)))])
    timed = timed_routes(problem, [[0, 2, 1, 3]])[0]
    # 09:00 at item 1 (30 min out), 1 min service, 20 min back to item 2: 09:21, 16 min late.
    late = {t.stop: t for t in timed.stops}
    assert late[2].delay == hm(0, 16) and late[0].delay == 0 and "delay" in late[2].causes
    assert timed.delay == hm(0, 16)
    kinds = {v.kind for v in check_plan(problem, Plan(routes=(timed.route,)))}
    assert kinds == {ViolationKind.TIME_WINDOW}


def test_a_delivery_before_its_pickup_is_a_precedence() -> None:
    problem = line_problem([0, 6000, 12000], _item(1, 1, 2))
    timed = timed_routes(problem, [[1, 0]])[0]
    assert "precedence" in timed.causes
    kinds = {v.kind for v in check_plan(problem, Plan(routes=(timed.route,)))}
    assert ViolationKind.PRECEDENCE in kinds


def test_over_capacity_is_a_load_violation() -> None:
    stops = [*_item(1, 1, 2), *_item(2, 1, 2)]
    problem = line_problem([0, 6000, 12000], stops, [courier(capacity=1)])
    timed = timed_routes(problem, [[0, 2, 1, 3]])[0]
    assert "load" in timed.causes
    assert ViolationKind.CAPACITY in {
        v.kind for v in check_plan(problem, Plan(routes=(timed.route,)))
    }


@pytest.mark.parametrize("feasible", [True, False])
def test_the_lunch_break_is_placed_in_its_window(feasible: bool) -> None:
    lunch = CourierBreak(hm(11, 30), hm(12, 30) if feasible else hm(11, 35), hm(1))
    windows = [(hm(11), hm(11, 30)), (hm(12, 30), hm(13))] if feasible else [(hm(11), hm(11, 5))]
    stops = [
        *_item(1, 1, 2, windows[0]),
        *_item(2, 2, 1, windows[-1] if feasible else (hm(11, 40), hm(11, 45))),
    ]
    problem = line_problem([0, 6000, 12000], stops, [courier(brk=lunch)])
    timed = timed_routes(problem, [[0, 1, 2, 3]])[0]
    assert "missing_break" not in timed.causes
    assert timed.route.break_start is not None
    assert hm(11, 30) <= timed.route.break_start <= lunch.latest_start
    found = check_plan(problem, Plan(routes=(timed.route,)))
    if feasible:
        assert found == [] and timed.causes == frozenset()
    else:  # the second citizen's 11:40-11:45 cannot be met with lunch from 11:30-11:35
        assert found and {ViolationKind.BREAK} != {v.kind for v in found}
        assert timed.lead + timed.delay > 0


def test_a_desks_opening_hours_are_its_windows_and_the_service_ends_before_closing() -> None:
    stops = [
        Stop("p", StopKind.PICKUP, 1, ((hm(8), hm(9)),), 60, 1, "i"),
        Stop("d", StopKind.DELIVERY, 2, (), 600, 1, "i", desk=0),
    ]
    problem = line_problem([0, 6000, 12000], stops, desks=[desk(2, [(hm(13), hm(17))])])
    data = vroom_input(prepare(problem), 0, [0, 1])
    delivery = data["shipments"][0]["delivery"]
    assert delivery["time_windows"] == [[hm(13), hm(17) - 600]]
    timed = timed_route(prepare(problem), 0, [0, 1])
    assert timed.route.visits[1].start == hm(13) and timed.causes == frozenset()


def test_the_input_is_vrooms_own_plan_mode_input() -> None:
    """What eta gives plan mode is valid VROOM input: pyvroom's plan mode reads it and
    times it as ours does (arrival and waiting per step)."""
    vroom = pytest.importorskip("vroom")
    import json
    import tempfile
    from pathlib import Path

    from postal.routing.plan_mode import choose_eta

    lunch = CourierBreak(hm(11, 30), hm(12, 30), hm(1))
    stops = [*_item(1, 1, 2, (hm(11), hm(11, 30))), *_item(2, 2, 1, (hm(12, 30), hm(13)))]
    problem = line_problem([0, 6000, 12000], stops, [courier(brk=lunch)])
    data = vroom_input(prepare(problem), 0, [0, 1, None, 2, 3])
    ours = choose_eta(copy.deepcopy(data))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "problem.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        theirs = vroom.Input.from_json(path).check(1).to_dict()

    def steps(out: dict[str, object]) -> list[tuple[object, ...]]:
        route = out["routes"][0]  # type: ignore[index]
        return [(s["type"], s.get("id"), s["arrival"], s["waiting_time"]) for s in route["steps"]]

    assert steps(ours) == steps(theirs)


def test_several_breaks_go_where_the_schedule_takes_them() -> None:
    from dataclasses import replace

    morning = CourierBreak(hm(9), hm(10), hm(0, 15))
    lunch = CourierBreak(hm(12), hm(13), hm(1))
    stops = [*_item(1, 1, 2, (hm(8), hm(9))), *_item(2, 2, 1, (hm(10, 30), hm(11)))]
    two = replace(courier(brk=morning), more_breaks=(lunch,))
    problem = line_problem([0, 6000, 12000], stops, [two])
    timed = timed_routes(problem, [[0, 1, 2, 3]])[0]
    assert timed.causes == frozenset()
    assert len(timed.route.break_starts) == 2
    assert check_plan(problem, Plan(routes=(timed.route,))) == []
