"""Property test: random sequences of facts and triggers against a small model of the rules.

Hypothesis drives one case (of a random program, track and options) with every fact command
(lender, consent, estimate, fee, certificate, plan, report) and every trigger, with random
dates around the clock and occasional reasons. The model (written from rules.md §2, not from
the engine) predicts for each step either the new state or the kind of refusal
(InvalidInput, NotAllowed, GuardFailed, NotFound, Conflict). After every step:
- the engine agrees with the model (stage, refusal class);
- a refused step changed nothing (version, events);
- `check_database` (workflow/doctor.py) finds no problem;
- the stage equals the last transition's target, and events are numbered 1..n;
- no category's subsidy exceeds its cap and nothing is paid beyond the subsidy.
SQLite only; KAIZEN_STATEFUL_EXAMPLES raises the number of examples (default 15), and
KAIZEN_STATEFUL_SHRINK=1 shrinks a failure to a minimal sequence (slow).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text

from states.programs import catalog
from workflow.clock import FixedClock
from workflow.config import Settings
from workflow.doctor import check_database
from workflow.errors import Conflict, GuardFailed, InvalidInput, KaizenError, NotAllowed, NotFound
from workflow.guards import months_before

TODAY = date(2026, 6, 1)
CLOCK = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)  # 10:00 JST
EXAMPLES = int(os.environ.get("KAIZEN_STATEFUL_EXAMPLES", "15"))
PHASES = tuple(Phase) if os.environ.get("KAIZEN_STATEFUL_SHRINK") else (Phase.generate,)

DEFINITIONS = ["405/normal", "405/gl", "early/normal", "early/guarantee"]
TRIGGERS = sorted({t for d in catalog().definitions.values() for t in d.triggers})
CATEGORIES = [
    *sorted({c.id for d in catalog().definitions.values() for c in d.categories}),
    "bogus",
]
LENDERS = ["福岡銀行", "西日本シティ銀行", "北九州銀行"]
DATES = st.one_of(st.none(), st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 6, 3)))
AMOUNTS = st.one_of(
    st.sampled_from([0, 1, 100_000, 150_000, 300_000, 900_000, 1_500_000, 2_400_000, 5_000_000]),
    st.integers(min_value=-5, max_value=6_000_000),
)
REASONS = st.sampled_from([None, None, "", "   ", "金融機関の要請により修正"])

# Where each move goes and what it needs (rules.md §2), for the model.
MOVES: dict[str, tuple[tuple[str, ...], str]] = {
    "apply": (("consultation",), "application"),
    "accept": (("application",), "*accept"),
    "reject": (("application",), "rejected"),
    "start_planning": (("due_diligence",), "planning"),
    "submit_plan": (("planning",), "bank_negotiation"),
    "revise": (("bank_negotiation",), "planning"),
    "agree": (("bank_negotiation",), "payment_claim"),
    "decide_payment": (("payment_claim",), "monitoring"),
    "claim_monitoring": (("monitoring",), "monitoring_claim"),
    "pay_monitoring": (("monitoring_claim",), "monitoring"),
    "complete": (("monitoring_claim",), "completed"),
    "withdraw": (
        ("consultation", "application", "due_diligence", "planning", "bank_negotiation", "payment_claim"),
        "withdrawn",
    ),
    "discontinue": (
        ("consultation", "application", "due_diligence", "planning", "bank_negotiation",
         "payment_claim", "monitoring", "monitoring_claim"),
        "discontinued",
    ),
}  # fmt: skip


@dataclass
class Model:
    program: str
    track: str
    options: set[str]
    advisor: bool
    periods_total: int
    stage: str = "consultation"
    last_move: date = TODAY
    applied: date | None = None
    accepted: date | None = None
    decided: date | None = None
    lenders: dict[str, bool] = field(default_factory=dict)
    certificate: date | None = None
    estimates: dict[str, int] = field(default_factory=dict)
    actuals: dict[str, int] = field(default_factory=dict)
    plan: bool = False
    reports: set[int] = field(default_factory=set)
    paid_periods: int = 0

    def dated_fact(self, on: date) -> None:
        """A transition may not be dated before a dated fact (fee, consent, plan, report)."""
        self.last_move = max(self.last_move, on)

    @property
    def categories(self) -> dict[str, str]:
        d = catalog().definition(self.program, self.track)
        return {c.id: c.phase for c in d.categories_for(self.options)}

    def guard_fails(self, trigger: str, on: date, reason: str | None) -> bool:
        why = bool(reason and reason.strip())
        cats = self.categories
        if trigger == "apply":
            plan = sum(v for c, v in self.estimates.items() if cats.get(c) == "plan")
            mon = sum(v for c, v in self.estimates.items() if cats.get(c) == "monitoring")
            return (
                not self.advisor
                or not self.lenders
                or self.certificate is None
                or self.certificate > on
                or self.certificate < months_before(on, 3)
                or any(c not in self.estimates for c in cats)
                or (f"{self.program}/{self.track}" == "405/normal" and 2 * mon > plan + mon)
            )
        if trigger in ("reject", "revise", "withdraw", "discontinue"):
            return not why
        if trigger == "submit_plan":
            return not self.plan
        if trigger == "agree":
            return not self.lenders or not all(self.lenders.values())
        if trigger == "decide_payment":
            return any(
                p == "plan" and c in self.estimates and c not in self.actuals
                for c, p in cats.items()
            )
        if trigger == "claim_monitoring":
            return self.paid_periods + 1 not in self.reports
        if trigger == "pay_monitoring":
            return self.paid_periods + 1 >= self.periods_total
        if trigger == "complete":
            return self.paid_periods + 1 < self.periods_total
        return False  # accept (no earlier use of the company), start_planning


class CaseMachine(RuleBasedStateMachine):
    seed: Path  # an initialised database with officers and an eligible company
    company: str
    workdir: Path

    def __init__(self) -> None:
        super().__init__()
        from storage.db import open_database
        from workflow.service import Kaizen

        self.dir = Path(tempfile.mkdtemp(dir=self.workdir))
        path = self.dir / "k.db"
        shutil.copy(self.seed, path)
        settings_ = Settings(db_url=f"sqlite:///{path}")
        self.k = Kaizen(open_database(settings_.db_url, create=False), settings_, FixedClock(CLOCK))
        self.cid = ""
        self.m: Model | None = None

    def teardown(self) -> None:
        self.k.db.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---------------------------------------------------------------- helpers

    def snapshot(self) -> tuple[Any, ...]:
        with self.k.db.engine.connect() as c:
            case = c.execute(
                text("SELECT version, stage, updated_at FROM cases WHERE id = :c"), {"c": self.cid}
            ).one()
            events = c.execute(
                text("SELECT count(*), max(seq) FROM events WHERE case_id = :c"), {"c": self.cid}
            ).one()
        return (*case, *events)

    def attempt(self, expected: type[KaizenError] | None, call: Any) -> bool:
        """Run one use case; the engine must refuse exactly when and how the model says."""
        before = self.snapshot()
        try:
            call()
        except KaizenError as e:
            assert self.snapshot() == before, "a refused step changed the case"
            assert expected is not None, f"refused, the model expected success: {e.message}"
            assert type(e) is expected, (
                f"{type(e).__name__} ({e.message}), model: {expected.__name__}"
            )
            return False
        assert expected is None, f"accepted, the model expected {expected.__name__}"
        return True

    @staticmethod
    def when(on: date | None) -> date:
        return on or TODAY

    # ---------------------------------------------------------------- opening

    @initialize(
        definition=st.sampled_from(DEFINITIONS),
        advisor=st.sampled_from([True, True, True, False]),  # without one, apply never passes
        option=st.booleans(),
        opened=st.dates(min_value=date(2026, 1, 5), max_value=TODAY),
    )
    def open(self, definition: str, advisor: bool, option: bool, opened: date) -> None:
        program, track = definition.split("/")
        options = set()
        if option and definition == "405/normal":
            options.add("guarantee_release")
        if option and program == "early":
            options.add("interim_monitoring")
        v = self.k.open_case(
            "tanaka", company=self.company, program=program, track=track, council="40",
            advisor="博多会計" if advisor else "", on=opened,
            guarantee_release="guarantee_release" in options,
            interim_monitoring="interim_monitoring" in options,
        )  # fmt: skip
        self.cid = v.id
        self.m = Model(program, track, options, advisor, v.periods_total, last_move=opened)

    # ---------------------------------------------------------------- facts (model + call)

    def lender(self, name: str) -> None:
        m = self.m
        assert m is not None
        if m.stage not in (
            "consultation",
            "application",
            "due_diligence",
            "planning",
            "bank_negotiation",
        ):
            expected: Any = NotAllowed
        elif name in m.lenders:
            expected = Conflict
        else:
            expected = None
        if self.attempt(expected, lambda: self.k.add_lender("tanaka", self.cid, name)):
            m.lenders[name] = False

    def consent(self, name: str, on: date | None) -> None:
        m = self.m
        assert m is not None
        w = self.when(on)
        if w > TODAY:
            expected: Any = InvalidInput
        elif m.stage not in ("planning", "bank_negotiation"):
            expected = NotAllowed
        elif name not in m.lenders:
            expected = NotFound
        elif m.applied and w < m.applied:
            expected = InvalidInput
        else:
            expected = None
        if self.attempt(expected, lambda: self.k.record_consent("tanaka", self.cid, name, on=on)):
            m.lenders[name] = True
            m.dated_fact(w)

    def estimate(self, category: str, amount: int) -> None:
        m = self.m
        assert m is not None
        if amount < 0:
            expected: Any = InvalidInput
        elif m.stage != "consultation":  # fixed by apply: the guards checked there hold
            expected = NotAllowed
        elif category not in m.categories:
            expected = InvalidInput
        else:
            expected = None
        if self.attempt(
            expected, lambda: self.k.record_estimate("tanaka", self.cid, category, amount)
        ):
            m.estimates[category] = amount

    def fee(self, category: str, amount: int, on: date | None) -> None:
        m = self.m
        assert m is not None
        w = self.when(on)
        phase = m.categories.get(category)
        if amount < 0 or w > TODAY or phase is None or m.accepted is None or w < m.accepted:
            expected: Any = InvalidInput
        elif (
            phase == "plan"
            and m.stage not in ("due_diligence", "planning", "bank_negotiation", "payment_claim")
        ) or (phase == "monitoring" and m.stage not in ("monitoring", "monitoring_claim")):
            expected = NotAllowed
        elif category not in m.estimates:
            expected = InvalidInput
        elif phase == "monitoring" and amount < m.actuals.get(category, 0):
            expected = InvalidInput  # monitoring fees are cumulative: never lowered
        else:
            expected = None
        if self.attempt(
            expected, lambda: self.k.record_fee("tanaka", self.cid, category, amount, on=on)
        ):
            m.actuals[category] = amount
            m.dated_fact(w)

    def certificate(self, issued: date) -> None:
        m = self.m
        assert m is not None
        if issued > TODAY:
            expected: Any = InvalidInput
        elif m.stage not in ("consultation", "application"):
            expected = NotAllowed
        else:
            expected = None
        if self.attempt(expected, lambda: self.k.record_certificate("tanaka", self.cid, issued)):
            m.certificate = issued

    def plan(self, on: date | None) -> None:
        m = self.m
        assert m is not None
        w = self.when(on)
        if w > TODAY:
            expected: Any = InvalidInput
        elif m.stage != "planning":
            expected = NotAllowed
        elif m.accepted and w < m.accepted:
            expected = InvalidInput
        else:
            expected = None
        if self.attempt(expected, lambda: self.k.record_plan("tanaka", self.cid, on=on)):
            m.plan = True
            m.dated_fact(w)

    def report_from(self) -> date:
        v = self.k.show("tanaka", self.cid)
        assert v.report_from is not None
        return v.report_from

    def report(self, on: date | None) -> None:
        m = self.m
        assert m is not None
        w = self.when(on)
        if w > TODAY:
            expected: Any = InvalidInput
        elif m.stage != "monitoring":
            expected = NotAllowed
        elif m.decided and w < m.decided:
            expected = InvalidInput
        elif w < self.report_from():
            # A report covers a period that has ended (rules.md §5). When the period ends is
            # the planner's (tests/workflow/test_milestones.py); the model checks the refusal.
            expected = InvalidInput
        elif m.paid_periods + 1 in m.reports:
            expected = Conflict
        else:
            expected = None
        if self.attempt(expected, lambda: self.k.record_report("tanaka", self.cid, on=on)):
            m.reports.add(m.paid_periods + 1)
            m.dated_fact(w)

    # ---------------------------------------------------------------- random steps

    @rule(data=st.data())
    def any_fact(self, data: st.DataObject) -> None:
        """Any fact command with arguments drawn from the whole space, valid or not."""
        d = data.draw
        fact = d(
            st.sampled_from(
                ["lender", "consent", "estimate", "fee", "certificate", "plan", "report"]
            )
        )
        if fact == "lender":
            self.lender(d(st.sampled_from(LENDERS)))
        elif fact == "consent":
            self.consent(d(st.sampled_from(LENDERS)), d(DATES))
        elif fact == "estimate":
            self.estimate(d(st.sampled_from(CATEGORIES)), d(AMOUNTS))
        elif fact == "fee":
            self.fee(d(st.sampled_from(CATEGORIES)), d(AMOUNTS), d(DATES))
        elif fact == "certificate":
            self.certificate(d(st.dates(min_value=date(2025, 12, 1), max_value=date(2026, 6, 3))))
        elif fact == "plan":
            self.plan(d(DATES))
        else:
            self.report(d(DATES))

    @rule(trigger=st.sampled_from(TRIGGERS), on=DATES, reason=REASONS)
    def any_trigger(self, trigger: str, on: date | None, reason: str | None) -> None:
        self.advance(trigger, on, reason)

    def advance(self, trigger: str, on: date | None, reason: str | None) -> None:
        m = self.m
        assert m is not None
        w = self.when(on)
        sources, dest = MOVES[trigger]
        if trigger == "start_planning" and m.program == "early":
            expected: Any = InvalidInput  # not a trigger of the early program
        elif w > TODAY or w < m.last_move:
            expected = InvalidInput
        elif m.stage not in sources:
            expected = NotAllowed
        elif m.guard_fails(trigger, w, reason):
            expected = GuardFailed
        else:
            expected = None
        ok = self.attempt(
            expected, lambda: self.k.advance("tanaka", self.cid, trigger, on=on, reason=reason)
        )
        if not ok:
            return
        if dest == "*accept":
            dest = "due_diligence" if m.program == "405" else "planning"
        m.stage, m.last_move = dest, w
        if trigger == "apply":
            m.applied = w
        elif trigger == "accept":
            m.accepted = w
        elif trigger == "decide_payment":
            m.decided = w
        elif trigger in ("pay_monitoring", "complete"):
            m.paid_periods += 1

    # ---------------------------------------------------------------- guided steps
    # Uniformly random steps rarely get a case past 相談; these draw mostly-useful ones (the
    # fact the next trigger lacks, or a forward trigger) so that examples reach monitoring.

    @rule(data=st.data())
    def useful_fact(self, data: st.DataObject) -> None:
        m = self.m
        assert m is not None
        todo: list[Any] = []
        if m.stage in ("consultation", "application"):
            if not m.lenders:
                todo.append(lambda: self.lender(data.draw(st.sampled_from(LENDERS))))
            todo.append(
                lambda: self.certificate(TODAY - timedelta(days=data.draw(st.integers(0, 100))))
            )
            todo += [
                lambda c=c, p=p: self.estimate(c, 300_000 if p == "monitoring" else 1_500_000)
                for c, p in m.categories.items()
                if c not in m.estimates and m.stage == "consultation"
            ]
        if m.stage in ("due_diligence", "planning", "bank_negotiation", "payment_claim"):
            todo += [
                lambda c=c: self.fee(c, data.draw(AMOUNTS), None)
                for c, p in m.categories.items()
                if p == "plan" and c in m.estimates and c not in m.actuals
            ]
        if m.stage == "planning" and not m.plan:
            todo.append(lambda: self.plan(None))
        if m.stage in ("planning", "bank_negotiation"):
            todo += [lambda n=n: self.consent(n, None) for n, ok in m.lenders.items() if not ok]
        if m.stage == "monitoring":
            todo.append(lambda: self.report(None))
            todo += [
                lambda c=c: self.fee(c, data.draw(AMOUNTS), None)
                for c, p in m.categories.items()
                if p == "monitoring" and c in m.estimates
            ]
        for step in todo:  # all of them, each with its drawn values
            step()

    @rule(data=st.data())
    def forward(self, data: st.DataObject) -> None:
        m = self.m
        assert m is not None
        ahead = [
            t
            for t, (sources, _) in MOVES.items()
            if m.stage in sources
            and t not in ("reject", "revise", "withdraw", "discontinue")
            and not (t == "start_planning" and m.program == "early")
        ]
        if ahead:
            day = st.one_of(st.none(), st.none(), st.dates(min_value=m.last_move, max_value=TODAY))
            self.advance(data.draw(st.sampled_from(ahead)), data.draw(day), None)

    # ---------------------------------------------------------------- invariants

    @invariant()
    def engine_agrees_and_nothing_is_broken(self) -> None:
        if not self.cid:
            return
        m = self.m
        assert m is not None
        v = self.k.show("tanaka", self.cid)
        assert v.stage == m.stage
        assert v.periods_paid == m.paid_periods and v.periods_total == m.periods_total
        assert [e.seq for e in v.events] == list(range(1, len(v.events) + 1))
        moves = [e for e in v.events if e.kind != "fact"]
        assert moves[-1].to_stage == v.stage
        _, problems = check_database(self.k.db, self.k.settings)
        assert problems == [], problems
        sub = self.k.subsidy("tanaka", self.cid)
        assert all(0 <= x.subsidy <= x.cap for x in sub.categories)
        assert sub.paid <= sum(x.cap for x in sub.categories)
        assert sub.paid <= sub.total


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> tuple[Path, str]:
    from tests.reliability.conftest import company
    from workflow.setup import init_database

    path = tmp_path_factory.mktemp("stateful") / "seed.db"
    shutil.copy(sqlite_template, path)
    k, _ = init_database(Settings(db_url=f"sqlite:///{path}"), FixedClock(CLOCK), "admin")
    k.add_officer("admin", "tanaka", name="田中", council="40", role="officer")
    number = company(k, 1)
    k.db.dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path, number


def test_a_paid_monitoring_fee_cannot_be_lowered(world: Any) -> None:
    from tests.reliability.conftest import advance_to, open_case

    k = world.k
    cid = open_case(k, world.company)
    advance_to(k, cid, "monitoring")
    advance_to(k, cid, "monitoring_claim")  # records the report and a 300,000 yen fee
    k.advance("tanaka", cid, "pay_monitoring")  # pays 200,000 on it
    refused = False
    try:
        k.record_fee("tanaka", cid, "monitoring", 30)
    except KaizenError:
        refused = True
    _, problems = check_database(k.db, k.settings)
    assert refused and problems == [], problems


def test_random_case_lives_follow_the_rules(seed: tuple[Path, str], tmp_path: Path) -> None:
    CaseMachine.seed, CaseMachine.company = seed
    CaseMachine.workdir = tmp_path
    run_state_machine_as_test(
        CaseMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=40,
            deadline=None,
            database=None,
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow],
            # Shrinking a long case life can take minutes: only when asked for. The failing
            # sequence is printed either way.
            phases=PHASES,
        ),
    )
