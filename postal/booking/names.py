"""Names on the citizen pages in the page's language: communes, desks, documents."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from sqlmodel import Session

from postal.catalogue import service as catalogue
from postal.catalogue.models import Commune

_COMMUNE_TYPES_EN = {"Phường": "Ward", "Xã": "Commune", "Đặc khu": "Special zone"}


def commune_name(commune: Commune, lang: str) -> str:
    """``Phường Ba Đình`` in Vietnamese, ``Ba Dinh Ward`` in English."""
    if lang != "en":
        return commune.full_name
    kind = _COMMUNE_TYPES_EN.get(commune.type, "")
    return f"{commune.name_en} {kind}".strip()


def desk_name(session: Session, desk_code: str, lang: str) -> str:
    """The desk's name; in English derived from its commune (the data holds Vietnamese only)."""
    desk = catalogue.get_desk(session, desk_code)
    if lang != "en":
        return desk.name
    commune = session.get(Commune, desk.commune_code)
    return f"One-stop desk, {commune_name(commune, lang)}" if commune else desk.name


@cache
def _document_names_en(path: Path, mtime: float) -> dict[tuple[str, int], str]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    names: dict[tuple[str, int], str] = {}
    for proc in doc.get("procedures", []):
        for position, d in enumerate(proc.get("documents") or [], start=1):
            if d.get("name_en"):
                names[(str(proc["code"]), position)] = str(d["name_en"])
    return names


def document_names_en(data_dir: Path) -> dict[tuple[str, int], str]:
    """English names of the procedures' documents, by (procedure code, position), from
    catalogue/procedures.yaml (``name_en`` of each document; the database holds only the
    Vietnamese name)."""
    path = data_dir / "catalogue" / "procedures.yaml"
    return _document_names_en(path, path.stat().st_mtime)


@cache
def _field_names_en(path: Path, mtime: float) -> dict[str, str]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {
        str(proc["field"]): str(proc["field_en"])
        for proc in doc.get("procedures", [])
        if proc.get("field") and proc.get("field_en")
    }


def field_names_en(data_dir: Path) -> dict[str, str]:
    """English names of the procedures' fields (lĩnh vực), by Vietnamese name, from
    catalogue/procedures.yaml (``field_en``)."""
    path = data_dir / "catalogue" / "procedures.yaml"
    return _field_names_en(path, path.stat().st_mtime)
