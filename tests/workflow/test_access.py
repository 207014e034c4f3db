"""Access (design.md §8): officers act on their own council's cases, supervisors approve
exceptions and extend validity, admins manage councils and officers; unknown actors are refused.

An officer of another council is told the case does not exist (its existence is not
disclosed) and nothing is written: every table is compared before and after.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from tests.conftest import World
from tests.workflow.conftest import SQLITE_ONLY, Driver, snapshot
from workflow.errors import InvalidInput, KaizenError, NotFound, PermissionDenied

ACTIONS: dict[str, Callable[[Any, str, str], Any]] = {
    "show": lambda k, who, cid: k.show(who, cid),
    "subsidy": lambda k, who, cid: k.subsidy(who, cid),
    "advance": lambda k, who, cid: k.advance(who, cid, "withdraw", reason="x"),
    "advance_forward": lambda k, who, cid: k.advance(who, cid, "start_planning"),
    "estimate": lambda k, who, cid: k.record_estimate(who, cid, "dd_plan", 1),
    "fee": lambda k, who, cid: k.record_fee(who, cid, "dd_plan", 1),
    "lender": lambda k, who, cid: k.add_lender(who, cid, "佐賀銀行"),
    "consent": lambda k, who, cid: k.record_consent(who, cid, "福岡銀行"),
    "certificate": lambda k, who, cid: k.record_certificate(who, cid, date(2026, 5, 1)),
    "plan": lambda k, who, cid: k.record_plan(who, cid),
    "report": lambda k, who, cid: k.record_report(who, cid),
    "extend": lambda k, who, cid: k.extend_validity(who, cid, date(2029, 1, 1), "延長"),
}


def test_another_councils_officer_can_neither_see_nor_change_a_case(
    world: World, drive: Driver
) -> None:
    cid = drive.new("405", "normal", "due_diligence")
    before = snapshot(world.url)
    for name, act in ACTIONS.items():
        with pytest.raises(NotFound) as e:
            act(drive.k, "saga", cid)
        assert e.value.exit_code == 3, name
        assert e.value.message == f"案件 {cid} が見つかりません", name
    assert [r.id for r in drive.k.list_cases("saga")] == []
    with pytest.raises(PermissionDenied, match="saga は協議会 40 の案件を扱えません"):
        drive.k.list_cases("saga", council="40")
    with pytest.raises(PermissionDenied):
        drive.k.open_case(
            "saga", company=world.company, program="405", track="normal", council="40"
        )
    assert snapshot(world.url) == before
    # …while the council's own officer, its supervisor and the admin do see it.
    for who in ("tanaka", "boss", "admin"):
        assert drive.k.show(who, cid).id == cid
        assert [r.id for r in drive.k.list_cases(who, council="40")] == [cid]


@SQLITE_ONLY
def test_a_missing_case_and_another_councils_case_look_the_same(drive: Driver) -> None:
    cid = drive.open("405", "normal")
    missing = cid[:-4] + "9999"
    with pytest.raises(NotFound) as hidden:
        drive.k.show("saga", cid)
    with pytest.raises(NotFound) as absent:
        drive.k.show("saga", missing)
    assert hidden.value.message.replace(cid, "X") == absent.value.message.replace(missing, "X")


@SQLITE_ONLY
def test_each_council_lists_its_own_cases_and_admin_all(world: World, drive: Driver) -> None:
    forty = drive.open("405", "normal")
    drive.actor = "saga"
    forty_one = drive.open("early", "normal", council="41")
    assert forty_one.startswith("41-")
    drive.actor = "tanaka"
    assert [r.id for r in drive.k.list_cases("tanaka")] == [forty]
    assert [r.id for r in drive.k.list_cases("saga")] == [forty_one]
    assert [r.id for r in drive.k.list_cases("admin")] == [forty, forty_one]
    assert [r.id for r in drive.k.list_cases("admin", council="41")] == [forty_one]
    with pytest.raises(NotFound):
        drive.k.show("tanaka", forty_one)


@SQLITE_ONLY
def test_only_admins_manage_officers_and_councils(world: World) -> None:
    k: Any = world.k
    before = snapshot(world.url)
    for who in ("tanaka", "boss", "saga"):
        with pytest.raises(PermissionDenied, match="管理者 \\(admin\\) のみ"):
            k.add_officer(who, "newbie", name="新人", council="40", role="officer")
        with pytest.raises(PermissionDenied, match="管理者 \\(admin\\) のみ"):
            k.upsert_councils(who, [{"code": "47", "name": "沖縄県中小企業活性化協議会"}])
    assert snapshot(world.url) == before
    assert (
        k.add_officer("admin", "newbie", name="新人", council="40", role="officer").id == "newbie"
    )
    assert k.upsert_councils("admin", [{"code": "47", "name": "沖縄県中小企業活性化協議会"}]) == 1
    assert [c["code"] for c in k.list_councils()][-1] == "47"
    with pytest.raises(InvalidInput, match="所属協議会"):
        k.add_officer("admin", "lost", name="迷子", council=None, role="supervisor")


@SQLITE_ONLY
def test_supervisors_extend_validity(world: World, drive: Driver) -> None:
    cid = drive.new("405", "normal", "due_diligence")
    valid = drive.k.show("tanaka", cid).valid_until
    assert valid is not None
    later = date(valid.year + 1, valid.month, 1)
    before = snapshot(world.url)
    with pytest.raises(PermissionDenied, match="統括責任者 \\(supervisor\\) のみ"):
        drive.k.extend_validity("tanaka", cid, later, "金融機関調整の長期化")
    with pytest.raises(NotFound):
        drive.k.extend_validity("saga", cid, later, "金融機関調整の長期化")
    with pytest.raises(InvalidInput, match=r"現在の期限 .* より後"):
        drive.k.extend_validity("boss", cid, valid, "同じ日")
    assert snapshot(world.url) == before
    v = drive.k.extend_validity("boss", cid, later, "金融機関調整の長期化")
    assert v.valid_until == later
    assert v.events[-1].actor == "boss" and v.events[-1].trigger == "extend"


@SQLITE_ONLY
def test_extension_is_for_accepted_405_and_applied_early_cases(drive: Driver) -> None:
    fresh = drive.open("405", "normal")
    with pytest.raises(KaizenError, match="受付済みの 405 案件だけ"):
        drive.k.extend_validity("boss", fresh, date(2029, 1, 1), "x")
    early_fresh = drive.open("early", "normal")
    with pytest.raises(KaizenError, match="利用申請後・支払決定前の早期案件だけ"):
        drive.k.extend_validity("boss", early_fresh, date(2029, 1, 1), "x")
    # An early case: a supervisor's exception moves the plan-cost claim's deadline.
    early = drive.new("early", "normal", "planning")
    deadline = drive.k.show("tanaka", early).milestones
    due = next(m.due for m in deadline if m.key == "payment_claim_deadline")
    with pytest.raises(KaizenError, match="から24か月"):
        drive.k.extend_validity("boss", early, date(due.year + 3, 1, 4), "x")
    v = drive.k.extend_validity("boss", early, date(due.year + 1, 1, 4), "決算の遅れ")
    assert v.valid_until == date(due.year + 1, 1, 4)
    assert next(m.due for m in v.milestones if m.key == "payment_claim_deadline") == v.valid_until


@pytest.mark.parametrize(
    "call",
    [
        lambda k, c: k.show("ghost", "40-2026-0001"),
        lambda k, c: k.list_cases("ghost"),
        lambda k, c: k.open_case("ghost", company=c, program="405", track="normal", council="40"),
        lambda k, c: k.add_company(
            "ghost", number=None, name="x", fiscal_year_end=3, legal_form="個人事業主"
        ),
        lambda k, c: k.record_prior_use("ghost", c, program="405", fiscal_year=2020),
        lambda k, c: k.add_officer("ghost", "x", name="x", council="40", role="officer"),
        lambda k, c: k.advance("ghost", "40-2026-0001", "apply"),
        lambda k, c: k.prior_uses("ghost", c),
    ],
    ids=["show", "list", "open", "company", "prior_use", "officer", "advance", "uses"],
)
@SQLITE_ONLY
def test_unknown_actor_is_refused(world: World, call: Callable[[Any, str], Any]) -> None:
    k: Any = world.k
    k.open_case("tanaka", company=world.company, program="405", track="normal", council="40")
    before = snapshot(world.url)
    with pytest.raises(PermissionDenied, match="'ghost' は登録された担当者ではありません"):
        call(k, world.company)
    assert snapshot(world.url) == before
