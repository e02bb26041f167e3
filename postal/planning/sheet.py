"""The printable route sheet of one courier's route (A4 PDF): the courier's full name, the
date, and the stops in order with the citizen's window, the item, and the fees to collect.

Fees to collect at a citizen's door: at a dossier pickup the postal charge, plus the
procedure fee when the booking asks the post to collect it; at the delivery of a result the
citizen booked alone (result delivery), the postal charge. Desks collect nothing. The
citizen's name is masked as on the courier's page; the address is what the courier needs.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from sqlmodel import Session, col, select

from postal.booking.models import Booking, ServiceForm
from postal.catalogue.models import Desk, PostOffice
from postal.config import Settings
from postal.i18n import message
from postal.pdf_fonts import vietnamese_fonts
from postal.planning.models import PlannedRoute, PlannedStop, StopPlace
from postal.planning.service import route_stops
from postal.tracking.public import mask_name


def _vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " đ"


@dataclass(frozen=True)
class SheetLine:
    """One stop as printed."""

    sequence: int
    eta: str
    window: str
    what: str
    item_number: str
    where: str
    fee_vnd: int


def fee_to_collect(stop: PlannedStop, booking: Booking | None) -> int:
    """What the courier collects at this stop, in đồng (see the module's docstring)."""
    if booking is None or stop.place != StopPlace.citizen:
        return 0
    if stop.kind == "pickup":
        return booking.postal_fee_vnd + (booking.procedure_fee_vnd if booking.fee_collection else 0)
    if booking.service_form == ServiceForm.result_delivery:
        return booking.postal_fee_vnd
    return 0


def sheet_lines(
    session: Session, settings: Settings, route: PlannedRoute, lang: str
) -> list[SheetLine]:
    """The route's stops as the sheet prints them."""
    tz = ZoneInfo(settings.timezone)
    stops = route_stops(session, route.id or 0)
    refs = sorted({s.booking_reference for s in stops})
    bookings = {
        b.reference: b
        for b in session.exec(select(Booking).where(col(Booking.reference).in_(refs))).all()
    }
    desks = {
        d.code: d
        for d in session.exec(
            select(Desk).where(col(Desk.code).in_(sorted({s.desk_code for s in stops})))
        ).all()
    }
    lines = []
    for s in stops:
        booking = bookings.get(s.booking_reference)
        window = ""
        if s.window_start and s.window_end:
            window = f"{s.window_start.astimezone(tz):%H:%M}–{s.window_end.astimezone(tz):%H:%M}"
        kind = message("ui.map.pickup" if s.kind == "pickup" else "ui.map.delivery", lang)
        if s.place == StopPlace.desk:
            desk = desks.get(s.desk_code)
            where = f"{message('ui.map.desk', lang)}: {desk.name if desk else s.desk_code}"
        elif booking is not None:
            where = f"{mask_name(booking.citizen_name)} · {booking.address_text}"
        else:
            where = s.booking_reference
        lines.append(
            SheetLine(
                sequence=s.sequence,
                eta=f"{s.arrival_at.astimezone(tz):%H:%M}",
                window=window,
                what=kind,
                item_number=s.item_number,
                where=f"{where} ({s.booking_reference})",
                fee_vnd=fee_to_collect(s, booking),
            )
        )
    return lines


def render_sheet(session: Session, settings: Settings, route: PlannedRoute, lang: str) -> bytes:
    """The route sheet as an A4 PDF."""
    regular, bold = vietnamese_fonts()
    tz = ZoneInfo(settings.timezone)

    def t(key: str, **params: object) -> str:
        return message(f"dispatcher.sheet.{key}", lang, **params)

    office = session.get(PostOffice, route.post_office_code)
    lines = sheet_lines(session, settings, route, lang)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title=f"{t('title')} — {route.courier_label}",
        author=office.name if office else route.post_office_code,
    )
    body = ParagraphStyle("body", fontName=regular, fontSize=8.5, leading=10.5)
    head = ParagraphStyle("head", fontName=bold, fontSize=14, leading=17)
    strong = ParagraphStyle("strong", parent=body, fontName=bold)
    day = route.start_at.astimezone(tz).date()
    story = [
        Paragraph(t("title"), head),
        Spacer(1, 2 * mm),
        Paragraph(f"{t('courier')}: <b>{route.courier_label}</b>", body),
        Paragraph(f"{t('date')}: <b>{day:%d/%m/%Y}</b>", body),
        Paragraph(
            f"{t('post_office')}: {office.name if office else ''} ({route.post_office_code})",
            body,
        ),
        Paragraph(
            t(
                "summary",
                start=f"{route.start_at.astimezone(tz):%H:%M}",
                end=f"{route.end_at.astimezone(tz):%H:%M}",
                stops=route.stop_count,
                km=f"{route.distance_m / 1000:.1f}",
            ),
            body,
        ),
        Spacer(1, 4 * mm),
    ]
    header = [
        Paragraph(t(k), strong) for k in ("seq", "eta", "window", "what", "item", "where", "fee")
    ]
    rows = [header]
    for line in lines:
        rows.append(
            [
                Paragraph(str(line.sequence), body),
                Paragraph(line.eta, body),
                Paragraph(line.window or "—", body),
                Paragraph(line.what, body),
                Paragraph(line.item_number, body),
                Paragraph(line.where, body),
                Paragraph(_vnd(line.fee_vnd) if line.fee_vnd else "—", body),
            ]
        )
    total = sum(line.fee_vnd for line in lines)
    rows.append(
        [Paragraph("", body)] * 5
        + [Paragraph(t("total_fees"), strong), Paragraph(_vnd(total), strong)]
    )
    widths = [8 * mm, 13 * mm, 22 * mm, 14 * mm, 30 * mm, 75 * mm, 24 * mm]
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -2), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story += [
        table,
        Spacer(1, 10 * mm),
        Paragraph(f"{t('signature')}: ______________________", body),
    ]
    doc.build(story)
    return buffer.getvalue()
