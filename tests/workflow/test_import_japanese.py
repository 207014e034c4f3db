"""The importer reads cells with the CLI's parser: Japanese labels, 和暦, slashes, full-width
digits and commas give the same cases as the ids and ISO dates of the documented example."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.workflow.test_import_export import EXAMPLE, NOW, rows_of, write_rows
from workflow.clock import FixedClock
from workflow.config import Settings
from workflow.demo import clear_cases
from workflow.importer import ImportRejected, export_cases, import_cases
from workflow.service import Kaizen
from workflow.setup import init_database


@pytest.fixture
def k(db_url: str) -> Iterator[Kaizen]:
    eng, _ = init_database(Settings(db_url=db_url), FixedClock(NOW), "admin")
    yield eng
    eng.db.dispose()


# (column, value in the example, how an officer might have typed it)
RETYPED: list[tuple[str, str, str]] = [
    ("事業", "405", "405事業"),
    ("業種", "manufacturing", "製造業"),
    ("資本金", "30000000", "30,000,000円"),
    ("証明書発行日", "2026-05-20", "令和8年5月20日"),
    ("相談日", "2026-06-01", "R8.6.1"),
    ("利用申請日", "2026-06-15", "2026/6/15"),
    ("受付日", "2026-06-26", "２０２６－０６－２６"),
    ("計画策定開始日", "2026-07-24", "2026年7月24日"),
]


def test_japanese_cells_import_as_their_ids(k: Kaizen, tmp_path: Path) -> None:
    header, rows = rows_of(EXAMPLE)
    for column, plain, typed in RETYPED:
        assert rows[0][header.index(column)] == plain, column
        rows[0][header.index(column)] = typed
    rows[0][header.index("段階")] = "計画策定"
    retyped = write_rows(tmp_path / "retyped.csv", header, rows)

    assert import_cases(k, "admin", EXAMPLE).written == 7
    expected = tmp_path / "expected.csv"
    export_cases(k, "admin", expected)
    with k.db.transaction() as s:
        clear_cases(s)
    assert import_cases(k, "admin", retyped).written == 7
    got = tmp_path / "got.csv"
    export_cases(k, "admin", got)
    assert got.read_bytes() == expected.read_bytes()


@pytest.mark.parametrize(
    ("column", "value", "needle"),
    [
        ("段階", "計画策定中", "'計画策定中' は使えません: もしかして: planning (計画策定)?"),
        ("業種", "manufactoring", "もしかして: manufacturing"),
        ("相談日", "平成31年5月1日", "平成31年5月1日 は平成にない日付です"),
        ("相談日", "R8.13.1", "YYYY-MM-DD で正しい日付を指定してください: 'R8.13.1'"),
        ("資本金", "1万", "円単位の整数を入力してください: '1万'"),
    ],
)
def test_bad_japanese_cells_are_refused_with_the_cli_words(
    k: Kaizen,
    tmp_path: Path,
    column: str,
    value: str,
    needle: str,
) -> None:
    header, rows = rows_of(EXAMPLE)
    rows[0][header.index(column)] = value
    with pytest.raises(ImportRejected) as e:
        import_cases(k, "admin", write_rows(tmp_path / "bad.csv", header, rows))
    problems = e.value.result.problems
    assert [p.row for p in problems] == [2], problems
    assert needle in problems[0].message, problems
