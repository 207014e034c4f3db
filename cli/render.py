"""Rich views of cases and subsidies (pure functions of the workflow's results)."""

from __future__ import annotations

from datetime import date
from typing import Any

from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from states.text import visible
from workflow.views import CaseRow, CaseView, EventView, SubsidyView

TRIGGER_LABELS = {
    "open": "案件登録",
    "apply": "利用申請",
    "accept": "受付・利用決定",
    "reject": "不受理",
    "start_planning": "計画策定開始",
    "submit_plan": "計画提出",
    "revise": "計画修正",
    "agree": "金融機関合意",
    "decide_payment": "支払決定",
    "claim_monitoring": "伴走支援費用支払申請",
    "pay_monitoring": "伴走支払",
    "complete": "完了",
    "withdraw": "取下げ",
    "discontinue": "中止",
    "estimate": "見積登録",
    "fee": "支払額登録",
    "lender": "金融機関登録",
    "consent": "同意・受領",
    "certificate": "証明書登録",
    "plan": "計画登録",
    "report": "モニタリング報告",
    "extend": "期限延長",
    "import": "取込",
}


EVENT_KINDS = {"transition": "段階", "fact": "記録", "import": "取込", "correction": "訂正"}


def plain(value: object, style: str = "") -> Text:
    """Data for a terminal: never read as markup, control characters shown as escapes.

    Every text a person typed (names, reasons, file names, messages that quote them) goes
    through here, or through `row`, before rich sees it: a rich `str` is markup, so
    `銀行[/i]` would crash the command and `[link=…]` would hide a hyperlink.
    """
    return Text(visible("" if value is None else str(value)), style=style)


def row(*values: RenderableType | None) -> list[RenderableType]:
    """Table cells: strings become `plain` text; rich objects (already built) pass through."""
    return [plain(v) if v is None or isinstance(v, str) else v for v in values]


def yen(v: int | None) -> str:
    return "—" if v is None else f"{v:,}円"


TIMELINE_MARKS = {"─": 0, "●": 1, "○": 2, "✗": 3}  # what wins when milestones share a cell


def timeline_bar(view: CaseView, today: date, width: int = 48) -> Text:
    """Milestones on a line from the first consultation to the last due date, today marked.

    Three lines: the bar (● done, ○ planned, ✗ overdue), an arrow under today, and the
    range with the legend. Several milestones in one cell show the most urgent.
    """
    dues = [m.due for m in view.milestones]
    if not dues:
        return Text("")
    start, end = min([*dues, view.opened_on]), max(dues)
    span = max((end - start).days, 1)

    def pos(d: date) -> int:
        return min(max(round((d - start).days / span * (width - 1)), 0), width - 1)

    cells = ["─"] * width
    for m in view.milestones:
        mark = "●" if m.done else ("✗" if m.overdue else "○")
        i = pos(m.due)
        if TIMELINE_MARKS[mark] > TIMELINE_MARKS[cells[i]]:
            cells[i] = mark
    styles = {"●": "green", "✗": "bold red", "○": "cyan", "─": "dim"}
    t = Text()
    for ch in cells:
        t.append(ch, style=styles[ch])
    here = pos(today)
    label = f"今日 {today.isoformat()}"
    if today > end:
        label += " (最後の期限の後)"
    elif today < start:
        label += " (最初の期限の前)"
    if here + 2 + cell_len(label) <= width + 16:
        arrow = " " * here + "▲ " + label
    else:
        arrow = " " * max(here - cell_len(label) - 1, 0) + label + " ▲"
    t.append("\n" + arrow, style="bold yellow")
    t.append(
        f"\n{start.isoformat()} 〜 {end.isoformat()}   ● 完了  ○ 予定  ✗ 期限超過", style="dim"
    )
    return t


def case_panel(view: CaseView, today: date, events: int = 5) -> RenderableType:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row(*row("段階", plain(f"{view.stage_label} ({view.stage})", style="bold cyan")))
    head.add_row(
        *row(
            "事業・枠",
            f"{view.program_label} {view.track_label} (規程 {view.rule_version or '未確定'})",
        )
    )
    head.add_row(*row("会社", f"{view.company_name} ({view.company})"))
    head.add_row(*row("協議会", f"{view.council_name} ({view.council}) 担当 {view.officer}"))
    head.add_row(*row("認定支援機関", view.advisor or "—"))
    if view.lenders:
        head.add_row(
            *row(
                "金融機関",
                "、".join(
                    f"{x.name}{' ✓' + x.consented_on.isoformat() if x.consented_on else ''}"
                    for x in view.lenders
                ),
            )
        )
    if view.program != "early" or view.periods_total:
        head.add_row(*row("モニタリング", f"{view.periods_paid}/{view.periods_total} 期 支払済"))
    head.add_row(*row("次にできること", ", ".join(view.triggers) or "なし (終了)"))
    parts: list[RenderableType] = [head]
    for trig, missing in view.missing.items():
        if missing:
            parts.append(Text(f"\n{trig} に足りないもの:", style="bold yellow"))
            for reason in missing:
                parts.append(plain(f"  • {reason}", style="yellow"))
        else:
            parts.append(Text(f"\n{trig}: 条件を満たしています", style="green"))
    if view.milestones:
        parts.append(Text("\nスケジュール", style="bold"))
        parts.append(timeline_bar(view, today))
        mt = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        mt.add_column("期限", no_wrap=True)
        mt.add_column("段階", no_wrap=True)
        mt.add_column("マイルストーン")
        mt.add_column("状態", no_wrap=True)
        for m in view.milestones:
            if m.done and m.days_late:
                state, style = f"完了 {m.done_on} ({m.days_late}営業日遅れ)", "yellow"
            elif m.done:
                state, style = f"完了 {m.done_on}", "dim"
            elif m.overdue:
                state, style = f"期限超過 {m.days_late}営業日", "bold red"
            else:
                state, style = "予定", ""
            mt.add_row(*row(m.due.isoformat(), m.stage_label, m.label, state), style=style)
        parts.append(mt)
    if view.events and events:
        parts.append(Text("\n最近の記録", style="bold"))
        et = Table(show_header=False, box=None, pad_edge=False)
        for e in view.events[-events:]:
            what = TRIGGER_LABELS.get(e.trigger, e.trigger)
            move = f"{e.from_stage or ''} → {e.to_stage}" if e.kind != "fact" else ""
            et.add_row(*row(e.on.isoformat(), what, move, e.actor, e.reason or ""))
        parts.append(et)
    return Panel(Group(*parts), title=plain(f"案件 {view.id}"), expand=False)


def case_rows_table(rows: list[CaseRow], title: str) -> Table:
    t = Table(title=plain(title))
    for col in ("案件", "事業", "段階", "会社", "担当", "次の期限", "超過"):
        # An id or a date is never cut; names wrap (fold) rather than end in "…".
        t.add_column(col, no_wrap=col in ("案件", "次の期限", "超過"), overflow="fold")
    for r in rows:
        t.add_row(
            *row(
                r.id,
                f"{r.program}/{r.track}",
                Text(r.stage_label, style="bold red") if r.lapsed else r.stage_label,
                r.company_name,
                r.officer,
                r.next_due.isoformat() if r.next_due else "—",
                Text(str(r.overdue), style="bold red") if r.overdue else "0",
            )
        )
    return t


def subsidy_table(v: SubsidyView) -> RenderableType:
    t = Table(
        title=plain(
            f"案件 {v.case} の補助額 (規程 {v.rule_version or '未確定'}・2/3・区分ごとの上限)"
        )
    )
    for col, just in (
        ("区分", "left"),
        ("見積額", "right"),
        ("支払額", "right"),
        ("上限", "right"),
        ("補助額", "right"),
    ):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for x in v.categories:
        t.add_row(
            *row(
                f"{x.label} ({x.category})",
                yen(x.estimate),
                yen(x.actual),
                yen(x.cap),
                yen(x.subsidy),
            )
        )
    t.add_row(*row("合計", "", "", "", yen(v.total)), style="bold")
    lines: list[Any] = [t, Text(f"支払済 {yen(v.paid)}・留保 (初回伴走支払時) {yen(v.withheld)}")]
    if v.payment_room is not None:
        lines.append(Text(f"再利用の補助上限まで残り {yen(v.payment_room)}", style="yellow"))
    if v.room_cut:
        lines.append(
            Text(
                f"再利用の補助上限 (全ての利用の合計) により支払わない額 {yen(v.room_cut)}",
                style="yellow",
            )
        )
    return Group(*lines)


def correction_text(e: EventView) -> str:
    """What an event changed, in words: a correction's `old → new` per field."""
    d = e.detail or {}
    parts = []
    if "voids" in d:
        parts.append(f"#{d['voids']} ({d.get('fact', '')}) を取消")
    if "reverts" in d:
        parts.append(f"#{d['reverts']} ({d.get('trigger', '')}) を取消")
    for f, (old, new) in (d.get("changes") or {}).items():
        parts.append(f"{f}: {'—' if old is None else old} → {'—' if new is None else new}")
    for p in d.get("payments") or ():
        parts.append(f"{p['kind']} {p['amount']:,}円")
    return "; ".join(parts)


def history_table(view: CaseView) -> Table:
    """Every event; a correction with what it changed (old → new), voided ones marked."""
    t = Table(title=plain(f"案件 {view.id} の記録"))
    for col in ("#", "日付", "種類", "内容", "段階", "担当", "理由・詳細"):
        # At 80 columns cells wrap (fold) instead of ending in "…"; a date is never cut.
        t.add_column(col, no_wrap=col in ("#", "日付"), overflow="fold")
    for e in view.events:
        if e.kind == "correction":
            detail = correction_text(e) + (f" (理由: {e.reason})" if e.reason else "")
        else:
            detail = e.reason or (", ".join(f"{k}={v}" for k, v in (e.detail or {}).items()))
        if e.voided_by is not None:
            detail = f"[#{e.voided_by} で取消] {detail}"
        move = f"{e.from_stage or '—'} → {e.to_stage}" if e.kind != "fact" else e.to_stage
        t.add_row(
            *row(
                str(e.seq),
                e.on.isoformat(),
                EVENT_KINDS.get(e.kind, e.kind),
                TRIGGER_LABELS.get(e.trigger, e.trigger),
                move,
                e.actor,
                detail,
            ),
            style="dim" if e.voided_by is not None else "",
        )
    return t
