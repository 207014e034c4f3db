"""Access and audit: councils are walled off, admins alone manage people, history stays put.

- An officer of council 41 can neither read nor change a council-40 case through any command:
  show, history, list, advance (every trigger), every fact command, subsidy, reports, exports,
  imports, reminders. Refusals say "not found" or "not allowed", never the company's name, and
  write nothing.
- Only admins add officers, import councils or fill a demo.
- The event log only grows: a whole case life through every command never updates or deletes
  an event (on SQLite, triggers installed for the test abort any attempt), `demo --force`
  refuses a council's own database, and on PostgreSQL the migration's trigger refuses raw
  UPDATE and DELETE.
- Personal data (company names, officers' e-mail addresses) never reaches the logs at INFO.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.reliability.conftest import (
    advance_to,
    assert_clean_refusal,
    company,
    dump,
    dump_after,
    dump_before,
    open_case,
)
from workflow.clock import FixedClock
from workflow.config import Settings

SECRET_NAME = "株式会社秘密の製作所"
SECRET_MAIL = "tanaka.private@example.jp"
BOSS_MAIL = "boss.private@example.jp"


@dataclass
class Walls:
    url: str
    ids: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def walls(module_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walls]:
    """Council 40 with cases at 計画策定 (P) and モニタリング (M); council 41's own case (S)."""
    from workflow.setup import init_database

    k, _ = init_database(
        Settings(db_url=module_db), FixedClock(datetime(2026, 6, 1, 1, 0, tzinfo=UTC)), "admin"
    )
    k.add_officer("admin", "tanaka", name="田中", council="40", role="officer", email=SECRET_MAIL)
    k.add_officer("admin", "boss", name="統括", council="40", role="supervisor", email=BOSS_MAIL)
    k.add_officer("admin", "saga", name="佐賀", council="41", role="officer")
    k.add_officer("admin", "sagaboss", name="佐賀統括", council="41", role="supervisor")
    w = Walls(module_db)
    w.ids["P"] = open_case(k, company(k, 1, name=SECRET_NAME))
    advance_to(k, w.ids["P"], "planning")
    w.ids["M"] = open_case(k, company(k, 2, name=SECRET_NAME + "二"))
    advance_to(k, w.ids["M"], "monitoring")
    w.ids["S"] = open_case(k, company(k, 3), actor="saga")
    files = tmp_path_factory.mktemp("walls")
    w.ids["F"] = str(files)
    (files / "council.csv").write_text("code,name\n47,沖縄県中小企業活性化協議会\n", "utf-8")
    k.db.dispose()
    yield w


TRIGGERS = [
    "apply", "accept", "reject", "start_planning", "submit_plan", "revise", "agree",
    "decide_payment", "claim_monitoring", "pay_monitoring", "complete", "withdraw", "discontinue",
]  # fmt: skip
ACROSS = [
    ("case", "show", "{P}"),
    ("case", "history", "{P}"),
    ("case", "show", "{M}", "--json"),
    ("case", "list", "--council", "40"),
    ("case", "list", "--council", "40", "--stage", "planning", "--json"),
    ("subsidy", "{M}"),
    *[("case", "advance", "{P}", t, "--reason", "越境") for t in TRIGGERS],
    *[("case", "advance", "{M}", t, "--reason", "越境") for t in ("claim_monitoring", "discontinue")],
    ("case", "estimate", "{P}", "dd_plan", "1000"),
    ("case", "fee", "{P}", "dd_plan", "1000"),
    ("case", "fee", "{M}", "monitoring", "1000"),
    ("case", "lender", "{P}", "佐賀銀行"),
    ("case", "consent", "{P}", "福岡銀行"),
    ("case", "certificate", "{P}", "--issued", "2026-05-01"),
    ("case", "plan", "{P}"),
    ("case", "report", "{M}"),
    ("case", "extend", "{P}", "--until", "2029-01-31", "--reason", "越境"),
    ("case", "open", "--company", "{CO}", "--program", "405", "--council", "40"),
    *[("report", r, "--council", "40", "--json") for r in ("board", "overdue", "workload", "funnel", "budget")],
    ("export", "cases", "{F}/out.csv", "--council", "40"),
]  # fmt: skip


def _args(argv: tuple[str, ...], ids: dict[str, str]) -> list[str]:
    return [a.format(**ids) if "{" in a else a for a in argv]


ON_POSTGRES = {  # the access check is the engine's, the same on both backends: a sample
    a
    for a in ACROSS
    if a[1] in ("show", "history", "list", "estimate", "fee", "lender", "consent", "certificate",
                "plan", "report", "extend", "open")
    or a[0] == "subsidy"
    or any(t in a for t in ("accept", "agree", "withdraw", "claim_monitoring"))
}  # fmt: skip

# Council 41's supervisor too: reading, extending, accepting (what a supervisor adds).
CROSSINGS = [("saga", a) for a in ACROSS] + [
    ("sagaboss", a)
    for a in ACROSS
    if a[:2] in (("case", "show"), ("case", "extend")) or "accept" in a
]


@pytest.mark.parametrize(
    ("user", "argv"), CROSSINGS, ids=[f"{u}: {' '.join(a)}" for u, a in CROSSINGS]
)
def test_another_council_can_neither_read_nor_change(
    cli: Any, walls: Walls, argv: tuple[str, ...], user: str
) -> None:
    if not walls.url.startswith("sqlite") and argv not in ON_POSTGRES:
        pytest.skip("the same access check on both backends: a sample runs on PostgreSQL")
    ids = {**walls.ids, "CO": _company_of(walls)}
    before = dump_before(walls.url)
    r = cli(*_args(argv, ids), user=user, db=walls.url)
    after = dump_after(walls.url)
    assert_clean_refusal(r.err, r.code)
    assert r.code in (3, 4), r.err
    assert SECRET_NAME not in r.err + r.out
    assert after == before
    assert not (Path(walls.ids["F"]) / "out.csv").exists()


def _company_of(walls: Walls) -> str:
    from tests.reliability.conftest import company_number

    return company_number(1)


def test_lists_reports_exports_and_reminders_show_only_ones_own_council(
    cli: Any, walls: Walls, tmp_path: Path
) -> None:
    r = cli("case", "list", "--json", user="saga", db=walls.url)
    assert r.code == 0
    assert [c["id"] for c in json.loads(r.out)["cases"]] == [walls.ids["S"]]
    for name in ("board", "overdue", "workload", "funnel", "budget"):
        r = cli("report", name, "--json", user="saga", db=walls.url)
        assert r.code == 0, r.err
        assert (
            SECRET_NAME not in r.out and walls.ids["P"] not in r.out and walls.ids["M"] not in r.out
        )
        for row in json.loads(r.out).get("rows", []):
            assert row.get("council", "41") == "41", (name, row)
    out = tmp_path / "mine.csv"
    r = cli("export", "cases", str(out), user="saga", db=walls.url)
    assert r.code == 0, r.err
    exported = out.read_text("utf-8-sig")
    assert walls.ids["S"] in exported and SECRET_NAME not in exported
    r = cli("remind", "--dry-run", "--json", "--at", "2027-03-01T09:00", user="saga", db=walls.url)
    assert r.code == 0, r.err
    assert walls.ids["P"] not in r.out and walls.ids["M"] not in r.out
    assert SECRET_MAIL not in r.out and BOSS_MAIL not in r.out


def test_an_import_into_another_council_is_refused(cli: Any, walls: Walls, tmp_path: Path) -> None:
    f = tmp_path / "cases.csv"
    f.write_text(
        "協議会,事業,枠,段階,法人番号,会社名,決算月,相談日\n"
        f"40,405,normal,相談,{_company_of(walls)},{SECRET_NAME},5,2026-05-01\n",
        "utf-8",
    )
    before = dump_before(walls.url)
    r = cli("import", "cases", str(f), user="saga", db=walls.url)
    assert r.code != 0 and "Traceback" not in r.err
    assert r.err.strip().splitlines()[-1].startswith("kaizen: ")
    assert dump_after(walls.url) == before


ADMIN_ONLY = [
    ("officer", "add", "x1", "--name", "X", "--council", "40"),
    ("officer", "add", "x2", "--name", "X", "--council", "40", "--role", "admin"),
    ("council", "import", "{F}/council.csv"),
    ("demo", "--cases", "10"),
]


@pytest.mark.parametrize("user", ["tanaka", "boss", "saga"])
@pytest.mark.parametrize("argv", ADMIN_ONLY, ids=[" ".join(a) for a in ADMIN_ONLY])
def test_only_admins_manage_officers_and_councils(
    cli: Any, walls: Walls, argv: tuple[str, ...], user: str
) -> None:
    if not walls.url.startswith("sqlite") and user != "boss":
        pytest.skip("one officer per backend is enough on PostgreSQL")
    before = dump_before(walls.url)
    r = cli(*_args(argv, walls.ids), user=user, db=walls.url)
    after = dump_after(walls.url)
    assert_clean_refusal(r.err, r.code)
    assert r.code in (4, 7), r.err  # demo: 'not yours to fill' comes first on a busy database
    assert after == before


def test_an_admin_may(cli: Any, world: Any, tmp_path: Path) -> None:
    f = tmp_path / "council.csv"
    f.write_text("code,name\n47,沖縄県中小企業活性化協議会\n", "utf-8")
    assert cli("council", "import", str(f), user="admin", db=world.url).code == 0
    r = cli(
        "officer",
        "add",
        "okinawa1",
        "--name",
        "沖縄",
        "--council",
        "47",
        user="admin",
        db=world.url,
    )
    assert r.code == 0, r.err


# ---------------------------------------------------------------------------- the event log


def events(url: str) -> list[Any]:
    return [t for t in dump(url) if t[0] == "events"]  # PostgreSQL dumps: (table, rows)


LATER = "2026-12-01T10:00:00+09:00"
LIFE: list[tuple[str, tuple[str, ...]] | tuple[str, tuple[str, ...], str]] = [
    ("tanaka", ("case", "lender", "{C}", "福岡銀行")),
    ("tanaka", ("case", "certificate", "{C}", "--issued", "2026-05-20")),
    ("tanaka", ("case", "estimate", "{C}", "dd_plan", "1500000")),
    ("tanaka", ("case", "estimate", "{C}", "monitoring", "300000")),
    ("tanaka", ("case", "advance", "{C}", "apply")),
    ("tanaka", ("case", "advance", "{C}", "accept")),
    ("boss", ("case", "extend", "{C}", "--until", "2029-01-31", "--reason", "調整の長期化")),
    ("tanaka", ("case", "advance", "{C}", "start_planning")),
    ("tanaka", ("case", "plan", "{C}")),
    ("tanaka", ("case", "advance", "{C}", "submit_plan")),
    ("tanaka", ("case", "advance", "{C}", "revise", "--reason", "金融機関の要請")),
    ("tanaka", ("case", "advance", "{C}", "submit_plan")),
    ("tanaka", ("case", "consent", "{C}", "福岡銀行")),
    ("tanaka", ("case", "advance", "{C}", "agree")),
    ("tanaka", ("case", "fee", "{C}", "dd_plan", "1500000")),
    ("tanaka", ("case", "advance", "{C}", "decide_payment")),
    # The first monitoring period (to November 2026) is over: the clock is at LATER from here.
    ("tanaka", ("case", "report", "{C}"), LATER),
    ("tanaka", ("case", "fee", "{C}", "monitoring", "300000"), LATER),
    ("tanaka", ("case", "advance", "{C}", "claim_monitoring"), LATER),
    ("tanaka", ("case", "advance", "{C}", "pay_monitoring"), LATER),
    ("tanaka", ("case", "show", "{C}")),
    ("tanaka", ("case", "history", "{C}", "--json")),
    ("tanaka", ("subsidy", "{C}")),
    ("tanaka", ("case", "list")),
    ("admin", ("remind", "--at", "2026-09-01T09:00")),  # overdue: mail to the officer
    # escalation: to the supervisor (a sweep sends nothing later than the real clock)
    ("admin", ("remind", "--at", "2027-03-01T09:00"), "2027-03-01T09:00:00+09:00"),
    ("admin", ("report", "board", "--json")),
    ("admin", ("export", "cases", "{T}/export.csv")),
    ("admin", ("doctor",)),
    ("admin", ("backup", "{T}/backup.db")),
    ("admin", ("demo", "--force", "--cases", "10")),  # refused: not a demo database
    ("tanaka", ("case", "advance", "{C}", "discontinue", "--reason", "廃業"), LATER),
]


@pytest.fixture
def append_only(world: Any) -> Iterator[None]:
    """SQLite has no such trigger in the schema: install one for the test (PostgreSQL has it)."""
    if world.url.startswith("sqlite"):
        with world.k.db.engine.begin() as c:
            for op in ("UPDATE", "DELETE"):
                c.execute(
                    text(
                        f"CREATE TRIGGER test_events_no_{op.lower()} BEFORE {op} ON events "
                        "BEGIN SELECT RAISE(ABORT, 'events are append-only (test)'); END"
                    )
                )
    yield


def test_a_case_life_only_appends_events_and_logs_no_personal_data(
    cli: Any, world: Any, tmp_path: Path, append_only: None, caplog: pytest.LogCaptureFixture
) -> None:
    """Every command, in a whole case life, plus reminder sweeps and the scheduler: the event
    log only grows, and nothing logged at INFO names the company or an officer's address."""
    from sqlalchemy import select

    from storage.models import Event

    k = world.k
    with k.db.engine.begin() as c:
        c.execute(text("UPDATE officers SET email = :m WHERE id = 'tanaka'"), {"m": SECRET_MAIL})
        c.execute(text("UPDATE officers SET email = :m WHERE id = 'boss'"), {"m": BOSS_MAIL})
    ids = {"C": open_case(k, company(k, 7, name=SECRET_NAME)), "T": str(tmp_path)}

    def log() -> list[tuple[Any, ...]]:
        with k.db.reading() as s:
            out = [
                (e.id, e.case_id, e.seq, e.kind, e.trigger, e.from_stage, e.to_stage,
                 e.effective_on, e.recorded_at, e.actor, e.reason, e.detail)
                for e in s.execute(select(Event).order_by(Event.id)).scalars()
            ]  # fmt: skip
        k.db.dispose()
        return out

    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    caplog.set_level(logging.INFO)
    stderr = []
    seen = log()
    try:
        for user, argv, *at in LIFE:
            r = cli(*_args(argv, ids), user=user, db=world.url, now=at[0] if at else None)
            stderr.append(r.err)
            if argv[0] == "demo":
                assert r.code == 7, r.err  # 'these cases were not made by the demo: not deleted'
            elif argv[0] == "backup" and not world.url.startswith("sqlite"):
                assert r.code == 2, r.err  # PostgreSQL: pg_dump's job
            else:
                assert r.code == 0, (argv, r.err)
            now = log()
            assert now[: len(seen)] == seen, f"{argv}: an event was changed or removed"
            seen = now
        # The scheduler configures logging itself (INFO to stderr): what it writes counts too.
        r = cli("scheduler", "run", "--once", user="admin", db=world.url)
        assert r.code == 0, r.err
        stderr.append(r.err)
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
    assert [e[6] for e in seen if e[3] == "transition"][-1] == "discontinued"
    assert log()[: len(seen)] == seen
    logged = "\n".join(
        [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.INFO]
        + [rec.exc_text or "" for rec in caplog.records]
        + stderr
    )
    assert any(rec.name.startswith("kaizen") for rec in caplog.records), "nothing was logged"
    for secret in (SECRET_NAME, SECRET_MAIL, BOSS_MAIL):
        assert secret not in logged, f"{secret} appeared in the logs"


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_refuses_raw_update_and_delete_of_events(world: Any) -> None:
    from sqlalchemy.exc import DBAPIError

    k = world.k
    cid = open_case(k, world.company)
    k.add_lender("tanaka", cid, "福岡銀行")
    before = events(world.url)
    for sql in (
        "UPDATE events SET to_stage = 'completed'",
        "UPDATE events SET actor = 'someone-else' WHERE seq = 1",
        "DELETE FROM events",
        f"DELETE FROM events WHERE case_id = '{cid}' AND seq = 2",
    ):
        with pytest.raises(DBAPIError, match="append-only"), k.db.engine.begin() as c:
            c.execute(text(sql))
    assert events(world.url) == before
    with k.db.engine.begin() as c:  # appending stays possible (that is how Kaizen writes)
        c.execute(
            text(
                'INSERT INTO events (case_id, seq, kind, "trigger", from_stage, to_stage,'
                " effective_on, recorded_at, actor) VALUES (:c, 3, 'fact', 'lender',"
                " 'consultation', 'consultation', '2026-06-01', now(), 'tanaka')"
            ),
            {"c": cid},
        )
