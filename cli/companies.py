"""`kaizen company …`: the firms (申請者) and their earlier uses of the programs."""

from __future__ import annotations

import typer
from rich.table import Table

from cli.app import app, console, emit_json, get_ctx
from cli.render import plain, row

company_app = typer.Typer(help="申請者 (会社) と過去の利用", no_args_is_help=True)
app.add_typer(company_app, name="company")


@company_app.command("add")
def company_add(
    ctx: typer.Context,
    number: str | None = typer.Option(
        None, "--number", help="法人番号 (13 digits; not for 個人事業主)."
    ),
    name: str = typer.Option(..., "--name", help="会社名."),
    fiscal_year_end: int = typer.Option(..., "--fiscal-year-end", help="決算月 (1–12)."),
    industry: str = typer.Option(
        "other", "--industry", help="manufacturing, wholesale, services, retail, other."
    ),
    capital: int | None = typer.Option(None, "--capital", help="資本金 (yen)."),
    employees: int | None = typer.Option(None, "--employees", help="常時使用する従業員数."),
    legal_form: str = typer.Option(
        "株式会社", "--legal-form", help="法人形態 (個人事業主 for sole proprietors)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Register a company.

    Example: kaizen company add --number 7000012050002 --name 株式会社博多製作所 --fiscal-year-end 5 --industry manufacturing --capital 10000000 --employees 25
    """
    c = get_ctx(ctx)
    key = c.kaizen().add_company(
        c.user,
        number=number,
        name=name,
        fiscal_year_end=fiscal_year_end,
        industry=industry,
        capital=capital,
        employees=employees,
        legal_form=legal_form,
    )
    if as_json:
        emit_json({"company": key})
    else:
        console().print(plain(f"会社 {key} ({name}) を登録しました"))


@company_app.command("prior-use")
def company_prior_use(
    ctx: typer.Context,
    number: str = typer.Argument(..., help="法人番号 (or the P… key of a sole proprietor)."),
    program: str = typer.Option(..., "--program", help="405 or early."),
    fiscal_year: int = typer.Option(
        ..., "--fiscal-year", help="年度 of the earlier use (e.g. 2021)."
    ),
    track: str | None = typer.Option(None, "--track", help="normal, gl, guarantee."),
    paid: int = typer.Option(
        0, "--paid", help="Council's payments to the firm for that use (yen)."
    ),
    note: str = typer.Option("", "--note", help="Free text."),
) -> None:
    """Record an earlier use of either program (e.g. one made before Kaizen).

    Example: kaizen company prior-use 7000012050002 --program early --fiscal-year 2021 --paid 100000
    """
    c = get_ctx(ctx)
    uid = c.kaizen().record_prior_use(
        c.user, number, program=program, fiscal_year=fiscal_year, track=track, paid=paid, note=note
    )
    console().print(plain(f"過去の利用 #{uid} を登録しました"))


@company_app.command("uses")
def company_uses(
    ctx: typer.Context,
    number: str = typer.Argument(..., help="法人番号 (or P… key)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Every earlier use of the company (recorded ones and Kaizen's accepted cases).

    Example: kaizen company uses 7000012050002
    """
    c = get_ctx(ctx)
    uses = c.kaizen().prior_uses(c.user, number)
    if as_json:
        emit_json({"uses": [vars(u) for u in uses]})
        return
    t = Table(title=plain(f"{number} の過去の利用 (再利用の判定に使われます)"))
    for col in ("事業", "枠", "年度", "支払額", "記録"):
        t.add_column(col)
    for u in uses:
        t.add_row(*row(u.program, u.track or "—", str(u.fiscal_year), f"{u.paid:,}円", u.source))
    console().print(t if uses else plain("過去の利用はありません"))


@company_app.command("edit")
def company_edit(
    ctx: typer.Context,
    number: str = typer.Argument(..., help="法人番号 (or P… key)."),
    name: str | None = typer.Option(None, "--name", help="会社名."),
    fiscal_year_end: int | None = typer.Option(None, "--fiscal-year-end", help="決算月 (1–12)."),
    industry: str | None = typer.Option(None, "--industry", help="業種."),
    capital: int | None = typer.Option(None, "--capital", help="資本金 (yen)."),
    employees: int | None = typer.Option(None, "--employees", help="常時使用する従業員数."),
    legal_form: str | None = typer.Option(None, "--legal-form", help="法人形態."),
    reason: str | None = typer.Option(None, "--reason", help="Why (required)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Correct a company's facts; each change is recorded (old → new, who, when, why).

    Example: kaizen company edit 7000012050002 --capital 10000000 --reason 登録漏れ
    """
    c = get_ctx(ctx)
    changed = c.kaizen().edit_company(
        c.user,
        number,
        reason=reason,
        name=name,
        fiscal_year_end=fiscal_year_end,
        industry=industry,
        capital=capital,
        employees=employees,
        legal_form=legal_form,
    )
    if as_json:
        emit_json({"company": number, "changes": {f: [old, new] for f, old, new in changed}})
        return
    for f, old, new in changed:
        console().print(plain(f"{f}: {old if old is not None else '—'} → {new}"))
