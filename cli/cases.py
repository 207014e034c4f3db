"""`kaizen case …` and `kaizen subsidy`: open cases, record facts, advance, read."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

import typer

from cli.app import app, choose, complete, console, emit_json, get_ctx, parse_date
from cli.render import case_panel, case_rows_table, history_table, plain, subsidy_table
from workflow.errors import InvalidInput
from workflow.inputs import cause_items
from workflow.views import CaseView

case_app = typer.Typer(help="案件: 登録・事実の記録・段階の進行・表示", no_args_is_help=True)
app.add_typer(case_app, name="case")

JSON = typer.Option(False, "--json", help="JSON で1つの文書を出力.")
ON = typer.Option(
    None, "--on", help="日付 (YYYY-MM-DD・YYYY/MM/DD・令和8年6月1日・R8.6.1; 既定は今日)."
)
CASE = typer.Argument(..., help="案件番号 (例: 40-2026-0007).")


def _show(ctx: typer.Context, view: CaseView, as_json: bool) -> None:
    c = get_ctx(ctx)
    if as_json:
        emit_json(view.to_json())
    else:
        console().print(case_panel(view, c.today()))


SHOW = typer.Option(False, "--show", help="登録後の案件パネルを表示 (既定は1行).")


def _done(ctx: typer.Context, view: CaseView, as_json: bool, show: bool, what: str) -> None:
    """A fact command's answer: one line (what changed, and what the next step still needs);
    the panel with --show, the case document with --json."""
    if as_json or show:
        _show(ctx, view, as_json)
        return
    console().print(plain(f"{view.id}: {what}。{next_step(view)}"))


def next_step(view: CaseView) -> str:
    """`次: 利用申請 (apply) に必要: …` or `次: 利用申請 (apply) ができます`."""
    from states.programs import catalog

    backward = {"reject", "revise", "withdraw", "discontinue"}
    forward = [
        t
        for t in catalog().definition(view.program, view.track).transitions_from(view.stage)
        if t.trigger not in backward
    ]
    if not forward:
        return f"段階: {view.stage_label}"
    t = forward[0]
    needs = view.missing.get(t.trigger, [])
    head = f"次: {t.label} ({t.trigger})"
    return f"{head} に必要: {'、'.join(needs)}" if needs else f"{head} ができます"


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
    company: str = typer.Option(..., "--company", help="法人番号 (個人事業主は P… の番号)."),
    program: str = typer.Option(
        ..., "--program", help="事業: 405 (405事業) / early (早期経営改善)."
    ),
    track: str = typer.Option(
        "normal",
        "--track",
        help="枠: normal (通常枠)、gl (中小版GL枠)、guarantee (経営者保証解除枠).",
    ),
    council: str = typer.Option(..., "--council", help="協議会コード (例: 40)."),
    advisor: str = typer.Option("", "--advisor", help="認定経営革新等支援機関 (代表)."),
    affected: str = typer.Option(
        "", "--affected", help="R4/R5 再利用の原因: covid,ukraine,oil,other:原因."
    ),
    interim: bool = typer.Option(
        False, "--interim-monitoring", help="早期経営改善: 期中モニタリングを選ぶ."
    ),
    guarantee_release: bool = typer.Option(
        False, "--guarantee-release", help="405 通常枠: 経営者保証解除を目指す."
    ),
    on: str | None = ON,
    as_json: bool = JSON,
) -> None:
    """案件を 相談 (consultation) の段階で登録する.

    Example: kaizen case open --company 7000012050002 --program 405 --track normal --council 40 --advisor 博多会計事務所
    """
    c = get_ctx(ctx)
    causes = cause_items(affected)
    view = c.kaizen().open_case(
        c.user,
        company=company,
        program=choose("programs", program),
        track=choose("tracks", track),
        council=council,
        advisor=advisor,
        affected=causes,
        interim_monitoring=interim,
        guarantee_release=guarantee_release,
        on=_on(on),
    )
    _show(ctx, view, as_json)


@case_app.command("show")
def case_show(ctx: typer.Context, case: str = CASE, as_json: bool = JSON) -> None:
    """段階・次の段階に足りない条件・期限・最近の記録を表示する.

    Example: kaizen case show 40-2026-0007 --json
    """
    c = get_ctx(ctx)
    _show(ctx, c.kaizen().show(c.user, case), as_json)


@case_app.command("history")
def case_history(ctx: typer.Context, case: str = CASE, as_json: bool = JSON) -> None:
    """案件のすべての記録 (古い順); 訂正は何をどう変えたか・誰が・いつ・なぜ.

    Example: kaizen case history 40-2026-0007
    """
    c = get_ctx(ctx)
    view = c.kaizen().show(c.user, case)
    if as_json:
        emit_json({"id": view.id, "events": view.to_json()["events"]})
    else:
        console().print(history_table(view))


@case_app.command("list")
def case_list(
    ctx: typer.Context,
    council: str | None = typer.Option(
        None, "--council", help="協議会コード (既定: 自分の協議会)."
    ),
    stage: str | None = typer.Option(
        None,
        "--stage",
        autocompletion=complete("stages"),
        help="段階: 計画策定 (planning)、金融機関協議 (bank_negotiation)…",
    ),
    officer: str | None = typer.Option(None, "--officer", help="担当者 ID."),
    overdue: bool = typer.Option(False, "--overdue", help="期限を過ぎた案件だけ."),
    search: str | None = typer.Option(
        None, "--search", "-s", help="会社名・法人番号・案件番号・認定支援機関の一部で探す."
    ),
    every: bool = typer.Option(False, "--all", help="完了・取下げなど終わった案件も出す."),
    limit: int = typer.Option(30, "--limit", min=1, max=10_000, help="1ページの件数."),
    page: int = typer.Option(1, "--page", min=1, help="ページ (1から)."),
    as_json: bool = JSON,
) -> None:
    """進行中の案件を次の期限の近い順に一覧する (--all で終わった案件も).

    Example: kaizen case list --search 博多 --stage 金融機関協議
    """
    c = get_ctx(ctx)
    rows = c.kaizen().find_cases(
        c.user,
        council=council,
        stage=choose("stages", stage) if stage is not None else None,
        officer=officer,
        overdue=overdue,
        open_only=not every,
        search=search,
        limit=limit + 1,  # one more tells whether there is a next page
        offset=(page - 1) * limit,
    )
    more, rows = len(rows) > limit, rows[:limit]
    if as_json:
        emit_json({"cases": [asdict(r) for r in rows], "page": page, "more": more})
        return
    first = (page - 1) * limit + 1
    shown = f"{first}–{first + len(rows) - 1}件目" if rows else "該当なし"
    title = f"{'案件' if every else '進行中の案件'} ({shown})"
    out = console()
    out.print(case_rows_table(rows, title))
    if more:
        out.print(plain(f"続き: --page {page + 1}"))


@case_app.command("advance")
def case_advance(
    ctx: typer.Context,
    case: str = CASE,
    trigger: str = typer.Argument(
        ...,
        autocompletion=complete("triggers"),
        help="利用申請 (apply)、受付・利用決定 (accept)、不受理 (reject)、計画策定開始 "
        "(start_planning)、計画提出 (submit_plan)、計画修正 (revise)、金融機関合意 (agree)、"
        "支払決定 (decide_payment)、伴走支援費用支払申請 (claim_monitoring)、伴走支払 "
        "(pay_monitoring)、完了 (complete)、取下げ (withdraw)、中止 (discontinue).",
    ),
    on: str | None = ON,
    reason: str | None = typer.Option(
        None, "--reason", help="理由 (不受理・計画修正・取下げ・中止と R6 の再利用で必須)."
    ),
    as_json: bool = JSON,
) -> None:
    """案件を次の段階へ進める (条件を満たさなければ足りない条件をすべて表示).

    Example: kaizen case advance 40-2026-0007 agree --on 2026-11-20
    """
    c = get_ctx(ctx)
    trigger = choose("triggers", trigger)
    view = c.kaizen().advance(c.user, case, trigger, on=_on(on), reason=reason)
    _show(ctx, view, as_json)


# A negative amount ('-100') must reach parse_yen and get its message, not "No such option".
AMOUNT_ARGS = {"ignore_unknown_options": True}


@case_app.command("estimate", context_settings=AMOUNT_ARGS)
def case_estimate(
    ctx: typer.Context,
    case: str = CASE,
    category: str = typer.Argument(
        ...,
        autocompletion=complete("categories"),
        help="費用区分: DD・計画策定支援費用 (dd_plan)、伴走支援費用 (monitoring)…",
    ),
    amount: str = typer.Argument(..., help="円 (例: 2400000、2,400,000、2,400,000円)."),
    on: str | None = ON,
    as_json: bool = JSON,
    show: bool = SHOW,
) -> None:
    """費用区分ごとの見積額 (利用申請時) を登録する.

    Example: kaizen case estimate 40-2026-0007 dd_plan 2400000
    """
    c = get_ctx(ctx)
    category = choose("categories", category)
    view = c.kaizen().record_estimate(c.user, case, category, _yen(amount), on=_on(on))
    _done(ctx, view, as_json, show, f"見積額 {category} {_yen(amount):,}円を登録しました")


@case_app.command("fee", context_settings=AMOUNT_ARGS)
def case_fee(
    ctx: typer.Context,
    case: str = CASE,
    category: str = typer.Argument(
        ..., autocompletion=complete("categories"), help="費用区分 (ID または日本語名)."
    ),
    amount: str = typer.Argument(..., help="支援機関に支払った額 (円; 伴走支援は累計)."),
    on: str | None = ON,
    as_json: bool = JSON,
    show: bool = SHOW,
) -> None:
    """費用区分ごとの支払額 (実績) を登録する (受付より前の日付は不可).

    Example: kaizen case fee 40-2026-0007 dd_plan 2400000 --on 2026-10-01
    """
    c = get_ctx(ctx)
    category = choose("categories", category)
    view = c.kaizen().record_fee(c.user, case, category, _yen(amount), on=_on(on))
    _done(ctx, view, as_json, show, f"支払額 {category} {_yen(amount):,}円を登録しました")


@case_app.command("lender")
def case_lender(
    ctx: typer.Context,
    case: str = CASE,
    name: str = typer.Argument(..., help="金融機関名."),
    on: str | None = ON,
    as_json: bool = JSON,
    show: bool = SHOW,
) -> None:
    """取引金融機関を登録する.

    Example: kaizen case lender 40-2026-0007 福岡銀行
    """
    c = get_ctx(ctx)
    view = c.kaizen().add_lender(c.user, case, name, on=_on(on))
    _done(ctx, view, as_json, show, f"金融機関 {name.strip()} を登録しました")


@case_app.command("consent")
def case_consent(
    ctx: typer.Context,
    case: str = CASE,
    lender: str = typer.Argument(..., help="登録した金融機関名."),
    on: str | None = ON,
    as_json: bool = JSON,
    show: bool = SHOW,
) -> None:
    """金融機関の同意書 (405) または受領書 (早期) を登録する.

    Example: kaizen case consent 40-2026-0007 福岡銀行 --on 2026-11-10
    """
    c = get_ctx(ctx)
    view = c.kaizen().record_consent(c.user, case, lender, on=_on(on))
    _done(ctx, view, as_json, show, f"{lender.strip()} の同意・受領を登録しました")


@case_app.command("certificate")
def case_certificate(
    ctx: typer.Context,
    case: str = CASE,
    issued: str = typer.Option(..., "--issued", help="履歴事項全部証明書の発行日."),
    on: str | None = ON,
    as_json: bool = JSON,
    show: bool = SHOW,
) -> None:
    """履歴事項全部証明書の発行日を登録する (利用申請時に3か月以内).

    Example: kaizen case certificate 40-2026-0007 --issued 2026-06-01
    """
    c = get_ctx(ctx)
    day = parse_date(issued, "--issued")
    view = c.kaizen().record_certificate(c.user, case, day, on=_on(on))
    _done(ctx, view, as_json, show, f"証明書の発行日 {day.isoformat()} を登録しました")


@case_app.command("plan")
def case_plan(
    ctx: typer.Context,
    case: str = CASE,
    on: str | None = ON,
    as_json: bool = JSON,
    show: bool = SHOW,
) -> None:
    """計画ができたことを登録する (金融機関へ提出できるように).

    Example: kaizen case plan 40-2026-0007 --on 2026-09-15
    """
    c = get_ctx(ctx)
    view = c.kaizen().record_plan(c.user, case, on=_on(on))
    _done(ctx, view, as_json, show, "計画を登録しました")


@case_app.command("report")
def case_report(
    ctx: typer.Context,
    case: str = CASE,
    on: str | None = ON,
    as_json: bool = JSON,
    show: bool = SHOW,
) -> None:
    """当期のモニタリング報告を登録する.

    Example: kaizen case report 40-2026-0007 --on 2027-01-20
    """
    c = get_ctx(ctx)
    view = c.kaizen().record_report(c.user, case, on=_on(on))
    _done(ctx, view, as_json, show, "モニタリング報告を登録しました")


@case_app.command("extend")
def case_extend(
    ctx: typer.Context,
    case: str = CASE,
    until: str = typer.Option(..., "--until", help="405 利用申請の新しい有効期限."),
    reason: str = typer.Option(..., "--reason", help="延長の理由."),
    as_json: bool = JSON,
    show: bool = SHOW,
) -> None:
    """405 利用申請の有効期限 (2年) を延長する (統括責任者のみ).

    Example: kaizen case extend 40-2026-0007 --until 2028-12-28 --reason 金融機関調整の長期化
    """
    c = get_ctx(ctx)
    day = parse_date(until, "--until")
    view = c.kaizen().extend_validity(c.user, case, day, reason)
    _done(ctx, view, as_json, show, f"期限を {day.isoformat()} に延長しました")


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
def subsidy(ctx: typer.Context, case: str = CASE, as_json: bool = JSON) -> None:
    """費用区分ごとの補助額 (2/3・上限)、支払済と留保.

    Example: kaizen subsidy 40-2026-0007 --json
    """
    c = get_ctx(ctx)
    v = c.kaizen().subsidy(c.user, case)
    if as_json:
        emit_json(v.to_json())
    else:
        console().print(subsidy_table(v))
