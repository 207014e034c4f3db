"""Fact commands answer in one line (what changed, what the next step still needs); --show
prints the panel, --json the document. Case screens read at 80 and 140 columns."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console

from cli.render import case_panel, history_table
from states.ids import make_corporate_number

COMPANY = make_corporate_number("123456789012")
CASE = "40-2026-0001"


@pytest.fixture
def db(tmp_path: Path, sqlite_template: Path, run_cli: Callable[..., Any]) -> str:
    path = tmp_path / "kaizen.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    for args in (
        ["init"],
        ["officer", "add", "tanaka", "--name", "田中", "--council", "40"],
    ):
        assert run_cli(*args, db=url).code == 0
    for args in (
        ["company", "add", "--number", COMPANY, "--name", "株式会社博多製作所",
         "--fiscal-year-end", "5", "--capital", "10,000,000", "--employees", "20"],
        ["case", "open", "--company", COMPANY, "--program", "405", "--council", "40",
         "--advisor", "博多会計事務所"],
    ):  # fmt: skip
        assert run_cli(*args, user="tanaka", db=url).code == 0
    return url


# (command after `case`, the one line it prints)
FACTS: list[tuple[list[str], str]] = [
    (["lender", CASE, "福岡銀行"],
     f"{CASE}: 金融機関 福岡銀行 を登録しました。次: 利用申請 (apply) に必要: "),
    (["certificate", CASE, "--issued", "R8.5.20"],
     f"{CASE}: 証明書の発行日 2026-05-20 を登録しました。次: 利用申請 (apply) に必要: "),
    (["estimate", CASE, "DD・計画策定支援費用", "2,400,000円"],
     f"{CASE}: 見積額 dd_plan 2,400,000円を登録しました。次: 利用申請 (apply)"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "line"), FACTS)
def test_a_fact_is_one_line(
    run_cli: Callable[..., Any], db: str, args: list[str], line: str
) -> None:
    r = run_cli("case", *args, user="tanaka", db=db)
    assert r.code == 0, r.err
    assert r.out.startswith(line), r.out
    assert " ".join(r.out.split()).count(CASE) == 1 and "マイルストーン" not in r.out


def test_the_line_says_when_the_next_step_is_ready(run_cli: Callable[..., Any], db: str) -> None:
    for args in (["lender", CASE, "福岡銀行"], ["certificate", CASE, "--issued", "2026-05-20"],
                 ["estimate", CASE, "dd_plan", "2400000"]):  # fmt: skip
        run_cli("case", *args, user="tanaka", db=db)
    r = run_cli("case", "estimate", CASE, "monitoring", "900,000", user="tanaka", db=db)
    assert r.code == 0, r.err
    assert "次: 利用申請 (apply) ができます" in " ".join(r.out.split())


def test_show_prints_the_panel_and_json_the_document(run_cli: Callable[..., Any], db: str) -> None:
    quiet = run_cli("case", "lender", CASE, "福岡銀行", user="tanaka", db=db).out
    shown = run_cli("case", "lender", CASE, "北九州銀行", "--show", user="tanaka", db=db).out
    doc = json.loads(
        run_cli("case", "lender", CASE, "佐賀銀行", "--json", user="tanaka", db=db).out
    )
    assert len(quiet.splitlines()) <= 3 < 10 < len(shown.splitlines())  # one line, wrapped
    assert "北九州銀行" in shown and CASE in shown
    assert [x["name"] for x in doc["lenders"]] == ["福岡銀行", "北九州銀行", "佐賀銀行"]


@pytest.mark.parametrize("width", [80, 140])
def test_case_screens_read_at_80_and_140_columns(
    run_cli: Callable[..., Any], db: str, width: int
) -> None:
    from cli.app import Ctx

    for args in (["lender", CASE, "福岡銀行"], ["certificate", CASE, "--issued", "2026-05-20"],
                 ["estimate", CASE, "dd_plan", "2400000"],
                 ["estimate", CASE, "monitoring", "900000"], ["advance", CASE, "利用申請"]):  # fmt: skip
        assert run_cli("case", *args, user="tanaka", db=db).code == 0
    k = Ctx(db=db).kaizen()
    view = k.show("tanaka", CASE)
    for screen in (case_panel(view, k.today()), history_table(view)):
        out = Console(file=io.StringIO(), width=width, record=True)
        out.print(screen)
        text = out.export_text()
        assert max(cell_len(line) for line in text.splitlines()) <= width
        assert CASE in text and "2026-06-01" in text
    history = Console(file=io.StringIO(), width=width, record=True)
    history.print(history_table(view))
    assert "…" not in history.export_text()
