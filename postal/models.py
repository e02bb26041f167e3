"""Every table of the service, imported in one place so that metadata is complete."""

from __future__ import annotations

from sqlmodel import SQLModel

from postal.auth.models import AccessToken, ApiKey, StaffPostOffice, StaffUser
from postal.booking.models import Booking, IssuedItemNumber, Item, ItemNumberSeries, SlotLoad
from postal.catalogue.models import (
    CalendarDay,
    Commune,
    Desk,
    DeskWindow,
    Locality,
    PostOffice,
    Procedure,
    ProcedureDocument,
    Province,
    ServiceArea,
    Tariff,
)
from postal.idempotency import IdempotencyRecord

metadata = SQLModel.metadata

__all__ = [
    "AccessToken",
    "ApiKey",
    "Booking",
    "CalendarDay",
    "Commune",
    "Desk",
    "DeskWindow",
    "IdempotencyRecord",
    "IssuedItemNumber",
    "Item",
    "ItemNumberSeries",
    "Locality",
    "PostOffice",
    "Procedure",
    "ProcedureDocument",
    "Province",
    "ServiceArea",
    "SlotLoad",
    "StaffPostOffice",
    "StaffUser",
    "Tariff",
    "metadata",
]
