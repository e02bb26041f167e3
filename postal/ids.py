"""Identifiers: UPU S10 item numbers and Vietnamese personal ID numbers (số định danh cá nhân).

Pure functions: the ID prefix table is data (data/units/id_province_codes.csv) passed in by the
caller. Clear ID digits are personal data: apart from ``IdNumber.digits`` nothing here returns
or logs them; store ``IdNumberProtector.hash`` and show ``IdNumberProtector.mask``.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from postal.errors import ValidationFailed

# --- UPU S10 item numbers -------------------------------------------------------------------

S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
# UPU S10 reserves indicators starting with these letters; they never appear on items.
FORBIDDEN_INDICATOR_FIRST_LETTERS = frozenset("JKSTW")
S10_LENGTH = 13
SERIAL_MAX = 99_999_999

_LETTERS2 = re.compile(r"[A-Z]{2}")
_DIGITS = re.compile(r"[0-9]+")
_SPACES = re.compile(r"\s+")

ITEM_NUMBER_CODE = "invalid_item_number"
CHECK_DIGIT_CODE = "item_number_check_digit"


@dataclass(frozen=True, slots=True)
class S10Number:
    """A parsed, valid S10 item number (e.g. EB123456789VN)."""

    indicator: str
    serial: int
    check_digit: int
    country: str

    def __str__(self) -> str:
        return f"{self.indicator}{self.serial:08d}{self.check_digit}{self.country}"


def s10_check_digit(serial: str) -> int:
    """Return the S10 check digit of an 8-digit serial (weights 8,6,4,2,3,5,9,7; mod 11)."""
    if len(serial) != 8 or not _DIGITS.fullmatch(serial):
        raise ValidationFailed(
            ITEM_NUMBER_CODE, "the serial must be exactly 8 digits", field="item_number"
        )
    total = sum(int(digit) * weight for digit, weight in zip(serial, S10_WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 10:
        return 0
    if check == 11:
        return 5
    return check


def validate_service_indicator(indicator: str, field: str = "item_number") -> str:
    """Return the upper-cased 2-letter service indicator, or raise ValidationFailed."""
    ind = indicator.strip().upper()
    if not _LETTERS2.fullmatch(ind):
        raise ValidationFailed(
            ITEM_NUMBER_CODE, "the service indicator must be 2 letters A-Z", field=field
        )
    if ind[0] in FORBIDDEN_INDICATOR_FIRST_LETTERS:
        raise ValidationFailed(
            ITEM_NUMBER_CODE,
            "service indicators starting with J, K, S, T or W are not allowed",
            field=field,
        )
    return ind


def _validate_country(country: str, field: str) -> str:
    code = country.strip().upper()
    if not _LETTERS2.fullmatch(code):
        raise ValidationFailed(ITEM_NUMBER_CODE, "the country code must be 2 letters", field=field)
    return code


def format_s10(indicator: str, serial: int, country: str) -> str:
    """Return the 13-character S10 number for an indicator, a serial and a country code."""
    ind = validate_service_indicator(indicator)
    if not 0 <= serial <= SERIAL_MAX:
        raise ValidationFailed(
            ITEM_NUMBER_CODE, "the serial must be between 0 and 99999999", field="item_number"
        )
    code = _validate_country(country, "item_number")
    digits = f"{serial:08d}"
    return f"{ind}{digits}{s10_check_digit(digits)}{code}"


def parse_s10(text: str, field: str = "item_number") -> S10Number:
    """Parse an S10 number, tolerating lowercase and spaces; raise ValidationFailed if invalid."""
    compact = _SPACES.sub("", text).upper()
    if len(compact) != S10_LENGTH:
        raise ValidationFailed(
            ITEM_NUMBER_CODE,
            "an item number has 13 characters (2 letters, 9 digits, 2 letters), "
            f"not {len(compact)}",
            field=field,
        )
    indicator = validate_service_indicator(compact[:2], field)
    body = compact[2:11]
    if not _DIGITS.fullmatch(body):
        raise ValidationFailed(
            ITEM_NUMBER_CODE, "characters 3 to 11 of an item number must be digits", field=field
        )
    country = _validate_country(compact[11:], field)
    expected = s10_check_digit(body[:8])
    if int(body[8]) != expected:
        raise ValidationFailed(
            CHECK_DIGIT_CODE,
            "the check digit does not match the serial: the number is mistyped",
            field=field,
        )
    return S10Number(indicator, int(body[:8]), expected, country)


# --- Personal ID numbers ----------------------------------------------------------------------

ID_CODE = "invalid_id_number"
ID_LENGTH = 12
LEGACY_ID_LENGTH = 9
MAX_AGE_YEARS = 130
_ID_SEPARATORS = re.compile(r"[\s.]+")


class Sex(StrEnum):
    """Sex as encoded in the ID number's fourth digit."""

    MALE = "male"
    FEMALE = "female"


@dataclass(frozen=True, slots=True)
class IdNumber:
    """A structurally valid ID number; legacy 9-digit numbers carry no structure (fields None)."""

    # repr=False so that logging the object never prints the clear digits.
    digits: str = field(repr=False)
    province_prefix: str | None
    province_name: str | None
    sex: Sex | None
    birth_year: int | None
    legacy: bool


@lru_cache(maxsize=8)
def _read_id_prefixes(path: Path) -> tuple[tuple[str, str], ...]:
    rows: list[tuple[str, str]] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            prefix = row["id_prefix"].strip()
            if len(prefix) != 3 or not prefix.isdigit():
                raise ValueError(f"{path}: bad id_prefix {prefix!r}")
            rows.append((prefix, row["old_province_name"].strip()))
    return tuple(rows)


def load_id_prefixes(data_dir: Path) -> dict[str, str]:
    """Return {3-digit prefix: province name} from data_dir/units/id_province_codes.csv (cached)."""
    path = (data_dir / "units" / "id_province_codes.csv").resolve()
    # The parsed file is cached; each caller gets its own dict so no one can alter the cache.
    return dict(_read_id_prefixes(path))


def normalise_id_digits(text: str) -> str:
    """Strip spaces and dots from a typed ID number (no other validation)."""
    return _ID_SEPARATORS.sub("", text)


def _century_and_sex(code: int) -> tuple[int, Sex]:
    # Circular 07/2016/TT-BCA: 0/1 = 1900s, 2/3 = 2000s, 4/5 = 2100s, 6/7 = 2200s,
    # 8/9 = 2300s; even digits are male, odd digits female.
    return 1900 + 100 * (code // 2), Sex.MALE if code % 2 == 0 else Sex.FEMALE


def parse_id_number(
    text: str, prefixes: Mapping[str, str], today: date, field: str = "id_number"
) -> IdNumber:
    """Validate a 12-digit (or legacy 9-digit) ID number structurally; raise ValidationFailed."""
    digits = normalise_id_digits(text)
    if not digits.isascii() or not digits.isdigit():
        raise ValidationFailed(ID_CODE, "an ID number contains digits only", field=field)
    if len(digits) == LEGACY_ID_LENGTH:
        # Old 9-digit numbers have no documented structure we can check.
        return IdNumber(digits, None, None, None, None, legacy=True)
    if len(digits) != ID_LENGTH:
        raise ValidationFailed(
            ID_CODE,
            f"an ID number has 12 digits (or 9 on old papers), got {len(digits)}",
            field=field,
        )
    prefix = digits[:3]
    # The table is data: the 63 pre-2025 province codes. Births registered abroad use other
    # codes; add them to the data file when their list is confirmed, never here.
    province = prefixes.get(prefix)
    if province is None:
        raise ValidationFailed(
            ID_CODE, "the first 3 digits are not a known province code", field=field
        )
    century, sex = _century_and_sex(int(digits[3]))
    birth_year = century + int(digits[4:6])
    if birth_year > today.year:
        raise ValidationFailed(
            ID_CODE, "digits 4 to 6 give a birth year in the future", field=field
        )
    if birth_year < today.year - MAX_AGE_YEARS:
        raise ValidationFailed(
            ID_CODE,
            f"digits 4 to 6 give a birth year more than {MAX_AGE_YEARS} years ago",
            field=field,
        )
    return IdNumber(digits, prefix, province, sex, birth_year, legacy=False)


class IdNumberProtector:
    """Keyed hash and mask for ID numbers, so clear digits are never stored or shown."""

    __slots__ = ("_key",)

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("IdNumberProtector needs a non-empty secret")
        self._key = secret.encode("utf-8")

    def __repr__(self) -> str:
        return "IdNumberProtector(<secret>)"

    @staticmethod
    def _digits(text: str) -> str:
        digits = normalise_id_digits(text)
        if not digits.isascii() or not digits.isdigit() or len(digits) < 6:
            raise ValidationFailed(ID_CODE, "an ID number contains digits only", field="id_number")
        return digits

    def hash(self, digits: str) -> str:
        """Return the HMAC-SHA256 (hex) of the normalised digits; stable for a given secret."""
        normalised = self._digits(digits)
        return hmac.new(self._key, normalised.encode("ascii"), hashlib.sha256).hexdigest()

    def mask(self, digits: str) -> str:
        """Return the digits with all but the first 3 and last 2 starred: 001*******99."""
        normalised = self._digits(digits)
        return normalised[:3] + "*" * (len(normalised) - 5) + normalised[-2:]

    def matches(self, digits: str, stored_hash: str) -> bool:
        """Tell whether typed digits hash to stored_hash (constant-time); False if malformed."""
        try:
            candidate = self.hash(digits)
        except ValidationFailed:
            return False
        return hmac.compare_digest(candidate.encode("ascii"), stored_hash.lower().encode("utf-8"))
