"""Signing closed handover records from the desk and courier pages."""

from __future__ import annotations

import datetime as dt
import hashlib

from pydantic import TypeAdapter, ValidationError
from sqlmodel import Session
from starlette.datastructures import FormData

from postal.auth.service import Principal
from postal.errors import ValidationFailed
from postal.tracking import handover, signature
from postal.tracking.schemas import Stroke


def signature_digest(form: FormData, record_id: int, username: str, now: dt.datetime) -> str:
    """The server's SHA-256 of the drawn signature's strokes, or of the typed name when
    nothing was drawn (the page works without JavaScript).

    A typed name is bound to the record, the signed-in account and the time, so the same name
    typed on another record gives another digest. A hash sent by the page is never taken.
    """
    raw = str(form.get("signature_strokes", "")).strip()
    if raw:
        try:
            strokes = TypeAdapter(list[Stroke]).validate_json(raw)
        except ValidationError:
            raise ValidationFailed("signature_strokes_invalid", field="signature_strokes") from None
        return signature.verified_digest(strokes, None, "form")
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
