"""The one text normaliser (`clean_text`) and the visible form of text (`visible`), as tables."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from states.text import TextProblem, clean_text, has_surrogates, visible

CLEANED = [
    ("福岡銀行", "福岡銀行"),
    ("  福岡銀行\u3000", "福岡銀行"),  # ideographic space folds to a space, then strips
    ("ＡＢＣ銀行", "ABC銀行"),  # NFKC: full-width ASCII
    ("ｶﾌﾞｼｷｶﾞｲｼｬ", "カブシキガイシャ"),  # NFKC: half-width katakana
    ("福岡\u200b銀行", "福岡銀行"),  # zero-width space
    ("\ufeff福岡銀行", "福岡銀行"),  # BOM
    ("福岡\u200c\u200d\u2060銀行", "福岡銀行"),
    ("\u202e行銀岡福", "行銀岡福"),  # bidi override removed
    ("\u2066福岡\u2069\u200e\u200f", "福岡"),
    ("銀行[/i]", "銀行[/i]"),  # markup is just text here: rendering is the terminal's job
    ("=1+1", "=1+1"),  # formulas are the exports' job
]

REFUSED = [
    ("bank\udcff", "UTF-8"),
    ("\udc8e\udca2", "UTF-8"),
    ("\x1b]0;pwned\x07\x1b[2J", "\\x1b"),
    ("A\nB", "\\x0a"),
    ("A\tB", "\\x09"),
    ("A\rB", "\\x0d"),
    ("A\x00B", "\\x00"),
    ("A\x7fB", "\\x7f"),
    ("A\x9bB", "\\x9b"),  # C1 CSI
    ("A\u2028B", "\\u2028"),  # line separator
    ("A\u00adB", "\\xad"),  # soft hyphen: an invisible format character
    ("", "空"),
    ("   ", "空"),
    ("\u200b", "空"),  # a name made only of a zero-width space
    ("\u202e\u200b\u3000", "空"),
    ("長" * 11, "長すぎ"),
    ("Ａ" * 11, "長すぎ"),
]


@pytest.mark.parametrize(("raw", "stored"), CLEANED)
def test_cleaned(raw: str, stored: str) -> None:
    assert clean_text(raw, "金融機関名", required=True, limit=200) == stored


@pytest.mark.parametrize(("raw", "says"), REFUSED)
def test_refused_with_one_line(raw: str, says: str) -> None:
    with pytest.raises(TextProblem) as e:
        clean_text(raw, "金融機関名", required=True, limit=10)
    message = str(e.value)
    assert message.startswith("金融機関名")
    assert says in message
    assert message.isprintable() and "\n" not in message


def test_free_text_is_not_folded() -> None:
    assert clean_text("①㈱ＡＢＣ", "理由", fold=False) == "①㈱ＡＢＣ"
    assert clean_text("①㈱ＡＢＣ", "会社名") == "1(株)ABC"


def test_optional_text_may_be_empty() -> None:
    assert clean_text(" \u200b ", "認定支援機関名") == ""


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("福岡銀行", "福岡銀行"),
        ("\x1b]0;pwned\x07\x1b[2J", "\\x1b]0;pwned\\x07\\x1b[2J"),
        ("a\nb\tc", "a\\x0ab\\x09c"),
        ("\u202eabc", "\\u202eabc"),
        ("bank\udcff", "bank\\udcff"),
        ("\x9b31m", "\\x9b31m"),
        ("[link=https://evil.example/]x[/link]", "[link=https://evil.example/]x[/link]"),
        ("株式会社\u3000博多", "株式会社\u3000博多"),  # printable spaces stay
    ],
)
def test_visible(raw: str, shown: str) -> None:
    assert visible(raw) == shown


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_is_cleaned_or_refused(raw: str) -> None:
    try:
        out = clean_text(raw, "会社名", required=True, limit=200)
    except TextProblem as e:
        assert str(e).isprintable()
        return
    assert out and out == out.strip() and len(out) <= 200
    assert visible(out) == out  # nothing hidden is stored
    assert not has_surrogates(out)
    out.encode("utf-8")  # storable and printable on a UTF-8 terminal


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_visible_is_printable(raw: str) -> None:
    shown = visible(raw)
    shown.encode("utf-8")
    assert not any(unicode_hidden(ch) for ch in shown)


def unicode_hidden(ch: str) -> bool:
    import unicodedata

    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")
