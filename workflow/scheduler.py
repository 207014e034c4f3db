"""The scheduler: APScheduler 3.x jobs that run the reminder sweep and the morning digest.

`build_scheduler(db_url, config_path, settings)` returns a `BlockingScheduler` in Asia/Tokyo
with two fixed-id jobs (`replace_existing=True`, `coalesce=True`, a long misfire grace):
- `kaizen-sweep`: `run_sweep` every `[reminders] sweep_minutes`; its first run is at start,
  so reminders that came due while no scheduler ran are caught up at once;
- `kaizen-digest`: `run_digest` at `digest_time` Monday to Friday; the body skips holidays
  and 12/29–1/3. Started on a business day after `digest_time` (and before
  `DIGEST_CATCH_UP_UNTIL`), it also runs at start: a digest already sent today is not resent.
Job bodies are module-level functions taking only strings (database URL, settings path, an
optional pinned time), so a job store could persist them and they never share a session.

Several schedulers may run against one PostgreSQL database: the sweep's claims and the digest's
`kaizen_meta` rows make each delivery happen once (workflow/reminders.py).
`run(scheduler)` blocks until SIGTERM or SIGINT, lets a running job finish, and returns.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from dataclasses import replace
from datetime import UTC, datetime, time
from pathlib import Path
from time import monotonic
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from storage.db import Database
from workflow import digest, reminders
from workflow.clock import JST, FixedClock
from workflow.config import Settings, load_settings
from workflow.errors import KaizenError
from workflow.mailer import mailer_for
from workflow.reference import calendar_for

log = logging.getLogger("kaizen.scheduler")

SWEEP_JOB = "kaizen-sweep"
DIGEST_JOB = "kaizen-digest"
MISFIRE_GRACE_SECONDS = 6 * 3600  # a sweep late by hours (suspend, overload) still runs
DIGEST_CATCH_UP_UNTIL = time(17, 0)

_dbs: dict[str, Database] = {}
_dbs_lock = threading.Lock()
_WORKER = reminders.worker_name()  # one name per scheduler process


def _settings(db_url: str, config_path: str | None) -> Settings:
    settings = load_settings(Path(config_path) if config_path else None)
    return replace(settings, db_url=db_url)


def _database(settings: Settings) -> Database:
    """One engine per URL and process: jobs run every few minutes, connections are pooled."""
    from workflow.setup import connect

    with _dbs_lock:
        db = _dbs.get(settings.db_url)
        if db is None:
            db = _dbs[settings.db_url] = connect(settings)
        return db


def close_databases() -> None:
    """Dispose the engines the jobs opened (on shutdown, and between tests)."""
    with _dbs_lock:
        for db in _dbs.values():
            db.dispose()
        _dbs.clear()


def _at(at: str | None) -> datetime:
    if at is None:
        return datetime.now(tz=UTC)
    dt = datetime.fromisoformat(at)
    return (dt if dt.tzinfo else dt.replace(tzinfo=JST)).astimezone(UTC)


def sweep_now(
    db_url: str, config_path: str | None = None, at: str | None = None, real: str | None = None
) -> reminders.SweepResult:
    """One reminder sweep at `at` (ISO 8601; default now); errors are raised. `real` is the
    real clock's time when a test pins it (default: the system clock): nothing later than it
    is sent."""
    settings = _settings(db_url, config_path)
    return reminders.sweep(
        _database(settings),
        settings,
        _at(at),
        calendar_for(settings),
        mailer_for(settings),
        worker_id=_WORKER,
        wall=FixedClock(_at(real)) if real else None,
    )


def run_sweep(
    db_url: str, config_path: str | None = None, at: str | None = None, real: str | None = None
) -> None:
    """Job body: one reminder sweep at `at` (ISO 8601; default now); errors are logged."""
    started = monotonic()
    try:
        sweep_now(db_url, config_path, at, real)  # logs its own summary (kaizen.reminders)
    except KaizenError as e:
        log.error("sweep failed: %s", e.message)
        return
    log.info("sweep done (worker %s, %.2f s)", _WORKER, monotonic() - started)


def run_digest(
    db_url: str, config_path: str | None = None, at: str | None = None, real: str | None = None
) -> None:
    """Job body: the morning digest at `at` (ISO 8601; default now); closed days skip."""
    started = monotonic()
    try:
        settings = _settings(db_url, config_path)
        digest.digest(  # logs its own summary (kaizen.reminders)
            _database(settings),
            settings,
            _at(at),
            calendar_for(settings),
            mailer_for(settings),
            worker_id=_WORKER,
        )
    except KaizenError as e:
        log.error("digest failed: %s", e.message)
        return
    log.info("digest done (worker %s, %.2f s)", _WORKER, monotonic() - started)


def _log_event(event: JobExecutionEvent) -> None:
    if event.code == EVENT_JOB_MISSED:
        log.warning("job %s missed its run at %s", event.job_id, event.scheduled_run_time)
    elif event.exception is not None:
        log.error("job %s failed: %s", event.job_id, type(event.exception).__name__)


def build_scheduler(
    db_url: str,
    config_path: str | None,
    settings: Settings,
    *,
    at: str | None = None,
    real: str | None = None,
    now: datetime | None = None,
    scheduler: BaseScheduler | None = None,
) -> BaseScheduler:
    """The jobs on a (given or new) scheduler in Asia/Tokyo; `at` pins the jobs' time."""
    sched = scheduler or BlockingScheduler(timezone=JST)
    now = (now or datetime.now(tz=UTC)).astimezone(JST)
    rs = settings.reminders
    common: dict[str, Any] = {
        "args": (db_url, config_path, at, real),
        "replace_existing": True,
        "coalesce": True,
        "max_instances": 1,
        "misfire_grace_time": MISFIRE_GRACE_SECONDS,
    }
    sched.add_job(
        run_sweep,
        IntervalTrigger(minutes=rs.sweep_minutes, timezone=JST),
        id=SWEEP_JOB,
        name="reminder sweep",
        next_run_time=now,  # catch up at once
        **common,
    )
    digest_kwargs: dict[str, Any] = {}
    cal = calendar_for(settings)
    if (
        _in_calendar(now)
        and cal.is_business_day(now.date())
        and rs.digest_time <= now.time() < DIGEST_CATCH_UP_UNTIL
    ):
        digest_kwargs["next_run_time"] = now
    sched.add_job(
        run_digest,
        CronTrigger(
            day_of_week="mon-fri",
            hour=rs.digest_time.hour,
            minute=rs.digest_time.minute,
            timezone=JST,
        ),
        id=DIGEST_JOB,
        name="morning digest",
        **common,
        **digest_kwargs,
    )
    sched.add_listener(_log_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    return sched


def _in_calendar(d: datetime) -> bool:
    from states.calendar import FIRST_SUPPORTED_YEAR, LAST_SUPPORTED_YEAR

    return FIRST_SUPPORTED_YEAR <= d.year <= LAST_SUPPORTED_YEAR


def run(scheduler: BaseScheduler) -> None:
    """Start and block until SIGTERM/SIGINT; a running job finishes before this returns."""
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        if stopping.is_set():
            return
        stopping.set()
        log.info("%s received: stopping after the running job", signal.Signals(signum).name)
        scheduler.shutdown(wait=True)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        log.info(
            "scheduler started (pid %d, worker %s): %s",
            os.getpid(),
            _WORKER,
            ", ".join(f"{j.id} {j.trigger}" for j in scheduler.get_jobs()),
        )
        scheduler.start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        close_databases()
    log.info("scheduler stopped")
