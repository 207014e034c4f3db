"""`kaizen remind` and `kaizen scheduler run --help`: JSON shape, dry run, refusals, settings.

The world has one 405 case of tanaka's (council 40), opened 2026-06-01: its kick-off is due
2026-06-30, overdue from 7/1 and escalated to the supervisor `boss` from 7/7.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine, select

from tests.conftest import World

# Refusals do not depend on the backend: SQLite is enough for those tables.
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

Run = Callable[..., Any]
ITEM_KEYS = {"case", "milestone", "kind", "to", "due"}


@pytest.fixture(autouse=True)
def real_time_after_the_sweeps(run_cli: Run) -> None:
    """A sweep sends nothing later than the real clock (issue 15): these tests back-fill, at
    `--at` times before the clock (run_cli's own resets it)."""
    from cli.app import set_clock
    from tests.conftest import pinned_clock

    set_clock(pinned_clock("2026-09-01T10:00:00+09:00"))


@pytest.fixture
def case(world: World) -> str:
    return world.k.open_case(  # type: ignore[attr-defined, no-any-return]
        "tanaka",
        company=world.company,
        program="405",
        track="normal",
        council="40",
        advisor="博多会計事務所",
    ).id


def dump(url: str) -> dict[str, list[tuple[str, ...]]]:
    engine = create_engine(url)
    try:
        md = MetaData()
        md.reflect(engine)
        with engine.connect() as c:
            return {
                name: sorted(tuple(repr(x) for x in row) for row in c.execute(select(t)))
                for name, t in sorted(md.tables.items())
            }
    finally:
        engine.dispose()


def test_json_lists_what_was_sent(run_cli: Run, world: World, case: str) -> None:
    r = run_cli("remind", "--at", "2026-07-07T10:00", "--json", db=world.url)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert set(doc) >= {"sent"}
    for item in doc["sent"]:
        assert set(item) >= ITEM_KEYS
        assert item["kind"] in ("upcoming", "overdue", "escalation")
    assert sorted(
        (i["case"], i["milestone"], i["kind"], i["to"], i["due"]) for i in doc["sent"]
    ) == [
        (case, "kickoff", "escalation", "boss", "2026-06-30"),
        (case, "kickoff", "overdue", "tanaka", "2026-06-30"),
    ]
    again = run_cli("remind", "--at", "2026-07-07T10:00", "--json", db=world.url)
    assert json.loads(again.out)["sent"] == []


def test_upcoming_reports_its_window(run_cli: Run, world: World, case: str) -> None:
    r = run_cli("remind", "--at", "2026-06-19", "--json", db=world.url)  # midnight JST
    [item] = json.loads(r.out)["sent"]
    assert (item["kind"], item["window"], item["to"]) == ("upcoming", 7, "tanaka")


def test_default_time_is_now(run_cli: Run, world: World, case: str) -> None:
    r = run_cli("remind", "--json", db=world.url, now="2026-07-01T09:00:00+09:00")
    assert [i["kind"] for i in json.loads(r.out)["sent"]] == ["overdue"]


def test_dry_run_lists_and_writes_nothing(run_cli: Run, world: World, case: str) -> None:
    before = dump(world.url)
    r = run_cli("remind", "--at", "2026-07-07T10:00", "--dry-run", "--json", db=world.url)
    assert r.code == 0, r.err
    assert dump(world.url) == before
    preview = json.loads(r.out)
    assert preview["dry_run"] is True
    real = json.loads(run_cli("remind", "--at", "2026-07-07T10:00", "--json", db=world.url).out)

    def key(i: dict[str, Any]) -> tuple[str, ...]:
        return (i["case"], i["milestone"], i["kind"], i["to"], i["due"])

    assert sorted(map(key, preview["sent"])) == sorted(map(key, real["sent"]))


@SQLITE
def test_human_output_is_a_table(run_cli: Run, world: World, case: str) -> None:
    r = run_cli("remind", "--at", "2026-07-07T10:00", db=world.url)
    assert r.code == 0, r.err
    assert case in r.out and "期限超過" in r.out and "エスカレーション" in r.out
    quiet = run_cli("remind", "--at", "2026-07-07T10:00", "--dry-run", db=world.url)
    assert "なし" in quiet.out


@SQLITE
@pytest.mark.parametrize(
    ("at", "message"),
    [
        ("yesterday", "ISO 8601"),
        ("2026-13-01", "ISO 8601"),
        ("2026-07-07T25:00", "ISO 8601"),
        ("", "ISO 8601"),
        ("1900-01-01T10:00", "範囲外"),
        ("2300-01-01", "範囲外"),
    ],
)
def test_bad_at_values_are_one_line_and_exit_2(
    run_cli: Run, world: World, at: str, message: str
) -> None:
    before = dump(world.url)
    r = run_cli("remind", "--at", at, "--json", db=world.url)
    assert r.code == 2
    assert r.out == ""
    assert r.err.startswith("kaizen: ") and message in r.err
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    assert dump(world.url) == before


@SQLITE
@pytest.mark.parametrize(
    ("user", "args", "code"),
    [
        ("tanaka", (), 4),  # sending covers every council: admins only
        ("stranger", ("--dry-run",), 4),  # not a registered officer
        ("tanaka", ("--dry-run",), 0),  # a preview of their own council
        ("saga", ("--dry-run",), 0),
        ("admin", (), 0),
    ],
)
def test_who_may_remind(
    run_cli: Run, world: World, case: str, user: str, args: tuple[str, ...], code: int
) -> None:
    r = run_cli("remind", "--at", "2026-07-07T10:00", "--json", *args, user=user, db=world.url)
    assert r.code == code, r.err
    if code:
        assert len(r.err.strip().splitlines()) == 1
    elif user == "saga":
        assert json.loads(r.out)["sent"] == []  # council 41 sees nothing of council 40


def test_an_uninitialised_database_is_a_storage_error(run_cli: Run, tmp_path: Any) -> None:
    r = run_cli("remind", "--json", db=str(tmp_path / "nothing.db"))
    assert r.code == 8
    assert r.err.startswith("kaizen: ") and len(r.err.strip().splitlines()) == 1


def test_scheduler_run_help_explains_the_settings(run_cli: Run) -> None:
    r = run_cli("scheduler", "run", "--help")
    assert r.code == 0
    for word in (
        "[reminders]",
        "sweep_minutes",
        "before_days",
        "escalate_after_days",
        "digest_time",
        "[smtp]",
        "host",
        "port",
        "starttls",
        "sender",
        "username",
        "KAIZEN_SMTP_PASSWORD",
        "SIGTERM",
        "Example: kaizen scheduler run",
    ):
        assert word in r.out, word


@SQLITE
def test_scheduler_run_refuses_a_bad_log_level(run_cli: Run, world: World) -> None:
    r = run_cli("scheduler", "run", "--log-level", "LOUD", db=world.url)
    assert r.code == 2 and "--log-level" in r.err


# ---------------------------------------------------------------- issue 15: sweeps from the future

FUTURE = "2026-09-01T10:01"  # a minute after the (pinned) real clock


@pytest.mark.parametrize("at", [FUTURE, "2027-06-01T09:00", "2089-12-31T23:59"])
def test_a_sweep_never_sends_what_is_not_yet_due(
    run_cli: Run, world: World, case: str, at: str
) -> None:
    before = dump(world.url)
    r = run_cli("remind", "--at", at, "--json", db=world.url)
    assert r.code == 2 and "まだ期限の来ていないリマインダーは送信できません" in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1
    assert dump(world.url) == before


def test_a_dry_run_may_look_ahead(run_cli: Run, world: World, case: str) -> None:
    before = dump(world.url)
    r = run_cli("remind", "--at", "2027-06-01T09:00", "--dry-run", "--json", db=world.url)
    assert r.code == 0, r.err
    assert json.loads(r.out)["sent"]
    assert dump(world.url) == before


@pytest.mark.parametrize(
    ("user", "council_totals"),
    [("tanaka", (2, 2)), ("boss", (2, 2)), ("saga", (0, 0)), ("admin", (2, 2))],
)
def test_a_dry_run_counts_only_the_officers_council(
    run_cli: Run, world: World, case: str, user: str, council_totals: tuple[int, int]
) -> None:
    doc = json.loads(
        run_cli(
            "remind", "--at", "2026-07-07T10:00", "--dry-run", "--json", user=user, db=world.url
        ).out
    )
    assert (doc["created"], len(doc["sent"])) == council_totals
    assert {i["council"] for i in doc["sent"]} <= {"40"}


@pytest.mark.parametrize(
    ("user", "code", "says"),
    [
        ("stranger", 4, "登録された担当者ではありません"),
        ("tanaka", 4, "スケジューラの実行"),
        ("boss", 4, "スケジューラの実行"),
    ],
)
def test_scheduler_run_needs_a_registered_admin(
    run_cli: Run, world: World, user: str, code: int, says: str
) -> None:
    before = dump(world.url)
    r = run_cli("scheduler", "run", "--once", user=user, db=world.url)
    assert (r.code, r.err.count("\n")) == (code, 1), r.err
    assert r.err.startswith("kaizen: ") and says in r.err
    assert dump(world.url) == before
