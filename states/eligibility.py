"""Eligibility of a firm for council support: the SME size test and accepted legal forms.

Sources:
- Size limits by industry: 中小企業基本法 第2条第1項 (capital ≤ limit OR regular employees ≤
  limit; either one suffices). The industry-specific exceptions of 中小企業基本法施行令 (ゴム製品
  製造業, ソフトウェア業・情報処理サービス業, 旅館業) are not modelled: the domain rules
  (rules.md §7) list only the four statutory bands.
- Legal forms: rules.md §7, from 中小企業庁 program pages for 経営改善計画策定支援 (405事業) and
  早期経営改善計画策定支援 (医療法人 with ≤ 300 regular employees is eligible; 社会福祉法人,
  NPO法人, 一般/公益社団・財団法人, 農事組合法人, 農協, 生協, LLP, 学校法人 are not).
- The 組合 in LEGAL_FORMS (企業組合 … 商店街振興組合) are 中小企業者 under 産業競争力強化法 第2条
  (which covers council support); unverified against the 405事業 手引き, so they are put through
  the same size test as companies rather than exempted from it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = [
    "EXCLUDED_LEGAL_FORMS",
    "INDUSTRIES",
    "INDUSTRY_LABELS",
    "LEGAL_FORMS",
    "LEGAL_FORM_ALIASES",
    "MEDICAL_CORPORATION_MAX_EMPLOYEES",
    "SME_LIMITS",
    "CompanyFacts",
    "SizeLimit",
    "canonical_legal_form",
    "eligibility_problems",
    "is_sme",
]

INDUSTRIES: Final = ("manufacturing", "wholesale", "services", "retail", "other")

INDUSTRY_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "manufacturing": "製造業・建設業・運輸業その他",
        "wholesale": "卸売業",
        "services": "サービス業",
        "retail": "小売業",
        "other": "その他",
    }
)


@dataclass(frozen=True)
class SizeLimit:
    """Upper bounds (inclusive) of one industry band: capital in yen, regular employees."""

    capital: int
    employees: int


# 中小企業基本法 第2条第1項第1号〜第4号. "other" is part of 第1号 ("…その他の業種").
SME_LIMITS: Final[Mapping[str, SizeLimit]] = MappingProxyType(
    {
        "manufacturing": SizeLimit(capital=300_000_000, employees=300),
        "wholesale": SizeLimit(capital=100_000_000, employees=100),
        "services": SizeLimit(capital=50_000_000, employees=100),
        "retail": SizeLimit(capital=50_000_000, employees=50),
        "other": SizeLimit(capital=300_000_000, employees=300),
    }
)

MEDICAL_CORPORATION: Final = "医療法人"
SOLE_PROPRIETOR: Final = "個人事業主"
# rules.md §7 (中小企業庁: 常時使用する従業員数が300人以下の医療法人).
MEDICAL_CORPORATION_MAX_EMPLOYEES: Final = 300

LEGAL_FORMS: Final = (
    "株式会社",
    "有限会社",  # 特例有限会社 (会社法の施行に伴う関係法律の整備等に関する法律)
    "合同会社",
    "合名会社",
    "合資会社",
    MEDICAL_CORPORATION,
    SOLE_PROPRIETOR,
    "企業組合",
    "協業組合",
    "事業協同組合",
    "事業協同小組合",
    "協同組合連合会",
    "商工組合",
    "商店街振興組合",
)

EXCLUDED_LEGAL_FORMS: Final = (
    "社会福祉法人",
    "特定非営利活動法人",
    "一般社団法人",
    "一般財団法人",
    "公益社団法人",
    "公益財団法人",
    "農事組合法人",
    "農業協同組合",
    "消費生活協同組合",
    "有限責任事業組合",
    "学校法人",
)

# Everyday names officers type, mapped to the statutory ones above.
LEGAL_FORM_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "特例有限会社": "有限会社",
        "個人": SOLE_PROPRIETOR,
        "個人事業者": SOLE_PROPRIETOR,
        "NPO法人": "特定非営利活動法人",
        "農協": "農業協同組合",
        "生協": "消費生活協同組合",
        "生活協同組合": "消費生活協同組合",
        "LLP": "有限責任事業組合",
    }
)


@dataclass(frozen=True)
class CompanyFacts:
    """What the council knows about a firm; `capital` in yen, `employees` = 常時使用する従業員数."""

    industry: str
    capital: int | None
    employees: int | None
    legal_form: str


def canonical_legal_form(text: str) -> str:
    """Statutory spelling of a legal form (NFKC, trimmed, aliases resolved); unknown kept as is."""
    folded = unicodedata.normalize("NFKC", text).strip()
    return LEGAL_FORM_ALIASES.get(folded, folded)


def _limit(industry: str) -> SizeLimit:
    try:
        return SME_LIMITS[industry]
    except KeyError:
        raise ValueError(
            f"業種「{industry}」は登録されていません（{'/'.join(INDUSTRIES)}）[unknown_industry]"
        ) from None


def is_sme(industry: str, capital: int | None, employees: int | None) -> bool:
    """中小企業基本法 第2条 size test: capital OR regular employees within the industry's limit.

    A missing figure cannot satisfy the test; with both missing the answer is False.
    Raises ValueError for an unknown industry or a negative figure.
    """
    limit = _limit(industry)
    if (capital is not None and capital < 0) or (employees is not None and employees < 0):
        raise ValueError(
            f"資本金・従業員数に負の値は使えません（資本金: {capital}, 従業員数: {employees}）"
        )
    return (capital is not None and capital <= limit.capital) or (
        employees is not None and employees <= limit.employees
    )


def _yen(amount: int) -> str:
    """Officer-friendly yen: 300000000 -> "3億円", 50000000 -> "5,000万円"."""
    oku, rest = divmod(amount, 100_000_000)
    man, yen = divmod(rest, 10_000)
    parts = []
    if oku:
        parts.append(f"{oku:,}億")
    if man:
        parts.append(f"{man:,}万")
    if yen or not parts:
        parts.append(f"{yen:,}")
    return "".join(parts) + "円"


def _size_problems(facts: CompanyFacts, form: str) -> list[str]:
    capital, employees = facts.capital, facts.employees
    problems = []
    if capital is not None and capital < 0:
        problems.append(f"資本金が負の値です（{capital}）")
    if employees is not None and employees < 0:
        problems.append(f"常時使用する従業員数が負の値です（{employees}）")
    if problems:
        return problems

    if form == MEDICAL_CORPORATION:
        # The medical-corporation rule is an employee cap; capital (出資金) plays no part.
        cap = MEDICAL_CORPORATION_MAX_EMPLOYEES
        if employees is None:
            return [f"医療法人は常時使用する従業員数の登録が必要です（{cap}人以下が対象）"]
        if employees > cap:
            return [
                f"医療法人は常時使用する従業員数が{cap}人以下の場合に限り対象です"
                f"（登録: {employees}人）"
            ]
        return []

    limit = SME_LIMITS.get(facts.industry)
    if form == SOLE_PROPRIETOR:
        # A sole proprietor has no 資本金, so only the employee limit can be tested.
        if employees is None:
            return ["個人事業主は常時使用する従業員数の登録が必要です"]
        if limit is not None and employees > limit.employees:
            label = INDUSTRY_LABELS[facts.industry]
            return [
                f"常時使用する従業員数{employees}人が{label}の中小企業の上限"
                f"{limit.employees}人を超えています"
            ]
        return []

    if capital is None and employees is None:
        return ["資本金または常時使用する従業員数が未登録です"]
    if limit is not None and not is_sme(facts.industry, capital, employees):
        label = INDUSTRY_LABELS[facts.industry]
        shown_capital = "未登録" if capital is None else _yen(capital)
        shown_employees = "未登録" if employees is None else f"{employees}人"
        return [
            f"中小企業の規模要件を満たしません（{label}: 資本金{_yen(limit.capital)}以下または"
            f"常時使用する従業員数{limit.employees}人以下。登録: 資本金{shown_capital}、"
            f"従業員数{shown_employees}）"
        ]
    return []


def eligibility_problems(facts: CompanyFacts) -> list[str]:
    """Every failed eligibility condition as a one-line Japanese sentence; [] means eligible."""
    problems = []
    if facts.industry not in SME_LIMITS:
        problems.append(
            f"業種「{facts.industry}」は登録されていません"
            f"（{'/'.join(INDUSTRY_LABELS[i] for i in INDUSTRIES)}のいずれか）"
        )
    form = canonical_legal_form(facts.legal_form)
    if form in EXCLUDED_LEGAL_FORMS:
        problems.append(
            f"{form}は支援の対象外の法人形態です（中小企業基本法第2条の中小企業者に当たらない）"
        )
    elif form not in LEGAL_FORMS:
        shown = form or "（空欄）"
        problems.append(f"法人形態「{shown}」は登録されていません")
    problems.extend(_size_problems(facts, form))
    return problems
