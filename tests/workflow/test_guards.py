"""Every guard of rules.md §2: alone, together, at its boundaries, and through the engine.

The first half tests `workflow.guards.failures` on a snapshot of facts (no database): each
condition failing alone gives its own sentence, and all failures come back together. The
second half drives real cases (both backends) to check the wiring: dates, fees, periods.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from states.eligibility import CompanyFacts
from states.programs import definition
from tests.conftest import World
from tests.workflow.conftest import (
    SQLITE_ONLY,
    Driver,
    company,
    set_today,
    state,
)
from workflow.errors import GuardFailed, InvalidInput, KaizenError, NotAllowed, NotFound
from workflow.guards import Facts, LenderFact, failures, months_before
from workflow.reuse import ReuseDecision

ON = date(2026, 6, 1)
OK_COMPANY = CompanyFacts("manufacturing", 10_000_000, 20, "株式会社")


def facts(program: str = "405", track: str = "normal", **kw: Any) -> Facts:
    """Facts under which every guard of every trigger of the definition holds."""
    d = definition(program, track)
    opts = {"interim_monitoring"} if kw.pop("interim", False) else set()
    cats = d.categories_for(opts)
    base: dict[str, Any] = {
        "program": program,
        "track": track,
        "stage": "consultation",
        "on": ON,
        "reason": "理由",
        "actor_role": "officer",
        "company": OK_COMPANY,
        "advisor": "博多会計事務所",
        "lenders": (LenderFact("福岡銀行", ON), LenderFact("西日本シティ銀行", ON)),
        "certificate_issued": ON - timedelta(days=10),
        "certificate_max_age_months": 3,
        "categories": cats,
        "estimates": {c.id: (200 if c.phase == "plan" else 100) for c in cats},
        "actuals": {c.id: 100 for c in cats},
        "plan_recorded": ON,
        "reports": frozenset({1, 2, 3}),
        "periods_paid": 0,
        "periods_total": 6 if program == "405" else 1,
        "reuse": ReuseDecision([], False, None),
    }
    base.update(kw)
    return Facts(**base)


def guards(trigger: str, program: str = "405", track: str = "normal") -> tuple[str, ...]:
    return definition(program, track).transition(trigger).guards


@pytest.mark.parametrize(("program", "track"), [("405", "normal"), ("405", "gl"),
                                                ("early", "normal"), ("early", "guarantee")])  # fmt: skip
def test_good_facts_pass_every_forward_guard(program: str, track: str) -> None:
    f = facts(program, track)
    for t in definition(program, track).transitions:
        if t.trigger in ("pay_monitoring", "complete"):
            continue  # exclusive by design: tested below
        assert failures(t.guards, f) == [], t.trigger


# (trigger, program/track, changes, the one sentence expected)
ALONE: list[tuple[str, str, dict[str, Any], str]] = [
    ("apply", "405/normal", {"company": CompanyFacts("manufacturing", 400_000_000, 400, "株式会社")},
     "中小企業の規模要件を満たしません"),
    ("apply", "405/normal", {"company": CompanyFacts("manufacturing", 1, 4, "NPO法人")},
     "支援の対象外の法人形態です"),
    ("apply", "early/normal", {"company": CompanyFacts("retail", None, None, "株式会社")},
     "資本金または常時使用する従業員数が未登録です"),
    ("apply", "405/normal", {"advisor": "  "}, "認定経営革新等支援機関が未登録です"),
    ("apply", "405/gl", {"lenders": ()}, "取引金融機関が未登録です"),
    ("apply", "405/normal", {"certificate_issued": None}, "履歴事項全部証明書の発行日が未登録です"),
    ("apply", "405/normal", {"certificate_issued": date(2026, 2, 28)},
     "履歴事項全部証明書が古すぎます: 発行日 2026-02-28 は申請日 2026-06-01 の3か月前 (2026-03-01) より前です"),
    ("apply", "early/normal", {"certificate_issued": date(2026, 6, 2)},
     "履歴事項全部証明書の発行日 2026-06-02 が申請日 2026-06-01 より後です"),
    ("apply", "405/normal", {"estimates": {"dd_plan": 200}},
     "見積額が未登録の費用区分: 伴走支援費用 (モニタリング)"),
    ("apply", "405/gl", {"estimates": {"monitoring": 1}},
     "見積額が未登録の費用区分: DD費用等、計画策定支援費用 (第三者支援専門家を含む)"),
    ("apply", "early/normal", {"estimates": {}},
     "見積額が未登録の費用区分: 計画策定支援費用、伴走支援費用 (決算期)"),
    ("apply", "405/normal", {"estimates": {"dd_plan": 100, "monitoring": 101}},
     "伴走支援費用の見積額 101円が (計画策定 100円 + 伴走支援 101円) の2分の1を超えています"),
    ("apply", "405/normal", {"reuse": ReuseDecision(["規程 R4 の再利用の制限: X"], False, None)},
     "規程 R4 の再利用の制限: X"),
    ("accept", "405/normal", {"reuse": ReuseDecision([], True, 1)},
     "再利用の例外案件です: 受付は当協議会の統括責任者 (supervisor) が行ってください"),
    ("accept", "405/normal", {"reuse": ReuseDecision(["規程 R6: Y"], False, None)}, "規程 R6: Y"),
    ("reject", "405/normal", {"reason": None}, "理由 (--reason) を記載してください"),
    ("revise", "early/normal", {"reason": " \t"}, "理由 (--reason) を記載してください"),
    ("withdraw", "405/gl", {"reason": ""}, "理由 (--reason) を記載してください"),
    ("discontinue", "early/guarantee", {"reason": None}, "理由 (--reason) を記載してください"),
    ("submit_plan", "405/normal", {"plan_recorded": None}, "計画が未登録です"),
    ("agree", "405/normal", {"lenders": (LenderFact("福岡銀行", ON), LenderFact("西日本シティ銀行", None))},
     "同意書が未提出の金融機関: 西日本シティ銀行"),
    ("agree", "405/gl", {"lenders": ()}, "取引金融機関が未登録です"),
    ("agree", "early/normal", {"lenders": (LenderFact("福岡銀行", None),)},
     "受領書が未登録の金融機関: 福岡銀行"),
    ("agree", "early/guarantee", {"lenders": ()}, "取引金融機関が未登録です"),
    ("decide_payment", "405/normal", {"actuals": {"monitoring": 1}},
     "支払額 (実績) が未登録の費用区分: DD・計画策定支援費用"),
    ("decide_payment", "405/gl", {"actuals": {"dd": 1}},
     "支払額 (実績) が未登録の費用区分: 計画策定支援費用 (第三者支援専門家を含む)"),
    ("decide_payment", "early/guarantee", {"actuals": {}},
     "支払額 (実績) が未登録の費用区分: 計画策定支援費用、金融機関交渉費用"),
    ("claim_monitoring", "405/normal", {"periods_paid": 3}, "第4期のモニタリング報告が未登録です"),
    ("claim_monitoring", "early/normal", {"reports": frozenset()}, "第1期のモニタリング報告が未登録です"),
    ("pay_monitoring", "405/normal", {"periods_paid": 5}, "第6期が最終期です: complete を使ってください"),
    ("pay_monitoring", "early/normal", {"periods_paid": 0, "periods_total": 1}, "第1期が最終期です"),
    ("complete", "405/gl", {"periods_paid": 4},
     "モニタリング期間が残っています (あと1期): pay_monitoring を使ってください"),
    ("complete", "early/normal", {"periods_total": 2}, "モニタリング期間が残っています (あと1期)"),
]  # fmt: skip


@pytest.mark.parametrize(("trigger", "key", "changes", "message"), ALONE)
def test_each_condition_failing_alone_gives_its_sentence(
    trigger: str, key: str, changes: dict[str, Any], message: str
) -> None:
    program, track = key.split("/")
    f = facts(program, track, **changes)
    got = failures(guards(trigger, program, track), f)
    assert len(got) == 1, got
    assert got[0].startswith(message) or message in got[0], got


def test_all_failures_are_reported_together() -> None:
    f = facts(
        company=CompanyFacts("services", 60_000_000, 200, "株式会社"),
        advisor="",
        lenders=(),
        certificate_issued=None,
        estimates={"monitoring": 10},
        reuse=ReuseDecision(["再利用: Z"], False, None),
    )
    got = failures(guards("apply"), f)
    starts = [
        "中小企業の規模要件を満たしません",
        "認定経営革新等支援機関が未登録です",
        "取引金融機関が未登録です",
        "履歴事項全部証明書の発行日が未登録です",
        "見積額が未登録の費用区分: DD・計画策定支援費用 ",
        "伴走支援費用の見積額 10円が",
        "再利用: Z",
    ]
    assert len(got) == len(starts)
    for sentence, start in zip(got, starts, strict=True):
        assert sentence.startswith(start), (sentence, start)


@pytest.mark.parametrize(
    ("on", "issued", "ok"),
    [
        (date(2026, 6, 1), date(2026, 3, 1), True),  # exactly 3 months old
        (date(2026, 6, 1), date(2026, 2, 28), False),  # one day more
        (date(2026, 6, 1), date(2026, 6, 1), True),  # issued the same day
        (date(2026, 6, 1), date(2026, 6, 2), False),  # issued after the filing
        (date(2026, 5, 31), date(2026, 2, 28), True),  # no 31 February: the month's last day
        (date(2026, 5, 31), date(2026, 2, 27), False),
        (date(2024, 5, 31), date(2024, 2, 29), True),  # leap year
        (date(2024, 5, 31), date(2024, 2, 28), False),
        (date(2027, 1, 15), date(2026, 10, 15), True),  # across the year end
        (date(2027, 1, 15), date(2026, 10, 14), False),
    ],
)
def test_certificate_age_boundary(on: date, issued: date, ok: bool) -> None:
    got = failures(("certificate_fresh",), facts(on=on, certificate_issued=issued))
    assert (got == []) is ok, got


def test_months_before_clamps_to_the_months_last_day() -> None:
    assert months_before(date(2026, 5, 31), 3) == date(2026, 2, 28)
    assert months_before(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert months_before(date(2026, 1, 31), 2) == date(2025, 11, 30)


@pytest.mark.parametrize(
    ("plan", "monitoring", "ok"),
    [
        (1_000_000, 1_000_000, True),  # exactly half of the total
        (1_000_000, 1_000_001, False),  # one yen more
        (1_000_001, 1_000_000, True),
        (0, 0, True),
        (0, 1, False),
        (1, 0, True),
    ],
)
def test_405_normal_monitoring_estimate_at_most_half(plan: int, monitoring: int, ok: bool) -> None:
    f = facts(estimates={"dd_plan": plan, "monitoring": monitoring})
    assert (failures(("monitoring_estimate_half",), f) == []) is ok


def test_only_405_normal_has_the_half_rule() -> None:
    for key in ("405/gl", "early/normal", "early/guarantee"):
        assert "monitoring_estimate_half" not in guards("apply", *key.split("/"))
    assert "monitoring_estimate_half" in guards("apply", "405", "normal")


def test_405_agrees_on_consents_early_on_receipts() -> None:
    assert guards("agree", "405", "normal") == ("all_lenders_consented", "application_valid")
    assert guards("agree", "405", "gl") == ("all_lenders_consented", "application_valid")
    assert guards("agree", "early", "normal") == ("lender_receipt",)
    assert guards("agree", "early", "guarantee") == ("lender_receipt",)


def test_supervisor_accepts_a_reuse_exception() -> None:
    f = facts(actor_role="supervisor", reuse=ReuseDecision([], True, 100))
    assert failures(guards("accept"), f) == []


# ---------------------------------------------------------------- through the engine


def test_apply_lists_every_missing_fact_and_writes_nothing(world: World, drive: Driver) -> None:
    cid = drive.open("405", "normal", advisor="")
    before = state(drive.k, "tanaka", cid)
    with pytest.raises(GuardFailed) as e:
        drive.k.advance("tanaka", cid, "apply")
    assert e.value.exit_code == 6 and e.value.trigger == "apply"
    starts = ["認定経営革新等支援機関", "取引金融機関", "履歴事項全部証明書の発行日", "見積額"]
    assert len(e.value.reasons) == len(starts)
    for sentence, start in zip(e.value.reasons, starts, strict=True):
        assert sentence.startswith(start), sentence
    assert e.value.message == "apply できません: " + " / ".join(e.value.reasons)
    assert state(drive.k, "tanaka", cid) == before
    assert drive.k.show("tanaka", cid).missing["apply"] == e.value.reasons


@SQLITE_ONLY
def test_an_ineligible_company_cannot_apply(world: World, drive: Driver) -> None:
    npo = company(world, "555555555555", legal_form="NPO法人")
    cid = drive.open("early", "normal", company=npo)
    drive.prepare_apply(cid)
    with pytest.raises(GuardFailed, match="支援の対象外の法人形態です"):
        drive.step(cid, "apply")


@SQLITE_ONLY
@pytest.mark.parametrize(("issued", "ok"), [(date(2026, 3, 1), True), (date(2026, 2, 28), False)])
def test_certificate_boundary_at_apply(drive: Driver, issued: date, ok: bool) -> None:
    cid = drive.open("405", "normal")
    drive.k.record_certificate("tanaka", cid, issued)
    drive.prepare_apply(cid)
    if ok:
        assert drive.k.advance("tanaka", cid, "apply", on=ON).stage == "application"
    else:
        with pytest.raises(GuardFailed) as e:
            drive.k.advance("tanaka", cid, "apply", on=ON)
        assert e.value.reasons == [
            "履歴事項全部証明書が古すぎます: 発行日 2026-02-28 は申請日 2026-06-01 の"
            "3か月前 (2026-03-01) より前です"
        ]


@SQLITE_ONLY
def test_estimates_required_per_track(drive: Driver) -> None:
    expected = {
        ("405", "normal", ()): "DD・計画策定支援費用、伴走支援費用 (モニタリング)",
        ("405", "normal", ("guarantee_release",)): (
            "DD・計画策定支援費用、伴走支援費用 (モニタリング)、金融機関交渉費用"
        ),
        ("405", "gl", ()): "DD費用等、計画策定支援費用 (第三者支援専門家を含む)、伴走支援費用",
        ("early", "normal", ()): "計画策定支援費用、伴走支援費用 (決算期)",
        ("early", "normal", ("interim_monitoring",)): (
            "計画策定支援費用、伴走支援費用 (期中)、伴走支援費用 (決算期)"
        ),
        # 金融機関交渉 is at the firm's wish on the early guarantee track (flyer): not required.
        ("early", "guarantee", ()): "計画策定支援費用、伴走支援費用 (決算期)",
    }
    for (program, track, opts), labels in expected.items():
        flags: dict[str, Any] = {o: True for o in opts}
        cid = drive.open(program, track, **flags)
        missing = drive.k.show("tanaka", cid).missing["apply"]
        assert f"見積額が未登録の費用区分: {labels} (kaizen case estimate)" in missing
        cats = [c.category for c in drive.k.subsidy("tanaka", cid).categories]
        optional = {"bank_negotiation"} if (program, track) == ("early", "guarantee") else set()
        assert len(cats) == labels.count("、") + 1 + len(optional)
    with pytest.raises(InvalidInput, match="費用区分 'bank_negotiation' はこの案件"):
        cid = drive.open("405", "normal")
        drive.k.record_estimate("tanaka", cid, "bank_negotiation", 100_000)


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("guarantee_release", "estimates", "ok"),
    [
        (False, {"dd_plan": 1_500_000, "monitoring": 1_500_000}, True),
        (False, {"dd_plan": 1_500_000, "monitoring": 1_500_001}, False),
        (True, {"dd_plan": 1_400_000, "bank_negotiation": 100_000, "monitoring": 1_500_000}, True),
        (True, {"dd_plan": 1_400_000, "bank_negotiation": 100_000, "monitoring": 1_500_001}, False),
    ],
)
def test_half_rule_at_apply(
    drive: Driver, guarantee_release: bool, estimates: dict[str, int], ok: bool
) -> None:
    cid = drive.open("405", "normal", guarantee_release=guarantee_release)
    for cat, yen in estimates.items():
        drive.k.record_estimate("tanaka", cid, cat, yen)
    drive.prepare_apply(cid)
    if ok:
        assert drive.step(cid, "apply").stage == "application"
    else:
        with pytest.raises(GuardFailed, match="2分の1を超えています"):
            drive.step(cid, "apply")


@SQLITE_ONLY
def test_consents_before_agree(drive: Driver) -> None:
    cid = drive.open("405", "gl")
    for name in ("福岡銀行", "西日本シティ銀行", "日本政策金融公庫"):
        drive.k.add_lender("tanaka", cid, name)
    drive.to(cid, "planning")
    drive.k.record_consent("tanaka", cid, "西日本シティ銀行")  # consents may come while planning
    drive.k.record_plan("tanaka", cid)
    drive.step(cid, "submit_plan")
    before = state(drive.k, "tanaka", cid)
    with pytest.raises(GuardFailed) as e:
        drive.step(cid, "agree")
    assert e.value.reasons == ["同意書が未提出の金融機関: 福岡銀行、日本政策金融公庫"]
    assert state(drive.k, "tanaka", cid) == before
    with pytest.raises(NotFound, match="金融機関 nobody はこの案件に登録されていません"):
        drive.k.record_consent("tanaka", cid, "nobody")
    drive.k.record_consent("tanaka", cid, "福岡銀行")
    drive.k.record_consent("tanaka", cid, "日本政策金融公庫")
    assert drive.step(cid, "agree").stage == "payment_claim"


@SQLITE_ONLY
def test_receipt_before_agree_early(drive: Driver) -> None:
    cid = drive.new("early", "guarantee", "bank_negotiation")
    with pytest.raises(GuardFailed, match="受領書が未登録の金融機関: 福岡銀行"):
        drive.step(cid, "agree")
    drive.k.record_consent("tanaka", cid, "福岡銀行")
    assert drive.step(cid, "agree").stage == "payment_claim"


@SQLITE_ONLY
def test_consent_dated_before_apply_is_refused(drive: Driver) -> None:
    cid = drive.new("405", "normal", "planning")
    applied = drive.k.show("tanaka", cid).applied_on
    assert applied is not None
    with pytest.raises(InvalidInput, match="利用申請日"):
        drive.k.record_consent("tanaka", cid, "福岡銀行", on=applied - timedelta(days=1))


@SQLITE_ONLY
def test_fees_before_decide_payment(drive: Driver) -> None:
    cid = drive.new("405", "normal", "payment_claim", guarantee_release=True)
    drive.k.record_fee("tanaka", cid, "dd_plan", 2_000_000)
    before = state(drive.k, "tanaka", cid)
    with pytest.raises(GuardFailed) as e:
        drive.step(cid, "decide_payment")
    assert e.value.reasons == [
        "支払額 (実績) が未登録の費用区分: 金融機関交渉費用 (kaizen case fee)"
    ]
    assert state(drive.k, "tanaka", cid) == before
    drive.k.record_fee("tanaka", cid, "bank_negotiation", 0)  # zero is a recorded fee
    assert drive.step(cid, "decide_payment").stage == "monitoring"


def test_fees_before_acceptance_are_refused(world: World, drive: Driver) -> None:
    cid = drive.open("405", "normal")
    drive.prepare_apply(cid)
    with pytest.raises(InvalidInput, match="事前着手不可"):
        drive.k.record_fee("tanaka", cid, "dd_plan", 1_000)
    drive.step(cid, "apply")
    with pytest.raises(InvalidInput, match="事前着手不可"):
        drive.k.record_fee("tanaka", cid, "dd_plan", 1_000)
    accepted = drive.step(cid, "accept").accepted_on
    assert accepted is not None
    before = state(drive.k, "tanaka", cid)
    with pytest.raises(InvalidInput) as e:
        drive.k.record_fee("tanaka", cid, "dd_plan", 1_000, on=accepted - timedelta(days=1))
    assert f"受付日 {accepted} より前です" in e.value.message
    assert "事前着手不可" in e.value.message
    assert state(drive.k, "tanaka", cid) == before
    drive.k.record_fee("tanaka", cid, "dd_plan", 1_000, on=accepted)  # the day itself is fine


@SQLITE_ONLY
def test_report_before_claim_monitoring(drive: Driver) -> None:
    cid = drive.new("405", "normal", "monitoring")
    before = state(drive.k, "tanaka", cid)
    with pytest.raises(GuardFailed, match="第1期のモニタリング報告が未登録です"):
        drive.step(cid, "claim_monitoring")
    assert state(drive.k, "tanaka", cid) == before
    drive.report(cid)
    with pytest.raises(KaizenError, match="既に登録されています"):
        drive.k.record_report("tanaka", cid)
    assert drive.step(cid, "claim_monitoring").stage == "monitoring_claim"


@SQLITE_ONLY
def test_405_has_six_periods(drive: Driver) -> None:
    cid = drive.new("405", "normal", "monitoring")
    for n in range(1, 7):
        drive.report(cid)
        v = drive.step(cid, "claim_monitoring")
        assert (v.periods_paid, v.periods_total) == (n - 1, 6)
        last, wrong = ("complete", "pay_monitoring") if n == 6 else ("pay_monitoring", "complete")
        with pytest.raises(GuardFailed) as e:
            drive.step(cid, wrong)
        assert ("最終期" if n == 6 else "モニタリング期間が残っています") in e.value.message
        v = drive.step(cid, last)
    assert v.stage == "completed" and v.periods_paid == 6


@SQLITE_ONLY
@pytest.mark.parametrize(("interim", "periods"), [(False, 1), (True, 2)])
def test_early_has_one_or_two_periods(drive: Driver, interim: bool, periods: int) -> None:
    cid = drive.new("early", "normal", "monitoring", interim_monitoring=interim)
    assert drive.k.show("tanaka", cid).periods_total == periods
    for n in range(1, periods + 1):
        drive.report(cid)
        drive.step(cid, "claim_monitoring")
        if n < periods:
            with pytest.raises(GuardFailed, match="あと1期"):
                drive.step(cid, "complete")
            drive.step(cid, "pay_monitoring")
        else:
            with pytest.raises(GuardFailed, match=f"第{n}期が最終期です"):
                drive.step(cid, "pay_monitoring")
    assert drive.step(cid, "complete").stage == "completed"


@SQLITE_ONLY
def test_reason_required_for_every_exit(drive: Driver) -> None:
    """reject, revise, withdraw and discontinue: refused without a reason (blank counts)."""
    road = [("application", "reject"), ("bank_negotiation", "revise"),
            ("bank_negotiation", "withdraw"), ("monitoring", "discontinue")]  # fmt: skip
    cid = drive.open("405", "normal")
    for stage, trigger in road:
        drive.to(cid, stage)
        before = state(drive.k, "tanaka", cid)
        for reason in (None, "", "   "):
            with pytest.raises(GuardFailed) as e:
                drive.k.advance("tanaka", cid, trigger, reason=reason)
            assert e.value.reasons == ["理由 (--reason) を記載してください"]
        assert state(drive.k, "tanaka", cid) == before
    assert drive.step(cid, "discontinue", reason="廃業").stage == "discontinued"


@SQLITE_ONLY
def test_on_in_the_future_or_before_the_last_event_is_refused(world: World, drive: Driver) -> None:
    cid = drive.open("405", "normal", on=date(2026, 5, 1))
    drive.k.record_certificate("tanaka", cid, date(2026, 4, 15))
    drive.prepare_apply(cid)
    today = drive.k.today()
    before = state(drive.k, "tanaka", cid)
    with pytest.raises(InvalidInput, match="未来の日付"):
        drive.k.advance("tanaka", cid, "apply", on=today + timedelta(days=1))
    with pytest.raises(InvalidInput, match="最後の記録日 2026-05-01 より前"):
        drive.k.advance("tanaka", cid, "apply", on=date(2026, 4, 30))
    assert state(drive.k, "tanaka", cid) == before
    v = drive.k.advance("tanaka", cid, "apply", on=date(2026, 5, 1))  # the same day is fine
    assert v.applied_on == date(2026, 5, 1)
    with pytest.raises(InvalidInput, match="未来の日付"):
        drive.open("405", "normal", on=today + timedelta(days=1))
    with pytest.raises(InvalidInput, match="未来の日付"):
        drive.k.record_certificate("tanaka", cid, today + timedelta(days=1))


@SQLITE_ONLY
def test_trigger_not_available_from_stage(drive: Driver) -> None:
    cid = drive.open("early", "normal")
    with pytest.raises(NotAllowed) as e:
        drive.k.advance("tanaka", cid, "complete")
    assert e.value.exit_code == 5
    assert "できるのは apply, withdraw, discontinue" in e.value.message
    with pytest.raises(InvalidInput, match="不明なトリガー 'start_planning'"):
        drive.k.advance("tanaka", cid, "start_planning")  # no DD stage in early


# ---------------------------------------------------------------- dates and frozen estimates


@SQLITE_ONLY
def test_transition_cannot_be_dated_before_the_fact_it_needs(world: World, drive: Driver) -> None:
    """submit_plan may not be dated before the plan it needs (a dated fact is an event)."""
    cid = drive.new("405", "normal", "planning")
    planned = drive.k.today()
    set_today(world, planned + timedelta(days=30))
    drive.k.record_plan("tanaka", cid, on=planned + timedelta(days=20))
    before = state(drive.k, "tanaka", cid)
    with pytest.raises(InvalidInput, match="最後の記録日"):
        drive.k.advance("tanaka", cid, "submit_plan", on=planned + timedelta(days=5))
    assert state(drive.k, "tanaka", cid) == before
    v = drive.k.advance("tanaka", cid, "submit_plan", on=planned + timedelta(days=20))
    assert v.stage == "bank_negotiation"


@SQLITE_ONLY
def test_estimates_are_fixed_by_apply(drive: Driver) -> None:
    """After apply, estimates cannot change: the half rule checked there cannot be bypassed."""
    cid = drive.new("405", "normal", "application")
    before = state(drive.k, "tanaka", cid)
    with pytest.raises(NotAllowed):
        drive.k.record_estimate("tanaka", cid, "monitoring", 9_000_000)
    assert state(drive.k, "tanaka", cid) == before
    est = {c.category: c.estimate for c in drive.k.subsidy("tanaka", cid).categories}
    assert 2 * (est["monitoring"] or 0) <= sum(v or 0 for v in est.values())
