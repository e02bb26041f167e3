"""The reference data files parse, hold what the demo needs, and broken copies fail precisely."""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from collections.abc import Callable
from datetime import date, time, timedelta
from pathlib import Path

import pytest

from postal.calendar import Window
from postal.catalogue.files import (
    CatalogueError,
    list_localities,
    load_holidays,
    load_locality,
    load_procedures,
    load_tariffs,
)
from postal.errors import PostalError

DATA = Path(__file__).resolve().parents[2] / "data"


def _hanoi_communes() -> dict[str, dict[str, str]]:
    with (DATA / "units" / "communes.csv").open(encoding="utf-8", newline="") as f:
        return {r["code"]: r for r in csv.DictReader(f) if r["province_code"] == "01"}


# --- the real files ---------------------------------------------------------------------------


def test_hanoi_is_listed() -> None:
    assert "hanoi" in list_localities(DATA)
    assert list_localities(DATA / "no-such-dir") == []


def test_hanoi_locality_counts_and_service_areas() -> None:
    loc = load_locality(DATA, "hanoi")
    communes = _hanoi_communes()
    assert (loc.slug, loc.name, loc.province_code) == ("hanoi", "Hà Nội", "01")
    assert loc.timezone == "Asia/Ho_Chi_Minh"
    assert loc.default_slot_capacity == 60
    assert len(communes) == 126
    assert len(loc.post_offices) == 10
    assert len({po.code for po in loc.post_offices}) == 10
    served = [c for po in loc.post_offices for c in po.commune_codes]
    assert sorted(served) == sorted(communes)  # every commune exactly once
    assert loc.service_areas().keys() == communes.keys()
    assert all(po.commune_codes for po in loc.post_offices)


def test_hanoi_desks_one_per_commune_at_label_point() -> None:
    loc = load_locality(DATA, "hanoi")
    communes = _hanoi_communes()
    assert len(loc.desks) == 126
    assert sorted(d.commune_code for d in loc.desks) == sorted(communes)
    ba_dinh = next(d for d in loc.desks if d.commune_code == "00004")
    assert ba_dinh.code == "MC-00004"
    assert ba_dinh.name == "Bộ phận Một cửa Phường Ba Đình"
    assert ba_dinh.address == communes["00004"]["admin_center_desc"]
    assert (ba_dinh.lat, ba_dinh.lon) == pytest.approx((21.03853, 105.838061))
    assert ba_dinh.location_approximate is True
    assert ba_dinh.accepted_levels == ("commune", "province")
    profiles = Counter(d.hours_profile for d in loc.desks)
    assert profiles["standard"] > 126 / 2
    assert 30 <= profiles["standard_saturday"] <= 55
    assert 1 <= profiles["early"] <= 15


def test_hours_profiles() -> None:
    loc = load_locality(DATA, "hanoi")
    standard = loc.hours_profile("standard").hours
    assert standard[0] == (Window(time(8), time(12)), Window(time(13, 30), time(17)))
    assert 5 not in standard or standard[5] == ()
    assert loc.hours_profile("standard_saturday").hours[5] == (Window(time(8), time(12)),)
    assert loc.hours_profile("early").hours[4][0] == Window(time(7, 30), time(11, 30))
    desk = loc.desks[0]
    assert loc.desk_hours(desk) is loc.hours_profile(desk.hours_profile).hours
    with pytest.raises(KeyError):
        loc.hours_profile("night")


def test_osm_post_offices_keep_their_osm_coordinates() -> None:
    osm = json.loads((DATA / "hanoi" / "osm_service_points_ocd.geojson").read_text("utf-8"))
    points = {
        f["properties"]["name"].lower(): f["geometry"]["coordinates"]
        for f in osm["features"]
        if f["properties"].get("kind") == "post_office"
    }
    loc = load_locality(DATA, "hanoi")
    for name in ("Bưu cục EMS Cát Linh", "Bưu cục Đặng Tiến Đông"):
        po = next(p for p in loc.post_offices if p.name == name)
        lon, lat = points[name.lower()]
        assert (po.lat, po.lon) == (lat, lon)
        assert po.location_note == "OSM"
    assert all(
        p.location_note == "approximate, chosen for the demo"
        for p in loc.post_offices
        if p.name not in ("Bưu cục EMS Cát Linh", "Bưu cục Đặng Tiến Đông")
    )


def test_procedures_catalogue() -> None:
    procs = load_procedures(DATA)
    assert len(procs) >= 34
    assert len({p.code for p in procs}) == len(procs)
    in_person = [p for p in procs if p.in_person_only]
    assert len(in_person) >= 6
    assert all(not p.dossier_pickup and not p.result_delivery for p in in_person)
    forms = Counter((p.dossier_pickup, p.result_delivery) for p in procs if not p.in_person_only)
    assert forms[(True, False)] >= 1 and forms[(False, True)] >= 1 and forms[(True, True)] >= 1
    assert {p.level for p in procs} == {"commune", "province"}
    birth = next(p for p in procs if p.code == "1.001193")
    assert birth.name == "Đăng ký khai sinh" and birth.field == "Hộ tịch"
    assert birth.documents[1].name.startswith("Giấy chứng sinh")
    assert birth.documents[1].kind == "original" and birth.documents[1].quantity == 1
    marriage = next(p for p in procs if p.code == "1.000894")
    assert marriage.in_person_only


def test_tariffs_cover_each_day_exactly_once() -> None:
    tariffs = load_tariffs(DATA)
    keys = {(t.item_kind, t.zone, t.fee_collection) for t in tariffs}
    assert len(keys) == 12
    for day in (date(2024, 1, 1), date(2025, 6, 30), date(2025, 7, 1), date(2027, 12, 31)):
        for key in keys:
            hits = [
                t
                for t in tariffs
                if (t.item_kind, t.zone, t.fee_collection) == key
                and t.valid_from <= day <= (t.valid_to or date.max)
            ]
            assert len(hits) == 1, (day, key)

    def amount(day: date, kind: str, zone: str, fee: bool) -> int:
        return next(
            t.amount_vnd
            for t in tariffs
            if (t.item_kind, t.zone, t.fee_collection) == (kind, zone, fee)
            and t.valid_from <= day <= (t.valid_to or date.max)
        )

    new = date(2025, 7, 1)
    assert [amount(new, "result", z, False) for z in ("same_commune", "same_province")] == [
        22000,
        33000,
    ]
    assert amount(new, "result", "other_province", False) == 60500
    assert amount(new, "result", "other_province", True) == 66000
    assert amount(date(2025, 6, 30), "result", "same_commune", False) < 22000


def test_holidays() -> None:
    cal = load_holidays(DATA)
    for year in (2025, 2026, 2027):
        for month, day in ((1, 1), (4, 30), (5, 1), (9, 2)):
            assert date(year, month, day) in cal.holidays
    assert cal.holidays[date(2025, 1, 29)].startswith("Tết Nguyên đán")
    assert cal.holiday_names_en[date(2025, 9, 2)] == "National Day"
    assert cal.holidays[date(2025, 4, 7)] == "Giỗ Tổ Hùng Vương"
    assert set(cal.working_saturdays) == {date(2025, 4, 26), date(2026, 1, 10)}
    work = cal.work_calendar()
    assert work.is_working_day(date(2025, 4, 26))
    assert not work.is_working_day(date(2025, 5, 2))
    assert work.next_working_day(date(2026, 2, 13)) == date(2026, 2, 23)
    assert date(2026, 2, 17) - date(2026, 2, 16) == timedelta(days=1)


# --- broken copies ----------------------------------------------------------------------------


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the data files the parser reads."""
    dst = tmp_path / "data"
    shutil.copytree(DATA / "units", dst / "units")
    shutil.copytree(DATA / "catalogue", dst / "catalogue")
    shutil.copytree(DATA / "calendar", dst / "calendar")
    (dst / "hanoi").mkdir()
    for name in ("locality.yaml", "post_offices.yaml", "desks.csv"):
        shutil.copy(DATA / "hanoi" / name, dst / "hanoi" / name)
    return dst


def _line_of(path: Path, text: str, nth: int = 1) -> int:
    """1-based line of the nth occurrence of ``text``."""
    hits = [i for i, line in enumerate(path.read_text("utf-8").splitlines(), 1) if text in line]
    return hits[nth - 1]


def _edit(path: Path, old: str, new: str) -> int:
    """Replace the first occurrence of ``old``; return the line where it was."""
    content = path.read_text("utf-8")
    assert old in content, old
    line = content[: content.index(old)].count("\n") + 1
    path.write_text(content.replace(old, new, 1), "utf-8")
    return line


def _other_province_commune() -> str:
    with (DATA / "units" / "communes.csv").open(encoding="utf-8", newline="") as f:
        return next(r["code"] for r in csv.DictReader(f) if r["province_code"] != "01")


Loader = Callable[[Path], object]


def _locality(d: Path) -> object:
    return load_locality(d, "hanoi")


BROKEN = [
    # (file, old, new, loader, message fragment)
    ("hanoi/post_offices.yaml", '- "00008"', '- "99999"', _locality, "not in units/communes.csv"),
    ("hanoi/post_offices.yaml", '- "00008"', '- "00004"', _locality, "already served"),
    ("hanoi/post_offices.yaml", '- "00008"', "- 8", _locality, "quoted 5-digit"),
    ("hanoi/post_offices.yaml", '- "00008"', '- "{other}"', _locality, "belongs to province"),
    ("hanoi/post_offices.yaml", 'code: "116500"', 'code: "115100"', _locality, "appears twice"),
    ("hanoi/post_offices.yaml", "lat: 20.9718", "lat: 200.9718", _locality, "outside"),
    ("hanoi/locality.yaml", "slug: hanoi", "slug: saigon", _locality, "differs"),
    (
        "hanoi/locality.yaml",
        'mon: [["08:00", "12:00"]',
        'mon: [["08:00", "14:00"]',
        _locality,
        "overlap",
    ),
    (
        "hanoi/locality.yaml",
        'tue: [["08:00", "12:00"], ["13:30"',
        'tue: [["08:00", "12:00"], [13:30',
        _locality,
        "HH:MM",
    ),
    (
        "hanoi/locality.yaml",
        'wed: [["08:00", "12:00"]',
        'wed: [["12:00", "08:00"]',
        _locality,
        "ends before",
    ),
    (
        "hanoi/locality.yaml",
        'thu: [["08:00", "12:00"], ["13:30", "17:00"]]\n    fri',
        'thu: [["08:00", "12:00"], ["13:30", "17:00"]]\n    fry',
        _locality,
        "unknown day",
    ),
    ("hanoi/desks.csv", ",standard_saturday,", ",night,", _locality, "not defined"),
    ("hanoi/desks.csv", "MC-00004,00004,", "MC-00004,99999,", _locality, "not in units"),
    ("hanoi/desks.csv", "MC-00008,00008,", "MC-00004,00008,", _locality, "appears twice"),
    (
        "hanoi/desks.csv",
        ",1,standard_saturday,commune;province\nMC-00008",
        ",1,standard_saturday,commune;district\nMC-00008",
        _locality,
        "accepted_levels",
    ),
    (
        "catalogue/procedures.yaml",
        'code: "1.004884"',
        'code: "1.001193"',
        load_procedures,
        "already used",
    ),
    (
        "catalogue/procedures.yaml",
        'code: "1.004884"',
        'code: "1004884"',
        load_procedures,
        "does not match",
    ),
    (
        "catalogue/procedures.yaml",
        "result_delivery: false\n    in_person_only: true\n    processing_days: 1\n    fee_vnd: 0",
        "result_delivery: true\n    in_person_only: true\n    processing_days: 1\n    fee_vnd: 0",
        load_procedures,
        "in_person_only",
    ),
    (
        "catalogue/procedures.yaml",
        "result_delivery: true\n    in_person_only: false\n"
        "    processing_days: 1\n    fee_vnd: 8000",
        "result_delivery: false\n    in_person_only: false\n"
        "    processing_days: 1\n    fee_vnd: 8000",
        load_procedures,
        "neither",
    ),
    (
        "catalogue/procedures.yaml",
        '"Giấy chứng sinh hoặc văn bản của người làm chứng", kind: original',
        '"Giấy chứng sinh hoặc văn bản của người làm chứng", kind: scan',
        load_procedures,
        "not one of",
    ),
    (
        "catalogue/procedures.yaml",
        "processing_days: 20\n    fee_vnd: 400000",
        "processing_days: -1\n    fee_vnd: 400000",
        load_procedures,
        ">= 0",
    ),
    (
        "catalogue/tariffs.csv",
        "2025-07-01,,result,same_province,0,33000",
        "2025-06-01,,result,same_province,0,33000",
        load_tariffs,
        "overlaps the tariff at line",
    ),
    (
        "catalogue/tariffs.csv",
        "2025-07-01,,result,same_province,0,33000",
        "2025-07-01,,result,nearby,0,33000",
        load_tariffs,
        "not one of",
    ),
    (
        "catalogue/tariffs.csv",
        "2025-07-01,,result,same_province,0,33000",
        "2025-07-01,2025-01-01,result,same_province,0,33000",
        load_tariffs,
        "before valid_from",
    ),
    (
        "catalogue/tariffs.csv",
        "2025-07-01,,result,same_province,0,33000",
        "2025-07-01,,result,same_province,yes,33000",
        load_tariffs,
        "0 or 1",
    ),
    (
        "calendar/holidays.yaml",
        "date: 2025-04-26",
        "date: 2025-04-25",
        load_holidays,
        "not a Saturday",
    ),
    (
        "calendar/holidays.yaml",
        "date: 2025-04-26",
        "date: 2026-02-14",
        load_holidays,
        "also listed as a holiday",
    ),
    (
        "calendar/holidays.yaml",
        "{date: 2025-04-30,",
        "{date: 2025-04-07,",
        load_holidays,
        "listed twice",
    ),
    (
        "calendar/holidays.yaml",
        "{date: 2025-04-30,",
        "{date: 2025-13-30,",
        load_holidays,
        "YYYY-MM-DD",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "loader", "fragment"), BROKEN)
def test_broken_entry_is_named_by_file_and_line(
    data_copy: Path, file: str, old: str, new: str, loader: Loader, fragment: str
) -> None:
    path = data_copy / file
    line = _edit(path, old, new.replace("{other}", _other_province_commune()))
    with pytest.raises(CatalogueError) as caught:
        loader(data_copy)
    err = caught.value
    assert isinstance(err, PostalError)
    assert err.file == str(path)
    assert fragment in err.message
    assert err.code == "catalogue_invalid"
    assert err.detail.startswith(f"{path}:")
    # The error points at the edited line or at the entry holding it (a few lines above).
    assert err.line is not None and line - 12 <= err.line <= line, (err.line, line, err.message)


def test_unserved_commune_names_the_list(data_copy: Path) -> None:
    path = data_copy / "hanoi" / "post_offices.yaml"
    _edit(path, '      - "00025"  # Phường Giảng Võ\n', "")
    with pytest.raises(CatalogueError) as caught:
        load_locality(data_copy, "hanoi")
    assert caught.value.line == _line_of(path, "  - code:")
    assert "00025" in caught.value.message


def test_exact_lines(data_copy: Path) -> None:
    po = data_copy / "hanoi" / "post_offices.yaml"
    line = _edit(po, '- "00008"', '- "99999"')
    with pytest.raises(CatalogueError) as caught:
        load_locality(data_copy, "hanoi")
    assert caught.value.line == line

    shutil.copy(DATA / "hanoi" / "post_offices.yaml", po)
    desks = data_copy / "hanoi" / "desks.csv"
    line = _edit(desks, "MC-00070,00070,", "MC-00070,00070x,")
    with pytest.raises(CatalogueError) as caught:
        load_locality(data_copy, "hanoi")
    assert caught.value.line == line == 5

    procs = data_copy / "catalogue" / "procedures.yaml"
    line = _edit(procs, 'code: "1.004884"', 'code: "1.001193"')
    with pytest.raises(CatalogueError) as caught:
        load_procedures(data_copy)
    assert caught.value.line == line
    first = _line_of(procs, 'code: "1.001193"')
    assert f"line {first}" in caught.value.message

    tariffs = data_copy / "catalogue" / "tariffs.csv"
    line = _edit(
        tariffs,
        "2025-07-01,,result,same_province,0,33000",
        "2025-06-01,,result,same_province,0,33000",
    )
    with pytest.raises(CatalogueError) as caught:
        load_tariffs(data_copy)
    assert caught.value.line == line
    assert f"line {_line_of(tariffs, '2024-01-01,2025-06-30,result,same_province,0,')}" in (
        caught.value.message
    )


def test_missing_file_and_bad_yaml(data_copy: Path) -> None:
    (data_copy / "hanoi" / "desks.csv").unlink()
    with pytest.raises(CatalogueError) as caught:
        load_locality(data_copy, "hanoi")
    assert caught.value.file.endswith("desks.csv") and caught.value.line is None

    hol = data_copy / "calendar" / "holidays.yaml"
    line = _edit(hol, "working_saturdays:\n", "working_saturdays: [\n")
    with pytest.raises(CatalogueError) as caught:
        load_holidays(data_copy)
    assert caught.value.line is not None and caught.value.line >= line
    assert "bad YAML" in caught.value.message

    with pytest.raises(CatalogueError) as caught:
        load_locality(data_copy, "saigon")
    assert caught.value.file.endswith("locality.yaml")
