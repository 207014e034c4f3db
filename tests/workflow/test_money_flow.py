"""Money through the engine (rules.md §3): caps per track, the estimate bound, the split
payment of the plan-cost share, monitoring payments period by period, and the totals.

Subsidy per category: `min(floor(min(actual, estimate) × 2 / 3), cap)`. The plan-cost share is
paid half at `decide_payment` (floored) and the rest with the first monitoring payment.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflow.conftest import SQLITE_ONLY, Driver
from workflow.errors import InvalidInput, NotAllowed


def _lines(drive: Driver, cid: str) -> dict[str, tuple[Any, ...]]:
    return {
        x.category: (x.estimate, x.actual, x.cap, x.subsidy)
        for x in drive.k.subsidy("tanaka", cid).categories
    }


def _payments(drive: Driver, cid: str) -> list[tuple[str, int | None, int]]:
    return [(p["kind"], p["period"], p["amount"]) for p in drive.k.subsidy("tanaka", cid).payments]


def _monitor(drive: Driver, cid: str, fees: dict[str, int] | None = None) -> None:
    """One monitoring period: fees (cumulative), report, claim, pay or complete."""
    for cat, yen in (fees or {}).items():
        drive.k.record_fee("tanaka", cid, cat, yen)
    drive.report(cid)
    v = drive.step(cid, "claim_monitoring")
    drive.step(cid, "complete" if v.periods_paid + 1 == v.periods_total else "pay_monitoring")


# (program, track, open options, estimates = fees, monitoring fees, expected lines)
CAPS: list[tuple[str, str, dict[str, bool], dict[str, int], dict[str, tuple[int, int]]]] = [
    ("405", "normal", {}, {"dd_plan": 3_600_000, "monitoring": 1_800_000},
     {"dd_plan": (2_000_000, 2_000_000), "monitoring": (1_000_000, 1_000_000)}),
    ("405", "normal", {"guarantee_release": True},
     {"dd_plan": 2_400_000, "bank_negotiation": 300_000, "monitoring": 900_000},
     {"dd_plan": (2_000_000, 1_600_000), "bank_negotiation": (100_000, 100_000),
      "monitoring": (1_000_000, 600_000)}),
    ("405", "gl", {}, {"dd": 6_000_000, "plan": 4_000_000, "monitoring": 2_000_000},
     {"dd": (3_000_000, 3_000_000), "plan": (3_000_000, 2_666_666),
      "monitoring": (1_000_000, 1_000_000)}),
    ("early", "normal", {"interim_monitoring": True},
     {"plan": 300_000, "monitoring_interim": 60_000, "monitoring_year_end": 100_000},
     {"plan": (150_000, 150_000), "monitoring_interim": (50_000, 40_000),
      "monitoring_year_end": (50_000, 50_000)}),
    ("early", "guarantee", {},
     {"plan": 200_000, "monitoring_year_end": 90_000, "bank_negotiation": 150_001},
     {"plan": (150_000, 133_333), "monitoring_year_end": (50_000, 50_000),
      "bank_negotiation": (100_000, 100_000)}),
]  # fmt: skip


@SQLITE_ONLY
@pytest.mark.parametrize(("program", "track", "options", "fees", "expected"), CAPS)
def test_caps_per_track(
    drive: Driver,
    program: str,
    track: str,
    options: dict[str, Any],
    fees: dict[str, int],
    expected: dict[str, tuple[int, int]],
) -> None:
    cid = drive.open(program, track, **options)
    for cat, yen in fees.items():
        drive.k.record_estimate("tanaka", cid, cat, yen)
    drive.to(cid, "monitoring")  # plan-phase fees = estimates, recorded by the driver
    for line in drive.k.subsidy("tanaka", cid).categories:
        if line.phase == "monitoring":
            drive.k.record_fee("tanaka", cid, line.category, fees[line.category])
    lines = _lines(drive, cid)
    assert {c: (cap, sub) for c, (_, _, cap, sub) in lines.items()} == expected
    assert all(est == act == fees[c] for c, (est, act, _, _) in lines.items())
    sub = drive.k.subsidy("tanaka", cid)
    assert sub.total == sum(s for _, s in expected.values())
    assert sub.total == sub.plan_share + sub.monitoring_share
    # Only 計画策定支援費用 (405 normal: DD・計画策定支援費用) is split in halves (rules.md §3):
    # 金融機関交渉費用 and GL's DD費用等 are paid whole at the payment decision.
    plan = {x.category: x.subsidy for x in sub.categories if x.phase == "plan"}
    halves = sum(v for c, v in plan.items() if c in ("dd_plan", "plan"))
    whole = sum(v for c, v in plan.items() if c not in ("dd_plan", "plan"))
    assert sub.paid == whole + halves // 2 and sub.withheld == halves - halves // 2


@SQLITE_ONLY
def test_the_estimate_bounds_the_subsidy_and_a_fee_may_exceed_the_cap(drive: Driver) -> None:
    cid = drive.open("405", "normal")
    drive.k.record_estimate("tanaka", cid, "dd_plan", 900_000)
    drive.k.record_estimate("tanaka", cid, "monitoring", 300_000)
    drive.to(cid, "payment_claim")
    drive.k.record_fee("tanaka", cid, "dd_plan", 5_000_000)  # more than estimate and cap
    assert _lines(drive, cid)["dd_plan"] == (900_000, 5_000_000, 2_000_000, 600_000)
    drive.k.record_fee("tanaka", cid, "dd_plan", 450_001)  # less: the actual decides
    assert _lines(drive, cid)["dd_plan"] == (900_000, 450_001, 2_000_000, 300_000)


def test_split_payment_with_an_odd_yen(drive: Driver) -> None:
    cid = drive.open("405", "normal")
    drive.k.record_estimate("tanaka", cid, "dd_plan", 1_500_000)
    drive.k.record_estimate("tanaka", cid, "monitoring", 600_000)
    drive.to(cid, "payment_claim")
    drive.k.record_fee("tanaka", cid, "dd_plan", 1_000_001)  # 2/3 → 666,667 (odd)
    drive.step(cid, "decide_payment")
    sub = drive.k.subsidy("tanaka", cid)
    assert (sub.plan_share, sub.paid, sub.withheld) == (666_667, 333_333, 333_334)
    assert _payments(drive, cid) == [("plan_first", None, 333_333)]
    _monitor(drive, cid, {"monitoring": 300_000})
    assert _payments(drive, cid) == [
        ("plan_first", None, 333_333),
        ("plan_second", None, 333_334),  # the withheld half, with the first monitoring payment
        ("monitoring", 1, 200_000),
    ]
    sub = drive.k.subsidy("tanaka", cid)
    assert (sub.paid, sub.withheld, sub.total) == (866_667, 0, 866_667)


@SQLITE_ONLY
def test_monitoring_payments_per_period(drive: Driver) -> None:
    cid = drive.open("405", "gl")
    drive.k.record_estimate("tanaka", cid, "monitoring", 1_200_000)  # bound: 800,000
    drive.to(cid, "monitoring")
    plan = drive.k.subsidy("tanaka", cid).plan_share
    assert plan == 2_200_000 + 2_000_000
    cumulative = [300_000, 600_000, None, 1_500_000, None, None]  # fees are cumulative
    for fee in cumulative:
        _monitor(drive, cid, {"monitoring": fee} if fee else None)
    monitoring = [(n, a) for k, n, a in _payments(drive, cid) if k == "monitoring"]
    assert monitoring == [(1, 200_000), (2, 200_000), (3, 0), (4, 400_000), (5, 0), (6, 0)]
    sub = drive.k.subsidy("tanaka", cid)
    assert sub.monitoring_share == 800_000
    assert sub.total == sub.paid == plan + 800_000
    assert drive.k.show("tanaka", cid).stage == "completed"


@SQLITE_ONLY
def test_single_period_early_pays_everything_at_complete(drive: Driver) -> None:
    cid = drive.open("early", "normal")
    drive.to(cid, "monitoring")
    assert _payments(drive, cid) == [("plan_first", None, 75_000)]  # 240,000 → cap 150,000
    _monitor(drive, cid, {"monitoring_year_end": 75_000})
    assert _payments(drive, cid) == [
        ("plan_first", None, 75_000),
        ("plan_second", None, 75_000),
        ("monitoring", 1, 50_000),
    ]
    assert drive.k.show("tanaka", cid).stage == "completed"


@SQLITE_ONLY
def test_fee_validation(drive: Driver) -> None:
    cid = drive.new("405", "normal", "payment_claim")
    for yen, needle in [(-1, "0円以上"), (1.5, "整数"), (True, "整数"), ("100", "整数")]:
        with pytest.raises(InvalidInput, match=needle):
            drive.k.record_fee("tanaka", cid, "dd_plan", yen)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="費用区分 'plan' はこの案件"):
        drive.k.record_fee("tanaka", cid, "plan", 1)
    with pytest.raises(NotAllowed, match="伴走支援費用はモニタリングの段階で"):
        drive.k.record_fee("tanaka", cid, "monitoring", 1)
    with pytest.raises(NotAllowed, match="estimateは 相談 の段階でのみ"):
        drive.k.record_estimate("tanaka", cid, "dd_plan", 1)  # estimates are filed at apply
    assert _payments(drive, cid) == []
