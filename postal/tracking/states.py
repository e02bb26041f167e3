"""The custody state machine: which event moves an item of which kind from which state."""

from __future__ import annotations

from dataclasses import dataclass

from postal.booking.models import ItemState
from postal.catalogue.models import ItemKind
from postal.tracking.models import EventType

S = ItemState


@dataclass(frozen=True)
class Transition:
    """An event allowed from ``sources`` that leaves the item in ``target``.

    ``biz_step``/``disposition`` are the GS1 EPCIS 2.0 vocabulary, ``upu`` the UPU EMSEVT code.
    """

    sources: frozenset[ItemState]
    target: ItemState
    biz_step: str
    disposition: str
    upu: str


def _t(sources: set[ItemState], target: ItemState, step: str, disp: str, upu: str) -> Transition:
    return Transition(frozenset(sources), target, step, disp, upu)


DOSSIER: dict[EventType, Transition] = {
    EventType.pickup: _t({S.booked}, S.picked_up, "accepting", "in_transit", "EMA"),
    EventType.arrive_post_office: _t(
        {S.picked_up}, S.at_post_office, "arriving", "in_progress", "EMC"
    ),
    EventType.receive_at_desk: _t(
        {S.picked_up, S.at_post_office}, S.received_at_desk, "receiving", "in_progress", "EMI"
    ),
    EventType.discrepancy: _t(
        {S.picked_up, S.at_post_office}, S.discrepancy, "receiving", "damaged", "EMI"
    ),
}

RESULT: dict[EventType, Transition] = {
    EventType.result_ready: _t(
        {S.awaiting_result}, S.ready_at_desk, "storing", "in_progress", "EMA"
    ),
    EventType.hand_to_courier: _t(
        {S.ready_at_desk}, S.with_courier, "departing", "in_transit", "EMD"
    ),
    EventType.deliver: _t({S.with_courier}, S.delivered, "receiving", "in_progress", "EMI"),
    EventType.attempt_failed: _t(
        {S.with_courier}, S.attempt_failed, "arriving", "in_progress", "EMH"
    ),
    EventType.next_attempt: _t(
        {S.attempt_failed}, S.with_courier, "departing", "in_transit", "EMD"
    ),
    EventType.return_to_desk: _t(
        {S.attempt_failed}, S.returned_to_desk, "receiving", "returned", "EMF"
    ),
    EventType.discrepancy: _t(
        {S.ready_at_desk, S.attempt_failed}, S.discrepancy, "receiving", "damaged", "EMI"
    ),
}

CORRECTION_STEP = ("inspecting", "in_progress", "EMZ")


def transition(kind: ItemKind, event: EventType) -> Transition | None:
    """The transition of ``event`` for an item of ``kind``, or None when it never applies."""
    table = DOSSIER if kind == ItemKind.dossier else RESULT
    return table.get(event)


def allowed_events(kind: ItemKind, state: ItemState) -> list[EventType]:
    """The events an item of ``kind`` in ``state`` accepts (corrections are always accepted)."""
    table = DOSSIER if kind == ItemKind.dossier else RESULT
    return [e for e, t in table.items() if state in t.sources] + [EventType.correction]
