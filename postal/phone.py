"""Vietnamese phone numbers: normalise to E.164, mask for display, tell mobiles from landlines."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberType

from postal.errors import ValidationFailed

REGION = "VN"
PHONE_CODE = "invalid_phone"
MAX_PHONE_TEXT = 32
# Only characters people really type in a phone number: no letters (phonenumbers would turn
# vanity letters into digits) and no extensions.
_ALLOWED = re.compile(r"[0-9+\s().\-]+")
_ACCEPTED_TYPES = frozenset(
    {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
)


def _parse_vn(text: str, field: str) -> PhoneNumber:
    if not text or len(text) > MAX_PHONE_TEXT or not _ALLOWED.fullmatch(text.strip()):
        raise ValidationFailed(PHONE_CODE, "a phone number contains digits only", field=field)
    try:
        number = phonenumbers.parse(text, REGION)
    except NumberParseException as exc:
        raise ValidationFailed(PHONE_CODE, "this is not a phone number", field=field) from exc
    if phonenumbers.region_code_for_number(number) != REGION:
        raise ValidationFailed(
            PHONE_CODE, "only Vietnamese phone numbers are accepted", field=field
        )
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed(PHONE_CODE, "this is not a valid Vietnamese number", field=field)
    return number


def normalise_phone(text: str, field: str = "phone") -> str:
    """Return the E.164 form (+84...) of a Vietnamese mobile or landline; raise ValidationFailed."""
    number = _parse_vn(text, field)
    if phonenumbers.number_type(number) not in _ACCEPTED_TYPES:
        raise ValidationFailed(
            PHONE_CODE, "give a mobile or landline number (not a hotline or service)", field=field
        )
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def mask_phone(e164: str) -> str:
    """Return the national form with the middle starred, e.g. +84912345678 -> 091****678."""
    number = _parse_vn(e164, "phone")
    national = "0" + str(number.national_number)
    return national[:3] + "*" * (len(national) - 6) + national[-3:]


def is_mobile(e164: str) -> bool:
    """Tell whether a number is a Vietnamese mobile (OTPs go only to mobiles); False if invalid."""
    try:
        number = _parse_vn(e164, "phone")
    except ValidationFailed:
        return False
    return bool(phonenumbers.number_type(number) == PhoneNumberType.MOBILE)
