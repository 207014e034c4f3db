"""`kaizen init`, `kaizen council …`, `kaizen officer …`: the database and who works in it."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer
from rich.table import Table

from cli.app import app, console, emit_json, get_ctx
from cli.render import plain, row
from workflow.errors import InvalidInput

council_app = typer.Typer(help="協議会 (中小企業活性化協議会) の一覧と登録", no_args_is_help=True)
officer_app = typer.Typer(help="担当者・統括責任者・管理者の登録", no_args_is_help=True)
app.add_typer(council_app, name="council")
app.add_typer(officer_app, name="officer")


@app.command("init")
def init(ctx: typer.Context) -> None:
    """データベースの作成・更新、九州の協議会の登録、最初の管理者の登録.

    The acting user (--as / KAIZEN_USER / OS login) becomes the admin when no officer exists.
    Example: KAIZEN_DB=council.db kaizen init
    """
    from workflow.setup import init_database

    c = get_ctx(ctx)
    _, result = init_database(c.settings, c.clock(), c.user)
    out = console()
    out.print(plain(f"データベース: {result.url} (最新の状態)"))
    out.print(plain(f"協議会を {result.councils_loaded} 件登録しました"))
    if result.admin_created:
        out.print(plain(f"管理者 {result.admin_created} を作成しました"))


@council_app.command("list")
def council_list(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="JSON で1つの文書を出力."),
) -> None:
    """協議会の一覧.

    Example: kaizen council list --json
    """
    rows = get_ctx(ctx).kaizen().list_councils()
    if as_json:
        emit_json(rows)
        return
    t = Table(title="協議会")
    for col in ("code", "名称", "住所", "電話", "URL"):
        t.add_column(col)
    for r in rows:
        t.add_row(*row(r["code"], r["name"], r["address"], r["phone"], r["url"]))
    console().print(t)


@council_app.command("import")
def council_import(
    ctx: typer.Context, file: Path = typer.Argument(..., help="CSV または TOML ファイル.")
) -> None:
    """ファイルから協議会を登録・更新する (CSV 見出し: code,name,address,phone,url; 管理者のみ).

    Example: kaizen council import councils.csv
    """
    from states.councils import CouncilFileError, read_council_file

    c = get_ctx(ctx)
    try:
        rows = read_council_file(file)
    except CouncilFileError as e:
        raise InvalidInput(str(e)) from None
    n = c.kaizen().upsert_councils(c.user, rows)
    console().print(plain(f"協議会を {n} 件登録・更新しました"))


@officer_app.command("add")
def officer_add(
    ctx: typer.Context,
    officer_id: str = typer.Argument(..., help="ログイン ID (英数字と . _ @ -)."),
    name: str = typer.Option(..., "--name", help="氏名."),
    council: str | None = typer.Option(None, "--council", help="所属協議会コード (例: 40)."),
    role: str = typer.Option(
        "officer", "--role", help="役割: officer (担当者)、supervisor (統括責任者)、admin (管理者)."
    ),
    email: str | None = typer.Option(None, "--email", help="リマインダーの送り先メールアドレス."),
) -> None:
    """担当者を登録する (管理者のみ).

    Example: kaizen officer add tanaka --name 田中一郎 --council 40 --role officer
    """
    c = get_ctx(ctx)
    a = c.kaizen().add_officer(
        c.user, officer_id, name=name, council=council, role=role, email=email
    )
    console().print(
        plain(f"担当者 {a.id} ({a.name}, {a.role}, 協議会 {a.council or '—'}) を登録しました")
    )


@officer_app.command("edit")
def officer_edit(
    ctx: typer.Context,
    officer_id: str = typer.Argument(..., help="Officer id."),
    name: str | None = typer.Option(None, "--name", help="氏名."),
    email: str | None = typer.Option(None, "--email", help="Address for reminders."),
    role: str | None = typer.Option(None, "--role", help="officer, supervisor or admin."),
    council: str | None = typer.Option(None, "--council", help="所属協議会 code."),
    active: bool | None = typer.Option(
        None, "--active/--inactive", help="An inactive officer can no longer act."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Change an officer (admins only): name, e-mail, role, council, active.

    Example: kaizen officer edit tanaka --email tanaka@example.jp
    """
    c = get_ctx(ctx)
    o = c.kaizen().edit_officer(
        c.user, officer_id, name=name, email=email, role=role, council=council, active=active
    )
    if as_json:
        emit_json(asdict(o))
        return
    for f, (old, new) in o.changes.items():
        console().print(plain(f"{o.id} {f}: {old if old is not None else '—'} → {new}"))


@officer_app.command("list")
def officer_list(
    ctx: typer.Context,
    council: str | None = typer.Option(None, "--council", help="Council code."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """List officers (admins: all councils), with their open cases.

    Example: kaizen officer list --council 40 --json
    """
    c = get_ctx(ctx)
    rows = c.kaizen().list_officers(c.user, council=council)
    if as_json:
        emit_json({"officers": [asdict(r) for r in rows]})
        return
    t = Table(title="担当者")
    for col in ("ID", "氏名", "役割", "協議会", "メール", "状態", "担当中の案件"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            *row(
                r.id,
                r.name,
                r.role,
                r.council or "—",
                r.email or "—",
                "有効" if r.active else "無効 (要引継ぎ)" if r.open_cases else "無効",
                str(r.open_cases),
            )
        )
    console().print(t)
