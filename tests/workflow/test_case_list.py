"""`case list` finds: open cases by default, next due first, search, filters and paging, on
SQLite and PostgreSQL, within the actor's council."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from states.ids import make_corporate_number
from tests.conftest import World
from tests.workflow.conftest import Driver, company


@pytest.fixture
def cases(drive: Driver, world: World) -> dict[str, str]:
    """Five cases of council 40 (one withdrawn) and one of council 41, opened days apart."""
    hakata = company(world, "100000000001", name="株式会社博多精工")
    kokura = company(world, "100000000002", name="小倉ABC商事株式会社")
    moji = company(world, "100000000003", name="有限会社門司100%水産")
    out = {
        "hakata": drive.new(company=hakata, advisor="税理士法人天神会計"),
        "kokura": drive.new(company=kokura, advisor="ABC Consulting", stage="application"),
        "moji": drive.new(company=moji, advisor="中小企業診断士 山田"),
        "gone": drive.new(company=moji, advisor="山田"),
        "test": drive.new(advisor="久留米コンサル"),
    }
    drive.step(out["gone"], "withdraw", reason="社長の意向")
    world.k.add_officer("admin", "saga2", name="佐賀", council="41", role="officer")  # type: ignore[attr-defined]
    saga = Driver(world, actor="saga")
    out["saga"] = saga.new(company=hakata, council="41")
    return out


def ids(rows: list[Any]) -> list[str]:
    return [r.id for r in rows]


def next_due(drive: Driver, cid: str) -> date | None:
    open_ = [m.due for m in drive.k.show("tanaka", cid).milestones if not m.done]
    return min(open_, default=None)


def test_open_cases_by_default_next_due_first(drive: Driver, cases: dict[str, str]) -> None:
    rows = drive.k.find_cases("tanaka")
    assert set(ids(rows)) == {cases[n] for n in ("hakata", "kokura", "moji", "test")}
    expected = sorted(ids(rows), key=lambda c: (next_due(drive, c) is None, next_due(drive, c), c))
    assert ids(rows) == expected
    assert [r.next_due for r in rows] == [next_due(drive, c) for c in expected]
    every = drive.k.find_cases("tanaka", open_only=False)
    assert cases["gone"] in ids(every) and len(every) == 5
    assert cases["saga"] not in ids(every)


@pytest.mark.parametrize(
    ("search", "names"),
    [
        ("博多", ["hakata"]),
        ("abc", ["kokura"]),  # case-insensitive: the company name and the advisor
        ("ＡＢＣ", ["kokura"]),  # full-width
        ("天神", ["hakata"]),
        ("山田", ["moji"]),  # the withdrawn case too, with open_only=False
        ("株式会社 博多", ["hakata"]),  # every word must match
        ("100%", ["moji"]),  # % and _ are letters, not wildcards
        ("%", ["moji"]),  # only the name with a %, not every case
        ("_", []),
        ("nothing-like-it", []),
    ],
)
def test_search(drive: Driver, cases: dict[str, str], search: str, names: list[str]) -> None:
    assert sorted(ids(drive.k.find_cases("tanaka", search=search))) == sorted(
        cases[n] for n in names
    )


def test_search_by_number_and_case_id(drive: Driver, cases: dict[str, str], world: World) -> None:
    number = make_corporate_number("100000000001")
    hyphened = f"{number[0]}-{number[1:5]}-{number[5:9]}-{number[9:]}"
    assert ids(drive.k.find_cases("tanaka", search=hyphened)) == [cases["hakata"]]
    assert ids(drive.k.find_cases("tanaka", search=cases["moji"])) == [cases["moji"]]
    assert ids(drive.k.find_cases("tanaka", search=world.company)) == [cases["test"]]
    gone = drive.k.find_cases("tanaka", search="山田", open_only=False)
    assert sorted(ids(gone)) == sorted([cases["moji"], cases["gone"]])


def test_filters_combine_with_search(drive: Driver, cases: dict[str, str]) -> None:
    assert ids(drive.k.find_cases("tanaka", stage="application")) == [cases["kokura"]]
    assert drive.k.find_cases("tanaka", stage="application", search="博多") == []
    assert ids(drive.k.find_cases("tanaka", stage="withdrawn", open_only=False)) == [cases["gone"]]
    assert len(drive.k.find_cases("tanaka", officer="tanaka")) == 4
    assert drive.k.find_cases("tanaka", officer="boss") == []


def test_pages_add_up_to_the_list(drive: Driver, cases: dict[str, str]) -> None:
    whole = ids(drive.k.find_cases("tanaka", open_only=False))
    pages = [
        ids(drive.k.find_cases("tanaka", open_only=False, limit=2, offset=o)) for o in (0, 2, 4)
    ]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [c for page in pages for c in page] == whole


def test_the_cli_pages_and_searches(
    run_cli: Callable[..., Any], world: World, cases: dict[str, str], drive: Driver
) -> None:
    def cli(*args: str) -> Any:
        r = run_cli("case", "list", *args, user="tanaka", db=world.url)
        assert r.code == 0, r.err
        return r

    first = json.loads(cli("--limit", "3", "--json").out)
    second = json.loads(cli("--limit", "3", "--page", "2", "--json").out)
    assert (len(first["cases"]), first["more"], len(second["cases"]), second["more"]) == (
        3,
        True,
        1,
        False,
    )
    assert [c["id"] for c in first["cases"] + second["cases"]] == ids(drive.k.find_cases("tanaka"))
    text = cli("--limit", "3").out
    assert "進行中の案件 (1–3件目)" in text and "続き: --page 2" in text
    assert "該当なし" in cli("--search", "存在しない会社").out
    found = json.loads(cli("-s", "博多精工", "--all", "--json").out)["cases"]
    assert [(c["id"], c["advisor"]) for c in found] == [(cases["hakata"], "税理士法人天神会計")]
    r = run_cli("case", "list", "--page", "0", user="tanaka", db=world.url)
    assert r.code == 2 and "--page" in r.err
