"""Parsing a spreadsheet row into a typed row and its path through the stage graph: every
problem of a row is listed with its column, before anything is replayed or written."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import Any

from states import parse
from states.eligibility import INDUSTRIES, INDUSTRY_LABELS, canonical_legal_form
from states.ids import InvalidCorporateNumber, validate_corporate_number
from states.money import MoneyError, check_yen
from states.programs import UnknownProgramError, catalog
from workflow import store
from workflow.errors import KaizenError
from workflow.inputs import MAX_NAME, MAX_TEXT, cause_items, causes
from workflow.sheet import (
    CLOSING,
    COLUMNS,
    DATE_KEYS,
    NO,
    REQUIRED,
    SEP,
    STEP_DATES,
    YES,
    RowError,
    RowProblem,
    main_line,
)

# ---------------------------------------------------------------- parsing cells


# The apostrophe an export put before a formula start (workflow.exports.neutral).
NEUTRALISED = re.compile(r"'+[=+\-@\t\r＝＋－＠]")


def _norm(v: Any) -> str:
    """A cell as text: the export's one neutralising apostrophe removed, NFKC-folded, stripped.

    (The text was cleaned when the file was read: see `workflow.sheet.read_table`.)
    """
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = str(v)
    if NEUTRALISED.match(s):
        s = s[1:]
    return unicodedata.normalize("NFKC", s).strip()


def _date(v: Any, column: str) -> date | None:
    """A date cell in any form the CLI accepts (`states.parse.parse_date`), or Excel's own."""
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    s = _norm(v)
    if not s:
        return None
    s = re.sub(r"[ T]00:00(?::00)?$", "", s)  # a date a spreadsheet wrote as a midnight
    try:
        return parse.parse_date(s, "日付")
    except parse.ParseError as e:
        raise RowError(column, e.message) from None


MAX_COUNT = 2**31 - 1  # an INTEGER column (employees, months) on either backend


def _int(v: Any, column: str, *, yen: bool = False) -> int | None:
    """A whole number; yen within the CLI's range (states.money.check_yen), other counts
    within an INTEGER column, so that no value fails only when written (PostgreSQL)."""
    if isinstance(v, bool):
        raise RowError(column, f"数値を入力してください: {v!r}")
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, int):
        n = v
    else:
        s = _norm(v)
        if not s:
            return None
        try:
            n = parse.parse_count(s, column)
        except parse.ParseError:
            kind = "円単位の整数" if yen else "整数"
            raise RowError(column, f"{kind}を入力してください: '{s}'") from None
    try:
        return check_yen(n, column) if yen else _count(n, column)
    except MoneyError as e:
        raise RowError(column, str(e)) from None


def _count(n: int, column: str) -> int:
    if not 0 <= n <= MAX_COUNT:
        raise RowError(column, f"{column}は0から{MAX_COUNT:,}までの整数です: {n:,}")
    return n


def _amount(text: str | None, column: str) -> int:
    """An amount inside a list cell (`dd_plan=1,500,000`): present, whole, within range."""
    n = _int(text or "", column, yen=True)
    if n is None:
        raise RowError(column, "金額が空です")
    return n


# The storage columns' lengths (storage/models.py) and the CLI's limits (workflow/inputs.py):
# a longer value is a row problem, not a database error on PostgreSQL.
TEXT_LIMITS = (
    ("company_name", "会社名", MAX_NAME),
    ("advisor", "認定支援機関", MAX_NAME),
    ("officer", "担当者", 64),
    ("accepted_by", "受付者", 64),
    ("rule_version", "規程", 8),
    ("reuse_reason", "再利用の理由", MAX_TEXT),
    ("closed_reason", "終了理由", MAX_TEXT),
)


def _lengths(row: Row) -> list[tuple[str, str]]:
    """(column, problem) for every text longer than where it is kept."""
    out = []
    for key, label, limit in TEXT_LIMITS:
        value = getattr(row, key) or ""
        if len(value) > limit:
            out.append((label, f"{label}が長すぎます ({len(value)}文字; 上限 {limit}文字)"))
    for lender, _ in row.lenders:
        if len(lender) > MAX_NAME:
            out.append(
                ("金融機関", f"金融機関名が長すぎます ({len(lender)}文字; 上限 {MAX_NAME}文字)")
            )
    return out


def _bool(v: Any, column: str) -> bool:
    if isinstance(v, bool):
        return v
    s = _norm(v).lower()
    if s in YES:
        return True
    if s in NO:
        return False
    raise RowError(column, f"はい / いいえ で入力してください: '{s}'")


def _choice(v: Any, column: str, ids: Sequence[str], labels: dict[str, str]) -> str:
    """An id, its label, or another spelling `states.parse` knows; a typo gets もしかして."""
    s = _norm(v)
    aliases = {a: i for a, i in _ALIASES.items() if i in ids}
    vocab = parse.Vocabulary(column, {i: labels.get(i, i) for i in ids}, aliases)
    hit = vocab.match(s)
    if hit is not None:
        return hit
    guess = vocab.near(s)
    if guess is not None:
        raise RowError(column, f"'{s}' は使えません: もしかして: {vocab.shown(guess)}?")
    shown = "、".join(f"{i} ({labels[i]})" if i in labels else i for i in ids)
    raise RowError(column, f"'{s}' は使えません: {shown}")


# The spellings beyond id and label that the CLI accepts too (製造業, 早期…).
_ALIASES = {
    **parse.programs().aliases,
    **parse.industries().aliases,
    **parse.categories().aliases,
}


@dataclass
class _Period:
    reported: date
    claimed: date | None
    paid: date | None


@dataclass
class Row:
    n: int
    case_id: str | None
    council: str
    officer: str | None
    program: str
    track: str
    stage: str
    rule_version: str | None
    company: str | None  # 法人番号 / P-key; None: a new sole proprietor
    company_name: str
    company_facts: dict[str, Any]
    prior_uses: list[tuple[str, str | None, int, int]]
    prior_raw: str
    advisor: str
    affected: list[str]
    affected_note: str | None
    interim: bool
    guarantee_release: bool
    reuse_reason: str | None
    accepted_by: str | None
    dates: dict[str, date | None]
    lenders: list[tuple[str, date | None]]
    costs: list[tuple[str, int, int | None, date | None]]
    periods: list[_Period]
    payments: list[tuple[str, int | None, int, date]] | None
    closed_reason: str | None
    path: list[tuple[str, str, date]] = field(default_factory=list)  # (trigger, stage, on)


def _causes(v: Any, column: str) -> tuple[tuple[str, ...], str | None]:
    try:
        return causes(cause_items(_norm(v)))
    except KaizenError as e:
        raise RowError(column, e.message) from None


def _list(v: Any) -> list[str]:
    s = _norm(v)
    return [x for x in SEP.split(s) if x] if s else []


def _prior(v: Any) -> list[tuple[str, str | None, int, int]]:
    out = []
    for item in _list(v):
        m = re.fullmatch(r"(405|early)(?:/(\w+))?:(\d{4})(?::([\d,]+))?", item)
        if not m:
            raise RowError(
                "過去の利用",
                f"'{item}' は 事業[/枠]:年度[:支払額] で書いてください (例: 405/normal:2019:1500000)",
            )
        track = m[2]
        try:
            if track:
                catalog().definition(m[1], track)
        except UnknownProgramError as e:
            raise RowError("過去の利用", str(e)) from None
        paid = _amount(m[4], "過去の利用") if m[4] is not None else 0
        out.append((m[1], track, int(m[3]), paid))
    return out


def _lenders(v: Any) -> list[tuple[str, date | None]]:
    out = []
    for item in _list(v):
        name, _, on = item.partition("@")
        if not name.strip():
            raise RowError("金融機関", f"金融機関名が空です: '{item}'")
        out.append((name.strip(), _date(on, "金融機関") if on.strip() else None))
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise RowError("金融機関", "同じ金融機関が2回書かれています")
    return out


def _costs(v: Any) -> list[tuple[str, int, int | None, date | None]]:
    out = []
    for item in _list(v):
        m = re.fullmatch(r"(\w+)=([\d,]+)(?:/([\d,]+)(?:@(\S+))?)?", item)
        if not m:
            raise RowError(
                "費用",
                f"'{item}' は 区分=見積額[/支払額[@支払日]] で書いてください (例: dd_plan=2400000/2400000@2024-10-01)",
            )
        actual = _amount(m[3], "費用") if m[3] else None
        out.append((m[1], _amount(m[2], "費用"), actual, _date(m[4], "費用") if m[4] else None))
    cats = [c for c, *_ in out]
    if len(set(cats)) != len(cats):
        raise RowError("費用", "同じ費用区分が2回書かれています")
    return out


def _periods(v: Any) -> list[_Period]:
    out = []
    for item in _list(v):
        parts = [p.strip() for p in item.split("/")]
        if not 1 <= len(parts) <= 3 or not parts[0]:
            raise RowError(
                "モニタリング",
                f"'{item}' は 報告日[/伴走支払申請日[/支払日]] で書いてください",
            )
        parts += [""] * (3 - len(parts))
        rep = _date(parts[0], "モニタリング")
        assert rep is not None
        claim = _date(parts[1], "モニタリング") if parts[1] else None
        paid = _date(parts[2], "モニタリング") if parts[2] else None
        if paid is not None and claim is None:
            raise RowError("モニタリング", f"'{item}': 支払日には伴走支払申請日が必要です")
        out.append(_Period(rep, claim, paid))
    for p in out[:-1]:
        if p.paid is None:
            raise RowError("モニタリング", "支払の済んでいない期の後に次の期があります")
    return out


def _payments(v: Any) -> list[tuple[str, int | None, int, date]] | None:
    items = _list(v)
    if not items:
        return None
    out = []
    for item in items:
        m = re.fullmatch(r"(plan_first|plan_second|monitoring)(?:#(\d+))?=([\d,]+)@(\S+)", item)
        if not m:
            raise RowError(
                "支払",
                f"'{item}' は 種類[#期]=金額@支払日 で書いてください (例: plan_first=1000000@2024-10-30)",
            )
        on = _date(m[4], "支払")
        assert on is not None
        period = _count(int(m[2]), "支払") if m[2] else None
        if (m[1] == "monitoring") != (period is not None):
            raise RowError("支払", f"'{item}': 期 (#n) は monitoring の支払にだけ書きます")
        out.append((m[1], period, _amount(m[3], "支払"), on))
    return out


def parse_row(n: int, raw: dict[str, Any]) -> tuple[Row | None, list[RowProblem]]:
    """The typed row, or every problem found in its cells."""
    cat = catalog()
    problems: list[RowProblem] = []
    labels = {c.key: c.label for c in COLUMNS}

    def cell(key: str) -> Any:
        return raw.get(key)

    def attempt(key: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except RowError as e:
            problems.append(RowProblem(n, e.column or labels[key], e.message))
            return None

    for key in REQUIRED:
        if not _norm(cell(key)):
            problems.append(RowProblem(n, labels[key], "必須の項目が空です"))
    program = (
        attempt(
            "program",
            lambda: _choice(
                cell("program"),
                labels["program"],
                tuple(cat.programs),
                {k: p.short for k, p in cat.programs.items()},
            ),
        )
        if _norm(cell("program"))
        else None
    )
    track = "normal"
    if _norm(cell("track")):
        track = attempt(
            "track",
            lambda: _choice(
                cell("track"), labels["track"], tuple(cat.track_labels), dict(cat.track_labels)
            ),
        )
    if program and track:
        try:
            cat.definition(program, track)
        except UnknownProgramError as e:
            problems.append(RowProblem(n, labels["track"], str(e)))
    stage = (
        attempt(
            "stage",
            lambda: _choice(
                cell("stage"),
                labels["stage"],
                tuple(cat.stages),
                {k: s.label for k, s in cat.stages.items()},
            ),
        )
        if _norm(cell("stage"))
        else None
    )
    dates: dict[str, date | None] = {}
    for key in DATE_KEYS:
        dates[key] = attempt(key, partial(_date, cell(key), labels[key]))
    case_id = _norm(cell("case_id")) or None
    if case_id and not store.is_case_id(case_id):
        problems.append(
            RowProblem(n, labels["case_id"], f"案件番号は '40-2026-0007' の形式です: '{case_id}'")
        )
    council = _norm(cell("council"))
    company: str | None = _norm(cell("company")) or None
    form_text = _norm(cell("legal_form"))
    form = "株式会社"
    if form_text:
        try:
            form = canonical_legal_form(form_text)
        except ValueError as e:
            problems.append(RowProblem(n, labels["legal_form"], str(e)))
    if company is not None and not re.fullmatch(r"P\d{8}", company):
        try:
            company = validate_corporate_number(company)
        except InvalidCorporateNumber as e:
            problems.append(RowProblem(n, labels["company"], str(e)))
    elif company is None and form != "個人事業主":
        problems.append(
            RowProblem(
                n,
                labels["company"],
                "法人番号を入力してください (個人事業主は法人形態を 個人事業主 に)",
            )
        )
    facts: dict[str, Any] = {"legal_form": form if form_text else None}
    facts["fiscal_year_end"] = attempt(
        "fiscal_year_end", lambda: _int(cell("fiscal_year_end"), labels["fiscal_year_end"])
    )
    fye = facts["fiscal_year_end"]
    if fye is not None and not 1 <= fye <= 12:
        problems.append(RowProblem(n, labels["fiscal_year_end"], f"決算月は1から12です: {fye}"))
    industry = _norm(cell("industry"))
    facts["industry"] = (
        attempt(
            "industry",
            lambda: _choice(industry, labels["industry"], INDUSTRIES, dict(INDUSTRY_LABELS)),
        )
        if industry
        else None
    )
    facts["capital"] = attempt(
        "capital", lambda: _int(cell("capital"), labels["capital"], yen=True)
    )
    facts["employees"] = attempt("employees", lambda: _int(cell("employees"), labels["employees"]))
    affected, affected_note = attempt(
        "affected", lambda: _causes(cell("affected"), labels["affected"])
    ) or ((), None)
    row = Row(
        n=n,
        case_id=case_id,
        council=council,
        officer=_norm(cell("officer")) or None,
        program=program or "",
        track=track or "",
        stage=stage or "",
        rule_version=_norm(cell("rule_version")) or None,
        company=company,
        company_name=_norm(cell("company_name")),
        company_facts=facts,
        prior_uses=attempt("prior_uses", lambda: _prior(cell("prior_uses"))) or [],
        prior_raw=_norm(cell("prior_uses")),
        advisor=_norm(cell("advisor")),
        affected=list(affected),
        affected_note=affected_note,
        interim=bool(
            attempt(
                "interim_monitoring",
                lambda: _bool(cell("interim_monitoring"), labels["interim_monitoring"]),
            )
        ),
        guarantee_release=bool(
            attempt(
                "guarantee_release",
                lambda: _bool(cell("guarantee_release"), labels["guarantee_release"]),
            )
        ),
        reuse_reason=_norm(cell("reuse_reason")) or None,
        accepted_by=_norm(cell("accepted_by")) or None,
        dates=dates,
        lenders=attempt("lenders", lambda: _lenders(cell("lenders"))) or [],
        costs=attempt("costs", lambda: _costs(cell("costs"))) or [],
        periods=attempt("monitoring", lambda: _periods(cell("monitoring"))) or [],
        payments=attempt("payments", lambda: _payments(cell("payments"))),
        closed_reason=_norm(cell("closed_reason")) or None,
    )
    problems += [RowProblem(n, column, message) for column, message in _lengths(row)]
    if problems:
        return None, problems
    try:
        _plan_path(row)
    except RowError as e:
        return None, [RowProblem(n, e.column, e.message)]
    return row, []


def _plan_path(r: Row) -> None:
    """The steps from 相談 to the row's stage, dated from its columns (or refuse the row)."""
    cat = catalog()
    d = cat.definition(r.program, r.track)
    if r.stage not in d.stage_ids:
        raise RowError("段階", f"{cat.stage_label(r.stage)} は {d.key} の段階ではありません")
    label = {c.key: c.label for c in COLUMNS}
    line = main_line(d)
    dates = r.dates
    # How far the dates go on the main line.
    reached = 0
    for i, (trigger, _) in enumerate(line, 1):
        if dates.get(STEP_DATES[trigger]) is not None:
            reached = i
    closing = CLOSING.get(r.stage)
    if r.stage in ("monitoring", "monitoring_claim", "completed"):
        target = len(line)
    elif closing:
        target = reached
        if r.stage == "rejected":
            target = 1
        if r.periods:
            target = len(line)
    else:
        target = next((i for i, (_, st) in enumerate(line, 1) if st == r.stage), 0)
    if reached > target:
        t, _ = line[reached - 1]
        raise RowError(
            label[STEP_DATES[t]],
            f"段階 {cat.stage_label(r.stage)} の案件に {label[STEP_DATES[t]]} があります",
        )
    path: list[tuple[str, str, date]] = []
    prev = dates["opened_on"]
    assert prev is not None
    for trigger, stage in line[:target]:
        key = STEP_DATES[trigger]
        on = dates.get(key)
        if on is None:
            if trigger in ("start_planning", "submit_plan"):
                # Dates a spreadsheet may not keep: the step is taken on the previous date.
                on = dates.get("plan_recorded") if trigger == "submit_plan" else None
                on = max(on or prev, prev)
            else:
                raise RowError(
                    label[key], f"段階 {cat.stage_label(r.stage)} には {label[key]} が必要です"
                )
        path.append((trigger, stage, on))
        prev = on
    if r.periods and target < len(line):
        raise RowError("モニタリング", "支払決定前の案件にモニタリングの記録があります")
    total = None
    if r.periods:
        total = len(r.periods)
    for k, p in enumerate(r.periods, 1):
        assert p.reported is not None
        if p.claimed is not None:
            path.append(("claim_monitoring", "monitoring_claim", p.claimed))
            if p.paid is not None:
                last = r.stage == "completed" and k == total
                path.append(
                    (
                        "complete" if last else "pay_monitoring",
                        "completed" if last else "monitoring",
                        p.paid,
                    )
                )
    if r.stage == "monitoring_claim" and (
        not r.periods or r.periods[-1].claimed is None or r.periods[-1].paid
    ):
        raise RowError("モニタリング", "伴走支払申請の段階には、支払前の申請日のある期が必要です")
    if r.stage == "monitoring" and r.periods and r.periods[-1].claimed and not r.periods[-1].paid:
        raise RowError("モニタリング", "伴走支払申請中の期があります: 段階は 伴走支払申請 です")
    if r.stage == "completed" and (not r.periods or r.periods[-1].paid is None):
        raise RowError("モニタリング", "完了の案件には最後の期の支払日が必要です")
    if closing:
        on = dates.get("closed_on")
        if on is None:
            raise RowError("終了日", f"{cat.stage_label(r.stage)} の案件には終了日が必要です")
        if not r.closed_reason:
            raise RowError("終了理由", f"{cat.stage_label(r.stage)} の案件には終了理由が必要です")
        path.append((closing, r.stage, on))
    elif r.stage == "completed":
        if dates.get("closed_on") not in (None, path[-1][2]):
            raise RowError("終了日", "完了の案件の終了日は最後の支払日です")
    elif dates.get("closed_on") is not None:
        raise RowError("終了日", f"{cat.stage_label(r.stage)} の案件に終了日があります")
    r.path = path
