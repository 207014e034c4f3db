"""`kaizen doctor` and `kaizen backup`: keep the records sound and safe."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cli.app import app, console, emit_json, get_ctx
from workflow.errors import InvalidInput, KaizenError


@app.command("doctor")
def doctor(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Check every invariant of the database; exit 1 with the list when any fails.

    Example: kaizen doctor --json
    """
    from workflow.doctor import CHECKS, check_database
    from workflow.setup import connect

    c = get_ctx(ctx)
    db = connect(c.settings)
    try:
        n, problems = check_database(db, c.settings)
    finally:
        db.dispose()
    if as_json:
        emit_json(
            {
                "ok": not problems,
                "cases": n,
                "checks": list(CHECKS),
                "problems": [vars(p) for p in problems],
            }
        )
    else:
        out = console()
        if not problems:
            out.print(f"問題はありません ({n} 件の案件、検査: {', '.join(CHECKS)})", style="green")
        else:
            t = Table(title=f"不整合 {len(problems)} 件 ({n} 件の案件を検査)")
            for col in ("検査", "案件", "内容"):
                t.add_column(col)
            for p in problems:
                t.add_row(p.check, p.case or "—", p.message)
            out.print(t)
    if problems:
        # A KaizenError, not typer.Exit: `cli.app.main` runs click with standalone_mode=False,
        # which returns an Exit's code instead of raising it, and main() drops return values.
        raise KaizenError(
            f"不整合が {len(problems)} 件あります ('kaizen doctor' の一覧を確認してください)"
        )


@app.command("backup")
def backup(
    ctx: typer.Context, file: Path = typer.Argument(..., help="Where to write the copy.")
) -> None:
    """Copy an SQLite database safely while it is in use (SQLite online backup API).

    For PostgreSQL use pg_dump and pg_restore (docs/reliability.md).
    Example: kaizen backup backups/kaizen-2026-11-22.db
    """
    from workflow.setup import backup_sqlite

    c = get_ctx(ctx)
    if file.exists():
        raise InvalidInput(f"{file} は既にあります: 上書きしません")
    pages = backup_sqlite(c.settings, file)
    console().print(f"バックアップを作成しました: {file} ({pages} ページ)")
