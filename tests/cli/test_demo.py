"""`kaizen demo`: a realistic, reproducible database that every command works on right away."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from states.programs import catalog
from storage.db import open_database
from storage.models import Case, Company, Milestone
from workflow import store
from workflow.clock import FixedClock
from workflow.config import Settings
from workflow.decide import case_rules, replan_into
from workflow.doctor import check_database
from workflow.service import Kaizen
from workflow.snapshot import ChangeSet

NOW = "2026-06-01T10:00:00+09:00"  # run_cli's pinned clock


@pytest.fixture(scope="module")
def default_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:
    """`kaizen demo` with the default size on a new SQLite file, run once for the module."""
    import io
    import os
    from contextlib import redirect_stderr, redirect_stdout

    from cli.app import main, set_clock
    from tests.conftest import pinned_clock

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    saved = {k: os.environ.get(k) for k in ("KAIZEN_DB", "KAIZEN_USER", "COLUMNS")}
    os.environ.update(KAIZEN_DB=str(path), KAIZEN_USER="admin", COLUMNS="100")
    set_clock(pinned_clock(NOW))
    out, err = io.StringIO(), io.StringIO()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["demo"])
    finally:
        set_clock(None)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert (code, err.getvalue()) == (0, ""), err.getvalue()
    return str(path), out.getvalue()


def engine(path: str) -> Kaizen:
    url = f"sqlite:///{path}"
    return Kaizen(
        open_database(url), Settings(db_url=url), FixedClock(datetime(2026, 6, 1, 1, tzinfo=UTC))
    )


def test_demo_prints_its_board(default_demo: tuple[str, str]) -> None:
    _, out = default_demo
    assert "デモデータ: 案件 240件" in out
    assert "案件ボード (協議会 × 段階)" in out
    assert "福岡" in out and "鹿児島" in out
    assert "管理者 admin を作成しました" in out


def test_demo_is_realistic(default_demo: tuple[str, str]) -> None:
    k = engine(default_demo[0])
    with k.db.reading() as s:
        cases = list(s.scalars(select(Case)))
        names = list(s.scalars(select(Company.name)))
    assert 150 <= len(cases) <= 300
    assert {c.stage for c in cases} == set(
        catalog().stages
    )  # every stage, 不受理・取下げ・中止 too
    assert {(c.program, c.track) for c in cases} == set(
        (d.program, d.track) for d in catalog().definitions.values()
    )
    assert {c.council_code for c in cases} == {"40", "41", "42", "43", "44", "45", "46"}
    assert {c.opened_on.year for c in cases} >= {2022, 2023, 2024, 2025, 2026}
    assert any(c.reuse_exception for c in cases)  # an R6 re-use accepted by a supervisor
    assert len(set(names)) == len(names)
    assert all(
        n.startswith(("株式会社", "有限会社", "合同会社"))
        or n.endswith(("株式会社", "有限会社", "合同会社", ")"))
        for n in names
    )
    late = k.list_cases("admin", overdue=True)
    assert 0 < len(late) < len(cases) // 2
    k.db.dispose()


def test_demo_keeps_every_invariant(default_demo: tuple[str, str]) -> None:
    k = engine(default_demo[0])
    n, problems = check_database(k.db, k.settings)
    assert (n, problems) == (240, [])
    k.db.dispose()


def test_demo_milestones_are_the_engines(default_demo: tuple[str, str], tmp_path: Path) -> None:
    """Re-planning every case with the decision core's planner changes no milestone: the
    planner, asked again on each case's snapshot, finds nothing to insert, update or drop."""
    import shutil

    copy = tmp_path / "copy.db"
    shutil.copy(default_demo[0], copy)
    k = engine(str(copy))
    cols = (Milestone.case_id, Milestone.key, Milestone.label, Milestone.due, Milestone.done_on)
    with k.db.reading() as s:
        before = s.execute(select(*cols).order_by(Milestone.case_id, Milestone.key)).all()
    admin = k.whoami("admin")
    env = k.env()
    changed: list[tuple[str, object]] = []
    with k.db.reading() as s:
        for cid in s.scalars(select(Case.id).order_by(Case.id)):
            snap = store.load(s, cid, admin, frozenset())
            changes = ChangeSet(cid, snap.case, snap.case.version)
            replan_into(snap, changes, case_rules(snap.case, env), env)
            if changes.milestones or changes.drop_milestones or changes.cancel_reminders:
                changed.append((cid, changes))
    assert changed == [] and len(before) > 1000
    k.db.dispose()


def test_every_command_works_right_after_the_demo(
    run_cli: Any, default_demo: tuple[str, str]
) -> None:
    db = default_demo[0]
    board = json.loads(run_cli("report", "board", "--json", db=db).out)
    assert sum(x["count"] for x in board["rows"]) == 240
    assert sum(x["overdue"] for x in board["rows"]) > 0
    some = json.loads(run_cli("case", "list", "--json", "--stage", "monitoring", db=db).out)[
        "cases"
    ][0]
    shown = run_cli("case", "show", some["id"], db=db)
    assert shown.code == 0 and "スケジュール" in shown.out
    assert run_cli("subsidy", some["id"], "--json", db=db).code == 0


@pytest.fixture
def fresh_file(tmp_path: Path) -> Callable[[str], str]:
    return lambda name: str(tmp_path / name)


def test_a_second_run_is_refused_without_force(
    run_cli: Any, fresh_file: Callable[[str], str]
) -> None:
    db = fresh_file("again.db")
    assert run_cli("demo", "--cases", "20", db=db).code == 0
    r = run_cli("demo", "--cases", "20", db=db)
    assert r.code == 7 and "既に案件が 20 件" in r.err and "--force" in r.err
    assert r.err.count("\n") == 1
    forced = run_cli("demo", "--force", "--cases", "30", "--seed", "9", db=db)
    assert forced.code == 0, forced.err
    board = json.loads(run_cli("report", "board", "--json", db=db).out)
    assert sum(x["count"] for x in board["rows"]) == 30


def test_force_never_wipes_a_councils_own_cases(
    run_cli: Any, fresh_file: Callable[[str], str]
) -> None:
    db = fresh_file("real.db")
    assert run_cli("init", db=db).code == 0
    assert run_cli("company", "add", "--number", "1290001012345", "--name", "株式会社実在",
                   "--fiscal-year-end", "3", db=db).code == 0  # fmt: skip
    opened = run_cli("case", "open", "--company", "1290001012345", "--program", "405",
                     "--council", "40", "--advisor", "博多会計", db=db)  # fmt: skip
    assert opened.code == 0, opened.err
    r = run_cli("demo", "--force", db=db)
    assert r.code == 7 and "デモで作られたものではありません" in r.err
    assert len(json.loads(run_cli("case", "list", "--json", db=db).out)["cases"]) == 1


def test_the_same_seed_gives_the_same_database(
    run_cli: Any, fresh_file: Callable[[str], str]
) -> None:
    exports = []
    for name in ("a", "b"):
        db = fresh_file(f"{name}.db")
        assert run_cli("demo", "--seed", "11", "--cases", "30", db=db).code == 0
        out = Path(fresh_file(f"{name}.csv"))
        assert run_cli("export", "cases", str(out), db=db).code == 0
        exports.append(out.read_bytes())
    assert exports[0] == exports[1]
    other = fresh_file("c.db")
    assert run_cli("demo", "--seed", "12", "--cases", "30", db=other).code == 0
    out = Path(fresh_file("c.csv"))
    run_cli("export", "cases", str(out), db=other)
    assert out.read_bytes() != exports[0]


@pytest.mark.parametrize("bad", ["5", "5000", "abc"])
def test_demo_refuses_a_silly_size(
    run_cli: Any, fresh_file: Callable[[str], str], bad: str
) -> None:
    r = run_cli("demo", "--cases", bad, db=fresh_file("x.db"))
    assert r.code == 2 and r.out == ""


def test_demo_on_both_backends(db_url: str) -> None:
    """The demo and its --force reset on PostgreSQL too (events refuse DELETE there)."""
    from workflow.demo import run_demo

    clock = FixedClock(datetime(2026, 6, 1, 1, tzinfo=UTC))
    k, result = run_demo(Settings(db_url=db_url), clock, "admin", cases=25, seed=4)
    assert result.cases == 25 and result.admin_created == "admin"
    assert check_database(k.db, k.settings)[1] == []
    k.db.dispose()
    k, again = run_demo(Settings(db_url=db_url), clock, "admin", cases=20, seed=5, force=True)
    assert again.cases == 20 and again.admin_created is None
    assert check_database(k.db, k.settings) == (20, [])
    k.db.dispose()


def test_demo_takes_seconds(default_demo: tuple[str, str]) -> None:
    import re

    found = re.search(r"(\d+\.\d)秒", default_demo[1])
    assert found is not None
    seconds = float(found[1])
    assert seconds < 30, f"kaizen demo took {seconds}s (target: < 10 s on an idle machine)"
