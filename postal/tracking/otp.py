"""One-time codes that are never stored: only their hash, written when the message is sent.

A code request writes a challenge without a code (``UNSENT``) and an outbox message that names
the challenge. The sender derives the code when it sends (an HMAC, under a key derived from
``POSTAL_SECRET_KEY``, of the challenge and the message's random id), stores its hash on the
challenge and renders the text: no row holds the code. A re-sent message (a retry, a sender
that died) carries the same code, so a gateway that de-duplicates by the message's key never
leaves the citizen holding a code that no longer works.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlmodel import Session

from postal.config import Settings
from postal.tracking.models import OtpChallenge

UNSENT = ""  # the hash of a challenge whose code is not sent yet: no code matches it
DEDUP_PREFIX = "otp-challenge:"  # the outbox row's dedup_key names its challenge
MASK = "••••••"  # what stored texts show in place of the code


def code_hash(item_id: int | None, code: str) -> str:
    """The stored hash of an item's one-time code."""
    return hashlib.sha256(f"{item_id}:{code}".encode()).hexdigest()


def dedup_key(challenge_id: int) -> str:
    """The outbox key of a challenge's message (one message per challenge)."""
    return f"{DEDUP_PREFIX}{challenge_id}"


def challenge_of(dedup: str | None) -> int | None:
    """The challenge an outbox row's dedup_key names, or None for other messages."""
    if dedup is None or not dedup.startswith(DEDUP_PREFIX):
        return None
    tail = dedup[len(DEDUP_PREFIX) :]
    return int(tail) if tail.isdigit() else None


def _derive(settings: Settings, challenge_id: int, salt: str) -> str:
    key = hmac.new(settings.secret_key.encode(), b"postal.otp.v1", hashlib.sha256).digest()
    mac = hmac.new(key, f"{challenge_id}:{salt}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(mac[:8], 'big') % 1_000_000:06d}"


def code_for_sending(
    session: Session, settings: Settings, challenge_id: int, salt: str
) -> str | None:
    """The code to send for a challenge, its hash stored on it in the caller's transaction
    (commit before sending); None when the challenge is gone."""
    challenge = session.get(OtpChallenge, challenge_id)
    if challenge is None:
        return None
    code = _derive(settings, challenge_id, salt)
    challenge.code_hash = code_hash(challenge.item_id, code)
    session.add(challenge)
    return code
