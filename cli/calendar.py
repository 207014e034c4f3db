"""`kaizen export calendar`: the deadlines of open cases as an iCalendar (.ics) file."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.app import console, get_ctx
from cli.render import plain
from cli.reports import export_app


@export_app.command("calendar")
def export_calendar_cmd(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="書き出す .ics ファイル."),
    officer: str | None = typer.Option(
        None, "--officer", help="この担当者の案件 (既定: 自分の案件; 統括責任者は協議会)."
    ),
    council: str | None = typer.Option(None, "--council", help="この協議会の案件."),
) -> None:
    """進行中の案件の期限すべてを終日の予定として .ics に書き出す (Google・Outlook に取込).

    同じ案件・期限は同じ UID なので、取り込み直すと予定が更新されます (重複しません)。

    Example: kaizen export calendar kaizen.ics --officer tanaka
    """
    c = get_ctx(ctx)
    n = c.kaizen().export_calendar(c.user, file, officer=officer, council=council)
    console().print(plain(f"{file} に {n} 件の期限を書き出しました"))
