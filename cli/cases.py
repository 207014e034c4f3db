"""`kaizen case …` and `kaizen subsidy`: open cases, record facts, advance, read."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

import typer

from cli.app import app, console, emit_json, get_ctx, parse_date
from cli.render import case_panel, case_rows_table, history_with_corrections, subsidy_table
from workflow.errors import InvalidInput
from workflow.inputs import cause_items
from workflow.views import CaseView

case_app = typer.Typer(help="案件: 登録・事実の記録・段階の進行・表示", no_args_is_help=True)
app.add_typer(case_app, name="case")

JSON = typer.Option(False, "--json", help="Print one JSON document.")
ON = typer.Option(None, "--on", help="Effective date YYYY-MM-DD (JST; default today).")


def _show(ctx: typer.Context, view: CaseView, as_json: bool) -> None:
    c = get_ctx(ctx)
    if as_json:
        emit_json(view.to_json())
    else:
        console().print(case_panel(view, c.today()))


def _on(value: str | None) -> date | None:
    return parse_date(value, "--on") if value else None


def _yen(text: str) -> int:
    from states.money import MoneyError, parse_yen

    try:
        return parse_yen(text)
    except MoneyError as e:
        raise InvalidInput(str(e)) from None


@case_app.command("open")
def case_open(
    ctx: typer.Context,
    company: str = typer.Option(..., "--company", help="法人番号 (or P… key)."),
    program: str = typer.Option(..., "--program", help="405 or early."),
    track: str = typer.Option("normal", "--track", help="normal, gl (405) or guarantee (early)."),
    council: str = typer.Option(..., "--council", help="Council code (e.g. 40)."),
    advisor: str = typer.Option("", "--advisor", help="認定経営革新等支援機関 (representative)."),
    affected: str = typer.Option(
        "", "--affected", help="R4/R5 re-use causes: covid,ukraine,oil,other:原因 (in words)."
    ),
    interim: bool = typer.Option(
        False, "--interim-monitoring", help="early: 期中 monitoring chosen."
    ),
    guarantee_release: bool = typer.Option(
        False, "--guarantee-release", help="405 normal: aims at 経営者保証解除."
    ),
    on: str | None = ON,
    as_json: bool = JSON,
) -> None:
    """Open a case at 相談 (consultation).

    Example: kaizen case open --company 7000012050002 --program 405 --track normal --council 40 --advisor 博多会計事務所
    """
    c = get_ctx(ctx)
    causes = cause_items(affected)
    view = c.kaizen().open_case(
        c.user,
        company=company,
        program=program,
        track=track,
        council=council,
        advisor=advisor,
        affected=causes,
        interim_monitoring=interim,
        guarantee_release=guarantee_release,
        on=_on(on),
    )
    _show(ctx, view, as_json)


@case_app.command("show")
def case_show(
    ctx: typer.Context, case: str = typer.Argument(..., help="Case id."), as_json: bool = JSON
) -> None:
    """Stage, what is missing for the next step, milestones and recent events.

    Example: kaizen case show 40-2026-0007 --json
    """
    c = get_ctx(ctx)
    _show(ctx, c.kaizen().show(c.user, case), as_json)


@case_app.command("history")
def case_history(
    ctx: typer.Context, case: str = typer.Argument(..., help="Case id."), as_json: bool = JSON
) -> None:
    """Every event of the case, oldest first; corrections with what they changed.

    Example: kaizen case history 40-2026-0007
    """
    c = get_ctx(ctx)
    view = c.kaizen().show(c.user, case)
    if as_json:
        emit_json({"id": view.id, "events": view.to_json()["events"]})
    else:
        console().print(history_with_corrections(view))


@case_app.command("list")
def case_list(
    ctx: typer.Context,
    council: str | None = typer.Option(None, "--council", help="Council code (default: your own)."),
    stage: str | None = typer.Option(None, "--stage", help="Stage id (e.g. planning)."),
    officer: str | None = typer.Option(None, "--officer", help="Officer id."),
    overdue: bool = typer.Option(False, "--overdue", help="Only cases with overdue milestones."),
    as_json: bool = JSON,
) -> None:
    """List cases you may see.

    Example: kaizen case list --stage bank_negotiation --overdue
    """
    c = get_ctx(ctx)
    rows = c.kaizen().list_cases(
        c.user, council=council, stage=stage, officer=officer, overdue=overdue
    )
    if as_json:
        emit_json({"cases": [asdict(r) for r in rows]})
        return
    out = console()
    out.print(case_rows_table(rows, f"案件 ({len(rows)}件)"))


@case_app.command("advance")
def case_advance(
    ctx: typer.Context,
    case: str = typer.Argument(..., help="Case id."),
    trigger: str = typer.Argument(
        ...,
        help="apply, accept, reject, start_planning, submit_plan, revise, agree, decide_payment, claim_monitoring, pay_monitoring, complete, withdraw, discontinue.",
    ),
    on: str | None = ON,
    reason: str | None = typer.Option(
        None, "--reason", help="Required for reject, revise, withdraw, discontinue and R6 re-use."
    ),
    as_json: bool = JSON,
) -> None:
    """Move a case to its next stage; refused with every unmet condition listed.

    Example: kaizen case advance 40-2026-0007 agree --on 2026-11-20
    """
    c = get_ctx(ctx)
    view = c.kaizen().advance(c.user, case, trigger, on=_on(on), reason=reason)
    _show(ctx, view, as_json)


# A negative amount ('-100') must reach parse_yen and get its message, not "No such option".
AMOUNT_ARGS = {"ignore_unknown_options": True}


@case_app.command("estimate", context_settings=AMOUNT_ARGS)
def case_estimate(
    ctx: typer.Context,
    case: str = typer.Argument(..., help="Case id."),
    category: str = typer.Argument(..., help="Cost category (e.g. dd_plan, monitoring, plan)."),
    amount: str = typer.Argument(..., help="Yen, e.g. 2400000 or 2,400,000."),
    on: str | None = ON,
    as_json: bool = JSON,
) -> None:
    """Record the estimate filed with the application for one cost category.

    Example: kaizen case estimate 40-2026-0007 dd_plan 2400000
    """
    c = get_ctx(ctx)
    view = c.kaizen().record_estimate(c.user, case, category, _yen(amount), on=_on(on))
    _show(ctx, view, as_json)


@case_app.command("fee", context_settings=AMOUNT_ARGS)
def case_fee(
    ctx: typer.Context,
    case: str = typer.Argument(..., help="Case id."),
    category: str = typer.Argument(..., help="Cost category."),
    amount: str = typer.Argument(
        ..., help="Yen actually paid to the advisor (cumulative for monitoring)."
    ),
    on: str | None = ON,
    as_json: bool = JSON,
) -> None:
    """Record the fee paid for one category (never dated before acceptance).

    Example: kaizen case fee 40-2026-0007 dd_plan 2400000 --on 2026-10-01
    """
    c = get_ctx(ctx)
    _show(ctx, c.kaizen().record_fee(c.user, case, category, _yen(amount), on=_on(on)), as_json)


@case_app.command("lender")
def case_lender(
    ctx: typer.Context,
    case: str = typer.Argument(..., help="Case id."),
    name: str = typer.Argument(..., help="Lender name."),
    on: str | None = ON,
    as_json: bool = JSON,
) -> None:
    """Add a lender (取引金融機関) to the case.

    Example: kaizen case lender 40-2026-0007 福岡銀行
    """
    c = get_ctx(ctx)
    _show(ctx, c.kaizen().add_lender(c.user, case, name, on=_on(on)), as_json)


@case_app.command("consent")
def case_consent(
    ctx: typer.Context,
    case: str = typer.Argument(..., help="Case id."),
    lender: str = typer.Argument(..., help="Lender name as registered."),
    on: str | None = ON,
    as_json: bool = JSON,
) -> None:
    """Record a lender's 同意書 (405) or 受領書 (early).

    Example: kaizen case consent 40-2026-0007 福岡銀行 --on 2026-11-10
    """
    c = get_ctx(ctx)
    _show(ctx, c.kaizen().record_consent(c.user, case, lender, on=_on(on)), as_json)


@case_app.command("certificate")
def case_certificate(
    ctx: typer.Context,
    case: str = typer.Argument(..., help="Case id."),
    issued: str = typer.Option(..., "--issued", help="Issue date of the 履歴事項全部証明書."),
    on: str | None = ON,
    as_json: bool = JSON,
) -> None:
    """Record the 履歴事項全部証明書's issue date (at most 3 months old at apply).

    Example: kaizen case certificate 40-2026-0007 --issued 2026-06-01
    """
    c = get_ctx(ctx)
    issued_on = parse_date(issued, "--issued")
    _show(ctx, c.kaizen().record_certificate(c.user, case, issued_on, on=_on(on)), as_json)


@case_app.command("plan")
def case_plan(
    ctx: typer.Context,
    case: str = typer.Argument(..., help="Case id."),
    on: str | None = ON,
    as_json: bool = JSON,
) -> None:
    """Record that the plan (計画) is drafted, so it can be submitted to the lenders.

    Example: kaizen case plan 40-2026-0007 --on 2026-09-15
    """
    c = get_ctx(ctx)
    _show(ctx, c.kaizen().record_plan(c.user, case, on=_on(on)), as_json)


@case_app.command("report")
def case_report(
    ctx: typer.Context,
    case: str = typer.Argument(..., help="Case id."),
    on: str | None = ON,
    as_json: bool = JSON,
) -> None:
    """Record the monitoring report for the current period.

    Example: kaizen case report 40-2026-0007 --on 2027-01-20
    """
    c = get_ctx(ctx)
    _show(ctx, c.kaizen().record_report(c.user, case, on=_on(on)), as_json)


@case_app.command("extend")
def case_extend(
    ctx: typer.Context,
    case: str = typer.Argument(..., help="Case id."),
    until: str = typer.Option(..., "--until", help="New lapse date of the 405 application."),
    reason: str = typer.Option(..., "--reason", help="Why the council extends it."),
    as_json: bool = JSON,
) -> None:
    """Extend a 405 application's 2-year validity (supervisors only).

    Example: kaizen case extend 40-2026-0007 --until 2028-12-28 --reason 金融機関調整の長期化
    """
    c = get_ctx(ctx)
    view = c.kaizen().extend_validity(c.user, case, parse_date(until, "--until"), reason)
    _show(ctx, view, as_json)


REASON = typer.Option(None, "--reason", help="Why (required for every correction).")


@case_app.command("edit")
def case_edit(
    ctx: typer.Context,
    case: str = typer.Argument(..., help="Case id."),
    advisor: str | None = typer.Option(None, "--advisor", help="認定経営革新等支援機関."),
    officer: str | None = typer.Option(None, "--officer", help="Officer id now in charge."),
    interim: bool | None = typer.Option(
        None, "--interim-monitoring/--no-interim-monitoring", help="early: 期中 monitoring."
    ),
    guarantee_release: bool | None = typer.Option(
        None, "--guarantee-release/--no-guarantee-release", help="405 normal: 経営者保証解除."
    ),
    affected: str | None = typer.Option(
        None, "--affected", help="R4/R5 re-use causes: covid,ukraine,oil,other:原因."
    ),
    reason: str | None = REASON,
    as_json: bool = JSON,
) -> None:
    """Correct a case's advisor, officer in charge, options or causes (recorded as a correction).

    Example: kaizen case edit 40-2026-0007 --advisor 博多会計事務所 --reason 入力誤り
    """
    c = get_ctx(ctx)
    view = c.kaizen().edit_case(
        c.user,
        case,
        reason=reason,
        advisor=advisor,
        officer=officer,
        interim_monitoring=interim,
        guarantee_release=guarantee_release,
        affected=None if affected is None else cause_items(affected),
    )
    _show(ctx, view, as_json)


@case_app.command("void")
def case_void(
    ctx: typer.Context,
    case: str = typer.Argument(..., help="Case id."),
    seq: int = typer.Argument(..., help="The fact's number (#) in 'kaizen case history'."),
    reason: str | None = REASON,
    as_json: bool = JSON,
) -> None:
    """Void one recorded fact (estimate, fee, lender, consent, certificate, plan, report).

    Example: kaizen case void 40-2026-0007 5 --reason 金融機関名の誤記
    """
    c = get_ctx(ctx)
    _show(ctx, c.kaizen().void_fact(c.user, case, seq, reason), as_json)


@case_app.command("revert")
def case_revert(
    ctx: typer.Context,
    case: str = typer.Argument(..., help="Case id."),
    reason: str | None = REASON,
    as_json: bool = JSON,
) -> None:
    """Undo the case's last stage change (supervisors); its payments are reversed.

    Example: kaizen case revert 40-2026-0007 --reason 同意書の確認漏れ
    """
    c = get_ctx(ctx)
    _show(ctx, c.kaizen().revert(c.user, case, reason), as_json)


@app.command("subsidy")
def subsidy(
    ctx: typer.Context, case: str = typer.Argument(..., help="Case id."), as_json: bool = JSON
) -> None:
    """The 2/3 subsidy per category against its cap, what is paid and what is withheld.

    Example: kaizen subsidy 40-2026-0007 --json
    """
    c = get_ctx(ctx)
    v = c.kaizen().subsidy(c.user, case)
    if as_json:
        emit_json(v.to_json())
    else:
        console().print(subsidy_table(v))
