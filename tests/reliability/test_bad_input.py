"""Bad input, command by command: one short line, a non-zero exit code, nothing written.

Every row of `ROWS` is a `kaizen` command line an officer could type by mistake (or a script
could send): wrong types, negative or fractional yen, full-width or Kanji numbers, impossible
dates, dates before the last event, unknown ids, stages, triggers and categories, tracks not of
the program, empty names, over-long text, SQL-looking strings. Each must be answered with one
line on stderr starting `kaizen: ` (no traceback), the exit code of its kind of mistake, and
a database identical to the one before (a full dump compared). Rows that fail before reaching
the database run on SQLite only; the others run on both backends.

`BROKEN` does the same for databases that cannot serve: missing, in a missing folder, not
initialised, corrupt, truncated, locked by another connection, read-only, an unreachable or
unknown server.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypedDict

import pytest

from states.ids import make_corporate_number
from tests.reliability.conftest import (
    advance_to,
    assert_clean_refusal,
    company,
    company_number,
    dump,
    dump_after,
    dump_before,
    open_case,
)
from workflow.clock import FixedClock
from workflow.config import Settings

LONG = "長" * 201  # names are limited to 200 characters
LONGER = "長" * 2001  # free text (reasons, notes) to 2000
SQL = "'; DROP TABLE cases; --"
UNKNOWN_CO = make_corporate_number("000000054321")  # a valid 法人番号 of no company here
HUGE = "99999999999999999999999"  # beyond any 64-bit column


@dataclass(frozen=True)
class Bad:
    argv: tuple[str, ...]
    code: int  # the exit code this kind of mistake gets (errors.py)
    user: str = "tanaka"
    pg: bool = False  # also on PostgreSQL: the refusal comes from inside a transaction
    says: str = ""  # a piece of the message, where the wording matters
    listing: bool = False  # an import may list its file's problems above the one-line verdict


def bad(
    *argv: str,
    code: int,
    user: str = "tanaka",
    pg: bool | None = None,
    says: str = "",
    listing: bool = False,
) -> Bad:
    """A row; by default only refusals that need the database's content run on PostgreSQL too
    (invalid input is mostly refused before a transaction opens: one backend is enough)."""
    return Bad(argv, code, user, code != 2 if pg is None else pg, says, listing)


# Keyword arguments shared by many rows (typed, so that `**ADMIN, **IN_TX` is checked).
class As(TypedDict):
    user: str


class Backends(TypedDict):
    pg: bool


ADMIN: As = {"user": "admin"}
BOSS: As = {"user": "boss"}
PARSE: Backends = {"pg": False}
IN_TX: Backends = {"pg": True}  # invalid, but only the case's own facts tell

ROWS: list[Any] = [
    # ---------------------------------------------------------------- plan (no database)
    bad("plan", "--fiscal-year-end", "13", code=2, **PARSE),
    bad("plan", "--fiscal-year-end", "0", code=2, **PARSE),
    bad("plan", "--fiscal-year-end", "-1", code=2, **PARSE),
    bad("plan", "--fiscal-year-end", "five", code=2, **PARSE),
    bad("plan", "--fiscal-year-end", "五", code=2, **PARSE),
    bad("plan", "--fiscal-year-end", "５", code=2, **PARSE),
    bad("plan", "--fiscal-year-end", "5.5", code=2, **PARSE),
    bad("plan", "--fiscal-year-end", "5", "--from", "2026-02-30", code=2, **PARSE),
    bad("plan", "--fiscal-year-end", "5", "--from", "2026/06/31", code=2, **PARSE),
    bad("plan", "--fiscal-year-end", "5", "--from", "1900-01-01", code=2, **PARSE),
    bad("plan", "--fiscal-year-end", "5", "--program", "406", code=2, **PARSE),
    bad("plan", "--fiscal-year-end", "5", "--program", SQL, code=2, **PARSE),
    bad("plan", code=2, **PARSE),
    # ---------------------------------------------------------------- rules, diagram
    bad("rules", "show", "R3", code=3, **PARSE),
    bad("rules", "show", "R6' OR '1'='1", code=3, **PARSE),
    bad("rules", "show", "--bogus", code=2, **PARSE),
    bad("diagram", "--program", "406", code=2, **PARSE),
    bad("diagram", "--program", "405", "--track", "guarantee", code=2, **PARSE),
    bad("diagram", "--program", "early", "--track", "gl", code=2, **PARSE),
    bad("diagram", "--program", "", code=2, **PARSE),
    # ---------------------------------------------------------------- init
    bad("init", code=2, user="bad id!"),
    bad("init", code=2, user="x" * 65),
    bad("init", code=2, user=SQL),
    bad("init", "extra", code=2, **PARSE),
    # ---------------------------------------------------------------- council
    bad("council", "import", "{F}/missing.csv", code=2, **ADMIN),
    bad("council", "import", "{F}/bad_code.csv", code=2, **ADMIN),
    bad("council", "import", "{F}/empty_name.csv", code=2, **ADMIN),
    bad("council", "import", "{F}/empty.csv", code=2, **ADMIN),
    bad("council", "import", "{F}/no_header.csv", code=2, **ADMIN),
    bad("council", "import", "{F}/latin1.csv", code=2, **ADMIN),
    bad("council", "import", "{F}/broken.toml", code=2, **ADMIN),
    bad("council", "import", "{F}/valid.csv", code=4),
    bad("council", "import", "{F}/valid.csv", code=4, **BOSS),
    bad("council", "import", "{F}/long_name.csv", code=2, **ADMIN, **IN_TX),
    bad("council", "list", "--council", "40", code=2, **PARSE),
    # ---------------------------------------------------------------- officer
    bad("officer", "add", "x y", "--name", "X", "--council", "40", code=2, **ADMIN),
    bad("officer", "add", SQL, "--name", "X", "--council", "40", code=2, **ADMIN),
    bad("officer", "add", "x1", "--name", "", "--council", "40", code=2, **ADMIN),
    bad("officer", "add", "x1", "--name", "   ", "--council", "40", code=2, **ADMIN),
    bad("officer", "add", "x1", "--name", LONG, "--council", "40", code=2, **ADMIN),
    bad("officer", "add", "x1", "--name", "X\nY", "--council", "40", code=2, **ADMIN),
    bad("officer", "add", "x1", "--name", "X", "--council", "99", code=3, **ADMIN),
    bad("officer", "add", "x1", "--name", "X", "--council", "40", "--role", "king", code=2, **ADMIN),
    bad("officer", "add", "x1", "--name", "X", code=2, **ADMIN, **IN_TX),
    bad("officer", "add", "x1", "--name", "X", "--council", "40", "--email", "nope", code=2, **ADMIN),
    bad("officer", "add", "x1", "--name", "X", "--council", "40", "--email", "a" * 300 + "@x.jp", code=2, **ADMIN, **IN_TX),
    bad("officer", "add", "tanaka", "--name", "X", "--council", "40", code=7, **ADMIN),
    bad("officer", "add", "x1", "--name", "X", "--council", "40", code=4),
    bad("officer", "add", "x1", "--name", "X", "--council", "40", code=4, **BOSS),
    bad("officer", "add", "x1", "--name", "X", "--council", "40", code=4, user="nobody"),
    # ---------------------------------------------------------------- company
    bad("company", "add", "--number", "1234567890123", "--name", "X", "--fiscal-year-end", "3", code=2),
    bad("company", "add", "--number", "123", "--name", "X", "--fiscal-year-end", "3", code=2),
    bad("company", "add", "--number", "abcdefghijklm", "--name", "X", "--fiscal-year-end", "3", code=2),
    bad("company", "add", "--number", SQL, "--name", "X", "--fiscal-year-end", "3", code=2),
    bad("company", "add", "--number", "{NEW}", "--name", "", "--fiscal-year-end", "3", code=2),
    bad("company", "add", "--number", "{NEW}", "--name", LONG, "--fiscal-year-end", "3", code=2),
    bad("company", "add", "--number", "{NEW}", "--name", "X", "--fiscal-year-end", "13", code=2),
    bad("company", "add", "--number", "{NEW}", "--name", "X", "--fiscal-year-end", "三", code=2, **PARSE),
    bad("company", "add", "--number", "{NEW}", "--name", "X", "--fiscal-year-end", "3", "--capital", "-1", code=2),
    bad("company", "add", "--number", "{NEW}", "--name", "X", "--fiscal-year-end", "3", "--capital", "1.5", code=2, **PARSE),
    bad("company", "add", "--number", "{NEW}", "--name", "X", "--fiscal-year-end", "3", "--capital", "1万", code=2, **PARSE),
    bad("company", "add", "--number", "{NEW}", "--name", "X", "--fiscal-year-end", "3", "--capital", "１０００", code=2, **PARSE),
    bad("company", "add", "--number", "{NEW}", "--name", "X", "--fiscal-year-end", "3", "--employees", "-3", code=2),
    bad("company", "add", "--number", "{NEW}", "--name", "X", "--fiscal-year-end", "3", "--industry", "banking", code=2),
    bad("company", "add", "--number", "{NEW}", "--name", "X", "--fiscal-year-end", "3", "--legal-form", "法" * 41, code=2, **IN_TX),
    bad("company", "add", "--number", "{NEW}", "--name", "X", "--fiscal-year-end", "3", "--capital", HUGE, code=2),
    bad("company", "add", "--name", "X", "--fiscal-year-end", "3", code=2),
    bad("company", "add", "--number", "{CO}", "--name", "別名", "--fiscal-year-end", "3", code=7),
    bad("company", "prior-use", UNKNOWN_CO, "--program", "405", "--fiscal-year", "2021", code=3),
    bad("company", "prior-use", "{CO}", "--program", "406", "--fiscal-year", "2021", code=2),
    bad("company", "prior-use", "{CO}", "--program", "early", "--track", "gl", "--fiscal-year", "2021", code=2),
    bad("company", "prior-use", "{CO}", "--program", "405", "--fiscal-year", "1999", code=2),
    bad("company", "prior-use", "{CO}", "--program", "405", "--fiscal-year", "2030", code=2),
    bad("company", "prior-use", "{CO}", "--program", "405", "--fiscal-year", "2021", "--paid", "-5", code=2),
    bad("company", "prior-use", "{CO}", "--program", "405", "--fiscal-year", "2021", "--paid", "1.5", code=2, **PARSE),
    bad("company", "prior-use", "{CO}", "--program", "405", "--fiscal-year", "2021", "--paid", "５００", code=2, **PARSE),
    bad("company", "prior-use", "{CO}", "--program", "405", "--fiscal-year", "2021", "--note", LONGER, code=2),
    bad("company", "uses", UNKNOWN_CO, code=3),
    bad("company", "uses", "abc", code=2),
    # ---------------------------------------------------------------- case open
    bad("case", "open", "--company", UNKNOWN_CO, "--program", "405", "--council", "40", code=3),
    bad("case", "open", "--company", "{CO}", "--program", "406", "--council", "40", code=2),
    bad("case", "open", "--company", "{CO}", "--program", "early", "--track", "gl", "--council", "40", code=2),
    bad("case", "open", "--company", "{CO}", "--program", "405", "--track", "guarantee", "--council", "40", code=2),
    bad("case", "open", "--company", "{CO}", "--program", "405", "--council", "99", code=3),
    bad("case", "open", "--company", "{CO}", "--program", "405", "--council", "41", code=4),
    bad("case", "open", "--company", "{CO}", "--program", "405", "--council", "40", "--on", "2026-06-02", code=2),
    bad("case", "open", "--company", "{CO}", "--program", "405", "--council", "40", "--on", "2026-13-01", code=2),
    bad("case", "open", "--company", "{CO}", "--program", "405", "--track", "gl", "--council", "40", "--on", "2022-04-14", code=2),
    bad("case", "open", "--company", "{CO}", "--program", "405", "--council", "40", "--affected", "flu", code=2),
    bad("case", "open", "--company", "{CO}", "--program", "405", "--council", "40", "--interim-monitoring", code=2),
    bad("case", "open", "--company", "{CO}", "--program", "early", "--council", "40", "--guarantee-release", code=2),
    bad("case", "open", "--company", "{CO}", "--program", "405", "--council", "40", "--advisor", LONG, code=2),
    bad("case", "open", "--company", SQL, "--program", "405", "--council", "40", code=2),
    bad("case", "open", "--program", "405", "--council", "40", code=2, **PARSE),
    # ---------------------------------------------------------------- case show, history, list
    bad("case", "show", "40-2026-9999", code=3),
    bad("case", "show", "40-2026-1", code=2),
    bad("case", "show", "' OR 1=1 --", code=2),
    bad("case", "history", "40-2026-9999", code=3),
    bad("case", "list", "--stage", "bogus", code=2),
    bad("case", "list", "--council", "99", code=3),
    bad("case", "list", "--council", "41", code=4),
    # ---------------------------------------------------------------- case advance
    bad("case", "advance", "{C1}", "fly", code=2, **IN_TX),
    bad("case", "advance", "{C1}", "apply; DROP TABLE events", code=2, **IN_TX),
    bad("case", "advance", "{C3}", "start_planning", code=2, says="early", **IN_TX),
    bad("case", "advance", "{C1}", "start_planning", code=5),
    bad("case", "advance", "{C2}", "accept", code=5),
    bad("case", "advance", "{C4}", "discontinue", "--reason", "x", code=5),
    bad("case", "advance", "{C1}", "apply", code=6),
    bad("case", "advance", "{C1}", "withdraw", code=6),
    bad("case", "advance", "{C1}", "withdraw", "--reason", "   ", code=6),
    bad("case", "advance", "{C1}", "withdraw", "--reason", LONGER, code=2),
    bad("case", "advance", "{C2}", "submit_plan", code=6),
    bad("case", "advance", "{C2}", "withdraw", "--reason", "x", "--on", "2026-05-19", code=2, says="より前", **IN_TX),
    bad("case", "advance", "{C2}", "withdraw", "--reason", "x", "--on", "2026-06-02", code=2, says="未来"),
    bad("case", "advance", "{C2}", "withdraw", "--reason", "x", "--on", "2026-02-29", code=2),
    bad("case", "advance", "{C2}", "withdraw", "--reason", "x", "--on", "yesterday", code=2),
    bad("case", "advance", "{C2}", "withdraw", "--reason", "x", "--on", "2026-5-32", code=2),
    bad("case", "advance", "{C2}", "withdraw", "--reason", "x", "--on", "２０２６-０６-３１", code=2),
    bad("case", "advance", "40-2026-9999", "apply", code=3),
    bad("case", "advance", "{C1}", code=2, **PARSE),
    # ---------------------------------------------------------------- case estimate, fee
    bad("case", "estimate", "{C1}", "dd_plan", "-1", code=2),
    bad("case", "estimate", "{C1}", "dd_plan", "1.5", code=2),
    bad("case", "estimate", "{C1}", "dd_plan", "1500000.0", code=2),
    bad("case", "estimate", "{C1}", "dd_plan", "１５０００００", code=2),
    bad("case", "estimate", "{C1}", "dd_plan", "百五十万", code=2),
    bad("case", "estimate", "{C1}", "dd_plan", "150万", code=2),
    bad("case", "estimate", "{C1}", "dd_plan", "1,50,000", code=2),
    bad("case", "estimate", "{C1}", "dd_plan", "1e6", code=2),
    bad("case", "estimate", "{C1}", "dd_plan", "", code=2),
    bad("case", "estimate", "{C1}", "dd_plan", "0x10", code=2),
    bad("case", "estimate", "{C1}", "dd_plan", HUGE, code=2),
    bad("company", "prior-use", "{CO}", "--program", "405", "--fiscal-year", "2021", "--paid", HUGE, code=2),
    bad("case", "estimate", "{C1}", "plan", "1000", code=2, says="dd_plan", **IN_TX),
    bad("case", "estimate", "{C1}", "bogus", "1000", code=2),
    bad("case", "estimate", "{C1}", "bank_negotiation", "1000", code=2, **IN_TX),
    bad("case", "estimate", "{C1}", "dd_plan; DELETE FROM costs", "1000", code=2),
    bad("case", "estimate", "{C2}", "dd_plan", "1000", code=5),
    bad("case", "fee", "{C1}", "dd_plan", "1000", code=2, says="受付", **IN_TX),
    bad("case", "fee", "{C2}", "dd_plan", "1000", "--on", "2026-05-14", code=2, says="受付日", **IN_TX),
    bad("case", "fee", "{C2}", "dd_plan", "-1", code=2),
    bad("case", "fee", "{C2}", "dd_plan", "1000", "--on", "2026-06-02", code=2),
    bad("case", "fee", "{C2}", "dd_plan", "1000", "--on", "2026-04-31", code=2),
    bad("case", "fee", "{C2}", "monitoring", "1000", code=5),
    bad("case", "fee", "{C2}", "plan", "1000", code=2),
    # ---------------------------------------------------------------- lender, consent, certificate, plan, report, extend
    bad("case", "lender", "{C1}", "", code=2),
    bad("case", "lender", "{C1}", LONG, code=2),
    bad("case", "lender", "{C1}", "福岡銀行", code=7),
    bad("case", "lender", "{C3}", "新銀行", code=5),
    bad("case", "consent", "{C1}", "福岡銀行", code=5),
    bad("case", "consent", "{C2}", "存在しない銀行", code=3),
    bad("case", "consent", "{C2}", "福岡銀行", "--on", "2026-05-09", code=2, **IN_TX),
    bad("case", "consent", "{C2}", "福岡銀行", "--on", "2026-06-31", code=2),
    bad("case", "certificate", "{C1}", "--issued", "2026-06-02", code=2),
    bad("case", "certificate", "{C1}", "--issued", "2026-02-30", code=2),
    bad("case", "certificate", "{C1}", "--issued", "令和1年4月30日", code=2),  # 平成31年
    bad("case", "certificate", "{C2}", "--issued", "2026-05-01", code=5),
    bad("case", "certificate", "{C1}", code=2, **PARSE),
    bad("case", "plan", "{C1}", code=5),
    bad("case", "plan", "{C2}", "--on", "2026-05-01", code=2, **IN_TX),
    bad("case", "report", "{C1}", code=5),
    bad("case", "report", "{C3}", "--on", "2026-06-02", code=2),
    bad("case", "extend", "{C2}", "--until", "2030-01-01", "--reason", "x", code=4),
    bad("case", "extend", "{C2}", "--until", "2026-05-01", "--reason", "x", code=2, **BOSS, **IN_TX),
    bad("case", "extend", "{C2}", "--until", "2030-01-01", "--reason", "", code=2, **BOSS),
    bad("case", "extend", "{C3}", "--until", "2030-01-01", "--reason", "x", code=5, **BOSS),
    # ---------------------------------------------------------------- reminders, reports, import, export, demo
    bad("remind", "--at", "tomorrow", code=2, **PARSE),
    bad("remind", "--at", "2026-13-01T09:00", code=2, **PARSE),
    bad("remind", "--at", "2027-03-01T09:00", code=4),  # sending is for admins
    bad("remind", "--at", "2027-03-01T09:00", code=4, user="nobody"),
    bad("report", "board", "--council", "99", code=3),
    bad("report", "overdue", "--council", "41", code=4),
    bad("report", "budget", "--fiscal-year", "1999", code=2),
    bad("report", "funnel", "--fiscal-year", "二〇二六", code=2, **PARSE),
    bad("report", "workload", "--json", "--csv", "{F}/w.csv", code=2),
    bad("report", "board", "--limit", "0", code=2, **PARSE),
    bad("report", "board", "--csv", "{F}/no/such/dir/b.csv", code=2),
    bad("report", "frobnicate", code=2, **PARSE),
    bad("import", "cases", "{F}/missing.csv", code=3, **ADMIN),
    bad("import", "cases", "{F}/latin1.csv", code=2, **ADMIN),
    bad("import", "cases", "{F}/bad_rows.csv", code=2, listing=True, **ADMIN, **IN_TX),
    bad("import", "cases", "{F}/sql_rows.csv", code=2, listing=True, **ADMIN, **IN_TX),
    bad("export", "cases", "{F}/cases.txt", code=2),
    bad("export", "cases", "{F}/no/such/dir/cases.csv", code=2),
    bad("export", "cases", "{F}/cases.csv", "--council", "99", code=3),
    bad("demo", "--cases", "5", code=2, **ADMIN),
    bad("demo", "--cases", "3000", code=2, **ADMIN),
    bad("demo", "--cases", "十", code=2, **PARSE, **ADMIN),
    bad("demo", "--cases", "10", code=7, **ADMIN),  # a council's own database: never filled
    bad("demo", "--cases", "10", "--force", code=7, **ADMIN),  # nor wiped
    bad("scheduler", "run", "--log-level", "LOUD", code=2, **PARSE),
    # ---------------------------------------------------------------- subsidy, doctor, backup, usage
    bad("subsidy", "40-2026-9999", code=3),
    bad("subsidy", "x", code=2),
    bad("doctor", "--bogus", code=2, **PARSE),
    bad("backup", code=2, **PARSE),
    bad("backup", "{F}/valid.csv", code=2, says="上書き"),
    bad("backup", "{F}/no/such/dir/k.db", code=2),
    bad("frobnicate", code=2, **PARSE),
    bad("case", "frobnicate", code=2, **PARSE),
    bad("--config", "{F}/missing.toml", "case", "list", code=2),
    bad("--config", "{F}/broken.toml", "case", "list", code=2),
    bad("--config", "{F}/unknown.toml", "case", "list", code=2),
]  # fmt: skip


def _id(p: Any) -> str:
    row: Bad = p.values[0] if hasattr(p, "values") else p
    text = " ".join(a if len(a) <= 24 else a[:12] + "…" for a in row.argv)
    return f"{text} as {row.user}"


PARAMS = [p if hasattr(p, "values") else pytest.param(p) for p in ROWS]
IDS = [f"{i:03d} {_id(p)}" for i, p in enumerate(ROWS)]


def test_table_is_big_enough() -> None:
    assert len(ROWS) + len(BROKEN) >= 100
    touched = {r.values[0].argv[0] if hasattr(r, "values") else r.argv[0] for r in ROWS}
    assert {"plan", "rules", "diagram", "init", "council", "officer", "company", "case",
            "subsidy", "doctor", "backup"} <= touched  # fmt: skip


@dataclass
class Bench:
    url: str
    ids: dict[str, str] = field(default_factory=dict)


FILES = {
    "bad_code.csv": "code,name\n4X,福岡\n",
    "empty_name.csv": "code,name\n40,\n",
    "empty.csv": "",
    "no_header.csv": "40,福岡県中小企業活性化協議会\n",
    "valid.csv": "code,name\n47,沖縄県中小企業活性化協議会\n",
    "long_name.csv": "code,name\n47," + "長" * 300 + "\n",
    "broken.toml": "[database\nurl = 1\n",
    "bad_rows.csv": "協議会,事業,枠,段階,法人番号,会社名,決算月,相談日\n"
    "40,406,normal,相談,1234567890123,X,13,2026-02-30\n40,405,gl,完了,,,5,2030-01-01\n",
    "sql_rows.csv": "協議会,事業,枠,段階,法人番号,会社名,決算月,相談日\n"
    "40,405,normal,相談,'; DROP TABLE cases; --,Robert'); DROP TABLE companies;--,5,2026-05-01\n",
    "unknown.toml": "[frobnicate]\nx = 1\n",
}


@pytest.fixture(scope="module")
def bench(module_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    """Cases at known stages: C1 at 相談 (a lender named), C2 at 計画策定 (dated 2026-05),
    C3 an early case at モニタリング, C4 withdrawn."""
    from workflow.setup import init_database

    k, _ = init_database(
        Settings(db_url=module_db), FixedClock(datetime(2026, 6, 1, 1, 0, tzinfo=UTC)), "admin"
    )
    k.add_officer("admin", "tanaka", name="田中", council="40", role="officer")
    k.add_officer("admin", "boss", name="統括", council="40", role="supervisor")
    k.add_officer("admin", "saga", name="佐賀", council="41", role="officer")
    b = Bench(module_db)
    b.ids["CO"] = company(k, 1)
    b.ids["C1"] = open_case(k, b.ids["CO"])
    k.add_lender("tanaka", b.ids["C1"], "福岡銀行")
    co2 = company(k, 2)
    c2 = k.open_case(
        "tanaka", company=co2, program="405", track="normal", council="40", advisor="博多会計",
        on=date(2026, 5, 1),
    ).id  # fmt: skip
    b.ids["C2"] = c2
    k.add_lender("tanaka", c2, "福岡銀行")
    k.record_certificate("tanaka", c2, date(2026, 5, 1))
    k.record_estimate("tanaka", c2, "dd_plan", 1_500_000)
    k.record_estimate("tanaka", c2, "monitoring", 300_000)
    k.advance("tanaka", c2, "apply", on=date(2026, 5, 10))
    k.advance("tanaka", c2, "accept", on=date(2026, 5, 15))
    k.advance("tanaka", c2, "start_planning", on=date(2026, 5, 20))
    b.ids["C3"] = open_case(k, company(k, 3), program="early")
    advance_to(k, b.ids["C3"], "monitoring")
    b.ids["C4"] = open_case(k, company(k, 4))
    advance_to(k, b.ids["C4"], "withdrawn")
    b.ids["NEW"] = company_number(99)  # valid, not registered
    files = tmp_path_factory.mktemp("files")
    for name, content in FILES.items():
        (files / name).write_text(content, "utf-8")
    (files / "latin1.csv").write_bytes("code,name\n47,Okinawa \xe9\n".encode("latin-1"))
    b.ids["F"] = str(files)
    k.db.dispose()
    yield b


OPTIONAL = ("remind", "report", "import", "export", "demo", "scheduler")  # later issues' commands


def has_command(*path: str) -> bool:
    import typer.main

    import cli.commands  # noqa: F401
    from cli.app import app

    cmd: Any = typer.main.get_command(app)
    for name in path:
        if name.startswith("-"):
            break
        cmd = getattr(cmd, "commands", {}).get(name)
        if cmd is None:
            return False
    return True


@pytest.mark.parametrize("row", PARAMS, ids=IDS)
def test_bad_input(cli: Any, bench: Bench, row: Bad) -> None:
    if not row.pg and not bench.url.startswith("sqlite"):
        pytest.skip("refused before any transaction opens: one backend is enough")
    if row.argv[0] in OPTIONAL and not has_command(*row.argv[:2]):
        pytest.skip(f"'kaizen {' '.join(row.argv[:2])}' does not exist (yet)")
    argv = [a.format(**bench.ids) if "{" in a else a for a in row.argv]
    before = dump_before(bench.url)
    r = cli(*argv, user=row.user, db=bench.url)
    after = dump_after(bench.url)
    if row.listing:  # the problems of the file, then the verdict
        assert "Traceback" not in r.err and r.err.strip().splitlines()[-1].startswith("kaizen: ")
    else:
        assert_clean_refusal(r.err, r.code)
    assert r.code == row.code, r.err
    assert row.says in r.err
    assert after == before, "a refused command wrote to the database"


# ---------------------------------------------------------------------------- broken databases


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    """A small initialised database (an officer, a case), checkpointed: copied per test."""
    from workflow.setup import init_database

    path = tmp_path_factory.mktemp("healthy") / "k.db"
    shutil.copy(sqlite_template, path)
    k, _ = init_database(
        Settings(db_url=f"sqlite:///{path}"),
        FixedClock(datetime(2026, 6, 1, 1, 0, tzinfo=UTC)),
        "admin",
    )
    k.add_officer("admin", "tanaka", name="田中", council="40", role="officer")
    open_case(k, company(k, 1))
    k.db.dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path


READS = {
    "case list": ("case", "list"),
    "case show": ("case", "show", "40-2026-0001"),
    "council list": ("council", "list"),
    "subsidy": ("subsidy", "40-2026-0001"),
    "doctor": ("doctor", "--json"),
    "backup": ("backup", "{tmp}/copy.db"),
}
WRITES = {
    "case advance": ("case", "advance", "40-2026-0001", "withdraw", "--reason", "取下げ"),
    "case lender": ("case", "lender", "40-2026-0001", "新銀行"),
    "officer add": ("officer", "add", "x1", "--name", "X", "--council", "40"),
    "company add": (
        "company",
        "add",
        "--number",
        UNKNOWN_CO,
        "--name",
        "X",
        "--fiscal-year-end",
        "3",
    ),
    "init": ("init",),
}
NO_INIT = {k: v for k, v in WRITES.items() if k != "init"}  # init may create or has nothing to do
SERVER_READS = {k: v for k, v in READS.items() if k != "backup"}  # backup: see test_backup.py
KINDS = {  # kind -> the commands it is tried with
    "missing file": {**READS, **NO_INIT},
    "missing folder": {**READS, **WRITES},
    "not initialised": {**SERVER_READS, **NO_INIT},
    "corrupt": {**READS, **WRITES},
    "truncated": {**READS, **WRITES},
    "locked": WRITES,
    "read-only": NO_INIT,
    "unreachable server": {**SERVER_READS, **WRITES},
    "unknown server type": {**SERVER_READS, **WRITES},
}
BROKEN = [(kind, cmd) for kind, cmds in KINDS.items() for cmd in cmds]


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Root ignores file modes: make the file immutable (chattr +i) instead, or skip."""
    if os.geteuid() != 0:
        os.chmod(path, 0o444)
        try:
            yield
        finally:
            os.chmod(path, 0o644)
        return
    if (
        shutil.which("chattr") is None
        or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode
    ):
        pytest.skip("running as root, which ignores chmod, and chattr +i is not available here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def snapshot(path: Path) -> Any:
    """The file's content: a dump when SQLite can read it, else its bytes.

    An empty file counts as an empty database: opening it at all (WAL mode) writes SQLite's
    header into it, which changes no content.
    """
    if not path.exists():
        return None
    if path.stat().st_size == 0:
        return ["BEGIN TRANSACTION;", "COMMIT;"]
    if path.stat().st_size and path.read_bytes()[:16] == b"SQLite format 3\x00":
        try:
            return dump(f"sqlite:///{path}")
        except sqlite3.DatabaseError:
            pass
    return path.read_bytes()


@pytest.mark.parametrize(("kind", "command"), BROKEN, ids=[f"{k}: {c}" for k, c in BROKEN])
def test_broken_database(
    cli: Any,
    tmp_path: Path,
    healthy: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    command: str,
) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in {**READS, **WRITES}[command]]
    path = tmp_path / "k.db"
    url = f"sqlite:///{path}"
    hold: sqlite3.Connection | None = None
    if kind == "missing folder":
        url = f"sqlite:///{tmp_path}/nowhere/k.db"
    elif kind == "not initialised":
        path.touch()
    elif kind == "corrupt":
        path.write_bytes(random.Random(7).randbytes(16 * 4096))
    elif kind == "truncated":
        full = healthy.read_bytes()
        path.write_bytes(full[: len(full) // 3])
    elif kind in ("locked", "read-only"):
        shutil.copy(healthy, path)
    elif kind == "unreachable server":
        url = "postgresql+psycopg://postgres@127.0.0.1:1/x"
    elif kind == "unknown server type":
        url = "mysql://kaizen@127.0.0.1:1/kaizen"
    before = snapshot(path)
    ctx: Any = read_only(path) if kind == "read-only" else contextmanager(lambda: iter([None]))()
    with ctx:
        if kind == "locked":
            monkeypatch.setattr("storage.db.SQLITE_BUSY_MS", 300)  # the wait, not the outcome
            hold = sqlite3.connect(path, isolation_level=None)
            hold.execute("BEGIN EXCLUSIVE")
        try:
            r = cli(*argv, user="admin", db=url)
        finally:
            if hold is not None:
                hold.rollback()
                hold.close()
    assert_clean_refusal(r.err, r.code)
    assert r.code == 8, r.err
    assert snapshot(path) == before, "the broken database was changed"
    if kind == "missing folder":
        assert not (tmp_path / "nowhere").exists()
    if command == "backup":
        assert not (tmp_path / "copy.db").exists()


def test_a_commands_exit_code_reaches_the_shell(cli: Any) -> None:
    import typer

    import cli.commands as _registered  # noqa: F401  (binds a new name: `cli` stays the fixture)
    from cli.app import app

    @app.command("zz-exit-probe", hidden=True)
    def probe() -> None:
        raise typer.Exit(3)

    try:
        assert cli("zz-exit-probe").code == 3
    finally:
        app.registered_commands[:] = [
            c for c in app.registered_commands if c.name != "zz-exit-probe"
        ]
