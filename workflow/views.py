"""Plain results the use cases return, ready for the CLI to render or dump as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class MilestoneView:
    key: str
    label: str
    stage: str
    stage_label: str
    due: date
    done: bool
    done_on: date | None
    overdue: bool
    days_late: int  # business days past due: still open (overdue), or done late (kept)


@dataclass(frozen=True)
class EventView:
    seq: int
    kind: str
    trigger: str
    from_stage: str | None
    to_stage: str
    on: date
    recorded_at: datetime
    actor: str
    reason: str | None
    detail: dict[str, Any] | None
    voided_by: int | None = None  # the correction that voided this fact (or reverted this move)


@dataclass(frozen=True)
class LenderView:
    name: str
    consented_on: date | None


@dataclass(frozen=True)
class SubsidyLine:
    category: str
    label: str
    phase: str
    estimate: int | None
    actual: int | None
    cap: int
    subsidy: int


@dataclass(frozen=True)
class SubsidyView:
    case: str
    rule_version: str | None
    categories: list[SubsidyLine]
    total: int
    plan_share: int
    monitoring_share: int
    paid: int
    withheld: int  # the plan-cost half still to be paid with the first monitoring payment
    payment_room: int | None  # R6 405 re-use: what the council may still pay the firm
    room_cut: int  # the subsidy the re-use room leaves unpaid (in none of the figures above)
    payments: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        return d


@dataclass(frozen=True)
class CaseView:
    id: str
    program: str
    program_label: str
    track: str
    track_label: str
    stage: str
    stage_label: str
    council: str
    council_name: str
    company: str
    company_name: str
    officer: str
    advisor: str
    rule_version: str | None
    affected: list[str]
    affected_note: str | None  # the words of an `other` cause
    interim_monitoring: bool
    guarantee_release: bool
    reuse_exception: bool
    certificate_issued: date | None
    plan_recorded: date | None
    opened_on: date
    applied_on: date | None
    accepted_on: date | None
    valid_until: date | None
    periods_paid: int
    periods_total: int
    report_from: date | None  # in monitoring: the first day the current period's report fits
    version: int
    triggers: list[str]
    missing: dict[str, list[str]]  # trigger -> conditions not yet met
    lenders: list[LenderView]
    milestones: list[MilestoneView]
    events: list[EventView]

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["events"] = [
            {
                "seq": e.seq,
                "kind": e.kind,
                "trigger": e.trigger,
                "from": e.from_stage,
                "to": e.to_stage,
                "on": e.on,
                "at": e.recorded_at,
                "actor": e.actor,
                "reason": e.reason,
                "detail": e.detail,
                "voided_by": e.voided_by,
            }
            for e in self.events
        ]
        return d


@dataclass(frozen=True)
class CaseRow:
    id: str
    program: str
    track: str
    stage: str
    stage_label: str
    council: str
    company: str
    company_name: str
    officer: str
    next_due: date | None
    overdue: int
    lapsed: bool = False  # 失効: a 405 application past its validity, not yet extended
    advisor: str = ""  # 認定経営革新等支援機関


@dataclass(frozen=True)
class Actor:
    id: str
    name: str
    role: str
    council: str | None
