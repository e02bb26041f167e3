"""Which bookings a caller may see, as a filter for queries over many bookings.

The single-booking check is ``service.authorise_read``; this is its set-wise twin, used by
exports that cover a day (EPCIS) so that each role sees only its own post offices, desk, key
or booking.
"""

from __future__ import annotations

from sqlalchemy import false
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from postal.auth.models import Role
from postal.auth.service import Principal
from postal.booking.models import Booking, BookingChannel


def visible_bookings(principal: Principal) -> ColumnElement[bool] | None:
    """A WHERE clause on Booking for what ``principal`` may read; None when it is everything."""
    if principal.role == Role.admin:
        return None
    if principal.role in (Role.dispatcher, Role.courier):
        return col(Booking.post_office_code).in_(principal.post_office_codes)
    if principal.role == Role.clerk and principal.desk_code:
        return col(Booking.desk_code) == principal.desk_code
    if principal.role == Role.integration and principal.username:
        return (col(Booking.channel) == BookingChannel.integration) & (
            col(Booking.api_key_name) == principal.username
        )
    if principal.role == Role.citizen and principal.booking_reference:
        return col(Booking.reference) == principal.booking_reference
    return false()
