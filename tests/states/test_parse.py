"""What officers type: every Japanese label and alias, every date form, and the refusals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from states import parse
from states.parse import ParseError, Vocabulary

VOCABS: dict[str, Callable[[], Vocabulary]] = {
    "triggers": parse.triggers,
    "stages": parse.stages,
    "categories": parse.categories,
    "tracks": parse.tracks,
    "programs": parse.programs,
    "industries": parse.industries,
}

# (vocabulary, what an officer types, the id it means)
NAMES: list[tuple[str, str, str]] = [
    ("triggers", "利用申請", "apply"),
    ("triggers", "受付・利用決定", "accept"),
    ("triggers", "不受理", "reject"),
    ("triggers", "計画策定開始", "start_planning"),
    ("triggers", "計画提出 (金融機関協議へ)", "submit_plan"),
    ("triggers", "計画提出", "submit_plan"),  # the label without its note
    ("triggers", "計画修正", "revise"),
    ("triggers", "金融機関合意", "agree"),
    ("triggers", "支払決定", "decide_payment"),
    ("triggers", "伴走支援費用支払申請", "claim_monitoring"),
    ("triggers", "伴走支払", "pay_monitoring"),
    ("triggers", "完了", "complete"),
    ("triggers", "取下げ", "withdraw"),
    ("triggers", "中止", "discontinue"),
    ("triggers", "apply", "apply"),
    ("triggers", " APPLY ", "apply"),  # case and spaces do not matter
    ("stages", "相談", "consultation"),
    ("stages", "利用申請", "application"),
    ("stages", "DD", "due_diligence"),
    ("stages", "ＤＤ", "due_diligence"),  # full-width letters
    ("stages", "計画策定", "planning"),
    ("stages", "金融機関協議", "bank_negotiation"),
    ("stages", "支払申請", "payment_claim"),
    ("stages", "モニタリング", "monitoring"),
    ("stages", "伴走支払申請", "monitoring_claim"),
    ("stages", "完了", "completed"),
    ("stages", "取下げ", "withdrawn"),
    ("stages", "planning", "planning"),
    ("categories", "DD・計画策定支援費用", "dd_plan"),
    ("categories", "伴走支援費用 (モニタリング)", "monitoring"),
    ("categories", "伴走支援費用", "monitoring"),
    ("categories", "金融機関交渉費用", "bank_negotiation"),
    ("categories", "DD費用等", "dd"),
    ("categories", "計画策定支援費用", "plan"),
    ("categories", "計画策定支援費用 (第三者支援専門家を含む)", "plan"),
    ("categories", "伴走支援費用 (期中)", "monitoring_interim"),
    ("categories", "dd_plan", "dd_plan"),
    ("tracks", "通常枠", "normal"),
    ("tracks", "中小版GL枠", "gl"),
    ("tracks", "経営者保証解除枠", "guarantee"),
    ("tracks", "gl", "gl"),
    ("programs", "405事業", "405"),
    ("programs", "経営改善計画策定支援事業 (405事業)", "405"),
    ("programs", "405", "405"),
    ("programs", "早期経営改善", "early"),
    ("programs", "早期", "early"),
    ("programs", "ポスコロ", "early"),
    ("industries", "製造業", "manufacturing"),
    ("industries", "建設業", "manufacturing"),
    ("industries", "製造業・建設業・運輸業その他", "manufacturing"),
    ("industries", "卸売業", "wholesale"),
    ("industries", "サービス業", "services"),
    ("industries", "小売業", "retail"),
    ("industries", "その他", "other"),
]


@pytest.mark.parametrize(("vocab", "text", "ident"), NAMES)
def test_a_label_or_alias_names_its_id(vocab: str, text: str, ident: str) -> None:
    assert VOCABS[vocab]().resolve(text) == ident


@pytest.mark.parametrize("vocab", list(VOCABS))
def test_every_id_and_label_is_understood(vocab: str) -> None:
    v = VOCABS[vocab]()
    for ident, label in v.labels.items():
        assert v.resolve(ident) == ident
        if label not in {v.labels[i] for i in v.labels if i != ident}:
            assert v.resolve(label) == ident, label


# (vocabulary, a typo, the one-line refusal)
NEAR: list[tuple[str, str, str]] = [
    ("triggers", "aply", "不明なトリガー 'aply': もしかして: apply (利用申請)?"),
    ("triggers", "agre", "不明なトリガー 'agre': もしかして: agree (金融機関合意)?"),
    ("triggers", "利用申", "不明なトリガー '利用申': もしかして: apply (利用申請)?"),
    ("stages", "planing", "不明な段階 'planing': もしかして: planning (計画策定)?"),
    ("categories", "dd_plann", "不明な費用区分 'dd_plann': もしかして: dd_plan (DD・計画策定支援費用)?"),
    ("tracks", "通常", "不明な枠 (track) '通常': もしかして: normal (通常枠)?"),
]  # fmt: skip


@pytest.mark.parametrize(("vocab", "text", "message"), NEAR)
def test_a_near_miss_is_refused_with_one_suggestion(vocab: str, text: str, message: str) -> None:
    with pytest.raises(ParseError) as e:
        VOCABS[vocab]().resolve(text)
    assert e.value.message == message
    assert "\n" not in e.value.message


@pytest.mark.parametrize(("vocab", "text"), [("triggers", "fly"), ("stages", "nowhere"),
                                             ("programs", "406"), ("industries", "farming")])  # fmt: skip
def test_a_word_far_from_all_is_handed_on_or_refused_when_strict(vocab: str, text: str) -> None:
    v = VOCABS[vocab]()
    assert v.resolve(text) == text  # the use case refuses it in its own words
    with pytest.raises(ParseError, match=f"不明な.* '{text}': .*{v.ids[0]}"):
        v.resolve(text, strict=True)


def test_a_label_shared_by_two_ids_names_neither() -> None:
    v = Vocabulary("x", {"a": "同じ", "b": "同じ"})
    assert v.match("同じ") is None
    assert v.match("a") == "a"


DATES: list[tuple[str, date]] = [
    ("2026-06-01", date(2026, 6, 1)),
    ("2026/06/01", date(2026, 6, 1)),
    ("2026/6/1", date(2026, 6, 1)),
    ("2026.6.1", date(2026, 6, 1)),
    ("2026年6月1日", date(2026, 6, 1)),
    ("2026年 6月 1日", date(2026, 6, 1)),
    ("２０２６－０６－０１", date(2026, 6, 1)),
    ("２０２６/６/１", date(2026, 6, 1)),
    ("令和8年6月1日", date(2026, 6, 1)),
    ("令和８年６月１日", date(2026, 6, 1)),
    ("R8.6.1", date(2026, 6, 1)),
    ("r8/6/1", date(2026, 6, 1)),
    ("Ｒ８．６．１", date(2026, 6, 1)),
    ("令和元年5月1日", date(2019, 5, 1)),
    ("R1.5.1", date(2019, 5, 1)),
    ("平成31年4月30日", date(2019, 4, 30)),
    ("H30.12.28", date(2018, 12, 28)),
    ("平成元年1月8日", date(1989, 1, 8)),
    ("昭和64年1月7日", date(1989, 1, 7)),
    (" 2026-06-01 ", date(2026, 6, 1)),
]


@pytest.mark.parametrize(("text", "expected"), DATES)
def test_dates_in_every_form_officers_write(text: str, expected: date) -> None:
    assert parse.parse_date(text) == expected


BAD_DATES: list[tuple[str, str]] = [
    ("2026-02-30", "--onは YYYY-MM-DD で正しい日付を指定してください: '2026-02-30'"),
    ("2026/13/01", "'2026/13/01'"),
    ("26-06-01", "'26-06-01'"),
    ("yesterday", "'yesterday'"),
    ("令和8年", "'令和8年'"),
    ("R0.6.1", "'R0.6.1'"),
    ("X8.6.1", "'X8.6.1'"),
    ("平成31年5月1日", "--on: 平成31年5月1日 は平成にない日付です"),  # that day is 令和元年
    ("H31.5.1", "は平成にない日付です"),
    ("令和1年4月30日", "は令和にない日付です"),
    ("昭和64年1月8日", "は昭和にない日付です"),
    ("", "YYYY-MM-DD"),
]


@pytest.mark.parametrize(("text", "needle"), BAD_DATES)
def test_dates_that_are_refused(text: str, needle: str) -> None:
    with pytest.raises(ParseError) as e:
        parse.parse_date(text, "--on")
    assert needle in e.value.message
    assert "\n" not in e.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10000000", 10_000_000), ("10,000,000", 10_000_000), ("1,500,000円", 1_500_000),
     ("¥25", 25), ("0", 0), ("-3", -3), (" 25 ", 25)],
)  # fmt: skip
def test_counts_take_commas_and_yen(text: str, expected: int) -> None:
    assert parse.parse_count(text, "資本金") == expected


@pytest.mark.parametrize("text", ["1.5", "1万", "１０００", "10,00,000", "", "二十", "1e6", "--3"])
def test_counts_that_are_refused(text: str) -> None:
    with pytest.raises(ParseError, match=r"^資本金は半角数字"):
        parse.parse_count(text, "資本金")
