"""法人番号 (Japanese corporate number): normalising, checking and building 13-digit numbers.

Source for the format and the check digit: 法人番号の指定等に関する省令（財務省令,
検査用数字の算式） and the 国税庁 法人番号 FAQ ("法人番号の構成"): a 13-digit number whose first
digit is a check digit computed from the 12-digit 基礎番号 that follows it.

Sole proprietors (個人事業主) have no 法人番号 (法人番号 FAQ); callers need another key for them.
"""

from __future__ import annotations

import unicodedata

__all__ = [
    "InvalidCorporateNumber",
    "check_digit",
    "make_corporate_number",
    "normalize_corporate_number",
    "validate_corporate_number",
]

_ASCII_DIGITS = frozenset("0123456789")

# Separators people paste from letters, PDFs and Excel ("1-2345-6789-0123", "1 2345 6789 0123").
# They carry no meaning in a 法人番号, so dropping them loses nothing. The katakana prolonged
# sound mark is included because Japanese IMEs commonly produce it when a hyphen is typed.
# NFKC runs first, so full-width hyphen/space and half-width ｰ are already folded into these.
_SEPARATORS = frozenset(
    " \t-"
    "\u2010\u2011\u2012\u2013\u2014\u2015"  # hyphen, non-breaking hyphen, figure/en/em dash, bar
    "\u2212"  # minus sign
    "\u30fc"  # ー katakana-hiragana prolonged sound mark
)


class InvalidCorporateNumber(ValueError):
    """A 法人番号 that fails validation.

    `reason` is a stable English id ("empty", "non_digit", "length", "check_digit") for code;
    `str(error)` is a one-line Japanese message for council officers.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        value: str,
        expected_check_digit: int | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.value = value
        self.expected_check_digit = expected_check_digit


def normalize_corporate_number(text: str) -> str:
    """Fold `text` into the canonical spelling without judging it.

    NFKC turns full-width digits into ASCII; surrounding whitespace and any separators
    (hyphens, dashes, spaces, ー) inside are removed. Everything else is kept, so that
    `validate_corporate_number` can say precisely what is wrong.
    """
    folded = unicodedata.normalize("NFKC", text).strip()
    return "".join(ch for ch in folded if ch not in _SEPARATORS)


def _first_non_digit(text: str) -> str | None:
    return next((ch for ch in text if ch not in _ASCII_DIGITS), None)


def check_digit(body12: str) -> int:
    """Check digit (1–9) for the 12-digit 基礎番号 `body12`.

    Number the digits n = 1..12 from the right; odd n weigh 1, even n weigh 2;
    check = 9 − (sum mod 9). Source: 法人番号の指定等に関する省令（検査用数字の算式）.
    """
    bad = _first_non_digit(body12)
    if bad is not None or len(body12) != 12:
        raise InvalidCorporateNumber(
            f"基礎番号は半角数字12桁で指定してください（入力: {body12!r}）[corporate_number.body]",
            reason="non_digit" if bad is not None else "length",
            value=body12,
        )
    total = sum(
        int(ch) * (1 if n % 2 == 1 else 2) for n, ch in enumerate(reversed(body12), start=1)
    )
    return 9 - total % 9


def validate_corporate_number(text: str) -> str:
    """Return the normalised 13-digit 法人番号 or raise `InvalidCorporateNumber`."""
    value = normalize_corporate_number(text)
    if not value:
        raise InvalidCorporateNumber(
            "法人番号が入力されていません [corporate_number.empty]",
            reason="empty",
            value=value,
        )
    bad = _first_non_digit(value)
    if bad is not None:
        raise InvalidCorporateNumber(
            f"法人番号に数字以外の文字「{bad}」が含まれています（入力: {value}）"
            " [corporate_number.non_digit]",
            reason="non_digit",
            value=value,
        )
    if len(value) != 13:
        raise InvalidCorporateNumber(
            f"法人番号は13桁です（入力は{len(value)}桁: {value}）[corporate_number.length]",
            reason="length",
            value=value,
        )
    expected = check_digit(value[1:])
    if int(value[0]) != expected:
        raise InvalidCorporateNumber(
            f"法人番号のチェックデジットが一致しません（先頭桁は{expected}のはずが"
            f"{value[0]}: {value}）[corporate_number.check_digit]",
            reason="check_digit",
            value=value,
            expected_check_digit=expected,
        )
    return value


def make_corporate_number(body12: str) -> str:
    """Prefix `body12` with its check digit (for tests and demo data)."""
    return f"{check_digit(body12)}{body12}"
