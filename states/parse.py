"""Reading what officers type: ids or Japanese labels, dates in 西暦 or 和暦, numbers with
commas and 円. Pure, and shared by the CLI and the importer so both accept the same forms."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache

from states.eligibility import INDUSTRIES, INDUSTRY_LABELS
from states.money import MoneyError, parse_yen
from states.programs import catalog

__all__ = [
    "ERAS",
    "ParseError",
    "Vocabulary",
    "categories",
    "industries",
    "parse_count",
    "parse_date",
    "programs",
    "short_label",
    "stages",
    "tracks",
    "triggers",
]


class ParseError(ValueError):
    """Text that is not one of the forms a field accepts; the message is for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def fold(text: str) -> str:
    """The form two spellings are compared in: NFKC, case-folded, without spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


def short_label(label: str) -> str:
    """A label without its parenthesised note: `計画提出 (金融機関協議へ)` → `計画提出`."""
    return re.sub(r"\s*[(（][^)）]*[)）]\s*$", "", label).strip()


@dataclass(frozen=True)
class Vocabulary:
    """The ids of one kind of thing, their Japanese labels, and a few more spellings."""

    what: str  # the kind, in Japanese, for messages (トリガー, 段階…)
    labels: Mapping[str, str]  # id → label, in the order they are shown
    aliases: Mapping[str, str] = field(default_factory=dict)  # another spelling → id

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self.labels)

    def _table(self) -> dict[str, str]:
        """Folded spelling → id. A label without its note yields to a full label or alias, and
        those to an id; a spelling two ids share within a tier names neither."""
        tiers = [
            [(short_label(label), i) for i, label in self.labels.items()],
            [(label, i) for i, label in self.labels.items()] + list(self.aliases.items()),
            [(i, i) for i in self.labels],
        ]
        table: dict[str, str] = {}
        for tier in tiers:
            found: dict[str, str] = {}
            ambiguous: set[str] = set()
            for text, ident in tier:
                key = fold(text)
                if found.get(key, ident) != ident:
                    ambiguous.add(key)
                found[key] = ident
            table.update({k: i for k, i in found.items() if k not in ambiguous})
        return table

    def shown(self, ident: str) -> str:
        label = self.labels.get(ident)
        return f"{ident} ({label})" if label and label != ident else ident

    def match(self, text: str) -> str | None:
        """The id `text` names exactly (id, label, label without its note, alias), or None."""
        return self._table().get(fold(text))

    def near(self, text: str) -> str | None:
        """The id whose spelling is closest to `text`, if one is close (a typo), else None."""
        table = self._table()
        hit = difflib.get_close_matches(fold(text), list(table), n=1, cutoff=0.7)
        return table[hit[0]] if hit else None

    def refusal(self, text: str) -> str:
        """One line: what was not understood, and the likely meaning or the choices."""
        guess = self.near(text)
        if guess is not None:
            return f"不明な{self.what} '{text}': もしかして: {self.shown(guess)}?"
        return f"不明な{self.what} '{text}': {'、'.join(self.shown(i) for i in self.ids)}"

    def resolve(self, text: str, *, strict: bool = False) -> str:
        """The id `text` names. A near miss is refused with a suggestion; anything else is
        refused too when `strict`, else handed back (stripped) for the caller's own message."""
        hit = self.match(text)
        if hit is not None:
            return hit
        if strict or self.near(text) is not None:
            raise ParseError(self.refusal(text))
        return text.strip()


@cache
def triggers() -> Vocabulary:
    """Triggers: a trigger's label is its transition's label (利用申請, 金融機関合意…)."""
    labels: dict[str, str] = {}
    for d in catalog().definitions.values():
        for t in d.transitions:
            labels.setdefault(t.trigger, t.label)
    return Vocabulary("トリガー", labels)


@cache
def stages() -> Vocabulary:
    return Vocabulary("段階", {k: s.label for k, s in catalog().stages.items()})


@cache
def categories() -> Vocabulary:
    """Cost categories of every program and track; a label two categories share is left out."""
    labels: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for d in catalog().definitions.values():
        for c in d.categories:
            labels.setdefault(c.id, c.label)
            aliases.setdefault(c.label, c.id)
    return Vocabulary("費用区分", labels, aliases)


@cache
def tracks() -> Vocabulary:
    return Vocabulary("枠 (track)", dict(catalog().track_labels))


@cache
def programs() -> Vocabulary:
    cat = catalog()
    aliases = {p.short: k for k, p in cat.programs.items()}
    aliases.update({"早期": "early", "ポスコロ": "early", "Vアップ": "early"})
    return Vocabulary("事業 (program)", {k: p.label for k, p in cat.programs.items()}, aliases)


@cache
def industries() -> Vocabulary:
    aliases = {"製造業": "manufacturing", "建設業": "manufacturing", "運輸業": "manufacturing"}
    aliases.update({"卸売": "wholesale", "小売": "retail", "サービス": "services"})
    return Vocabulary("業種", {i: INDUSTRY_LABELS[i] for i in INDUSTRIES}, aliases)


# ---------------------------------------------------------------- dates

# 元年 of each era and the first day of the era (an era's date before it is refused).
ERAS: Mapping[str, date] = {
    "令和": date(2019, 5, 1),
    "平成": date(1989, 1, 8),
    "昭和": date(1926, 12, 25),
}
_ERA_LETTERS = {"r": "令和", "h": "平成", "s": "昭和"}

_SEP = r"\s*[-/.年]\s*"
_SEP2 = r"\s*[-/.月]\s*"
_WESTERN = re.compile(rf"(\d{{4}}){_SEP}(\d{{1,2}}){_SEP2}(\d{{1,2}})\s*日?")
_WAREKI = re.compile(
    rf"(令和|平成|昭和|[rhs])\s*(\d{{1,2}}|元){_SEP}(\d{{1,2}}){_SEP2}(\d{{1,2}})\s*日?",
    re.IGNORECASE,
)

DATE_FORMS = "2026/6/1・令和8年6月1日・R8.6.1 も可"


def parse_date(text: str, what: str = "日付") -> date:
    """A date as officers write it: `2026-06-01`, `2026/6/1`, `2026年6月1日`, full-width
    digits, `令和8年6月1日`, `R8.6.1` (令和元年 too). Anything else is a `ParseError`."""
    s = unicodedata.normalize("NFKC", text).strip()
    bad = ParseError(f"{what}は YYYY-MM-DD で正しい日付を指定してください: '{text}' ({DATE_FORMS})")
    if m := _WESTERN.fullmatch(s):
        year, month, day = int(m[1]), int(m[2]), int(m[3])
    elif m := _WAREKI.fullmatch(s):
        era = _ERA_LETTERS.get(m[1].lower(), m[1])
        start = ERAS[era]
        nth = 1 if m[2] == "元" else int(m[2])
        if nth < 1:
            raise bad
        year, month, day = start.year + nth - 1, int(m[3]), int(m[4])
    else:
        raise bad
    try:
        d = date(year, month, day)
    except ValueError:
        raise bad from None
    if m.re is _WAREKI:
        era = _ERA_LETTERS.get(m[1].lower(), m[1])
        later = [s for s in ERAS.values() if s > ERAS[era]]
        if d < ERAS[era] or (later and d >= min(later)):
            raise ParseError(f"{what}: {text} は{era}にない日付です")
    return d


# ---------------------------------------------------------------- numbers


def parse_count(text: str, what: str) -> int:
    """A whole number a person typed into a number option: ASCII digits, thousands commas,
    an optional 円 (`10,000,000`, `1,500,000円`). Full-width and Kanji numerals are refused,
    as for amounts (`states.money.parse_yen`). A minus sign is kept, for the range check of
    the field's owner to refuse in its own words."""
    body = text.strip()
    sign = -1 if body.startswith("-") else 1
    try:
        return sign * parse_yen(body.removeprefix("-") if sign < 0 else body, what)
    except MoneyError:
        raise ParseError(
            f"{what}は半角数字 (例: 10,000,000 または 1,500,000円) で入力してください: '{text}'"
        ) from None
