"""A plan as tasks: fan out into parts (a post office, or a sector of a big one), prepare a
part's problem, record its routes once, and finish the plan when every part is in.

Every step is idempotent, because a task may run twice (a worker killed mid-task, a duplicate
enqueue): the fan-out creates parts only once (unique per plan, office and index), and a
part's routes are written under the plan's row lock only while the part is not yet done.
The task bodies that call these live in ``postal.worker.tasks``; nothing here solves.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from postal.catalogue import service as catalogue
from postal.catalogue.models import PostOffice
from postal.config import Settings
from postal.db import reader, utcnow
from postal.planning import service
from postal.planning.city import GeoMatrices
from postal.planning.models import (
    PartStatus,
    PlannedRoute,
    PlannedStop,
    PlanPart,
    PlanRun,
    PlanStatus,
)
from postal.planning.problem import (
    CourierSlot,
    OfficeProblem,
    build_office_problem,
    plannable_items,
)
from postal.routing import model as rm
from postal.routing.decompose import Day, split_day

MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class PreparedPart:
    """A part ready to solve: its problem, what it means, and the solver's parameters."""

    part_id: int
    plan_id: int
    office_problem: OfficeProblem
    params: rm.SolveParams


def _carried(session: Session, plan_id: int) -> tuple[set[str], set[int]]:
    """Items and couriers of the plan's locked (dispatched) routes: nobody plans them again."""
    rows = session.exec(
        select(PlannedStop.item_number, PlannedRoute.courier_user_id)
        .join(PlannedRoute, col(PlannedRoute.id) == col(PlannedStop.route_id))
        .where(PlannedRoute.plan_id == plan_id, col(PlannedRoute.locked).is_(True))
    ).all()
    return {r[0] for r in rows}, {r[1] for r in rows if r[1] is not None}


def _office_day(built: OfficeProblem, settings: Settings) -> Day:
    problem = built.problem
    assert problem.coordinates is not None
    return Day(
        coordinates=problem.coordinates,
        matrix=GeoMatrices(settings.circuity_factor, settings.speed_kmh),
        depots=problem.depots,
        couriers=problem.couriers,
        stops=problem.stops,
        desks=problem.desks,
        date=problem.date,
    )


def _office_parts(
    session: Session,
    settings: Settings,
    plan: PlanRun,
    office: PostOffice,
    carried: set[str],
    unavailable: set[int],
) -> list[PlanPart]:
    """One part for an office of ordinary size; sectors of at most ``plan_part_max_stops``
    stops (pairs never cut, couriers shared in proportion) for a big one."""
    assert plan.id is not None
    items = plannable_items(session, plan.date, office.code, carried)
    if 2 * len(items) <= settings.plan_part_max_stops:
        return [PlanPart(plan_id=plan.id, post_office_code=office.code, status=PartStatus.pending)]
    cal = catalogue.work_calendar(session)
    built = build_office_problem(session, settings, office, plan.date, cal, carried, unavailable)
    sectors = split_day(_office_day(built, settings), settings.plan_part_max_stops)
    parts = []
    for k, sector in enumerate(sectors):
        numbers = sorted({built.stops[s].item_number for s in sector.stops})
        # The couriers themselves, not their positions: accounts added or deactivated before
        # the part runs (or runs again) change nobody's sector.
        slots = [_slot_json(built.couriers[c]) for c in sector.couriers]
        parts.append(
            PlanPart(
                plan_id=plan.id,
                post_office_code=office.code,
                part_index=k,
                parts_in_office=len(sectors),
                item_numbers=",".join(numbers),
                courier_slots=json.dumps(slots, ensure_ascii=False),
                status=PartStatus.pending,
            )
        )
    return parts


def fan_out(engine: Engine, settings: Settings, plan_id: int) -> list[int]:
    """Create the plan's parts once (carrying its locked routes over) and return the parts
    still to solve; a finished or cancelled plan has none."""
    with Session(engine, expire_on_commit=False) as session:
        plan = service.lock_plan(session, plan_id)
        if plan.status not in service.ACTIVE:
            return []
        existing = session.exec(select(PlanPart).where(PlanPart.plan_id == plan_id)).all()
        if existing or plan.parts_total:
            return [p.id for p in existing if p.status in _OPEN and p.id is not None]
        locked = service._locked_routes(session, plan)
        service._copy_locked(session, plan, locked)
        session.flush()
        service.refresh_totals(session, plan)  # the routes kept as they were count too
        carried, locked_couriers = _carried(session, plan_id)
        parts: list[PlanPart] = []
        for code in plan.offices():
            office = session.get(PostOffice, code)
            assert office is not None
            parts += _office_parts(
                session, settings, plan, office, carried, plan.unavailable() | locked_couriers
            )
        session.add_all(parts)
        plan.parts_total = len(parts)
        plan.message = f"0/{len(parts)}"
        if parts:
            plan.status = PlanStatus.running
            session.add(plan)
        else:
            service.finish_plan(session, plan, PlanStatus.done)
        session.commit()
        return [p.id for p in parts if p.id is not None]


_OPEN = (PartStatus.pending, PartStatus.running)


def _slot_json(slot: CourierSlot) -> list[object]:
    """A courier of a sector as stored on its part: [user id, name, shift start, shift end]."""
    shift = slot.shift or (None, None)
    return [slot.user_id, slot.label, shift[0], shift[1]]


def _slot(raw: list[object]) -> CourierSlot:
    """A stored courier back (parts written before shifts have two fields)."""
    user_id, label = raw[0], str(raw[1])
    start, end = (raw[2], raw[3]) if len(raw) >= 4 else (None, None)
    shift = (int(str(start)), int(str(end))) if start is not None and end is not None else None
    return CourierSlot(int(str(user_id)) if user_id is not None else None, label, shift)


def prepare_part(engine: Engine, settings: Settings, part_id: int) -> PreparedPart | None:
    """Mark the part running and build its problem; None when there is nothing to do (done
    already, or its plan ended)."""
    with Session(engine, expire_on_commit=False) as session:
        part = session.get(PlanPart, part_id)
        if part is None or part.status not in _OPEN:
            return None
        plan = session.get(PlanRun, part.plan_id)
        assert plan is not None and plan.id is not None
        if plan.status not in service.ACTIVE:
            part.status = PartStatus.cancelled
            session.add(part)
            session.commit()
            return None
        part.status = PartStatus.running
        part.attempts += 1
        part.started_at = utcnow()
        session.add(part)
        session.commit()
    # Building the problem only reads (and may wait on a routing server): no write lock.
    with Session(reader(engine), expire_on_commit=False) as session:
        office = session.get(PostOffice, part.post_office_code)
        assert office is not None
        carried, locked_couriers = _carried(session, plan.id)
        slots = None
        if part.courier_slots:
            slots = [_slot(raw) for raw in json.loads(part.courier_slots)]
        built = build_office_problem(
            session,
            settings,
            office,
            plan.date,
            catalogue.work_calendar(session),
            carried,
            plan.unavailable() | locked_couriers,
            only_items=set(part.item_numbers.split(",")) if part.item_numbers else None,
            courier_slots=slots,
        )
        params = rm.SolveParams(
            time_limit_s=plan.time_limit_s,
            seed=plan.seed + part.part_index,
            workers=settings.plan_solver_processes,
        )
        return PreparedPart(part_id, plan.id, built, params)


def plan_stopped(engine: Engine, plan_id: int) -> bool:
    """Whether the plan no longer wants its parts (cancelled, failed or gone)."""
    with Session(engine) as session:
        plan = session.get(PlanRun, plan_id)
        return plan is None or plan.status not in service.ACTIVE


def record_part(
    engine: Engine, settings: Settings, prepared: PreparedPart, result: rm.Plan
) -> bool:
    """Write the part's routes once and finish the plan with its last part; False when the
    part was already recorded (a second run) or the plan has ended (nothing written)."""
    tz = ZoneInfo(settings.timezone)
    with Session(engine, expire_on_commit=False) as session:
        plan = service.lock_plan(session, prepared.plan_id)
        part = session.get(PlanPart, prepared.part_id, populate_existing=True)
        assert part is not None
        if part.status not in _OPEN:
            return False
        if plan.status not in service.ACTIVE:
            part.status = PartStatus.cancelled
            session.add(part)
            session.commit()
            return False
        part.routes = service.persist_office_plan(
            session, plan, prepared.office_problem, result, tz, plan.couriers_used
        )
        service.refresh_totals(session, plan)
        part.status = PartStatus.done
        part.stop_count = len(prepared.office_problem.problem.stops)
        part.unassigned_count = len(result.unassigned)
        part.finished_at = utcnow()
        session.add(part)
        plan.parts_done += 1
        plan.progress = int(100 * plan.parts_done / max(1, plan.parts_total))
        plan.message = f"{plan.parts_done}/{plan.parts_total}"
        if plan.parts_done >= plan.parts_total:
            service.finish_plan(session, plan, PlanStatus.done)
        session.add(plan)
        session.commit()
        return True


def stop_part(engine: Engine, part_id: int) -> None:
    """The part's plan ended while it solved: the part says cancelled and writes nothing."""
    with Session(engine) as session:
        part = session.get(PlanPart, part_id)
        if part is not None and part.status in _OPEN:
            part.status = PartStatus.cancelled
            part.finished_at = utcnow()
            session.add(part)
            session.commit()


def part_failed(engine: Engine, part_id: int, error: str) -> bool:
    """Note a failed attempt; after MAX_ATTEMPTS the part and its plan fail (True), before
    that the part waits for the queue's retry (False)."""
    with Session(engine, expire_on_commit=False) as session:
        part = session.get(PlanPart, part_id)
        if part is None:
            return True
        final = part.attempts >= MAX_ATTEMPTS
        part.error = error[:500]
        part.status = PartStatus.failed if final else PartStatus.pending
        session.add(part)
        if final:
            plan = service.lock_plan(session, part.plan_id)
            if plan.status in service.ACTIVE:
                service.finish_plan(
                    session, plan, PlanStatus.failed, f"{part.post_office_code}: {error}"
                )
        session.commit()
        return final


def fail_plan(engine: Engine, plan_id: int, reason: str) -> None:
    """End an active plan as failed with the reason (its post offices are free again)."""
    with Session(engine, expire_on_commit=False) as session:
        plan = service.lock_plan(session, plan_id)
        if plan.status in service.ACTIVE:
            service.finish_plan(session, plan, PlanStatus.failed, reason)
        session.commit()


def stale_plans(engine: Engine, older_than: dt.timedelta) -> tuple[list[int], list[int]]:
    """Active plans nobody fanned out and open parts, older than ``older_than``: what a lost
    enqueue (a web process gone between commit and enqueue, an in-memory queue restarted)
    leaves behind. Re-enqueuing them is safe: the tasks are idempotent."""
    cutoff = utcnow() - older_than
    with Session(engine) as session:
        plans = session.exec(
            select(PlanRun.id).where(
                col(PlanRun.status).in_(service.ACTIVE),
                PlanRun.parts_total == 0,
                col(PlanRun.created_at) <= cutoff,
            )
        ).all()
        parts = session.exec(
            select(PlanPart.id)
            .join(PlanRun, col(PlanRun.id) == col(PlanPart.plan_id))
            .where(
                col(PlanPart.status).in_(_OPEN),
                col(PlanRun.status).in_(service.ACTIVE),
                col(PlanRun.created_at) <= cutoff,
            )
        ).all()
        return [p for p in plans if p is not None], [p for p in parts if p is not None]
