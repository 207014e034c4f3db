"""The columns of a case spreadsheet (docs/import.md), the import's results, and reading a
CSV or XLSX file into header and rows. Shared by `kaizen import cases` and `export cases`."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from states.programs import INITIAL_STAGE, Definition
from workflow.errors import InvalidInput, NotFound
from workflow.exports import Column, format_for

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


class RowError(Exception):
    def __init__(self, column: str | None, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


# ---------------------------------------------------------------- reading files


MAX_CELL = 32_767  # Excel's own limit for the text of one cell


def read_table(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """Header cells and (row number, {header: value}) for every non-empty row.

    Every text cell goes through `states.text.clean_text` (zero-width and bidi characters
    dropped; surrogates, control characters other than tab and line breaks, and cells longer
    than Excel allows refused): a file with such cells is rejected with every one of them
    listed by row and column, before any row is parsed.
    """
    fmt = format_for(path)
    if not path.exists():
        raise NotFound(f"ファイルがありません: {path}")
    if not path.is_file():  # a directory named x.csv, a FIFO…
        raise InvalidInput(f"ファイルではありません: {path}")
    if fmt == "csv":
        return _cleaned(path, *_read_csv(path))
    if fmt == "xlsx":
        return _cleaned(path, *_read_xlsx(path))
    raise InvalidInput(f"取り込めるのは CSV と XLSX です: {path.name}")


def _cleaned(
    path: Path, header: list[str], rows: list[tuple[int, dict[str, Any]]]
) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    from states.text import TextProblem, clean_text

    problems: list[RowProblem] = []

    def clean(n: int, column: str, v: Any) -> Any:
        if not isinstance(v, str):
            return v
        try:
            return clean_text(v, column or "見出し", limit=MAX_CELL, fold=False, lines=True)
        except TextProblem as e:
            problems.append(RowProblem(n, column or None, str(e)))
            return ""

    header = [clean(1, "", h) for h in header]
    rows = [(n, {h: clean(n, h, v) for h, v in cells.items()}) for n, cells in rows]
    if problems:
        raise ImportRejected(ImportResult(path.name, len(rows), 0, [], 0, problems))
    return header, rows


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
