"""Fact decisions: what recording a fact (estimate, fee, lender, consent, certificate, plan,
report, validity extension) does to a case, as pure functions of a snapshot.

Each command is a small frozen dataclass; `decide_fact(snapshot, actor, command, env)` checks
the stage window (rule data: `[facts]` in states/data/programs.toml), the fact's own rules,
and returns a `Decision` with one `fact` event, the fact's rows and the replanned milestones.
The importer applies the same rules through `apply_fact` without writing a fact event (an
imported history has one `import` event), so a fact's rule lives here only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from states.programs import catalog
from states.timeline import date_plus_months
from workflow import access
from workflow.decide import (
    Env,
    case_rules,
    deadline,
    definition,
    event,
    finish,
    monitoring_period,
)
from workflow.errors import Conflict, InvalidInput, NotAllowed, NotFound
from workflow.snapshot import (
    COSTS,
    LENDERS,
    REPORTS,
    ChangeSet,
    CostState,
    Decision,
    LenderState,
    Needs,
    Snapshot,
)
from workflow.views import Actor


@dataclass(frozen=True)
class Estimate:
    category: str
    amount: int
    on: date | None = None  # the date it was filed (None: recorded today)


@dataclass(frozen=True)
class Fee:
    category: str
    amount: int
    paid_on: date


@dataclass(frozen=True)
class AddLender:
    name: str
    on: date | None = None


@dataclass(frozen=True)
class Consent:
    lender: str
    on: date


@dataclass(frozen=True)
class Certificate:
    issued: date
    on: date | None = None


@dataclass(frozen=True)
class Plan:
    on: date


@dataclass(frozen=True)
class Report:
    on: date


@dataclass(frozen=True)
class Extend:
    until: date
    reason: str


EXTEND_MONTHS_MAX = 24  # an extension or exception reaches at most this far past the deadline

FactCommand = Estimate | Fee | AddLender | Consent | Certificate | Plan | Report | Extend

# The fact id (event trigger, `[facts]` key) and what the loader must read for it.
FACT_IDS: dict[type, tuple[str, Needs]] = {
    Estimate: ("estimate", frozenset({COSTS})),
    Fee: ("fee", frozenset({COSTS})),
    AddLender: ("lender", frozenset({LENDERS})),
    Consent: ("consent", frozenset({LENDERS})),
    Certificate: ("certificate", frozenset()),
    Plan: ("plan", frozenset()),
    Report: ("report", frozenset({REPORTS})),
    Extend: ("extend", frozenset()),
}


def fact_id(cmd: FactCommand) -> str:
    return FACT_IDS[type(cmd)][0]


def needs_of(cmd: FactCommand) -> Needs:
    return FACT_IDS[type(cmd)][1]


def effective_on(cmd: FactCommand) -> date | None:
    """The date a fact takes effect on (None: recorded today, without dating the case)."""
    if isinstance(cmd, Fee):
        return cmd.paid_on
    if isinstance(cmd, Consent | Plan | Report | Estimate | AddLender | Certificate):
        return cmd.on
    return None


def decide_fact(
    snap: Snapshot, actor: Actor, cmd: FactCommand, env: Env, *, replan: bool = True
) -> Decision:
    """Record one fact with its event; every refusal raises before anything is decided."""
    fid = fact_id(cmd)
    check_window(snap, fid)
    when = effective_on(cmd)
    if when is not None and when < snap.case.opened_on:
        raise InvalidInput(f"日付 (--on) {when} は案件の相談日 {snap.case.opened_on} より前です")
    after, changes, detail = apply_fact(snap, actor, cmd, env)
    on = effective_on(cmd)
    case = after.case
    if on is not None and on > case.last_event_on:
        # A transition may not be dated before the facts it relies on.
        case = replace(case, last_event_on=on)
        after = replace(after, case=case)
    changes.case = case
    changes.events.append(
        event(
            snap,
            kind="fact",
            trigger=fid,
            frm=case.stage,
            to=case.stage,
            on=on or env.today,
            actor=actor.id,
            detail=detail,
        )
    )
    return finish(after, changes, None, env, replanning=replan)


def check_window(snap: Snapshot, fid: str, phase: str | None = None) -> None:
    rule = catalog().facts[fid]
    window = rule.window_for(phase)
    stage = snap.case.stage
    if window is None or stage in window.stages:
        return
    now = catalog().stage_label(stage)
    if window.refusal:
        raise NotAllowed(f"{window.refusal} (現在: {now})")
    labels = "・".join(catalog().stage_label(x) for x in window.stages)
    raise NotAllowed(f"{fid}は {labels} の段階でのみ登録できます (現在: {now})")


def category(snap: Snapshot, category_id: str) -> str:
    d = definition(snap.case)
    ids = [c.id for c in d.categories_for(snap.case.options)]
    if category_id not in ids:
        raise InvalidInput(
            f"費用区分 '{category_id}' はこの案件 ({d.key}) にありません: {', '.join(ids)}"
        )
    return category_id


def apply_fact(
    snap: Snapshot, actor: Actor, cmd: FactCommand, env: Env, *, windows: bool = True
) -> tuple[Snapshot, ChangeSet, dict[str, Any]]:
    """The fact's own rules and rows, without its event: shared with the importer, which
    sets a file's facts whatever the stage (`windows=False`: a fee's phase window unchecked;
    the fact's own stage window is `check_window`, called by `decide_fact`)."""
    case = snap.case
    ch = ChangeSet(case.id, case, case.version)
    if isinstance(cmd, Estimate):
        cat = category(snap, cmd.category)
        cost = snap.cost_map.get(cat) or CostState(cat, None, None, None)
        new = replace(cost, estimate=cmd.amount)
        ch.costs[cat] = new
        return _with_cost(snap, new), ch, {"category": cat, "estimate": cmd.amount}
    if isinstance(cmd, Fee):
        return _fee(snap, ch, cmd, windows)
    if isinstance(cmd, AddLender):
        if any(x.name == cmd.name for x in snap.lender_list):
            raise Conflict(f"金融機関 {cmd.name} は既に登録されています")
        lender = LenderState(cmd.name, None)
        ch.lenders[cmd.name] = lender
        return replace(snap, lenders=(*snap.lender_list, lender)), ch, {"lender": cmd.name}
    if isinstance(cmd, Consent):
        return _consent(snap, ch, cmd)
    if isinstance(cmd, Certificate):
        after = replace(snap, case=replace(case, certificate_issued=cmd.issued))
        ch.case = after.case
        return after, ch, {"issued": cmd.issued}
    if isinstance(cmd, Plan):
        if case.accepted_on and cmd.on < case.accepted_on:
            raise InvalidInput(f"計画の日付 {cmd.on} は受付日 {case.accepted_on} より前です")
        after = replace(snap, case=replace(case, plan_recorded=cmd.on))
        ch.case = after.case
        return after, ch, {"plan": cmd.on}
    if isinstance(cmd, Report):
        return _report(snap, ch, cmd, env)
    return _extend(snap, ch, actor, cmd, env)


def _with_cost(snap: Snapshot, cost: CostState) -> Snapshot:
    return replace(snap, costs={**snap.cost_map, cost.category: cost})


def _fee(
    snap: Snapshot, ch: ChangeSet, cmd: Fee, windows: bool
) -> tuple[Snapshot, ChangeSet, dict[str, Any]]:
    case = snap.case
    cat = category(snap, cmd.category)
    if case.accepted_on is None:
        raise InvalidInput("受付 (accept) 前の費用は補助の対象外です (事前着手不可)")
    if cmd.paid_on < case.accepted_on:
        raise InvalidInput(
            f"支払日 {cmd.paid_on} は受付日 {case.accepted_on} より前です: 受付前の作業は補助の対象外です (事前着手不可)"
        )
    phase = definition(case).category(cat).phase
    if windows:
        check_window(snap, "fee", phase)
    cost = snap.cost_map.get(cat) or CostState(cat, None, None, None)
    if cost.estimate is None:
        raise InvalidInput(f"費用区分 {cat} の見積額が未登録です")
    if phase == "monitoring" and cost.actual is not None and cmd.amount < cost.actual:
        # Monitoring fees are cumulative and paid period by period: lowering them after a
        # payment would leave the council having paid more than 2/3.
        raise InvalidInput(
            f"伴走支援費用は累計額で登録します: 登録済みの {cost.actual:,}円より少なくできません"
        )
    new = replace(cost, actual=cmd.amount, paid_on=cmd.paid_on)
    ch.costs[cat] = new
    detail = {"category": cat, "actual": cmd.amount, "paid_on": cmd.paid_on}
    return _with_cost(snap, new), ch, detail


def _consent(
    snap: Snapshot, ch: ChangeSet, cmd: Consent
) -> tuple[Snapshot, ChangeSet, dict[str, Any]]:
    case = snap.case
    lenders = snap.lender_list
    if not any(x.name == cmd.lender for x in lenders):
        names = "、".join(x.name for x in lenders) or "なし"
        raise NotFound(f"金融機関 {cmd.lender} はこの案件に登録されていません (登録済: {names})")
    if case.applied_on and cmd.on < case.applied_on:
        raise InvalidInput(f"同意日 {cmd.on} は利用申請日 {case.applied_on} より前です")
    new = LenderState(cmd.lender, cmd.on)
    ch.lenders[cmd.lender] = new
    after = replace(snap, lenders=tuple(new if x.name == cmd.lender else x for x in lenders))
    doc = "受領書" if case.program == "early" else "同意書"
    return after, ch, {"lender": cmd.lender, "document": doc, "on": cmd.on}


def _report(
    snap: Snapshot, ch: ChangeSet, cmd: Report, env: Env
) -> tuple[Snapshot, ChangeSet, dict[str, Any]]:
    case = snap.case
    period = case.periods_paid + 1
    if case.decided_on and cmd.on < case.decided_on:
        raise InvalidInput(f"報告日 {cmd.on} は支払決定日 {case.decided_on} より前です")
    p = monitoring_period(snap, case_rules(case, env), period)
    if p is not None and cmd.on <= p.last_day:
        # A report covers a period that has ended (rules.md §5): earlier, the withheld half
        # of the plan subsidy would be paid before the first real report.
        raise InvalidInput(
            f"{p.short}のモニタリング期間 ({p.end[0]}年{p.end[1]}月まで) は {p.last_day} に終わります: "
            f"報告は {p.last_day + timedelta(days=1)} 以降に登録してください"
        )
    if period in snap.report_map:
        raise Conflict(f"第{period}期のモニタリング報告は既に登録されています")
    ch.reports[period] = cmd.on
    after = replace(snap, reports={**snap.report_map, period: cmd.on})
    return after, ch, {"period": period, "reported_on": cmd.on}


def _extend(
    snap: Snapshot, ch: ChangeSet, actor: Actor, cmd: Extend, env: Env
) -> tuple[Snapshot, ChangeSet, dict[str, Any]]:
    case = snap.case
    what = "利用申請の有効期限の延長" if case.program == "405" else "支払申請の期限の例外"
    access.require_supervisor(actor, case.council, what)
    if case.program == "405" and case.accepted_on is None:
        raise NotAllowed("有効期限の延長は受付済みの 405 案件だけです")
    if case.program == "early" and (case.applied_on is None or case.decided_on is not None):
        raise NotAllowed("支払申請の期限の例外は、利用申請後・支払決定前の早期案件だけです")
    current = deadline(case, env.version(case.rule_version or ""), env.calendar)
    assert current is not None
    if cmd.until <= current:
        raise InvalidInput(f"延長後の期限 {cmd.until} は現在の期限 {current} より後にしてください")
    longest = date_plus_months(current, EXTEND_MONTHS_MAX, env.calendar)
    if cmd.until > longest:
        raise InvalidInput(
            f"延長後の期限 {cmd.until} は現在の期限 {current} から{EXTEND_MONTHS_MAX}か月 ({longest}) までです"
        )
    after = replace(snap, case=replace(case, valid_until=cmd.until))
    ch.case = after.case
    return after, ch, {"valid_until": cmd.until, "reason": cmd.reason}
