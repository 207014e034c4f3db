"""Tests for states.ids (法人番号)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from states.ids import (
    InvalidCorporateNumber,
    check_digit,
    make_corporate_number,
    normalize_corporate_number,
    validate_corporate_number,
)

# Real numbers as published on 国税庁 法人番号公表サイト (houjin-bangou.nta.go.jp).
PUBLISHED = [
    ("7000012050002", "国税庁"),
    ("4000012090001", "経済産業省"),
    ("1180301018771", "トヨタ自動車株式会社 (also EDINET E02144 JCN)"),
    ("5010001008846", "株式会社三菱UFJ銀行"),
]


@pytest.mark.parametrize(("number", "holder"), PUBLISHED)
def test_published_numbers_validate(number: str, holder: str) -> None:
    assert validate_corporate_number(number) == number, holder
    assert check_digit(number[1:]) == int(number[0])
    assert make_corporate_number(number[1:]) == number


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # Sum 0 -> 9 − 0 = 9: the check digit is never 0.
        ("000000000000", 9),
        # Single 1 at n = 1 (weight 1) and at n = 2 (weight 2).
        ("000000000001", 8),
        ("000000000010", 7),
        # All nines: 6·9 + 6·18 = 162 ≡ 0 (mod 9) -> 9.
        ("999999999999", 9),
        ("000012050002", 7),
    ],
)
def test_check_digit_table(body: str, expected: int) -> None:
    assert check_digit(body) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("７００００１２０５０００２", "7000012050002"),  # full-width digits
        ("  7000012050002\n", "7000012050002"),
        ("\u30007000012050002\u3000", "7000012050002"),  # ideographic spaces
        ("7-0000-1205-0002", "7000012050002"),
        ("7 0000 1205 0002", "7000012050002"),
        ("７－００００－１２０５－０００２", "7000012050002"),  # full-width hyphen-minus
        ("7ー0000ー1205ー0002", "7000012050002"),  # IME long-vowel mark typed as hyphen
        ("7\u22120000\u20131205\u20100002", "7000012050002"),  # minus, en dash, hyphen
        ("一二三", "一二三"),  # not our job to read Kanji numerals
        ("", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize_corporate_number(text) == expected


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("７００００１２０５０００２", "7000012050002"),
        ("7-0000-1205-0002", "7000012050002"),
        (" 1180301018771 ", "1180301018771"),
    ],
)
def test_validate_accepts_messy_input(text: str, valid: str) -> None:
    assert validate_corporate_number(text) == valid


@pytest.mark.parametrize(
    ("text", "reason", "fragment"),
    [
        ("", "empty", "入力されていません"),
        ("   ", "empty", "入力されていません"),
        ("000012050002", "length", "12桁"),
        ("70000120500021", "length", "14桁"),
        ("7000O12050002", "non_digit", "「O」"),
        ("abcdefghijklm", "non_digit", "「a」"),
        ("一二三四五六七八九〇一二三", "non_digit", "「一」"),
        ("７０００一２０５０００２", "non_digit", "「一」"),
        ("8000012050002", "check_digit", "7のはず"),
        ("0000000000000", "check_digit", "9のはず"),
        ("7000012050003", "check_digit", "のはず"),
        ("+7000012050002", "non_digit", "「+」"),
    ],
)
def test_validate_rejects(text: str, reason: str, fragment: str) -> None:
    with pytest.raises(InvalidCorporateNumber) as excinfo:
        validate_corporate_number(text)
    error = excinfo.value
    assert error.reason == reason
    message = str(error)
    assert fragment in message
    assert "\n" not in message
    assert f"corporate_number.{reason}" in message
    assert isinstance(error, ValueError)


def test_check_digit_error_carries_expected_digit() -> None:
    with pytest.raises(InvalidCorporateNumber) as excinfo:
        validate_corporate_number("1000012050002")
    assert excinfo.value.expected_check_digit == 7


@pytest.mark.parametrize("body", ["", "00001205000", "0000120500021", "00001205000a", "０００"])
def test_check_digit_rejects_bad_body(body: str) -> None:
    with pytest.raises(InvalidCorporateNumber):
        check_digit(body)
    with pytest.raises(InvalidCorporateNumber):
        make_corporate_number(body)


bodies = st.text(alphabet="0123456789", min_size=12, max_size=12)


@given(bodies)
def test_make_then_validate_round_trips(body: str) -> None:
    number = make_corporate_number(body)
    assert len(number) == 13
    assert number[0] != "0"
    assert validate_corporate_number(number) == number


@given(bodies, st.integers(min_value=0, max_value=11), st.sampled_from("0123456789"))
def test_single_digit_change_is_detected_except_zero_nine(
    body: str, index: int, digit: str
) -> None:
    # Changing one digit a -> b moves the weighted sum by w·(b − a) with w ∈ {1, 2}. Since
    # gcd(w, 9) = 1 the check digit stays the same iff 9 divides b − a, and for two distinct
    # decimal digits that only happens for 0 <-> 9. So that swap is the sole blind spot.
    original = body[index]
    assume(digit != original)
    number = make_corporate_number(body)
    tampered = number[: index + 1] + digit + number[index + 2 :]
    if {original, digit} == {"0", "9"}:
        assert validate_corporate_number(tampered) == tampered
    else:
        with pytest.raises(InvalidCorporateNumber) as excinfo:
            validate_corporate_number(tampered)
        assert excinfo.value.reason == "check_digit"


@given(bodies, st.sampled_from("0123456789"))
def test_changing_the_check_digit_is_always_detected(body: str, digit: str) -> None:
    number = make_corporate_number(body)
    assume(digit != number[0])
    with pytest.raises(InvalidCorporateNumber):
        validate_corporate_number(digit + number[1:])
