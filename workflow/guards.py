"""The conditions each trigger needs, as pure functions over a snapshot of the case's facts.

Guard ids and their labels come from `states/data/programs.toml`; each function here returns
every failed condition of its guard as a Japanese sentence, so an officer sees the whole list
of what is missing at once, not the first problem only.
"""

from __future__ import annotations

import calendar as _stdcal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from states.eligibility import CompanyFacts, eligibility_problems
from states.programs import Category
from workflow.reuse import ReuseDecision


@dataclass(frozen=True)
class LenderFact:
    name: str
    consented_on: date | None


@dataclass(frozen=True)
class Facts:
    program: str
    track: str
    stage: str
    on: date
    reason: str | None
    actor_role: str
    company: CompanyFacts
    advisor: str
    lenders: tuple[LenderFact, ...]
    certificate_issued: date | None
    certificate_max_age_months: int
    categories: tuple[Category, ...]
    estimates: Mapping[str, int]
    actuals: Mapping[str, int]
    plan_recorded: date | None
    reports: frozenset[int]
    periods_paid: int
    periods_total: int
    reuse: ReuseDecision | None = None
    deadline: date | None = None  # 405: the application's validity; early: the claim's

    @property
    def current_period(self) -> int:
        return self.periods_paid + 1


def months_before(d: date, months: int) -> date:
    total = d.year * 12 + (d.month - 1) - months
    y, m = divmod(total, 12)
    return date(y, m + 1, min(d.day, _stdcal.monthrange(y, m + 1)[1]))


def _eligible(f: Facts) -> list[str]:
    return eligibility_problems(f.company)


def _advisor(f: Facts) -> list[str]:
    return [] if f.advisor.strip() else ["認定経営革新等支援機関が未登録です (case open --advisor)"]


def _lenders_named(f: Facts) -> list[str]:
    return [] if f.lenders else ["取引金融機関が未登録です (kaizen case lender CASE NAME)"]


def _certificate(f: Facts) -> list[str]:
    issued = f.certificate_issued
    if issued is None:
        return [
            "履歴事項全部証明書の発行日が未登録です (kaizen case certificate CASE --issued DATE)"
        ]
    oldest = months_before(f.on, f.certificate_max_age_months)
    if issued > f.on:
        return [f"履歴事項全部証明書の発行日 {issued} が申請日 {f.on} より後です"]
    if issued < oldest:
        return [
            f"履歴事項全部証明書が古すぎます: 発行日 {issued} は申請日 {f.on} の"
            f"{f.certificate_max_age_months}か月前 ({oldest}) より前です"
        ]
    return []


def _estimates(f: Facts) -> list[str]:
    missing = [c.label for c in f.categories if c.id not in f.estimates and not c.optional]
    return (
        [f"見積額が未登録の費用区分: {'、'.join(missing)} (kaizen case estimate)"]
        if missing
        else []
    )


def _monitoring_half(f: Facts) -> list[str]:
    plan = sum(f.estimates.get(c.id, 0) for c in f.categories if c.phase == "plan")
    mon = sum(f.estimates.get(c.id, 0) for c in f.categories if c.phase == "monitoring")
    if 2 * mon > plan + mon:
        return [
            f"伴走支援費用の見積額 {mon:,}円が (計画策定 {plan:,}円 + 伴走支援 {mon:,}円) の"
            "2分の1を超えています"
        ]
    return []


def _reuse(f: Facts) -> list[str]:
    return list(f.reuse.problems) if f.reuse is not None else []


def _reuse_exception(f: Facts) -> list[str]:
    if f.reuse is not None and f.reuse.exception and f.actor_role not in ("supervisor",):
        return ["再利用の例外案件です: 受付は当協議会の統括責任者 (supervisor) が行ってください"]
    return _reuse(f)


def _plan(f: Facts) -> list[str]:
    return [] if f.plan_recorded else ["計画が未登録です (kaizen case plan CASE)"]


def _all_consented(f: Facts) -> list[str]:
    if not f.lenders:
        return ["取引金融機関が未登録です"]
    missing = [x.name for x in f.lenders if x.consented_on is None]
    return [f"同意書が未提出の金融機関: {'、'.join(missing)}"] if missing else []


def _receipt(f: Facts) -> list[str]:
    if not f.lenders:
        return ["取引金融機関が未登録です"]
    missing = [x.name for x in f.lenders if x.consented_on is None]
    return (
        [f"受領書が未登録の金融機関: {'、'.join(missing)} (kaizen case consent)"] if missing else []
    )


def _fees(f: Facts) -> list[str]:
    missing = [
        c.label
        for c in f.categories
        if c.phase == "plan" and c.id in f.estimates and c.id not in f.actuals
    ]
    return (
        [f"支払額 (実績) が未登録の費用区分: {'、'.join(missing)} (kaizen case fee)"]
        if missing
        else []
    )


def _report(f: Facts) -> list[str]:
    if f.current_period in f.reports:
        return []
    return [f"第{f.current_period}期のモニタリング報告が未登録です (kaizen case report CASE)"]


def _periods_remaining(f: Facts) -> list[str]:
    if f.current_period < f.periods_total:
        return []
    return [f"第{f.current_period}期が最終期です: complete を使ってください"]


def _no_periods_remaining(f: Facts) -> list[str]:
    if f.current_period >= f.periods_total:
        return []
    left = f.periods_total - f.current_period
    return [f"モニタリング期間が残っています (あと{left}期): pay_monitoring を使ってください"]


EXTEND = "kaizen case extend CASE --until DATE --reason 理由"


def _application_valid(f: Facts) -> list[str]:
    if f.deadline is None or f.on <= f.deadline:
        return []
    return [
        f"利用申請の有効期限 {f.deadline} を過ぎて失効しています: "
        f"統括責任者が延長するまで進められません ({EXTEND})"
    ]


def _claim_within_deadline(f: Facts) -> list[str]:
    if f.deadline is None or f.on <= f.deadline:
        return []
    return [
        f"支払申請の期限 {f.deadline} (利用申請から1年) を過ぎています: "
        f"統括責任者が例外として期限を記録してください ({EXTEND})"
    ]


def _reason(f: Facts) -> list[str]:
    return [] if f.reason and f.reason.strip() else ["理由 (--reason) を記載してください"]


GUARDS: dict[str, Callable[[Facts], list[str]]] = {
    "eligible": _eligible,
    "advisor_named": _advisor,
    "lenders_named": _lenders_named,
    "certificate_fresh": _certificate,
    "estimates_recorded": _estimates,
    "monitoring_estimate_half": _monitoring_half,
    "reuse_allowed": _reuse,
    "reuse_exception_approved": _reuse_exception,
    "plan_recorded": _plan,
    "all_lenders_consented": _all_consented,
    "lender_receipt": _receipt,
    "fees_recorded": _fees,
    "monitoring_report": _report,
    "periods_remaining": _periods_remaining,
    "no_periods_remaining": _no_periods_remaining,
    "reason_given": _reason,
    "application_valid": _application_valid,
    "claim_within_deadline": _claim_within_deadline,
}


def failures(guard_ids: tuple[str, ...], facts: Facts) -> list[str]:
    out: list[str] = []
    for g in guard_ids:
        out += GUARDS[g](facts)
    return out
