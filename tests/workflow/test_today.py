"""`kaizen today` on a hand-built database: each section holds exactly the cases it should,
with the command that moves each; an officer sees their cases, a supervisor the council's."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from rich.console import Console

from cli.today import today_screen
from tests.conftest import World
from tests.workflow.conftest import Driver, company, set_today
from workflow.today import TodayView

DAY = date(2026, 7, 20)  # a Monday: the morning looked at


@pytest.fixture
def cases(world: World, drive: Driver) -> dict[str, str]:
    """One case per situation, built through the engine from 2026-06-01, for tanaka."""
    k = drive.k
    out: dict[str, str] = {}
    out["late"] = drive.open()  # at 相談: kickoff due 2026-06-30
    out["soon"] = drive.new(company=company(world, "200000000001"), stage="due_diligence")
    lenders = drive.open(company=company(world, "200000000002"))
    k.add_lender("tanaka", lenders, "福岡銀行")
    k.add_lender("tanaka", lenders, "北九州銀行")
    drive.to(lenders, "bank_negotiation")
    k.record_consent("tanaka", lenders, "福岡銀行")
    out["lenders"] = lenders
    out["report"] = drive.new(company=company(world, "200000000003"), stage="monitoring")
    reused = company(world, "200000000004")
    k.record_prior_use("admin", reused, program="405", fiscal_year=2021, paid=0, track="normal")
    out["reuse"] = drive.open(company=reused)
    drive.to(out["reuse"], "application", reason="前回と異なる悪化要因")
    out["closed"] = drive.new(company=company(world, "200000000005"))
    drive.step(out["closed"], "withdraw", reason="取りやめ")
    saga = Driver(world, actor="saga")
    out["other_council"] = saga.new(company=company(world, "200000000006"), council="41")
    set_today(world, DAY)
    return out


def by_kind(view: TodayView) -> dict[str, list[tuple[str, str, str]]]:
    return {
        kind: [(i.case, i.what, i.command) for i in view.of(kind)]
        for kind in ("overdue", "due", "waiting", "lapse", "exception")
    }


def test_the_officers_morning(drive: Driver, cases: dict[str, str]) -> None:
    view = drive.k.morning("tanaka")
    got = by_kind(view)
    late, soon = cases["late"], cases["soon"]
    assert (view.today, view.horizon) == (DAY, date(2026, 8, 3))  # 10 business days
    assert [(c, cmd) for c, _, cmd in got["overdue"]] == [
        (late, f"kaizen case advance {late} 利用申請")
    ]
    [item] = view.of("overdue")
    assert (item.due, item.business_days, item.stage_label) == (
        date(2026, 6, 30),
        13,
        "相談",
    )  # 7/20 is 海の日
    reuse = cases["reuse"]
    assert [(c, cmd) for c, _, cmd in got["due"]] == [
        (soon, f"kaizen case advance {soon} 計画策定開始"),  # its own step
        (reuse, f"kaizen case advance {reuse} 受付・利用決定"),  # the step before dd's
    ]
    assert [i.due for i in view.of("due")] == [date(2026, 7, 31)] * 2
    lenders, report = cases["lenders"], cases["report"]
    assert sorted(got["waiting"]) == sorted(
        [
            (lenders, "金融機関の同意書: 北九州銀行", f"kaizen case consent {lenders} 北九州銀行 --on 日付"),
            (report, "支援機関のモニタリング報告", f"kaizen case report {report}"),
            (reuse, "統括責任者の受付 (再利用の例外)", f"kaizen case show {reuse}"),
        ]
    )  # fmt: skip
    assert got["lapse"] == [] and got["exception"] == []
    seen = {i.case for i in view.items}
    assert cases["closed"] not in seen and cases["other_council"] not in seen


def test_the_supervisors_morning_has_the_exceptions(drive: Driver, cases: dict[str, str]) -> None:
    view = drive.k.morning("boss")
    reuse = cases["reuse"]
    assert by_kind(view)["exception"] == [
        (reuse, "再利用の例外: 統括責任者の受付", f"kaizen case advance {reuse} 受付・利用決定")
    ]
    assert reuse not in {i.case for i in view.of("waiting")}
    assert cases["other_council"] not in {i.case for i in view.items}
    assert {i.case for i in view.of("overdue")} == {cases["late"]}


def test_a_lapse_coming(world: World, drive: Driver) -> None:
    cid = drive.new(stage="due_diligence")
    lapse = next(
        m.due for m in drive.k.show("tanaka", cid).milestones if m.key == "application_lapse"
    )
    set_today(world, date(lapse.year, lapse.month, 1) if lapse.day > 1 else lapse)
    [item] = drive.k.morning("tanaka").of("lapse")
    assert (item.case, item.due) == (cid, lapse)
    assert item.command.startswith(f"kaizen case extend {cid} --until")
    set_today(world, date(lapse.year - 1, lapse.month, 1))
    assert drive.k.morning("tanaka").of("lapse") == []


@pytest.mark.parametrize("width", [80, 140])
def test_the_screen_reads_at_80_and_140_columns(
    drive: Driver, cases: dict[str, str], width: int
) -> None:
    out = Console(file=io.StringIO(), width=width, record=True, highlight=False)
    out.print(today_screen(drive.k.morning("tanaka")))
    text = out.export_text()
    for cid in cases.values():
        if cid not in (cases["closed"], cases["other_council"]):
            assert cid in text  # an id is never cut
    assert f"kaizen case advance {cases['late']} 利用申請" in " ".join(text.split())
    assert "期限超過: 1件" in text and "相手待ち: 3件" in text
    assert "承認待ちの例外" not in text  # an officer has none to approve
    from rich.cells import cell_len

    assert max(cell_len(line) for line in text.splitlines()) <= width


def test_the_cli_json(run_cli: Callable[..., Any], world: World, cases: dict[str, str]) -> None:
    r = run_cli("today", "--json", user="boss", db=world.url, now="2026-07-20T09:00:00+09:00")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert set(doc) >= {"today", "horizon", "overdue", "due", "waiting", "lapse", "exception"}
    assert doc["today"] == "2026-07-20"
    assert [x["case"] for x in doc["exception"]] == [cases["reuse"]]
    assert set(doc["overdue"][0]) == {
        "case", "company", "stage", "stage_label", "what", "due", "business_days", "command"
    }  # fmt: skip
    r = run_cli("today", user="ghost", db=world.url)
    assert r.code == 4 and "ghost" in r.err
