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
from postal.notify.models import Notification, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from postal.optimise.models import OptimiseJob
from postal.planning.models import (
    PlannedRoute,
    PlannedStop,
    PlanOffice,
    PlanPart,
    PlanRun,
    UnassignedStop,
)
from postal.ratelimit import RateLimitCounter
from postal.tracking.checkpoint import LedgerCheckpoint
from postal.tracking.models import (
    CustodyEvent,
    HandoverLine,
    HandoverRecord,
    ItemCustody,
    LedgerHead,
    OtpChallenge,
)

metadata = SQLModel.metadata

__all__ = [
    "AccessToken",
    "ApiKey",
    "Booking",
    "CalendarDay",
    "Commune",
    "CustodyEvent",
    "Desk",
    "DeskWindow",
    "HandoverLine",
    "HandoverRecord",
    "IdempotencyRecord",
    "IssuedItemNumber",
    "Item",
    "ItemCustody",
    "ItemNumberSeries",
    "LedgerCheckpoint",
    "LedgerHead",
    "Locality",
    "Notification",
    "OptimiseJob",
    "OtpChallenge",
    "PlanOffice",
    "PlanPart",
    "PlanRun",
    "PlannedRoute",
    "PlannedStop",
    "PostOffice",
    "Procedure",
    "ProcedureDocument",
    "Province",
    "RateLimitCounter",
    "ServiceArea",
    "SlotLoad",
    "StaffPostOffice",
    "StaffUser",
    "Tariff",
    "UnassignedStop",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "metadata",
]
