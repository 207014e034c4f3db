"""`kaizen report …`, `import cases`, `export cases` and the case timeline, as a user sees them.

Snapshots: each report of a small demo database (seed 3, 30 cases, 2026-06-01) rendered at 100
columns, kept in tests/cli/snapshots/. After a deliberate change, regenerate them with
`KAIZEN_UPDATE_SNAPSHOTS=1 pytest tests/cli/test_reports_cli.py` and review the diff.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import struct
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console

from workflow.clock import FixedClock
from workflow.config import Settings

SNAPSHOTS = Path(__file__).parent / "snapshots"
REPORTS = ("board", "overdue", "workload", "funnel", "budget")
NOW = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)  # run_cli's pinned clock: 2026-06-01 10:00 JST
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "cases.csv"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small demo database, shared by the read-only tests of this module."""
    from workflow.demo import run_demo

    path = tmp_path_factory.mktemp("reports-cli") / "demo.db"
    k, _ = run_demo(
        Settings(db_url=f"sqlite:///{path}"), FixedClock(NOW), "admin", seed=3, cases=30
    )
    k.add_officer("admin", "saga.test", name="佐賀 試験", council="41", role="officer")
    k.db.dispose()
    return str(path)


@pytest.fixture
def run(run_cli: Any, demo_db: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    monkeypatch.setenv("COLUMNS", "100")

    def go(*args: str, user: str = "admin", width: int = 100) -> Any:
        monkeypatch.setenv("COLUMNS", str(width))
        return run_cli(*args, user=user, db=demo_db)

    return go


def check_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("KAIZEN_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, "utf-8")
    if not path.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, "utf-8")
        pytest.fail(f"snapshot {path.name} written: review it and run again")
    assert text == path.read_text("utf-8"), f"{name} differs from {path} (see module docstring)"


# ---------------------------------------------------------------- terminal views


@pytest.mark.parametrize("name", REPORTS)
def test_report_snapshot_at_100_columns(run: Any, name: str) -> None:
    r = run("report", name, "--limit", "15")
    assert (r.code, r.err) == (0, "")
    check_snapshot(f"report_{name}", r.out)


@pytest.mark.parametrize("width", [80, 200])
@pytest.mark.parametrize("name", REPORTS)
def test_reports_fit_80_and_200_columns_with_japanese_intact(
    run: Any, name: str, width: int
) -> None:
    r = run("report", name, width=width)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert max(cell_len(line) for line in lines) <= width
    words = {
        "board": ("金融機関協議", "伴走支払申請", "鹿児島"),
        "overdue": ("期限超過のマイルストーン",),
        "workload": ("統括責任者", "担当者"),
        "funnel": ("金融機関協議", "中央値"),
        "budget": ("通常枠", "千円"),
    }[name]
    for w in words:
        assert w in r.out, (w, width)


def test_long_lists_are_cut_with_a_note(run: Any) -> None:
    full = json.loads(run("report", "overdue", "--json").out)["rows"]
    assert len(full) > 5
    r = run("report", "overdue", "--limit", "5")
    assert f"… 他 {len(full) - 5} 件 (--csv で全件)" in r.out


def test_an_officer_sees_only_their_council(run: Any) -> None:
    r = run("report", "board", "--json", user="saga.test")
    assert {x["council"] for x in json.loads(r.out)["rows"]} <= {"41"}
    denied = run("report", "board", "--council", "40", user="saga.test")
    assert denied.code == 4 and denied.out == ""


# ---------------------------------------------------------------- JSON


def test_board_json_shape_and_totals(run: Any) -> None:
    doc = json.loads(run("report", "board", "--json").out)
    assert set(doc) >= {"rows"}
    assert doc["rows"] and all(
        set(x) >= {"council", "stage", "count", "overdue"} for x in doc["rows"]
    )
    assert sum(x["count"] for x in doc["rows"]) == 30
    cases = json.loads(run("case", "list", "--all", "--json").out)["cases"]
    assert len(cases) == 30  # the board counts closed cases too


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        ("overdue", {"case", "council", "officer", "due", "days_late", "milestone"}),
        ("workload", {"officer", "open_cases", "overdue_items"}),
        ("funnel", {"fiscal_year", "stage", "reached", "median_days", "p90_days"}),
        ("budget", {"fiscal_year", "program", "track", "decided", "paid", "forecast"}),
    ],
)
def test_report_json_shapes(run: Any, name: str, keys: set[str]) -> None:
    r = run("report", name, "--json", "--fiscal-year", "2024")
    assert r.code == 0 and r.err == ""
    doc = json.loads(r.out)
    assert doc["report"] == name and doc["fiscal_year"] == 2024 and doc["today"] == "2026-06-01"
    assert doc["rows"] and all(keys <= set(x) for x in doc["rows"])


# ---------------------------------------------------------------- files


def test_report_files_csv_xlsx_html(run: Any, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    rows = json.loads(run("report", "budget", "--json").out)["rows"]
    for flag, name in (("--csv", "b.csv"), ("--xlsx", "b.xlsx"), ("--html", "b.html")):
        r = run("report", "budget", flag, str(tmp_path / name))
        assert r.code == 0 and f"{len(rows)}行" in r.out
    data = (tmp_path / "b.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0][:3] == ["年度", "事業", "枠"] and len(table) == len(rows) + 1
    ws = load_workbook(tmp_path / "b.xlsx").active
    assert ws.freeze_panes == "A2" and ws.max_row == len(rows) + 1
    assert isinstance(ws["F2"].value, int) and ws["F2"].number_format == "#,##0"


class _Structure(HTMLParser):
    VOID = frozenset({"meta", "br", "img", "link", "input", "hr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[str] = []
        self.th: list[str] = []
        self.rows = 0
        self.external: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "href") and v:
                self.external.append(v)
        if tag in self.VOID:
            return
        self.stack.append(tag)
        if tag == "tr" and "tbody" in self.stack:
            self.rows += 1
        self._in = tag

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "th":
            self.th.append(data)


def test_html_is_one_self_contained_well_formed_page(run: Any, tmp_path: Path) -> None:
    path = tmp_path / "overdue.html"
    assert run("report", "overdue", "--html", str(path)).code == 0
    rows = json.loads(run("report", "overdue", "--json").out)["rows"]
    text = path.read_text("utf-8")
    assert text.startswith("<!DOCTYPE html>")
    p = _Structure()
    p.feed(text)
    p.close()
    assert p.errors == [] and p.stack == []
    assert p.tags[:2] == ["html", "head"] and "body" in p.tags and "table" in p.tags
    assert "script" not in p.tags and "link" not in p.tags and p.external == []
    assert '<meta charset="utf-8">' in text and 'lang="ja"' in text
    assert p.th[:3] == ["案件番号", "協議会", "担当者ID"]
    assert p.rows == len(rows)
    assert "期限超過のマイルストーン" in text


def test_html_renders_in_headless_chromium(run: Any, tmp_path: Path) -> None:
    browser = (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )
    if browser is None:
        pytest.skip("chromium is not installed: the page's structure is checked by the test above")
    page, shot = tmp_path / "board.html", tmp_path / "board.png"
    assert run("report", "board", "--html", str(page)).code == 0
    try:
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,900",
             f"--screenshot={shot}", page.as_uri()],
            check=True, capture_output=True, timeout=90,
        )  # fmt: skip
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"chromium could not take a screenshot here: {e}")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1200, 900)
    assert len(data) > 15_000  # a blank page compresses to a few kilobytes


# ---------------------------------------------------------------- mistakes


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("report", "board", "--council", "99"), 3, "協議会 99 が見つかりません"),
        (("report", "board", "--json", "--csv", "x.csv"), 2, "同時に指定できません"),
        (("report", "board", "--csv", "nowhere/x.csv"), 2, "フォルダがありません"),
        (("report", "board", "--xlsx", "."), 2, "フォルダです"),
        (("report", "board", "--fiscal-year", "1999"), 2, "2000〜2027 の年度を指定してください"),
        (("report", "board", "--fiscal-year", "2028"), 2, "2000〜2027 の年度を指定してください"),
        (("report", "board", "--fiscal-year", "0"), 2, "2000〜2027"),
        (("report", "board", "--fiscal-year", "-1"), 2, "2000〜2027"),
        (("report", "budget", "--fiscal-year", "99999"), 2, "2000〜2027"),
        (("export", "cases", "x.csv", "--fiscal-year", "99999"), 2, "2000〜2027"),
        (("export", "cases", "x.csv", "--fiscal-year", "0"), 2, "2000〜2027"),
        (("report", "board", "--fiscal-year", "abc"), 2, "--fiscal-year"),
        (("report", "nope"), 2, "nope"),
        (("export", "cases", "x.txt"), 2, ".csv か .xlsx"),
        (("import", "cases", "none.csv"), 3, "ファイルがありません"),
    ],
)
def test_mistakes_are_one_line_and_write_nothing(
    run: Any, args: tuple[str, ...], code: int, message: str, tmp_path: Path
) -> None:
    before = set(Path.cwd().iterdir())
    r = run(*args)
    assert r.code == code, r.err
    assert message in r.err
    assert r.err.count("\n") == 1 and r.out == ""
    assert set(Path.cwd().iterdir()) == before


# ---------------------------------------------------------------- import / export


@pytest.fixture
def fresh(run_cli: Any, db_url: str) -> Callable[..., Any]:
    from cli.app import set_clock
    from tests.conftest import pinned_clock

    set_clock(pinned_clock("2026-11-20T10:00:00+09:00"))  # after the example's dates

    def go(*args: str, user: str = "admin") -> Any:
        return run_cli(*args, user=user, db=db_url, now="2026-11-20T10:00:00+09:00")

    from workflow.setup import init_database

    k, _ = init_database(Settings(db_url=db_url), FixedClock(NOW), "admin")
    k.db.dispose()
    return go


def test_import_a_bad_file_lists_every_row_and_writes_nothing(fresh: Any, tmp_path: Path) -> None:
    rows = list(csv.reader(io.StringIO(EXAMPLE.read_bytes().decode("utf-8-sig"))))
    rows[2][rows[0].index("相談日")] = "2026/13/01"
    rows[5][rows[0].index("協議会")] = "99"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(",".join(r) for r in rows), "utf-8")
    r = fresh("import", "cases", str(bad))
    assert r.code == 2 and r.out == ""
    assert "kaizen: 取込を中止しました: 2行に問題があります (行 3, 6)" in r.err
    assert "相談日" in r.err and "協議会 99 が見つかりません" in r.err
    assert "0件の案件" in fresh("export", "cases", str(tmp_path / "none.csv")).out
    j = fresh("import", "cases", str(bad), "--json")
    assert j.code == 2
    doc = json.loads(j.out)
    assert (doc["written"], doc["bad_rows"]) == (0, [3, 6])
    ok = fresh("import", "cases", str(bad), "--skip-bad")
    assert ok.code == 0 and "7行のうち 5件の案件を取り込みました" in ok.out
    assert "取り込まなかった行: 2行" in ok.out


def test_import_then_export_from_the_command_line(fresh: Any, tmp_path: Path) -> None:
    r = fresh("import", "cases", str(EXAMPLE), "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["written"] == 7
    out = tmp_path / "cases.csv"
    e = fresh("export", "cases", str(out))
    assert e.code == 0 and "7件の案件" in e.out
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert "━" not in r.out + e.out  # no progress bar in a pipe


def test_progress_bar_only_on_a_terminal() -> None:
    from cli.reports import progress_bar

    with progress_bar(Console(file=io.StringIO()), "取込") as tick:
        assert tick is None
    term = Console(file=io.StringIO(), force_terminal=True, width=80)
    with progress_bar(term, "取込") as tick:
        assert tick is not None
        tick(5, 10)


# ---------------------------------------------------------------- case timeline


def test_case_show_draws_the_timeline_against_today(run: Any) -> None:
    cases = json.loads(run("case", "list", "--json").out)["cases"]
    live = next(c["id"] for c in cases if c["stage"] in ("planning", "monitoring", "application"))
    for width in (80, 200):
        r = run("case", "show", live, width=width)
        assert r.code == 0
        assert "スケジュール" in r.out and "今日 2026-06-01" in r.out and "▲" in r.out
        assert "● 完了  ○ 予定  ✗ 期限超過" in r.out
        assert max(cell_len(line) for line in r.out.splitlines()) <= width
