"""Signing closed handover records from the desk and courier pages."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

from sqlmodel import Session
from starlette.datastructures import FormData

from postal.auth.service import Principal
from postal.errors import ValidationFailed
from postal.tracking import handover

_SHA256 = re.compile(r"[0-9a-f]{64}")


def signature_digest(form: FormData, record_id: int, username: str, now: dt.datetime) -> str:
    """The SHA-256 of the drawn signature, or of the typed name when nothing was drawn.

    A typed name is bound to the record, the signed-in account and the time, so the same name
    typed on another record gives another digest.
    """
    drawn = str(form.get("signature_sha256", "")).strip().lower()
    if _SHA256.fullmatch(drawn):
        return drawn
    typed = " ".join(str(form.get("typed_name", "")).split())
    if len(typed) < 2:
        raise ValidationFailed("signature_required", field="typed_name")
    text = f"typed:{typed}|record:{record_id}|by:{username}|at:{now.isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()


def sign_record(
    session: Session, principal: Principal, record_id: int, form: FormData, now: dt.datetime
) -> None:
    """Sign a closed record for the signed-in party and commit (PostalError on refusal)."""
    digest = signature_digest(form, record_id, principal.username or "", now)
    handover.acknowledge(session, principal, record_id, digest, now)
    session.commit()
