"""Bad input II: hostile text, bytes that are not UTF-8, dates outside the calendar, 年度.

The rows of issue 15 (Hardening II), each a `kaizen` command line, on SQLite and PostgreSQL:
- lone surrogates in any argument (what Python makes of a Shift_JIS terminal's bytes): exit 2,
  "UTF-8 で入力してください", never a `UnicodeEncodeError` traceback;
- control characters (ESC sequences, C1 CSI, NUL, line breaks) and names that are empty once
  zero-width and bidi characters are dropped: refused by the one normaliser (states/text.py);
- dates outside the supported years (1900, 2100, 9999, year 1), `--fiscal-year` 0, -1, 99999,
  and a pinned clock (`[clock] now`) that overflows or is malformed: one line, exit 2;
- refusals whose message quotes what the user typed (markup, ESC): printed as text;
- hostile import files (control characters, a cell longer than Excel allows).
Each must be answered with one line on stderr starting `kaizen: ` (an import may list its
file's problems above it), no traceback, no control character on the terminal, the exit code
of its kind of mistake, and a database identical to the one before (a full dump compared).

A property test then feeds arbitrary text (hypothesis `text()`, surrogates included) to the
text arguments of `company add`, `case lender` and `case open`, and to an import cell.
"""

from __future__ import annotations

import csv
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.conftest import assert_clean_refusal, dump_after, dump_before
from tests.reliability.test_bad_input import Bench, bench  # noqa: F401  (the module fixture)

SJIS = os.fsdecode("東京銀行".encode("cp932"))  # how Python hands over Shift_JIS argv bytes
SUR = "bank\udcff"
ESC = "\x1b]0;pwned\x07\x1b[2J"
CSI = "銀行\x9b31m"
ZW = "\u200b"
BIDI_ONLY = "\u202e\u200b\u2066\u2069"
UTF8 = "UTF-8 で入力してください"
RANGE = "範囲外"


@dataclass(frozen=True)
class Bad:
    argv: tuple[str, ...]
    code: int
    user: str = "tanaka"
    says: str = ""
    listing: bool = False
    now: str | None = None


def bad(
    *argv: str,
    code: int = 2,
    user: str = "tanaka",
    says: str = "",
    listing: bool = False,
    now: str | None = None,
) -> Bad:
    return Bad(argv, code, user, says, listing, now)


CO_ADD = ("company", "add", "--number", "{NEW}", "--fiscal-year-end", "3", "--name")
OPEN = ("case", "open", "--company", "{CO}", "--program", "405", "--council", "40")
PRIOR = ("company", "prior-use", "{CO}", "--program", "405", "--fiscal-year", "2021")
OFFICER = ("officer", "add", "x9", "--council", "40", "--name")

ROWS: list[Bad] = [
    # ------------------------------------------------ lone surrogates / Shift_JIS bytes: exit 2
    bad(*CO_ADD, SUR, says=UTF8),
    bad(*CO_ADD, SJIS, says=UTF8),
    bad("company", "add", "--number", "{NEW}", "--name", "X", "--fiscal-year-end", "3", "--legal-form", SJIS, says=UTF8),
    bad("company", "add", "--number", SUR, "--name", "X", "--fiscal-year-end", "3", says=UTF8),
    bad("case", "lender", "{C1}", SUR, says=UTF8),
    bad("case", "lender", "{C1}", SJIS, says=UTF8),
    bad("case", "lender", "{C1}", "\ud800", says=UTF8),
    bad(*OPEN, "--advisor", SUR, says=UTF8),
    bad(*OPEN, "--advisor", SJIS, says=UTF8),
    bad(*OPEN, "--affected", SUR, says=UTF8),
    bad("case", "extend", "{C2}", "--until", "2029-01-01", "--reason", SJIS, says=UTF8, user="boss"),
    bad("case", "advance", "{C2}", "withdraw", "--reason", SUR, says=UTF8),
    bad("case", "advance", "{C1}", SUR, says=UTF8),
    bad("case", "consent", "{C2}", SJIS, says=UTF8),
    bad("case", "estimate", "{C1}", SUR, "1000", says=UTF8),
    bad("case", "show", "40-2026-0001" + SUR[-1], says=UTF8),
    bad("case", "list", "--officer", SJIS, says=UTF8),
    bad(*PRIOR, "--note", SJIS, says=UTF8),
    bad(*OFFICER, SJIS, says=UTF8, user="admin"),
    bad("officer", "add", SUR, "--name", "X", "--council", "40", says=UTF8, user="admin"),
    bad("company", "uses", SUR, says=UTF8),
    bad("report", "board", "--council", SJIS, says=UTF8),
    bad("report", "overdue", "--csv", "{F}/" + SJIS + ".csv", says=UTF8),
    bad("import", "cases", "{F}/" + SJIS + ".csv", says=UTF8, user="admin"),
    bad("export", "cases", "{F}/" + SUR + ".csv", says=UTF8),
    bad("rules", "show", SJIS, says=UTF8),
    bad("plan", "--fiscal-year-end", "5", "--program", SUR, says=UTF8),
    bad("diagram", "--program", SJIS, says=UTF8),
    bad("--as", SJIS, "case", "list", says=UTF8),
    bad("--db", "{F}/" + SJIS + ".db", "case", "list", says=UTF8),
    bad(SJIS, says=UTF8),
    bad("case", "list", user="tanaka\udcff", says="UTF-8"),  # from the environment
    # ------------------------------------------------ control characters in stored text
    bad(*CO_ADD, ESC, says="\\x1b"),
    bad(*CO_ADD, CSI, says="\\x9b"),
    bad(*CO_ADD, "株式会社\x00博多", says="\\x00"),
    bad(*CO_ADD, "株式会社\n博多", says="\\x0a"),
    bad(*CO_ADD, "株式会社\t博多", says="\\x09"),
    bad(*CO_ADD, "株式会社\u2028博多", says="\\u2028"),
    bad("case", "lender", "{C1}", ESC, says="\\x1b"),
    bad("case", "lender", "{C1}", CSI, says="\\x9b"),
    bad("case", "lender", "{C1}", "銀行\x7f", says="\\x7f"),
    bad("case", "lender", "{C1}", "銀行\r", says="\\x0d"),
    bad(*OPEN, "--advisor", ESC, says="\\x1b"),
    bad(*OPEN, "--advisor", "博多\x1b[31m会計", says="\\x1b"),
    bad(*OFFICER, ESC, says="\\x1b", user="admin"),
    bad(*OFFICER, "田中\u0085", says="\\x85", user="admin"),
    bad("case", "advance", "{C2}", "withdraw", "--reason", ESC, says="\\x1b"),
    bad("case", "extend", "{C2}", "--until", "2029-01-01", "--reason", ESC, says="\\x1b", user="boss"),
    bad(*PRIOR, "--note", ESC, says="\\x1b"),
    bad(*PRIOR, "--note", "備考\x9b2J", says="\\x9b"),
    # ------------------------------------------------ names empty once invisible characters go
    bad(*CO_ADD, ZW, says="空"),
    bad(*CO_ADD, BIDI_ONLY, says="空"),
    bad(*CO_ADD, "\ufeff\u3000 ", says="空"),
    bad("case", "lender", "{C1}", ZW, says="空"),
    bad("case", "lender", "{C1}", BIDI_ONLY, says="空"),
    bad("case", "lender", "{C1}", "\u2060\u200d", says="空"),
    bad(*OFFICER, ZW, says="空", user="admin"),
    bad("case", "advance", "{C2}", "withdraw", "--reason", BIDI_ONLY, code=6),
    bad("case", "extend", "{C2}", "--until", "2029-01-01", "--reason", ZW, says="空", user="boss"),
    bad("case", "lender", "{C1}", "福岡\u200b銀行", code=7),  # the same lender once cleaned
    bad("case", "lender", "{C1}", "\u202e福岡銀行", code=7),
    bad("case", "lender", "{C1}", "福岡銀行\ufeff", code=7),
    # ------------------------------------------------ dates outside the calendar
    bad("case", "certificate", "{C1}", "--issued", "1900-01-01", says=RANGE),
    bad("case", "certificate", "{C1}", "--issued", "1999-12-31", says=RANGE),
    bad("case", "certificate", "{C1}", "--issued", "2100-01-01", says=RANGE),
    bad("case", "certificate", "{C1}", "--issued", "9999-12-31", says=RANGE),
    bad("case", "certificate", "{C1}", "--issued", "0001-01-01", says=RANGE),
    bad("plan", "--fiscal-year-end", "5", "--from", "2100-01-01", says=RANGE),
    bad("plan", "--fiscal-year-end", "5", "--from", "9999-12-31", says=RANGE),
    bad("plan", "--fiscal-year-end", "5", "--from", "2090-01-01", says=RANGE),
    bad("plan", "--fiscal-year-end", "5", "--from", "1948-12-31", says=RANGE),
    bad("plan", "--fiscal-year-end", "5", "--from", "10000-01-01"),
    bad(*OPEN, "--on", "1900-01-01", says=RANGE),
    bad(*OPEN, "--on", "9999-12-31", says=RANGE),
    bad("case", "advance", "{C2}", "withdraw", "--reason", "x", "--on", "0001-01-01", says=RANGE),
    bad("case", "advance", "{C2}", "withdraw", "--reason", "x", "--on", "9999-12-31", says=RANGE),
    bad("case", "fee", "{C2}", "dd_plan", "1000", "--on", "9999-12-31", says=RANGE),
    bad("case", "consent", "{C2}", "福岡銀行", "--on", "1900-01-01", says=RANGE),
    bad("case", "plan", "{C2}", "--on", "2200-02-02", says=RANGE),
    bad("case", "report", "{C3}", "--on", "1999-01-01", says=RANGE),
    bad("case", "extend", "{C2}", "--until", "9999-12-31", "--reason", "x", says=RANGE, user="boss"),
    bad("case", "extend", "{C2}", "--until", "2100-01-01", "--reason", "x", says=RANGE, user="boss"),
    bad("remind", "--dry-run", "--at", "9999-12-31T23:59", says=RANGE, user="admin"),
    bad("remind", "--dry-run", "--at", "0001-01-01T00:00", says=RANGE, user="admin"),
    bad("remind", "--dry-run", "--at", "2100-01-01T09:00+09:00", says=RANGE, user="admin"),
    # ------------------------------------------------ 年度: a plausible one only
    *(
        bad("report", name, "--fiscal-year", fy, says=RANGE)
        for name in ("board", "overdue", "workload", "funnel", "budget")
        for fy in ("0", "-1", "99999")
    ),
    bad("report", "board", "--fiscal-year", "2028", says=RANGE),
    bad("report", "budget", "--fiscal-year", "1999", says=RANGE),
    bad("report", "funnel", "--fiscal-year", "9223372036854775808"),
    bad("export", "cases", "{F}/out.csv", "--fiscal-year", "0", says=RANGE),
    bad("export", "cases", "{F}/out.csv", "--fiscal-year", "-1", says=RANGE),
    bad("export", "cases", "{F}/out.xlsx", "--fiscal-year", "99999", says=RANGE),
    bad("export", "cases", "{F}/out.csv", "--fiscal-year", "2028", says=RANGE),
    # ------------------------------------------------ a pinned clock ([clock] now) past the calendar
    bad("--config", "{F}/clock_9999.toml", "case", "list", "--overdue", says=RANGE),
    bad("--config", "{F}/clock_9999.toml", "case", "show", "{C1}", says=RANGE),
    bad("--config", "{F}/clock_9999.toml", "report", "overdue", says=RANGE),
    bad("--config", "{F}/clock_0001.toml", "case", "list", says=RANGE),
    bad("--config", "{F}/clock_text.toml", "case", "list", says="[clock] now は"),
    bad("--config", "{F}/clock_aware.toml", "remind", "--dry-run", says="[clock] now は"),
    bad("--config", "{F}/clock_key.toml", "doctor", says="[clock] の不明な設定"),
    # ------------------------------------------------ refusals that quote the user's text
    bad("case", "show", "[/bold]", says="[/bold]"),
    bad("case", "show", ESC, says="\\x1b"),
    bad("case", "history", "[link=https://evil.example/]x", says="[link="),
    bad("case", "advance", "{C1}", "[/i]", says="[/i]"),
    bad("case", "estimate", "{C1}", "[/i]", "1000", says="[/i]"),
    bad("case", "estimate", "{C1}", "dd_plan", "\x1b[2J", says="\\x1b"),
    bad("case", "fee", "{C2}", "dd_plan", "[bold]1", says="[bold]1"),
    bad("company", "uses", "[/bold]", says="[/bold]"),
    bad("rules", "show", "[/i]", code=3, says="[/i]"),
    bad("rules", "show", ESC, code=3, says="\\x1b"),
    bad("case", "list", "--stage", "[/bold]", says="[/bold]"),
    bad("case", "frobnicate\x1b[2J", says="\\x1b"),
    bad("plan", "--fiscal-year-end", "5", "--from", "\x1b[2J", says="\\x1b"),
    bad("--config", "{F}/[/i].toml", "case", "list", says="[/i]"),
    # ------------------------------------------------ hostile import files
    bad("import", "cases", "{F}/esc.csv", listing=True, says="\\x1b", user="admin"),
    bad("import", "cases", "{F}/nul.csv", listing=True, says="\\x00", user="admin"),
    bad("import", "cases", "{F}/huge_cell.csv", listing=True, user="admin"),
]  # fmt: skip


def test_table_is_big_enough() -> None:
    assert len(ROWS) >= 100


def quiet(stream: str) -> bool:
    """Nothing a terminal would act on: no control, format, surrogate or separator character."""
    return all(
        ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp")
        for ch in stream
    )


def _id(row: Bad) -> str:
    text = " ".join(a if len(a) <= 24 else a[:12] + "…" for a in row.argv)
    return f"{text} as {row.user}".encode("ascii", "backslashreplace").decode()


HEADER = "協議会,事業,枠,段階,法人番号,会社名,決算月,相談日\n"


@pytest.fixture(scope="module")
def files(bench: Bench, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    f = tmp_path_factory.mktemp("hostile")
    co = bench.ids["NEW"]
    (f / "esc.csv").write_text(HEADER + f"40,405,normal,相談,{co},{ESC},5,2026-05-01\n", "utf-8")
    (f / "nul.csv").write_text(
        HEADER + f"40,405,normal,相談,{co},株式会社\x00,5,2026-05-01\n", "utf-8"
    )
    for name, value in [
        ("9999", "9999-12-31T23:59:59"),
        ("0001", "0001-01-01T00:00:00"),
        ("text", '"明日"'),
        ("aware", "2026-06-01T10:00:00+09:00"),
    ]:
        (f / f"clock_{name}.toml").write_text(f"[clock]\nnow = {value}\n", "utf-8")
    (f / "clock_key.toml").write_text("[clock]\ntoday = 2026-06-01\n", "utf-8")
    with (f / "huge_cell.csv").open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(
            [HEADER.strip().split(","), ["40", "405", "normal", "相談", co, "x" * 131_072, "5", "2026-05-01"]]
        )  # fmt: skip
    return f


@pytest.mark.parametrize("row", ROWS, ids=[f"{i:03d} {_id(r)}" for i, r in enumerate(ROWS)])
def test_bad_input(cli: Any, bench: Bench, files: Path, row: Bad) -> None:  # noqa: F811
    ids = {**bench.ids, "F": str(files)}
    argv = [a.format(**ids) if "{" in a and "[" not in a else a for a in row.argv]
    argv = [a.replace("{F}", str(files)) for a in argv]
    before = dump_before(bench.url)
    r = cli(*argv, user=row.user, db=bench.url, now=row.now)
    after = dump_after(bench.url)
    if row.listing:  # the problems of the file, then the verdict
        assert "Traceback" not in r.err and r.err.strip().splitlines()[-1].startswith("kaizen: ")
        assert r.code != 0
    else:
        assert_clean_refusal(r.err, r.code)
    assert r.code == row.code, r.err
    assert row.says in r.err, r.err
    assert quiet(r.out + r.err), repr(r.out + r.err)
    assert after == before, "a refused command wrote to the database"


# ---------------------------------------------------------------------------- property


def _verdict(r: Any) -> None:
    """Exit 0, or a refusal in one line; never a traceback, never a raw control character."""
    assert "Traceback" not in r.err
    assert quiet(r.out + r.err), repr(r.out + r.err)
    if r.code != 0:
        assert_clean_refusal(r.err, r.code)


PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_SEQ = iter(range(10_000, 90_000))


@PROPERTY
@given(name=st.text(max_size=40))
def test_any_text_as_a_company_name(cli: Any, bench: Bench, name: str) -> None:  # noqa: F811
    from tests.reliability.conftest import company_number

    r = cli(
        "company", "add", "--number", company_number(next(_SEQ)), "--name", name,
        "--fiscal-year-end", "3", user="tanaka", db=bench.url,
    )  # fmt: skip
    _verdict(r)


@PROPERTY
@given(name=st.text(max_size=40))
def test_any_text_as_a_lender_and_an_advisor(cli: Any, bench: Bench, name: str) -> None:  # noqa: F811
    _verdict(cli("case", "lender", bench.ids["C1"], name, user="tanaka", db=bench.url))
    r = cli(
        "case", "open", "--company", bench.ids["CO"], "--program", "405", "--council", "40",
        "--advisor", name, "--json", user="tanaka", db=bench.url,
    )  # fmt: skip
    _verdict(r)
    if r.code == 0:
        r = cli("case", "list", user="tanaka", db=bench.url)
        assert r.code == 0, r.err
        _verdict(r)


@pytest.mark.slow
@PROPERTY
@given(cell=st.text(max_size=60))
def test_any_text_in_an_import_cell(cli: Any, bench: Bench, files: Path, cell: str) -> None:  # noqa: F811
    from tests.reliability.conftest import company_number

    path = files / "property.csv"
    with path.open("w", encoding="utf-8", errors="surrogatepass", newline="") as out:
        csv.writer(out).writerows(
            [HEADER.strip().split(","),
             ["40", "405", "normal", "相談", company_number(next(_SEQ)), cell, "5", "2026-05-01"]]
        )  # fmt: skip
    r = cli("import", "cases", str(path), "--json", user="admin", db=bench.url)
    assert "Traceback" not in r.err
    if r.code != 0:
        assert r.err.strip().splitlines()[-1].startswith("kaizen: ")
