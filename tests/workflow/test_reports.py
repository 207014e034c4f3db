"""The morning reports on a small data set built through the engine, on both backends.

Cases (today is 2026-06-01, the `world` clock):
- A 40 405/normal: 2025-05-01 相談 → 05-15 申請 → 05-22 受付 → 06-05 計画策定 → 07-01 提出
  → 07-15 合意 → 08-01 支払決定 (monitoring). Fees 1,500,000 (dd_plan); estimates 1,500,000 /
  600,000 (monitoring): plan share 1,000,000, half paid.
- B 40 early/normal: 2025-06-02 相談 → 06-16 申請 (still in application).
- D 40 early/normal: 2025-04-10 相談 → 04-24 申請 → 05-08 不受理.
- E 40 405/gl: 2025-09-01 相談 → 09-19 申請 → 09-30 受付 (DD). Estimates 1.2m / 1.5m / 0.3m.
- C 41 405/normal: 2026-04-06 相談 (佐賀, 2026年度).
Business days are counted by hand from the 2025 calendar (Golden Week, 海の日 7/21,
敬老の日 9/15, 秋分の日 9/23) and written next to each expectation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest

from states.ids import make_corporate_number
from tests.conftest import START, World, _need_pg, _pg_exec, _pg_schema_url
from workflow import reports
from workflow.clock import FixedClock
from workflow.config import Settings
from workflow.errors import InvalidInput, NotFound, PermissionDenied
from workflow.setup import init_database


def _at(w: Any, d: date) -> None:
    w.clock.at = datetime(d.year, d.month, d.day, 1, 0, tzinfo=UTC)


@dataclass
class Data:
    w: Any
    ids: dict[str, str]


def _company(w: Any, body: str, name: str) -> str:
    number = make_corporate_number(body)
    w.k.add_company(
        "admin",
        number=number,
        name=name,
        fiscal_year_end=3,
        industry="manufacturing",
        capital=10_000_000,
        employees=20,
    )
    return number


def _open(
    w: Any,
    who: str,
    council: str,
    program: str,
    track: str,
    opened: date,
    body: str,
    ests: dict[str, int],
) -> str:
    _at(w, opened)
    company = _company(w, body, f"株式会社レポート{body[-2:]}")
    cid: str = w.k.open_case(
        who,
        company=company,
        program=program,
        track=track,
        council=council,
        advisor="博多会計",
        on=opened,
    ).id
    w.k.add_lender(who, cid, "福岡銀行")
    for cat, yen in ests.items():
        w.k.record_estimate(who, cid, cat, yen)
    return cid


def _step(w: Any, cid: str, trigger: str, on: date, reason: str | None = None) -> None:
    _at(w, on)
    w.k.advance("tanaka" if cid.startswith("40") else "saga", cid, trigger, on=on, reason=reason)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def data(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Data]:
    """Built once per backend: the reports only read it."""
    with _database(request.param, tmp_path_factory) as url:
        clock = FixedClock(START)
        k, _ = init_database(Settings(db_url=url), clock, "admin")
        w = World(k, clock, url, "")
        k.add_officer("admin", "tanaka", name="田中", council="40", role="officer")
        k.add_officer("admin", "boss", name="統括", council="40", role="supervisor")
        k.add_officer("admin", "saga", name="佐賀", council="41", role="officer")
        yield _build(w)
        k.db.dispose()


@contextmanager
def _database(backend: str, tmp: pytest.TempPathFactory) -> Iterator[str]:
    if backend == "sqlite":
        path = tmp.mktemp("reports") / "kaizen.db"
        yield f"sqlite:///{path}"
        return
    _need_pg()
    schema, url = _pg_schema_url()
    _pg_exec(f"CREATE SCHEMA {schema}")
    try:
        yield url
    finally:
        _pg_exec(f"DROP SCHEMA {schema} CASCADE")


def _build(w: Any) -> Data:
    k = w.k
    ids: dict[str, str] = {}
    a = ids["A"] = _open(
        w,
        "tanaka",
        "40",
        "405",
        "normal",
        date(2025, 5, 1),
        "500000000001",
        {"dd_plan": 1_500_000, "monitoring": 600_000},
    )
    k.record_certificate("tanaka", a, date(2025, 4, 20))
    _step(w, a, "apply", date(2025, 5, 15))
    _step(w, a, "accept", date(2025, 5, 22))
    _step(w, a, "start_planning", date(2025, 6, 5))
    _at(w, date(2025, 7, 1))
    k.record_plan("tanaka", a, on=date(2025, 7, 1))
    _step(w, a, "submit_plan", date(2025, 7, 1))
    _at(w, date(2025, 7, 15))
    k.record_consent("tanaka", a, "福岡銀行", on=date(2025, 7, 15))
    _step(w, a, "agree", date(2025, 7, 15))
    _at(w, date(2025, 7, 22))
    k.record_fee("tanaka", a, "dd_plan", 1_500_000, on=date(2025, 7, 22))
    _step(w, a, "decide_payment", date(2025, 8, 1))

    d = ids["D"] = _open(
        w,
        "tanaka",
        "40",
        "early",
        "normal",
        date(2025, 4, 10),
        "500000000002",
        {"plan": 200_000, "monitoring_year_end": 60_000},
    )
    k.record_certificate("tanaka", d, date(2025, 4, 1))
    _step(w, d, "apply", date(2025, 4, 24))
    _step(w, d, "reject", date(2025, 5, 8), reason="事業の継続性が見込めないため")

    b = ids["B"] = _open(
        w,
        "tanaka",
        "40",
        "early",
        "normal",
        date(2025, 6, 2),
        "500000000003",
        {"plan": 200_000, "monitoring_year_end": 60_000},
    )
    k.record_certificate("tanaka", b, date(2025, 6, 1))
    _step(w, b, "apply", date(2025, 6, 16))

    e = ids["E"] = _open(
        w,
        "tanaka",
        "40",
        "405",
        "gl",
        date(2025, 9, 1),
        "500000000004",
        {"dd": 1_200_000, "plan": 1_500_000, "monitoring": 300_000},
    )
    k.record_certificate("tanaka", e, date(2025, 9, 1))
    _step(w, e, "apply", date(2025, 9, 19))
    _step(w, e, "accept", date(2025, 9, 30))

    ids["C"] = _open(
        w,
        "saga",
        "41",
        "405",
        "normal",
        date(2026, 4, 6),
        "500000000005",
        {"dd_plan": 1_000_000, "monitoring": 300_000},
    )
    _at(w, date(2026, 6, 1))
    return Data(w, ids)


# ---------------------------------------------------------------- board


def test_board_totals_equal_the_number_of_cases(data: Data) -> None:
    r = reports.board(data.w.k, "admin")
    assert sum(x["count"] for x in r.rows) == len(data.ids) == 5
    cells = {(x["council"], x["stage"]): x["count"] for x in r.rows}
    assert cells == {
        ("40", "application"): 1,
        ("40", "due_diligence"): 1,
        ("40", "monitoring"): 1,
        ("40", "rejected"): 1,
        ("41", "consultation"): 1,
    }
    assert set(r.rows[0]) >= {"council", "stage", "count", "overdue"}


def test_board_overdue_counts_agree_with_the_engines_case_list(data: Data) -> None:
    k = data.w.k
    late = Counter((row.council, row.stage) for row in k.list_cases("admin", overdue=True))
    r = reports.board(k, "admin")
    assert {(x["council"], x["stage"]): x["overdue"] for x in r.rows if x["overdue"]} == dict(late)
    assert sum(late.values()) >= 3  # B, E and C are behind their timelines on 2026-06-01


def test_board_filters_by_fiscal_year_of_the_first_consultation(data: Data) -> None:
    k = data.w.k
    assert sum(x["count"] for x in reports.board(k, "admin", fiscal_year=2025).rows) == 4
    assert [
        (x["council"], x["stage"]) for x in reports.board(k, "admin", fiscal_year=2026).rows
    ] == [("41", "consultation")]
    assert reports.board(k, "admin", fiscal_year=2023).rows == []


# ---------------------------------------------------------------- overdue and workload


def test_overdue_is_oldest_first_with_officer_and_business_days(data: Data) -> None:
    k = data.w.k
    r = reports.overdue(k, "admin")
    assert r.rows, "the data set has overdue milestones"
    dues = [x["due"] for x in r.rows]
    assert dues == sorted(dues)
    today = date(2026, 6, 1)
    for x in r.rows:
        assert x["due"] < today
        assert x["days_late"] == k.calendar.business_days_between(x["due"], today) > 0
        assert x["officer_name"] in ("田中", "佐賀")
    late_days = [x["days_late"] for x in r.rows]
    assert late_days == sorted(late_days, reverse=True)
    assert {x["case"] for x in r.rows} == {c.id for c in k.list_cases("admin", overdue=True)}


def test_workload_per_officer(data: Data) -> None:
    r = reports.workload(data.w.k, "admin")
    by = {x["officer"]: x for x in r.rows}
    assert set(by) == {"tanaka", "boss", "saga"}  # admins carry no cases here
    assert (by["tanaka"]["cases"], by["tanaka"]["open_cases"]) == (4, 3)  # D is closed
    assert by["tanaka"]["overdue_cases"] == 3
    assert by["tanaka"]["overdue_items"] >= 3
    assert (by["boss"]["cases"], by["boss"]["overdue_items"]) == (0, 0)
    assert by["saga"]["open_cases"] == 1


# ---------------------------------------------------------------- funnel


def test_funnel_counts_and_lead_times(data: Data) -> None:
    r = reports.funnel(data.w.k, "admin", fiscal_year=2025)
    by = {x["stage"]: x for x in r.rows}
    assert [x["fiscal_year"] for x in r.rows] == [2025] * 12
    reached = {s: by[s]["reached"] for s in by}
    assert reached == {
        "consultation": 4,
        "application": 4,
        "due_diligence": 2,
        "planning": 1,
        "bank_negotiation": 1,
        "payment_claim": 1,
        "monitoring": 1,
        "monitoring_claim": 0,
        "completed": 0,
        "rejected": 1,
        "withdrawn": 0,
        "discontinued": 0,
    }
    assert by["application"]["rate"] == 100.0 and by["due_diligence"]["rate"] == 50.0
    # 相談: A 8 (5/2, 5/7–9, 5/12–15), D 10, B 10, E 13 (9/15 敬老の日) → [8, 10, 10, 13]
    assert (by["consultation"]["measured"], by["consultation"]["median_days"]) == (4, 10.0)
    assert by["consultation"]["p90_days"] == 12.1  # 10 + 0.7 × 3
    # 利用申請: A 5, D 7 (4/29 昭和の日), E 6 (9/23 秋分の日); B is still there → [5, 6, 7]
    assert (by["application"]["measured"], by["application"]["median_days"]) == (3, 6.0)
    assert by["application"]["p90_days"] == 6.8
    assert by["due_diligence"]["median_days"] == 10.0  # A: 5/23, 5/26–30, 6/2–5
    assert by["planning"]["median_days"] == 18.0  # A: 6/6 … 7/1
    assert by["bank_negotiation"]["median_days"] == 10.0  # A: 7/2 … 7/15
    assert by["payment_claim"]["median_days"] == 12.0  # A: 7/16 … 8/1, 7/21 海の日
    assert by["monitoring"]["measured"] == 0 and by["monitoring"]["median_days"] is None
    assert by["rejected"]["median_days"] is None  # a final stage has no way out


@pytest.mark.parametrize(
    ("values", "q", "expect"),
    [
        ([], 0.5, None),
        ([7], 0.9, 7.0),
        ([1, 2, 3, 4], 0.5, 2.5),
        ([8, 10, 10, 13], 0.9, 12.1),
        ([5, 6, 7], 0.9, 6.8),
        (list(range(1, 11)), 0.9, 9.1),
    ],
)
def test_quantile_interpolates_between_ranks(
    values: list[int], q: float, expect: float | None
) -> None:
    got = reports.quantile(values, q)
    assert got == expect if expect is None else got == pytest.approx(expect)


# ---------------------------------------------------------------- budget


def test_budget_decided_paid_forecast_and_pipeline(data: Data) -> None:
    r = reports.budget(data.w.k, "admin")
    by = {(x["fiscal_year"], x["program"], x["track"]): x for x in r.rows}
    a = by[(2025, "405", "normal")]
    # A: plan share min(1.5m × 2/3, 2m) = 1,000,000, first half paid at the decision;
    # monitoring share from the estimate: 600,000 × 2/3 = 400,000, nothing paid yet.
    assert (a["cases"], a["decided_cases"]) == (1, 1)
    assert (a["decided"], a["paid"], a["withheld"]) == (1_000_000, 500_000, 500_000)
    assert (a["monitoring_remaining"], a["forecast"], a["pipeline"]) == (400_000, 900_000, 0)
    e = by[(2025, "405", "gl")]
    # E accepted, not decided: 800,000 + 1,000,000 + 200,000 from its estimates.
    assert (e["decided"], e["paid"], e["forecast"], e["pipeline"]) == (0, 0, 0, 2_000_000)
    early = by[(2025, "early", "normal")]
    assert (early["cases"], early["decided"], early["pipeline"]) == (
        2,
        0,
        0,
    )  # B not accepted, D refused
    assert by[(2026, "405", "normal")]["cases"] == 1
    assert sum(x["cases"] for x in r.rows) == 5


# ---------------------------------------------------------------- access


@pytest.mark.parametrize("name", reports.REPORTS)
def test_an_officer_of_41_sees_only_41(data: Data, name: str) -> None:
    r = reports.run(name, data.w.k, "saga")
    assert r.scope.council == "41"
    if name in ("board", "overdue", "workload"):
        assert r.rows and {x["council"] for x in r.rows} == {"41"}
    elif name == "funnel":
        assert {x["fiscal_year"] for x in r.rows} == {2026}
        assert next(x for x in r.rows if x["stage"] == "consultation")["reached"] == 1
    else:
        assert [(x["fiscal_year"], x["program"], x["cases"]) for x in r.rows] == [(2026, "405", 1)]


def test_an_officer_may_not_ask_for_another_council(data: Data) -> None:
    with pytest.raises(PermissionDenied):
        reports.board(data.w.k, "saga", council="40")
    with pytest.raises(NotFound):
        reports.board(data.w.k, "admin", council="99")
    with pytest.raises(InvalidInput):
        reports.run("nope", data.w.k, "admin")
    with pytest.raises(PermissionDenied):
        reports.board(data.w.k, "nobody")


def test_reports_are_sql_aggregates_not_object_loops(data: Data) -> None:
    """A handful of statements per report, whatever the number of cases."""
    from sqlalchemy import event

    k = data.w.k
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(k.db.engine, "before_cursor_execute", count)
    try:
        for name in reports.REPORTS:
            seen.clear()
            reports.run(name, k, "admin")
            selects = [x for x in seen if x.lstrip().upper().startswith("SELECT")]
            assert len(selects) <= 6, (name, len(selects))
    finally:
        event.remove(k.db.engine, "before_cursor_execute", count)
