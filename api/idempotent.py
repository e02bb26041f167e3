"""Idempotent writes for routes: replay a stored reply, or run the action and store its reply."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlmodel import Session

from postal import idempotency


def run_idempotent(
    session: Session,
    scope: str,
    key: str | None,
    payload: Any,
    status: int,
    action: Callable[[], BaseModel],
    location: Callable[[dict[str, Any]], str] | None = None,
    secrets: Sequence[str] = (),
    reissue: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> JSONResponse:
    """Replay the stored reply of a known Idempotency-Key (422 if the body differs), else run
    ``action``, store its reply in the same transaction and commit.

    The reply's ``secrets`` (top-level fields, such as an access token) are stored as null,
    never in clear; on a replay ``reissue`` (when given) fills them anew from the stored body,
    in the transaction this function commits.
    """
    fp = idempotency.request_fingerprint(payload)
    if key is not None:
        stored = idempotency.lookup(session, scope, key, fp)
        if stored is not None:
            body = json.loads(stored.body)
            if reissue is not None:
                body = reissue(body)
                session.commit()
            headers = {"Idempotent-Replayed": "true"}
            if location is not None and stored.status_code == 201:
                headers["Location"] = location(body)
            return JSONResponse(body, status_code=stored.status_code, headers=headers)
    data = action().model_dump(mode="json")
    if key is not None:
        kept = {k: (None if k in secrets else v) for k, v in data.items()}
        idempotency.store(session, scope, key, fp, status, kept)
    session.commit()
    created = {"Location": location(data)} if location is not None else None
    return JSONResponse(data, status_code=status, headers=created)
