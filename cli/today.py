"""`kaizen today`: the morning screen of the acting officer."""

from __future__ import annotations

import typer
from rich.console import Group, RenderableType
from rich.text import Text

from cli.app import app, console, emit_json, get_ctx
from cli.render import plain
from workflow.today import KIND_LABELS, KINDS, TodayItem, TodayView


@app.command("today")
def today(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="JSON で1つの文書を出力."),
) -> None:
    """今日の仕事: 期限超過・10営業日以内の期限・相手待ち・失効が近い案件・承認待ちの例外.

    担当者は自分の案件、統括責任者は協議会の案件。各行にその案件を進めるコマンド。

    Example: kaizen today
    """
    c = get_ctx(ctx)
    view = c.kaizen().morning(c.user)
    if as_json:
        emit_json(view.to_json())
    else:
        console().print(today_screen(view))


def _when(i: TodayItem) -> str:
    if i.due is None:
        return ""
    if i.business_days is None:
        return f"期限 {i.due.isoformat()}"
    if i.kind == "overdue":
        return f"{i.due.isoformat()} ({i.business_days}営業日超過)"
    return f"{i.due.isoformat()} ({'今日' if i.business_days <= 0 else f'あと{i.business_days}営業日'})"


def _line(i: TodayItem) -> RenderableType:
    head = Text("  ")
    head.append(plain(i.case, "bold"))
    head.append("  ")
    head.append(plain(i.company))
    head.append(plain(f"  [{i.stage_label}]", "dim"))
    body = Text("    ")
    body.append(plain(i.what))
    when = _when(i)
    if when:
        body.append("  ")
        body.append(plain(when, "bold red" if i.kind == "overdue" else ""))
    command = Text("    → ", style="dim")
    command.append(plain(i.command, "cyan"))
    return Group(head, body, command)


def today_screen(view: TodayView) -> RenderableType:
    """Every section with its items (an empty section says so), for any terminal width."""
    parts: list[RenderableType] = [
        plain(f"{view.today.isoformat()} の仕事 — {view.actor} ({view.scope})", "bold"),
    ]
    for kind in KINDS:
        if kind == "exception" and view.role == "officer":
            continue
        items = view.of(kind)
        title = KIND_LABELS[kind]
        if kind == "due":
            title += f" ({view.horizon.isoformat()} まで)"
        parts.append(Text(""))
        parts.append(plain(f"{title}: {len(items)}件", "bold"))
        parts.extend(_line(i) for i in items)
    return Group(*parts)
