"""Parse the reference data files under data/ into frozen dataclasses; no database involved.

Files read (see data/README.md):
  <slug>/locality.yaml, <slug>/post_offices.yaml, <slug>/desks.csv   -> load_locality
  catalogue/procedures.yaml                                          -> load_procedures
  catalogue/tariffs.csv                                              -> load_tariffs
  calendar/holidays.yaml                                             -> load_holidays
  units/communes.csv, units/provinces.csv                            (checked against)

Every defect raises CatalogueError naming the file and the line of the offending entry, so an
editor can fix the data without reading code.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal, NoReturn, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from postal.calendar import WEEKDAY_KEYS, DeskHours, Window, WorkCalendar, desk_hours_from_profile
from postal.errors import PostalError, ValidationFailed

_Name = TypeVar("_Name", bound=str)

ProcedureLevelName = Literal["commune", "province"]
DocumentKindName = Literal["original", "copy"]
ItemKindName = Literal["dossier", "result"]
TariffZoneName = Literal["same_commune", "same_province", "other_province"]

PROCEDURE_LEVELS: tuple[ProcedureLevelName, ...] = ("commune", "province")
DOCUMENT_KINDS: tuple[DocumentKindName, ...] = ("original", "copy")
ITEM_KINDS: tuple[ItemKindName, ...] = ("dossier", "result")
TARIFF_ZONES: tuple[TariffZoneName, ...] = ("same_commune", "same_province", "other_province")

_PROCEDURE_CODE = re.compile(r"\d\.\d{6}")
_POST_OFFICE_CODE = re.compile(r"\d{6}")
_COMMUNE_CODE = re.compile(r"\d{5}")
_PROVINCE_CODE = re.compile(r"\d{2}")
_HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_DESK_COLUMNS = (
    "code",
    "commune_code",
    "name",
    "address",
    "lat",
    "lon",
    "location_approximate",
    "hours_profile",
    "accepted_levels",
)
_TARIFF_COLUMNS = ("valid_from", "valid_to", "item_kind", "zone", "fee_collection", "amount_vnd")


class CatalogueError(PostalError):
    """A reference data file is missing or wrong; ``file`` and ``line`` say where (line 1-based).

    Raised by the loaders of this module, i.e. by `postal load`: the data is broken, not the
    caller's request, hence 500.
    """

    status = 500
    default_code = "catalogue_invalid"

    def __init__(self, file: Path | str, line: int | None, message: str) -> None:
        self.file = str(file)
        self.line = line
        self.message = message
        where = f"{self.file}:{line}" if line is not None else self.file
        super().__init__(None, f"{where}: {message}", file=self.file, line=line)


# --- dataclasses ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HoursProfileData:
    """A named weekly desk schedule; ``hours`` maps weekday (0 = Monday) to sorted windows."""

    name: str
    hours: DeskHours


@dataclass(frozen=True, slots=True)
class PostOfficeData:
    """A post office (bưu cục), the couriers' depot, and the communes it serves."""

    code: str
    name: str
    address: str
    lat: float
    lon: float
    slot_capacity: int
    location_note: str
    commune_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeskData:
    """A one-stop desk (Bộ phận Một cửa) of one commune."""

    code: str
    commune_code: str
    name: str
    address: str
    lat: float
    lon: float
    location_approximate: bool
    hours_profile: str
    accepted_levels: tuple[ProcedureLevelName, ...]


@dataclass(frozen=True, slots=True)
class LocalityData:
    """A served locality: its desk-hours profiles, post offices and desks."""

    slug: str
    name: str
    province_code: str
    timezone: str
    default_slot_capacity: int
    hours_profiles: tuple[HoursProfileData, ...]
    post_offices: tuple[PostOfficeData, ...]
    desks: tuple[DeskData, ...]

    def hours_profile(self, name: str) -> HoursProfileData:
        """The hours profile called ``name`` (KeyError when absent)."""
        for profile in self.hours_profiles:
            if profile.name == name:
                return profile
        raise KeyError(name)

    def desk_hours(self, desk: DeskData) -> DeskHours:
        """The weekly windows of a desk, from its profile."""
        return self.hours_profile(desk.hours_profile).hours

    def service_areas(self) -> dict[str, str]:
        """Map each served commune code to its post office code."""
        return {c: po.code for po in self.post_offices for c in po.commune_codes}


@dataclass(frozen=True, slots=True)
class DocumentData:
    """One entry of a procedure's document list, in published order."""

    name: str
    kind: DocumentKindName
    quantity: int


@dataclass(frozen=True, slots=True)
class ProcedureData:
    """An administrative procedure and whether the post may carry its dossier and result."""

    code: str
    name: str
    name_en: str
    level: ProcedureLevelName
    field: str
    dossier_pickup: bool
    result_delivery: bool
    in_person_only: bool
    processing_days: int
    fee_vnd: int
    documents: tuple[DocumentData, ...]
    code_note: str | None


@dataclass(frozen=True, slots=True)
class TariffData:
    """A postal charge for one item, in force from ``valid_from`` to ``valid_to`` inclusive."""

    valid_from: date
    valid_to: date | None
    item_kind: ItemKindName
    zone: TariffZoneName
    fee_collection: bool
    amount_vnd: int


@dataclass(frozen=True, slots=True)
class HolidayCalendarData:
    """Public holidays (Vietnamese and English names) and make-up working Saturdays (note)."""

    holidays: dict[date, str]
    holiday_names_en: dict[date, str]
    working_saturdays: dict[date, str]

    def work_calendar(self) -> WorkCalendar:
        """The calendar as postal.calendar uses it."""
        return WorkCalendar(self.holidays, frozenset(self.working_saturdays))


# --- YAML with line numbers -----------------------------------------------------------------


class _Map(dict[Any, Any]):
    """A YAML mapping that remembers its 1-based line."""

    line: int = 0


class _Seq(list[Any]):
    """A YAML sequence that remembers its line and the line of each item."""

    line: int = 0
    item_lines: tuple[int, ...] = ()


class _LineLoader(yaml.SafeLoader):
    """SafeLoader building _Map and _Seq so errors can point at lines."""


def _construct_map(loader: yaml.SafeLoader, node: yaml.MappingNode) -> _Map:
    result = _Map(loader.construct_mapping(node, deep=True))
    result.line = node.start_mark.line + 1
    return result


def _construct_seq(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> _Seq:
    result = _Seq(loader.construct_sequence(node, deep=True))
    result.line = node.start_mark.line + 1
    result.item_lines = tuple(item.start_mark.line + 1 for item in node.value)
    return result


# Dates stay strings so that a bad one (2025-13-01) is reported by _Record.day with its line
# instead of failing inside the YAML constructor.
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


def _read_yaml(path: Path) -> _Map:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogueError(path, None, "file not found") from None
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise CatalogueError(path, mark.line + 1 if mark else None, f"bad YAML: {exc}") from None
    if not isinstance(doc, _Map):
        raise CatalogueError(path, 1, "expected a mapping at the top level")
    return doc


def _read_csv(path: Path, columns: Sequence[str]) -> Iterator[_Record]:
    try:
        handle = path.open(encoding="utf-8", newline="")
    except FileNotFoundError:
        raise CatalogueError(path, None, "file not found") from None
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or ())]
        if missing:
            raise CatalogueError(path, 1, f"missing columns {missing}")
        for row in reader:
            yield _Record(path, reader.line_num, row, from_csv=True)


# --- typed field access with file and line in every error ------------------------------------


class _Record:
    """One entry (YAML mapping or CSV row) with typed getters that raise CatalogueError."""

    def __init__(self, path: Path, line: int, data: Mapping[Any, Any], *, from_csv: bool) -> None:
        self.path = path
        self.line = line
        self.data = data
        self.from_csv = from_csv

    @classmethod
    def of(cls, path: Path, value: Any, line: int, what: str) -> _Record:
        """Wrap a YAML value that must be a mapping."""
        if not isinstance(value, _Map):
            raise CatalogueError(path, line, f"{what} must be a mapping")
        return cls(path, value.line, value, from_csv=False)

    def fail(self, message: str, line: int | None = None) -> NoReturn:
        """Raise CatalogueError at this entry (or at ``line``)."""
        raise CatalogueError(self.path, line or self.line, message)

    def raw(self, key: str) -> Any:
        """The value under ``key``; missing or empty is an error."""
        value = self.data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            self.fail(f"{key} is required")
        return value

    def text(self, key: str, pattern: re.Pattern[str] | None = None) -> str:
        """A non-empty string, optionally matching ``pattern`` in full."""
        value = self.raw(key)
        if not isinstance(value, str):
            self.fail(f"{key} must be a quoted string, got {value!r}")
        value = value.strip()
        if pattern is not None and not pattern.fullmatch(value):
            self.fail(f"{key} {value!r} does not match {pattern.pattern}")
        return value

    def optional_text(self, key: str) -> str | None:
        """A string or None when absent or empty."""
        value = self.data.get(key)
        if value is None or value == "":
            return None
        return self.text(key)

    def integer(self, key: str, minimum: int = 0) -> int:
        """An integer >= minimum."""
        value = self.raw(key)
        if self.from_csv:
            try:
                value = int(value)
            except ValueError:
                self.fail(f"{key} must be an integer, got {value!r}")
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(f"{key} must be an integer, got {value!r}")
        if value < minimum:
            self.fail(f"{key} must be >= {minimum}, got {value}")
        return value

    def number(self, key: str, low: float, high: float) -> float:
        """A number within [low, high]."""
        value = self.raw(key)
        if self.from_csv:
            try:
                value = float(value)
            except ValueError:
                self.fail(f"{key} must be a number, got {value!r}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(f"{key} must be a number, got {value!r}")
        number = float(value)
        if not low <= number <= high:
            self.fail(f"{key} {number} is outside [{low}, {high}]")
        return number

    def flag(self, key: str) -> bool:
        """A boolean: true/false in YAML, 0/1 in CSV."""
        value = self.raw(key)
        if self.from_csv:
            if value not in ("0", "1"):
                self.fail(f"{key} must be 0 or 1, got {value!r}")
            return str(value) == "1"
        if not isinstance(value, bool):
            self.fail(f"{key} must be true or false, got {value!r}")
        return bool(value)

    def day(self, key: str) -> date:
        """An ISO date (YYYY-MM-DD)."""
        value = self.raw(key)
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{key} must be a date YYYY-MM-DD, got {value!r}")

    def optional_day(self, key: str) -> date | None:
        """An ISO date, or None when absent or empty."""
        value = self.data.get(key)
        return None if value is None or value == "" else self.day(key)

    def member(self, key: str, allowed: tuple[_Name, ...]) -> _Name:
        """The value of ``key`` as the member of ``allowed`` it equals (typed as the Literal)."""
        value = self.text(key)
        for candidate in allowed:
            if candidate == value:
                return candidate
        self.fail(f"{key} {value!r} is not one of {list(allowed)}")

    def sequence(self, key: str, allow_empty: bool = True) -> _Seq:
        """A YAML list."""
        value = self.data.get(key)
        if not isinstance(value, _Seq):
            self.fail(f"{key} must be a list")
        if not allow_empty and not value:
            self.fail(f"{key} must not be empty")
        return value


def _top_list(path: Path, doc: _Map, key: str) -> _Seq:
    value = doc.get(key)
    if not isinstance(value, _Seq):
        raise CatalogueError(path, doc.line, f"expected a list under {key!r}")
    return value


# --- administrative units -------------------------------------------------------------------


def _communes(data_dir: Path) -> dict[str, str]:
    """Commune code -> province code, from units/communes.csv."""
    return {
        r.text("code", _COMMUNE_CODE): r.text("province_code", _PROVINCE_CODE)
        for r in _read_csv(data_dir / "units" / "communes.csv", ("code", "province_code"))
    }


def _provinces(data_dir: Path) -> set[str]:
    path = data_dir / "units" / "provinces.csv"
    return {r.text("code", _PROVINCE_CODE) for r in _read_csv(path, ("code",))}


# --- localities -----------------------------------------------------------------------------


def list_localities(data_dir: Path) -> list[str]:
    """Slugs of the localities under data_dir (directories holding a locality.yaml)."""
    if not data_dir.is_dir():
        return []
    return sorted(p.name for p in data_dir.iterdir() if (p / "locality.yaml").is_file())


def load_locality(data_dir: Path, slug: str) -> LocalityData:
    """Parse and check <data_dir>/<slug>/{locality.yaml, post_offices.yaml, desks.csv}."""
    folder = data_dir / slug
    path = folder / "locality.yaml"
    doc = _read_yaml(path)
    head = _Record(path, doc.line, doc, from_csv=False)
    if head.text("slug") != slug:
        head.fail(f"slug {head.text('slug')!r} differs from the directory name {slug!r}")
    province = head.text("province_code", _PROVINCE_CODE)
    if province not in _provinces(data_dir):
        head.fail(f"province_code {province!r} is not in units/provinces.csv")
    timezone = head.text("timezone")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        head.fail(f"unknown timezone {timezone!r}")
    default_capacity = head.integer("default_slot_capacity", minimum=1)
    profiles = _hours_profiles(path, doc)
    communes = _communes(data_dir)
    post_offices = _post_offices(folder / "post_offices.yaml", province, communes, default_capacity)
    known_profiles = {p.name for p in profiles}
    desks = _desks(folder / "desks.csv", province, communes, known_profiles)
    return LocalityData(
        slug=slug,
        name=head.text("name"),
        province_code=province,
        timezone=timezone,
        default_slot_capacity=default_capacity,
        hours_profiles=profiles,
        post_offices=post_offices,
        desks=desks,
    )


def _hours_profiles(path: Path, doc: _Map) -> tuple[HoursProfileData, ...]:
    profiles = doc.get("hours_profiles")
    if not isinstance(profiles, _Map) or not profiles:
        raise CatalogueError(path, doc.line, "hours_profiles must be a non-empty mapping")
    result = []
    for name, week in profiles.items():
        if not isinstance(week, _Map):
            raise CatalogueError(path, profiles.line, f"hours profile {name!r} must be a mapping")
        for day, windows in week.items():
            _check_day(path, str(name), day, windows, week.line)
        try:
            hours = desk_hours_from_profile(week)
        except ValidationFailed as exc:
            raise CatalogueError(path, week.line, f"hours profile {name!r}: {exc.detail}") from None
        result.append(HoursProfileData(str(name), hours))
    return tuple(result)


def _check_day(path: Path, profile: str, day: Any, windows: Any, line: int) -> None:
    """Windows of one day: ["HH:MM","HH:MM"] pairs, each opening before it closes, in order."""
    where = f"hours profile {profile!r}, {day}"
    if day not in WEEKDAY_KEYS:
        raise CatalogueError(path, line, f"{where}: unknown day, use {list(WEEKDAY_KEYS)}")
    if not isinstance(windows, _Seq):
        raise CatalogueError(path, line, f"{where}: expected a list of [start, end] windows")
    parsed: list[Window] = []
    for window, window_line in zip(windows, windows.item_lines, strict=True):
        ok = isinstance(window, list) and len(window) == 2
        if not ok or not all(isinstance(t, str) and _HHMM.fullmatch(t) for t in window):
            raise CatalogueError(
                path, window_line, f'{where}: {window!r} is not ["HH:MM", "HH:MM"] (quoted)'
            )
        start, end = (time.fromisoformat(t) for t in window)
        if not start < end:
            raise CatalogueError(
                path, window_line, f"{where}: window {window} ends before it opens"
            )
        parsed.append(Window(start, end))
    # Touching windows (…-12:00, 12:00-…) are allowed, as in postal.calendar.
    for before, after in pairwise(parsed):
        if after.start < before.end:
            raise CatalogueError(
                path,
                windows.line,
                f"{where}: windows {before} and {after} overlap or are unordered",
            )


def _post_offices(
    path: Path, province: str, communes: Mapping[str, str], default_capacity: int
) -> tuple[PostOfficeData, ...]:
    doc = _read_yaml(path)
    entries = _top_list(path, doc, "post_offices")
    served_by: dict[str, str] = {}
    codes: set[str] = set()
    result = []
    for value, line in zip(entries, entries.item_lines, strict=True):
        rec = _Record.of(path, value, line, "a post office")
        code = rec.text("code", _POST_OFFICE_CODE)
        if code in codes:
            rec.fail(f"post office code {code} appears twice")
        codes.add(code)
        capacity = (
            rec.integer("slot_capacity", minimum=1)
            if rec.data.get("slot_capacity") is not None
            else default_capacity
        )
        served = rec.sequence("communes")
        for commune, commune_line in zip(served, served.item_lines, strict=True):
            _check_commune(rec, commune, commune_line, province, communes)
            if commune in served_by:
                rec.fail(
                    f"commune {commune} is already served by post office {served_by[commune]}",
                    commune_line,
                )
            served_by[commune] = code
        result.append(
            PostOfficeData(
                code=code,
                name=rec.text("name"),
                address=rec.text("address"),
                lat=rec.number("lat", -90, 90),
                lon=rec.number("lon", -180, 180),
                slot_capacity=capacity,
                location_note=rec.optional_text("location_note") or "",
                commune_codes=tuple(served),
            )
        )
    unserved = sorted(c for c, p in communes.items() if p == province and c not in served_by)
    if unserved:
        raise CatalogueError(
            path, entries.line, f"communes served by no post office: {', '.join(unserved)}"
        )
    return tuple(result)


def _check_commune(
    rec: _Record, commune: Any, line: int, province: str, communes: Mapping[str, str]
) -> None:
    if not isinstance(commune, str) or not _COMMUNE_CODE.fullmatch(commune):
        rec.fail(f"commune code {commune!r} must be a quoted 5-digit string", line)
    if commune not in communes:
        rec.fail(f"commune {commune} is not in units/communes.csv", line)
    if communes[commune] != province:
        rec.fail(f"commune {commune} belongs to province {communes[commune]}, not {province}", line)


def _desks(
    path: Path, province: str, communes: Mapping[str, str], profiles: set[str]
) -> tuple[DeskData, ...]:
    result = []
    codes: set[str] = set()
    for rec in _read_csv(path, _DESK_COLUMNS):
        code = rec.text("code")
        if code in codes:
            rec.fail(f"desk code {code} appears twice")
        codes.add(code)
        commune = rec.text("commune_code")
        _check_commune(rec, commune, rec.line, province, communes)
        profile = rec.text("hours_profile")
        if profile not in profiles:
            rec.fail(f"hours_profile {profile!r} is not defined in locality.yaml")
        levels = _levels(rec)
        result.append(
            DeskData(
                code=code,
                commune_code=commune,
                name=rec.text("name"),
                address=rec.text("address"),
                lat=rec.number("lat", -90, 90),
                lon=rec.number("lon", -180, 180),
                location_approximate=rec.flag("location_approximate"),
                hours_profile=profile,
                accepted_levels=levels,
            )
        )
    return tuple(result)


def _levels(rec: _Record) -> tuple[ProcedureLevelName, ...]:
    """accepted_levels: ';'-separated procedure levels, e.g. "commune;province"."""
    result: list[ProcedureLevelName] = []
    for given in rec.text("accepted_levels").split(";"):
        level = next((lv for lv in PROCEDURE_LEVELS if lv == given.strip()), None)
        if level is None or level in result:
            rec.fail(f"accepted_levels must be ';'-separated, distinct {list(PROCEDURE_LEVELS)}")
        result.append(level)
    return tuple(result)


# --- procedures -----------------------------------------------------------------------------


def load_procedures(data_dir: Path) -> list[ProcedureData]:
    """Parse and check catalogue/procedures.yaml."""
    path = data_dir / "catalogue" / "procedures.yaml"
    doc = _read_yaml(path)
    entries = _top_list(path, doc, "procedures")
    result: list[ProcedureData] = []
    seen: dict[str, int] = {}
    for value, line in zip(entries, entries.item_lines, strict=True):
        rec = _Record.of(path, value, line, "a procedure")
        code = rec.text("code", _PROCEDURE_CODE)
        if code in seen:
            rec.fail(f"procedure code {code} already used at line {seen[code]}")
        seen[code] = rec.line
        pickup, delivery = rec.flag("dossier_pickup"), rec.flag("result_delivery")
        in_person = rec.flag("in_person_only")
        if in_person and (pickup or delivery):
            rec.fail(f"{code} is in_person_only: dossier_pickup and result_delivery must be false")
        if not in_person and not (pickup or delivery):
            rec.fail(f"{code} allows neither pickup nor delivery: set in_person_only: true")
        result.append(
            ProcedureData(
                code=code,
                name=rec.text("name"),
                name_en=rec.text("name_en"),
                level=rec.member("level", PROCEDURE_LEVELS),
                field=rec.text("field"),
                dossier_pickup=pickup,
                result_delivery=delivery,
                in_person_only=in_person,
                processing_days=rec.integer("processing_days"),
                fee_vnd=rec.integer("fee_vnd"),
                documents=_documents(rec),
                code_note=rec.optional_text("code_note"),
            )
        )
    return result


def _documents(rec: _Record) -> tuple[DocumentData, ...]:
    docs = rec.sequence("documents")
    result = []
    for value, line in zip(docs, docs.item_lines, strict=True):
        doc = _Record.of(rec.path, value, line, "a document")
        result.append(
            DocumentData(
                name=doc.text("name"),
                kind=doc.member("kind", DOCUMENT_KINDS),
                quantity=doc.integer("quantity", minimum=1),
            )
        )
    return tuple(result)


# --- tariffs --------------------------------------------------------------------------------


def load_tariffs(data_dir: Path) -> list[TariffData]:
    """Parse catalogue/tariffs.csv; periods of one (kind, zone, fee_collection) must not overlap."""
    path = data_dir / "catalogue" / "tariffs.csv"
    rows: list[tuple[int, TariffData]] = []
    for rec in _read_csv(path, _TARIFF_COLUMNS):
        valid_from = rec.day("valid_from")
        valid_to = rec.optional_day("valid_to")
        if valid_to is not None and valid_to < valid_from:
            rec.fail(f"valid_to {valid_to} is before valid_from {valid_from}")
        tariff = TariffData(
            valid_from=valid_from,
            valid_to=valid_to,
            item_kind=rec.member("item_kind", ITEM_KINDS),
            zone=rec.member("zone", TARIFF_ZONES),
            fee_collection=rec.flag("fee_collection"),
            amount_vnd=rec.integer("amount_vnd"),
        )
        for other_line, other in rows:
            if _same_key(tariff, other) and _overlap(tariff, other):
                rec.fail(f"period overlaps the tariff at line {other_line} for the same item")
        rows.append((rec.line, tariff))
    return [t for _, t in rows]


def _same_key(a: TariffData, b: TariffData) -> bool:
    return (a.item_kind, a.zone, a.fee_collection) == (b.item_kind, b.zone, b.fee_collection)


def _overlap(a: TariffData, b: TariffData) -> bool:
    a_end, b_end = a.valid_to or date.max, b.valid_to or date.max
    return a.valid_from <= b_end and b.valid_from <= a_end


# --- holidays -------------------------------------------------------------------------------


def load_holidays(data_dir: Path) -> HolidayCalendarData:
    """Parse calendar/holidays.yaml: holidays and make-up working Saturdays."""
    path = data_dir / "calendar" / "holidays.yaml"
    doc = _read_yaml(path)
    names: dict[date, str] = {}
    names_en: dict[date, str] = {}
    entries = _top_list(path, doc, "holidays")
    for rec in _records(path, entries, "a holiday"):
        day = _unique_day(rec, names)
        names[day] = rec.text("name")
        names_en[day] = rec.optional_text("name_en") or ""
    saturdays: dict[date, str] = {}
    listed = doc.get("working_saturdays")
    entries = listed if isinstance(listed, _Seq) else _Seq()
    if listed is not None and not isinstance(listed, _Seq):
        raise CatalogueError(path, doc.line, "working_saturdays must be a list")
    for rec in _records(path, entries, "a working Saturday"):
        day = _unique_day(rec, saturdays)
        if day.weekday() != 5:
            rec.fail(f"{day} is a {day:%A}, not a Saturday")
        if day in names:
            rec.fail(f"{day} is also listed as a holiday")
        saturdays[day] = rec.optional_text("note") or ""
    return HolidayCalendarData(names, names_en, saturdays)


def _records(path: Path, entries: _Seq, what: str) -> Iterator[_Record]:
    for value, line in zip(entries, entries.item_lines, strict=True):
        yield _Record.of(path, value, line, what)


def _unique_day(rec: _Record, seen: Mapping[date, str]) -> date:
    day = rec.day("date")
    if day in seen:
        rec.fail(f"date {day} is listed twice")
    return day
