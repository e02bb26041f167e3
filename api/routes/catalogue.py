"""Public reference data: procedures with their document lists, desks, communes, post offices."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlmodel import col, select

from api.deps import SessionDep, SettingsDep
from postal.catalogue import service as catalogue
from postal.catalogue.models import Desk, PostOffice, Procedure, ProcedureLevel
from postal.errors import NotFound
from postal.geo.gazetteer import Gazetteer

router = APIRouter(tags=["catalogue"])
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


class DocumentOut(BaseModel):
    """One document of a procedure's list."""

    name: str
    kind: str
    quantity: int


class ProcedureOut(BaseModel):
    """A procedure of the catalogue (public)."""

    code: str
    name: str
    name_en: str
    level: ProcedureLevel
    field_name: str
    dossier_pickup: bool
    result_delivery: bool
    in_person_only: bool
    processing_days: int
    fee_vnd: int
    documents: list[DocumentOut]


class DeskOut(BaseModel):
    """A one-stop desk (public)."""

    code: str
    name: str
    commune_code: str
    address: str
    lat: float
    lon: float
    location_approximate: bool


class CommuneOut(BaseModel):
    """A commune (public)."""

    code: str
    name: str
    full_name: str
    province_code: str
    label_lat: float
    label_lon: float


class PostOfficeOut(BaseModel):
    """A post office (public)."""

    code: str
    name: str
    address: str
    lat: float
    lon: float


def _procedure_out(session: SessionDep, p: Procedure) -> ProcedureOut:
    docs = catalogue.procedure_documents(session, p.code)
    return ProcedureOut(
        **p.model_dump(),
        documents=[DocumentOut(name=d.name, kind=str(d.kind), quantity=d.quantity) for d in docs],
    )


@router.get(
    "/procedures",
    response_model=list[ProcedureOut],
    summary="Procedures of the catalogue (public)",
    description="`eligible=true` keeps those the post can carry (pickup or delivery).",
)
def list_procedures(session: SessionDep, eligible: bool | None = None) -> list[ProcedureOut]:
    """The catalogue, ordered by code."""
    rows = session.exec(select(Procedure).order_by(col(Procedure.code))).all()
    if eligible is not None:
        rows = [p for p in rows if (p.dossier_pickup or p.result_delivery) == eligible]
    return [_procedure_out(session, p) for p in rows]


@router.get(
    "/procedures/{code}",
    response_model=ProcedureOut,
    summary="One procedure with its document list (public)",
    responses={404: {"description": "Unknown procedure", **_PROBLEM}},
)
def read_procedure(code: str, session: SessionDep) -> ProcedureOut:
    """A procedure by code."""
    p = session.get(Procedure, code)
    if p is None:
        raise NotFound("unknown_procedure")
    return _procedure_out(session, p)


@router.get("/desks", response_model=list[DeskOut], summary="One-stop desks (public)")
def list_desks(session: SessionDep, commune_code: str | None = None) -> list[DeskOut]:
    """Desks, optionally those of one commune."""
    query = select(Desk).order_by(col(Desk.name))
    if commune_code:
        query = query.where(Desk.commune_code == commune_code)
    return [DeskOut(**d.model_dump()) for d in session.exec(query).all()]


@router.get("/post-offices", response_model=list[PostOfficeOut], summary="Post offices (public)")
def list_post_offices(session: SessionDep) -> list[PostOfficeOut]:
    """Every post office."""
    rows = session.exec(select(PostOffice).order_by(col(PostOffice.code))).all()
    return [PostOfficeOut(**p.model_dump()) for p in rows]


@router.get(
    "/communes",
    response_model=list[CommuneOut],
    summary="Find a commune by name (public, accent-insensitive; old names resolve)",
)
def search_communes(
    settings: SettingsDep,
    q: Annotated[str, Query(min_length=1, max_length=100)],
    province_code: str | None = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[CommuneOut]:
    """Gazetteer search: new names first, then pre-2025 names through the mapping."""
    gaz = Gazetteer.load(settings.data_dir)
    found = gaz.resolve(q, province_code=province_code)[:limit]
    return [
        CommuneOut(
            code=c.code,
            name=c.name,
            full_name=c.full_name,
            province_code=c.province_code,
            label_lat=c.label_lat,
            label_lon=c.label_lon,
        )
        for c in found
    ]
