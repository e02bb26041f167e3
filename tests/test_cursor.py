"""Signed pagination cursors: only the service's own cursors are accepted."""

from __future__ import annotations

import base64
import json

import pytest

from postal import cursor
from postal.errors import ValidationFailed


def _forged(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": value}).encode()).decode().rstrip("=")


def test_a_cursor_round_trips_in_its_own_list() -> None:
    made = cursor.encode(41, "secret", "bookings")
    assert cursor.decode(made, "secret", "bookings") == 41


@pytest.mark.parametrize(
    "forged",
    [
        _forged(True),  # the issue's {"after": true}
        _forged(2147483648),  # beyond the database's integers
        _forged(5),  # well-formed but unsigned
        _forged(5) + ".AAAAAAAAAAAAAAAAAAAAAA",  # signed with another key
        "%%%",
        "",
    ],
)
def test_forged_cursors_are_422_naming_the_field(forged: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        cursor.decode(forged, "secret", "bookings")
    assert refused.value.field == "cursor"


def test_a_cursor_of_another_list_or_deployment_is_refused() -> None:
    made = cursor.encode(7, "secret", "messages")
    for secret, scope in (("secret", "bookings"), ("other", "messages")):
        with pytest.raises(ValidationFailed):
            cursor.decode(made, secret, scope)
