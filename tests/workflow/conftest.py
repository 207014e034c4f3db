"""Helpers for the engine tests: a driver that walks a case to a stage, dates, snapshots.

`Driver` takes the happy road of rules.md §2 one transition at a time, recording only the facts
each trigger needs, and moves the world's clock one day before every transition so that event
dates are distinct and never in the future. Tests that need a fact to be missing or wrong
record it themselves before calling `to()`: the driver only fills what is still empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine, select

from states.ids import make_corporate_number
from tests.conftest import World
from workflow.service import Kaizen
from workflow.views import CaseView

# The engine's behaviour does not depend on the backend except in storage: tests that only
# check rules run on SQLite (fast); lives, concurrency, access and money run on both.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

# Estimates that pass every apply guard (405 normal: 伴走 ≤ half of the total).
ESTIMATES: dict[tuple[str, str], dict[str, int]] = {
    ("405", "normal"): {"dd_plan": 2_400_000, "monitoring": 1_200_000},
    ("405", "gl"): {"dd": 3_300_000, "plan": 3_000_000, "monitoring": 1_200_000},
    ("early", "normal"): {"plan": 240_000, "monitoring_year_end": 75_000},
    ("early", "guarantee"): {
        "plan": 240_000,
        "monitoring_year_end": 75_000,
        "bank_negotiation": 150_000,
    },
}
INTERIM = {"monitoring_interim": 75_000}
LENDER = "福岡銀行"


def set_today(world: World, day: date) -> None:
    """Put the world's clock at 10:00 JST on `day` (backwards too: for R4/R6 filings)."""
    world.clock.at = datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)


def company(world: World, seed: str, **kw: Any) -> str:
    """Register another eligible company; `seed` is its 12 digits without the check digit."""
    number = make_corporate_number(seed)
    args: dict[str, Any] = {
        "name": f"株式会社{seed}",
        "fiscal_year_end": 3,
        "industry": "manufacturing",
        "capital": 10_000_000,
        "employees": 20,
    }
    args.update(kw)
    world.k.add_company("tanaka", number=number, **args)  # type: ignore[attr-defined]
    return number


@dataclass
class Driver:
    world: World
    actor: str = "tanaka"
    supervisor: str = "boss"
    fill_monitoring_fees: bool = False

    @property
    def k(self) -> Kaizen:
        return self.world.k  # type: ignore[return-value]

    def open(
        self,
        program: str = "405",
        track: str = "normal",
        *,
        company: str | None = None,
        council: str = "40",
        advisor: str = "博多会計事務所",
        **kw: Any,
    ) -> str:
        view = self.k.open_case(
            self.actor,
            company=company or self.world.company,
            program=program,
            track=track,
            council=council,
            advisor=advisor,
            **kw,
        )
        return view.id

    def step(self, case_id: str, trigger: str, **kw: Any) -> CaseView:
        """One transition, dated one day after the previous one."""
        self.world.clock.advance(days=1)
        actor = kw.pop("actor", self.actor)
        return self.k.advance(actor, case_id, trigger, **kw)

    def prepare_apply(self, case_id: str, **kw: Any) -> CaseView:
        """Record whatever apply still lacks: a lender, a fresh certificate, every estimate."""
        view = self.k.show(self.actor, case_id)
        if not view.lenders:
            self.k.add_lender(self.actor, case_id, LENDER)
        if view.certificate_issued is None:
            self.k.record_certificate(self.actor, case_id, self.k.today())
        est = dict(ESTIMATES[(view.program, view.track)])
        if view.interim_monitoring:
            est.update(INTERIM)
        if view.guarantee_release:
            est["bank_negotiation"] = 150_000
        have = {c.category for c in self.k.subsidy(self.actor, case_id).categories if c.estimate}
        for cat, yen in est.items():
            if cat not in have:
                self.k.record_estimate(self.actor, case_id, cat, yen)
        return self.k.show(self.actor, case_id)

    def next(
        self, case_id: str, *, reason: str | None = None, view: CaseView | None = None
    ) -> CaseView:
        """Take one forward transition from the case's stage, recording what it needs."""
        v = view or self.k.show(self.actor, case_id)
        s = v.stage
        if s == "consultation":
            self.prepare_apply(case_id)
            return self.step(case_id, "apply", reason=reason)
        if s == "application":
            who = self.supervisor if v.reuse_exception else self.actor
            return self.step(case_id, "accept", actor=who)
        if s == "due_diligence":
            return self.step(case_id, "start_planning")
        if s == "planning":
            if v.plan_recorded is None:
                self.k.record_plan(self.actor, case_id)
            return self.step(case_id, "submit_plan")
        if s == "bank_negotiation":
            for lender in v.lenders:
                if lender.consented_on is None:
                    self.k.record_consent(self.actor, case_id, lender.name)
            return self.step(case_id, "agree")
        if s == "payment_claim":
            for line in self.k.subsidy(self.actor, case_id).categories:
                if line.phase == "plan" and line.estimate is not None and line.actual is None:
                    self.k.record_fee(self.actor, case_id, line.category, line.estimate)
            return self.step(case_id, "decide_payment")
        if s == "monitoring":
            if self.fill_monitoring_fees:
                for line in self.k.subsidy(self.actor, case_id).categories:
                    if line.phase == "monitoring" and line.estimate and line.actual is None:
                        self.k.record_fee(self.actor, case_id, line.category, line.estimate)
            self.report(case_id, v)
            return self.step(case_id, "claim_monitoring")
        if s == "monitoring_claim":
            last = v.periods_paid + 1 >= v.periods_total
            return self.step(case_id, "complete" if last else "pay_monitoring")
        raise AssertionError(f"no forward step from {s}")

    def report(self, case_id: str, view: CaseView | None = None) -> CaseView:
        """Record the current period's report, once the period is over (rules.md §5): the
        clock moves to the first day the report fits, if it is not there yet."""
        v = view or self.k.show(self.actor, case_id)
        if v.report_from is not None and self.k.today() < v.report_from:
            set_today(self.world, v.report_from)
        return self.k.record_report(self.actor, case_id)

    def to(self, case_id: str, stage: str, *, reason: str | None = None) -> CaseView:
        """Walk forward until the case first reaches `stage`."""
        v = self.k.show(self.actor, case_id)
        for _ in range(40):
            if v.stage == stage:
                return v
            v = self.next(case_id, reason=reason, view=v)
        raise AssertionError(f"{case_id} never reached {stage} (at {v.stage})")

    def new(
        self, program: str = "405", track: str = "normal", stage: str = "consultation", **kw: Any
    ) -> str:
        cid = self.open(program, track, **kw)
        self.to(cid, stage)
        return cid


@pytest.fixture
def drive(world: World) -> Driver:
    return Driver(world)


def state(k: Kaizen, actor: str, case_id: str) -> dict[str, Any]:
    """What a refused command must leave untouched: stage, version, events, facts."""
    v = k.show(actor, case_id)
    return {
        "stage": v.stage,
        "version": v.version,
        "events": [(e.seq, e.kind, e.trigger) for e in v.events],
        "lenders": v.lenders,
        "certificate": v.certificate_issued,
        "plan": v.plan_recorded,
        "periods_paid": v.periods_paid,
        "subsidy": k.subsidy(actor, case_id),
    }


def snapshot(url: str) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table, as sorted text: equal snapshots mean nothing was written."""
    engine = create_engine(url)
    try:
        md = MetaData()
        md.reflect(engine)
        out: dict[str, list[tuple[str, ...]]] = {}
        with engine.connect() as c:
            for name, table in sorted(md.tables.items()):
                rows = c.execute(select(table)).all()
                out[name] = sorted(tuple(repr(x) for x in r) for r in rows)
        return out
    finally:
        engine.dispose()
