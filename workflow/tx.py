"""Transactions and the one place database errors become the workflow's error tree.

`Boundaries` is what every use case is handed: the database, the settings, the clock and the
business calendar (design.md §9). `write(b)` is one unit of work — commit on success, roll back
on any exception — and `read(b)` a read-only session; both translate storage failures through
the one mapper, `workflow.dberrors.translate_errors`. A `KaizenError` raised inside passes
through unchanged (after the rollback).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from states.calendar import BusinessCalendar
from storage.db import Database
from workflow.clock import Clock, today_jst
from workflow.config import Settings
from workflow.dberrors import translate_errors
from workflow.decide import Env
from workflow.reference import calendar_for, find_version, pick_version, rule_versions


@dataclass(eq=False)
class Boundaries:
    """The injected boundaries every use case works through."""

    db: Database
    settings: Settings
    clock: Clock
    calendar: BusinessCalendar

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return today_jst(self.clock)

    def env(self, today: date | None = None) -> Env:
        """The decision core's view of the rules, the calendar and today."""
        settings = self.settings
        return Env(
            calendar=self.calendar,
            version_on=lambda d: pick_version(settings, d),
            version=lambda v: find_version(settings, v),
            version_key=settings.version_key,
            today=today or self.today(),
            first_day=min(v.effective_from for v in rule_versions(settings)),
        )


def boundaries(
    db: Database, settings: Settings, clock: Clock, calendar: BusinessCalendar | None = None
) -> Boundaries:
    return Boundaries(db, settings, clock, calendar or calendar_for(settings))


@contextmanager
def write(b: Boundaries) -> Iterator[Session]:
    with translate_errors(b.db), b.db.transaction() as s:
        yield s


@contextmanager
def read(b: Boundaries) -> Iterator[Session]:
    with translate_errors(b.db), b.db.reading() as s:
        yield s
