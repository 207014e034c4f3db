"""Transactions and the one place database errors become the workflow's error tree.

`Boundaries` is what every use case is handed: the database, the settings, the clock and the
business calendar (design.md §9). `write(b)` is one unit of work — commit on success, roll back
on any exception — and `read(b)` a read-only session; both translate storage failures once:

    sqlalchemy IntegrityError            → Conflict      (duplicate, or written meanwhile)
    DBAPIError, DatabaseUnavailable      → StorageError  (locked, read-only, corrupt, down)

A `KaizenError` raised inside passes through unchanged (after the rollback).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from states.calendar import BusinessCalendar
from storage.db import Database, DatabaseUnavailable, describe
from workflow.clock import Clock, today_jst
from workflow.config import Settings
from workflow.decide import Env
from workflow.errors import Conflict, KaizenError, StorageError
from workflow.reference import calendar_for, find_version, pick_version


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
        )


def boundaries(
    db: Database, settings: Settings, clock: Clock, calendar: BusinessCalendar | None = None
) -> Boundaries:
    return Boundaries(db, settings, clock, calendar or calendar_for(settings))


@contextmanager
def write(b: Boundaries) -> Iterator[Session]:
    try:
        with b.db.transaction() as s:
            yield s
    except KaizenError:
        raise
    except IntegrityError as e:
        raise Conflict(
            f"同じデータが既に登録されているか、同時に登録されました: {describe(e)}"
        ) from None
    except DBAPIError as e:
        raise StorageError(describe(e, b.db.url)) from None
    except DatabaseUnavailable as e:
        raise StorageError(str(e)) from None


@contextmanager
def read(b: Boundaries) -> Iterator[Session]:
    try:
        with b.db.reading() as s:
            yield s
    except KaizenError:
        raise
    except DBAPIError as e:
        raise StorageError(describe(e, b.db.url)) from None
    except DatabaseUnavailable as e:
        raise StorageError(str(e)) from None
