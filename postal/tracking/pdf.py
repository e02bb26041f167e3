"""The printed handover record: one page per 18 items, a QR code per item, fees and dates."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from reportlab.graphics import renderPDF  # type: ignore[import-untyped]
from reportlab.graphics.barcode.qr import QrCodeWidget  # type: ignore[import-untyped]
from reportlab.graphics.shapes import Drawing  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

from postal.config import Settings
from postal.i18n import message
from postal.tracking.schemas import RecordPublic

_FONTS = Path(__file__).parent / "fonts"
_SYSTEM_FONTS = Path("/usr/share/fonts/truetype/dejavu")
ROWS_PER_PAGE = 18


@cache
def _fonts() -> tuple[str, str]:
    """Register a font with Vietnamese letters (DejaVu Sans); Helvetica if none is found."""
    for folder in (_FONTS, _SYSTEM_FONTS):
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            pdfmetrics.registerFont(TTFont("PostalSans", str(regular)))
            pdfmetrics.registerFont(TTFont("PostalSans-Bold", str(bold)))
            return "PostalSans", "PostalSans-Bold"
    return "Helvetica", "Helvetica-Bold"


def _qr(canvas: Canvas, value: str, x: float, y: float, size: float) -> None:
    widget = QrCodeWidget(value)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, x, y)


def _vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " đ"


def render(record: RecordPublic, desk_name: str, settings: Settings, lang: str = "vi") -> bytes:
    """The record as a PDF (A4)."""
    regular, bold = _fonts()
    tz = ZoneInfo(settings.timezone)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4)
    canvas.setTitle(f"{message('ui.record.title', lang)} #{record.id}")
    height = A4[1]
    lines = record.lines
    pages = max(1, (len(lines) + ROWS_PER_PAGE - 1) // ROWS_PER_PAGE)

    def t(key: str, **params: object) -> str:
        return message(f"ui.record.{key}", lang, **params)

    for page in range(pages):
        y = height - 20 * mm
        canvas.setFont(bold, 14)
        canvas.drawString(20 * mm, y, f"{t('title')} #{record.id}")
        canvas.setFont(regular, 9)
        y -= 7 * mm
        canvas.drawString(20 * mm, y, t(f"direction.{record.direction.value}"))
        y -= 5 * mm
        canvas.drawString(20 * mm, y, f"{t('desk')}: {desk_name} ({record.desk_code})")
        y -= 5 * mm
        canvas.drawString(20 * mm, y, f"{t('courier')}: {record.courier_username}")
        y -= 5 * mm
        opened = record.opened_at.astimezone(tz).strftime("%d/%m/%Y %H:%M")
        closed = (
            record.closed_at.astimezone(tz).strftime("%d/%m/%Y %H:%M") if record.closed_at else "-"
        )
        canvas.drawString(20 * mm, y, f"{t('opened')}: {opened}   {t('closed')}: {closed}")
        y -= 5 * mm
        canvas.drawString(20 * mm, y, f"{t('fees')}: {_vnd(record.fees_vnd)}")
        y -= 9 * mm
        canvas.setFont(bold, 9)
        for x, key in ((20, "item"), (75, "finding"), (110, "fee"), (140, "appointment")):
            canvas.drawString(x * mm, y, t(key))
        canvas.setFont(regular, 9)
        for line in lines[page * ROWS_PER_PAGE : (page + 1) * ROWS_PER_PAGE]:
            y -= 12 * mm
            _qr(canvas, line.item_number, 20 * mm, y - 2 * mm, 10 * mm)
            canvas.drawString(33 * mm, y + 2 * mm, line.item_number)
            canvas.drawString(75 * mm, y + 2 * mm, t(f"line.{line.status.value}"))
            canvas.drawString(110 * mm, y + 2 * mm, _vnd(line.fees_vnd) if line.fees_vnd else "-")
            date = line.appointment_date.strftime("%d/%m/%Y") if line.appointment_date else "-"
            canvas.drawString(140 * mm, y + 2 * mm, date)
        if page == pages - 1:
            y -= 16 * mm
            yes, no = t("signed"), t("not_signed")
            canvas.drawString(
                20 * mm, y, f"{t('courier_ack')}: {yes if record.courier_acknowledged else no}"
            )
            canvas.drawString(
                110 * mm, y, f"{t('clerk_ack')}: {yes if record.clerk_acknowledged else no}"
            )
        canvas.setFont(regular, 8)
        canvas.drawString(20 * mm, 10 * mm, t("page", page=page + 1, pages=pages))
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()
