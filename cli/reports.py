"""`kaizen report …`, `kaizen import cases`, `kaizen export cases`, `kaizen demo`.

Each command calls one `workflow` function and renders its result: a rich table on the
terminal (readable at 80 and 200 columns; long lists cut with a note), one JSON document with
`--json`, or a file with `--csv` / `--xlsx` / `--html`. Long imports and exports show a
progress bar on a terminal and stay quiet in a pipe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from cli.app import app, console, emit_json, get_ctx, parse_fiscal_year
from cli.render import plain, row
from workflow.errors import InvalidInput

report_app = typer.Typer(
    help="レポート: 案件ボード・期限超過・担当者別・段階別の所要日数・補助の予算",
    no_args_is_help=True,
)
import_app = typer.Typer(help="ファイルからの取込 (CSV / XLSX)", no_args_is_help=True)
export_app = typer.Typer(help="ファイルへの書き出し (CSV / XLSX)", no_args_is_help=True)
app.add_typer(report_app, name="report")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")

COUNCIL = typer.Option(None, "--council", help="協議会コード (既定: 自分の協議会; 管理者は全部).")
FISCAL_YEAR = typer.Option(
    None, "--fiscal-year", help="初回相談の年度 (例: 2025 = 2025-04〜2026-03)."
)
JSON = typer.Option(False, "--json", help="JSON で1つの文書を出力.")
CSV = typer.Option(None, "--csv", help="CSV に書き出す (Excel 用 UTF-8 BOM 付き).")
XLSX = typer.Option(None, "--xlsx", help="Excel ブック (XLSX) に書き出す.")
HTML = typer.Option(None, "--html", help="1つの HTML ページに書き出す.")
LIMIT = typer.Option(40, "--limit", min=1, help="画面に出す行数 (ファイルは全行).")

ProgressFn = Callable[[int, int], None]


# ---------------------------------------------------------------- shared plumbing


@contextmanager
def engine(c: Any) -> Iterator[Any]:
    """The engine for one command, its connections closed when the command ends."""
    k = c.kaizen()
    try:
        yield k
    finally:
        k.db.dispose()


def _cut(rows: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], Text | None]:
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], Text(f"… 他 {len(rows) - limit} 件 (--csv で全件)", style="dim")


def _num(v: Any) -> str:
    return "—" if v is None else f"{v:,}" if isinstance(v, int) else f"{v:.1f}"


def _late(n: int) -> Text:
    return Text(str(n), style="bold red") if n else Text("0", style="dim")


def short_council(name: str, code: str) -> str:
    """福岡県中小企業活性化協議会 → 福岡 (column headers stay narrow)."""
    short = name.removesuffix("中小企業活性化協議会")
    for suffix in ("都", "道", "府", "県"):
        if short.endswith(suffix) and len(short) > 2:
            short = short[: -len(suffix)]
            break
    return short or code


def _table(title: str, caption: str | None = None) -> Table:
    return Table(
        title=plain(title),
        caption=None if caption is None else plain(caption),
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        header_style="bold",
        title_style="bold",
        pad_edge=False,
        min_width=56,  # a one-council board keeps its caption on one or two lines
    )


def _board(r: Any, limit: int, width: int) -> RenderableType:
    from states.programs import catalog

    stages = sorted(catalog().stages.values(), key=lambda s: s.order)
    councils = sorted({row["council"] for row in r.rows})
    if not councils and r.scope.council:
        councils = [r.scope.council]
    cells = {(row["council"], row["stage"]): row for row in r.rows}
    t = _table(r.title, f"{r.filters()}  ( ) 内は期限超過のある案件")
    t.add_column("段階", no_wrap=True)
    for code in councils:
        t.add_column(
            plain(short_council(r.councils.get(code, code), code)), justify="right", no_wrap=True
        )
    t.add_column("計", justify="right", no_wrap=True, style="bold")

    def cell(n: int, od: int) -> Text:
        if not n:
            return Text("·", style="dim")
        text = Text(str(n))
        if od:
            text.append(f"({od})", style="bold red")
        return text

    for st in stages:
        line = [plain(st.label)]
        total = late = 0
        for code in councils:
            x = cells.get((code, st.id))
            n, od = (x["count"], x["overdue"]) if x else (0, 0)
            total, late = total + n, late + od
            line.append(cell(n, od))
        line.append(cell(total, late))
        t.add_row(*line, style="dim" if st.final else "")
    sums = [
        cell(
            sum(x["count"] for x in r.rows if x["council"] == code),
            sum(x["overdue"] for x in r.rows if x["council"] == code),
        )
        for code in councils
    ]
    t.add_section()
    t.add_row(
        Text("合計", style="bold"),
        *sums,
        cell(sum(x["count"] for x in r.rows), sum(x["overdue"] for x in r.rows)),
    )
    return t


WIDE = 120  # from this width, reports show every column on its own


def _overdue(r: Any, limit: int, width: int) -> RenderableType:
    rows, note = _cut(r.rows, limit)
    t = _table(f"{r.title} {len(r.rows)}件", r.filters())
    t.add_column("期限", no_wrap=True)
    t.add_column("超過", justify="right", no_wrap=True)
    if width >= WIDE:
        t.add_column("案件", no_wrap=True)
        t.add_column("段階", no_wrap=True)
        t.add_column("会社", overflow="fold", ratio=2)
        t.add_column("マイルストーン", overflow="fold", ratio=3)
    else:  # narrow: the case over its stage, the company over the milestone
        t.add_column("案件・段階", no_wrap=True)
        t.add_column("会社・マイルストーン", overflow="fold")
    t.add_column("担当", no_wrap=True)
    for x in rows:
        head = [x["due"].isoformat(), Text(f"{x['days_late']}営業日", style="bold red")]
        if width >= WIDE:
            body: list[Any] = [x["case"], x["stage_label"], x["company_name"], x["milestone_label"]]
        else:
            body = [
                plain(x["case"]) + Text("\n") + plain(x["stage_label"], style="dim"),
                plain(x["company_name"]) + Text("\n") + plain(x["milestone_label"], style="dim"),
            ]
        t.add_row(*row(*head, *body, x["officer_name"]))
    if not r.rows:
        return Group(t, Text("期限を過ぎたマイルストーンはありません", style="green"))
    return Group(t, note) if note else t


def _workload(r: Any, limit: int, width: int) -> RenderableType:
    rows, note = _cut(r.rows, limit)
    t = _table(r.title, r.filters())
    t.add_column("担当者", no_wrap=True)
    if width >= WIDE:
        t.add_column("ID", no_wrap=True, style="dim")
    if r.scope.council is None:
        t.add_column("協議会", no_wrap=True)
    t.add_column("役割", no_wrap=True)
    for head in ("案件", "進行中", "超過案件", "超過件数"):
        t.add_column(head, justify="right", no_wrap=True)
    t.add_column("最古の超過", no_wrap=True)
    # An inactive officer's open cases need another officer (shown only when there are any).
    reassign = any(x.get("needs_reassignment") for x in rows)
    if reassign:
        t.add_column("引継ぎ", no_wrap=True)
    for x in rows:
        cells: list[Any] = [x["officer_name"]]
        if width >= WIDE:
            cells.append(x["officer"])
        if r.scope.council is None:
            code = x["council"] or "—"
            cells.append(short_council(r.councils.get(code, code), code))
        cells += [
            x["role_label"],
            _num(x["cases"]),
            _num(x["open_cases"]),
            _late(x["overdue_cases"]),
            _late(x["overdue_items"]),
            x["oldest_due"].isoformat() if x["oldest_due"] else "—",
        ]
        if reassign:
            cells.append(Text(x["reassign"], style="bold red") if x["reassign"] else "")
        t.add_row(*row(*cells))
    return Group(t, note) if note else t


def _bar(rate: float, width: int = 10) -> Text:
    full = round(rate / 100 * width)
    return Text("█" * full + "·" * (width - full), style="cyan")


def _funnel(r: Any, limit: int, width: int) -> RenderableType:
    t = _table(r.title, f"{r.filters()}  所要日数: 段階に入ってから出るまでの営業日")
    t.add_column("年度", no_wrap=True)
    t.add_column("段階", no_wrap=True)
    t.add_column("到達", justify="right", no_wrap=True)
    t.add_column("到達率", no_wrap=True)
    t.add_column("中央値", justify="right", no_wrap=True)
    t.add_column("90%点", justify="right", no_wrap=True)
    t.add_column("計測", justify="right", no_wrap=True)
    year = None
    for x in r.rows:
        if year is not None and x["fiscal_year"] != year:
            t.add_section()
        first = x["fiscal_year"] != year
        year = x["fiscal_year"]
        t.add_row(
            *row(
                f"{year}年度" if first else "",
                x["stage_label"],
                _num(x["reached"]),
                _bar(x["rate"]) + Text(f" {x['rate']:5.1f}%"),
                _num(x["median_days"]),
                _num(x["p90_days"]),
                _num(x["measured"]) if x["measured"] else Text("—", style="dim"),
            )
        )
    return t


SHORT_PROGRAM = {"405": "405", "early": "早期"}
SHORT_TRACK = {"normal": "通常枠", "gl": "GL枠", "guarantee": "保証解除枠"}


def _sen(v: int) -> str:
    """Yen shown in 千円 (rounded) on the terminal; files keep the yen."""
    return f"{(v + 500) // 1000:,}"


def _budget(r: Any, limit: int, width: int) -> RenderableType:
    t = _table(r.title, f"{r.filters()}  単位: 千円 (ファイル出力は円)  見込 = 留保 + 伴走残")
    t.add_column("年度", no_wrap=True)
    t.add_column("事業・枠", overflow="fold")
    t.add_column("案件", justify="right", no_wrap=True)
    for head in ("決定額", "支払済", "留保", "伴走残", "見込", "決定前"):
        t.add_column(head, justify="right", no_wrap=True)
    keys = ("decided", "paid", "withheld", "monitoring_remaining", "forecast", "pipeline")
    year = None
    for x in r.rows:
        if year is not None and x["fiscal_year"] != year:
            t.add_section()
        first = x["fiscal_year"] != year
        year = x["fiscal_year"]
        t.add_row(
            *row(
                f"{year}年度" if first else "",
                f"{x['program_label']} {x['track_label']}"
                if width >= WIDE
                else f"{SHORT_PROGRAM.get(x['program'], x['program'])} {SHORT_TRACK.get(x['track'], x['track'])}",
                _num(x["cases"]),
                *(_sen(x[k]) for k in keys),
            )
        )
    if r.rows:
        t.add_section()
        t.add_row(
            Text("合計", style="bold"),
            "",
            _num(sum(x["cases"] for x in r.rows)),
            *(Text(_sen(sum(x[k] for x in r.rows)), style="bold") for k in keys),
        )
    return t


RENDER = {
    "board": _board,
    "overdue": _overdue,
    "workload": _workload,
    "funnel": _funnel,
    "budget": _budget,
}


def render(report: Any, limit: int = 40, width: int = 100) -> RenderableType:
    """The rich view of a `workflow.reports.Report` for a terminal `width` columns wide."""
    return RENDER[report.kind](report, limit, width)


def _report(
    ctx: typer.Context,
    name: str,
    council: str | None,
    fiscal_year: int | None,
    as_json: bool,
    csv: Path | None,
    xlsx: Path | None,
    html: Path | None,
    limit: int,
) -> None:
    from workflow import exports, reports

    chosen = [
        flag
        for flag, on in (("--json", as_json), ("--csv", csv), ("--xlsx", xlsx), ("--html", html))
        if on
    ]
    if len(chosen) > 1:
        raise InvalidInput(f"{' と '.join(chosen)} は同時に指定できません: どれか1つにしてください")
    c = get_ctx(ctx)
    fiscal_year = parse_fiscal_year(fiscal_year, c.today())
    with engine(c) as k:
        r = reports.run(name, k, c.user, council=council, fiscal_year=fiscal_year)
    if as_json:
        emit_json(r.to_json())
        return
    for path, write in (
        (csv, exports.write_csv),
        (xlsx, exports.write_xlsx),
        (html, exports.write_html),
    ):
        if path is not None:
            write(r.sheet(), path)
            console().print(plain(f"{r.title}: {len(r.rows)}行を {path} に書き出しました"))
            return
    out = console()
    out.print(render(r, limit, out.width))


# ---------------------------------------------------------------- report commands


REPORT_HELP = {
    "board": """協議会 × 段階ごとの案件数と、そのうち期限超過の数.

    Example: kaizen report board --fiscal-year 2026 --xlsx board.xlsx
    """,
    "overdue": """期限を過ぎた期限すべて (古い順)、担当者と遅れの営業日数.

    Example: kaizen report overdue --council 40 --csv overdue.csv
    """,
    "workload": """担当者ごとの進行中の案件と期限超過.

    Example: kaizen report workload --council 43
    """,
    "funnel": """年度ごと: 各段階に達した案件数と、段階ごとの営業日数 (中央値・90パーセンタイル).

    Example: kaizen report funnel --fiscal-year 2025 --html funnel.html
    """,
    "budget": """年度・事業・枠ごとの協議会負担 (2/3): 決定済・支払済・見込み.

    Example: kaizen report budget --council 40 --xlsx budget.xlsx
    """,
}


def _report_command(name: str) -> Callable[..., None]:
    """One `kaizen report NAME` command: the five share their options and their path."""

    def command(
        ctx: typer.Context,
        council: str | None = COUNCIL,
        fiscal_year: int | None = FISCAL_YEAR,
        as_json: bool = JSON,
        csv: Path | None = CSV,
        xlsx: Path | None = XLSX,
        html: Path | None = HTML,
        limit: int = LIMIT,
    ) -> None:
        _report(ctx, name, council, fiscal_year, as_json, csv, xlsx, html, limit)

    command.__name__ = f"report_{name}"
    command.__doc__ = REPORT_HELP[name]
    return command


for _name in REPORT_HELP:
    report_app.command(_name)(_report_command(_name))


# ---------------------------------------------------------------- import / export


@contextmanager
def progress_bar(out: Console, label: str) -> Iterator[ProgressFn | None]:
    """A progress bar on a terminal; nothing (None) in a pipe or a file."""
    if not out.is_terminal:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield tick


@import_app.command("cases")
def import_cases_cmd(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="docs/import.md の列の CSV または XLSX."),
    skip_bad: bool = typer.Option(
        False, "--skip-bad", help="正しい行だけ取り込み、問題のある行を報告する."
    ),
    as_json: bool = JSON,
) -> None:
    """協議会の表計算ファイルから案件 (会社・過去の利用も) を取り込む.

    Every row is checked first; nothing is written unless all rows are good (or --skip-bad).
    Example: kaizen import cases docs/examples/cases.csv --skip-bad
    """
    from workflow.importer import ImportRejected, import_cases

    c = get_ctx(ctx)
    out = console()
    with engine(c) as k, progress_bar(out, "取込") as tick:
        try:
            result = import_cases(k, c.user, file, skip_bad=skip_bad, progress=tick)
        except ImportRejected as e:
            if as_json:
                emit_json(e.result.to_json())
            else:
                Console(stderr=True, highlight=False).print(_problems(e.result.problems))
            raise
    if as_json:
        emit_json(result.to_json())
        return
    out.print(
        plain(
            f"{result.file}: {result.rows}行のうち {result.written}件の案件を取り込みました"
            f" (新しい会社 {result.companies}社)"
        )
    )
    if result.problems:
        out.print(_problems(result.problems, skipped=True))


def _problems(problems: list[Any], *, skipped: bool = False) -> RenderableType:
    rows = sorted({p.row for p in problems})
    title = f"{'取り込まなかった' if skipped else '問題のある'}行: {len(rows)}行"
    t = _table(title)
    t.add_column("行", justify="right", no_wrap=True)
    t.add_column("項目", no_wrap=True)
    t.add_column("問題", overflow="fold")
    for p in problems:
        t.add_row(*row(str(p.row), p.column or "", p.message))
    return t


@export_app.command("cases")
def export_cases_cmd(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="cases.csv または cases.xlsx."),
    council: str | None = COUNCIL,
    fiscal_year: int | None = FISCAL_YEAR,
) -> None:
    """見られる案件を取込と同じ列で書き出す (そのまま取り込み直せる).

    Example: kaizen export cases cases.xlsx --council 40
    """
    from workflow.importer import export_cases

    c = get_ctx(ctx)
    fiscal_year = parse_fiscal_year(fiscal_year, c.today())
    out = console()
    with engine(c) as k, progress_bar(out, "書き出し") as tick:
        result = export_cases(
            k, c.user, file, council=council, fiscal_year_=fiscal_year, progress=tick
        )
    out.print(plain(f"{result.rows}件の案件を {file} に書き出しました ({result.format})"))


# ---------------------------------------------------------------- demo


@app.command("demo")
def demo(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="先に既存の案件と会社を削除する."),
    seed: int = typer.Option(2026, "--seed", help="同じ seed・同じ日なら同じデータベース."),
    cases: int = typer.Option(240, "--cases", help="案件数 (10–2000)."),
) -> None:
    """サンプルのデータベース (九州の7協議会) を作り、案件ボードを表示する.

    Creates the database when it is new; the acting user becomes its admin (as init does).
    Example: KAIZEN_DB=demo.db kaizen demo --seed 7
    """
    from workflow import reports
    from workflow.demo import run_demo

    c = get_ctx(ctx)
    out = console()
    status = out.status("デモデータを作成しています…") if out.is_terminal else nullcontext()
    with status:
        k, result = run_demo(c.settings, c.clock(), c.user, seed=seed, cases=cases, force=force)
    out.print(
        f"デモデータ: 案件 {result.cases}件・担当者 {result.officers}名"
        f" (seed {result.seed}・{result.today} 現在・{result.seconds:.1f}秒)"
    )
    if result.admin_created:
        out.print(plain(f"管理者 {result.admin_created} を作成しました"))
    try:
        board = reports.board(k, c.user)
    finally:
        k.db.dispose()
    out.print(render(board, width=out.width))
    out.print(
        Text(
            "次に: kaizen report overdue / kaizen case list --overdue",
            style="dim",
        )
    )
