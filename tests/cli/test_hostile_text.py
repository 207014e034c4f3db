"""Stored text is printed as text: never Rich markup, never raw control characters.

Each payload is stored the way it can get in: typed (names with markup pass the normaliser
and must print literally) or written straight into the tables (control characters, as an old
import or another tool could have left them: the normaliser refuses them today). Then every
printing command runs on both backends: exit 0, the literal text shown (controls as escapes
like `\\x1b`), no ESC byte or other control character on stdout or stderr.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from cli.render import plain, row
from states.text import visible
from tests.conftest import World

MARKUP = [
    "銀行[/i]",
    "株式会社[/bold]",
    "[link=https://evil.example/]博多会計[/link]",
    "[red]赤[/red]銀行",
    "[bold]太字",
    ":warning: 絵文字銀行",
    "\\[escaped] 銀行",
    "銀行[",
]
CONTROLS = [
    ("\x1b]0;pwned\x07\x1b[2J会社", "\\x1b]0;pwned\\x07\\x1b[2J会社"),
    ("\u202e社会式株", "\\u202e社会式株"),
    ("改行\n会社", "改行\\x0a会社"),
    ("\x9b31m会社", "\\x9b31m会社"),
]

PRINTING = [
    ("case", "show", "{case}"),
    ("case", "history", "{case}"),
    ("case", "list"),
    ("company", "uses", "{company}"),
    ("report", "board"),
    ("report", "overdue"),
    ("report", "workload"),
    ("council", "list"),
    ("subsidy", "{case}"),
]


def _clean_terminal_text(text: str) -> None:
    assert "\x1b" not in text and "\x9b" not in text and "\u202e" not in text
    assert all(ch in "\n" or ch.isprintable() or ch in " \u3000" for ch in text), repr(text)


def _open(run_cli: Any, world: World, advisor: str = "博多会計") -> str:
    r = run_cli(
        "case", "open", "--company", world.company, "--program", "405", "--council", "40",
        "--advisor", advisor, "--on", "2026-03-02", "--json",
        user="tanaka", db=world.url,
    )  # fmt: skip
    assert r.code == 0, r.err
    return str(json.loads(r.out)["id"])


def _print_all(run_cli: Any, world: World, case: str, user: str) -> str:
    out = []
    for argv in PRINTING:
        args = [a.format(case=case, company=world.company) for a in argv]
        r = run_cli(*args, user=user, db=world.url)
        assert r.code == 0, (args, r.err)
        assert "Traceback" not in r.err
        _clean_terminal_text(r.out + r.err)
        out.append(r.out)
    return "\n".join(out)


@pytest.mark.parametrize("payload", MARKUP)
def test_markup_typed_by_users_is_printed_literally(
    run_cli: Any, world: World, payload: str
) -> None:
    k: Any = world.k
    r = run_cli(
        "company", "add", "--number", _number(), "--name", payload, "--fiscal-year-end", "5",
        user="tanaka", db=world.url,
    )  # fmt: skip
    assert r.code == 0, r.err
    assert payload in r.out
    case = _open(run_cli, world, advisor=payload)
    r = run_cli("case", "lender", case, payload, user="tanaka", db=world.url)
    assert r.code == 0, r.err  # it committed: it must not report failure
    assert "link=" not in payload or "\x1b]8" not in r.out  # no hidden hyperlink
    k.db.dispose()
    with world_db(world) as c:
        c.execute(text("UPDATE companies SET name = :n"), {"n": payload})
    for user in ("tanaka", "boss", "admin"):
        shown = _print_all(run_cli, world, case, user)
        assert payload in shown.replace("\n", ""), user


@pytest.mark.parametrize(("stored", "shown"), CONTROLS)
def test_control_characters_in_stored_text_are_shown_as_escapes(
    run_cli: Any, world: World, stored: str, shown: str
) -> None:
    case = _open(run_cli, world)
    r = run_cli("case", "lender", case, "福岡銀行", user="tanaka", db=world.url)
    assert r.code == 0, r.err
    with world_db(world) as c:
        c.execute(text("UPDATE companies SET name = :n"), {"n": stored})
        c.execute(text("UPDATE cases SET advisor = :n"), {"n": stored})
        c.execute(text("UPDATE lenders SET name = :n"), {"n": stored})
        c.execute(text("UPDATE councils SET name = :n WHERE code = '40'"), {"n": stored})
        c.execute(text("UPDATE officers SET name = :n WHERE id = 'tanaka'"), {"n": stored})
    out = _print_all(run_cli, world, case, "admin")
    assert shown in out.replace("\n", "")
    # --json is for scripts: the same text, with what a terminal would act on escaped.
    r = run_cli("case", "show", case, "--json", user="admin", db=world.url)
    assert r.code == 0 and json.loads(r.out)["company_name"] == stored
    _clean_terminal_text(r.out)


# ---------------------------------------------------------------- the helpers themselves


@pytest.mark.parametrize("payload", [*MARKUP, *(s for s, _ in CONTROLS)])
def test_plain_and_row_never_read_markup(payload: str) -> None:
    con = Console(width=100, record=True, force_terminal=True, color_system=None)
    t = Table()
    t.add_column("x")
    t.add_row(*row(payload))
    con.print(t)
    con.print(plain(payload))
    text_out = con.export_text()
    _clean_terminal_text(text_out)
    assert text_out.count(visible(payload)) == 2


# ---------------------------------------------------------------- plumbing

_N = iter(range(1, 10_000))


def _number() -> str:
    from states.ids import make_corporate_number

    return make_corporate_number(f"{880000000000 + next(_N):012d}")


@contextmanager
def world_db(world: World) -> Iterator[Any]:
    """A raw connection to the world's database, committed on exit."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(world.url, poolclass=NullPool)
    try:
        with engine.begin() as c:
            yield c
    finally:
        engine.dispose()
