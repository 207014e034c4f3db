"""`kaizen company …`: the firms (申請者) and their earlier uses of the programs."""

from __future__ import annotations

from collections.abc import Sequence

import typer
from rich.console import RenderableType
from rich.table import Table

from cli.app import app, choose, console, emit_json, get_ctx, parse_count
from cli.render import case_rows_table, plain, row, yen
from workflow.reuse import Use

company_app = typer.Typer(help="申請者 (会社) と過去の利用", no_args_is_help=True)
app.add_typer(company_app, name="company")


@company_app.command("add")
def company_add(
    ctx: typer.Context,
    number: str | None = typer.Option(None, "--number", help="法人番号 (13桁; 個人事業主は不要)."),
    name: str = typer.Option(..., "--name", help="会社名."),
    fiscal_year_end: int = typer.Option(..., "--fiscal-year-end", help="決算月 (1–12)."),
    industry: str = typer.Option(
        "other",
        "--industry",
        help="業種: 製造業 (manufacturing)、卸売業 (wholesale)、サービス業 (services)、"
        "小売業 (retail)、その他 (other).",
    ),
    capital: str | None = typer.Option(
        None, "--capital", help="資本金 (円; 例: 10,000,000 または 10000000円)."
    ),
    employees: str | None = typer.Option(None, "--employees", help="常時使用する従業員数."),
    legal_form: str = typer.Option("株式会社", "--legal-form", help="法人形態 (個人事業主も可)."),
    as_json: bool = typer.Option(False, "--json", help="JSON で1つの文書を出力."),
) -> None:
    """会社 (申請者) を登録する.

    Example: kaizen company add --number 7000012050002 --name 株式会社博多製作所 --fiscal-year-end 5 --industry manufacturing --capital 10000000 --employees 25
    """
    c = get_ctx(ctx)
    key = c.kaizen().add_company(
        c.user,
        number=number,
        name=name,
        fiscal_year_end=fiscal_year_end,
        industry=choose("industries", industry),
        capital=parse_count(capital, "資本金 (--capital)"),
        employees=parse_count(employees, "従業員数 (--employees)"),
        legal_form=legal_form,
    )
    if as_json:
        emit_json({"company": key})
    else:
        console().print(plain(f"会社 {key} ({name}) を登録しました"))


@company_app.command("prior-use")
def company_prior_use(
    ctx: typer.Context,
    number: str = typer.Argument(..., help="法人番号 (個人事業主は P… の番号)."),
    program: str = typer.Option(..., "--program", help="事業: 405 / early (早期経営改善)."),
    fiscal_year: int = typer.Option(..., "--fiscal-year", help="過去の利用の年度 (例: 2021)."),
    track: str | None = typer.Option(
        None, "--track", help="枠: normal (通常枠)、gl (中小版GL枠)、guarantee (経営者保証解除枠)."
    ),
    paid: str = typer.Option("0", "--paid", help="その利用で協議会が支払った額 (円)."),
    note: str = typer.Option("", "--note", help="備考."),
) -> None:
    """過去の利用 (Kaizen 導入前のものなど) を登録する.

    Example: kaizen company prior-use 7000012050002 --program early --fiscal-year 2021 --paid 100000
    """
    c = get_ctx(ctx)
    uid = c.kaizen().record_prior_use(
        c.user,
        number,
        program=choose("programs", program),
        fiscal_year=fiscal_year,
        track=choose("tracks", track) if track is not None else None,
        paid=parse_count(paid, "支払額 (--paid)") or 0,
        note=note,
    )
    console().print(plain(f"過去の利用 #{uid} を登録しました"))


@company_app.command("uses")
def company_uses(
    ctx: typer.Context,
    number: str = typer.Argument(..., help="法人番号 (個人事業主は P… の番号)."),
    as_json: bool = typer.Option(False, "--json", help="JSON で1つの文書を出力."),
) -> None:
    """会社の過去の利用 (登録したものと Kaizen で受け付けた案件).

    Example: kaizen company uses 7000012050002
    """
    c = get_ctx(ctx)
    uses = c.kaizen().prior_uses(c.user, number)
    if as_json:
        emit_json({"uses": [vars(u) for u in uses]})
        return
    console().print(uses_table(uses, f"{number} の過去の利用 (再利用の判定に使われます)"))


def uses_table(uses: Sequence[Use], title: str) -> RenderableType:
    if not uses:
        return plain("過去の利用はありません")
    t = Table(title=plain(title))
    for col in ("事業", "枠", "年度", "支払額", "記録"):
        t.add_column(col)
    for u in uses:
        t.add_row(*row(u.program, u.track or "—", str(u.fiscal_year), yen(u.paid), u.source))
    return t


@company_app.command("list")
def company_list(
    ctx: typer.Context,
    search: str | None = typer.Option(
        None, "--search", "-s", help="会社名・法人番号の一部 (空白で区切るとすべてを含むもの)."
    ),
    limit: int = typer.Option(30, "--limit", min=1, max=10_000, help="1ページの件数."),
    page: int = typer.Option(1, "--page", min=1, help="ページ (1から)."),
    as_json: bool = typer.Option(False, "--json", help="JSON で1つの文書を出力."),
) -> None:
    """会社を名前・法人番号で探す (案件数は自分の協議会のもの).

    Example: kaizen company list --search 博多
    """
    c = get_ctx(ctx)
    rows = c.kaizen().find_companies(
        c.user, search=search, limit=limit + 1, offset=(page - 1) * limit
    )
    more, rows = len(rows) > limit, rows[:limit]
    if as_json:
        emit_json({"companies": [vars(r) for r in rows], "page": page, "more": more})
        return
    t = Table(title=plain(f"会社 ({len(rows)}件)"))
    t.add_column("法人番号", no_wrap=True)
    t.add_column("会社名", overflow="fold")
    t.add_column("業種", overflow="fold")
    t.add_column("決算月", justify="right", no_wrap=True)
    t.add_column("案件", justify="right", no_wrap=True)
    for r in rows:
        t.add_row(*row(r.number, r.name, r.industry_label, f"{r.fiscal_year_end}月",
                       f"{r.open_cases}/{r.cases}"))  # fmt: skip
    out = console()
    out.print(t if rows else plain("該当する会社はありません"))
    if more:
        out.print(plain(f"続き: --page {page + 1}"))


@company_app.command("show")
def company_show(
    ctx: typer.Context,
    number: str = typer.Argument(..., help="法人番号 (個人事業主は P… の番号)."),
    as_json: bool = typer.Option(False, "--json", help="JSON で1つの文書を出力."),
) -> None:
    """会社の登録内容・過去の利用・案件 (見られるもの) を表示する.

    Example: kaizen company show 7000012050002
    """
    c = get_ctx(ctx)
    v = c.kaizen().company(c.user, number)
    if as_json:
        emit_json(v.to_json())
        return
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column(overflow="fold")
    for label, value in (
        ("法人番号", v.number),
        ("会社名", v.name),
        ("法人形態", v.legal_form),
        ("業種", f"{v.industry_label} ({v.industry})"),
        ("決算月", f"{v.fiscal_year_end}月"),
        ("資本金", yen(v.capital)),
        ("従業員数", "—" if v.employees is None else f"{v.employees}人"),
    ):
        facts.add_row(*row(label, value))
    out = console()
    out.print(facts)
    out.print(uses_table(v.uses, "過去の利用 (再利用の判定に使われます)"))
    out.print(case_rows_table(list(v.cases), f"案件 ({len(v.cases)}件)"))


@company_app.command("edit")
def company_edit(
    ctx: typer.Context,
    number: str = typer.Argument(..., help="法人番号 (or P… key)."),
    name: str | None = typer.Option(None, "--name", help="会社名."),
    fiscal_year_end: int | None = typer.Option(None, "--fiscal-year-end", help="決算月 (1–12)."),
    industry: str | None = typer.Option(None, "--industry", help="業種 (製造業 / manufacturing…)."),
    capital: str | None = typer.Option(None, "--capital", help="資本金 (円: 10,000,000 など)."),
    employees: str | None = typer.Option(None, "--employees", help="常時使用する従業員数."),
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
        industry=None if industry is None else choose("industries", industry),
        capital=parse_count(capital, "資本金 (--capital)"),
        employees=parse_count(employees, "従業員数 (--employees)"),
        legal_form=legal_form,
    )
    if as_json:
        emit_json({"company": number, "changes": {f: [old, new] for f, old, new in changed}})
        return
    for f, old, new in changed:
        console().print(plain(f"{f}: {old if old is not None else '—'} → {new}"))
