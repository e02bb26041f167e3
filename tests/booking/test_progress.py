"""The booking's progress follows its items' custody states (postal/booking/progress.py)."""

from __future__ import annotations

import pytest

from postal.booking.models import BookingStatus, ItemState, ServiceForm
from postal.booking.progress import BookingProgress, booking_progress
from postal.catalogue.models import ItemKind

D, R = ItemKind.dossier, ItemKind.result
S, P = ItemState, BookingProgress

# (service form, dossier state, result state, expected progress): every step of each form.
CASES = [
    (ServiceForm.both, S.booked, S.awaiting_result, P.booked),
    (ServiceForm.both, S.picked_up, S.awaiting_result, P.picked_up),
    (ServiceForm.both, S.at_post_office, S.awaiting_result, P.picked_up),
    (ServiceForm.both, S.received_at_desk, S.awaiting_result, P.at_desk),
    (ServiceForm.both, S.received_at_desk, S.ready_at_desk, P.result_ready),
    (ServiceForm.both, S.received_at_desk, S.with_courier, P.out_for_delivery),
    (ServiceForm.both, S.received_at_desk, S.attempt_failed, P.attempt_failed),
    (ServiceForm.both, S.received_at_desk, S.returned_to_desk, P.returned_to_desk),
    (ServiceForm.both, S.received_at_desk, S.delivered, P.delivered),
    (ServiceForm.both, S.discrepancy, S.awaiting_result, P.discrepancy),
    (ServiceForm.dossier_pickup, S.booked, None, P.booked),
    (ServiceForm.dossier_pickup, S.picked_up, None, P.picked_up),
    (ServiceForm.dossier_pickup, S.received_at_desk, None, P.dossier_delivered),
    (ServiceForm.result_delivery, None, S.awaiting_result, P.awaiting_result),
    (ServiceForm.result_delivery, None, S.ready_at_desk, P.result_ready),
    (ServiceForm.result_delivery, None, S.with_courier, P.out_for_delivery),
    (ServiceForm.result_delivery, None, S.attempt_failed, P.attempt_failed),
    (ServiceForm.result_delivery, None, S.delivered, P.delivered),
    (ServiceForm.result_delivery, None, S.discrepancy, P.discrepancy),
]


@pytest.mark.parametrize(("form", "dossier", "result", "expected"), CASES)
def test_progress_follows_the_items(
    form: ServiceForm, dossier: ItemState | None, result: ItemState | None, expected: P
) -> None:
    items = [(k, s) for k, s in ((D, dossier), (R, result)) if s is not None]
    assert booking_progress(BookingStatus.booked, form, items) == expected


def test_a_cancelled_booking_is_cancelled_whatever_its_items() -> None:
    items = [(D, S.cancelled), (R, S.cancelled)]
    assert booking_progress(BookingStatus.cancelled, ServiceForm.both, items) == P.cancelled
