"""Input cleaning shared by every use case and the importer: text, money, case options."""

from __future__ import annotations

import re

from states.money import MoneyError, check_yen
from workflow.errors import InvalidInput

AFFECTED_CAUSES = ("covid", "ukraine", "oil", "other")  # "…高騰等": other causes in words
OTHER = "other"
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


def causes(affected: list[str] | tuple[str, ...] | set[str]) -> tuple[tuple[str, ...], str | None]:
    """R4/R5 re-use causes, sorted and checked, and the words of an `other:TEXT` cause."""
    ids: set[str] = set()
    note: str | None = None
    for item in affected:
        cause, sep, words = item.partition(":")
        cause = cause.strip()
        if cause == OTHER:
            if not sep or not words.strip():
                raise InvalidInput(
                    "その他の影響は --affected other:原因 の形で原因を書いてください (例: other:資材価格高騰)"
                )
            note = text(words, "その他の影響", required=True, limit=MAX_NAME)
        elif sep:
            raise InvalidInput(f"原因を書けるのは other だけです: '{item}'")
        ids.add(cause)
    bad = sorted(c for c in ids if c not in AFFECTED_CAUSES)
    if bad:
        raise InvalidInput(
            f"--affected は {', '.join(AFFECTED_CAUSES)} から選んでください: {', '.join(bad)}"
        )
    return tuple(sorted(ids)), note


def cause_items(value: str) -> list[str]:
    """A typed or imported list of causes: 'covid,other:資材 高騰' (commas or 、; spaces
    separate ids but not the words of other:…)."""
    out: list[str] = []
    for part in re.split(r"[,、]", value):
        part = part.strip()
        if part.startswith(OTHER + ":"):
            out.append(part)
        else:
            out += [x for x in part.split() if x]
    return out


def cause_text(causes: tuple[str, ...], note: str | None) -> str:
    """Causes as a person types them (and the export writes them)."""
    return ",".join(f"{OTHER}:{note}" if c == OTHER and note else c for c in causes)
