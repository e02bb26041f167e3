"""Reference data tables: units, localities, post offices, desks, calendar, procedures, tariffs.

Filled by `postal load <locality>` from the data files under data/; never edited by hand.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlmodel import Field, SQLModel

from postal.db import EnumText


class Province(SQLModel, table=True):
    """One of the 34 provinces (tỉnh / thành phố) since 1 July 2025."""

    code: str = Field(primary_key=True, max_length=2)
    name: str
    full_name: str
    name_en: str
    label_lat: float
    label_lon: float


class Commune(SQLModel, table=True):
    """One of the 3,321 communes (xã / phường / đặc khu)."""

    code: str = Field(primary_key=True, max_length=5)
    name: str
    full_name: str
    name_en: str
    type: str
    province_code: str = Field(foreign_key="province.code", index=True)
    label_lat: float
    label_lon: float


class Locality(SQLModel, table=True):
    """A served locality (a province's demo or production set-up)."""

    slug: str = Field(primary_key=True)
    name: str
    province_code: str = Field(foreign_key="province.code")
    timezone: str
    default_slot_capacity: int


class PostOffice(SQLModel, table=True):
    """A post office (bưu cục): couriers start and end there; it serves a set of communes."""

    __tablename__ = "post_office"

    code: str = Field(primary_key=True)
    locality_slug: str = Field(foreign_key="locality.slug", index=True)
    name: str
    address: str
    lat: float
    lon: float
    slot_capacity: int
    location_note: str = ""


class ServiceArea(SQLModel, table=True):
    """Which post office serves a commune (each commune by exactly one)."""

    __tablename__ = "service_area"

    commune_code: str = Field(primary_key=True, foreign_key="commune.code")
    post_office_code: str = Field(foreign_key="post_office.code", index=True)


class Desk(SQLModel, table=True):
    """A one-stop desk (Bộ phận Một cửa) that receives dossiers and issues results."""

    code: str = Field(primary_key=True)
    locality_slug: str = Field(foreign_key="locality.slug", index=True)
    commune_code: str = Field(foreign_key="commune.code", index=True)
    name: str
    address: str
    lat: float
    lon: float
    location_approximate: bool = True
    accepted_levels: str = "commune;province"


class DeskWindow(SQLModel, table=True):
    """One opening window of a desk on a weekday (0 = Monday)."""

    __tablename__ = "desk_window"

    desk_code: str = Field(primary_key=True, foreign_key="desk.code")
    weekday: int = Field(primary_key=True, ge=0, le=6)
    opens: dt.time = Field(primary_key=True)
    closes: dt.time


class CalendarDayKind(StrEnum):
    """Kinds of exceptional days in the calendar."""

    holiday = "holiday"
    working_saturday = "working_saturday"


class CalendarDay(SQLModel, table=True):
    """A public holiday or a make-up working Saturday."""

    __tablename__ = "calendar_day"

    day: dt.date = Field(primary_key=True)
    kind: CalendarDayKind = Field(sa_type=EnumText(CalendarDayKind))
    name: str
    name_en: str = ""


class ProcedureLevel(StrEnum):
    """Level of government competent for a procedure."""

    commune = "commune"
    province = "province"


class Procedure(SQLModel, table=True):
    """An administrative procedure (thủ tục hành chính) of the catalogue."""

    code: str = Field(primary_key=True)
    name: str
    name_en: str
    level: ProcedureLevel = Field(sa_type=EnumText(ProcedureLevel))
    field_name: str
    dossier_pickup: bool
    result_delivery: bool
    in_person_only: bool
    processing_days: int
    fee_vnd: int


class DocumentKind(StrEnum):
    """Whether the desk needs the original or a copy."""

    original = "original"
    copy = "copy"


class ProcedureDocument(SQLModel, table=True):
    """One entry of a procedure's document list (danh mục giấy tờ)."""

    __tablename__ = "procedure_document"

    procedure_code: str = Field(primary_key=True, foreign_key="procedure.code")
    position: int = Field(primary_key=True)
    name: str
    kind: DocumentKind = Field(sa_type=EnumText(DocumentKind))
    quantity: int = 1


class TariffZone(StrEnum):
    """Tariff zone between the citizen's address and the desk."""

    same_commune = "same_commune"
    same_province = "same_province"
    other_province = "other_province"


class ItemKind(StrEnum):
    """What a postal item carries."""

    dossier = "dossier"
    result = "result"


class Tariff(SQLModel, table=True):
    """A dated postal charge for one item."""

    id: int | None = Field(default=None, primary_key=True)
    valid_from: dt.date
    valid_to: dt.date | None = None
    item_kind: ItemKind = Field(sa_type=EnumText(ItemKind))
    zone: TariffZone = Field(sa_type=EnumText(TariffZone))
    fee_collection: bool
    amount_vnd: int
