"""The re-use decision (rules.md §4): may this company file this program again, and how?

Pure: it takes the policy of the case's rule version and the company's earlier uses (recorded
prior uses and Kaizen's own accepted cases) and returns every reason that blocks the filing,
plus whether the filing is an exception that only a supervisor may accept.
"""

from __future__ import annotations

from dataclasses import dataclass

from states.rules import RuleVersion

CAUSE_LABELS = {
    "covid": "新型コロナ",
    "ukraine": "ウクライナ情勢",
    "oil": "原油価格高騰",
    "other": "その他の要因",
}
PROGRAM_LABELS = {"405": "405事業", "early": "早期経営改善"}


@dataclass(frozen=True)
class Use:
    program: str
    track: str | None
    fiscal_year: int
    paid: int
    source: str  # 'prior use #3' or 'case 40-2026-0007'

    def describe(self) -> str:
        track = f"/{self.track}" if self.track else ""
        return f"{PROGRAM_LABELS.get(self.program, self.program)}{track} {self.fiscal_year}年度 ({self.source})"


@dataclass(frozen=True)
class ReuseDecision:
    problems: list[str]
    exception: bool  # allowed only as an exception (reason + supervisor's acceptance)
    payment_room: int | None  # yen the council may still pay the firm (R6 405), None: no cap

    @property
    def allowed(self) -> bool:
        return not self.problems


def decide(
    rules: RuleVersion,
    program: str,
    uses: list[Use],
    affected: frozenset[str],
    reason: str | None,
) -> ReuseDecision:
    policy = rules.reuse(program)
    counted = [u for u in uses if u.program in policy.counted_programs]
    prior_405 = [u for u in uses if u.program == "405"]
    listed = "、".join(u.describe() for u in uses) or "なし"
    head = f"規程 {rules.id} の再利用の制限"
    problems: list[str] = []
    exception = False
    room: int | None = None
    is_affected = bool(affected & set(policy.affected_causes))

    exempt = policy.blocked_after_405_unless_affected and is_affected
    if program == "early" and prior_405 and policy.blocked_after_405 and not exempt:
        problems.append(
            f"{head}: 405事業で計画を策定した事業者は早期経営改善を利用できません "
            f"(過去の利用: {listed})"
        )
    if policy.mode == "affected" and counted:
        if not is_affected:
            causes = "・".join(CAUSE_LABELS.get(c, c) for c in policy.affected_causes)
            problems.append(
                f"{head}: 過去の利用があるため、{causes}の影響 (--affected) がある場合のみ"
                f"利用できます (過去の利用: {listed})"
            )
        elif policy.max_uses is not None and len(counted) + 1 > policy.max_uses:
            problems.append(
                f"{head}: 利用は{policy.max_uses}回までです (過去の利用 {len(counted)}回: {listed})"
            )
    elif policy.mode == "once" and counted:
        problems.append(
            f"{head}: {PROGRAM_LABELS[program]}の2回目の利用はできません (過去の利用: {listed})"
        )
    elif policy.mode == "exception" and counted:
        exception = True
        if policy.needs_reason and not (reason and reason.strip()):
            problems.append(
                f"{head}: 過去の利用があるため、前回と異なる悪化要因を --reason で記載してください "
                f"(過去の利用: {listed})"
            )
        if policy.payment_cap_total is not None:
            paid = sum(u.paid for u in uses)
            room = max(policy.payment_cap_total - paid, 0)
            if room == 0:
                problems.append(
                    f"{head}: 全ての利用を通じた補助額の上限 {policy.payment_cap_total:,}円に"
                    f"達しています (支払済 {paid:,}円)"
                )
    return ReuseDecision(problems, exception, room)
