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
    """A person's text, cleaned by `states.text.clean_text`; refused when it cannot be stored."""
    if value is None:
        if required:
            raise InvalidInput(f"{what}を入力してください")
        return None
    # One normaliser for every stored text (states/text.py); names (short limits) are
    # NFKC-folded, free text (reasons, notes: MAX_TEXT) is kept as typed.
    from states.text import TextProblem, clean_text

    try:
        return clean_text(value, what, required=required, limit=limit, fold=limit < MAX_TEXT)
    except TextProblem as e:
        raise InvalidInput(str(e)) from None


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
