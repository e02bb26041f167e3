"""Passwords (argon2), bearer tokens, API keys and the principal a request acts as."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from postal.auth.models import AccessToken, ApiKey, Role, StaffPostOffice, StaffUser
from postal.catalogue.models import Desk, PostOffice
from postal.db import utcnow
from postal.errors import (
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthenticated,
    ValidationFailed,
)

# Token prefixes tell at a glance (and in logs, masked) which kind of credential was sent.
STAFF_TOKEN_PREFIX = "st_"
CITIZEN_TOKEN_PREFIX = "cz_"
API_KEY_PREFIX = "pk_"

_hasher = PasswordHasher()


@dataclass(frozen=True)
class Principal:
    """Who a request acts as, with the scope its role is bound to."""

    role: Role
    user_id: int | None = None
    username: str | None = None
    full_name: str | None = None
    desk_code: str | None = None
    post_office_codes: frozenset[str] = field(default_factory=frozenset)
    booking_reference: str | None = None


def token_digest(token: str) -> str:
    """SHA-256 of a high-entropy token (tokens are random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str) -> str:
    """A fresh random token with its kind prefix."""
    return prefix + secrets.token_urlsafe(32)


def hash_password(password: str) -> str:
    """Argon2id hash of a staff password."""
    return _hasher.hash(password)


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    full_name: str,
    desk_code: str | None = None,
    post_office_codes: list[str] | None = None,
) -> StaffUser:
    """Create a staff account, checking the binding its role needs."""
    if role in (Role.citizen, Role.integration):
        raise ValidationFailed("invalid_role", field="role")
    if len(password) < 8:
        raise ValidationFailed("password_too_short", field="password")
    if session.exec(select(StaffUser).where(StaffUser.username == username)).first():
        raise Conflict("username_taken", field="username")
    offices = post_office_codes or []
    if role == Role.clerk and (not desk_code or session.get(Desk, desk_code) is None):
        raise ValidationFailed("clerk_needs_desk", field="desk_code")
    if role in (Role.dispatcher, Role.courier) and not offices:
        raise ValidationFailed("needs_post_office", field="post_office_codes")
    for code in offices:
        if session.get(PostOffice, code) is None:
            raise ValidationFailed("unknown_post_office", field="post_office_codes")
    user = StaffUser(
        username=username,
        full_name=full_name,
        role=role,
        password_hash=hash_password(password),
        desk_code=desk_code if role == Role.clerk else None,
        post_office_code=offices[0] if role == Role.courier else None,
    )
    session.add(user)
    session.flush()
    assert user.id is not None
    if role == Role.dispatcher:
        for code in offices:
            session.add(StaffPostOffice(user_id=user.id, post_office_code=code))
    return user


class HashGate:
    """A bound on the password hashes one process computes at once (each holds 64 MiB): a
    sign-in that finds no free slot within ``wait_s`` is refused (429) instead of queueing."""

    def __init__(self, size: int, wait_s: float) -> None:
        self.slots = threading.BoundedSemaphore(size)
        self.wait_s = wait_s

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot while the block runs; TooManyRequests when none frees in time."""
        if not self.slots.acquire(timeout=self.wait_s):
            raise TooManyRequests("sign_in_busy", retry_after=1)
        try:
            yield
        finally:
            self.slots.release()


@cache
def _dummy_hash() -> str:
    # Hashed once per process with the same parameters as real ones: an unknown user name costs
    # the same verification as a known one, so the reply time does not tell them apart.
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches the argon2 hash (one hash computation, always)."""
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def login(
    session: Session,
    username: str,
    password: str,
    ttl_hours: int,
    gate: HashGate | None = None,
) -> tuple[str, StaffUser]:
    """Check a password and issue a bearer token; 401 on any mismatch (same message, same
    work: an unknown or inactive user's password is checked against a dummy hash)."""
    user = session.exec(select(StaffUser).where(StaffUser.username == username)).first()
    known = user is not None and user.active
    with gate.slot() if gate is not None else nullcontext():
        matches = verify_password(user.password_hash if user and known else _dummy_hash(), password)
    if user is None or not known or not matches:
        raise Unauthenticated("invalid_credentials")
    token = new_token(STAFF_TOKEN_PREFIX)
    assert user.id is not None
    session.add(
        AccessToken(
            token_hash=token_digest(token),
            user_id=user.id,
            expires_at=utcnow() + dt.timedelta(hours=ttl_hours),
        )
    )
    return token, user


def logout(session: Session, token: str) -> None:
    """Revoke a staff token."""
    row = session.get(AccessToken, token_digest(token))
    if row is not None:
        session.delete(row)


def principal_for_user(session: Session, user: StaffUser) -> Principal:
    """The principal of a staff user, with its bindings."""
    offices: frozenset[str] = frozenset()
    if user.role == Role.dispatcher:
        rows = session.exec(
            select(StaffPostOffice.post_office_code).where(StaffPostOffice.user_id == user.id)
        ).all()
        offices = frozenset(rows)
    elif user.post_office_code:
        offices = frozenset({user.post_office_code})
    return Principal(
        role=user.role,
        user_id=user.id,
        username=user.username,
        full_name=user.full_name,
        desk_code=user.desk_code,
        post_office_codes=offices,
    )


def staff_principal(session: Session, token: str) -> Principal:
    """Resolve a staff bearer token; 401 when unknown or expired."""
    row = session.get(AccessToken, token_digest(token))
    if row is None or row.expires_at < utcnow():
        raise Unauthenticated("invalid_token")
    user = session.get(StaffUser, row.user_id)
    if user is None or not user.active:
        raise Unauthenticated("invalid_token")
    return principal_for_user(session, user)


def create_api_key(session: Session, name: str) -> str:
    """Create an integration API key and return it (shown once, stored hashed)."""
    if session.exec(select(ApiKey).where(ApiKey.name == name)).first():
        raise Conflict("api_key_name_taken", field="name")
    key = new_token(API_KEY_PREFIX)
    session.add(ApiKey(name=name, key_hash=token_digest(key), key_prefix=key[:10]))
    return key


def integration_principal(session: Session, key: str) -> Principal:
    """Resolve an X-API-Key; 401 when unknown or revoked."""
    row = session.exec(
        select(ApiKey).where(col(ApiKey.key_hash) == token_digest(key), col(ApiKey.active))
    ).first()
    if row is None:
        raise Unauthenticated("invalid_api_key")
    return Principal(role=Role.integration, username=row.name)


def require_role(principal: Principal, *roles: Role) -> None:
    """Deny unless the principal's role is one of ``roles``."""
    if principal.role not in roles:
        raise Forbidden("role_not_allowed")


def get_user(session: Session, username: str) -> StaffUser:
    """A staff user by name; 404 when unknown."""
    user = session.exec(select(StaffUser).where(StaffUser.username == username)).first()
    if user is None:
        raise NotFound("unknown_user", field="username")
    return user
