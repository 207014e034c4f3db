"""Re-use (rules.md §4): every branch of R4 and R6 (R7 = R6), counted per company over both
programs, recorded prior uses and Kaizen's own accepted cases alike.

The rule version is picked by the filing (apply) date, so each test first puts the world's
clock in the right fiscal year: R4 from 2022-04-01, R6 from 2024-04-01, R7 from 2025-04-01.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.conftest import World
from tests.workflow.conftest import SQLITE_ONLY, Driver, set_today, state
from workflow.errors import GuardFailed, InvalidInput

R4_DAY = date(2022, 10, 3)  # 2022年度: R4
R6_DAY = date(2024, 10, 1)  # 2024年度: R6


def _apply(drive: Driver, program: str, track: str = "normal", **kw: object) -> str:
    reason = kw.pop("reason", None)
    cid = drive.open(program, track, **kw)  # type: ignore[arg-type]
    drive.prepare_apply(cid)
    drive.step(cid, "apply", reason=reason)
    return cid


def _refused(drive: Driver, program: str, track: str = "normal", **kw: object) -> GuardFailed:
    reason = kw.pop("reason", None)
    cid = drive.open(program, track, **kw)  # type: ignore[arg-type]
    drive.prepare_apply(cid)
    before = state(drive.k, "tanaka", cid)
    with pytest.raises(GuardFailed) as e:
        drive.step(cid, "apply", reason=reason)
    assert state(drive.k, "tanaka", cid) == before
    assert drive.k.show("tanaka", cid).stage == "consultation"
    return e.value


def _prior(world: World, program: str, fy: int, paid: int = 0, track: str | None = None) -> int:
    # Before the firm has a case of council 40, only an admin may record its prior uses.
    return world.k.record_prior_use(  # type: ignore[attr-defined,no-any-return]
        "admin", world.company, program=program, fiscal_year=fy, track=track, paid=paid
    )


# ---------------------------------------------------------------- R4 (and R5)


@SQLITE_ONLY
def test_r4_no_prior_use_is_allowed(world: World, drive: Driver) -> None:
    set_today(world, R4_DAY)
    cid = _apply(drive, "405")
    v = drive.k.show("tanaka", cid)
    assert (v.stage, v.rule_version, v.reuse_exception) == ("application", "R4", False)


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("program", "prior"), [("405", "405"), ("early", "early"), ("early", "405")]
)
def test_r4_prior_use_without_affected_is_refused_naming_rule_and_use(
    world: World, drive: Driver, program: str, prior: str
) -> None:
    set_today(world, R4_DAY)
    uid = _prior(world, prior, 2020, track="normal")
    e = _refused(drive, program)
    msg = e.reasons[-1]
    assert msg.startswith("規程 R4 の再利用の制限: 過去の利用があるため")
    assert "新型コロナ・ウクライナ情勢・原油価格高騰・その他の要因の影響 (--affected)" in msg
    assert f"{'405事業' if prior == '405' else '早期経営改善'}/normal 2020年度 (記録 #{uid})" in msg


@SQLITE_ONLY
@pytest.mark.parametrize("day", ["R4", "R5", "R6", "R7"])
def test_early_first_then_405_is_allowed_in_every_rule_version(
    world: World, drive: Driver, day: str
) -> None:
    """rules.md §4: an earlier early use never counts against a 405 application."""
    set_today(
        world, {"R4": R4_DAY, "R5": date(2023, 6, 1), "R6": R6_DAY, "R7": date(2025, 6, 1)}[day]
    )
    _prior(world, "early", 2020, track="normal")
    cid = _apply(drive, "405")
    v = drive.k.show("tanaka", cid)
    assert (v.stage, v.rule_version, v.reuse_exception) == ("application", day, False)


@SQLITE_ONLY
def test_r4_other_cause_in_words_counts_as_affected(world: World, drive: Driver) -> None:
    set_today(world, R4_DAY)
    _prior(world, "early", 2020, track="normal")
    cid = _apply(drive, "early", affected=["other:資材価格高騰"])
    v = drive.k.show("tanaka", cid)
    assert (v.stage, v.affected, v.affected_note) == ("application", ["other"], "資材価格高騰")


@SQLITE_ONLY
@pytest.mark.parametrize("cause", ["covid", "ukraine", "oil"])
def test_r4_affected_with_one_prior_use_is_allowed(world: World, drive: Driver, cause: str) -> None:
    set_today(world, R4_DAY)
    _prior(world, "405", 2019)
    cid = _apply(drive, "405", affected=[cause])
    v = drive.k.show("tanaka", cid)
    assert (v.stage, v.rule_version, v.affected) == ("application", "R4", [cause])
    assert drive.step(cid, "accept").stage == "due_diligence"  # an officer may accept it


@SQLITE_ONLY
def test_r4_affected_with_two_prior_uses_is_refused(world: World, drive: Driver) -> None:
    set_today(world, R4_DAY)
    a = _prior(world, "405", 2018)
    b = _prior(world, "405", 2020)
    e = _refused(drive, "405", affected=["covid", "oil"])
    [msg] = e.reasons
    assert msg.startswith("規程 R4 の再利用の制限: 利用は2回までです (過去の利用 2回:")
    assert f"(記録 #{a})" in msg and f"(記録 #{b})" in msg


@SQLITE_ONLY
def test_r4_early_after_405_is_refused_unless_affected(world: World, drive: Driver) -> None:
    set_today(world, R4_DAY)
    _prior(world, "405", 2020)
    e = _refused(drive, "early")
    assert any(
        "405事業で計画を策定した事業者は早期経営改善を利用できません" in r for r in e.reasons
    )
    assert all(r.startswith("規程 R4") for r in e.reasons)
    cid = _apply(drive, "early", affected=["ukraine"])
    assert drive.k.show("tanaka", cid).stage == "application"


@SQLITE_ONLY
def test_r4_kaizens_own_accepted_case_counts(world: World, drive: Driver) -> None:
    set_today(world, R4_DAY)
    first = drive.open("405", "normal")
    drive.to(first, "due_diligence")
    e = _refused(drive, "early")
    assert f"案件 {first}" in e.reasons[0] and "2022年度" in e.reasons[0]
    uses = drive.k.prior_uses("tanaka", world.company)
    assert [(u.program, u.fiscal_year, u.source) for u in uses] == [("405", 2022, f"案件 {first}")]


@SQLITE_ONLY
def test_r4_an_application_not_yet_accepted_is_not_a_use(world: World, drive: Driver) -> None:
    set_today(world, R4_DAY)
    rejected = _apply(drive, "405")
    drive.step(rejected, "reject", reason="書類不備")
    cid = _apply(drive, "405")
    assert drive.k.show("tanaka", cid).stage == "application"


@SQLITE_ONLY
def test_r5_keeps_the_affected_rule(world: World, drive: Driver) -> None:
    set_today(world, date(2023, 10, 2))
    _prior(world, "early", 2021)
    e = _refused(drive, "early")
    assert e.reasons[0].startswith("規程 R5 の再利用の制限")
    cid = _apply(drive, "early", affected=["covid"])
    assert drive.k.show("tanaka", cid).rule_version == "R5"


# ---------------------------------------------------------------- R6 and R7


@SQLITE_ONLY
@pytest.mark.parametrize(("day", "version"), [(R6_DAY, "R6"), (date(2025, 9, 1), "R7")])
def test_r6_405_after_405_needs_reason_and_a_supervisor(
    world: World, drive: Driver, day: date, version: str
) -> None:
    set_today(world, day)
    uid = _prior(world, "405", 2021, paid=1_000_000, track="normal")
    e = _refused(drive, "405")
    [msg] = e.reasons
    assert msg.startswith(f"規程 {version} の再利用の制限: 過去の利用があるため、")
    assert "--reason" in msg and f"405事業/normal 2021年度 (記録 #{uid})" in msg
    cid = _apply(drive, "405", reason="前回はコロナ、今回は主要取引先の倒産による悪化")
    v = drive.k.show("tanaka", cid)
    assert (v.stage, v.rule_version, v.reuse_exception) == ("application", version, True)
    assert v.missing["accept"] == ["再利用の例外: 統括責任者による受付が必要です"]
    before = state(drive.k, "tanaka", cid)
    with pytest.raises(GuardFailed, match="統括責任者 \\(supervisor\\)"):
        drive.step(cid, "accept")  # tanaka is an officer
    assert state(drive.k, "tanaka", cid) == before
    with pytest.raises(GuardFailed, match="統括責任者"):
        drive.step(cid, "accept", actor="admin")  # the council's supervisor, nobody else
    v = drive.step(cid, "accept", actor="boss")
    assert v.stage == "due_diligence" and v.events[-1].actor == "boss"


@SQLITE_ONLY
def test_r6_kaizens_own_405_case_makes_the_next_an_exception(world: World, drive: Driver) -> None:
    set_today(world, R6_DAY)
    first = drive.open("405", "normal")
    drive.to(first, "due_diligence")
    e = _refused(drive, "405")
    assert f"案件 {first}" in e.reasons[0]


def test_r6_payment_cap_counts_recorded_and_kaizens_own_payments(
    world: World, drive: Driver
) -> None:
    set_today(world, R6_DAY)
    _prior(world, "405", 2020, paid=1_500_000)
    first = drive.open("405", "normal")
    second = drive.open("405", "normal")
    for cid in (first, second):
        drive.k.record_estimate("tanaka", cid, "dd_plan", 3_000_000)  # subsidy: 2,000,000
    drive.to(first, "monitoring", reason="前回と異なる悪化要因")
    assert _kinds(drive, first) == [("plan_first", 1_000_000)]  # room 1,500,000: not clamped
    assert drive.k.subsidy("tanaka", first).payment_room == 500_000
    v = drive.to(second, "application", reason="さらに別の悪化要因")
    assert v.reuse_exception
    drive.to(second, "monitoring")
    # 3,000,000 - 1,500,000 (recorded) - 1,000,000 (Kaizen's first case) = 500,000 left
    assert _kinds(drive, second) == [("plan_first", 500_000)]
    assert drive.k.subsidy("tanaka", second).payment_room == 0


def _kinds(drive: Driver, cid: str) -> list[tuple[str, int]]:
    return [(p["kind"], p["amount"]) for p in drive.k.subsidy("tanaka", cid).payments]


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("prior_paid", "first", "second"),
    [
        (2_500_000, 500_000, 0),  # clamped at decide_payment, nothing left after
        (1_800_000, 1_000_000, 200_000),  # the withheld half is clamped
    ],
)
def test_r6_payment_cap_over_all_uses(
    world: World,
    drive: Driver,
    prior_paid: int,
    first: int,
    second: int,
) -> None:
    set_today(world, R6_DAY)
    _prior(world, "405", 2020, paid=prior_paid)
    cid = drive.open("405", "normal")
    drive.k.record_estimate("tanaka", cid, "dd_plan", 3_000_000)  # subsidy: the 2,000,000 cap
    drive.k.record_estimate("tanaka", cid, "monitoring", 1_500_000)  # subsidy: 1,000,000 cap
    drive.to(cid, "monitoring", reason="別の悪化要因")
    sub = drive.k.subsidy("tanaka", cid)
    # One total per case (rules.md §4): what the council will pay after the room, and what
    # the room cut from the 2,000,000 plan subsidy (no monitoring fee yet).
    payable = min(2_000_000, 3_000_000 - prior_paid)
    assert (sub.plan_share, sub.total) == (payable, payable)
    assert sub.room_cut == 2_000_000 - payable
    assert sub.withheld == payable - first  # the second half, within the room
    assert [(p["kind"], p["amount"]) for p in sub.payments] == [("plan_first", first)]
    drive.k.record_fee("tanaka", cid, "monitoring", 1_500_000)
    drive.report(cid)
    drive.step(cid, "claim_monitoring")
    drive.step(cid, "pay_monitoring")
    sub = drive.k.subsidy("tanaka", cid)
    mon = max(min(1_000_000, 3_000_000 - prior_paid - first - second), 0)
    assert [(p["kind"], p["amount"]) for p in sub.payments] == [
        ("plan_first", first),
        ("plan_second", second),
        ("monitoring", mon),
    ]
    assert prior_paid + sub.paid <= 3_000_000
    assert sub.payment_room == max(3_000_000 - prior_paid - sub.paid, 0)
    assert sub.total == sub.paid and sub.room_cut == 3_000_000 - sub.total


@SQLITE_ONLY
def test_r6_cap_already_reached_refuses_apply(world: World, drive: Driver) -> None:
    set_today(world, R6_DAY)
    _prior(world, "405", 2019, paid=2_000_000)
    _prior(world, "early", 2017, paid=1_000_000)  # every use's payments count toward the cap
    e = _refused(drive, "405", reason="別の要因")
    assert any("上限 3,000,000円に達しています (支払済 3,000,000円)" in r for r in e.reasons)


@SQLITE_ONLY
def test_r6_early_after_early_is_refused(world: World, drive: Driver) -> None:
    set_today(world, R6_DAY)
    _prior(world, "early", 2022)
    e = _refused(drive, "early", affected=["covid"])  # no affected-firm rule any more
    [msg] = e.reasons
    assert msg.startswith("規程 R6 の再利用の制限: 早期経営改善の2回目の利用はできません")


@SQLITE_ONLY
def test_r6_early_after_405_is_refused(world: World, drive: Driver) -> None:
    set_today(world, R6_DAY)
    _prior(world, "405", 2021)
    e = _refused(drive, "early", affected=["oil"], reason="理由があっても")
    [msg] = e.reasons
    assert "405事業で計画を策定した事業者は早期経営改善を利用できません" in msg


@SQLITE_ONLY
def test_r6_405_after_only_early_is_allowed_without_exception(world: World, drive: Driver) -> None:
    set_today(world, R6_DAY)
    _prior(world, "early", 2022, paid=200_000)
    cid = _apply(drive, "405")
    v = drive.k.show("tanaka", cid)
    assert (v.rule_version, v.reuse_exception) == ("R6", False)
    assert drive.step(cid, "accept").stage == "due_diligence"  # an officer may accept it
    v = drive.to(cid, "monitoring")
    assert drive.k.subsidy("tanaka", cid).payment_room is None  # no cap without re-use


@SQLITE_ONLY
def test_prior_uses_are_listed_and_validated(world: World, drive: Driver) -> None:
    a = _prior(world, "early", 2021, paid=100_000, track="guarantee")
    uses = drive.k.prior_uses("tanaka", world.company)
    assert [(u.program, u.track, u.fiscal_year, u.paid, u.source) for u in uses] == [
        ("early", "guarantee", 2021, 100_000, f"記録 #{a}")
    ]
    for kw, needle in [
        ({"program": "406", "fiscal_year": 2021}, "不明な事業"),
        ({"program": "405", "fiscal_year": 2021, "track": "guarantee"}, "guarantee"),
        ({"program": "405", "fiscal_year": 2027}, "年度は2000から2026まで"),
        ({"program": "405", "fiscal_year": 1999}, "年度は2000から"),
        ({"program": "405", "fiscal_year": 2021, "paid": -1}, "0円以上"),
    ]:
        with pytest.raises(InvalidInput, match=needle):
            drive.k.record_prior_use("tanaka", world.company, **kw)  # type: ignore[arg-type]
    assert len(drive.k.prior_uses("tanaka", world.company)) == 1
