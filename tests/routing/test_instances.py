"""Li & Lim and Solomon readers: good files, and malformed ones naming the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from postal.config import REPO_ROOT
from postal.routing.errors import MalformedInstance
from postal.routing.instances import (
    SCALE,
    format_solution,
    read_bks,
    read_li_lim,
    read_solomon,
    read_solution,
)
from postal.routing.model import StopKind

BENCH = REPO_ROOT / "data" / "bench"

LI_LIM_SMALL = (
    "3\t50\t1\r\n"
    "0\t0\t0\t0\t0\t1000\t0\t0\t0\r\n"
    "1\t3\t4\t10\t0\t500\t10\t0\t2\r\n"
    "2\t6\t8\t-10\t0\t900\t10\t1\t0\r\n"
)

SOLOMON_SMALL = """C999

VEHICLE
NUMBER     CAPACITY
  2         100

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      0         0          0          0       1000          0
    1      3         4         10         10        200         90
    2      0         5         30          0        500         90
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_li_lim_small_file(tmp_path: Path) -> None:
    inst = read_li_lim(write(tmp_path, "tiny.txt", LI_LIM_SMALL))
    p, d = inst.problem.stops
    assert (p.kind, d.kind) == (StopKind.PICKUP, StopKind.DELIVERY)
    assert p.pair == d.pair == "1"
    assert p.windows == ((0, 500 * SCALE),) and p.service == 10 * SCALE
    assert (p.demand, d.demand) == (10, 10)
    assert len(inst.problem.couriers) == 3
    assert inst.problem.couriers[0].capacity == 50
    assert inst.problem.couriers[0].shift == (0, 1000 * SCALE)
    assert inst.problem.distances[0, 1] == 5 * SCALE
    assert inst.route_distance([1, 2]) == pytest.approx(5 + 5 + 10)


def test_li_lim_real_file() -> None:
    inst = read_li_lim(BENCH / "li_lim" / "pdp_100" / "lc101.txt")
    assert len(inst.problem.stops) == 106
    assert sum(1 for s in inst.problem.stops if s.kind is StopKind.PICKUP) == 53
    assert inst.vehicles_available == 25


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (LI_LIM_SMALL.replace("1\t3\t4\t10", "1\t3\tx\t10"), 3, "not a number"),
        (
            LI_LIM_SMALL.replace("2\t6\t8\t-10\t0\t900\t10\t1\t0", "2\t6\t8\t-10\t0\t900"),
            4,
            "expected 9 numbers",
        ),
        (
            LI_LIM_SMALL.replace(
                "2\t6\t8\t-10\t0\t900\t10\t1\t0", "2\t6\t8\t-10\t0\t900\t10\t2\t0"
            ),
            3,
            "does not point back",
        ),
        (LI_LIM_SMALL.replace("1\t3\t4\t10\t0\t500", "1\t3\t4\t10\t600\t500"), 3, "empty"),
        (LI_LIM_SMALL.replace("2\t6\t8", "5\t6\t8"), 4, "expected 2"),
    ],
    ids=["word", "short", "sibling", "window", "index"],
)
def test_li_lim_malformed_names_file_and_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = write(tmp_path, "bad.txt", text)
    with pytest.raises(MalformedInstance) as err:
        read_li_lim(path)
    assert f"{path}:{line}:" in err.value.detail
    assert words in err.value.detail


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(MalformedInstance) as err:
        read_li_lim(tmp_path / "nope.txt")
    assert "nope.txt" in err.value.detail


def test_solomon_small_file(tmp_path: Path) -> None:
    inst = read_solomon(write(tmp_path, "C999.txt", SOLOMON_SMALL))
    assert [s.kind for s in inst.problem.stops] == [StopKind.DELIVERY, StopKind.DELIVERY]
    assert inst.problem.stops[0].windows == ((10 * SCALE, 200 * SCALE),)
    assert len(inst.problem.couriers) == 2
    assert inst.problem.couriers[0].capacity == 100


def test_solomon_real_file() -> None:
    inst = read_solomon(BENCH / "solomon" / "RC101.txt")
    assert len(inst.problem.stops) == 100
    assert inst.problem.couriers[0].capacity == 200


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (SOLOMON_SMALL.replace("VEHICLE", "VEHICLES"), 3, "expected 'VEHICLE'"),
        (SOLOMON_SMALL.replace("  2         100", "  2"), 5, "expected 2 numbers"),
        (
            SOLOMON_SMALL.replace("30          0        500", "30          0        fish"),
            12,
            "not a number",
        ),
    ],
    ids=["header", "vehicles", "word"],
)
def test_solomon_malformed_names_file_and_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = write(tmp_path, "bad.txt", text)
    with pytest.raises(MalformedInstance) as err:
        read_solomon(path)
    assert f"{path}:{line}:" in err.value.detail
    assert words in err.value.detail


def test_bks_tables() -> None:
    li_lim = read_bks(BENCH / "li_lim" / "bks.csv")
    assert li_lim["lc101"].vehicles == 10
    assert li_lim["lc101"].distance == pytest.approx(828.9369)
    solomon = read_bks(BENCH / "solomon" / "bks.csv")
    assert solomon["c101"].vehicles == 10


def test_bad_bks_row_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bks.csv", "instance,vehicles,distance\nlc101,ten,828\n")
    with pytest.raises(MalformedInstance) as err:
        read_bks(path)
    assert f"{path}:2:" in err.value.detail


def test_solution_round_trip(tmp_path: Path) -> None:
    text = format_solution([[1, 2, 3], [], [4]])
    assert text == "Route 1 : 1 2 3\nRoute 2 : 4\n"
    assert read_solution(write(tmp_path, "s.sol", text)) == [[1, 2, 3], [4]]
