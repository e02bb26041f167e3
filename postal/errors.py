"""PostalError and its documented subclasses; api/main.py maps them to HTTP problem details.

Each error carries a stable English ``code`` for machines, a ``field`` when one input is to
blame, and message ``params`` used to render the Vietnamese or English text from the message
catalogue (postal/locales/<lang>.yaml, key = code).
"""

from __future__ import annotations

import math
from typing import Any


class PostalError(Exception):
    """Base of every domain error. Never raised directly."""

    status: int = 400
    default_code: str = "postal_error"

    def __init__(
        self,
        code: str | None = None,
        detail: str | None = None,
        *,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        **params: Any,
    ) -> None:
        self.code = code or self.default_code
        self.field = field
        self.params = params
        self.errors = errors or []
        self.detail = detail or self.code
        super().__init__(self.detail)


class ValidationFailed(PostalError):
    """An input field is invalid (HTTP 422). ``field`` names it."""

    status = 422
    default_code = "validation_failed"


class NotFound(PostalError):
    """The named resource does not exist or is not visible to the caller (HTTP 404)."""

    status = 404
    default_code = "not_found"


class Conflict(PostalError):
    """The request clashes with the current state: full slot, cancelled booking (HTTP 409)."""

    status = 409
    default_code = "conflict"


class Unauthenticated(PostalError):
    """Credentials are missing or wrong (HTTP 401)."""

    status = 401
    default_code = "unauthenticated"


class Forbidden(PostalError):
    """The caller is known but its role does not admit the action (HTTP 403)."""

    status = 403
    default_code = "forbidden"


class TooManyRequests(PostalError):
    """A limit or counter refuses the request: too much work in flight, too many tries or
    look-ups in a window (429). ``retry_after`` (seconds) becomes the Retry-After header and
    the ``seconds`` and ``minutes`` message parameters."""

    status = 429
    default_code = "too_many_requests"

    def __init__(self, code: str | None = None, *, retry_after: float = 1, **params: Any) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        params.setdefault("seconds", self.retry_after)
        params.setdefault("minutes", max(1, math.ceil(self.retry_after / 60)))
        super().__init__(code, **params)


class NotMigrated(PostalError):
    """The database schema is missing or behind the code; run `postal db upgrade`."""

    status = 503
    default_code = "database_not_migrated"


class ServiceUnavailable(PostalError):
    """A part of the service cannot take the request now; retrying later is safe (HTTP 503)."""

    status = 503
    default_code = "service_unavailable"


class TravelProviderUnavailable(PostalError):
    """The travel provider cannot answer: routing server down, refusing, or not configured."""

    status = 503
    default_code = "travel_provider_unavailable"


class FieldErrors:
    """Collects field errors so one reply names every invalid field at once."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, field: str, code: str, **params: Any) -> None:
        """Record that ``field`` is invalid for reason ``code``."""
        self.items.append({"field": field, "code": code, "params": params})

    def capture(self, exc: PostalError) -> None:
        """Record a ValidationFailed raised by a validator; re-raise any other error."""
        if not isinstance(exc, ValidationFailed):
            raise exc
        if exc.errors:
            self.items.extend(exc.errors)
        else:
            self.add(exc.field or "body", exc.code, **exc.params)

    def has(self, field: str) -> bool:
        """Whether ``field`` already has an error."""
        return any(e["field"] == field for e in self.items)

    def raise_if_any(self) -> None:
        """Raise one ValidationFailed listing every recorded error."""
        if self.items:
            first = self.items[0]
            raise ValidationFailed(
                first["code"], field=first["field"], errors=list(self.items), **first["params"]
            )
