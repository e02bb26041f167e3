"""Where a booking stands, derived from its items' custody states (nothing stored).

A booking's stored ``status`` says only whether it is live or cancelled; the citizen wants to
know how far the post has got. ``booking_progress`` reads that off the items: the dossier's
state until the desk has it, then the result's once the result moves.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from postal.booking.models import BookingStatus, ItemState, ServiceForm
from postal.catalogue.models import ItemKind


class BookingProgress(StrEnum):
    """How far the post has got with a booking (the citizen's "status")."""

    booked = "booked"  # waiting for the courier to pick the dossier up
    picked_up = "picked_up"  # the courier (or the post office) holds the dossier
    at_desk = "at_desk"  # the desk received the dossier; the result is being prepared
    dossier_delivered = "dossier_delivered"  # dossier only: the desk has it, the post is done
    awaiting_result = "awaiting_result"  # result only: the desk has not issued it yet
    result_ready = "result_ready"  # the result waits at the desk for the courier
    out_for_delivery = "out_for_delivery"  # a courier is carrying the result
    attempt_failed = "attempt_failed"  # the courier could not deliver; another try follows
    returned_to_desk = "returned_to_desk"  # after failed attempts the result went back
    delivered = "delivered"  # the citizen received the result
    discrepancy = "discrepancy"  # something was missing or damaged at a handoff
    cancelled = "cancelled"


_DOSSIER: dict[ItemState, BookingProgress] = {
    ItemState.booked: BookingProgress.booked,
    ItemState.picked_up: BookingProgress.picked_up,
    ItemState.at_post_office: BookingProgress.picked_up,
    ItemState.received_at_desk: BookingProgress.at_desk,
    ItemState.discrepancy: BookingProgress.discrepancy,
    ItemState.cancelled: BookingProgress.cancelled,
}

_RESULT: dict[ItemState, BookingProgress] = {
    ItemState.awaiting_result: BookingProgress.awaiting_result,
    ItemState.ready_at_desk: BookingProgress.result_ready,
    ItemState.with_courier: BookingProgress.out_for_delivery,
    ItemState.attempt_failed: BookingProgress.attempt_failed,
    ItemState.returned_to_desk: BookingProgress.returned_to_desk,
    ItemState.delivered: BookingProgress.delivered,
    ItemState.discrepancy: BookingProgress.discrepancy,
    ItemState.cancelled: BookingProgress.cancelled,
}


def booking_progress(
    status: BookingStatus, form: ServiceForm, items: Iterable[tuple[ItemKind, ItemState]]
) -> BookingProgress:
    """The progress of a booking from its stored status, service form and items' states."""
    if status == BookingStatus.cancelled:
        return BookingProgress.cancelled
    states = dict(items)
    dossier = states.get(ItemKind.dossier)
    result = states.get(ItemKind.result)
    if dossier is None and result is None:
        return BookingProgress.booked
    # Once the result has moved, it says more than the dossier (which the desk holds by then).
    if result is not None and (dossier is None or result != ItemState.awaiting_result):
        if dossier in (ItemState.booked, ItemState.picked_up, ItemState.at_post_office) and (
            result == ItemState.ready_at_desk
        ):
            # "both" booked by the one-stop system with the result ready: the dossier leads.
            return _DOSSIER[dossier]
        return _RESULT.get(result, BookingProgress.booked)
    assert dossier is not None
    progress = _DOSSIER.get(dossier, BookingProgress.booked)
    if progress == BookingProgress.at_desk and form == ServiceForm.dossier_pickup:
        return BookingProgress.dossier_delivered
    return progress
