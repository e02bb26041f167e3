"""Find items by their S10 number and name the parties that hold them."""

from __future__ import annotations

from sqlmodel import Session, col, select

from postal.auth.models import Role
from postal.auth.service import Principal
from postal.booking.models import Item
from postal.errors import NotFound
from postal.ids import parse_s10

CITIZEN = "citizen"


def courier_party(username: str) -> str:
    """The party string of a courier."""
    return f"courier:{username}"


def desk_party(code: str) -> str:
    """The party string of a desk."""
    return f"desk:{code}"


def post_office_party(code: str) -> str:
    """The party string of a post office."""
    return f"post_office:{code}"


def actor_of(principal: Principal) -> str:
    """Who acted, as written in the ledger."""
    return f"{principal.role.value}:{principal.username or '-'}"


def find_item(session: Session, number: str, field: str = "item_number") -> Item:
    """The newest item with this S10 number (numbers may be reissued after 12 months).

    422 for a malformed number or a wrong check digit, 404 when no item has it.
    """
    parsed = str(parse_s10(number, field))
    item = session.exec(
        select(Item).where(Item.number == parsed).order_by(col(Item.id).desc()).limit(1)
    ).first()
    if item is None:
        raise NotFound("unknown_item", field=field, number=parsed)
    return item


def holds(principal: Principal, holder: str) -> bool:
    """Whether the principal holds an item whose holder is ``holder``."""
    if principal.role == Role.courier and principal.username:
        if holder == courier_party(principal.username):
            return True
        # An item left at a post office may be taken on by any courier of that office.
        return any(holder == post_office_party(c) for c in principal.post_office_codes)
    if principal.role == Role.clerk and principal.desk_code:
        return holder == desk_party(principal.desk_code)
    return principal.role == Role.admin
