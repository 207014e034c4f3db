"""Text people type: the one normaliser for stored text, and the visible form of any text.

`clean_text` is applied to every text a person gives Kaizen (command arguments through the
engine's use cases, spreadsheet cells through the importer), so that what is stored can be
shown on a terminal, in a spreadsheet and in a database:

1. lone surrogates (``bank\\udcff``: bytes a terminal could not decode as UTF-8) are refused;
2. zero-width characters (U+200B–U+200D, U+2060, U+FEFF) and bidirectional controls
   (U+200E/U+200F, U+202A–U+202E, U+2066–U+2069, U+061C) are removed: invisible, they only
   hide or reverse what a name says;
3. any other control character (C0, DEL, C1, line/paragraph separators, other format
   characters such as U+00AD) is refused: tabs and newlines included, since every stored
   text is shown on one line;
4. names are folded with NFKC (``fold=True``): full-width ASCII becomes ASCII and half-width
   katakana becomes full-width, which is what officers expect when they search or compare
   (``ＡＢＣ銀行`` and ``ABC銀行`` are one lender). Free text (reasons, notes) is kept as typed
   (``fold=False``): ``①`` or ``㈱`` in a sentence is the writer's choice;
5. surrounding whitespace is stripped; an empty result is refused when the text is required;
6. the length (in code points, after cleaning) is limited.

`visible` is the other direction: any text about to reach a terminal or a one-line message,
with every control, format or surrogate character written as an escape (``\\x1b``,
``\\u202e``), so stored text can never move the cursor, retitle a window or hide itself.
"""

from __future__ import annotations

import unicodedata
from typing import Final

__all__ = ["MAX_TEXT", "TextProblem", "clean_text", "has_surrogates", "visible"]

MAX_TEXT: Final = 2000

# Removed silently: invisible, and never part of what a name says.
ZERO_WIDTH: Final = frozenset("\u200b\u200c\u200d\u2060\ufeff")
BIDI: Final = frozenset("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_DROP: Final = {ord(ch): None for ch in ZERO_WIDTH | BIDI}

# Unicode categories that must not reach a terminal as they are.
_HIDDEN: Final = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))


class TextProblem(ValueError):
    """A text that cannot be stored; the message is one Japanese line naming the field."""


def has_surrogates(value: str) -> bool:
    """True when `value` holds a lone surrogate (e.g. from bytes that were not UTF-8)."""
    return any("\ud800" <= ch <= "\udfff" for ch in value)


def _code(ch: str) -> str:
    n = ord(ch)
    if n < 0x100:
        return f"\\x{n:02x}"
    if n < 0x10000:
        return f"\\u{n:04x}"
    return f"\\U{n:08x}"


def clean_text(
    value: str,
    what: str,
    *,
    required: bool = False,
    limit: int = MAX_TEXT,
    fold: bool = True,
    lines: bool = False,
) -> str:
    """`value` as it is stored, or `TextProblem` saying why it cannot be (see the module).

    `lines=True` lets tab, CR and LF through: a spreadsheet cell that holds a list, one item
    a line, is cleaned before it is split.
    """
    if has_surrogates(value):
        raise TextProblem(f"{what}に UTF-8 で表せない文字があります: UTF-8 で入力してください")
    v = value.translate(_DROP)
    for ch in v:
        if unicodedata.category(ch) in _HIDDEN and not (lines and ch in "\t\r\n"):
            raise TextProblem(f"{what}に制御文字 ({_code(ch)}) が含まれています")
    if fold:
        v = unicodedata.normalize("NFKC", v)
    v = v.strip()
    if required and not v:
        raise TextProblem(f"{what}が空です")
    if len(v) > limit:
        raise TextProblem(f"{what}が長すぎます ({len(v)}文字; 上限 {limit}文字)")
    return v


def visible(value: str) -> str:
    """`value` with control, format and surrogate characters shown as escapes (``\\x1b``)."""
    if value.isprintable():  # the common case: nothing to show differently
        return value
    return "".join(_code(ch) if unicodedata.category(ch) in _HIDDEN else ch for ch in value)
