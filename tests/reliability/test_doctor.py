"""`kaizen doctor`: each of its checks fires on a hand-corrupted database, and never cries wolf.

The corruptions are raw SQL a careless script or a broken migration could run: a stage set by
hand, events with a gap or off the graph, work left on a closed case, payments over the caps,
a second use the rules forbid. On PostgreSQL only INSERTs into `events` are possible (the
append-only trigger refuses the rest, see test_audit.py); the SQLite-only rows rewrite events.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from tests.reliability.conftest import (
    AFTER_THE_LIVES,
    advance_to,
    assert_clean_refusal,
    company,
    open_case,
)
from workflow.clock import FixedClock
from workflow.config import Settings
from workflow.doctor import CHECKS

AT = "2026-06-01 01:00:00"


def sql(k: Any, stmt: str, **params: Any) -> None:
    with k.db.engine.begin() as c:
        c.execute(text(stmt), params)


def last_seq(k: Any, cid: str) -> int:
    with k.db.engine.connect() as c:
        return int(
            c.execute(
                text("SELECT max(seq) FROM events WHERE case_id = :c"), {"c": cid}
            ).scalar_one()
        )


def add_event(
    k: Any,
    cid: str,
    *,
    seq: int,
    kind: str,
    trigger: str,
    frm: str | None,
    to: str,
    on: str = "2026-06-01",
    at: str = AT,
) -> None:
    sql(
        k,
        "INSERT INTO events (case_id, seq, kind, \"trigger\", from_stage, to_stage, effective_on,"
        " recorded_at, actor, reason, detail)"
        " VALUES (:c, :seq, :kind, :t, :f, :to, :on, :at, 'tanaka', NULL, NULL)",
        c=cid, seq=seq, kind=kind, t=trigger, f=frm, to=to, on=on, at=at,
    )  # fmt: skip


def add_payment(k: Any, cid: str, amount: int, kind: str = "plan_first") -> None:
    sql(
        k,
        "INSERT INTO payments (case_id, kind, period, amount, paid_on)"
        " VALUES (:c, :kind, NULL, :a, '2026-06-01')",
        c=cid, kind=kind, a=amount,
    )  # fmt: skip


# ------------------------------------------------------------------ the corruptions


@dataclass(frozen=True)
class Row:
    check: str
    fragment: str  # a piece of the problem's message
    make: Callable[[Any, str], str]  # (engine, company number) -> the corrupted case
    sqlite_only: bool = False


def stage_by_hand(k: Any, co: str) -> str:
    cid = open_case(k, co)
    sql(k, "UPDATE cases SET stage = 'planning' WHERE id = :c", c=cid)
    return cid


def stage_unknown(k: Any, co: str) -> str:
    cid = open_case(k, co)
    sql(k, "UPDATE cases SET stage = 'bogus' WHERE id = :c", c=cid)
    return cid


def event_gap(k: Any, co: str) -> str:
    cid = open_case(k, co)
    add_event(
        k,
        cid,
        seq=last_seq(k, cid) + 2,
        kind="fact",
        trigger="lender",
        frm="consultation",
        to="consultation",
    )
    return cid


def event_off_graph(k: Any, co: str) -> str:
    cid = open_case(k, co)
    add_event(
        k,
        cid,
        seq=last_seq(k, cid) + 1,
        kind="transition",
        trigger="apply",
        frm="consultation",
        to="monitoring",
    )
    sql(k, "UPDATE cases SET stage = 'monitoring' WHERE id = :c", c=cid)
    return cid


def event_unknown_trigger(k: Any, co: str) -> str:
    cid = open_case(k, co)
    add_event(
        k,
        cid,
        seq=last_seq(k, cid) + 1,
        kind="transition",
        trigger="teleport",
        frm="consultation",
        to="application",
    )
    sql(k, "UPDATE cases SET stage = 'application' WHERE id = :c", c=cid)
    return cid


def event_starts_elsewhere(k: Any, co: str) -> str:
    cid = open_case(k, co)
    add_event(
        k,
        cid,
        seq=last_seq(k, cid) + 1,
        kind="transition",
        trigger="accept",
        frm="application",
        to="due_diligence",
    )
    sql(k, "UPDATE cases SET stage = 'due_diligence' WHERE id = :c", c=cid)
    return cid


def _fact_recorded_at(k: Any, co: str, at: str) -> str:
    """What a forged clock wrote (issue 15: KAIZEN_NOW=2031-… or 2001-…): a valid fact event."""
    cid = open_case(k, co)
    add_event(
        k, cid, seq=last_seq(k, cid) + 1, kind="fact", trigger="lender",
        frm="consultation", to="consultation", at=at,
    )  # fmt: skip
    return cid


def recorded_in_the_future(k: Any, co: str) -> str:
    return _fact_recorded_at(k, co, "2089-12-01 01:00:00")


def recorded_out_of_order(k: Any, co: str) -> str:
    return _fact_recorded_at(k, co, "2001-06-01 01:00:00")


def event_backdated(k: Any, co: str) -> str:
    cid = open_case(k, co)
    add_event(
        k,
        cid,
        seq=last_seq(k, cid) + 1,
        kind="transition",
        trigger="withdraw",
        frm="consultation",
        to="withdrawn",
        on="2020-01-06",
    )
    sql(k, "UPDATE cases SET stage = 'withdrawn' WHERE id = :c", c=cid)
    sql(k, "DELETE FROM milestones WHERE case_id = :c AND done_on IS NULL", c=cid)
    return cid


def import_midway(k: Any, co: str) -> str:
    cid = open_case(k, co)
    add_event(
        k,
        cid,
        seq=last_seq(k, cid) + 1,
        kind="import",
        trigger="import",
        frm=None,
        to="consultation",
    )
    return cid


def no_opening_event(k: Any, co: str) -> str:
    cid = "40-2026-9001"
    sql(
        k,
        "INSERT INTO cases (id, program, track, council_code, company_key, officer_id, advisor,"
        " stage, affected, interim_monitoring, guarantee_release, reuse_exception, opened_on,"
        " last_event_on, periods_paid, version, updated_at)"
        " VALUES (:c, '405', 'normal', '40', :co, 'tanaka', '', 'consultation', '', :f, :f, :f,"
        " '2026-06-01', '2026-06-01', 0, 1, :at)",
        c=cid, co=co, f=False, at=AT,
    )  # fmt: skip
    return cid


def unknown_track(k: Any, co: str) -> str:
    cid = open_case(k, co)
    sql(k, "UPDATE cases SET track = 'bogus' WHERE id = :c", c=cid)
    return cid


def withdrawn(k: Any, co: str) -> str:
    cid = open_case(k, co)
    k.advance("tanaka", cid, "withdraw", reason="取下げ")
    return cid


def open_milestone_on_closed(k: Any, co: str) -> str:
    cid = withdrawn(k, co)
    sql(
        k,
        "INSERT INTO milestones (case_id, key, label, stage, due, done_on)"
        " VALUES (:c, 'ghost', 'ghost', 'planning', '2026-07-31', NULL)",
        c=cid,
    )
    return cid


def pending_reminder_on_closed(k: Any, co: str) -> str:
    cid = withdrawn(k, co)
    with k.db.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO milestones (case_id, key, label, stage, due, done_on)"
                " VALUES (:c, 'ghost', 'ghost', 'consultation', '2026-06-30', '2026-06-01')"
            ),
            {"c": cid},
        )
        mid = c.execute(
            text("SELECT id FROM milestones WHERE case_id = :c AND key = 'ghost'"), {"c": cid}
        ).scalar_one()
        c.execute(
            text(
                "INSERT INTO reminders (milestone_id, case_id, kind, recipient, due, created_at,"
                " status, attempts, next_attempt_at)"
                " VALUES (:m, :c, 'overdue', 'tanaka', '2026-06-30', :at, 'pending', 0, :at)"
            ),
            {"m": mid, "c": cid, "at": AT},
        )
    return cid


def applied(k: Any, co: str, program: str = "405") -> str:
    cid = open_case(k, co, program=program)
    advance_to(k, cid, "application")
    return cid


def payment_over_caps(k: Any, co: str) -> str:
    cid = applied(k, co)
    add_payment(k, cid, 5_000_000)
    return cid


def payment_over_subsidy(k: Any, co: str) -> str:
    cid = applied(k, co)  # no fee recorded: nothing may be paid yet
    add_payment(k, cid, 1_000)
    return cid


def payment_without_rules(k: Any, co: str) -> str:
    cid = open_case(k, co)  # consultation: no rule version pinned yet
    add_payment(k, cid, 1)
    return cid


def payment_unknown_rules(k: Any, co: str) -> str:
    cid = applied(k, co)
    sql(k, "UPDATE cases SET rule_version = 'R99' WHERE id = :c", c=cid)
    add_payment(k, cid, 1)
    return cid


def second_early_use(k: Any, co: str) -> str:
    cid = applied(k, co, program="early")
    sql(
        k,
        "INSERT INTO prior_uses (company_key, program, track, fiscal_year, paid, note,"
        " recorded_at, recorded_by) VALUES (:co, 'early', 'normal', 2024, 0, '', :at, 'admin')",
        co=co, at=AT,
    )  # fmt: skip
    return cid


def exception_by_officer(k: Any, co: str) -> str:
    cid = applied(k, co)
    k.advance("tanaka", cid, "accept")  # an officer, not the supervisor
    sql(
        k,
        "INSERT INTO prior_uses (company_key, program, track, fiscal_year, paid, note,"
        " recorded_at, recorded_by) VALUES (:co, '405', 'normal', 2023, 0, '', :at, 'admin')",
        co=co, at=AT,
    )  # fmt: skip
    sql(k, "UPDATE cases SET reuse_reason = '前回と異なる悪化要因' WHERE id = :c", c=cid)
    return cid


def event_deleted(k: Any, co: str) -> str:
    cid = open_case(k, co)
    k.add_lender("tanaka", cid, "福岡銀行")
    k.add_lender("tanaka", cid, "西日本シティ銀行")
    sql(k, "DELETE FROM events WHERE case_id = :c AND seq = 2", c=cid)
    return cid


def event_rewritten(k: Any, co: str) -> str:
    cid = withdrawn(k, co)
    sql(k, "UPDATE events SET to_stage = 'discontinued' WHERE case_id = :c AND seq = 2", c=cid)
    return cid


def milestone_moved(k: Any, co: str) -> str:
    cid = open_case(k, co)
    sql(k, "UPDATE milestones SET due = '2031-01-31' WHERE case_id = :c AND done_on IS NULL", c=cid)
    return cid


def payment_of_a_reverted_move(k: Any, co: str) -> str:
    cid = open_case(k, co)
    advance_to(k, cid, "monitoring")
    k.revert("boss", cid, "支払決定の誤り")  # reverses plan_first by a negative row
    add_payment(k, cid, 1_000)  # and a stray payment with no decide_payment standing
    return cid


def payment_below_zero(k: Any, co: str) -> str:
    cid = open_case(k, co)
    advance_to(k, cid, "monitoring")
    sql(
        k,
        "INSERT INTO payments (case_id, kind, period, amount, paid_on, reversal)"
        " VALUES (:c, 'plan_first', NULL, -99999999, '2026-06-01', :t)",
        c=cid, t=True,
    )  # fmt: skip
    return cid


ROWS = {
    "stage set by hand": Row("stage_matches_events", "last event leads to", stage_by_hand),
    "stage not of the program": Row("stage_matches_events", "is not a stage", stage_unknown),
    "gap in the event numbers": Row("event_path", "not numbered", event_gap),
    "transition off the graph": Row("event_path", "is not an edge", event_off_graph),
    "unknown trigger": Row("event_path", "unknown trigger", event_unknown_trigger),
    "event starts elsewhere": Row("event_path", "starts at application", event_starts_elsewhere),
    "event dated backwards": Row("event_path", "dated before", event_backdated),
    "recorded after the clock": Row("event_time", "after the clock", recorded_in_the_future),
    "recorded out of order": Row("event_time", "out of order", recorded_out_of_order),
    "import after the start": Row("event_path", "import after", import_midway),
    "case without events": Row("event_path", "no opening event", no_opening_event),
    "track not in the rules": Row("event_path", "not in the rule data", unknown_track),
    "open milestone, closed case": Row("orphans", "open milestone ghost", open_milestone_on_closed),
    "pending reminder, closed case": Row("orphans", "pending reminder", pending_reminder_on_closed),
    "payment over the caps": Row("money", "exceed the caps", payment_over_caps),
    "payment over the fees' subsidy": Row("money", "exceed the subsidy", payment_over_subsidy),
    "payment before any rule": Row("money", "without a rule version", payment_without_rules),
    "payment, unknown rule version": Row("money", "unknown rule version", payment_unknown_rules),
    "second early use (R7: once)": Row("reuse", "2回目", second_early_use),
    "re-use exception, officer": Row("reuse", "not a supervisor", exception_by_officer),
    "milestone moved by hand": Row("derived", "open milestone", milestone_moved),
    "payment of a reverted move": Row("derived", "without the stage change", payment_of_a_reverted_move),
    "payment netting below zero": Row("derived", "below zero", payment_below_zero),
    "event deleted": Row("event_path", "not numbered", event_deleted, sqlite_only=True),
    "event rewritten": Row("stage_matches_events", "leads to discontinued", event_rewritten, sqlite_only=True),
}  # fmt: skip


def test_every_check_has_a_corruption_that_fires_it() -> None:
    assert {r.check for r in ROWS.values()} == set(CHECKS)


@dataclass
class Sick:
    k: Any
    url: str
    n: int = 0
    corrupted: set[str] | None = None

    def company(self) -> str:
        self.n += 1
        return company(self.k, self.n)


@pytest.fixture(scope="module")
def sick(module_db: str) -> Iterator[Sick]:
    """One database per backend; rows corrupt cases of their own, next to healthy ones."""
    from workflow.setup import init_database

    k, _ = init_database(
        Settings(db_url=module_db), FixedClock(datetime(2026, 6, 1, 1, 0, tzinfo=UTC)), "admin"
    )
    k.add_officer("admin", "tanaka", name="田中", council="40", role="officer")
    k.add_officer("admin", "boss", name="統括", council="40", role="supervisor")
    s = Sick(k, module_db, corrupted=set())
    advance_to(k, open_case(k, s.company()), "completed")
    advance_to(k, open_case(k, s.company()), "withdrawn")
    advance_to(k, open_case(k, s.company(), program="early"), "monitoring")
    yield s
    k.db.dispose()


def doctor(cli: Any, url: str, *extra: str) -> Any:
    return cli("doctor", *extra, db=url, now=AFTER_THE_LIVES)


def test_healthy_cases_pass(cli: Any, sick: Sick) -> None:
    r = doctor(cli, sick.url, "--json")
    doc = json.loads(r.out)
    healthy = [p for p in doc["problems"] if p["case"] not in (sick.corrupted or set())]
    assert healthy == []
    if not sick.corrupted:
        assert r.code == 0 and doc["ok"] is True
        human = doctor(cli, sick.url)
        assert human.code == 0 and "問題はありません" in human.out


@pytest.mark.parametrize("name", ROWS)
def test_check_fires(cli: Any, sick: Sick, name: str) -> None:
    row = ROWS[name]
    if row.sqlite_only and not sick.url.startswith("sqlite"):
        pytest.skip("events cannot be rewritten on PostgreSQL (append-only trigger)")
    cid = row.make(sick.k, sick.company())
    assert sick.corrupted is not None
    sick.corrupted.add(cid)
    r = doctor(cli, sick.url, "--json")
    assert r.code == 1, r.err
    doc = json.loads(r.out)
    mine = [p for p in doc["problems"] if p["case"] == cid]
    assert any(p["check"] == row.check and row.fragment in p["message"] for p in mine), mine
    strays = [p for p in doc["problems"] if p["case"] not in sick.corrupted]
    assert strays == [], "a healthy case was reported"


def test_report_shape_and_exit_code(cli: Any, sick: Sick) -> None:
    assert sick.corrupted is not None
    cid = stage_by_hand(sick.k, sick.company())
    sick.corrupted.add(cid)
    r = doctor(cli, sick.url, "--json")
    assert r.code == 1
    assert_clean_refusal(r.err, r.code)  # the list on stdout, a one-line verdict on stderr
    doc = json.loads(r.out)
    assert set(doc) == {"ok", "cases", "checks", "problems"}
    assert doc["ok"] is False
    assert doc["checks"] == list(CHECKS)
    with sick.k.db.engine.connect() as c:
        assert doc["cases"] == c.execute(text("SELECT count(*) FROM cases")).scalar_one()
    assert doc["problems"] and all(
        set(p) == {"check", "case", "message"} and p["check"] in CHECKS and p["message"]
        for p in doc["problems"]
    )
    human = doctor(cli, sick.url)
    assert human.code == 1
    assert "不整合" in human.out and "stage_matches_events" in human.out and cid in human.out


def test_clean_database_exits_zero(cli: Any, world: Any) -> None:
    k = world.k
    advance_to(k, open_case(k, world.company), "application")
    r = doctor(cli, world.url, "--json")
    assert r.code == 0, r.out
    assert json.loads(r.out) == {"ok": True, "cases": 1, "checks": list(CHECKS), "problems": []}


# ------------------------------------------------------------------ who asks


@pytest.fixture
def two_councils(world: Any) -> tuple[Any, str, str]:
    """A sound case of council 40 and a case of council 41 with a stage set by hand."""
    k = world.k
    c40 = open_case(k, world.company)
    c41 = open_case(k, company(k, 41, actor="saga"), actor="saga")
    sql(k, "UPDATE cases SET stage = 'planning' WHERE id = :c", c=c41)
    return world, c40, c41


@pytest.mark.parametrize(
    ("user", "code", "cases", "flagged"),
    [
        ("admin", 1, 2, {"41"}),  # every council
        ("saga", 1, 1, {"41"}),  # their own council: its broken case
        ("tanaka", 0, 1, set()),  # their own council: sound; 41's case is not theirs to see
        ("boss", 0, 1, set()),
    ],
)
def test_doctor_checks_the_cases_the_actor_may_see(
    cli: Any,
    two_councils: tuple[Any, str, str],
    user: str,
    code: int,
    cases: int,
    flagged: set[str],
) -> None:
    world, _, c41 = two_councils
    r = cli("doctor", "--json", db=world.url, user=user)
    assert r.code == code, r.err
    doc = json.loads(r.out)
    assert doc["cases"] == cases
    assert {p["case"][:2] for p in doc["problems"]} == flagged
    assert all(p["case"] == c41 for p in doc["problems"])


def test_doctor_refuses_an_unregistered_user(cli: Any, two_councils: tuple[Any, str, str]) -> None:
    world, _, c41 = two_councils
    r = cli("doctor", "--json", db=world.url, user="stranger")
    assert r.code == 4 and r.out == ""
    assert_clean_refusal(r.err, r.code)
    assert "stranger" in r.err and c41 not in r.err


def test_doctor_prints_stored_text_as_text(cli: Any, world: Any) -> None:
    """A trigger written by a careless script quoting markup (`[/i]`) or ESC is shown as it is."""
    cid = open_case(world.k, company(world.k, 77))
    for trigger in ("[/i]", "\x1b]0;x\x07"):
        add_event(
            world.k, cid, seq=last_seq(world.k, cid) + 1, kind="transition", trigger=trigger,
            frm="consultation", to="consultation",
        )  # fmt: skip
    r = cli("doctor", db=world.url, now=AFTER_THE_LIVES)
    assert r.code == 1 and "Traceback" not in r.err, r.err
    assert "unknown trigger [/i]" in r.out
    assert "\x1b" not in r.out and "\\x1b" in r.out
