"""Files for offices: one table written as CSV (utf-8-sig), XLSX (openpyxl) or one HTML page.

A `Sheet` is a title, typed columns with Japanese headers, and rows of plain values (str, int,
float, date, datetime, bool, None). Reports and the case export both produce sheets, so every
format is written in one place:
- CSV is `utf-8-sig` with CRLF line ends, so Japanese Excel opens it without mojibake.
- XLSX has Japanese headers, a frozen header row, an auto filter, widths from the East Asian
  width of the content, dates as real Excel dates; instants are shown in JST (openpyxl refuses
  aware datetimes, so `excel_value` is the one place they become naive JST).
- HTML is one self-contained page (inline CSS, no scripts, no external resources) that a
  supervisor opens in a browser or attaches to a mail; every value is HTML-escaped.

Text cells are data, never formulas (OWASP "CSV injection"): a text that starts with `=`, `+`,
`-`, `@`, tab or CR, or their full-width forms `＝＋－＠`, gets a leading apostrophe
(`neutral`) in CSV and XLSX, and XLSX text cells are written as explicit strings. Numbers and
dates stay typed. The importer removes exactly that one apostrophe, so an export imports back
as it was (a text that already starts with apostrophes before such a character gets one more).
"""

from __future__ import annotations

import csv
import html
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.cells import cell_len

from workflow.errors import InvalidInput, StorageError

JST = ZoneInfo("Asia/Tokyo")

# Column kinds: how a value is written and aligned.
KINDS = ("text", "int", "year", "yen", "date", "datetime", "days", "percent")
NUMERIC = ("int", "year", "yen", "days", "percent")
FORMATS = ("csv", "xlsx", "html")

Progress = Callable[[int, int], None]

# A text a spreadsheet would evaluate, possibly behind apostrophes an earlier round added.
FORMULA_START: re.Pattern[str] = re.compile(r"'*[=+\-@\t\r＝＋－＠]")


def neutral(text: str) -> str:
    """`text` as a cell no spreadsheet evaluates: a leading apostrophe before a formula start."""
    return "'" + text if FORMULA_START.match(text) else text


@dataclass(frozen=True)
class Column:
    key: str
    label: str  # Japanese header, as offices read it
    kind: str = "text"


@dataclass(frozen=True)
class Sheet:
    title: str
    columns: tuple[Column, ...]
    rows: Sequence[dict[str, Any]]
    notes: tuple[str, ...] = ()  # lines under the title: filters, date, rules used
    footer: tuple[str, ...] = field(default=())


def format_for(path: Path) -> str:
    """The file format from the suffix: .csv, .xlsx or .html/.htm."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".xlsx":
        return "xlsx"
    if suffix in (".html", ".htm"):
        return "html"
    raise InvalidInput(f"ファイルの形式が分かりません: {path.name} (.csv / .xlsx / .html)")


def jst_naive(v: datetime) -> datetime:
    """An instant as a naive Japan-time datetime (what Excel and people expect to see)."""
    if v.tzinfo is None:
        raise ValueError("naive datetime refused: Kaizen keeps aware UTC inside")
    return v.astimezone(JST).replace(tzinfo=None)


def excel_value(v: Any, kind: str = "text") -> Any:
    """A cell value openpyxl accepts: aware instants become naive JST, the rest stays typed."""
    if isinstance(v, datetime):
        return jst_naive(v)
    if isinstance(v, bool):
        return "はい" if v else "いいえ"
    if isinstance(v, str):
        return neutral(v)
    return v


def text_value(v: Any, kind: str = "text") -> str:
    """A cell as text (CSV, HTML, terminal): ISO dates, JST instants, plain integers."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "はい" if v else "いいえ"
    if isinstance(v, datetime):
        return jst_naive(v).isoformat(sep=" ", timespec="minutes")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float):
        return f"{v:.1f}"
    return str(v)


def display_value(v: Any, kind: str = "text") -> str:
    """A cell for people (HTML, terminal): yen with separators, percentages with %."""
    if v is None:
        return "—" if kind in NUMERIC else ""
    if kind == "yen" and isinstance(v, int):
        return f"{v:,}"
    if kind == "int" and isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    if kind == "percent" and isinstance(v, int | float):
        return f"{v:.1f}%"
    return text_value(v, kind)


def atomic(path: Path, write: Callable[[Path], None], mode: int = 0o644) -> None:
    """Write to a temporary file beside `path`, then rename: a failure leaves nothing behind.
    The file is readable by the group and others (0644, as `cp` would make it), not mkstemp's
    0600: exports are handed on."""
    if path.is_dir():
        raise InvalidInput(f"{path} はフォルダです: ファイル名を指定してください")
    if not path.parent.exists():
        raise InvalidInput(f"フォルダがありません: {path.parent}")
    fd, tmp = tempfile.mkstemp(prefix=".kaizen-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise StorageError(f"ファイルを書けません: {path} ({e.strerror or e})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _put(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _ticks(rows: Sequence[Any], progress: Progress | None) -> Iterable[tuple[int, Any]]:
    total = len(rows)
    step = max(total // 100, 1)
    for i, r in enumerate(rows, 1):
        yield i, r
        if progress is not None and (i % step == 0 or i == total):
            progress(i, total)


def csv_text(sheet: Sheet, progress: Progress | None = None) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([c.label for c in sheet.columns])
    for _, row in _ticks(sheet.rows, progress):
        w.writerow([_csv_cell(row.get(c.key), c.kind) for c in sheet.columns])
    return buf.getvalue()


def _csv_cell(v: Any, kind: str) -> str:
    """A CSV cell: text neutralised (a number such as -5 stays a number)."""
    return neutral(v) if isinstance(v, str) else text_value(v, kind)


def write_csv(sheet: Sheet, path: Path, progress: Progress | None = None) -> None:
    data = csv_text(sheet, progress).encode("utf-8-sig")
    atomic(path, lambda p: _put(p, data))


def _width(values: Iterable[str], floor: int = 6, ceiling: int = 60) -> float:
    """Excel width units ≈ terminal cells: a full-width character counts two."""
    widest = max((cell_len(v) for v in values), default=0)
    return float(min(max(widest + 2, floor), ceiling))


def write_xlsx(sheet: Sheet, path: Path, progress: Progress | None = None) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    # Excel's limits on sheet names: 31 characters, none of []:*?/\
    ws.title = re.sub(r"[\[\]:*?/\\]", "・", sheet.title)[:31] or "Kaizen"
    ws.append([c.label for c in sheet.columns])
    head_font = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in ws[1]:
        cell.font = head_font
        cell.fill = head_fill
        cell.alignment = Alignment(vertical="center")
    samples: list[list[str]] = [[c.label] for c in sheet.columns]
    for i, row in _ticks(sheet.rows, progress):
        for j, c in enumerate(sheet.columns, 1):
            value = excel_value(row.get(c.key), c.kind)
            cell = ws.cell(row=i + 1, column=j, value=value)
            if isinstance(value, str):  # never a formula nor an error code such as #N/A
                cell.data_type = "s"
        if i <= 500:  # widths from the first rows: enough to size, cheap on big exports
            for j, c in enumerate(sheet.columns):
                samples[j].append(display_value(row.get(c.key), c.kind))
    for j, c in enumerate(sheet.columns, 1):
        letter = get_column_letter(j)
        ws.column_dimensions[letter].width = _width(samples[j - 1])
        fmt = {
            "date": "yyyy-mm-dd",
            "datetime": "yyyy-mm-dd hh:mm",
            "yen": "#,##0",
            "int": "#,##0",
            "year": "0",
            "days": "0.0",
            "percent": "0.0",
        }.get(c.kind)
        if fmt:
            for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                cell.number_format = fmt
    ws.freeze_panes = "A2"
    if sheet.rows:
        ws.auto_filter.ref = ws.dimensions
    atomic(path, lambda p: wb.save(p))


CSS = """
body{font-family:"Hiragino Sans","Yu Gothic","Meiryo","Noto Sans CJK JP",sans-serif;
margin:24px;color:#1f2933;background:#fff}
h1{font-size:20px;margin:0 0 4px}
p.note{margin:2px 0;color:#52606d;font-size:13px}
table{border-collapse:collapse;margin-top:12px;font-size:13px}
th,td{border:1px solid #cbd2d9;padding:4px 8px;white-space:nowrap}
th{background:#ddebf7;text-align:left;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#f5f7fa}
tr.total td{font-weight:bold;background:#e4e7eb}
td.alert{color:#b42318;font-weight:bold}
footer{margin-top:12px;color:#7b8794;font-size:12px}
""".strip()


def html_page(sheet: Sheet, progress: Progress | None = None) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="ja">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(sheet.title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{e(sheet.title)}</h1>",
    ]
    out += [f'<p class="note">{e(n)}</p>' for n in sheet.notes]
    out.append("<table>")
    out.append(
        "<thead><tr>"
        + "".join(f'<th scope="col">{e(c.label)}</th>' for c in sheet.columns)
        + "</tr></thead>"
    )
    out.append("<tbody>")
    for _, row in _ticks(sheet.rows, progress):
        cells = []
        for c in sheet.columns:
            v = row.get(c.key)
            classes = []
            if c.kind in NUMERIC:
                classes.append("num")
            if c.key in ("overdue", "days_late", "overdue_items") and v:
                classes.append("alert")
            attr = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{attr}>{e(display_value(v, c.kind))}</td>")
        cls = ' class="total"' if row.get("_total") else ""
        out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    out.append("</tbody>")
    out.append("</table>")
    if not sheet.rows:
        out.append('<p class="note">該当するデータはありません</p>')
    out += [f"<footer>{e(n)}</footer>" for n in sheet.footer]
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def write_html(sheet: Sheet, path: Path, progress: Progress | None = None) -> None:
    data = html_page(sheet, progress).encode("utf-8")
    atomic(path, lambda p: _put(p, data))


def write(sheet: Sheet, path: Path, progress: Progress | None = None) -> str:
    """Write `sheet` in the format the suffix names; returns that format."""
    fmt = format_for(path)
    {"csv": write_csv, "xlsx": write_xlsx, "html": write_html}[fmt](sheet, path, progress)
    return fmt
