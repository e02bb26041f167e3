"""The printed handover record (biên bản giao nhận), laid out as an official record.

National header, title, record number and date, the two parties by full name and role, a
table whose columns suit the direction (dossiers coming in, results going out) with each
line's finding, the counts and fees, signature blocks for both parties, and a QR code that
opens the public verification page of the record (number and content hash).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from urllib.parse import quote
from zoneinfo import ZoneInfo

from reportlab.graphics import renderPDF  # type: ignore[import-untyped]
from reportlab.graphics.barcode.qr import QrCodeWidget  # type: ignore[import-untyped]
from reportlab.graphics.shapes import Drawing  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.lib.utils import simpleSplit  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

from postal.config import Settings
from postal.i18n import message
from postal.pdf_fonts import vietnamese_fonts
from postal.tracking.handover import Printable, PrintedLine
from postal.tracking.models import RecordDirection

LEFT, RIGHT = 15 * mm, A4[0] - 15 * mm
BOTTOM = 18 * mm
LINE = 3.8 * mm  # one line of table text


def _qr(canvas: Canvas, value: str, x: float, y: float, size: float) -> None:
    widget = QrCodeWidget(value)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, x, y)


def _vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " đ"


def verification_url(base_url: str, printable: Printable) -> str:
    """The public page that checks this printed record (number and content hash)."""
    base = base_url.rstrip("/")
    return f"{base}/verify/handover/{quote(printable.number)}?h={printable.content_hash}"


# One column: its message key, its width (mm) and how a line fills it.
Column = tuple[str, float, Callable[[PrintedLine], str]]


def _columns(direction: RecordDirection, t: Callable[..., str]) -> list[Column]:
    def finding(line: PrintedLine) -> str:
        text = t(f"line.{line.status.value}")
        return f"{text}: {line.note}" if line.note else text

    def date(value: dt.date | None) -> str:
        return value.strftime("%d/%m/%Y") if value else "-"

    if direction == RecordDirection.courier_to_desk:
        # Dossiers coming in: seal, fees collected for the agency, and the date the desk
        # gives the courier for the result of each received dossier.
        return [
            ("item", 31, lambda ln: ln.number),
            ("procedure", 44, lambda ln: ln.procedure_name or "-"),
            ("seal", 22, lambda ln: ln.seal_number or "-"),
            ("fee", 20, lambda ln: _vnd(ln.fees_vnd) if ln.fees_vnd else "-"),
            ("finding", 32, finding),
            ("result_appointment", 22, lambda ln: date(ln.appointment_date)),
        ]
    # Results going out: the procedure and the day the citizen expects them.
    return [
        ("item", 31, lambda ln: ln.number),
        ("procedure", 72, lambda ln: ln.procedure_name or "-"),
        ("delivery_date", 24, lambda ln: date(ln.delivery_date)),
        ("finding", 44, finding),
    ]


def render(printable: Printable, settings: Settings, lang: str = "vi", base_url: str = "") -> bytes:
    """The record as an A4 PDF."""
    regular, bold = vietnamese_fonts()
    tz = ZoneInfo(settings.timezone)
    record = printable.record
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4)

    def t(key: str, **params: object) -> str:
        return message(f"ui.record.{key}", lang, **params)

    canvas.setTitle(f"{t('title')} {printable.number}")
    canvas.setAuthor(printable.desk_name)
    width, height = float(A4[0]), float(A4[1])
    pages = [1]

    def text(x: float, y: float, value: str, size: float = 9, font: str = regular) -> None:
        canvas.setFont(font, size)
        canvas.drawString(x, y, value)

    def centred(x: float, y: float, value: str, size: float = 9, font: str = regular) -> None:
        canvas.setFont(font, size)
        canvas.drawCentredString(x, y, value)

    def footer() -> None:
        text(LEFT, 10 * mm, f"{printable.number} · {t('sheet', page=pages[-1])}", 7.5)

    def new_page() -> float:
        footer()
        canvas.showPage()
        pages.append(pages[-1] + 1)
        return float(height - 18 * mm)

    # National header (right) and the issuing side (left).
    y = height - 16 * mm
    left_mid, right_mid = LEFT + 42 * mm, RIGHT - 52 * mm
    centred(left_mid, y, printable.desk_name.upper()[:48], 8.5, bold)
    centred(right_mid, y, t("nation"), 9.5, bold)
    y -= 5 * mm
    centred(left_mid, y, f"{t('number')}: {printable.number}", 9)
    centred(right_mid, y, t("motto"), 9.5, bold)
    motto_w = pdfmetrics.stringWidth(t("motto"), bold, 9.5)
    canvas.line(right_mid - motto_w / 2, y - 1.5 * mm, right_mid + motto_w / 2, y - 1.5 * mm)
    y -= 8 * mm
    opened = record.opened_at.astimezone(tz)
    centred(right_mid, y, t("place_date", d=opened.day, m=opened.month, y=opened.year), 9)
    # The verification QR code, top right under the header.
    url = verification_url(base_url, printable)
    qr_size = 24 * mm
    _qr(canvas, url, RIGHT - qr_size, y - qr_size - 4 * mm, qr_size)
    text(RIGHT - qr_size - 1 * mm, y - qr_size - 7 * mm, t("verify_scan"), 6.5)
    y -= 12 * mm
    centred(width / 2 - 12 * mm, y, t(f"heading.{record.direction.value}").upper(), 13, bold)
    y -= 6 * mm
    centred(width / 2 - 12 * mm, y, t(f"direction.{record.direction.value}"), 9)
    y -= 6 * mm
    when = opened.strftime("%H:%M %d/%m/%Y")
    closed = record.closed_at.astimezone(tz).strftime("%H:%M %d/%m/%Y") if record.closed_at else "-"
    text(LEFT, y, f"{t('opened')}: {when}    {t('closed')}: {closed}")
    y -= 5 * mm
    status = t(f"status.{record.status.value}")
    text(LEFT, y, f"{t('status')}: {status}")
    y -= 7 * mm

    # The parties: who gives and who receives, by full name and role.
    courier_line = (
        f"{t('role.courier')}: {printable.courier.full_name or '....................'}"
        f" — {t('post_office')}: {printable.courier.place or '-'}"
    )
    clerk_line = (
        f"{t('role.clerk')}: {printable.clerk.full_name or '....................'}"
        f" — {printable.clerk.place}"
    )
    giver, receiver = (
        (courier_line, clerk_line)
        if record.direction == RecordDirection.courier_to_desk
        else (clerk_line, courier_line)
    )
    for label, value in ((t("giver"), giver), (t("receiver"), receiver)):
        text(LEFT, y, label, 9.5, bold)
        for part in simpleSplit(value, regular, 9, RIGHT - LEFT - 30 * mm):
            text(LEFT + 30 * mm, y, part)
            y -= 4.6 * mm
        y -= 1.4 * mm
    y -= 2 * mm
    text(LEFT, y, t("agreed"), 9)
    y -= 6 * mm

    # The table.
    columns = _columns(record.direction, t)
    xs = [LEFT + 9 * mm]
    for _, w, _fill in columns:
        xs.append(xs[-1] + w * mm)

    def header_row(y: float) -> float:
        canvas.setLineWidth(0.8)
        canvas.line(LEFT, y + 4 * mm, xs[-1], y + 4 * mm)
        canvas.setFont(bold, 8)
        canvas.drawString(LEFT + 1 * mm, y, t("no"))
        depth = 1
        for (key, w, _fill), x in zip(columns, xs, strict=False):
            parts = simpleSplit(t(key), bold, 8, w * mm - 2 * mm)
            depth = max(depth, len(parts))
            for k, part in enumerate(parts):
                canvas.drawString(x + 1 * mm, y - k * LINE, part)
        bottom = y - (depth - 1) * LINE - 2 * mm
        canvas.line(LEFT, bottom, xs[-1], bottom)
        canvas.setLineWidth(0.2)
        return float(bottom - 4 * mm)

    y = header_row(y)
    for n, line in enumerate(printable.lines, start=1):
        cells = [
            simpleSplit(fill(line), regular, 8, w * mm - 2 * mm)[:3] or ["-"]
            for (_k, w, fill) in columns
        ]
        rows = max(len(c) for c in cells)
        if y - rows * LINE < BOTTOM:
            y = header_row(new_page())
        canvas.setFont(regular, 8)
        canvas.drawString(LEFT + 1 * mm, y, str(n))
        for cell, x in zip(cells, xs, strict=False):
            for k, part in enumerate(cell):
                canvas.drawString(x + 1 * mm, y - k * LINE, part)
        bottom = y - (rows - 1) * LINE - 1.8 * mm
        canvas.line(LEFT, bottom, xs[-1], bottom)
        y = bottom - 4 * mm
    canvas.setLineWidth(1)
    if not printable.lines:
        text(LEFT + 1 * mm, y, "-", 8)
        y -= 5 * mm

    # Counts, fees, then the two signature blocks (kept together on one page).
    c = printable.counts
    summary = t(
        "summary",
        total=c.total,
        received=c.received,
        missing=c.missing,
        damaged=c.seal_damaged,
        not_expected=c.not_expected,
        pending=c.pending,
    )
    block = 62 * mm
    if y - block < BOTTOM:
        y = new_page()
    y -= 3 * mm
    for part in simpleSplit(summary, regular, 9, RIGHT - LEFT):
        text(LEFT, y, part)
        y -= 4.6 * mm
    if record.direction == RecordDirection.courier_to_desk:
        text(LEFT, y, f"{t('fees')}: {_vnd(record.fees_vnd)}")
        y -= 4.6 * mm
    text(LEFT, y, f"{t('content_hash')}: {printable.content_hash}", 6.5)
    y -= 9 * mm
    courier_block = (t("role.courier"), printable.courier)
    clerk_block = (t("role.clerk"), printable.clerk)
    blocks = (
        ((t("giver"), *courier_block), (t("receiver"), *clerk_block))
        if record.direction == RecordDirection.courier_to_desk
        else ((t("giver"), *clerk_block), (t("receiver"), *courier_block))
    )
    for (side, role, party), mid in zip(blocks, (LEFT + 42 * mm, RIGHT - 45 * mm), strict=True):
        centred(mid, y, side.upper(), 9.5, bold)
        centred(mid, y - 4.5 * mm, f"({role})", 8.5)
        centred(mid, y - 8.5 * mm, t("sign_here"), 8)
        if party.signed_at:
            signed = party.signed_at.astimezone(tz).strftime("%H:%M %d/%m/%Y")
            centred(mid, y - 20 * mm, t("signed_at", at=signed), 8)
        centred(mid, y - 32 * mm, party.full_name or "", 9.5, bold)
    footer()
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
