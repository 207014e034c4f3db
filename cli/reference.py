"""`kaizen plan`, `kaizen rules show`, `kaizen diagram`: the rule book, no database needed."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from cli.app import app, choose, console, emit_json, get_ctx, parse_date
from cli.render import plain, row
from workflow.errors import InvalidInput

rules_app = typer.Typer(
    help="規程の版 (R4–R7): 上限額・再利用・スケジュール・期限と出典", no_args_is_help=True
)
app.add_typer(rules_app, name="rules")


@app.command("plan")
def plan(
    ctx: typer.Context,
    fiscal_year_end: int = typer.Option(..., "--fiscal-year-end", "-m", help="決算月 (1–12)."),
    start: str | None = typer.Option(
        None,
        "--from",
        help="初回相談日 (YYYY-MM-DD・令和8年6月1日…)。既定: 次の決算月の翌月。",
    ),
    program: str = typer.Option(
        "405", "--program", help="事業: 405 (405事業) / early (早期経営改善)."
    ),
    interim: bool = typer.Option(
        False, "--interim-monitoring", help="早期経営改善: 期中モニタリングを含める."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON で1つの文書を出力."),
) -> None:
    """決算月から案件のスケジュール案を表示する (案件は不要).

    Example: kaizen plan --fiscal-year-end 5 --from 2026-06-01 --program 405
    """
    from workflow import reference as ref

    c = get_ctx(ctx)
    program = choose("programs", program)
    start_d = parse_date(start, "--from") if start is not None else None
    version, ms = ref.preview_plan(
        c.settings,
        fiscal_year_end_month=fiscal_year_end,
        program=program,
        today=c.today(),
        start=start_d,
        interim_monitoring=interim,
    )
    if as_json:
        emit_json(
            {
                "program": program,
                "fiscal_year_end": fiscal_year_end,
                "rule_version": version.id,
                "milestones": [
                    {
                        "key": m.key,
                        "label": m.label,
                        "stage": m.stage,
                        "stage_label": m.stage_label,
                        "due": m.due,
                    }
                    for m in ms
                ],
            }
        )
        return
    t = Table(title=f"スケジュール案 ({program}・{fiscal_year_end}月決算・規程 {version.id})")
    t.add_column("期限", no_wrap=True)
    t.add_column("段階", no_wrap=True)
    t.add_column("マイルストーン")
    t.add_column("key", style="dim", no_wrap=True)
    for m in ms:
        t.add_row(*row(m.due.isoformat(), m.stage_label, m.label, m.key))
    out = console()
    out.print(t)
    out.print("月で定めた期限はその月の最終営業日です (土日祝・12/29–1/3 を除く)。", style="dim")


def _show_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return str(v)


@rules_app.command("show")
def rules_show(
    ctx: typer.Context,
    version: str | None = typer.Argument(None, help="規程の版: R4、R5、R6、R7 (既定: すべて)."),
    as_json: bool = typer.Option(False, "--json", help="JSON で1つの文書を出力."),
) -> None:
    """規程の値すべてと出典、確認済みかどうか.

    Example: kaizen rules show R6
    """
    from workflow import reference as ref

    c = get_ctx(ctx)
    chosen = (
        [ref.find_version(c.settings, version)] if version else list(ref.rule_versions(c.settings))
    )
    if as_json:
        emit_json(
            {
                "versions": [
                    {
                        "id": v.id,
                        "label": v.label,
                        "effective_from": v.effective_from,
                        "inherits": v.inherits,
                        "source": v.source,
                        "values": list(ref.rule_rows(v)),
                        "timeline": {p: [vars(m) for m in ms] for p, ms in v.timeline.items()},
                    }
                    for v in chosen
                ]
            }
        )
        return
    out = console()
    for v in chosen:
        t = Table(
            title=plain(f"{v.id}: {v.label} ({v.effective_from.isoformat()} 以降の申請)"),
            show_lines=False,
        )
        t.add_column("key", no_wrap=True)
        t.add_column("値", justify="right", max_width=22, overflow="fold")
        t.add_column("確認", no_wrap=True)
        t.add_column("出典")
        for x in ref.rule_rows(v):
            mark = plain("確認済") if x["verified"] else plain("未確認", style="bold yellow")
            inherited = "" if x["defined_in"] == v.id else f" ({x['defined_in']} から)"
            t.add_row(*row(x["key"], _show_value(x["value"]), mark, x["source"] + inherited))
        out.print(t)
        for program, ms in v.timeline.items():
            steps = " → ".join(f"+{m.month}か月 {m.label}" for m in ms)
            out.print(plain(f"スケジュール {program}: {steps}"))
        unverified = len(v.unverified)
        if unverified:
            out.print(
                f"未確認の値が {unverified} 件あります (kaizen.toml の "
                f"[rules.overrides.{v.id}] で協議会ごとに上書きできます)",
                style="yellow",
                markup=False,
            )
        out.print()


@app.command("diagram")
def diagram(
    program: str = typer.Option(..., "--program", help="事業: 405 / early (早期経営改善)."),
    track: str = typer.Option(
        "normal",
        "--track",
        help="枠: normal (通常枠)、gl (中小版GL枠)、guarantee (経営者保証解除枠).",
    ),
) -> None:
    """事業・枠の状態遷移図 (Mermaid) を出力する.

    Example: kaizen diagram --program 405 --track gl > 405-gl.mmd
    """
    from workflow import reference as ref

    if not program:
        raise InvalidInput("--program を指定してください")
    program, track = choose("programs", program), choose("tracks", track)
    typer.echo(ref.diagram(program, track), nl=False)
