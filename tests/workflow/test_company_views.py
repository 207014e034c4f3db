"""`company list` finds a firm by a part of its name or number; `company show` gives its
facts, its earlier uses and the cases the actor may see."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console

from cli.render import case_rows_table
from states.ids import make_corporate_number
from tests.conftest import World
from tests.workflow.conftest import Driver, company


@pytest.fixture
def firms(world: World, drive: Driver) -> dict[str, str]:
    out = {
        "hakata": company(world, "300000000001", name="株式会社博多精工"),
        "moji": company(world, "300000000002", name="門司港ABC水産株式会社"),
        "saga": company(world, "300000000003", name="佐賀博多屋"),
    }
    drive.new(company=out["hakata"])
    gone = drive.new(company=out["hakata"])
    drive.step(gone, "withdraw", reason="取りやめ")
    Driver(world, actor="saga").new(company=out["saga"], council="41")
    world.k.record_prior_use(  # type: ignore[attr-defined]
        "tanaka", out["hakata"], program="early", fiscal_year=2021, paid=100_000, track="normal"
    )
    return out


def cli(run_cli: Callable[..., Any], world: World, *args: str, user: str = "tanaka") -> Any:
    r = run_cli("company", *args, "--json", user=user, db=world.url)
    assert r.code == 0, r.err
    return json.loads(r.out)


@pytest.mark.parametrize(
    ("search", "names"),
    [
        ("博多", ["hakata", "saga"]),
        ("abc", ["moji"]),
        ("博多 精工", ["hakata"]),
        ("300000000002", ["moji"]),
        ("nothing", []),
    ],
)
def test_company_list_finds(
    run_cli: Callable[..., Any], world: World, firms: dict[str, str], search: str, names: list[str]
) -> None:
    doc = cli(run_cli, world, "list", "--search", search)
    assert sorted(c["number"] for c in doc["companies"]) == sorted(firms[n] for n in names)


def test_case_counts_are_the_actors_councils(
    run_cli: Callable[..., Any], world: World, firms: dict[str, str]
) -> None:
    def counts(user: str) -> dict[str, tuple[int, int]]:
        doc = cli(run_cli, world, "list", user=user)
        return {c["number"]: (c["open_cases"], c["cases"]) for c in doc["companies"]}

    assert counts("tanaka")[firms["hakata"]] == (1, 2)
    assert counts("tanaka")[firms["saga"]] == (0, 0)
    assert counts("saga")[firms["saga"]] == (1, 1)
    assert counts("admin")[firms["saga"]] == (1, 1)
    first = cli(run_cli, world, "list", "--limit", "2")
    second = cli(run_cli, world, "list", "--limit", "2", "--page", "2")
    assert (len(first["companies"]), first["more"]) == (2, True)
    assert {c["number"] for c in first["companies"]}.isdisjoint(
        c["number"] for c in second["companies"]
    )


def test_company_show(run_cli: Callable[..., Any], world: World, firms: dict[str, str]) -> None:
    number = firms["hakata"]
    hyphened = f"{number[0]}-{number[1:5]}-{number[5:9]}-{number[9:]}"
    doc = cli(run_cli, world, "show", hyphened)
    assert (doc["number"], doc["name"], doc["industry_label"]) == (
        number, "株式会社博多精工", "製造業・建設業・運輸業その他"
    )  # fmt: skip
    assert [(u["program"], u["fiscal_year"], u["paid"]) for u in doc["uses"]] == [
        ("early", 2021, 100_000)
    ]
    assert len(doc["cases"]) == 2 and {c["company"] for c in doc["cases"]} == {number}
    assert cli(run_cli, world, "show", number, user="saga")["cases"] == []  # council 40's
    r = run_cli(
        "company", "show", make_corporate_number("399999999999"), user="tanaka", db=world.url
    )
    assert r.code == 3 and "見つかりません" in r.err
    text = run_cli("company", "show", number, user="tanaka", db=world.url).out
    assert "株式会社博多精工" in text and "記録 #1" in text


@pytest.mark.parametrize("width", [80, 140])
def test_case_list_never_cuts_an_id(drive: Driver, firms: dict[str, str], width: int) -> None:
    out = Console(file=io.StringIO(), width=width, record=True)
    rows = drive.k.find_cases("tanaka", open_only=False)
    out.print(case_rows_table(rows, "案件"))
    text = out.export_text()
    assert max(cell_len(line) for line in text.splitlines()) <= width
    for r in rows:
        assert r.id in text
        assert r.next_due is None or r.next_due.isoformat() in text
    assert "…" not in text
