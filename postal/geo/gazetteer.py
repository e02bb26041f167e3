"""The gazetteer: provinces and communes since 1 Jul 2025, and the old-to-new commune mapping.

Loaded from data/units/{provinces,communes,old_to_new}.csv under a data directory; never from
the network. Lookups by name are accent-insensitive (see postal.geo.text.fold).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from postal.errors import NotFound
from postal.geo.text import fold


@dataclass(frozen=True, slots=True)
class Province:
    """A province or centrally-run city (tỉnh / thành phố), one of the 34 since 2025."""

    code: str
    name: str
    full_name: str
    name_en: str
    label_lat: float
    label_lon: float


@dataclass(frozen=True, slots=True)
class Commune:
    """A commune (xã / phường / đặc khu), the lower local-government level since 2025."""

    code: str
    name: str
    full_name: str
    name_en: str
    type: str
    province_code: str
    label_lat: float
    label_lon: float
    area_km2: float


@dataclass(frozen=True, slots=True)
class OldCommune:
    """A pre-2025 commune and the codes of the new communes its territory went to."""

    code: str
    name: str
    province_code: str
    province_name: str
    new_codes: tuple[str, ...]

    @property
    def is_split(self) -> bool:
        """True when the old commune was divided between several new communes."""
        return len(self.new_codes) > 1


# Match tiers, best first: the whole text with its unit type, the bare name, a prefix, a part.
_EXACT_FULL, _EXACT_NAME, _PREFIX, _SUBSTRING = range(4)
_EXACT_TIERS = (_EXACT_FULL, _EXACT_NAME)


@dataclass(frozen=True, slots=True)
class _Keys:
    full: str
    names: tuple[str, ...]


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _tier(keys: _Keys, q_full: str, q_name: str) -> int | None:
    """Rank how well a query matches one place's keys; None when it does not match."""
    if q_full == keys.full:
        return _EXACT_FULL
    if q_name in keys.names or q_full in keys.names:
        return _EXACT_NAME
    if keys.full.startswith(q_full) or any(n.startswith(q_name) for n in keys.names):
        return _PREFIX
    if q_full in keys.full or any(q_name in n for n in keys.names):
        return _SUBSTRING
    return None


class Gazetteer:
    """Provinces, communes and the old-to-new mapping, indexed for lookup by code and name."""

    def __init__(
        self,
        provinces: Iterable[Province],
        communes: Iterable[Commune],
        old_communes: Iterable[OldCommune],
    ) -> None:
        self._provinces = {p.code: p for p in provinces}
        self._communes = {c.code: c for c in communes}
        self._old = {o.code: o for o in old_communes}
        self._by_province: dict[str, list[Commune]] = {code: [] for code in self._provinces}
        for c in self._communes.values():
            self._by_province.setdefault(c.province_code, []).append(c)
        self._keys = {
            c.code: _Keys(
                fold(c.full_name),
                tuple(dict.fromkeys((fold(c.name), fold(c.full_name, strip_unit_type=True)))),
            )
            for c in self._communes.values()
        }
        self._old_by_name: dict[str, list[OldCommune]] = {}
        for o in self._old.values():
            for key in {fold(o.name), fold(o.name, strip_unit_type=True)}:
                self._old_by_name.setdefault(key, []).append(o)

    @classmethod
    def load(cls, data_dir: Path) -> Gazetteer:
        """Load (once per directory) the gazetteer from data_dir/units/*.csv."""
        return _load(Path(data_dir).resolve())

    # -- provinces -------------------------------------------------------------------------

    def provinces(self) -> list[Province]:
        """Every province, by code."""
        return sorted(self._provinces.values(), key=lambda p: p.code)

    def province(self, code: str) -> Province:
        """The province with this code; NotFound(unknown_province) otherwise."""
        try:
            return self._provinces[code]
        except KeyError:
            raise NotFound(
                "unknown_province", f"No province has code {code!r}.", field="province_code"
            ) from None

    def find_province(self, text: str) -> Province | None:
        """The province named (or coded) by text, accent-insensitive; None when none is."""
        key = text.strip()
        if key in self._provinces:
            return self._provinces[key]
        q_full, q_name = fold(text), fold(text, strip_unit_type=True)
        for p in self._provinces.values():
            names = {fold(p.name), fold(p.name_en), fold(p.full_name, strip_unit_type=True)}
            if q_full == fold(p.full_name) or q_name in names or q_full in names:
                return p
        return None

    # -- communes --------------------------------------------------------------------------

    def communes(self) -> list[Commune]:
        """Every commune, by code."""
        return sorted(self._communes.values(), key=lambda c: c.code)

    def commune(self, code: str) -> Commune:
        """The commune with this code; NotFound(unknown_commune) otherwise."""
        try:
            return self._communes[code]
        except KeyError:
            raise NotFound(
                "unknown_commune", f"No commune has code {code!r}.", field="commune_code"
            ) from None

    def communes_of(self, province_code: str) -> list[Commune]:
        """The communes of a province, by code; NotFound(unknown_province) for a bad code."""
        self.province(province_code)
        return sorted(self._by_province.get(province_code, []), key=lambda c: c.code)

    def _ranked(self, text: str, province_code: str | None) -> list[tuple[int, Commune]]:
        q_full, q_name = fold(text), fold(text, strip_unit_type=True)
        if not q_full:
            return []
        pool = self.communes_of(province_code) if province_code is not None else self.communes()
        ranked = []
        for c in pool:
            tier = _tier(self._keys[c.code], q_full, q_name)
            if tier is not None:
                ranked.append((tier, c))
        # sorted() is stable and the pool is in code order, so ties stay in code order.
        return sorted(ranked, key=lambda tc: tc[0])

    def exact(self, text: str, province_code: str | None = None) -> list[Commune]:
        """Communes named exactly by text: with its unit type when one matches, else by name."""
        ranked = self._ranked(text, province_code)
        best = min((tier for tier, _ in ranked), default=None)
        if best is None or best not in _EXACT_TIERS:
            return []
        return [c for tier, c in ranked if tier == best]

    def search(self, text: str, province_code: str | None = None, limit: int = 10) -> list[Commune]:
        """Communes whose name matches text: exact first, then prefix, then substring."""
        return [c for _, c in self._ranked(text, province_code)[:limit]]

    # -- pre-2025 communes -----------------------------------------------------------------

    def _old_province_matches(self, o: OldCommune, old_province: str) -> bool:
        text = old_province.strip()
        if text.isdigit():
            return o.province_code == text.zfill(2)
        q_full, q_name = fold(text), fold(text, strip_unit_type=True)
        name_full, name = fold(o.province_name), fold(o.province_name, strip_unit_type=True)
        return q_full in (name_full, name) or q_name == name

    def old_communes(
        self, old_code_or_name: str, old_province: str | None = None
    ) -> list[OldCommune]:
        """Pre-2025 communes with this code, or this name (in old_province when given)."""
        text = old_code_or_name.strip()
        if text.isdigit():
            found = [self._old[text.zfill(5)]] if text.zfill(5) in self._old else []
        else:
            by_full = self._old_by_name.get(fold(text), [])
            found = by_full or self._old_by_name.get(fold(text, strip_unit_type=True), [])
        if old_province is not None:
            found = [o for o in found if self._old_province_matches(o, old_province)]
        return sorted(found, key=lambda o: o.code)

    def resolve_old(self, old_code_or_name: str, old_province: str | None = None) -> list[Commune]:
        """The new communes a pre-2025 commune became (several when it was split)."""
        codes: dict[str, None] = {}
        for o in self.old_communes(old_code_or_name, old_province):
            codes.update(dict.fromkeys(o.new_codes))
        return [self._communes[code] for code in codes]

    def resolve(self, text: str, province_code: str | None = None) -> list[Commune]:
        """Communes meant by text: exact new names, then old names, then partial new names."""
        exact = self.exact(text, province_code)
        if exact:
            return exact
        old = [
            c
            for c in self.resolve_old(text)
            if province_code is None or c.province_code == province_code
        ]
        return old or self.search(text, province_code, limit=len(self._communes))


def _old_communes(rows: list[dict[str, str]], communes: dict[str, Commune]) -> list[OldCommune]:
    """Group the flat mapping by old commune, repairing target codes absent from communes.csv."""
    by_full_name: dict[str, list[str]] = {}
    for c in communes.values():
        by_full_name.setdefault(fold(c.full_name), []).append(c.code)
    grouped: dict[str, tuple[dict[str, str], dict[str, None]]] = {}
    for row in rows:
        code = row["new_ward_code"]
        if code not in communes:
            # A few rows of the source carry a stale target code; the target name is unique.
            same_name = by_full_name.get(fold(row["new_ward_name"]), [])
            if len(same_name) != 1:
                continue
            code = same_name[0]
        _, targets = grouped.setdefault(row["old_ward_code"], (row, {}))
        targets[code] = None
    return [
        OldCommune(
            code=old_code,
            name=first["old_ward_name"],
            province_code=first["old_province_code"],
            province_name=first["old_province_name"],
            new_codes=tuple(targets),
        )
        for old_code, (first, targets) in grouped.items()
    ]


@lru_cache(maxsize=8)
def _load(data_dir: Path) -> Gazetteer:
    units = data_dir / "units"
    provinces = [
        Province(
            code=r["code"],
            name=r["name"],
            full_name=r["full_name"],
            name_en=r["name_en"],
            label_lat=float(r["label_lat"]),
            label_lon=float(r["label_lon"]),
        )
        for r in _read_csv(units / "provinces.csv")
    ]
    communes = {
        r["code"]: Commune(
            code=r["code"],
            name=r["name"],
            full_name=r["full_name"],
            name_en=r["name_en"],
            type=r["type"],
            province_code=r["province_code"],
            label_lat=float(r["label_lat"]),
            label_lon=float(r["label_lon"]),
            area_km2=float(r["area_km2"]),
        )
        for r in _read_csv(units / "communes.csv")
    }
    old = _old_communes(_read_csv(units / "old_to_new.csv"), communes)
    return Gazetteer(provinces, communes.values(), old)
