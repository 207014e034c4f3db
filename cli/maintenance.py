"""`kaizen doctor` and `kaizen backup`: keep the records sound and safe."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cli.app import app, console, emit_json, get_ctx
from cli.render import plain, row
from workflow.errors import KaizenError


@app.command("doctor")
def doctor(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="JSON で1つの文書を出力."),
) -> None:
    """データベースの不変条件をすべて確認する (違反があれば一覧を表示して終了コード 1).

    An admin checks every council's cases; other officers their own council's. Events
    recorded after the real clock, or out of order, are problems too (a forged clock).
    Example: kaizen doctor --json
    """
    from workflow.doctor import CHECKS, examine

    c = get_ctx(ctx)
    n, problems = examine(c.kaizen(), c.user, c.real_clock().now())
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
            out.print(plain(f"問題はありません ({n} 件の案件、検査: {', '.join(CHECKS)})", "green"))
        else:
            t = Table(title=f"不整合 {len(problems)} 件 ({n} 件の案件を検査)")
            for col in ("検査", "案件", "内容"):
                t.add_column(col)
            for p in problems:
                t.add_row(*row(p.check, p.case or "—", p.message))
            out.print(t)
    if problems:
        # A KaizenError, not typer.Exit: `cli.app.main` runs click with standalone_mode=False,
        # which returns an Exit's code instead of raising it, and main() drops return values.
        raise KaizenError(
            f"不整合が {len(problems)} 件あります ('kaizen doctor' の一覧を確認してください)"
        )


@app.command("backup")
def backup(
    ctx: typer.Context, file: Path = typer.Argument(..., help="コピーの書き出し先.")
) -> None:
    """使用中の SQLite データベースを安全にコピーする (SQLite オンラインバックアップ).

    Admins only: the copy holds every council's cases. For PostgreSQL use pg_dump and
    pg_restore (docs/reliability.md).
    Example: kaizen backup backups/kaizen-2026-11-22.db (as an admin: --as or KAIZEN_USER)
    """
    from workflow.setup import backup as run_backup

    c = get_ctx(ctx)
    pages = run_backup(c.kaizen(), c.user, file)
    console().print(plain(f"バックアップを作成しました: {file} ({pages} ページ)"))
