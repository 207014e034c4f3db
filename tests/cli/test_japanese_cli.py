"""Officers type Japanese: labels for ids, 和暦 and slashes for dates, commas and 円 for
numbers, at every command that takes them; `--help` is Japanese with the ids beside."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from states.ids import make_corporate_number

COMPANY = make_corporate_number("123456789012")
CASE = "40-2026-0001"


@pytest.fixture
def db(tmp_path: Path, sqlite_template: Path, run_cli: Callable[..., Any]) -> str:
    path = tmp_path / "kaizen.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    assert run_cli("init", db=url).code == 0
    assert (
        run_cli("officer", "add", "tanaka", "--name", "田中", "--council", "40", db=url).code == 0
    )
    return url


def test_a_case_told_in_japanese(run_cli: Callable[..., Any], db: str) -> None:
    def ok(*args: str, now: str | None = None) -> Any:
        r = run_cli(*args, user="tanaka", db=db, now=now)
        assert r.code == 0, (args, r.err)
        return json.loads(r.out) if "--json" in args else r

    ok("company", "add", "--number", COMPANY, "--name", "株式会社博多製作所",
       "--fiscal-year-end", "5", "--industry", "製造業", "--capital", "10,000,000",
       "--employees", "25")  # fmt: skip
    doc = ok("case", "open", "--company", COMPANY, "--program", "405事業", "--track", "通常枠",
             "--council", "40", "--advisor", "博多会計", "--on", "令和8年5月20日",
             "--json")  # fmt: skip
    assert (doc["id"], doc["program"], doc["track"]) == (CASE, "405", "normal")
    # A prior use is recorded by a council with a case of the firm (or an admin).
    ok("company", "prior-use", COMPANY, "--program", "早期経営改善", "--fiscal-year", "2021",
       "--track", "通常枠", "--paid", "100,000円")  # fmt: skip
    uses = ok("company", "uses", COMPANY, "--json")["uses"]
    assert [(u["program"], u["track"], u["paid"]) for u in uses] == [("early", "normal", 100_000)]
    ok("case", "lender", CASE, "福岡銀行")
    ok("case", "certificate", CASE, "--issued", "R8.5.1")
    ok("case", "estimate", CASE, "DD・計画策定支援費用", "2,400,000円")
    ok("case", "estimate", CASE, "伴走支援費用 (モニタリング)", "900,000")
    doc = ok("case", "advance", CASE, "利用申請", "--on", "２０２６/０６/０１", "--json")
    assert doc["stage"] == "application"
    assert doc["events"][-1]["trigger"] == "apply" and doc["events"][-1]["at"].startswith(
        "2026-06-01"
    )
    listed = ok("case", "list", "--stage", "利用申請", "--json")["cases"]
    assert [c["id"] for c in listed] == [CASE]
    assert ok("case", "list", "--stage", "計画策定", "--json")["cases"] == []
    subsidy = ok("subsidy", CASE, "--json")
    assert {c["category"]: c["estimate"] for c in subsidy["categories"]} == {
        "dd_plan": 2_400_000,
        "monitoring": 900_000,
    }


PLAN_FROM = ["2026-06-01", "2026/06/01", "2026/6/1", "2026年6月1日", "２０２６－０６－０１",
             "令和8年6月1日", "R8.6.1", "Ｒ８．６．１"]  # fmt: skip


@pytest.mark.parametrize("given", PLAN_FROM)
def test_every_date_form_gives_the_same_timeline(run_cli: Callable[..., Any], given: str) -> None:
    iso = run_cli("plan", "-m", "5", "--from", "2026-06-01", "--json")
    r = run_cli("plan", "-m", "5", "--from", given, "--program", "405事業", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out) == json.loads(iso.out)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["plan", "-m", "5", "--from", "平成31年5月1日"], "--from: 平成31年5月1日 は平成にない日付です"),
        (["plan", "-m", "5", "--from", "R8.2.30"], "--fromは YYYY-MM-DD で正しい日付を指定してください: 'R8.2.30'"),
        (["plan", "-m", "5", "--program", "早期経営"], "不明な事業 (program) '早期経営': もしかして: early"),
        (["diagram", "--program", "405", "--track", "GL枠"], "もしかして: gl (中小版GL枠)?"),
    ],
)  # fmt: skip
def test_refusals_without_a_database(
    run_cli: Callable[..., Any], args: list[str], needle: str
) -> None:
    r = run_cli(*args)
    assert r.code == 2 and r.out == ""
    assert r.err.count("\n") == 1 and needle in r.err, r.err


def test_diagram_takes_japanese_labels(run_cli: Callable[..., Any]) -> None:
    ids = run_cli("diagram", "--program", "early", "--track", "guarantee")
    labels = run_cli("diagram", "--program", "ポスコロ", "--track", "経営者保証解除枠")
    assert ids.code == labels.code == 0 and labels.out == ids.out


@pytest.mark.parametrize(
    "command",
    [["case", "advance"], ["case", "estimate"], ["case", "list"], ["company", "add"],
     ["case", "open"], ["plan"]],
)  # fmt: skip
def test_help_is_japanese_with_ids_and_fits_80_columns(
    run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    r = run_cli(*command, "--help")
    assert r.code == 0
    from rich.cells import cell_len

    assert max(cell_len(line) for line in r.out.splitlines()) <= 80, r.out
    words = {
        "advance": ["利用申請 (apply)", "金融機関合意 (agree)"],
        "estimate": ["DD・計画策定支援費用 (dd_plan)"],
        "list": ["計画策定 (planning)"],
        "add": ["製造業 (manufacturing)", "資本金"],
        "open": ["通常枠", "405事業"],
        "plan": ["令和8年6月1日"],
    }[command[-1]]
    flat = " ".join(r.out.split())
    for w in words:
        assert w in flat, (w, r.out)
