"""Opaque, signed pagination cursors: a forged or altered cursor is a 422, never a query.

A cursor carries the last id of a page and an HMAC of it (keyed by the deployment's secret
and the list it belongs to), so a client can only hand back cursors the service made.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from postal.errors import ValidationFailed

MAX_ID = 2**31 - 1


def _mac(secret: str, scope: str, payload: bytes) -> str:
    digest = hmac.new(secret.encode(), scope.encode() + b":" + payload, hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:16]).decode().rstrip("=")


def encode(last_id: int, secret: str, scope: str) -> str:
    """The cursor of the page after ``last_id`` in the list ``scope``."""
    payload = json.dumps({"after": last_id}, separators=(",", ":")).encode()
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{_mac(secret, scope, payload)}"


def decode(cursor: str, secret: str, scope: str) -> int:
    """The id a cursor continues after; 422 ``invalid_cursor`` naming ``cursor`` otherwise."""
    try:
        body, mac = cursor.split(".", 1)
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if not hmac.compare_digest(mac, _mac(secret, scope, payload)):
            raise ValueError("not a cursor of this list")
        value = json.loads(payload)["after"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
            raise TypeError
        return value
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationFailed("invalid_cursor", field="cursor") from exc
