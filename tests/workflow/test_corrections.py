"""Issue 12: every record can be fixed, and every fix is an event (both backends).

The stories of the issue end unstuck without a false record; refusals write nothing; the
derived rows (payments, milestones) are what the facts that stand imply.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import select, text

from storage.models import CompanyChange, Payment
from storage.queries.reports import CaseFilter, funnel_data
from tests.conftest import World, migrated
from tests.workflow.conftest import LENDER, Driver, company, set_today, snapshot
from tests.workflow.test_differential import _other as other_kaizen
from tests.workflow.test_differential import rows
from tests.workflow.test_smtp import Server, at, start_server
from workflow import store
from workflow.decide import case_rules, plan
from workflow.doctor import check_database
from workflow.errors import (
    Conflict,
    GuardFailed,
    InvalidInput,
    KaizenError,
    NotAllowed,
    NotFound,
    PermissionDenied,
)
from workflow.importer import export_cases, import_cases
from workflow.mailer import SmtpMailer
from workflow.reminders import sweep
from workflow.reports import workload
from workflow.service import Kaizen
from workflow.snapshot import EVERYTHING


def payments(k: Kaizen, case_id: str) -> list[tuple[str, int | None, int, bool]]:
    with k.db.reading() as s:
        q = select(Payment.kind, Payment.period, Payment.amount, Payment.reversal)
        rows = s.execute(q.where(Payment.case_id == case_id).order_by(Payment.id))
        return [(kind, period, int(amount), bool(rev)) for kind, period, amount, rev in rows]


def milestones_match_a_replan(k: Kaizen, case_id: str) -> None:
    """Open milestones are exactly what a fresh plan of the standing facts leaves open."""
    with k.db.reading() as s:
        snap = store.load(s, case_id, store.actor(s, "admin"), EVERYTHING)
    env = k.env()
    planned = {p.key: p for p in plan(snap, case_rules(snap.case, env), env)}
    open_rows = {key: m.due for key, m in snap.milestones.items() if m.done_on is None}
    assert open_rows == {key: p.due for key, p in planned.items() if p.done_on is None}


def assert_doctor_finds_nothing(k: Kaizen) -> None:
    _, problems = check_database(k.db, k.settings, env=k.env())
    assert problems == []


# ---------------------------------------------------------------- the stories


def test_missing_capital_is_fixed_by_company_edit_then_apply(world: World, drive: Driver) -> None:
    k = drive.k
    number = company(world, "223456789012", capital=None, employees=None)
    cid = drive.open(company=number)
    drive.prepare_apply(cid)
    with pytest.raises(GuardFailed, match="資本金"):
        drive.step(cid, "apply")
    with pytest.raises(InvalidInput, match="理由"):
        k.edit_company("tanaka", number, capital=10_000_000, reason=None)
    changed = k.edit_company("tanaka", number, capital=10_000_000, reason="登録漏れ")
    assert changed == [("capital", None, 10_000_000)]
    assert drive.step(cid, "apply").stage == "application"
    with k.db.reading() as s:
        rows = s.execute(
            select(
                CompanyChange.field,
                CompanyChange.old,
                CompanyChange.new,
                CompanyChange.actor,
                CompanyChange.reason,
            )
        ).all()
    assert [tuple(r) for r in rows] == [("capital", None, "10000000", "tanaka", "登録漏れ")]


def test_an_accepted_cases_eligibility_facts_need_a_supervisor(world: World, drive: Driver) -> None:
    k = drive.k
    cid = drive.new(stage="due_diligence")
    before = snapshot(world.url)
    with pytest.raises(PermissionDenied, match="統括責任者"):
        k.edit_company("tanaka", world.company, employees=30, reason="訂正")
    assert snapshot(world.url) == before
    k.edit_company("boss", world.company, employees=30, reason="訂正")
    # The name decides nothing: an officer may fix it.
    k.edit_company("tanaka", world.company, name="株式会社テスト製作所 (訂正)", reason="誤記")
    assert k.show("tanaka", cid).company_name == "株式会社テスト製作所 (訂正)"


def test_a_fiscal_year_end_change_replans_the_open_cases_with_a_correction_event(
    world: World, drive: Driver
) -> None:
    k = drive.k
    cid = drive.open()
    due = {m.key: m.due for m in k.show("tanaka", cid).milestones}
    k.edit_company("tanaka", world.company, fiscal_year_end=9, reason="決算月の誤り")
    v = k.show("tanaka", cid)
    assert {m.key: m.due for m in v.milestones} != due
    last = v.events[-1]
    assert (last.kind, last.trigger, last.reason) == ("correction", "company_edit", "決算月の誤り")
    assert last.detail == {"company": world.company, "changes": {"fiscal_year_end": [5, 9]}}
    milestones_match_a_replan(k, cid)


def test_a_lender_typo_is_voided_then_the_right_lender_consents_and_agree(
    world: World, drive: Driver
) -> None:
    k = drive.k
    cid = drive.new(stage="bank_negotiation")
    k.add_lender("tanaka", cid, "西日本シテイ銀行")
    typo = k.show("tanaka", cid).events[-1]
    assert typo.trigger == "lender"
    v = k.void_fact("tanaka", cid, typo.seq, "金融機関名の誤記")
    assert [x.name for x in v.lenders] == [LENDER]
    k.add_lender("tanaka", cid, "西日本シティ銀行")
    k.record_consent("tanaka", cid, "西日本シティ銀行")
    k.record_consent("tanaka", cid, LENDER)
    assert drive.step(cid, "agree").stage == "payment_claim"
    events = {e.seq: e for e in k.show("tanaka", cid).events}
    fix = next(e for e in events.values() if e.kind == "correction")
    assert events[typo.seq].voided_by == fix.seq
    assert fix.detail == {
        "voids": typo.seq,
        "fact": "lender",
        "changes": {"lender:西日本シテイ銀行": ["西日本シテイ銀行", None]},
    }
    with pytest.raises(Conflict, match="既に"):
        k.void_fact("boss", cid, typo.seq, "二度目")
    assert_doctor_finds_nothing(k)


def test_a_voided_estimate_falls_back_to_the_one_before(world: World, drive: Driver) -> None:
    k = drive.k
    cid = drive.open()
    k.record_estimate("tanaka", cid, "dd_plan", 2_000_000)
    k.record_estimate("tanaka", cid, "dd_plan", 20_000_000)  # a zero too many
    seq = k.show("tanaka", cid).events[-1].seq
    k.void_fact("tanaka", cid, seq, "桁の誤り")
    [line] = [x for x in k.subsidy("tanaka", cid).categories if x.category == "dd_plan"]
    assert line.estimate == 2_000_000


def test_a_mistaken_agree_is_reverted_with_its_payments_reversed(
    world: World, drive: Driver
) -> None:
    k = drive.k
    cid = drive.new(stage="monitoring")
    paid = payments(k, cid)
    assert [(kind, amount > 0) for kind, _, amount, _ in paid] == [("plan_first", True)]
    with pytest.raises(PermissionDenied, match="統括責任者"):
        k.revert("tanaka", cid, "誤り")
    v = k.revert("boss", cid, "支払決定の誤り")
    assert v.stage == "payment_claim"
    amount = paid[0][2]
    assert payments(k, cid) == [
        ("plan_first", None, amount, False),
        ("plan_first", None, -amount, True),
    ]
    assert k.subsidy("tanaka", cid).paid == 0
    milestones_match_a_replan(k, cid)
    v = k.revert("boss", cid, "同意書の確認漏れ")
    assert v.stage == "bank_negotiation"
    assert "agree" in v.triggers
    milestones_match_a_replan(k, cid)
    # Forward again: agree and pay once more; what stands is one payment.
    assert drive.step(cid, "agree").stage == "payment_claim"
    assert drive.step(cid, "decide_payment").stage == "monitoring"
    assert k.subsidy("tanaka", cid).paid == amount
    milestones_match_a_replan(k, cid)
    history = k.show("tanaka", cid).events
    reverted = [e for e in history if e.voided_by is not None]
    assert [e.trigger for e in reverted] == ["agree", "decide_payment"]
    assert_doctor_finds_nothing(k)


def test_a_revert_of_a_monitoring_payment_reverses_both_halves(world: World, drive: Driver) -> None:
    k = drive.k
    cid = drive.new(stage="monitoring")
    drive.next(cid)  # claim_monitoring
    drive.next(cid)  # pay_monitoring: the withheld half and the first period
    before = k.subsidy("tanaka", cid).paid
    v = k.revert("boss", cid, "支払の誤り")
    assert (v.stage, v.periods_paid) == ("monitoring_claim", 0)
    reversed_rows = [r for r in payments(k, cid) if r[3]]
    assert {r[0] for r in reversed_rows} <= {"plan_second", "monitoring"}
    assert k.subsidy("tanaka", cid).paid == before + sum(r[2] for r in reversed_rows)
    assert sum(r[2] for r in payments(k, cid)) == k.subsidy("tanaka", cid).paid


def test_case_edit_changes_the_officer_and_advisor_on_the_record(
    world: World, drive: Driver
) -> None:
    k = drive.k
    k.add_officer("admin", "sato", name="佐藤", council="40", role="officer")
    cid = drive.open()
    v = k.edit_case("tanaka", cid, advisor="天神会計事務所", officer="sato", reason="担当替え")
    assert (v.advisor, v.officer) == ("天神会計事務所", "sato")
    last = v.events[-1]
    assert last.detail == {
        "changes": {"advisor": ["博多会計事務所", "天神会計事務所"], "officer": ["tanaka", "sato"]}
    }


def test_an_inactive_officer_cannot_act_and_their_cases_need_reassignment(
    world: World, drive: Driver
) -> None:
    k = drive.k
    cid = drive.open()
    k.edit_officer("admin", "tanaka", active=False)
    with pytest.raises(PermissionDenied):
        k.show("tanaka", cid)
    [row] = [o for o in k.list_officers("admin", council="40") if o.id == "tanaka"]
    assert (row.active, row.open_cases) == (False, 1)
    rows = workload(k, "admin", council="40").rows
    assert [r["officer"] for r in rows if r["needs_reassignment"]] == ["tanaka"]
    # The terminal view says so too (a column shown only when someone needs reassignment).
    from cli.reports import _workload

    screen = Console(file=io.StringIO(), width=120, record=True)
    screen.print(_workload(workload(k, "admin", council="40"), 50, 120))
    text = screen.export_text()
    assert "引継ぎ" in text and "要引継ぎ" in next(ln for ln in text.splitlines() if "田中" in ln)
    k.edit_case("boss", cid, officer="boss", reason="異動に伴う引継ぎ")
    assert not any(r["needs_reassignment"] for r in workload(k, "admin", council="40").rows)


# ---------------------------------------------------------------- refusals


def _refusals(drive: Driver) -> list[tuple[str, Any, type[KaizenError], str]]:
    k = drive.k
    fresh = drive.open()
    agreed = drive.new(stage="payment_claim")
    events = {e.trigger: e.seq for e in k.show("tanaka", agreed).events}
    return [
        ("no reason", lambda: k.revert("boss", agreed, None), InvalidInput, "理由"),
        ("no reason (void)", lambda: k.void_fact("tanaka", agreed, 2, None), InvalidInput, "理由"),
        ("wrong role", lambda: k.revert("tanaka", agreed, "誤り"), PermissionDenied, "統括責任者"),
        (
            "after 支払申請",
            lambda: k.edit_case("tanaka", agreed, advisor="X", reason="誤り"),
            PermissionDenied,
            "統括責任者",
        ),
        ("other council", lambda: k.revert("saga", agreed, "誤り"), NotFound, "見つかりません"),
        (
            "not a fact",
            lambda: k.void_fact("boss", agreed, events["apply"], "誤り"),
            NotAllowed,
            "事実",
        ),
        ("no such event", lambda: k.void_fact("boss", agreed, 999, "誤り"), NotFound, "#999"),
        ("never moved", lambda: k.revert("boss", fresh, "誤り"), NotAllowed, "段階の変更"),
        (
            "breaks a later stage",
            lambda: k.void_fact("boss", agreed, events["consent"], "誤り"),
            NotAllowed,
            "revert",
        ),
        (
            "certificate after apply",
            lambda: k.void_fact("boss", agreed, events["certificate"], "誤り"),
            NotAllowed,
            "revert",
        ),
        (
            "nothing to change",
            lambda: k.edit_case("boss", agreed, advisor="博多会計事務所", reason="誤り"),
            InvalidInput,
            "変更",
        ),
        (
            "officer of another council",
            lambda: k.edit_case("tanaka", fresh, officer="saga", reason="誤り"),
            InvalidInput,
            "saga",
        ),
    ]


def test_refused_corrections_write_nothing(world: World, drive: Driver) -> None:
    cases = _refusals(drive)
    before = snapshot(world.url)
    for name, call, error, words in cases:
        with pytest.raises(error, match=words) as got:
            call()
        assert "\n" not in got.value.message, name
        assert snapshot(world.url) == before, name
    assert len({e.exit_code for _, _, e, _ in cases}) >= 4


# ---------------------------------------------------------------- the log only grows


@pytest.fixture
def append_only(world: World) -> None:
    """SQLite has no trigger in the schema: install one (PostgreSQL's is in migration 0001)."""
    if world.url.startswith("sqlite"):
        with drive_engine(world).begin() as c:
            for op in ("UPDATE", "DELETE"):
                c.execute(
                    text(
                        f"CREATE TRIGGER test_events_no_{op.lower()} BEFORE {op} ON events "
                        "BEGIN SELECT RAISE(ABORT, 'events are append-only (test)'); END"
                    )
                )


def drive_engine(world: World) -> Any:
    return world.k.db.engine  # type: ignore[attr-defined]


def test_every_correction_only_appends_events(
    world: World, drive: Driver, append_only: None
) -> None:
    k = drive.k
    cid = drive.new(stage="bank_negotiation")
    before = snapshot(world.url)["events"]
    k.add_lender("tanaka", cid, "西日本シテイ銀行")
    k.void_fact("tanaka", cid, k.show("tanaka", cid).events[-1].seq, "誤記")
    k.edit_case("tanaka", cid, advisor="天神会計事務所", reason="誤記")
    k.edit_company("boss", world.company, fiscal_year_end=9, employees=21, reason="誤記")
    drive.to(cid, "monitoring")
    k.revert("boss", cid, "誤り")
    k.revert("boss", cid, "誤り")
    with pytest.raises(KaizenError):
        k.void_fact("tanaka", cid, 1, "誤り")
    after = snapshot(world.url)["events"]
    assert set(before) <= set(after)
    kinds = {row[3] for row in after if row[1] == repr(cid)}
    assert "'correction'" in kinds
    with drive_engine(world).connect() as c:
        rows = c.execute(
            text("SELECT seq FROM events WHERE case_id = :c ORDER BY seq"), {"c": cid}
        ).scalars()
        seqs = list(rows)
    assert seqs == list(range(1, len(seqs) + 1))


# ---------------------------------------------------------------- an e-mail added later


@pytest.fixture
def smtp() -> Iterator[Server]:
    controller, server = start_server()
    try:
        yield server
    finally:
        controller.stop()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_officer_given_an_email_later_receives_the_next_reminder(
    world: World, smtp: Server
) -> None:
    k: Kaizen = world.k  # type: ignore[assignment]
    k.add_officer("admin", "suzuki", name="鈴木", council="40", role="officer")
    Driver(world, actor="suzuki").open()  # kick-off due 2026-06-30
    mailer = SmtpMailer(smtp.settings())
    sweep(k.db, k.settings, at("2026-06-23"), k.calendar, mailer)  # 7 days before: no address
    assert smtp.inbox.to("suzuki@example.jp") == []
    row = k.edit_officer("admin", "suzuki", email="suzuki@example.jp")
    assert row.changes == {"email": [None, "suzuki@example.jp"]}
    sweep(k.db, k.settings, at("2026-07-07"), k.calendar, mailer)  # overdue: by e-mail now
    [mail] = smtp.inbox.to("suzuki@example.jp")
    assert mail.get_content().replace("\r\n", "\n").startswith("鈴木 様\n")


# ---------------------------------------------------------------- export after corrections


@pytest.fixture
def second_db(world: World, sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    backend = "sqlite" if world.url.startswith("sqlite") else "postgresql"
    with migrated(backend, sqlite_template, tmp_path / "other.db") as url:
        yield url


def test_a_corrected_case_exports_what_stands(
    world: World, drive: Driver, second_db: str, tmp_path: Path
) -> None:
    """Reverted moves and reversed payments are not in the file: the imported case is the one
    that stands (its payments net, its stage, its facts)."""
    k = drive.k
    set_today(world, date(2025, 4, 7))
    cid = drive.new(stage="monitoring")
    k.revert("boss", cid, "支払決定の誤り")
    drive.step(cid, "decide_payment")
    sheet = tmp_path / "cases.csv"
    export_cases(k, "admin", sheet)
    k2 = other_kaizen(world, second_db)
    try:
        assert import_cases(k2, "tanaka", sheet).problems == []
        mine, theirs = rows(k, cid), rows(k2, cid)
        for part in ("case", "lenders", "costs", "reports"):
            assert theirs[part] == mine[part], part
        assert k2.subsidy("tanaka", cid).paid == k.subsidy("tanaka", cid).paid
        assert len(theirs["payments"]) == 1
    finally:
        k2.db.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("stage", "trigger", "cleared"),
    [
        ("planning", "withdraw", None),
        ("consultation", "apply", "applied_on"),
        ("application", "accept", "accepted_on"),
    ],
)
def test_revert_brings_the_case_back_as_it_stood(
    world: World, drive: Driver, stage: str, trigger: str, cleared: str | None
) -> None:
    k = drive.k
    cid = drive.new(stage=stage)
    if trigger == "apply":
        drive.prepare_apply(cid)
    before = k.show("tanaka", cid)
    if trigger == "withdraw":
        drive.step(cid, trigger, reason="申出")
    else:
        drive.next(cid)
    back = k.revert("boss", cid, "誤り")
    assert back.stage == before.stage
    if cleared is not None:
        assert getattr(back, cleared) is None
    assert {(m.key, m.due) for m in back.milestones if not m.done} == {
        (m.key, m.due) for m in before.milestones if not m.done
    }
    milestones_match_a_replan(k, cid)
    assert_doctor_finds_nothing(k)
    assert drive.next(cid).stage != before.stage  # and it moves on again


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_option_chosen_by_mistake_is_edited_and_the_timeline_follows(
    world: World, drive: Driver
) -> None:
    k = drive.k
    cid = drive.open("early", "normal")
    keys = {m.key for m in k.show("tanaka", cid).milestones}
    v = k.edit_case("tanaka", cid, interim_monitoring=True, reason="期中モニタリングを選択")
    assert v.interim_monitoring and v.periods_total > 1
    assert {m.key for m in v.milestones} != keys
    milestones_match_a_replan(k, cid)
    with pytest.raises(InvalidInput, match="early"):
        k.edit_case("tanaka", drive.open(), interim_monitoring=True, reason="誤り")
    drive.to(cid, "monitoring")
    with pytest.raises(NotAllowed, match="revert"):
        k.edit_case("boss", cid, interim_monitoring=False, reason="誤り")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_correction_is_no_step_of_the_funnel(world: World, drive: Driver) -> None:
    k = drive.k
    cid = drive.new(stage="bank_negotiation")
    k.add_lender("tanaka", cid, "西日本シテイ銀行")
    k.void_fact("tanaka", cid, k.show("tanaka", cid).events[-1].seq, "誤記")
    k.edit_case("tanaka", cid, advisor="天神会計事務所", reason="誤記")
    with k.db.reading() as s:
        steps = [st for _, c, st, _ in funnel_data(s, CaseFilter()).steps if c == cid]
    moves = [e.to_stage for e in k.show("tanaka", cid).events if e.kind == "transition"]
    assert steps == moves
