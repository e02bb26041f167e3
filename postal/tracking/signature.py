"""Drawn signatures as proof: the server hashes the strokes it receives.

A hash chosen by the client proves nothing (all zeros passes any pattern check), so a pickup or
delivery acknowledged by signature carries the strokes captured on the courier's screen; the
stored hash is the SHA-256 of their canonical JSON (integer canvas pixels, no spaces), which is
also what ``JSON.stringify(strokes)`` gives in the browser.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from postal.errors import ValidationFailed

# Fewer points than this is a tap or a dot, not a signature.
MIN_POINTS = 10

Strokes = Sequence[Sequence[Sequence[int]]]


def strokes_digest(strokes: Strokes) -> str:
    """The SHA-256 (hex) of the strokes' canonical JSON: ``[[[x,y],...],...]``."""
    canonical = [[[int(v) for v in point] for point in stroke] for stroke in strokes]
    text = json.dumps(canonical, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def verified_digest(strokes: Strokes | None, claimed: str | None, field_: str) -> str:
    """The server's hash of a drawn signature; 422 naming the field when the strokes are
    missing or too short, or a client-sent hash differs from the server's."""
    if not strokes:
        raise ValidationFailed("signature_strokes_required", field=f"{field_}.signature_strokes")
    points = sum(len(stroke) for stroke in strokes)
    if points < MIN_POINTS:
        raise ValidationFailed(
            "signature_too_short", field=f"{field_}.signature_strokes", min=MIN_POINTS
        )
    digest = strokes_digest(strokes)
    if claimed is not None and claimed != digest:
        raise ValidationFailed("signature_hash_mismatch", field=f"{field_}.signature_sha256")
    return digest
