"""The money rule of the decision core: 2/3 per category within its cap (states.money), the
plan-cost halves, and what the council will actually pay after the R6/R7 re-use room.

Pure, like `workflow.decide`: everything it reads is in the snapshot and the rule version.
`kaizen subsidy`, the payments a transition makes (`decide._effects`) and the budget report's
test (tests/workflow/test_budget_rule.py) all use these functions: the rule exists once.
"""

from __future__ import annotations

from dataclasses import dataclass

from states.money import category_subsidy, split_plan_share
from states.programs import Definition
from states.rules import RuleVersion
from workflow.snapshot import Snapshot
from workflow.views import SubsidyLine


def subsidy_lines(snap: Snapshot, d: Definition, rules: RuleVersion) -> list[SubsidyLine]:
    """The 2/3-with-cap subsidy per category of the case (states.money)."""
    costs = snap.cost_map
    out = []
    for c in d.categories_for(snap.case.options):
        cost = costs.get(c.id)
        est = cost.estimate if cost else None
        act = cost.actual if cost else None
        cap = rules.cap(snap.case.program, snap.case.track, c.id)
        sub = category_subsidy(act, est, cap, rules.rate) if est is not None else 0
        out.append(SubsidyLine(c.id, c.label, c.phase, est, act, cap, sub))
    return out


def plan_share(snap: Snapshot, d: Definition, rules: RuleVersion) -> int:
    return sum(x.subsidy for x in subsidy_lines(snap, d, rules) if x.phase == "plan")


def plan_halves(snap: Snapshot, d: Definition, rules: RuleVersion) -> tuple[int, int]:
    """The plan-cost subsidy as paid: at `decide_payment`, and with the first monitoring
    payment. Only the categories `money.split_categories` names are split in two halves
    (rules.md §3); the other plan-phase categories are paid whole at the decision."""
    lines = [x for x in subsidy_lines(snap, d, rules) if x.phase == "plan"]
    if not rules.value("money.split_payment"):
        return sum(x.subsidy for x in lines), 0
    split = set(rules.value("money.split_categories"))
    halves = sum(x.subsidy for x in lines if x.category in split)
    whole = sum(x.subsidy for x in lines if x.category not in split)
    first, second = split_plan_share(halves)
    return whole + first, second


def monitoring_share(snap: Snapshot, d: Definition, rules: RuleVersion) -> int:
    return sum(x.subsidy for x in subsidy_lines(snap, d, rules) if x.phase == "monitoring")


@dataclass(frozen=True)
class Payable:
    """What the council will pay the case in all, after the R6/R7 re-use room: per payment
    kind (paid so far and still to pay), and what the room cut from the subsidy."""

    plan_first: int
    plan_second: int
    monitoring: int
    still_second: int  # of plan_second, not yet paid (the withheld half)
    cut: int  # the subsidy the room leaves unpaid (0 without a room)
    room: int | None  # what the council may still pay the firm now (None: no cap)

    @property
    def plan(self) -> int:
        return self.plan_first + self.plan_second

    @property
    def total(self) -> int:
        return self.plan + self.monitoring


def payable(snap: Snapshot, d: Definition, rules: RuleVersion) -> Payable:
    """The subsidy as it will be paid: the plan's halves first, then monitoring — the order
    `_effects` pays them in — each within what is left of the re-use room."""
    first, second = plan_halves(snap, d, rules)
    owed = {"plan_first": first, "plan_second": second}
    owed["monitoring"] = monitoring_share(snap, d, rules)
    paid = {kind: 0 for kind in owed}
    for p in snap.payment_list:
        paid[p.kind] = paid.get(p.kind, 0) + p.amount
    room = payment_room(snap, rules)
    left = room
    out = {}
    for kind, amount in owed.items():
        due = max(amount - paid[kind], 0)
        if left is not None:
            due = min(due, left)
            left -= due
        out[kind] = paid[kind] + due
    return Payable(
        out["plan_first"],
        out["plan_second"],
        out["monitoring"],
        out["plan_second"] - paid["plan_second"],
        max(sum(owed.values()) - sum(out.values()), 0),
        room,
    )


def payment_room(snap: Snapshot, rules: RuleVersion | None, extra: int = 0) -> int | None:
    """R6+ 405 re-use: what the council may still pay the firm over all its uses (None: no
    cap applies to this case)."""
    if not snap.case.reuse_exception or rules is None:
        return None
    cap = rules.reuse(snap.case.program).payment_cap_total
    if cap is None:
        return None
    paid = sum(u.paid for u in snap.use_list) + sum(p.amount for p in snap.payment_list)
    return max(cap - paid - extra, 0)
