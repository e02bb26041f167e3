"""Accent-insensitive keys for Vietnamese place names (no unidecode: it is GPL)."""

from __future__ import annotations

import re
import unicodedata

# Words that name the kind of unit rather than the unit itself, with their folded canonical
# form. Matched on the lower-case text with its diacritics, so that "Quan Hóa" (a name) is not
# mistaken for "Quận" (a type).
_UNIT_TYPES: tuple[str, ...] = (
    "đặc khu",
    "thị trấn",
    "thị xã",
    "thành phố",
    "phường",
    "quận",
    "huyện",
    "tỉnh",
    "xã",
)
# Abbreviations written on envelopes; the dot is what tells most of them apart from a name.
_UNIT_ABBREVIATIONS: dict[str, str] = {
    "tp.": "thanh pho",
    "tp ": "thanh pho",
    "tt.": "thi tran",
    "tx.": "thi xa",
    "p.": "phuong",
    "x.": "xa",
    "q.": "quan",
    "h.": "huyen",
}

_D_LETTERS = str.maketrans({"đ": "d", "Đ": "D", "ð": "d", "Ð": "D"})
_APOSTROPHES = re.compile(r"['’‘`ʼ]")
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def strip_marks(s: str) -> str:
    """Remove every diacritic and map đ/Đ to d/D, keeping case and punctuation."""
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFC", s))
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # Đ has no decomposition; Ð (eth) is a common look-alike typed in its place.
    return kept.translate(_D_LETTERS)


def _split_type(lowered: str) -> tuple[str | None, str]:
    """(folded unit type, rest) of NFC lower-case text; unaccented types only if all is."""
    unaccented = strip_marks(lowered) == lowered
    for word in _UNIT_TYPES:
        forms = {word, strip_marks(word)} if unaccented else {word}
        for form in forms:
            rest = lowered[len(form) :]
            if lowered.startswith(form + " ") and rest.strip():
                return strip_marks(word), rest.lstrip()
    for abbr, kind in _UNIT_ABBREVIATIONS.items():
        rest = lowered[len(abbr) :]
        if lowered.startswith(abbr) and rest.strip():
            return kind, rest.lstrip()
    return None, lowered


def _lowered(s: str) -> str:
    return " ".join(unicodedata.normalize("NFC", s).lower().split())


def unit_type(s: str) -> str | None:
    """The folded unit type a name starts with ("phuong", "xa", "quan", ...), if any."""
    return _split_type(_lowered(s))[0]


def fold(s: str, *, strip_unit_type: bool = False) -> str:
    """Return the accent-, case- and spacing-insensitive key of a Vietnamese name."""
    lowered = _lowered(s)
    if strip_unit_type:
        lowered = _split_type(lowered)[1]
    ascii_text = strip_marks(lowered)
    # "B'Lao" and "Blao" are the same place; hyphens and commas separate words.
    ascii_text = _APOSTROPHES.sub("", ascii_text)
    return _NOT_WORD.sub(" ", ascii_text).strip()
