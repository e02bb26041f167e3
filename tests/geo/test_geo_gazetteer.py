"""Gazetteer: codes, accent-insensitive search, old names through the 2025 mapping."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from postal.errors import NotFound
from postal.geo.gazetteer import Gazetteer
from postal.geo.text import fold


def test_counts_match_the_2025_reform(gazetteer: Gazetteer) -> None:
    assert len(gazetteer.provinces()) == 34
    assert len(gazetteer.communes()) == 3321
    assert len(gazetteer.communes_of("01")) == 126
    assert {c.province_code for c in gazetteer.communes_of("79")} == {"79"}


def test_load_is_cached_per_directory(data_dir: Path) -> None:
    assert Gazetteer.load(data_dir) is Gazetteer.load(data_dir / "." / "units" / "..")


def test_commune_by_code(gazetteer: Gazetteer) -> None:
    c = gazetteer.commune("00004")
    assert (c.name, c.full_name, c.type, c.province_code) == (
        "Ba Đình",
        "Phường Ba Đình",
        "Phường",
        "01",
    )
    assert gazetteer.province(c.province_code).name == "Hà Nội"


def test_unknown_commune_is_not_found(gazetteer: Gazetteer) -> None:
    with pytest.raises(NotFound) as exc:
        gazetteer.commune("99999")
    assert exc.value.code == "unknown_commune"
    assert exc.value.field == "commune_code"
    assert exc.value.status == 404


def test_unknown_province_is_not_found(gazetteer: Gazetteer) -> None:
    with pytest.raises(NotFound) as exc:
        gazetteer.communes_of("02")  # Hà Giang's old code: merged into Tuyên Quang (08)
    assert exc.value.code == "unknown_province"


@pytest.mark.parametrize(
    "text", ["phuong ba dinh", "Ba Đình", "ba dinh", "BA ĐÌNH", "Phường Ba Đình", "P. Ba Đình"]
)
def test_search_is_accent_insensitive(gazetteer: Gazetteer, text: str) -> None:
    assert gazetteer.search(text)[0].code == "00004"


def test_search_tone_placement_variants_agree(gazetteer: Gazetteer) -> None:
    a = gazetteer.search("Hòa Bình", limit=50)
    b = gazetteer.search("Hoà Bình", limit=50)
    assert a and [c.code for c in a] == [c.code for c in b]
    assert all(fold(c.name) == "hoa binh" for c in a[:3])


def test_search_within_a_province(gazetteer: Gazetteer) -> None:
    found = gazetteer.search("Hoàn Kiếm", province_code="01")
    assert [c.code for c in found] == ["00070"]
    assert gazetteer.search("Hoàn Kiếm", province_code="79") == []


def test_search_ranks_exact_then_prefix_then_substring(gazetteer: Gazetteer) -> None:
    found = gazetteer.search("an", limit=5000)

    def rank(name: str) -> int:
        key = fold(name)
        return 0 if key == "an" else 1 if key.startswith("an") else 2

    ranks = [rank(c.name) for c in found]
    assert ranks == sorted(ranks)
    assert set(ranks) == {1, 2}  # no commune is called just "An"
    assert all("an" in fold(c.full_name) for c in found)


def test_search_limit_and_empty_query(gazetteer: Gazetteer) -> None:
    assert len(gazetteer.search("tan", limit=3)) == 3
    assert gazetteer.search("   ") == []
    assert gazetteer.search("zzzz no such place") == []


def test_find_province(gazetteer: Gazetteer) -> None:
    province = gazetteer.find_province("TP Hồ Chí Minh")
    assert province is not None and province.code == "79"
    hanoi = gazetteer.find_province("ha noi")
    assert hanoi is not None and hanoi.code == "01"
    assert gazetteer.find_province("Atlantis") is None


def test_resolve_old_code_of_a_split_commune(gazetteer: Gazetteer) -> None:
    # Phường Cống Vị (Ba Đình district) went partly to Ngọc Hà and partly to Giảng Võ.
    [old] = gazetteer.old_communes("00007")
    assert old.name == "Phường Cống Vị" and old.is_split
    assert [c.code for c in gazetteer.resolve_old("00007")] == ["00008", "00025"]
    assert [c.code for c in gazetteer.resolve_old("7")] == ["00008", "00025"]


def test_resolve_old_by_name_and_province(gazetteer: Gazetteer) -> None:
    expected = ["00008", "00025"]
    assert [c.code for c in gazetteer.resolve_old("Phường Cống Vị")] == expected
    assert [c.code for c in gazetteer.resolve_old("cong vi", "Hà Nội")] == expected
    assert [c.code for c in gazetteer.resolve_old("Cống Vị", "01")] == expected
    assert gazetteer.resolve_old("Cống Vị", "Tỉnh Cao Bằng") == []


def test_resolve_old_unsplit_commune(gazetteer: Gazetteer) -> None:
    [old] = gazetteer.old_communes("Phúc Xá", "01")
    assert not old.is_split
    assert [c.full_name for c in gazetteer.resolve_old("Phường Phúc Xá")] == ["Phường Hồng Hà"]


def test_old_name_shared_by_many_provinces_narrows_with_the_province(
    gazetteer: Gazetteer,
) -> None:
    everywhere = gazetteer.old_communes("Xã Tân Thành")
    assert len({o.province_code for o in everywhere}) > 5
    in_one = gazetteer.old_communes("Xã Tân Thành", "Tỉnh Long An")
    assert in_one and {o.province_name for o in in_one} == {"Tỉnh Long An"}


def test_stale_target_codes_are_repaired_by_name(gazetteer: Gazetteer) -> None:
    # The source maps Thị trấn Ba Chẽ to 06970, a code absent from the 2025 list (06978).
    assert [c.code for c in gazetteer.resolve_old("06970")] == ["06978"]


def test_mapping_matches_its_target_counts(gazetteer: Gazetteer, data_dir: Path) -> None:
    with (data_dir / "units" / "old_to_new.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    n_targets = {r["old_ward_code"]: int(r["n_targets"]) for r in rows}
    for code, n in n_targets.items():
        [old] = gazetteer.old_communes(code)
        assert len(old.new_codes) == n, code
    assert Counter(n_targets.values())[1] < len(n_targets)  # some communes were split


def test_resolve_prefers_new_names_then_old(gazetteer: Gazetteer) -> None:
    # "Ngọc Hà" is both a new ward and an old one that was split: the new name wins.
    assert [c.code for c in gazetteer.resolve("Ngọc Hà", "01")] == ["00008"]
    # "Phúc Xá" exists only as an old ward.
    assert [c.full_name for c in gazetteer.resolve("phuc xa", "01")] == ["Phường Hồng Hà"]
    # Nothing exact: fall back to partial matches of new names.
    assert all(c.province_code == "01" for c in gazetteer.resolve("hoan kie", "01"))
    assert gazetteer.resolve("hoan kie", "01")[0].code == "00070"
