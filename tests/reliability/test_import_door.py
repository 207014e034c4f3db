"""The import door and writes across councils (issue 15), on SQLite and PostgreSQL.

- `kaizen import cases` applies the commands' access rules: the importing user must be able to
  act on the row's council, and a named accepter (受付者) must be an active officer or
  supervisor of the case's own council (the guard asks for a supervisor on a re-use exception);
- malformed cells (`dd_plan=,`, `405:2019:,`, amounts of 10^23, counts past an INTEGER, names
  longer than their column, a 131,072-character cell, a directory named `x.csv`) are row problems
  or one-line refusals on both backends, never tracebacks or database errors, and `--skip-bad`
  goes on past them;
- a row naming another council's firm under another name does not learn its registered name;
- `company prior-use` is written only by a council with a case of the firm, or an admin;
- case numbers stop at 9,999 per council and 年度 with a clear message.
Every refusal leaves the database identical (a full dump compared).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import dump
from workflow.errors import InvalidInput

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "cases.csv"
NOW = "2026-11-20T10:00:00+09:00"  # after the example's dates


def _example() -> tuple[list[str], list[str]]:
    rows = list(csv.reader(io.StringIO(EXAMPLE.read_bytes().decode("utf-8-sig"))))
    return rows[0], rows[1]  # the header, a council-40 case in planning


def write_rows(path: Path, *changes: dict[str, str]) -> Path:
    header, base = _example()
    rows = [header]
    for n, change in enumerate(changes):
        row = list(base)
        # each row its own firm (法人番号 with a valid check digit from the example's pattern)
        row[header.index("法人番号")] = _number(n)
        for col, value in change.items():
            row[header.index(col)] = value
        rows.append(row)
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def _number(n: int) -> str:
    from states.ids import make_corporate_number

    return make_corporate_number(f"{700000000000 + n:012d}")


def refused(r: Any, says: str) -> None:
    """Non-zero exit, no traceback, the verdict last on stderr, the reason quoted."""
    assert r.code != 0, r.out
    assert "Traceback" not in r.err + r.out
    assert r.err.strip().splitlines()[-1].startswith("kaizen: "), r.err
    assert says in r.err, r.err


BIG = str(10**23)

BAD_ROWS = [
    # (user, the row's cells, the reason)
    ("admin", {"受付者": "saga"}, "受付者 saga は協議会 40 の所属ではありません"),
    ("tanaka", {"受付者": "saga"}, "受付者 saga は協議会 40 の所属ではありません"),
    ("boss", {"受付者": "saga"}, "受付者 saga は協議会 40 の所属ではありません"),
    ("admin", {"受付者": "ghost"}, "担当者 ghost が登録されていません"),
    ("saga", {}, "saga は協議会 40 の案件を取り込めません"),
    ("saga", {"受付者": "boss"}, "saga は協議会 40 の案件を取り込めません"),
    ("admin", {"担当者": "saga"}, "担当者 saga は協議会 40 の所属ではありません"),
    ("admin", {"費用": "dd_plan=,"}, "円単位の整数を入力してください: ','"),
    ("admin", {"費用": "dd_plan=1000/,"}, "円単位の整数を入力してください: ','"),
    ("admin", {"過去の利用": "405:2019:,"}, "円単位の整数を入力してください: ','"),
    ("admin", {"資本金": BIG}, "資本金が大きすぎます"),
    ("admin", {"費用": f"dd_plan={BIG}"}, "費用が大きすぎます"),
    ("admin", {"過去の利用": f"405:2019:{BIG}"}, "過去の利用が大きすぎます"),
    ("admin", {"従業員数": str(2**31)}, "従業員数は0から"),
    ("admin", {"従業員数": BIG}, "従業員数は0から"),
    ("admin", {"会社名": "株式会社" + "長" * 300}, "会社名が長すぎます (304文字; 上限 200文字)"),
    ("admin", {"認定支援機関": "x" * 201}, "認定支援機関が長すぎます (201文字"),
    ("admin", {"認定支援機関": "x" * 131_072}, "認定支援機関が長すぎます (131072文字"),
    ("admin", {"金融機関": "銀" * 201}, "金融機関名が長すぎます (201文字"),
    ("admin", {"担当者": "o" * 65}, "担当者が長すぎます"),
    ("admin", {"案件番号": "40-2026-10000"}, "案件番号は '40-2026-0007' の形式です"),
]


@pytest.mark.parametrize(
    ("user", "cells", "says"),
    BAD_ROWS,
    ids=[f"{i:02d}-{u}-{next(iter(c), 'none')}" for i, (u, c, _) in enumerate(BAD_ROWS)],
)
def test_an_import_row_is_refused_with_its_reason(
    cli: Any, world: Any, tmp_path: Path, user: str, cells: dict[str, str], says: str
) -> None:
    path = write_rows(tmp_path / "rows.csv", cells)
    before = dump(world.url)
    r = cli("import", "cases", str(path), user=user, db=world.url, now=NOW)
    refused(r, says)
    assert "行 2" in r.err  # the row is named
    assert dump(world.url) == before


@pytest.mark.parametrize("accepter", [None, "boss", "tanaka"])
def test_an_accepter_of_the_cases_own_council_is_imported(
    cli: Any, world: Any, tmp_path: Path, accepter: str | None
) -> None:
    path = write_rows(tmp_path / "ok.csv", {"受付者": accepter} if accepter else {})
    r = cli("import", "cases", str(path), user="tanaka", db=world.url, now=NOW)
    assert r.code == 0, r.err
    [case] = world.k.list_cases("admin")
    accepts = [e.actor for e in world.k.show("admin", case.id).events if e.trigger == "accept"]
    assert accepts == [accepter or "tanaka"]


def test_skip_bad_goes_on_past_rows_the_database_would_refuse(
    cli: Any, world: Any, tmp_path: Path
) -> None:
    path = write_rows(
        tmp_path / "mixed.csv",
        {"会社名": "株式会社" + "長" * 300},
        {},
        {"資本金": BIG},
        {"受付者": "saga"},
    )
    r = cli("import", "cases", str(path), "--skip-bad", user="admin", db=world.url, now=NOW)
    assert r.code == 0, r.err
    assert "Traceback" not in r.err
    listed = world.k.list_cases("admin")
    assert len(listed) == 1


def test_a_directory_is_not_a_file(cli: Any, world: Any, tmp_path: Path) -> None:
    (tmp_path / "x.csv").mkdir()
    before = dump(world.url)
    r = cli("import", "cases", str(tmp_path / "x.csv"), user="admin", db=world.url, now=NOW)
    assert r.code == InvalidInput.exit_code
    assert r.err == f"kaizen: ファイルではありません: {tmp_path / 'x.csv'}\n"
    assert dump(world.url) == before


def test_another_councils_firm_keeps_its_name(cli: Any, world: Any, tmp_path: Path) -> None:
    """A council-41 officer who types council 40's 法人番号 learns that it exists, not its name."""
    world.k.open_case(
        "tanaka", company=world.company, program="405", track="normal", council="40",
        advisor="博多会計",
    )  # fmt: skip
    change = {"協議会": "41", "法人番号": world.company, "会社名": "株式会社ちがう名前"}
    header, base = _example()
    row = list(base)
    for col, value in change.items():
        row[header.index(col)] = value
    path = tmp_path / "other.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([header, row])
    before = dump(world.url)
    r = cli("import", "cases", str(path), user="saga", db=world.url, now=NOW)
    refused(r, "別の会社名で登録済みです")
    assert "テスト製作所" not in r.err + r.out
    assert dump(world.url) == before
    mine = cli("import", "cases", str(path), user="admin", db=world.url, now=NOW)
    refused(mine, "「株式会社テスト製作所」として登録済みです")  # an admin sees every case


PRIOR = ("company", "prior-use", "{CO}", "--program", "405", "--fiscal-year", "2021")


@pytest.mark.parametrize(
    ("user", "with_case", "code"),
    [
        ("saga", True, 4),  # council 41 has no case of the firm
        ("tanaka", False, 4),  # nor council 40 yet
        ("boss", False, 4),
        ("ghost", True, 4),
        ("tanaka", True, 0),
        ("boss", True, 0),
        ("admin", False, 0),
    ],
)
def test_prior_use_is_written_by_a_council_with_a_case_or_an_admin(
    cli: Any, world: Any, user: str, with_case: bool, code: int
) -> None:
    if with_case:
        world.k.open_case(
            "tanaka", company=world.company, program="405", track="normal", council="40",
            advisor="博多会計",
        )  # fmt: skip
    before = dump(world.url)
    argv = [a.replace("{CO}", world.company) for a in PRIOR]
    r = cli(*argv, user=user, db=world.url)
    assert r.code == code, r.err
    if code:
        assert r.err.count("\n") == 1 and r.err.startswith("kaizen: ")
        assert dump(world.url) == before
    else:
        uses = world.k.prior_uses("admin", world.company)
        assert [(u.program, u.fiscal_year) for u in uses] == [("405", 2021)]


def test_case_numbers_stop_at_9999_per_council_and_year() -> None:
    from workflow.store import number_after

    assert number_after("40-2026-", "40-2026-9998") == "40-2026-9999"
    with pytest.raises(InvalidInput, match="9999 件まで"):
        number_after("40-2026-", "40-2026-9999")
