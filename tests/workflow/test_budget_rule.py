"""The budget's SQL equals the engine's money rule, case by case, over a whole demo database.

`kaizen report budget` computes the 2/3-within-caps subsidy and the R6/R7 re-use payment room
in SQL (an aggregate over a million cases cannot load each case). The engine computes the same
in Python (`Kaizen.subsidy`: `category_subsidy` per category, `payment_room`). Here the
`kaizen demo` database, plus re-use cases whose room is made to bind by hand, is read both
ways on SQLite and PostgreSQL, and every case's figures must agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from states.money import category_subsidy
from states.programs import catalog
from storage.models import Case
from storage.queries.reports import ACTIVE_MONITORING, CLOSED_AFTER_DECISION, CaseBudget
from tests.conftest import _need_pg, _pg_exec, _pg_schema_url
from workflow import reports
from workflow.clock import FixedClock
from workflow.config import Settings
from workflow.demo import run_demo
from workflow.reference import find_version
from workflow.service import Kaizen
from workflow.views import SubsidyLine, SubsidyView


@dataclass(frozen=True)
class Demo:
    k: Kaizen
    bound: dict[str, str]  # case id -> how its room was made to bind


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Demo]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('budget') / 'demo.db'}"
        schema = None
    else:
        _need_pg()
        schema, url = _pg_schema_url()
        _pg_exec(f"CREATE SCHEMA {schema}")
    clock = FixedClock(datetime(2026, 6, 1, 1, tzinfo=UTC))
    try:
        k, _ = run_demo(Settings(db_url=url), clock, "admin")
        yield Demo(k, _bind_rooms(k))
        k.db.dispose()
    finally:
        if schema is not None:
            _pg_exec(f"DROP SCHEMA {schema} CASCADE")


def _paid_plan(sv: SubsidyView) -> int:
    return sum(int(p["amount"]) for p in sv.payments if p["kind"] != "monitoring")


def _still_to_pay(k: Kaizen, sv: SubsidyView) -> int:
    paid_plan = _paid_plan(sv)
    return max(sv.plan_share - paid_plan, 0) + max(
        _estimated(k, sv, "monitoring") - (sv.paid - paid_plan), 0
    )


def _bind_rooms(k: Kaizen) -> dict[str, str]:
    """Record an earlier use for re-use firms so that the room cuts what is still to be paid:
    a decided case in monitoring (withheld kept, monitoring halved), an accepted one (halved)."""
    with k.db.reading() as s:
        rows = s.execute(
            select(Case.id, Case.company_key, Case.stage, Case.decided_on)
            .where(Case.reuse_exception.is_(True))
            .order_by(Case.id)
        ).all()
    bound: dict[str, str] = {}
    for cid, company, stage, decided_on in rows:
        sv = k.subsidy("admin", cid)
        if sv.payment_room is None or _still_to_pay(k, sv) < 2:
            continue
        if decided_on is not None and stage in ACTIVE_MONITORING:
            how = "monitoring"
        elif decided_on is None and stage not in _final():
            how = "pending"
        else:
            continue
        if how in bound.values():
            continue
        owed = _still_to_pay(k, sv)
        plan_left = max(sv.plan_share - _paid_plan(sv), 0)
        # monitoring: all of the withheld half and half of the monitoring share fit
        room = plan_left + (owed - plan_left) // 2 if how == "monitoring" else owed // 2
        extra = sv.payment_room - room
        if extra > 0:
            _use_up(k, company, extra)
        bound[cid] = how
    return bound


def _use_up(k: Kaizen, company: str, yen: int) -> None:
    k.record_prior_use("admin", company, program="405", track="normal", fiscal_year=2016, paid=yen)


def _final() -> set[str]:
    return {sid for sid, st in catalog().stages.items() if st.final}


def _estimated(k: Kaizen, sv: SubsidyView, phase: str) -> int:
    """The phase's subsidy from the estimates (the engine's `category_subsidy`, fee = estimate)."""
    if sv.rule_version is None:
        return 0
    rate = find_version(k.settings, sv.rule_version).rate
    lines: list[SubsidyLine] = [x for x in sv.categories if x.phase == phase]
    return sum(
        category_subsidy(x.estimate, x.estimate, x.cap, rate)
        for x in lines
        if x.estimate is not None
    )


def _within(x: int, room: int | None) -> int:
    return x if room is None else min(x, room)


def expected(k: Kaizen, case: Case, sv: SubsidyView) -> CaseBudget:
    """The budget's definitions (workflow/reports.py docstring) over the engine's numbers."""
    paid_plan = _paid_plan(sv)
    paid_mon = sv.paid - paid_plan
    room = sv.payment_room
    decided = case.decided_on is not None
    held = decided and case.stage not in CLOSED_AFTER_DECISION
    withheld = _within(max(sv.plan_share - paid_plan, 0), room) if held else 0
    mon_left = 0
    if decided and case.stage in ACTIVE_MONITORING:
        mon_left = _within(
            max(_estimated(k, sv, "monitoring") - paid_mon, 0),
            None if room is None else room - withheld,
        )
    pending = not decided and case.accepted_on is not None and case.stage not in _final()
    pipeline = (
        _within(_estimated(k, sv, "plan") + _estimated(k, sv, "monitoring"), room) if pending else 0
    )
    decided_amount = 0
    if decided:
        decided_amount = (
            _within(sv.plan_share, None if room is None else paid_plan + room) + paid_mon
        )
    fy = case.opened_on.year - (1 if case.opened_on.month < 4 else 0)
    return CaseBudget(
        case.id,
        fy,
        case.program,
        case.track,
        int(decided),
        decided_amount,
        sv.paid,
        withheld,
        mon_left,
        pipeline,
    )


def _cases(k: Kaizen) -> list[Case]:
    with k.db.reading() as s:
        return list(s.scalars(select(Case).order_by(Case.id)))


def test_every_case_of_the_demo_agrees_with_the_engine(demo: Demo) -> None:
    k = demo.k
    got = {c.case: c for c in reports.budget_cases(k, "admin")}
    cases = _cases(k)
    assert len(got) == len(cases) >= 200
    wrong = []
    for case in cases:
        sv = k.subsidy("admin", case.id)
        want = expected(k, case, sv)
        if got[case.id] != want:
            wrong.append((got[case.id], want))
        if case.decided_on and case.periods_paid == 0 and sv.payment_room is None:
            # the engine's own withheld half, for cases still holding it
            assert got[case.id].withheld == (
                sv.withheld if case.stage not in CLOSED_AFTER_DECISION else 0
            )
    assert wrong == []


def test_the_demo_has_re_use_cases_whose_room_binds(demo: Demo) -> None:
    """Without these the comparison above would not test the room at all."""
    k = demo.k
    assert sorted(demo.bound.values()) == ["monitoring", "pending"]
    got = {c.case: c for c in reports.budget_cases(k, "admin")}
    for cid, how in demo.bound.items():
        sv = k.subsidy("admin", cid)
        assert sv.payment_room is not None
        row = got[cid]
        to_come = row.withheld + row.monitoring_remaining + row.pipeline
        assert 0 < to_come == sv.payment_room < _still_to_pay(k, sv), (cid, how, row)
        if how == "monitoring":  # the room goes to the withheld half first
            assert row.withheld > 0 and 0 < row.monitoring_remaining < _estimated(
                k, sv, "monitoring"
            )


def test_the_report_adds_up_the_case_figures(demo: Demo) -> None:
    k = demo.k
    rows = reports.budget(k, "admin").rows
    per = reports.budget_cases(k, "admin")
    for r in rows:
        mine = [
            c
            for c in per
            if (c.fiscal_year, c.program, c.track) == (r["fiscal_year"], r["program"], r["track"])
        ]
        assert r["cases"] == len(mine)
        for key, field in (
            ("decided_cases", "decided_case"),
            ("decided", "decided"),
            ("paid", "paid"),
            ("withheld", "withheld"),
            ("monitoring_remaining", "monitoring_remaining"),
            ("pipeline", "pipeline"),
        ):
            assert r[key] == sum(getattr(c, field) for c in mine), (r, key)
        assert r["forecast"] == r["withheld"] + r["monitoring_remaining"]
    assert sum(r["cases"] for r in rows) == len(per)


def test_an_officer_gets_only_the_figures_of_their_council(demo: Demo) -> None:
    k = demo.k
    with k.db.reading() as s:
        officer, council = s.execute(
            select(Case.officer_id, Case.council_code).order_by(Case.id).limit(1)
        ).one()
    mine = reports.budget_cases(k, officer)
    assert mine and {c.case for c in mine} == {c.id for c in _cases(k) if c.council_code == council}
    assert all(c.fiscal_year == 2025 for c in reports.budget_cases(k, "admin", fiscal_year=2025))
    assert date(2025, 4, 1)  # the 年度 starts in April (fy computed above)


def test_a_used_up_room_leaves_nothing_to_come(demo: Demo) -> None:
    """Last in the module: it records one more earlier use, so the room of every bound case
    is 0; the figures still agree with the engine, and nothing is left to come for them."""
    k = demo.k
    with k.db.reading() as s:
        firms = dict(
            s.execute(select(Case.id, Case.company_key).where(Case.id.in_(demo.bound))).all()
        )
    for cid in demo.bound:
        room = k.subsidy("admin", cid).payment_room
        assert room
        _use_up(k, firms[cid], room)
    got = {c.case: c for c in reports.budget_cases(k, "admin")}
    for case in _cases(k):
        assert got[case.id] == expected(k, case, k.subsidy("admin", case.id))
    for cid in demo.bound:
        row = got[cid]
        assert (row.withheld, row.monitoring_remaining, row.pipeline) == (0, 0, 0)
