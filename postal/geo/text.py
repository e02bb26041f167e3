"""Accent-insensitive keys for Vietnamese place names (no unidecode: it is GPL)."""

from __future__ import annotations

import re
import unicodedata

# Words that name the kind of unit rather than the unit itself. Matched on the lower-case text
# with its diacritics, so that "Quan Hóa" (a name) is not mistaken for "Quận" (a type).
_UNIT_TYPES: tuple[str, ...] = (
    "đặc khu",
    "thị trấn",
    "thị xã",
    "thành phố",
    "tp",
    "phường",
    "quận",
    "huyện",
    "tỉnh",
    "xã",
)
# Abbreviations written on envelopes; the dot is what tells them apart from a name.
_UNIT_ABBREVIATIONS: tuple[str, ...] = ("tp.", "tt.", "tx.", "p.", "x.", "q.", "h.")

_D_LETTERS = str.maketrans({"đ": "d", "Đ": "D", "ð": "d", "Ð": "D"})
_APOSTROPHES = re.compile(r"['’‘`ʼ]")
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def strip_marks(s: str) -> str:
    """Remove every diacritic and map đ/Đ to d/D, keeping case and punctuation."""
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFC", s))
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # Đ has no decomposition; Ð (eth) is a common look-alike typed in its place.
    return kept.translate(_D_LETTERS)


def _strip_type(lowered: str) -> str:
    """Drop one leading unit type from NFC lower-case text; unaccented forms only if all is."""
    unaccented = strip_marks(lowered) == lowered
    for word in _UNIT_TYPES:
        forms = {word, strip_marks(word)} if unaccented else {word}
        for form in forms:
            if lowered.startswith(form + " ") and lowered[len(form) :].strip():
                return lowered[len(form) :].lstrip()
    for abbr in _UNIT_ABBREVIATIONS:
        if lowered.startswith(abbr) and lowered[len(abbr) :].strip():
            return lowered[len(abbr) :].lstrip()
    return lowered


def fold(s: str, *, strip_unit_type: bool = False) -> str:
    """Return the accent-, case- and spacing-insensitive key of a Vietnamese name."""
    lowered = " ".join(unicodedata.normalize("NFC", s).lower().split())
    if strip_unit_type:
        lowered = _strip_type(lowered)
    ascii_text = strip_marks(lowered)
    # "B'Lao" and "Blao" are the same place; hyphens and commas separate words.
    ascii_text = _APOSTROPHES.sub("", ascii_text)
    return _NOT_WORD.sub(" ", ascii_text).strip()
