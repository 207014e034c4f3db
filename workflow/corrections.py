"""Correction decisions: edit a case, void a recorded fact, revert a stage change, edit a
company — as pure functions of a snapshot, like every other decision.

A correction is an event (kind `correction`), never a deletion: the log only grows. Its detail
says what it changed (`changes`: field → [old, new]), and which event it voids (`voids`) or
reverts (`reverts`). Every derived row is recomputed from what stands after the fix: a voided
fact's value falls back to the last standing event of the same fact (or to nothing), a
reverted transition's dates and payments are undone (payments by negative rows of the same
kind), and the milestones are replanned from scratch (`replan_fresh`: a milestone the plan no
longer marks done is reopened).

Who may correct (issue 12): an officer of the case's council; a supervisor when the case has
reached 支払申請 (or for a revert); a correction that would leave a later stage without its
ground (voiding a consent after `agree`) is refused, and the officer is told to revert first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from states.programs import catalog
from workflow import access
from workflow.decide import Env, case_rules, check_opening, definition, event, finish, plan
from workflow.errors import Conflict, InvalidInput, NotAllowed, NotFound
from workflow.snapshot import (
    CaseState,
    ChangeSet,
    CompanyState,
    CostState,
    Decision,
    EventRow,
    LenderState,
    MilestoneState,
    PaymentState,
    Snapshot,
)
from workflow.views import Actor

# The facts `kaizen case void` undoes (an `extend` is a supervisor's decision, not a typo).
VOIDABLE = ("estimate", "fee", "lender", "consent", "certificate", "plan", "report")
# Company fields that decide eligibility (the SME test): once a case of the company is
# accepted, only a supervisor changes them.
ELIGIBILITY = ("industry", "capital", "employees", "legal_form")
COMPANY_FIELDS = ("name", "fiscal_year_end", *ELIGIBILITY)
REVERT_FIRST = "先に 'kaizen case revert' で段階を戻してください"


@dataclass(frozen=True)
class CaseEdit:
    """The case fields to change (None: unchanged)."""

    advisor: str | None = None
    officer: Actor | None = None  # the officer now in charge (looked up by the caller)
    interim_monitoring: bool | None = None
    guarantee_release: bool | None = None
    affected: tuple[tuple[str, ...], str | None] | None = None  # causes and `other` words


# ---------------------------------------------------------------- who may correct


def reached_payment_claim(case: CaseState) -> bool:
    return case.agreed_on is not None


def check_corrector(snap: Snapshot, actor: Actor, what: str) -> None:
    """Own council; a supervisor once the case has reached 支払申請."""
    access.require_council(actor, snap.case.council)
    if reached_payment_claim(snap.case):
        access.require_supervisor(actor, snap.case.council, f"支払申請以降の案件の{what}")


def _reason(reason: str | None) -> str:
    if not reason:
        raise InvalidInput("訂正には理由 (--reason) が必要です")
    return reason


def _correction(
    snap: Snapshot,
    changes: ChangeSet,
    after: Snapshot,
    actor: Actor,
    trigger: str,
    reason: str,
    detail: Mapping[str, Any],
    env: Env,
    *,
    to_stage: str | None = None,
) -> Decision:
    changes.case = after.case
    changes.events.append(
        event(
            snap,
            kind="correction",
            trigger=trigger,
            frm=snap.case.stage,
            to=to_stage or snap.case.stage,
            on=env.today,
            actor=actor.id,
            reason=reason,
            detail=detail,
        )
    )
    d = finish(after, changes, None, env, replanning=False)
    return Decision(d.changes, replan_fresh(d.after, d.changes, env, drop_done=trigger == "revert"))


def _show(v: object) -> object:
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, tuple):
        return ",".join(str(x) for x in v)
    return v


# ---------------------------------------------------------------- case edit


def decide_edit(
    snap: Snapshot, actor: Actor, edit: CaseEdit, reason: str | None, env: Env
) -> Decision:
    """Change the advisor, the officer in charge, the case options or the affected causes."""
    why = _reason(reason)
    check_corrector(snap, actor, "訂正")
    case = snap.case
    new = case
    if edit.advisor is not None:
        new = replace(new, advisor=edit.advisor)
    if edit.officer is not None:
        o = edit.officer
        if o.council != case.council or o.role == "admin":
            raise InvalidInput(
                f"担当者 {o.id} は協議会 {case.council} の担当者・統括責任者ではありません"
            )
        new = replace(new, officer=o.id)
    if edit.interim_monitoring is not None or edit.guarantee_release is not None:
        new = replace(
            new,
            interim_monitoring=case.interim_monitoring
            if edit.interim_monitoring is None
            else edit.interim_monitoring,
            guarantee_release=case.guarantee_release
            if edit.guarantee_release is None
            else edit.guarantee_release,
        )
        check_opening(
            case.program,
            case.track,
            case.opened_on,
            interim_monitoring=new.interim_monitoring,
            guarantee_release=new.guarantee_release,
        )
        if case.decided_on is not None and new.options != case.options:
            raise NotAllowed(f"支払決定後は費用区分の選択を変えられません: {REVERT_FIRST}")
    if edit.affected is not None:
        causes, note = edit.affected
        new = replace(new, affected=causes, affected_note=note)
        if case.accepted_on is not None and (causes, note) != (case.affected, case.affected_note):
            access.require_supervisor(actor, case.council, "受付済みの案件の影響原因の訂正")
    fields = (
        "advisor",
        "officer",
        "interim_monitoring",
        "guarantee_release",
        "affected",
        "affected_note",
    )
    changed = {
        f: [_show(getattr(case, f)), _show(getattr(new, f))]
        for f in fields
        if getattr(case, f) != getattr(new, f)
    }
    if not changed:
        raise InvalidInput("変更する項目がありません (現在の値と同じです)")
    after = replace(snap, case=new)
    ch = ChangeSet(case.id, new, case.version)
    return _correction(snap, ch, after, actor, "edit", why, {"changes": changed}, env)


# ---------------------------------------------------------------- void a fact


def voided_by(history: tuple[EventRow, ...]) -> dict[int, int]:
    """Voided event seq → the seq of the correction that voided it."""
    out = {}
    for e in history:
        if e.kind == "correction" and e.detail:
            v = json.loads(e.detail).get("voids")
            if v is not None:
                out[int(v)] = e.seq
    return out


def _detail(e: EventRow) -> dict[str, Any]:
    return dict(json.loads(e.detail)) if e.detail else {}


def decide_void(snap: Snapshot, actor: Actor, seq: int, reason: str | None, env: Env) -> Decision:
    """Void one recorded fact by its event number: its effect disappears, the value falls back
    to the last standing record of the same fact (or to nothing)."""
    why = _reason(reason)
    check_corrector(snap, actor, "事実の取り消し")
    history = snap.event_list
    target = next((e for e in history if e.seq == seq), None)
    if target is None:
        raise NotFound(f"案件 {snap.case.id} に記録 #{seq} はありません ('kaizen case history')")
    if target.kind != "fact" or target.trigger not in VOIDABLE:
        raise NotAllowed(
            f"記録 #{seq} ({target.trigger}) は取り消せる事実の記録ではありません "
            f"(取り消せるのは {', '.join(VOIDABLE)}; 段階の変更は 'kaizen case revert')"
        )
    voided = voided_by(history)
    if seq in voided:
        raise Conflict(f"記録 #{seq} は既に #{voided[seq]} で取り消されています")
    info = _detail(target)
    same = [
        e
        for e in history
        if e.kind == "fact"
        and e.trigger == target.trigger
        and e.seq != seq
        and e.seq not in voided
        and _same_target(target.trigger, _detail(e), info)
    ]
    before = same[-1] if same else None
    case = snap.case
    ch = ChangeSet(case.id, case, case.version)
    after = snap
    changed: dict[str, list[Any]] = {}
    fid = target.trigger
    if fid in ("estimate", "fee"):
        after, changed = _void_cost(snap, ch, fid, info, before, target)
    elif fid == "lender":
        after, changed = _void_lender(snap, ch, info)
    elif fid == "consent":
        if case.agreed_on is not None:
            raise NotAllowed(f"同意書は合意 (agree) の根拠です: {REVERT_FIRST}")
        name = info["lender"]
        on = date.fromisoformat(_detail(before)["on"]) if before else None
        lender = next((x for x in snap.lender_list if x.name == name), None)
        if lender is None:
            raise NotFound(f"金融機関 {name} はこの案件に登録されていません")
        new = LenderState(name, on)
        ch.lenders[name] = new
        after = replace(snap, lenders=tuple(new if x.name == name else x for x in snap.lender_list))
        changed = {f"consent:{name}": [_show(lender.consented_on), _show(on)]}
    elif fid == "certificate":
        if case.applied_on is not None:
            raise NotAllowed(f"証明書は利用申請 (apply) の根拠です: {REVERT_FIRST}")
        issued = date.fromisoformat(_detail(before)["issued"]) if before else None
        after = replace(snap, case=replace(case, certificate_issued=issued))
        changed = {"certificate_issued": [_show(case.certificate_issued), _show(issued)]}
    elif fid == "plan":
        if case.stage != "planning" and "submit_plan" in {t for t, _ in snap.moves}:
            raise NotAllowed(f"計画は提出 (submit_plan) の根拠です: {REVERT_FIRST}")
        on = date.fromisoformat(_detail(before)["plan"]) if before else None
        after = replace(snap, case=replace(case, plan_recorded=on))
        changed = {"plan_recorded": [_show(case.plan_recorded), _show(on)]}
    else:
        period = int(info["period"])
        if case.periods_paid >= period or case.stage == "monitoring_claim":
            raise NotAllowed(f"第{period}期の報告は支払申請の根拠です: {REVERT_FIRST}")
        ch.drop_reports.add(period)
        reports = {k: v for k, v in snap.report_map.items() if k != period}
        after = replace(snap, reports=reports)
        changed = {f"report:{period}": [_show(snap.report_map.get(period)), None]}
    detail = {"voids": seq, "fact": fid, "changes": changed}
    return _correction(snap, ch, after, actor, "void", why, detail, env)


def _same_target(fid: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if fid in ("estimate", "fee"):
        return bool(a.get("category") == b.get("category"))
    if fid in ("lender", "consent"):
        return bool(a.get("lender") == b.get("lender"))
    if fid == "report":
        return bool(a.get("period") == b.get("period"))
    return True


def _void_cost(
    snap: Snapshot,
    ch: ChangeSet,
    fid: str,
    info: Mapping[str, Any],
    before: EventRow | None,
    target: EventRow,
) -> tuple[Snapshot, dict[str, list[Any]]]:
    case = snap.case
    cat = str(info["category"])
    cost = snap.cost_map.get(cat) or CostState(cat, None, None, None)
    prev = _detail(before) if before else {}
    if fid == "estimate":
        if case.decided_on is not None:
            raise NotAllowed(f"見積額は支払決定の根拠です: {REVERT_FIRST}")
        value = prev.get("estimate")
        if case.applied_on is not None and value is None:
            raise NotAllowed(f"見積額は利用申請 (apply) の根拠です: {REVERT_FIRST}")
        new = replace(cost, estimate=value)
        changed = {f"estimate:{cat}": [cost.estimate, value]}
    else:
        phase = definition(case).category(cat).phase
        kinds = ("plan_first", "plan_second") if phase == "plan" else ("monitoring",)
        if any(p.kind in kinds and p.paid_on >= target.on for p in snap.payment_list):
            raise NotAllowed(f"支払額 #{target.seq} は支払の根拠です: {REVERT_FIRST}")
        actual = prev.get("actual")
        paid = date.fromisoformat(prev["paid_on"]) if before else None
        new = replace(cost, actual=actual, paid_on=paid)
        changed = {f"fee:{cat}": [cost.actual, actual]}
    ch.costs[cat] = new
    return replace(snap, costs={**snap.cost_map, cat: new}), changed


def _void_lender(
    snap: Snapshot, ch: ChangeSet, info: Mapping[str, Any]
) -> tuple[Snapshot, dict[str, list[Any]]]:
    name = str(info["lender"])
    lender = next((x for x in snap.lender_list if x.name == name), None)
    if lender is None:
        raise NotFound(f"金融機関 {name} はこの案件に登録されていません")
    if snap.case.agreed_on is not None:
        raise NotAllowed(f"金融機関は合意 (agree) の根拠です: {REVERT_FIRST}")
    if lender.consented_on is not None:
        raise NotAllowed(
            f"金融機関 {name} の同意が記録されています: 先にその同意を取り消してください"
        )
    ch.drop_lenders.add(name)
    after = replace(snap, lenders=tuple(x for x in snap.lender_list if x.name != name))
    return after, {f"lender:{name}": [name, None]}


# ---------------------------------------------------------------- revert a stage change

REVERSED_BY = {
    "decide_payment": ("plan_first",),
    "pay_monitoring": ("plan_second", "monitoring"),
    "complete": ("plan_second", "monitoring"),
}


def decide_revert(snap: Snapshot, actor: Actor, reason: str | None, env: Env) -> Decision:
    """Undo the last standing stage change: the stage goes back, the dates it set are cleared,
    the payments it made are reversed by negative rows, the milestones are replanned."""
    why = _reason(reason)
    case = snap.case
    access.require_supervisor(actor, case.council, "段階の取り消し (revert)")
    history = snap.event_list
    reverted = {_detail(e).get("reverts") for e in history if e.kind == "correction"}
    last = next(
        (
            e
            for e in reversed(history)
            if e.kind == "transition" and e.trigger != "open" and e.seq not in reverted
        ),
        None,
    )
    if last is None or last.from_stage is None or last.to_stage != case.stage:
        raise NotAllowed(f"案件 {case.id} には取り消せる段階の変更がありません")
    trig = last.trigger
    new = replace(case, stage=last.from_stage)
    if trig == "apply":
        new = replace(
            new,
            applied_on=None,
            rule_version=None,
            reuse_exception=False,
            reuse_reason=None if case.reuse_exception else case.reuse_reason,
        )
    elif trig == "accept":
        new = replace(new, accepted_on=None, valid_until=None)
        if env.version_key == "acceptance" and case.applied_on is not None:
            new = replace(new, rule_version=env.version_on(case.applied_on).id)
    elif trig == "agree":
        new = replace(new, agreed_on=None)
    elif trig == "decide_payment":
        new = replace(new, decided_on=None)
    elif trig in ("pay_monitoring", "complete"):
        new = replace(new, periods_paid=case.periods_paid - 1)
    pays = _reversals(snap, trig, case.periods_paid, env.today)
    moves = list(snap.moves)
    for i in range(len(moves) - 1, -1, -1):
        if moves[i] == (trig, last.on):
            del moves[i]
            break
    after = replace(
        snap,
        case=new,
        moves=tuple(moves),
        payments=(*snap.payment_list, *pays),
    )
    ch = ChangeSet(case.id, new, case.version, payments=pays)
    changed = {
        f: [_show(getattr(case, f)), _show(getattr(new, f))]
        for f in ("stage", "applied_on", "accepted_on", "agreed_on", "decided_on", "periods_paid")
        if getattr(case, f) != getattr(new, f)
    }
    detail = {
        "reverts": last.seq,
        "trigger": trig,
        "changes": changed,
        "payments": [{"kind": p.kind, "period": p.period, "amount": p.amount} for p in pays],
    }
    return _correction(snap, ch, after, actor, "revert", why, detail, env, to_stage=new.stage)


def _reversals(snap: Snapshot, trigger: str, periods_paid: int, on: date) -> list[PaymentState]:
    """Negative rows undoing what the transition paid (what stands of each kind it paid)."""
    out = []
    for kind in REVERSED_BY.get(trigger, ()):
        period = periods_paid if kind == "monitoring" else None
        net = sum(p.amount for p in snap.payment_list if p.kind == kind and p.period == period)
        if kind == "plan_second" and periods_paid != 1:
            continue  # the withheld half is paid with the first monitoring period only
        if net > 0:
            out.append(PaymentState(kind, period, -net, on, reversal=True))
    return out


# ---------------------------------------------------------------- milestones


def replan_fresh(
    snap: Snapshot, changes: ChangeSet, env: Env, *, drop_done: bool = False
) -> Snapshot:
    """The milestones as the facts that stand now imply them: like `decide.replan_into`, but a
    milestone the plan no longer marks done is reopened (a voided report, a reverted stage)."""
    from workflow.decide import replan_into

    case = snap.case
    rules = case_rules(case, env)
    after = replan_into(snap, changes, rules, env)
    planned = {p.key: p for p in plan(after, rules, env)}
    final = case.stage in definition(case).final_stages
    now = dict(after.milestones)
    for key, m in after.milestones.items():
        p = planned.get(key)
        if m.done_on is None or final:
            continue
        if p is not None and p.done_on is None:
            new = MilestoneState(p.key, p.label, p.stage, p.due, None, m.reminded)
            now[key] = new
            changes.milestones[key] = new
        elif p is None and drop_done and not m.reminded:
            del now[key]
            changes.milestones.pop(key, None)
            changes.drop_milestones.add(key)
    return replace(after, milestones=now)


# ---------------------------------------------------------------- company edit


def company_changes(company: CompanyState, new: CompanyState) -> dict[str, tuple[object, object]]:
    return {
        f: (getattr(company, f), getattr(new, f))
        for f in COMPANY_FIELDS
        if getattr(company, f) != getattr(new, f)
    }


def decide_company_edit(
    company: CompanyState,
    new: CompanyState,
    cases: list[Snapshot],
    actor: Actor,
    reason: str | None,
    env: Env,
) -> list[Decision]:
    """Check who may change the company's facts, and replan its cases when their timeline
    (the fiscal year end) changes: one `correction` event on each such case."""
    why = _reason(reason)
    changed = company_changes(company, new)
    if not changed:
        raise InvalidInput("変更する項目がありません (現在の値と同じです)")
    for snap in cases:
        access.require_council(actor, snap.case.council)
    eligibility = [f for f in ELIGIBILITY if f in changed]
    if eligibility:
        for snap in cases:
            if snap.case.accepted_on is not None:
                access.require_supervisor(
                    actor,
                    snap.case.council,
                    f"受付済みの案件 {snap.case.id} の適格性を決めた会社情報の訂正",
                )
    out = []
    if "fiscal_year_end" in changed:
        finals = {s for d in catalog().definitions.values() for s in d.final_stages}
        detail = {
            "company": company.key,
            "changes": {"fiscal_year_end": list(changed["fiscal_year_end"])},
        }
        for snap in cases:
            if snap.case.stage in finals:
                continue
            check_corrector(snap, actor, "決算月の訂正")
            s2 = replace(snap, company=new)
            ch = ChangeSet(snap.case.id, snap.case, snap.case.version)
            out.append(_correction(s2, ch, s2, actor, "company_edit", why, detail, env))
    return out
