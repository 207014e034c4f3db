"""The scheduler (workflow.scheduler): its jobs, their triggers, and real `kaizen scheduler run`s.

The job table is read from a scheduler that is built but never run (or started paused); the job
bodies are called directly with a pinned time; and real processes are started, signalled, and
— two at once against one PostgreSQL schema — shown to send every reminder exactly once.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time as _time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from states.ids import make_corporate_number
from storage.models import Reminder
from tests.conftest import World
from tests.workflow.test_smtp import SENDER, start_server
from workflow import scheduler as sched
from workflow.clock import JST, FixedClock
from workflow.config import ReminderSettings, Settings
from workflow.service import Kaizen
from workflow.setup import connect

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

ROOT = Path(__file__).resolve().parents[2]
MONDAY_8 = datetime(2026, 6, 29, 8, 0, tzinfo=JST)


def jst(day: str, hm: str = "10:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{hm}").replace(tzinfo=JST)


@pytest.fixture(autouse=True)
def _close_job_engines() -> Iterator[None]:
    yield
    sched.close_databases()


# ------------------------------------------------------------------ the job table


def test_jobs_have_fixed_ids_triggers_and_the_tokyo_zone() -> None:
    s = sched.build_scheduler("sqlite:///k.db", "/etc/kaizen.toml", Settings(), now=MONDAY_8)
    assert isinstance(s, BlockingScheduler)
    assert str(s.timezone) == "Asia/Tokyo"
    jobs = {j.id: j for j in s.get_jobs()}
    assert set(jobs) == {"kaizen-sweep", "kaizen-digest"}

    sweep = jobs["kaizen-sweep"]
    assert isinstance(sweep.trigger, IntervalTrigger)
    assert sweep.trigger.interval == timedelta(minutes=15)
    assert str(sweep.trigger.timezone) == "Asia/Tokyo"
    assert sweep.func_ref == "workflow.scheduler:run_sweep"
    assert sweep.next_run_time == MONDAY_8  # at once: catch-up on start

    digest = jobs["kaizen-digest"]
    assert isinstance(digest.trigger, CronTrigger)
    assert str(digest.trigger.timezone) == "Asia/Tokyo"
    fields = {f.name: str(f) for f in digest.trigger.fields}
    assert (fields["day_of_week"], fields["hour"], fields["minute"]) == ("mon-fri", "9", "0")
    assert digest.func_ref == "workflow.scheduler:run_digest"

    for job in jobs.values():
        # Bodies take strings only: the database, the settings file, a pinned time.
        assert job.args == ("sqlite:///k.db", "/etc/kaizen.toml", None, None)
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time >= 3600


def test_settings_shape_the_triggers() -> None:
    settings = Settings(reminders=ReminderSettings(sweep_minutes=5, digest_time=time(8, 30)))
    s = sched.build_scheduler("sqlite:///k.db", None, settings, now=MONDAY_8)
    jobs = {j.id: j for j in s.get_jobs()}
    assert jobs["kaizen-sweep"].trigger.interval == timedelta(minutes=5)
    fields = {f.name: str(f) for f in jobs["kaizen-digest"].trigger.fields}
    assert (fields["hour"], fields["minute"]) == ("8", "30")


def test_building_twice_replaces_the_jobs() -> None:
    s = BackgroundScheduler(timezone=JST)
    s.start(paused=True)
    try:
        sched.build_scheduler("sqlite:///a.db", None, Settings(), now=MONDAY_8, scheduler=s)
        sched.build_scheduler("sqlite:///b.db", None, Settings(), now=MONDAY_8, scheduler=s)
        jobs = s.get_jobs()
        assert sorted(j.id for j in jobs) == ["kaizen-digest", "kaizen-sweep"]
        assert {j.args[0] for j in jobs} == {"sqlite:///b.db"}
    finally:
        s.shutdown(wait=False)


@pytest.mark.parametrize(
    ("now", "catch_up"),
    [
        (jst("2026-06-29", "08:00"), False),  # Monday before 09:00: the cron will fire
        (jst("2026-06-29", "10:00"), True),  # Monday after 09:00: today's digest now
        (jst("2026-06-29", "18:00"), False),  # evening: wait for tomorrow
        (jst("2026-07-04", "10:00"), False),  # Saturday
        (jst("2026-07-20", "10:00"), False),  # 海の日
    ],
)
def test_a_late_start_catches_up_todays_digest(now: datetime, catch_up: bool) -> None:
    s = sched.build_scheduler("sqlite:///k.db", None, Settings(), now=now)
    digest = s.get_job("kaizen-digest")
    assert (getattr(digest, "next_run_time", None) == now) is catch_up


@pytest.mark.parametrize(
    ("after", "fires"),
    [
        (jst("2026-06-29", "08:00"), jst("2026-06-29", "09:00")),
        (jst("2026-06-29", "09:00:01"), jst("2026-06-30", "09:00")),
        (jst("2026-07-03", "10:00"), jst("2026-07-06", "09:00")),  # Friday → Monday
        # 12:00 UTC on Sunday is 21:00 JST: the zone of the trigger decides, not UTC.
        (datetime(2026, 7, 5, 12, 0, tzinfo=UTC), jst("2026-07-06", "09:00")),
    ],
)
def test_the_digest_fires_at_nine_tokyo_time_on_weekdays(after: datetime, fires: datetime) -> None:
    s = sched.build_scheduler("sqlite:///k.db", None, Settings(), now=MONDAY_8)
    trigger = s.get_job("kaizen-digest").trigger
    assert trigger.get_next_fire_time(None, after.astimezone(JST)) == fires


# ------------------------------------------------------------------ the job bodies


@pytest.fixture
def k(world: World) -> Kaizen:
    k: Kaizen = world.k  # type: ignore[assignment]
    k.add_officer(
        "admin", "suzuki", name="鈴木", council="40", role="officer", email="suzuki@example.jp"
    )
    k.open_case(
        "suzuki",
        company=world.company,
        program="405",
        track="normal",
        council="40",
        advisor="博多会計事務所",
        on=date(2026, 6, 1),
    )  # kick-off due 2026-06-30
    return k


def kinds(k: Kaizen) -> list[tuple[str, str, str]]:
    with k.db.reading() as s:
        return sorted((r.kind, r.recipient, r.status) for r in s.scalars(select(Reminder)))


@SQLITE
def test_run_sweep_takes_ids_and_times_only(
    k: Kaizen, world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="kaizen")
    config = tmp_path / "kaizen.toml"
    config.write_text("[reminders]\nescalate_after_days = 10\n", "utf-8")
    sched.run_sweep(world.url, str(config), "2026-07-07T10:00:00+09:00")
    assert kinds(k) == [("overdue", "suzuki", "sent")]  # 5 days late: not yet escalated
    sched.run_sweep(world.url, None, "2026-07-07T10:00:00+09:00")  # default settings
    assert kinds(k) == [("escalation", "boss", "sent"), ("overdue", "suzuki", "sent")]
    assert "sweep done" in caplog.text


def test_a_failing_sweep_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="kaizen")
    (tmp_path / "empty.db").touch()
    sched.run_sweep(f"sqlite:///{tmp_path / 'empty.db'}", None, "2026-07-07T10:00:00+09:00")
    assert "sweep failed" in caplog.text and "kaizen init" in caplog.text


@SQLITE
def test_run_digest_skips_holidays(
    k: Kaizen, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="kaizen")
    sched.run_digest(world.url, None, "2026-07-20T09:00:00+09:00")
    assert "skipped (海の日)" in caplog.text


# ------------------------------------------------------------------ real processes


JUNE_1, JULY_1 = "2026-06-01T10:00:00+09:00", "2026-07-01T10:00:00+09:00"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAIZEN_") and k != "COLUMNS"}
    env.update(extra)
    return env


def _kaizen(
    *args: str, cwd: Path, log: Path, env: dict[str, str], now: str | None = None
) -> subprocess.Popen[bytes]:
    """`kaizen ARGS` in its own process; `now` pins its clock (tests/pinned_cli.py)."""
    entry = ["tests.pinned_cli", now] if now else ["cli.main"]
    with log.open("wb") as err:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", *entry, *args],
            cwd=cwd,
            env=env | {"PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def _wait_for(paths: list[Path], text: str, procs: list[subprocess.Popen[bytes]]) -> None:
    deadline = _time.monotonic() + 20
    while _time.monotonic() < deadline:
        logs = [p.read_text("utf-8", "replace") if p.exists() else "" for p in paths]
        if all(text in x for x in logs):
            return
        dead = [p for p in procs if p.poll() is not None]
        assert not dead, f"scheduler exited early: {logs}"
        _time.sleep(0.05)
    raise AssertionError(f"no '{text}' within 20 s: {logs}")


@SQLITE
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_scheduler_run_stops_cleanly_on_a_signal(
    k: Kaizen, world: World, tmp_path: Path, sig: signal.Signals
) -> None:
    log = tmp_path / "scheduler.log"
    env = _env(KAIZEN_USER="admin")
    proc = _kaizen(
        "--db", world.url, "scheduler", "run", cwd=tmp_path, log=log, env=env, now=JULY_1
    )
    try:
        _wait_for([log], "sweep done", [proc])
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text("utf-8")
    assert "scheduler started" in text and "scheduler stopped" in text
    assert "Traceback" not in text
    assert kinds(k) == [("overdue", "suzuki", "sent")]  # the start-up catch-up sweep


@SQLITE
def test_scheduler_run_once_sweeps_and_exits(k: Kaizen, world: World, tmp_path: Path) -> None:
    log = tmp_path / "once.log"
    env = _env(KAIZEN_USER="admin")
    args = ("--db", world.url, "scheduler", "run", "--once")
    proc = _kaizen(*args, cwd=tmp_path, log=log, env=env, now=JULY_1)
    assert proc.wait(timeout=20) == 0
    assert "sweep done (--once)" in log.read_text("utf-8")
    assert kinds(k) == [("overdue", "suzuki", "sent")]


def test_scheduler_run_refuses_a_database_that_is_not_there(tmp_path: Path) -> None:
    log = tmp_path / "err.log"
    proc = _kaizen(
        "--db", str(tmp_path / "missing.db"), "scheduler", "run", cwd=tmp_path, log=log, env=_env()
    )
    assert proc.wait(timeout=20) == 8
    err = log.read_text("utf-8").strip()
    assert err.startswith("kaizen: ") and len(err.splitlines()) == 1


@pytest.mark.postgres
def test_two_schedulers_on_one_postgres_send_every_reminder_once(
    pg_url: str, tmp_path: Path
) -> None:
    env = _env(KAIZEN_USER="admin")
    init = subprocess.run(
        [sys.executable, "-m", "tests.pinned_cli", JUNE_1, "--db", pg_url, "init"],
        cwd=tmp_path,
        env=env | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=60,
    )
    assert init.returncode == 0, init.stderr.decode()
    # The cast and the due milestones: 12 cases of three officers, kick-offs overdue.
    k = Kaizen(
        connect(Settings(db_url=pg_url)),
        Settings(db_url=pg_url),
        FixedClock(datetime(2026, 6, 1, 1, tzinfo=UTC)),
    )
    try:
        k.add_officer("admin", "boss", name="統括", council="40", role="supervisor", email="b@x.jp")
        for n in range(3):
            k.add_officer(
                "admin", f"o{n}", name=f"担当{n}", council="40", role="officer", email=f"o{n}@x.jp"
            )
        company = make_corporate_number("123456789012")
        k.add_company(
            "o0",
            number=company,
            name="株式会社テスト製作所",
            fiscal_year_end=5,
            industry="manufacturing",
            capital=10_000_000,
            employees=20,
        )
        for i in range(12):
            k.open_case(
                f"o{i % 3}",
                company=company,
                program="405",
                track="normal",
                council="40",
                advisor="博多会計事務所",
            )
    finally:
        k.db.dispose()

    controller, server = start_server()
    try:
        config = tmp_path / "kaizen.toml"
        config.write_text(
            f'[smtp]\nhost = "127.0.0.1"\nport = {server.port}\nstarttls = false\n'
            f'sender = "{SENDER}"\n',
            "utf-8",
        )
        run_env = _env(KAIZEN_USER="admin")
        late = "2026-07-08T10:00:00+09:00"  # 6 business days late
        logs = [tmp_path / "a.log", tmp_path / "b.log"]
        args = ("--config", str(config), "--db", pg_url, "scheduler", "run")
        procs = [_kaizen(*args, cwd=tmp_path, log=log, env=run_env, now=late) for log in logs]
        try:
            _wait_for(logs, "sweep done", procs)
            for p in procs:
                p.send_signal(signal.SIGTERM)
            assert [p.wait(timeout=15) for p in procs] == [0, 0]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        messages = list(server.inbox.messages)
    finally:
        controller.stop()

    from storage.db import open_database

    db = open_database(pg_url)
    try:
        with db.reading() as s:
            rows = list(s.scalars(select(Reminder)))
    finally:
        db.dispose()
    assert len(rows) == 24  # each case: overdue to its officer, escalation to boss
    assert {r.status for r in rows} == {"sent"}
    refs = Counter(ref for _, m in messages for ref in re.findall(r"\[R(\d+)\]", m.get_content()))
    assert sorted(int(r) for r in refs) == sorted(r.id for r in rows)
    assert set(refs.values()) == {1}  # every reminder in exactly one message
    for log in logs:
        text = log.read_text("utf-8")
        assert "Traceback" not in text and "scheduler stopped" in text
        assert "@" not in text  # addresses are never logged
