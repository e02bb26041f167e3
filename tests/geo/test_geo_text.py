"""fold(): accent-, case-, spacing- and tone-placement-insensitive keys."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postal.geo.text import fold, strip_marks, unit_type


def test_fold_removes_accents_and_maps_d() -> None:
    assert fold("Phường Ba Đình") == "phuong ba dinh"
    assert fold("ĐẮK LẮK") == "dak lak"
    assert strip_marks("Đồng Tháp") == "Dong Thap"


@pytest.mark.parametrize(
    ("a", "b"),
    [("Hòa Bình", "Hoà Bình"), ("Thủy Nguyên", "Thuỷ Nguyên"), ("Khánh Hòa", "Khánh Hoà")],
)
def test_tone_placement_variants_fold_equal(a: str, b: str) -> None:
    assert a != b
    assert fold(a) == fold(b)


def test_decomposed_input_folds_like_composed() -> None:
    composed = "Phường Hoàn Kiếm"
    assert fold(unicodedata.normalize("NFD", composed)) == fold(composed)


def test_whitespace_and_punctuation_collapse() -> None:
    assert fold("  Bà Rịa -  Vũng\tTàu ") == "ba ria vung tau"
    assert fold("B'Lao") == fold("Blao") == "blao"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Phường Ba Đình", "ba dinh"),
        ("phuong ba dinh", "ba dinh"),
        ("P. Ba Đình", "ba dinh"),
        ("P.Ba Đình", "ba dinh"),
        ("Xã Bát Tràng", "bat trang"),
        ("Đặc khu Côn Đảo", "con dao"),
        ("Thị trấn Ba Chẽ", "ba che"),
        ("Thành phố Hà Nội", "ha noi"),
        ("TP Hồ Chí Minh", "ho chi minh"),
        ("Tỉnh Lạng Sơn", "lang son"),
        ("Quận Đống Đa", "dong da"),
        ("Huyện Gia Lâm", "gia lam"),
    ],
)
def test_strip_unit_type(text: str, key: str) -> None:
    assert fold(text, strip_unit_type=True) == key


def test_strip_unit_type_keeps_names_that_only_look_like_types() -> None:
    # "Quan" with accents elsewhere is a name, not the unaccented "Quận".
    assert fold("Quan Hóa", strip_unit_type=True) == "quan hoa"
    # A bare type word is left alone rather than folded to nothing.
    assert fold("Phường", strip_unit_type=True) == "phuong"
    # Only one prefix is removed.
    assert fold("Phường Phường Đúc", strip_unit_type=True) == "phuong duc"


@given(st.text())
def test_fold_is_idempotent_and_ascii(s: str) -> None:
    key = fold(s)
    assert fold(key) == key
    assert key.isascii()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Phường Ba Đình", "phuong"),
        ("xa bat trang", "xa"),
        ("Thị xã Sơn Tây", "thi xa"),
        ("Q. Hoàn Kiếm", "quan"),
        ("TP.HCM", "thanh pho"),
        ("Ba Đình", None),
        ("Quan Hóa", None),
    ],
)
def test_unit_type(text: str, kind: str | None) -> None:
    assert unit_type(text) == kind
