"""Input cleaning shared by every use case and the importer: text, money, case options."""

from __future__ import annotations

from states.money import MoneyError, check_yen
from workflow.errors import InvalidInput

AFFECTED_CAUSES = ("covid", "ukraine", "oil")
MAX_TEXT = 2000
MAX_NAME = 200


def text(
    value: str | None, what: str, *, required: bool = False, limit: int = MAX_TEXT
) -> str | None:
    """A person's text, stripped; refused when empty (if required), too long or with controls."""
    if value is None:
        if required:
            raise InvalidInput(f"{what}を入力してください")
        return None
    v = value.strip()
    if required and not v:
        raise InvalidInput(f"{what}が空です")
    if len(v) > limit:
        raise InvalidInput(f"{what}が長すぎます ({len(v)}文字; 上限 {limit}文字)")
    if any(ord(ch) < 32 and ch not in "\t" for ch in v):
        raise InvalidInput(f"{what}に制御文字が含まれています")
    return v


def name(value: str, what: str) -> str:
    """A required name (company, lender, officer…)."""
    return text(value, what, required=True, limit=MAX_NAME) or ""


def yen(amount: int, what: str) -> int:
    try:
        return check_yen(amount, what)
    except MoneyError as e:
        raise InvalidInput(str(e)) from None


def causes(affected: list[str] | tuple[str, ...] | set[str]) -> tuple[str, ...]:
    """R4/R5 re-use causes, sorted and checked."""
    out = tuple(sorted(set(affected)))
    bad = [c for c in out if c not in AFFECTED_CAUSES]
    if bad:
        raise InvalidInput(
            f"--affected は {', '.join(AFFECTED_CAUSES)} から選んでください: {', '.join(bad)}"
        )
    return out
