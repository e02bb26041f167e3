"""Vietnamese dictionary order."""

from postal.collation import sort_key, sorted_vi


def test_letters_follow_the_vietnamese_alphabet() -> None:
    words = ["Yên Hoà", "Đống Đa", "Ô Chợ Dừa", "Dịch Vọng", "Ứng Hoà", "Ba Đình", "Ông", "Uy Nỗ"]
    assert sorted(words, key=sort_key) == [
        "Ba Đình",
        "Dịch Vọng",
        "Đống Đa",
        "Ô Chợ Dừa",
        "Ông",
        "Uy Nỗ",
        "Ứng Hoà",
        "Yên Hoà",
    ]


def test_tones_only_break_ties_and_case_does_not_matter() -> None:
    assert sorted(["mã", "ma", "má", "mà", "mạ", "mả"], key=sort_key) == [
        "ma",
        "mà",
        "mả",
        "mã",
        "má",
        "mạ",
    ]
    assert sorted(["ban", "Bàn", "bác"], key=sort_key) == ["bác", "ban", "Bàn"]


def test_sorted_vi_uses_the_key_function() -> None:
    rows = [{"n": "Đông Anh"}, {"n": "Cầu Giấy"}, {"n": "Dương Nội"}]
    assert [r["n"] for r in sorted_vi(rows, key=lambda r: r["n"])] == [
        "Cầu Giấy",
        "Dương Nội",
        "Đông Anh",
    ]
