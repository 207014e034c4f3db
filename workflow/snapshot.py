"""The plain state the decision core reads and the change sets it returns (no database here).

A `Snapshot` is one case as the core sees it: its row, its company, the facts its guards read,
its transitions so far and its milestones. Only what a command needs is loaded (`Needs`); a
field that was not loaded is `None`, and reading it through `need()` fails loudly, so a loader
that forgets something is caught by the tests instead of deciding on empty data.

A `ChangeSet` is everything one decision writes: the case row (version-checked), event rows,
upserts of lenders, costs and milestones, inserts of reports and payments, milestone deletions
and reminder cancellations. Change sets of one case compose (`merge`), so the importer and the
demo replay a whole history in memory and write it once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TypeVar

from workflow.reuse import Use

T = TypeVar("T")

# What a loader can be asked for, beyond the case row, its company and its history.
LENDERS, COSTS, REPORTS, PAYMENTS, USES = "lenders", "costs", "reports", "payments", "uses"
HISTORY = "history"  # every event row of the case (corrections read it)
Needs = frozenset[str]
EVERYTHING: Needs = frozenset({LENDERS, COSTS, REPORTS, PAYMENTS, USES})


@dataclass(frozen=True)
class CaseState:
    """A `cases` row, minus what only the writer sets (updated_at)."""

    id: str
    program: str
    track: str
    council: str
    company: str
    officer: str
    advisor: str
    stage: str
    rule_version: str | None
    affected: tuple[str, ...]
    affected_note: str | None  # the words of an `other` cause
    interim_monitoring: bool
    guarantee_release: bool
    reuse_reason: str | None
    reuse_exception: bool
    certificate_issued: date | None
    plan_recorded: date | None
    opened_on: date
    applied_on: date | None
    accepted_on: date | None
    agreed_on: date | None
    decided_on: date | None
    valid_until: date | None
    last_event_on: date
    periods_paid: int
    version: int

    @property
    def options(self) -> frozenset[str]:
        """The case options (`states.programs.CASE_OPTIONS`) its categories depend on."""
        opts = set()
        if self.guarantee_release:
            opts.add("guarantee_release")
        if self.interim_monitoring:
            opts.add("interim_monitoring")
        return frozenset(opts)


@dataclass(frozen=True)
class CompanyState:
    key: str
    name: str
    fiscal_year_end: int
    industry: str
    capital: int | None
    employees: int | None
    legal_form: str


@dataclass(frozen=True)
class LenderState:
    name: str
    consented_on: date | None


@dataclass(frozen=True)
class CostState:
    category: str
    estimate: int | None
    actual: int | None
    paid_on: date | None


@dataclass(frozen=True)
class PaymentState:
    kind: str  # plan_first, plan_second, monitoring
    period: int | None
    amount: int
    paid_on: date
    reversal: bool = False  # a negative row undoing a payment of a reverted stage change


@dataclass(frozen=True)
class MilestoneState:
    key: str
    label: str
    stage: str
    due: date
    done_on: date | None
    reminded: bool = False  # a reminder of it was delivered: it is history, never deleted


@dataclass(frozen=True)
class EventRow:
    seq: int
    kind: str  # transition, fact, import, correction
    trigger: str
    from_stage: str | None
    to_stage: str
    on: date
    actor: str
    reason: str | None
    detail: str | None  # JSON
    at: datetime | None = None  # when recorded; None: the writer's instant (a replay stamps it)


@dataclass(frozen=True)
class Snapshot:
    case: CaseState
    company: CompanyState
    moves: tuple[tuple[str, date], ...]  # (trigger, date) of the transitions so far
    milestones: Mapping[str, MilestoneState]
    next_seq: int
    lenders: tuple[LenderState, ...] | None = None
    costs: Mapping[str, CostState] | None = None
    reports: Mapping[int, date] | None = None
    payments: tuple[PaymentState, ...] | None = None
    uses: tuple[Use, ...] | None = None  # the company's other uses (this case excluded)
    history: tuple[EventRow, ...] | None = None  # every event, in order (corrections)

    def need(self, what: str, value: T | None) -> T:
        if value is None:
            raise AssertionError(f"snapshot of {self.case.id} was loaded without {what}")
        return value

    @property
    def lender_list(self) -> tuple[LenderState, ...]:
        return self.need(LENDERS, self.lenders)

    @property
    def cost_map(self) -> Mapping[str, CostState]:
        return self.need(COSTS, self.costs)

    @property
    def report_map(self) -> Mapping[int, date]:
        return self.need(REPORTS, self.reports)

    @property
    def payment_list(self) -> tuple[PaymentState, ...]:
        return self.need(PAYMENTS, self.payments)

    @property
    def use_list(self) -> tuple[Use, ...]:
        return self.need(USES, self.uses)

    @property
    def event_list(self) -> tuple[EventRow, ...]:
        return self.need(HISTORY, self.history)


@dataclass
class ChangeSet:
    """What one decision (or a replayed history) writes for one case."""

    case_id: str
    case: CaseState  # the row after the change
    expected_version: int | None  # None: a new case (INSERT)
    events: list[EventRow] = field(default_factory=list)
    lenders: dict[str, LenderState] = field(default_factory=dict)  # upsert by name
    costs: dict[str, CostState] = field(default_factory=dict)  # upsert by category
    reports: dict[int, date] = field(default_factory=dict)  # insert
    payments: list[PaymentState] = field(default_factory=list)  # insert
    milestones: dict[str, MilestoneState] = field(default_factory=dict)  # upsert by key
    drop_milestones: set[str] = field(default_factory=set)  # delete (and their reminders)
    cancel_reminders: set[str] = field(default_factory=set)  # pending reminders of these keys
    drop_lenders: set[str] = field(default_factory=set)  # delete by name (a voided lender)
    drop_reports: set[int] = field(default_factory=set)  # delete by period (a voided report)

    def merge(self, later: ChangeSet) -> ChangeSet:
        """This change followed by `later` (same case), as one change."""
        assert later.case_id == self.case_id
        return ChangeSet(
            case_id=self.case_id,
            case=later.case,
            expected_version=self.expected_version,
            events=[*self.events, *later.events],
            lenders={
                **{k: v for k, v in self.lenders.items() if k not in later.drop_lenders},
                **later.lenders,
            },
            costs={**self.costs, **later.costs},
            reports={
                **{k: v for k, v in self.reports.items() if k not in later.drop_reports},
                **later.reports,
            },
            payments=[*self.payments, *later.payments],
            milestones={
                **{k: v for k, v in self.milestones.items() if k not in later.drop_milestones},
                **later.milestones,
            },
            drop_milestones=(self.drop_milestones - set(later.milestones)) | later.drop_milestones,
            cancel_reminders=self.cancel_reminders | later.cancel_reminders,
            drop_lenders=(self.drop_lenders - set(later.lenders)) | later.drop_lenders,
            drop_reports=(self.drop_reports - set(later.reports)) | later.drop_reports,
        )


@dataclass(frozen=True)
class Decision:
    """A decided change and the snapshot as it stands after it."""

    changes: ChangeSet
    after: Snapshot


def evolve(snap: Snapshot, **case_fields: object) -> Snapshot:
    """The snapshot with some case fields replaced."""
    return replace(snap, case=replace(snap.case, **case_fields))  # type: ignore[arg-type]
