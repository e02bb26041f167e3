"""Vietnamese dictionary order for lists shown to people (communes, desks, procedures).

Letters sort as in a Vietnamese dictionary: a ă â b c d đ e ê g h i k l m n o ô ơ p q r s t
u ư v x y; tone marks only break ties (none, grave, hook, tilde, acute, dot below). Python's
default order puts Đ, Ô and Ư after Y because it compares code points.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

_ALPHABET = "aăâbcdđeêghiklmnoôơpqrstuưvxyfjwz"
_RANK = {letter: i for i, letter in enumerate(_ALPHABET)}
# Combining marks that make a letter of its own (breve, circumflex, horn) stay with the letter;
# tone marks are set aside for the tie-break, in the order dictionaries use.
_LETTER_MARKS = {"\u0306", "\u0302", "\u031b"}
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}


def sort_key(text: str) -> tuple[tuple[int, ...], tuple[int, ...], str]:
    """A key that orders ``text`` as a Vietnamese dictionary does (case-insensitive)."""
    letters: list[int] = []
    tones: list[int] = []
    for char in text.casefold():
        parts = unicodedata.normalize("NFD", char)
        base = "".join(c for c in parts if c not in _TONES)
        tone = max((_TONES.get(c, 0) for c in parts), default=0)
        letter = unicodedata.normalize("NFC", base)
        rank = _RANK.get(letter)
        # Digits, spaces and punctuation sort before letters, among themselves by code point.
        letters.append(100 + rank if rank is not None else ord(letter[:1] or " ") % 100)
        tones.append(tone)
    return tuple(letters), tuple(tones), text


def sorted_vi(items: Iterable[T], key: Callable[[T], str]) -> list[T]:
    """``items`` in Vietnamese dictionary order of ``key(item)``."""
    return sorted(items, key=lambda item: sort_key(key(item)))
