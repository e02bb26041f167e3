"""Staff users, their bearer tokens and the integration API keys."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from postal.db import EnumText, UTCDateTime, utcnow


class Role(StrEnum):
    """Roles of the service; every route names the roles it admits."""

    citizen = "citizen"
    courier = "courier"
    clerk = "clerk"
    dispatcher = "dispatcher"
    admin = "admin"
    integration = "integration"


class StaffUser(SQLModel, table=True):
    """A staff account: courier, desk clerk, dispatcher or admin."""

    __tablename__ = "staff_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=100)
    full_name: str
    role: Role = Field(sa_type=EnumText(Role))
    password_hash: str
    desk_code: str | None = Field(default=None, foreign_key="desk.code")
    post_office_code: str | None = Field(default=None, foreign_key="post_office.code")
    active: bool = True
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class StaffPostOffice(SQLModel, table=True):
    """The post offices a dispatcher is bound to."""

    __tablename__ = "staff_post_office"

    user_id: int = Field(primary_key=True, foreign_key="staff_user.id")
    post_office_code: str = Field(primary_key=True, foreign_key="post_office.code")


class AccessToken(SQLModel, table=True):
    """A staff bearer token (stored hashed); the page cookie carries the same token."""

    __tablename__ = "access_token"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="staff_user.id", index=True)
    expires_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class ApiKey(SQLModel, table=True):
    """An API key of the one-stop information system (stored hashed)."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    key_hash: str = Field(unique=True, max_length=64)
    key_prefix: str = Field(max_length=12)
    active: bool = True
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
