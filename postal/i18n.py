"""Messages in Vietnamese (default) and English, from postal/locales/<lang>.yaml and the
per-page files postal/locales/<lang>/*.yaml (a key defined twice is an error)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
_DIR = Path(__file__).parent / "locales"


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The flat message catalogue of a language (key -> template)."""
    merged: dict[str, str] = {}
    for path in [_DIR / f"{lang}.yaml", *sorted((_DIR / lang).glob("*.yaml"))]:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        assert isinstance(data, dict), path
        for key, value in data.items():
            if str(key) in merged:
                raise ValueError(f"message {key} is defined twice ({path.name})")
            merged[str(key)] = str(value)
    return merged


def pick_language(accept_language: str | None) -> str:
    """The best supported language for an Accept-Language header (vi when none matches)."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        bits = part.strip().split(";")
        tag = bits[0].strip().lower().split("-")[0]
        q = 1.0
        for b in bits[1:]:
            if b.strip().startswith("q="):
                try:
                    q = float(b.strip()[2:])
                except ValueError:
                    q = 0.0
        ranked.append((q, tag))
    for _, tag in sorted(ranked, key=lambda x: -x[0]):
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE


def message(code: str, lang: str, **params: Any) -> str:
    """The text of ``code`` in ``lang``, falling back to English, then to the code itself."""
    for candidate in (lang, "en"):
        template = catalogue(candidate if candidate in LANGUAGES else DEFAULT_LANGUAGE).get(code)
        if template is not None:
            try:
                return template.format(**params)
            except (KeyError, IndexError, ValueError):
                return template
    return code
