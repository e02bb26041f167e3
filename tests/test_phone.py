"""Vietnamese phone numbers: E.164 normalisation, masking, mobile detection."""

from __future__ import annotations

import pytest

from postal.errors import ValidationFailed
from postal.phone import is_mobile, mask_phone, normalise_phone


@pytest.mark.parametrize(
    "text",
    [
        "0912345678",
        "091 234 5678",
        "+84 912 345 678",
        "84912345678",
        "091-234-5678",
        "(091) 2345678",
    ],
)
def test_mobile_forms_normalise_to_e164(text: str) -> None:
    assert normalise_phone(text) == "+84912345678"


def test_hanoi_landline() -> None:
    assert normalise_phone("0243 826 5544") == "+842438265544"
    assert normalise_phone("+84 24 3826 5544") == "+842438265544"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "digits only"),
        ("12345", "not a valid"),
        ("0912 345 67", "not a valid"),
        ("+1 650 253 0000", "Vietnamese"),
        ("+33 1 42 68 53 00", "Vietnamese"),
        ("0912-FLOWER", "digits only"),
        ("0912345678 ext 12", "digits only"),
        ("1800 1234", "mobile or landline"),
        ("0" * 40, "digits only"),
    ],
)
def test_rejections(text: str, fragment: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        normalise_phone(text, field="recipient_phone")
    assert info.value.code == "invalid_phone"
    assert info.value.field == "recipient_phone"
    assert fragment in info.value.detail


def test_mask() -> None:
    assert mask_phone("+84912345678") == "091****678"
    assert mask_phone("+842438265544") == "024*****544"


def test_is_mobile() -> None:
    assert is_mobile("+84912345678")
    assert is_mobile(normalise_phone("0865 123 456"))
    assert not is_mobile("+842438265544")
    assert not is_mobile("+16502530000")
    assert not is_mobile("garbage")
