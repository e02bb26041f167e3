"""The font of every printed page (handover records, route sheets): DejaVu Sans has every
Vietnamese letter; Helvetica (without them) only when no copy of it is found."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]

_FONTS = Path(__file__).parent / "tracking" / "fonts"
_SYSTEM_FONTS = Path("/usr/share/fonts/truetype/dejavu")


@cache
def vietnamese_fonts() -> tuple[str, str]:
    """The regular and bold font names to draw with, registered once with reportlab."""
    for folder in (_FONTS, _SYSTEM_FONTS):
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            pdfmetrics.registerFont(TTFont("PostalSans", str(regular)))
            pdfmetrics.registerFont(TTFont("PostalSans-Bold", str(bold)))
            return "PostalSans", "PostalSans-Bold"
    return "Helvetica", "Helvetica-Bold"
