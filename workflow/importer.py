"""Cases in and out of spreadsheets: `import_cases` (CSV or XLSX) and `export_cases`.

The columns (docs/import.md) are what councils keep today: one row per case, with its
company, the company's uses before Kaizen, the dates the case passed each step, its lenders,
costs, monitoring periods and payments. `export_cases` writes the same columns, so an export
imports into an empty database and exports again to the same file.

Validation comes first and covers every row: the cells are parsed (all problems of a row are
listed, with the spreadsheet's row number — the header is row 1), then each row's history is
replayed on the engine's own pieces inside a savepoint: the same guards, effects (payments,
pinned rule version, validity) and milestone planning as `kaizen case advance`, so an imported
case is one the engine could have made. Nothing is written unless every row is good; with
`skip_bad=True` the good rows are written and the bad ones reported.

How an imported case's history is recorded (docs/import.md): one event of kind `import`
(trigger `import`, from nothing to 相談, on the consultation date, its reason naming the file
and row), then one `transition` event per step of the stage graph up to the current stage,
on the dates of the file, each with `{"import": file, "row": n}` in its detail. The steps are
needed because milestones and the funnel read them; `kaizen doctor` accepts an import only
as a case's first event. Revisions (計画修正) and the fees' history are not in the file: an
imported path is the straight one, and fees are the final amounts.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from states.calendar import fiscal_year, fiscal_year_bounds
from states.eligibility import INDUSTRIES, INDUSTRY_LABELS, canonical_legal_form
from states.ids import InvalidCorporateNumber, validate_corporate_number
from states.money import MoneyError, parse_yen
from states.programs import INITIAL_STAGE, Definition, UnknownProgramError, catalog
from storage.db import describe
from storage.models import (
    Case,
    Company,
    Cost,
    Council,
    Event,
    Lender,
    Milestone,
    MonitoringReport,
    Officer,
    Payment,
    PriorUse,
)
from workflow import access, milestones
from workflow.errors import (
    Conflict,
    GuardFailed,
    InvalidInput,
    KaizenError,
    NotFound,
    StorageError,
)
from workflow.exports import Column, Progress, Sheet, format_for, write
from workflow.reference import pick_version
from workflow.service import AFFECTED_CAUSES, CASE_ID, Kaizen
from workflow.views import Actor

# ---------------------------------------------------------------- the columns

COLUMNS: tuple[Column, ...] = (
    Column("case_id", "案件番号"),
    Column("council", "協議会"),
    Column("officer", "担当者"),
    Column("program", "事業"),
    Column("track", "枠"),
    Column("stage", "段階"),
    Column("rule_version", "規程"),
    Column("company", "法人番号"),
    Column("company_name", "会社名"),
    Column("fiscal_year_end", "決算月", "int"),
    Column("industry", "業種"),
    Column("capital", "資本金", "int"),
    Column("employees", "従業員数", "int"),
    Column("legal_form", "法人形態"),
    Column("prior_uses", "過去の利用"),
    Column("advisor", "認定支援機関"),
    Column("affected", "影響"),
    Column("interim_monitoring", "期中モニタリング"),
    Column("guarantee_release", "経営者保証解除"),
    Column("reuse_reason", "再利用の理由"),
    Column("accepted_by", "受付者"),
    Column("certificate_issued", "証明書発行日", "date"),
    Column("opened_on", "相談日", "date"),
    Column("applied_on", "利用申請日", "date"),
    Column("accepted_on", "受付日", "date"),
    Column("planning_on", "計画策定開始日", "date"),
    Column("plan_recorded", "計画登録日", "date"),
    Column("submitted_on", "計画提出日", "date"),
    Column("agreed_on", "金融機関合意日", "date"),
    Column("decided_on", "支払決定日", "date"),
    Column("valid_until", "有効期限", "date"),
    Column("lenders", "金融機関"),
    Column("costs", "費用"),
    Column("monitoring", "モニタリング"),
    Column("payments", "支払"),
    Column("closed_on", "終了日", "date"),
    Column("closed_reason", "終了理由"),
)
HEADERS = {c.label: c.key for c in COLUMNS} | {c.key: c.key for c in COLUMNS}
REQUIRED = ("council", "program", "stage", "opened_on")
DATE_KEYS = tuple(c.key for c in COLUMNS if c.kind == "date")

# The main line of the stage graph: the trigger into each stage and the column with its date.
STEP_DATES = {
    "apply": "applied_on",
    "accept": "accepted_on",
    "start_planning": "planning_on",
    "submit_plan": "submitted_on",
    "agree": "agreed_on",
    "decide_payment": "decided_on",
}
CLOSING = {"rejected": "reject", "withdrawn": "withdraw", "discontinued": "discontinue"}
PAYMENT_KINDS = ("plan_first", "plan_second", "monitoring")
YES = {"はい", "有", "あり", "○", "〇", "1", "true", "yes", "y", "対象"}
NO = {"", "いいえ", "無", "なし", "×", "0", "false", "no", "n", "-", "—", "対象外"}
SEP = re.compile(r"\s*[;；\n]\s*")


def main_line(d: Definition) -> list[tuple[str, str]]:
    """(trigger, stage) from 相談 to モニタリング along the definition's forward edges."""
    out: list[tuple[str, str]] = []
    stage = INITIAL_STAGE
    for trigger in ("apply", "accept", "start_planning", "submit_plan", "agree", "decide_payment"):
        if trigger not in d.triggers:
            continue
        t = d.transition(trigger)
        if stage in t.sources:
            out.append((trigger, t.dest))
            stage = t.dest
    return out


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class RowProblem:
    row: int  # spreadsheet row (the header is row 1)
    column: str | None
    message: str

    def text(self) -> str:
        where = f"{self.column}: " if self.column else ""
        return f"{self.row}行目: {where}{self.message}"


@dataclass(frozen=True)
class ImportResult:
    file: str
    rows: int
    written: int
    cases: list[str]
    companies: int
    problems: list[RowProblem]

    @property
    def bad_rows(self) -> list[int]:
        return sorted({p.row for p in self.problems})

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "rows": self.rows,
            "written": self.written,
            "cases": self.cases,
            "companies": self.companies,
            "bad_rows": self.bad_rows,
            "problems": [
                {"row": p.row, "column": p.column, "message": p.message} for p in self.problems
            ],
        }


class ImportRejected(InvalidInput):
    """Rows with problems and no `skip_bad`: nothing was written; `result` lists them all."""

    def __init__(self, result: ImportResult) -> None:
        rows = result.bad_rows
        shown = ", ".join(str(r) for r in rows[:10]) + (" …" if len(rows) > 10 else "")
        super().__init__(
            f"取込を中止しました: {len(rows)}行に問題があります (行 {shown}); 何も書き込んでいません"
            " (--skip-bad で正しい行だけ取り込めます)"
        )
        self.result = result


class _RowError(Exception):
    def __init__(self, column: str | None, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


# ---------------------------------------------------------------- reading files


def read_table(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """Header cells and (row number, {header: value}) for every non-empty row."""
    fmt = format_for(path)
    if not path.exists():
        raise NotFound(f"ファイルがありません: {path}")
    if fmt == "csv":
        return _read_csv(path)
    if fmt == "xlsx":
        return _read_xlsx(path)
    raise InvalidInput(f"取り込めるのは CSV と XLSX です: {path.name}")


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "cp932"):  # Excel's own "CSV" is Shift_JIS (cp932)
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InvalidInput(f"{path.name}: UTF-8 か Shift_JIS (cp932) で保存してください")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        raise InvalidInput(f"{path.name}: 空のファイルです (1行目は見出し)")
    header = [h.strip() for h in rows[0]]
    out = []
    for n, cells in enumerate(rows[1:], 2):
        if not any(c.strip() for c in cells):
            continue
        out.append((n, {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(header)}))
    return header, out


def _read_xlsx(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds for a file that is not a workbook
        raise InvalidInput(f"{path.name}: Excel ファイル (.xlsx) として読めません ({e})") from None
    try:
        ws = wb.worksheets[0]
        it = ws.iter_rows(values_only=True)
        first = next(it, None)
        if first is None:
            raise InvalidInput(f"{path.name}: 空のシートです (1行目は見出し)")
        header = ["" if h is None else str(h).strip() for h in first]
        out = []
        for n, cells in enumerate(it, 2):
            if all(c is None or str(c).strip() == "" for c in cells):
                continue
            out.append(
                (n, {h: (cells[i] if i < len(cells) else None) for i, h in enumerate(header)})
            )
        return header, out
    finally:
        wb.close()


# ---------------------------------------------------------------- parsing cells


def _norm(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return unicodedata.normalize("NFKC", str(v)).strip()


def _date(v: Any, column: str) -> date | None:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    s = _norm(v)
    if not s:
        return None
    m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]00:00(?::00)?)?", s)
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            pass
    raise _RowError(column, f"日付は YYYY-MM-DD で入力してください: '{s}'")


def _int(v: Any, column: str, *, yen: bool = False) -> int | None:
    if isinstance(v, bool):
        raise _RowError(column, f"数値を入力してください: {v!r}")
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    s = _norm(v)
    if not s:
        return None
    try:
        return parse_yen(s, column)
    except MoneyError:
        kind = "円単位の整数" if yen else "整数"
        raise _RowError(column, f"{kind}を入力してください: '{s}'") from None


def _bool(v: Any, column: str) -> bool:
    if isinstance(v, bool):
        return v
    s = _norm(v).lower()
    if s in YES:
        return True
    if s in NO:
        return False
    raise _RowError(column, f"はい / いいえ で入力してください: '{s}'")


def _choice(v: Any, column: str, ids: Sequence[str], labels: dict[str, str]) -> str:
    s = _norm(v)
    if s in ids:
        return s
    for key, label in labels.items():
        if s == label and key in ids:
            return key
    shown = "、".join(f"{i} ({labels[i]})" if i in labels else i for i in ids)
    raise _RowError(column, f"'{s}' は使えません: {shown}")


@dataclass
class _Period:
    reported: date
    claimed: date | None
    paid: date | None


@dataclass
class _Row:
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


def _list(v: Any) -> list[str]:
    s = _norm(v)
    return [x for x in SEP.split(s) if x] if s else []


def _prior(v: Any) -> list[tuple[str, str | None, int, int]]:
    out = []
    for item in _list(v):
        m = re.fullmatch(r"(405|early)(?:/(\w+))?:(\d{4})(?::([\d,]+))?", item)
        if not m:
            raise _RowError(
                "過去の利用",
                f"'{item}' は 事業[/枠]:年度[:支払額] で書いてください (例: 405/normal:2019:1500000)",
            )
        track = m[2]
        try:
            if track:
                catalog().definition(m[1], track)
        except UnknownProgramError as e:
            raise _RowError("過去の利用", str(e)) from None
        out.append((m[1], track, int(m[3]), int((m[4] or "0").replace(",", ""))))
    return out


def _lenders(v: Any) -> list[tuple[str, date | None]]:
    out = []
    for item in _list(v):
        name, _, on = item.partition("@")
        if not name.strip():
            raise _RowError("金融機関", f"金融機関名が空です: '{item}'")
        out.append((name.strip(), _date(on, "金融機関") if on.strip() else None))
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise _RowError("金融機関", "同じ金融機関が2回書かれています")
    return out


def _costs(v: Any) -> list[tuple[str, int, int | None, date | None]]:
    out = []
    for item in _list(v):
        m = re.fullmatch(r"(\w+)=([\d,]+)(?:/([\d,]+)(?:@(\S+))?)?", item)
        if not m:
            raise _RowError(
                "費用",
                f"'{item}' は 区分=見積額[/支払額[@支払日]] で書いてください (例: dd_plan=2400000/2400000@2024-10-01)",
            )
        actual = int(m[3].replace(",", "")) if m[3] else None
        out.append(
            (m[1], int(m[2].replace(",", "")), actual, _date(m[4], "費用") if m[4] else None)
        )
    cats = [c for c, *_ in out]
    if len(set(cats)) != len(cats):
        raise _RowError("費用", "同じ費用区分が2回書かれています")
    return out


def _periods(v: Any) -> list[_Period]:
    out = []
    for item in _list(v):
        parts = [p.strip() for p in item.split("/")]
        if not 1 <= len(parts) <= 3 or not parts[0]:
            raise _RowError(
                "モニタリング",
                f"'{item}' は 報告日[/伴走支払申請日[/支払日]] で書いてください",
            )
        parts += [""] * (3 - len(parts))
        rep = _date(parts[0], "モニタリング")
        assert rep is not None
        claim = _date(parts[1], "モニタリング") if parts[1] else None
        paid = _date(parts[2], "モニタリング") if parts[2] else None
        if paid is not None and claim is None:
            raise _RowError("モニタリング", f"'{item}': 支払日には伴走支払申請日が必要です")
        out.append(_Period(rep, claim, paid))
    for p in out[:-1]:
        if p.paid is None:
            raise _RowError("モニタリング", "支払の済んでいない期の後に次の期があります")
    return out


def _payments(v: Any) -> list[tuple[str, int | None, int, date]] | None:
    items = _list(v)
    if not items:
        return None
    out = []
    for item in items:
        m = re.fullmatch(r"(plan_first|plan_second|monitoring)(?:#(\d+))?=([\d,]+)@(\S+)", item)
        if not m:
            raise _RowError(
                "支払",
                f"'{item}' は 種類[#期]=金額@支払日 で書いてください (例: plan_first=1000000@2024-10-30)",
            )
        on = _date(m[4], "支払")
        assert on is not None
        period = int(m[2]) if m[2] else None
        if (m[1] == "monitoring") != (period is not None):
            raise _RowError("支払", f"'{item}': 期 (#n) は monitoring の支払にだけ書きます")
        out.append((m[1], period, int(m[3].replace(",", "")), on))
    return out


def parse_row(n: int, raw: dict[str, Any]) -> tuple[_Row | None, list[RowProblem]]:
    """The typed row, or every problem found in its cells."""
    cat = catalog()
    problems: list[RowProblem] = []
    labels = {c.key: c.label for c in COLUMNS}

    def cell(key: str) -> Any:
        return raw.get(key)

    def attempt(key: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except _RowError as e:
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
    if case_id and not CASE_ID.match(case_id):
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
    affected = [x for x in re.split(r"[,、\s]+", _norm(cell("affected"))) if x]
    bad = [x for x in affected if x not in AFFECTED_CAUSES]
    if bad:
        problems.append(
            RowProblem(
                n,
                labels["affected"],
                f"{', '.join(AFFECTED_CAUSES)} から選んでください: {', '.join(bad)}",
            )
        )
    row = _Row(
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
        affected=sorted(set(affected)),
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
    if problems:
        return None, problems
    try:
        _plan_path(row)
    except _RowError as e:
        return None, [RowProblem(n, e.column, e.message)]
    return row, []


def _plan_path(r: _Row) -> None:
    """The steps from 相談 to the row's stage, dated from its columns (or refuse the row)."""
    cat = catalog()
    d = cat.definition(r.program, r.track)
    if r.stage not in d.stage_ids:
        raise _RowError("段階", f"{cat.stage_label(r.stage)} は {d.key} の段階ではありません")
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
        raise _RowError(
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
                raise _RowError(
                    label[key], f"段階 {cat.stage_label(r.stage)} には {label[key]} が必要です"
                )
        path.append((trigger, stage, on))
        prev = on
    if r.periods and target < len(line):
        raise _RowError("モニタリング", "支払決定前の案件にモニタリングの記録があります")
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
        raise _RowError("モニタリング", "伴走支払申請の段階には、支払前の申請日のある期が必要です")
    if r.stage == "monitoring" and r.periods and r.periods[-1].claimed and not r.periods[-1].paid:
        raise _RowError("モニタリング", "伴走支払申請中の期があります: 段階は 伴走支払申請 です")
    if r.stage == "completed" and (not r.periods or r.periods[-1].paid is None):
        raise _RowError("モニタリング", "完了の案件には最後の期の支払日が必要です")
    if closing:
        on = dates.get("closed_on")
        if on is None:
            raise _RowError("終了日", f"{cat.stage_label(r.stage)} の案件には終了日が必要です")
        if not r.closed_reason:
            raise _RowError("終了理由", f"{cat.stage_label(r.stage)} の案件には終了理由が必要です")
        path.append((closing, r.stage, on))
    elif r.stage == "completed":
        if dates.get("closed_on") not in (None, path[-1][2]):
            raise _RowError("終了日", "完了の案件の終了日は最後の支払日です")
    elif dates.get("closed_on") is not None:
        raise _RowError("終了日", f"{cat.stage_label(r.stage)} の案件に終了日があります")
    r.path = path


# ---------------------------------------------------------------- writing histories


class CaseHistory:
    """Writes one case's history in an open session, on the engine's own pieces.

    `move` runs the engine's own transition step (`Kaizen.apply_trigger`: the shared
    machine, every guard, dates, pinned rule, payments, version) and collects the event rows
    to write them together; `replan` is `Kaizen.replan`. Loading, viewing and re-planning
    after every step (what `advance` does for one officer's command) would cost ~100 ms per
    case, and the demo and the importer write hundreds of cases.
    """

    def __init__(self, eng: Kaizen, s: Session, case: Case, company: Company, seq: int = 0) -> None:
        self.eng = eng
        self.s = s
        self.case = case
        self.company = company
        self.seq = seq
        self.last = case.last_event_on
        self.events: list[dict[str, Any]] = []
        self.moves: list[tuple[str, date]] = []  # (trigger, date) of the transitions so far
        self.fresh = True  # opened here: no milestone rows yet

    @classmethod
    def open(
        cls,
        eng: Kaizen,
        s: Session,
        case: Case,
        company: Company,
        actor: Actor,
        *,
        kind: str = "transition",
        trigger: str = "open",
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> CaseHistory:
        """Add the case at 相談 with its first event, as `Kaizen.open_case` does."""
        s.add(case)
        s.flush()  # as open_case does: the case row before the rows that name it
        h = cls(eng, s, case, company)
        h.event(
            kind=kind,
            trigger=trigger,
            frm=None,
            to=case.stage,
            on=case.opened_on,
            actor=actor,
            reason=reason,
            detail=detail,
        )
        return h

    def event(
        self,
        *,
        kind: str,
        trigger: str,
        frm: str | None,
        to: str,
        on: date,
        actor: Actor,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """The row `Kaizen._event` writes; `seq` is counted here and the rows go in together."""
        self.seq += 1
        if kind != "fact":
            self.moves.append((trigger, on))
        self.events.append(
            {
                "case_id": self.case.id,
                "seq": self.seq,
                "kind": kind,
                "trigger": trigger,
                "from_stage": frm,
                "to_stage": to,
                "effective_on": on,
                "recorded_at": self.eng.now(),
                "actor": actor.id,
                "reason": reason,
                "detail": json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
            }
        )

    def fact(self, fact: str, on: date, actor: Actor, detail: dict[str, Any]) -> None:
        """The event and version bump `Kaizen._fact` adds around a recorded fact."""
        self.eng.touch(self.case)
        self.event(
            kind="fact",
            trigger=fact,
            frm=self.case.stage,
            to=self.case.stage,
            on=on,
            actor=actor,
            detail=detail,
        )

    def move(
        self,
        trigger: str,
        on: date,
        actor: Actor,
        *,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """`Kaizen.advance`, step by step (service.py), without reloading and viewing."""
        eng, s, case = self.eng, self.s, self.case
        if on < self.last:
            raise InvalidInput(f"{trigger} の日付 {on} が前の記録日 {self.last} より前です")
        if on > eng.today():
            raise InvalidInput(f"{trigger} の日付 {on} は未来の日付です (今日は {eng.today()})")
        # Everything the guards read is in memory or already flushed (`report`, prior uses):
        # no flush per step, the rows go out together.
        with s.no_autoflush:
            frm, _ = eng.apply_trigger(s, case, self.company, actor, trigger, on, reason)
        self.event(
            kind="transition",
            trigger=trigger,
            frm=frm,
            to=case.stage,
            on=on,
            actor=actor,
            reason=reason,
            detail=detail,
        )
        self.last = on

    def report(self, period: int, on: date) -> None:
        """A monitoring report row (flushed: the next step's guards query reports)."""
        self.s.add(MonitoringReport(case_id=self.case.id, period=period, reported_on=on))
        self.s.flush()

    def write_events(self) -> None:
        if self.events:
            # Core executemany: the rows need no ORM identity (nothing reads them back here).
            self.s.connection().execute(insert(Event), self.events)
            self.events = []

    def planned(self) -> list[milestones.Planned]:
        """The milestones `_replan` would write now (the engine's planner, nothing written)."""
        case = self.case
        rules = self.eng.rules_of(case) or pick_version(
            self.eng.settings, case.applied_on or case.opened_on
        )
        return milestones.compute(
            milestones.CaseDates(
                program=case.program,
                fiscal_year_end=self.company.fiscal_year_end,
                interim_monitoring=case.interim_monitoring,
                opened_on=case.opened_on,
                certificate_issued=case.certificate_issued,
                applied_on=case.applied_on,
                accepted_on=case.accepted_on,
                agreed_on=case.agreed_on,
                decided_on=case.decided_on,
                valid_until=case.valid_until,
                stage=case.stage,
            ),
            self.moves,
            rules,
            self.eng.calendar,
        )

    def replan(self) -> None:
        """The milestones, as `_replan` writes them.

        A case opened here has no milestone rows yet, and for such a case `_replan` inserts
        the planner's rows (the undone ones left out once the case is closed): they are
        written in one statement. Later calls use `_replan` itself.
        """
        self.write_events()
        self.s.flush()
        if not self.fresh:
            self.eng.replan(self.s, self.case, self.company)
            return
        case = self.case
        closed = case.stage in catalog().definition(case.program, case.track).final_stages
        rows = [
            {
                "case_id": case.id,
                "key": m.key,
                "label": m.label,
                "stage": m.stage,
                "due": m.due,
                "done_on": m.done_on,
            }
            for m in self.planned()
            if not (closed and m.done_on is None)
        ]
        if rows:
            self.s.connection().execute(insert(Milestone), rows)
        self.fresh = False


# ---------------------------------------------------------------- import


@dataclass
class _Refs:
    """What the rows refer to, read once: councils, officers, companies, case ids."""

    councils: set[str]
    officers: dict[str, Actor]
    companies: dict[str, Company]
    case_ids: set[str]
    seqs: dict[str, int] = field(default_factory=dict)


def import_cases(
    k: Kaizen,
    actor_id: str,
    path: Path,
    *,
    skip_bad: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Validate every row, then write all of them (or, with `skip_bad`, the good ones)."""
    header, raw_rows = read_table(path)
    unknown = [h for h in header if h and h not in HEADERS]
    keyed = [{HEADERS[h]: v for h, v in row.items() if h in HEADERS} for _, row in raw_rows]
    problems: list[RowProblem] = []
    if unknown:
        problems.append(RowProblem(1, None, f"不明な見出し: {', '.join(unknown)} (docs/import.md)"))
    present = {HEADERS[h] for h in header if h in HEADERS}
    missing = [c.label for c in COLUMNS if c.key in REQUIRED and c.key not in present]
    if missing:
        problems.append(RowProblem(1, None, f"必須の見出しがありません: {', '.join(missing)}"))
    if problems:
        raise ImportRejected(ImportResult(path.name, len(raw_rows), 0, [], 0, problems))
    parsed: list[_Row] = []
    for (n, _), raw in zip(raw_rows, keyed, strict=True):
        row, errs = parse_row(n, raw)
        problems += errs
        if row is not None:
            parsed.append(row)
    _cross_check(parsed, problems)
    bad = {p.row for p in problems}
    actor = k.whoami(actor_id)
    try:
        with k.db.transaction() as s:
            refs = _refs(s)
            written: list[str] = []
            companies = 0
            total = len(parsed)
            for i, row in enumerate(parsed, 1):
                if row.n not in bad:
                    sp = s.begin_nested()
                    try:
                        cid, new_company = _write_row(k, s, actor, refs, row, path.name)
                        sp.commit()
                        written.append(cid)
                        companies += new_company
                    except _RowError as e:
                        sp.rollback()
                        problems.append(RowProblem(row.n, e.column, e.message))
                        _forget(refs, s)
                    except KaizenError as e:
                        sp.rollback()
                        problems.append(RowProblem(row.n, None, e.message))
                        _forget(refs, s)
                if progress is not None:
                    progress(i, total)
            problems.sort(key=lambda p: p.row)
            result = ImportResult(
                path.name, len(raw_rows), len(written), written, companies, problems
            )
            if problems and not skip_bad:
                raise ImportRejected(ImportResult(path.name, len(raw_rows), 0, [], 0, problems))
            return result
    except KaizenError:
        raise
    except IntegrityError as e:
        raise Conflict(f"取込中に同じデータが登録されました: {describe(e)}") from None
    except DBAPIError as e:
        raise StorageError(describe(e, k.db.url)) from None


def _forget(refs: _Refs, s: Session) -> None:
    """After a savepoint rolled back, the row's objects are gone: re-read what we cached."""
    s.expire_all()
    fresh = _refs(s)
    refs.companies, refs.case_ids, refs.seqs = fresh.companies, fresh.case_ids, {}


def _refs(s: Session) -> _Refs:
    return _Refs(
        councils=set(s.scalars(select(Council.code))),
        officers={
            o.id: Actor(o.id, o.name, o.role, o.council_code)
            for o in s.scalars(select(Officer).where(Officer.active.is_(True)))
        },
        companies={c.key: c for c in s.scalars(select(Company))},
        case_ids=set(s.scalars(select(Case.id))),
    )


def _cross_check(rows: list[_Row], problems: list[RowProblem]) -> None:
    """What no single row shows: a case id twice, one company described two ways."""
    seen_ids: dict[str, int] = {}
    companies: dict[str, _Row] = {}
    for r in rows:
        if r.case_id:
            if r.case_id in seen_ids:
                problems.append(
                    RowProblem(
                        r.n, "案件番号", f"{r.case_id} は {seen_ids[r.case_id]}行目にもあります"
                    )
                )
            seen_ids.setdefault(r.case_id, r.n)
        if r.company is None:
            continue
        first = companies.setdefault(r.company, r)
        if first is r:
            continue
        for what, a, b in (
            ("会社名", first.company_name, r.company_name),
            ("過去の利用", first.prior_raw, r.prior_raw),
            *(
                (k, first.company_facts.get(k), r.company_facts.get(k))
                for k in ("fiscal_year_end", "industry", "capital", "employees", "legal_form")
            ),
        ):
            if a and b and a != b:
                label = {c.key: c.label for c in COLUMNS}.get(str(what), str(what))
                problems.append(
                    RowProblem(
                        r.n, label, f"同じ会社 {r.company} の {label} が {first.n}行目と異なります"
                    )
                )


def _write_row(
    k: Kaizen, s: Session, actor: Actor, refs: _Refs, r: _Row, source: str
) -> tuple[str, int]:
    cat = catalog()
    d = cat.definition(r.program, r.track)
    if r.council not in refs.councils:
        raise _RowError("協議会", f"協議会 {r.council} が見つかりません ('kaizen council list')")
    if not access.can_see_council(actor, r.council):
        raise _RowError("協議会", f"{actor.id} は協議会 {r.council} の案件を取り込めません")
    officer = refs.officers.get(r.officer or actor.id)
    if officer is None:
        raise _RowError("担当者", f"担当者 {r.officer} が登録されていません ('kaizen officer add')")
    if officer.role != "admin" and officer.council != r.council:
        raise _RowError("担当者", f"担当者 {officer.id} は協議会 {r.council} の所属ではありません")
    accepter = officer if r.accepted_by is None else refs.officers.get(r.accepted_by)
    if accepter is None:
        raise _RowError("受付者", f"担当者 {r.accepted_by} が登録されていません")
    since = cat.track_since.get(r.track)
    opened = r.dates["opened_on"]
    assert opened is not None
    if since and opened < since:
        raise _RowError("相談日", f"{cat.track_labels[r.track]}は {since} からです")
    if opened > k.today():
        raise _RowError("相談日", f"{opened} は未来の日付です")
    if r.interim and r.program != "early":
        raise _RowError("期中モニタリング", "期中モニタリングは早期経営改善 (early) の案件だけです")
    if r.guarantee_release and d.key != "405/normal":
        raise _RowError(
            "経営者保証解除", "経営者保証解除は 405 通常枠の案件だけです (早期は guarantee 枠)"
        )
    today = k.today()
    # Every date is something that happened (the validity date is a deadline: not checked).
    happened = [v for key, v in r.dates.items() if key != "valid_until"]
    every = [*happened, *(on for _, on in r.lenders), *(x[3] for x in r.costs)]
    every += [x for p in r.periods for x in (p.reported, p.claimed, p.paid)]
    every += [x[3] for x in r.payments or []]
    if any(x is not None and x > today for x in every):
        raise _RowError(None, f"未来の日付があります (今日は {today})")
    applied = r.dates["applied_on"]
    for name, consented in r.lenders:
        if consented is not None and (applied is None or consented < applied):
            raise _RowError("金融機関", f"{name} の同意・受領日 {consented} が利用申請日より前です")
    company, new_company = _company(k, s, refs, r)
    # The case id: as given, or the engine's next number for the council and 年度.
    prefix = f"{r.council}-{fiscal_year(opened)}-"
    if r.case_id:
        if not r.case_id.startswith(prefix):
            raise _RowError(
                "案件番号",
                f"{r.case_id} は協議会 {r.council}・相談日の年度 ({prefix}…) と合いません",
            )
        if r.case_id in refs.case_ids:
            raise _RowError("案件番号", f"案件 {r.case_id} は既に登録されています")
        cid = r.case_id
    else:
        if prefix not in refs.seqs:
            taken = [int(c.rsplit("-", 1)[1]) for c in refs.case_ids if c.startswith(prefix)]
            refs.seqs[prefix] = max(taken, default=0)
        refs.seqs[prefix] += 1
        cid = f"{prefix}{refs.seqs[prefix]:04d}"
    case = Case(
        id=cid,
        program=r.program,
        track=r.track,
        council_code=r.council,
        company_key=company.key,
        officer_id=officer.id,
        advisor=r.advisor,
        stage=INITIAL_STAGE,
        affected=",".join(r.affected),
        interim_monitoring=r.interim,
        guarantee_release=r.guarantee_release,
        opened_on=opened,
        last_event_on=opened,
        periods_paid=0,
        updated_at=k.now(),
    )
    detail = {"import": source, "row": r.n}
    h = CaseHistory.open(
        k,
        s,
        case,
        company,
        actor,
        kind="import",
        trigger="import",
        reason=f"取込: {source} {r.n}行目",
        detail=detail,
    )
    refs.case_ids.add(cid)
    options = {
        o
        for o, on in (("guarantee_release", r.guarantee_release), ("interim_monitoring", r.interim))
        if on
    }
    allowed = {c.id: c for c in d.categories_for(options)}
    for cat_id, est, _act, _paid in r.costs:
        if cat_id not in allowed:
            raise _RowError(
                "費用",
                f"費用区分 '{cat_id}' はこの案件 ({d.key}) にありません: {', '.join(allowed)}",
            )
        case.costs.append(Cost(category=cat_id, estimate=est))
    for name, _ in r.lenders:
        case.lenders.append(Lender(name=name))
    case.certificate_issued = r.dates["certificate_issued"]
    by_cat = {c.category: c for c in case.costs}
    reports = {i: p for i, p in enumerate(r.periods, 1)}
    for trigger, _stage, on in r.path:
        who = accepter if trigger == "accept" else actor
        reason = None
        if trigger == "apply":
            reason = r.reuse_reason
        elif trigger in ("reject", "withdraw", "discontinue"):
            reason = r.closed_reason
        # The facts each step needs, set from the row just before it (as an officer would).
        if trigger == "submit_plan":
            case.plan_recorded = r.dates["plan_recorded"] or on
        elif trigger == "agree":
            for lender, (_, consented) in zip(case.lenders, r.lenders, strict=True):
                lender.consented_on = consented
        elif trigger == "decide_payment":
            for cat_id, _est, act, paid_on in r.costs:
                if allowed[cat_id].phase == "plan" and act is not None:
                    _fee(case, by_cat[cat_id], act, paid_on or on)
        elif trigger == "claim_monitoring":
            period = case.periods_paid + 1
            p = reports[period]
            h.report(period, p.reported)
            if period == len(r.periods) or p.paid is None:
                for cat_id, _est, act, paid_on in r.costs:
                    if allowed[cat_id].phase == "monitoring" and act is not None:
                        _fee(case, by_cat[cat_id], act, paid_on or on)
        try:
            h.move(trigger, on, who, reason=reason, detail=detail)
        except GuardFailed as e:
            raise _RowError(None, e.message) from None
        except KaizenError as e:
            raise _RowError(None, e.message) from None
    # What the steps did not set: facts recorded after the last step.
    case.plan_recorded = r.dates["plan_recorded"] or case.plan_recorded
    for lender, (_, consented) in zip(case.lenders, r.lenders, strict=True):
        lender.consented_on = consented
    for cat_id, _est, act, paid_on in r.costs:
        if act is not None and by_cat[cat_id].actual is None:
            if case.accepted_on is None:
                raise _RowError("費用", "受付前の支払は補助の対象外です (事前着手不可)")
            _fee(case, by_cat[cat_id], act, paid_on or case.last_event_on)
    for cost in case.costs:
        if cost.paid_on is not None and case.accepted_on and cost.paid_on < case.accepted_on:
            raise _RowError(
                "費用", f"{cost.category} の支払日 {cost.paid_on} が受付日より前です (事前着手不可)"
            )
    claimed = sum(1 for p in r.periods if p.claimed is not None)
    if len(r.periods) > claimed:  # a report recorded for a period not claimed yet
        h.report(claimed + 1, r.periods[-1].reported)
    if r.dates["valid_until"] is not None:
        case.valid_until = r.dates["valid_until"]
    _check_rule_version(r, case)
    if r.payments is not None:
        _replace_payments(s, case, r)
    h.replan()
    return cid, new_company


def _fee(case: Case, cost: Cost, amount: int, paid_on: date) -> None:
    if case.accepted_on is None or paid_on < case.accepted_on:
        raise _RowError(
            "費用",
            f"{cost.category} の支払日 {paid_on} が受付日 {case.accepted_on} より前です (事前着手不可)",
        )
    cost.actual, cost.paid_on = amount, paid_on


def _check_rule_version(r: _Row, case: Case) -> None:
    if r.rule_version is None or r.rule_version == case.rule_version:
        return
    if case.rule_version is None:
        raise _RowError(
            "規程", "規程は利用申請日から決まります: 申請前の案件には書かないでください"
        )
    raise _RowError(
        "規程",
        f"規程 {r.rule_version} は利用申請日 {case.applied_on} の規程 {case.rule_version} と異なります",
    )


def _replace_payments(s: Session, case: Case, r: _Row) -> None:
    """The file's payments instead of the ones the replay computed from the final fees."""
    assert r.payments is not None
    if case.decided_on is None:
        raise _RowError("支払", "支払決定前の案件に支払があります")
    s.flush()
    for old in s.scalars(select(Payment).where(Payment.case_id == case.id)):
        s.delete(old)
    for kind, period, amount, on in r.payments:
        if period is not None and period > case.periods_paid:
            raise _RowError(
                "支払", f"第{period}期の支払がありますが、支払済みは{case.periods_paid}期です"
            )
        if on < case.decided_on:
            raise _RowError("支払", f"支払日 {on} が支払決定日 {case.decided_on} より前です")
        s.add(Payment(case_id=case.id, kind=kind, period=period, amount=amount, paid_on=on))


def _company(k: Kaizen, s: Session, refs: _Refs, r: _Row) -> tuple[Company, int]:
    facts = r.company_facts
    existing = refs.companies.get(r.company) if r.company else None
    if existing is not None:
        if r.company_name and r.company_name != existing.name:
            raise _RowError(
                "会社名", f"会社 {existing.key} は「{existing.name}」として登録済みです"
            )
        have = {
            (u.program, u.track, u.fiscal_year, u.paid)
            for u in s.scalars(select(PriorUse).where(PriorUse.company_key == existing.key))
        }
        for use in r.prior_uses:
            if use not in have:
                _prior_use(k, s, existing.key, use, r)
                have.add(use)
        return existing, 0
    missing = [label for key, label in (("fiscal_year_end", "決算月"),) if facts.get(key) is None]
    if not r.company_name:
        missing.insert(0, "会社名")
    if missing:
        raise _RowError(None, f"新しい会社には {'・'.join(missing)} が必要です")
    key = r.company
    if key is None:
        n = sum(1 for c in refs.companies if c.startswith("P"))
        key = f"P{n + 1:08d}"
    company = Company(
        key=key,
        name=r.company_name,
        fiscal_year_end=int(facts["fiscal_year_end"]),
        industry=facts.get("industry") or "other",
        capital=facts.get("capital"),
        employees=facts.get("employees"),
        legal_form=facts.get("legal_form") or ("個人事業主" if key.startswith("P") else "株式会社"),
        created_at=k.now(),
    )
    s.add(company)
    s.flush()  # no relationship orders it before the case rows that name it
    refs.companies[key] = company
    for use in r.prior_uses:
        _prior_use(k, s, key, use, r)
    return company, 1


def _prior_use(
    k: Kaizen, s: Session, key: str, use: tuple[str, str | None, int, int], r: _Row
) -> None:
    program, track, fy, paid = use
    if fy > fiscal_year(k.today()):
        raise _RowError("過去の利用", f"年度 {fy} は未来です")
    s.add(
        PriorUse(
            company_key=key,
            program=program,
            track=track,
            fiscal_year=fy,
            paid=paid,
            note=f"取込 ({r.n}行目)",
            recorded_at=k.now(),
            recorded_by=r.officer or "import",
        )
    )
    s.flush()


# ---------------------------------------------------------------- export


@dataclass(frozen=True)
class ExportResult:
    file: str
    format: str
    rows: int


def case_sheet(
    k: Kaizen, actor_id: str, *, council: str | None = None, fiscal_year_: int | None = None
) -> Sheet:
    """Every case the actor may see, in the import's columns (one query per table)."""
    with k.db.reading() as s:
        actor = k.whoami(actor_id)
        q = select(Case).order_by(Case.id)
        if council is not None:
            if s.get(Council, council) is None:
                raise NotFound(f"協議会 {council} が見つかりません")
            access.require_council(actor, council)
            q = q.where(Case.council_code == council)
        elif actor.role != "admin":
            q = q.where(Case.council_code == actor.council)
        if fiscal_year_ is not None:
            first, last = fiscal_year_bounds(fiscal_year_)
            q = q.where(Case.opened_on >= first, Case.opened_on <= last)
        cases = list(s.scalars(q))
        ids = [c.id for c in cases]
        keys = {c.company_key for c in cases}
        companies = {c.key: c for c in s.scalars(select(Company).where(Company.key.in_(keys)))}
        priors: dict[str, list[PriorUse]] = {}
        for u in s.scalars(
            select(PriorUse).where(PriorUse.company_key.in_(keys)).order_by(PriorUse.id)
        ):
            priors.setdefault(u.company_key, []).append(u)
        lenders = _group(
            s.scalars(select(Lender).where(Lender.case_id.in_(ids)).order_by(Lender.id))
        )
        costs = _group(s.scalars(select(Cost).where(Cost.case_id.in_(ids)).order_by(Cost.category)))
        pays = _group(
            s.scalars(select(Payment).where(Payment.case_id.in_(ids)).order_by(Payment.id))
        )
        reps = _group(
            s.scalars(
                select(MonitoringReport)
                .where(MonitoringReport.case_id.in_(ids))
                .order_by(MonitoringReport.period)
            )
        )
        events = _group(
            s.scalars(
                select(Event)
                .where(Event.case_id.in_(ids), Event.kind != "fact")
                .order_by(Event.case_id, Event.seq)
            )
        )
    cat = catalog()
    rows = [
        _export_row(
            c,
            companies[c.company_key],
            priors.get(c.company_key, []),
            lenders.get(c.id, []),
            costs.get(c.id, []),
            pays.get(c.id, []),
            reps.get(c.id, []),
            events.get(c.id, []),
            cat,
        )
        for c in cases
    ]
    return Sheet(
        title="案件一覧 (取込形式)",
        columns=COLUMNS,
        rows=rows,
        notes=(f"Kaizen の案件 {len(rows)}件 (docs/import.md の列)",),
    )


def _group(items: Iterable[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for x in items:
        out.setdefault(x.case_id, []).append(x)
    return out


def _d(v: date | None) -> str:
    return v.isoformat() if v else ""


def _export_row(
    c: Case,
    co: Company,
    priors: list[PriorUse],
    lenders: list[Lender],
    costs: list[Cost],
    pays: list[Payment],
    reps: list[MonitoringReport],
    events: list[Event],
    cat: Any,
) -> dict[str, Any]:
    first: dict[str, Event] = {}
    for e in events:
        first.setdefault(e.trigger, e)
    claims = [e for e in events if e.trigger == "claim_monitoring"]
    paid = [e for e in events if e.trigger in ("pay_monitoring", "complete")]
    periods = []
    for i, rep in enumerate(reps):
        parts = [rep.reported_on.isoformat()]
        if i < len(claims):
            parts.append(claims[i].effective_on.isoformat())
            if i < len(paid):
                parts.append(paid[i].effective_on.isoformat())
        periods.append("/".join(parts))
    closing = next(
        (e for e in reversed(events) if e.trigger in ("reject", "withdraw", "discontinue")), None
    )
    accept = first.get("accept")
    # The steps of the straight path to where the case is (or was, when it closed): a plan
    # sent back by the lenders (計画修正) is in planning again, without its first submission.
    line = main_line(cat.definition(c.program, c.track))
    where = closing.from_stage if closing and closing.from_stage else c.stage
    reached = {st: i for i, (_, st) in enumerate(line, 1)}.get(
        where, len(line) if where in ("monitoring", "monitoring_claim", "completed") else 0
    )
    taken = {t for t, _ in line[:reached]}

    def on(trigger: str) -> date | None:
        e = first.get(trigger)
        return e.effective_on if e and trigger in taken else None

    def cost(x: Cost) -> str:
        text = f"{x.category}={x.estimate if x.estimate is not None else 0}"
        if x.actual is not None:
            text += f"/{x.actual}" + (f"@{x.paid_on.isoformat()}" if x.paid_on else "")
        return text

    return {
        "case_id": c.id,
        "council": c.council_code,
        "officer": c.officer_id,
        "program": c.program,
        "track": c.track,
        "stage": cat.stage_label(c.stage),
        "rule_version": c.rule_version or "",
        "company": co.key,
        "company_name": co.name,
        "fiscal_year_end": co.fiscal_year_end,
        "industry": co.industry,
        "capital": co.capital,
        "employees": co.employees,
        "legal_form": co.legal_form,
        "prior_uses": "; ".join(
            f"{u.program}{'/' + u.track if u.track else ''}:{u.fiscal_year}:{u.paid}"
            for u in priors
        ),
        "advisor": c.advisor,
        "affected": c.affected,
        "interim_monitoring": c.interim_monitoring,
        "guarantee_release": c.guarantee_release,
        "reuse_reason": c.reuse_reason or "",
        "accepted_by": accept.actor if accept and accept.actor != c.officer_id else "",
        "certificate_issued": c.certificate_issued,
        "opened_on": c.opened_on,
        "applied_on": c.applied_on,
        "accepted_on": c.accepted_on,
        "planning_on": on("start_planning"),
        "plan_recorded": c.plan_recorded,
        "submitted_on": on("submit_plan"),
        "agreed_on": c.agreed_on,
        "decided_on": c.decided_on,
        "valid_until": c.valid_until,
        "lenders": "; ".join(
            x.name + (f"@{x.consented_on.isoformat()}" if x.consented_on else "") for x in lenders
        ),
        "costs": "; ".join(cost(x) for x in costs),
        "monitoring": "; ".join(periods),
        "payments": "; ".join(
            f"{p.kind}{'#' + str(p.period) if p.period else ''}={p.amount}@{p.paid_on.isoformat()}"
            for p in pays
        ),
        "closed_on": closing.effective_on if closing else (on("complete")),
        "closed_reason": closing.reason or "" if closing else "",
    }


def export_cases(
    k: Kaizen,
    actor_id: str,
    path: Path,
    *,
    council: str | None = None,
    fiscal_year_: int | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the cases as CSV or XLSX (by the suffix), in the import's columns."""
    if path.suffix.lower() not in (".csv", ".xlsx"):
        raise InvalidInput(f"案件の書き出しは .csv か .xlsx です: {path.name}")
    fmt = format_for(path)
    try:
        sheet = case_sheet(k, actor_id, council=council, fiscal_year_=fiscal_year_)
    except DBAPIError as e:
        raise StorageError(describe(e, k.db.url)) from None
    write(sheet, path, progress)
    return ExportResult(path.name, fmt, len(sheet.rows))


__all__ = [
    "COLUMNS",
    "CaseHistory",
    "ExportResult",
    "ImportRejected",
    "ImportResult",
    "RowProblem",
    "case_sheet",
    "export_cases",
    "import_cases",
    "main_line",
]
