"""Cases in and out of spreadsheets: validation, --skip-bad, round trips, CSV BOM, XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.models import Case, Company, Event, Milestone, Payment, PriorUse
from workflow.clock import FixedClock
from workflow.config import Settings
from workflow.demo import clear_cases, run_demo
from workflow.doctor import check_database
from workflow.exports import Column, Sheet, excel_value, jst_naive, write_xlsx
from workflow.importer import COLUMNS, ImportRejected, export_cases, import_cases
from workflow.service import Kaizen
from workflow.setup import init_database

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "cases.csv"
NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 2026-11-20 10:00 JST


@pytest.fixture
def k(db_url: str) -> Iterator[Kaizen]:
    eng, _ = init_database(Settings(db_url=db_url), FixedClock(NOW), "admin")
    eng.add_officer("admin", "saga", name="佐賀", council="41", role="officer")
    yield eng
    eng.db.dispose()


def counts(k: Kaizen) -> dict[str, int]:
    with k.db.reading() as s:
        return {
            m.__tablename__: int(s.scalar(select(func.count()).select_from(m)) or 0)
            for m in (Case, Company, PriorUse, Event, Milestone, Payment)
        }


def rows_of(path: Path) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
    return rows[0], rows[1:]


def write_rows(
    path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8-sig"
) -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f, lineterminator="\r\n").writerows([header, *rows])
    return path


def bad_file(tmp_path: Path) -> Path:
    """The documented example with five rows spoilt, one problem each (rows 2–6)."""
    header, rows = rows_of(EXAMPLE)
    col = header.index
    rows[0][col("相談日")] = "2026/13/01"  # row 2: no such date
    rows[1][col("段階")] = "審査中"  # row 3: no such stage
    rows[2][col("協議会")] = ""  # row 4: required
    rows[3][col("法人番号")] = "3320001045679"  # row 5: check digit
    rows[4][col("証明書発行日")] = "2024-12-01"  # row 6: too old at 利用申請 (a guard)
    return write_rows(tmp_path / "bad.csv", header, rows)


# ---------------------------------------------------------------- import


def test_the_documented_example_imports(k: Kaizen) -> None:
    result = import_cases(k, "admin", EXAMPLE)
    assert (result.rows, result.written, result.problems) == (7, 7, [])
    stages = {v.company_name: v.stage for v in (k.show("admin", c) for c in result.cases)}
    assert stages["株式会社博多精工"] == "planning"
    assert stages["久留米精機株式会社"] == "completed"
    assert stages["株式会社別府ホテル"] == "withdrawn"
    assert stages["吉田商店"] == "consultation"
    n, problems = check_database(k.db, k.settings)
    assert (n, problems) == (7, [])


def test_imported_cases_say_so_in_their_events(k: Kaizen) -> None:
    result = import_cases(k, "admin", EXAMPLE)
    view = k.show("admin", next(c for c in result.cases if c.startswith("40-2023")))
    first, *rest = view.events
    assert (first.kind, first.trigger, first.from_stage, first.to_stage) == (
        "import",
        "import",
        None,
        "consultation",
    )
    assert first.reason == "取込: cases.csv 5行目"
    assert [e.trigger for e in rest] == [
        "apply",
        "accept",
        "submit_plan",
        "agree",
        "decide_payment",
        "claim_monitoring",
        "complete",
    ]
    assert all(e.detail == {"import": "cases.csv", "row": 5} for e in rest)
    # Milestones as the engine plans them: every one done, on its step's date.
    assert view.milestones and all(m.done for m in view.milestones)
    pays = k.subsidy("admin", view.id).payments
    assert [(p["kind"], p["amount"]) for p in pays] == [
        # 計画策定支援費用 (150,000 cap) is split; 金融機関交渉費用 (100,000) is paid whole
        ("plan_first", 175_000),
        ("plan_second", 75_000),
        ("monitoring", 50_000),  # 80,000 × 2/3 capped at 50,000
    ]


def test_a_bad_file_is_refused_with_every_row_and_nothing_written(
    k: Kaizen, tmp_path: Path
) -> None:
    before = counts(k)
    with pytest.raises(ImportRejected) as err:
        import_cases(k, "admin", bad_file(tmp_path))
    result = err.value.result
    assert result.bad_rows == [2, 3, 4, 5, 6]
    assert result.written == 0
    by_row = {p.row: p for p in result.problems}
    assert by_row[2].column == "相談日"
    assert by_row[3].column == "段階" and "審査中" in by_row[3].message
    assert by_row[4].column == "協議会"
    assert "チェックデジット" in by_row[5].message
    assert "履歴事項全部証明書が古すぎます" in by_row[6].message
    assert "2, 3, 4, 5, 6" in err.value.message and "何も書き込んでいません" in err.value.message
    assert counts(k) == before


def test_skip_bad_writes_the_good_rows_and_reports_the_rest(k: Kaizen, tmp_path: Path) -> None:
    result = import_cases(k, "admin", bad_file(tmp_path), skip_bad=True)
    assert result.bad_rows == [2, 3, 4, 5, 6]
    assert result.written == 2
    assert counts(k)["cases"] == 2
    assert counts(k)["companies"] == 2  # a bad row leaves no company behind


def test_an_unknown_or_missing_header_is_row_1(k: Kaizen, tmp_path: Path) -> None:
    header, rows = rows_of(EXAMPLE)
    header[header.index("協議会")] = "協議会名"
    with pytest.raises(ImportRejected) as err:
        import_cases(k, "admin", write_rows(tmp_path / "h.csv", header, rows))
    assert [p.row for p in err.value.result.problems] == [1, 1]
    assert "協議会名" in err.value.result.problems[0].message


def test_cross_row_problems(k: Kaizen, tmp_path: Path) -> None:
    header, rows = rows_of(EXAMPLE)
    col = header.index
    rows[1][col("案件番号")] = rows[0][col("案件番号")] = "40-2026-0001"
    rows[1][col("協議会")] = "40"
    dup = list(rows[2])
    dup[col("会社名")] = "別の名前株式会社"
    rows.append(dup)
    with pytest.raises(ImportRejected) as err:
        import_cases(k, "admin", write_rows(tmp_path / "x.csv", header, rows))
    messages = {p.row: p.message for p in err.value.result.problems}
    assert "2行目にもあります" in messages[3]
    assert "4行目と異なります" in messages[9]


def test_an_officer_imports_only_their_council(k: Kaizen) -> None:
    result = import_cases(k, "saga", EXAMPLE, skip_bad=True)
    assert result.written == 1  # the 佐賀 row
    assert all("協議会 4" in p.message for p in result.problems)


def test_a_shift_jis_csv_from_excel_imports(k: Kaizen, tmp_path: Path) -> None:
    header, rows = rows_of(EXAMPLE)
    path = write_rows(tmp_path / "sjis.csv", header, rows, encoding="cp932")
    assert import_cases(k, "admin", path).written == 7


# ---------------------------------------------------------------- export and round trips


def test_export_import_export_gives_the_same_file(k: Kaizen, tmp_path: Path) -> None:
    import_cases(k, "admin", EXAMPLE)
    first, again = tmp_path / "first.csv", tmp_path / "again.csv"
    assert export_cases(k, "admin", first).rows == 7
    with k.db.transaction() as s:
        clear_cases(s)
    assert counts(k)["cases"] == 0
    assert import_cases(k, "admin", first).written == 7
    export_cases(k, "admin", again)
    assert again.read_bytes() == first.read_bytes()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_demo_database_round_trips_through_csv_and_xlsx(db_url: str, tmp_path: Path) -> None:
    k, result = run_demo(Settings(db_url=db_url), FixedClock(NOW), "admin", cases=40, seed=5)
    first = tmp_path / "first.csv"
    export_cases(k, "admin", first)
    book = tmp_path / "cases.xlsx"
    export_cases(k, "admin", book)
    for source in (first, book):
        with k.db.transaction() as s:
            clear_cases(s)
        assert import_cases(k, "admin", source).written == result.cases
        again = tmp_path / f"again-{source.suffix[1:]}.csv"
        export_cases(k, "admin", again)
        assert again.read_bytes() == first.read_bytes(), source.name
    assert check_database(k.db, k.settings)[1] == []
    k.db.dispose()


def test_csv_starts_with_a_bom_and_has_japanese_headers(k: Kaizen, tmp_path: Path) -> None:
    import_cases(k, "admin", EXAMPLE)
    path = tmp_path / "cases.csv"
    export_cases(k, "admin", path)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").splitlines()[0].split(",")[:3] == [
        "案件番号",
        "協議会",
        "担当者",
    ]
    assert b"\r\n" in data  # Excel's line ends


def test_xlsx_opens_with_openpyxl_frozen_header_and_dates(k: Kaizen, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    import_cases(k, "admin", EXAMPLE)
    path = tmp_path / "cases.xlsx"
    export_cases(k, "admin", path)
    ws = load_workbook(path).active
    assert ws.freeze_panes == "A2"
    assert [c.value for c in ws[1]] == [c.label for c in COLUMNS]
    assert all(c.font.bold for c in ws[1])
    opened = [c.key for c in COLUMNS].index("opened_on") + 1
    number = [c.key for c in COLUMNS].index("company") + 1
    cell = ws.cell(row=2, column=opened)
    assert isinstance(cell.value, datetime) and cell.number_format == "yyyy-mm-dd"
    assert isinstance(ws.cell(row=2, column=number).value, str)  # 13 digits stay text
    widths = {ws.column_dimensions[chr(64 + i)].width for i in range(1, 10)}
    assert all(w and 6 <= w <= 60 for w in widths)
    assert ws.max_row == 8


def test_excel_values_are_japan_time_and_naive(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    at = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)  # 2026-04-01 01:30 JST
    assert jst_naive(at) == datetime(2026, 4, 1, 1, 30)
    assert excel_value(at).tzinfo is None
    assert excel_value(True) == "はい"
    with pytest.raises(ValueError):
        jst_naive(datetime(2026, 1, 1))
    sheet = Sheet(
        "t",
        (
            Column("at", "日時", "datetime"),
            Column("on", "日付", "date"),
            Column("n", "金額", "yen"),
        ),
        [{"at": at, "on": date(2026, 4, 1), "n": 1_234_567}],
    )
    write_xlsx(sheet, tmp_path / "t.xlsx")
    ws = load_workbook(tmp_path / "t.xlsx").active
    assert ws["A2"].value == datetime(2026, 4, 1, 1, 30)
    assert ws["C2"].number_format == "#,##0"


def test_export_refuses_an_unknown_format_and_writes_nothing(k: Kaizen, tmp_path: Path) -> None:
    from workflow.errors import InvalidInput

    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InvalidInput):
        export_cases(k, "admin", out / "cases.txt")
    with pytest.raises(InvalidInput):
        export_cases(k, "admin", out / "missing" / "cases.csv")
    assert list(out.iterdir()) == []


def test_the_example_file_is_documented() -> None:
    doc = (EXAMPLE.parents[1] / "import.md").read_text("utf-8")
    for c in COLUMNS:
        assert f"| {c.label} |" in doc, c.label
    assert "docs/examples/cases.csv" in doc
