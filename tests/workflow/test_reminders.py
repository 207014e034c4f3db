"""The reminder sweep (workflow.reminders): what is due, to whom, and delivered exactly once.

Every test hands the sweep its time (10:00 JST on a given day unless said otherwise) and a
mailer: the outbox only, a recording fake, or a failing one. Nothing sleeps. The case is a 405
case opened on 2026-06-01 by `suzuki` (council 40): its kick-off is due Tuesday 2026-06-30 and
its DD Friday 2026-07-31.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine, select, update

from states.calendar import BusinessCalendar
from states.ids import make_corporate_number
from storage.db import open_database
from storage.models import Milestone, Reminder
from tests.conftest import World
from workflow.clock import JST, FixedClock
from workflow.config import ReminderSettings, Settings
from workflow.digest import digest
from workflow.errors import InvalidInput, PermissionDenied
from workflow.mailer import Mail, OutboxOnly
from workflow.reminders import (
    CLAIM_LEASE,
    SweepResult,
    claim,
    create_due,
    due_kinds,
    remind,
    sweep,
)
from workflow.service import Kaizen

CAL = BusinessCalendar()
KICKOFF = date(2026, 6, 30)
DD = date(2026, 7, 31)


def at(day: str, hm: str = "10:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{hm}").replace(tzinfo=JST)


@dataclass
class Recorder:
    """A mailer that accepts everything (or fails the first `fail` calls) and keeps it.

    A sweep sends one e-mail per call (each after renewing its lease), so `fail` counts
    e-mails."""

    fail: int = 0
    mails: list[Mail] = field(default_factory=list)
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def enabled(self) -> bool:
        return True

    def send(self, mails: Sequence[Mail]) -> list[str | None]:
        with self.lock:
            self.calls += 1
            if self.calls <= self.fail:
                return ["smtp send: SMTPDataError: 451 try again later" for _ in mails]
            self.mails.extend(mails)
            return [None for _ in mails]


@dataclass
class R:
    """The world plus the reminder cast."""

    w: World
    case: str
    settings: Settings

    @property
    def k(self) -> Kaizen:
        return self.w.k  # type: ignore[return-value]

    def sweep(self, when: datetime, mailer: Any = None, **kw: Any) -> SweepResult:
        return sweep(self.k.db, self.settings, when, self.k.calendar, mailer or OutboxOnly(), **kw)

    def rows(self) -> list[Reminder]:
        with self.k.db.reading() as s:
            return list(s.scalars(select(Reminder).order_by(Reminder.id)))

    def milestone(self, key: str, case: str | None = None) -> Milestone:
        with self.k.db.reading() as s:
            return s.scalars(
                select(Milestone).where(
                    Milestone.case_id == (case or self.case), Milestone.key == key
                )
            ).one()

    def set_milestone(self, key: str, **values: Any) -> None:
        """What the engine's replan does when a case moves (tested in test_milestones)."""
        with self.k.db.transaction() as s:
            s.execute(
                update(Milestone)
                .where(Milestone.case_id == self.case, Milestone.key == key)
                .values(**values)
            )

    def open(
        self, on: date, actor: str = "suzuki", company: str | None = None, council: str = "40"
    ) -> str:
        self.w.clock.at = datetime(on.year, on.month, on.day, 1, tzinfo=UTC)
        return self.k.open_case(
            actor,
            company=company or self.w.company,
            program="405",
            track="normal",
            council=council,
            advisor="博多会計事務所",
            on=on,
        ).id


@pytest.fixture
def r(world: World) -> R:
    k: Kaizen = world.k  # type: ignore[assignment]
    k.add_officer(
        "admin", "suzuki", name="鈴木", council="40", role="officer", email="suzuki@example.jp"
    )
    k.add_officer(
        "admin", "boss2", name="統括二", council="40", role="supervisor", email="boss2@example.jp"
    )
    k.add_officer("admin", "boss41", name="佐賀統括", council="41", role="supervisor")
    rr = R(world, "", k.settings)
    rr.case = rr.open(date(2026, 6, 1))
    return rr


def sent(result: SweepResult) -> list[tuple[str, str, str, int | None, str]]:
    return sorted((i.case[-4:], i.milestone, i.kind, i.window, i.to) for i in result.sent)


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


# ------------------------------------------------------------------ what is due (pure)

RS = ReminderSettings()


@pytest.mark.parametrize(
    ("due", "today", "kinds"),
    [
        (KICKOFF, date(2026, 6, 18), []),  # 8 business days before
        (KICKOFF, date(2026, 6, 19), ["upcoming-7"]),  # 7: 22–26, 29, 30
        (KICKOFF, date(2026, 6, 20), ["upcoming-7"]),  # Saturday: still 7 to go
        (KICKOFF, date(2026, 6, 26), ["upcoming-7"]),  # 2
        (KICKOFF, date(2026, 6, 29), ["upcoming-1"]),
        (KICKOFF, KICKOFF, ["upcoming-1"]),  # due today
        (KICKOFF, date(2026, 7, 1), ["overdue"]),
        (KICKOFF, date(2026, 7, 6), ["overdue"]),  # 4 business days late
        (KICKOFF, date(2026, 7, 7), ["overdue", "escalation"]),  # 5
        (DD, date(2026, 8, 1), []),  # due Friday, Saturday is no business day
        (DD, date(2026, 8, 3), ["overdue"]),
        # Golden Week: from Friday 5/1 the next business day is Thursday 5/7.
        (date(2026, 5, 7), date(2026, 5, 1), ["upcoming-1"]),
        (date(2026, 5, 7), date(2026, 4, 30), ["upcoming-7"]),
    ],
)
def test_due_kinds(due: date, today: date, kinds: list[str]) -> None:
    assert due_kinds(due, today, RS, CAL) == kinds


def test_due_kinds_follow_the_settings() -> None:
    rs = ReminderSettings(before_days=(10, 3), escalate_after_days=2)
    assert due_kinds(KICKOFF, date(2026, 6, 16), rs, CAL) == ["upcoming-10"]
    assert due_kinds(KICKOFF, date(2026, 6, 25), rs, CAL) == ["upcoming-3"]
    assert due_kinds(KICKOFF, date(2026, 7, 2), rs, CAL) == ["overdue", "escalation"]


# ------------------------------------------------------------------ each kind


def test_upcoming_at_seven_and_one_business_days(r: R) -> None:
    assert r.sweep(at("2026-06-18")).sent == []
    got = r.sweep(at("2026-06-19"))
    assert sent(got) == [("0001", "kickoff", "upcoming", 7, "suzuki")]
    item = got.sent[0]
    assert (item.due, item.channel, item.label) == (
        KICKOFF,
        "outbox",
        "相談・キックオフ (支援枠の確認)",
    )
    assert r.sweep(at("2026-06-22")).sent == []
    assert sent(r.sweep(at("2026-06-29"))) == [("0001", "kickoff", "upcoming", 1, "suzuki")]
    assert r.sweep(at("2026-06-30")).sent == []
    rows = r.rows()
    assert [(x.kind, x.status, x.channel, x.attempts) for x in rows] == [
        ("upcoming-7", "sent", "outbox", 0),
        ("upcoming-1", "sent", "outbox", 0),
    ]
    assert rows[0].sent_at == at("2026-06-19").astimezone(UTC)


def test_overdue_goes_to_the_case_officer(r: R) -> None:
    r.sweep(at("2026-06-29"))
    assert sent(r.sweep(at("2026-07-01"))) == [("0001", "kickoff", "overdue", None, "suzuki")]
    assert r.sweep(at("2026-07-06")).sent == []


def test_escalation_goes_to_every_active_supervisor_of_the_council(r: R) -> None:
    r.k.add_officer("admin", "retired", name="元統括", council="40", role="supervisor")
    with r.k.db.transaction() as s:
        from storage.models import Officer

        s.execute(update(Officer).where(Officer.id == "retired").values(active=False))
    r.sweep(at("2026-07-01"))
    got = r.sweep(at("2026-07-07"))
    # boss and boss2 of council 40; not boss41 (council 41), not the inactive one.
    assert sent(got) == [
        ("0001", "kickoff", "escalation", None, "boss"),
        ("0001", "kickoff", "escalation", None, "boss2"),
    ]


def test_a_council_without_supervisors_gets_no_escalation(r: R) -> None:
    r.k.add_officer("admin", "kuma", name="熊本", council="43", role="officer")
    cid = r.open(date(2026, 6, 1), actor="kuma", council="43")
    got = r.sweep(at("2026-07-07"))
    assert [(i.kind, i.to) for i in got.sent if i.case == cid] == [("overdue", "kuma")]


def test_sweeping_twice_at_the_same_time_sends_nothing_new(r: R) -> None:
    first = r.sweep(at("2026-07-07"))
    before = dump(r.w.url)
    second = r.sweep(at("2026-07-07"))
    assert len(first.sent) == 3 and first.created == 3
    assert (second.sent, second.created) == ([], 0)
    assert dump(r.w.url) == before


def test_a_sweep_after_downtime_catches_up_everything_due(r: R) -> None:
    other = r.open(date(2026, 7, 1))  # kick-off due 2026-07-31
    # No sweep ran from June 1st to July 24th.
    got = r.sweep(at("2026-07-24"))
    assert (
        sent(got)
        == [
            ("0001", "dd", "upcoming", 7, "suzuki"),  # due 7/31: 5 business days left
            ("0001", "kickoff", "escalation", None, "boss"),
            ("0001", "kickoff", "escalation", None, "boss2"),
            ("0001", "kickoff", "overdue", None, "suzuki"),
            (other[-4:], "kickoff", "upcoming", 7, "suzuki"),
        ]
    )
    # The windows that passed unseen are not sent late: kick-off's upcoming reminders.
    assert not [x for x in r.rows() if x.kind.startswith("upcoming") and x.due == KICKOFF]


def test_a_closed_case_is_not_reminded(r: R) -> None:
    r.k.advance("suzuki", r.case, "withdraw", on=date(2026, 6, 1), reason="会社の都合")
    assert r.sweep(at("2026-07-07")).sent == []
    assert r.rows() == []


def test_a_done_milestone_is_not_reminded(r: R) -> None:
    r.set_milestone("kickoff", done_on=date(2026, 6, 25))
    assert r.sweep(at("2026-07-07")).sent == []


# ------------------------------------------------------------------ moved and stale reminders


def test_a_milestone_that_moves_is_reminded_again_for_its_new_date(r: R) -> None:
    r.set_milestone("kickoff", done_on=date(2026, 6, 25))
    assert sent(r.sweep(at("2026-07-22"))) == [("0001", "dd", "upcoming", 7, "suzuki")]
    r.set_milestone("dd", due=date(2026, 8, 14))  # the case ran late: replan moved it
    assert r.sweep(at("2026-07-23")).sent == []
    got = r.sweep(at("2026-08-05"))
    assert sent(got) == [("0001", "dd", "upcoming", 7, "suzuki")]
    assert got.sent[0].due == date(2026, 8, 14)
    # Both stay: the one sent for the old date is history.
    assert [(x.kind, x.due, x.status) for x in r.rows()] == [
        ("upcoming-7", DD, "sent"),
        ("upcoming-7", date(2026, 8, 14), "sent"),
    ]


def test_pending_reminders_of_moved_or_done_milestones_are_cancelled(r: R) -> None:
    # Both e-mails fail (one call each); boss (no address) has his outbox copy
    r.sweep(at("2026-07-07"), Recorder(fail=2))
    pending = sorted((x.kind, x.recipient) for x in r.rows() if x.status == "pending")
    assert pending == [("escalation", "boss2"), ("overdue", "suzuki")]
    r.set_milestone("kickoff", done_on=date(2026, 7, 7))
    got = r.sweep(at("2026-07-07", "11:00"), Recorder())
    assert (got.sent, got.cancelled) == ([], 2)
    assert sorted((x.recipient, x.status, x.last_error) for x in r.rows()) == [
        ("boss", "sent", None),
        ("boss2", "cancelled", "milestone done"),
        ("suzuki", "cancelled", "milestone done"),
    ]


def test_pending_reminders_of_a_moved_milestone_are_cancelled(r: R) -> None:
    r.set_milestone("kickoff", done_on=date(2026, 6, 25))
    r.sweep(at("2026-07-22"), Recorder(fail=1))  # DD's upcoming-7 fails
    r.set_milestone("dd", due=date(2026, 8, 31))
    got = r.sweep(at("2026-07-22", "11:00"), Recorder())
    assert (got.sent, got.cancelled) == ([], 1)
    [row] = r.rows()
    assert (row.status, row.last_error) == ("cancelled", "milestone moved to 2026-08-31")


# ------------------------------------------------------------------ e-mail and retries


def test_one_message_per_recipient_per_sweep(r: R) -> None:
    second_company = make_corporate_number("223456789012")
    r.k.add_company(
        "suzuki",
        number=second_company,
        name="有限会社第二",
        fiscal_year_end=5,
        industry="retail",
        capital=5_000_000,
        employees=8,
    )
    other = r.open(date(2026, 6, 1), company=second_company)
    mailer = Recorder()
    got = r.sweep(at("2026-07-07"), mailer)
    assert got.emails == 2
    by_to = {m.to: m for m in mailer.mails}
    assert sorted(by_to) == ["boss2@example.jp", "suzuki@example.jp"]  # boss has no address
    mine = by_to["suzuki@example.jp"]
    assert mine.subject == "【Kaizen】期限のお知らせ: 期限超過 2件"
    for cid in (r.case, other):
        assert cid in mine.body
    assert "株式会社テスト製作所" in mine.body and "有限会社第二" in mine.body
    assert "期限: 2026年6月30日 (火) (5営業日超過)" in mine.body
    assert mine.body.startswith("鈴木 様\n")
    escalated = by_to["boss2@example.jp"]
    assert escalated.subject == "【Kaizen】期限のお知らせ: 期限超過 (統括責任者への報告) 2件"
    assert "担当: 鈴木 (suzuki)" in escalated.body
    # Every delivered reminder is named in exactly one message.
    refs = [line.strip() for m in mailer.mails for line in m.body.splitlines() if "[R" in line]
    email_rows = [x for x in r.rows() if x.channel == "email"]
    assert sorted(refs) == sorted(f"[R{x.id}]" for x in email_rows)
    channels = {(x.recipient, x.channel) for x in r.rows()}
    assert channels == {("suzuki", "email"), ("boss2", "email"), ("boss", "outbox")}
    assert r.sweep(at("2026-07-07", "10:15"), mailer).emails == 0
    assert len(mailer.mails) == 2


def test_a_failed_delivery_is_retried_with_backoff_then_failed(r: R) -> None:
    r.settings = replace(
        r.settings, reminders=replace(r.settings.reminders, retry_base_seconds=60, max_attempts=3)
    )
    mailer = Recorder(fail=99)
    t0 = at("2026-07-01", "09:00")
    first = r.sweep(t0, mailer)
    assert first.sent == []
    [item] = first.retrying
    assert (item.kind, item.to, item.attempts) == ("overdue", "suzuki", 1)
    assert "451" in (item.error or "")
    [row] = r.rows()
    assert (row.status, row.attempts, row.claimed_until) == ("pending", 1, None)
    assert row.next_attempt_at == (t0 + timedelta(seconds=60)).astimezone(UTC)
    assert row.last_error and "451" in row.last_error

    calls = mailer.calls
    assert r.sweep(t0 + timedelta(seconds=59), mailer).retrying == []  # not yet
    assert mailer.calls == calls
    second = r.sweep(t0 + timedelta(seconds=60), mailer)
    assert [i.attempts for i in second.retrying] == [2]
    [row] = r.rows()
    assert row.next_attempt_at == (t0 + timedelta(seconds=60 + 120)).astimezone(UTC)
    assert r.sweep(t0 + timedelta(seconds=179), mailer).retrying == []
    third = r.sweep(t0 + timedelta(seconds=180), mailer)
    assert (third.retrying, [i.attempts for i in third.failed]) == ([], [3])
    [row] = r.rows()
    assert (row.status, row.attempts) == ("failed", 3)  # stays visible, with its reason
    assert row.last_error and "451" in row.last_error
    # Never tried again, even by a mailer that works.
    calls = mailer.calls
    later = r.sweep(t0 + timedelta(days=1), Recorder())
    assert later.sent == [] and later.retrying == [] and later.failed == []
    assert mailer.calls == calls


def test_a_retry_that_succeeds_is_sent_once(r: R) -> None:
    mailer = Recorder(fail=1)
    t0 = at("2026-07-01", "09:00")
    assert r.sweep(t0, mailer).retrying
    got = r.sweep(t0 + timedelta(minutes=15), mailer)
    assert sent(got) == [("0001", "kickoff", "overdue", None, "suzuki")]
    [row] = r.rows()
    assert (row.status, row.attempts, row.channel) == ("sent", 1, "email")
    assert len(mailer.mails) == 1


def test_personal_data_is_not_logged_at_info(r: R, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="kaizen")
    r.sweep(at("2026-07-07"), Recorder())
    r.sweep(at("2026-07-08"), Recorder(fail=1))
    digest(r.k.db, r.settings, at("2026-07-08", "09:00"), r.k.calendar, Recorder())
    text = caplog.text
    assert "sweep" in text
    assert "株式会社テスト製作所" not in text
    assert "@" not in text


# ------------------------------------------------------------------ dry run


def test_dry_run_lists_and_writes_nothing(r: R) -> None:
    before = dump(r.w.url)
    preview = r.sweep(at("2026-07-07"), Recorder(), dry_run=True)
    assert dump(r.w.url) == before
    assert preview.dry_run and preview.created == 3
    assert all(i.reminder is None for i in preview.sent)
    assert {(i.to, i.channel) for i in preview.sent} == {
        ("suzuki", "email"),
        ("boss", "outbox"),
        ("boss2", "email"),
    }
    real = r.sweep(at("2026-07-07"), Recorder())
    assert sent(real) == sent(preview)


def test_dry_run_lists_pending_retries_too(r: R) -> None:
    t0 = at("2026-07-01", "09:00")
    r.sweep(t0, Recorder(fail=1))
    before = dump(r.w.url)
    preview = r.sweep(t0 + timedelta(minutes=1), Recorder(), dry_run=True)
    assert dump(r.w.url) == before
    [item] = preview.sent
    assert item.reminder == r.rows()[0].id and item.kind == "overdue"
    assert r.sweep(t0 + timedelta(seconds=30), Recorder(), dry_run=True).sent == []


# ------------------------------------------------------------------ who may sweep by hand


def test_remind_sends_for_admins_only(r: R) -> None:
    args = (r.k.db, r.settings)
    with pytest.raises(PermissionDenied):
        remind(*args, "suzuki", at("2026-07-07"), r.k.calendar, OutboxOnly())
    with pytest.raises(PermissionDenied):
        remind(*args, "nobody", at("2026-07-07"), r.k.calendar, OutboxOnly(), dry_run=True)
    assert r.rows() == []
    own = remind(*args, "suzuki", at("2026-07-07"), r.k.calendar, OutboxOnly(), dry_run=True)
    assert len(own.sent) == 3
    other = remind(*args, "saga", at("2026-07-07"), r.k.calendar, OutboxOnly(), dry_run=True)
    assert other.sent == []  # council 41 sees nothing of council 40
    done = remind(*args, "admin", at("2026-07-07"), r.k.calendar, OutboxOnly())
    assert len(done.sent) == 3


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 7, 7, 10, 0),
        datetime(1900, 1, 1, tzinfo=UTC),
        datetime(2200, 1, 1, tzinfo=UTC),
    ],
)
def test_a_time_the_sweep_cannot_use_is_invalid_input(r: R, when: datetime) -> None:
    with pytest.raises(InvalidInput):
        r.sweep(when)


# ------------------------------------------------------------------ the morning digest


def test_digest_once_per_officer_and_business_day(r: R) -> None:
    mailer = Recorder()
    monday = at("2026-06-29", "09:00")
    got = digest(r.k.db, r.settings, monday, r.k.calendar, mailer)
    assert got.sent == ["suzuki"]  # boss has no address, boss2 nothing to escalate yet
    [mail] = mailer.mails
    assert (
        mail.subject
        == "【Kaizen】本日の期限一覧 2026年6月29日 (月): 期限超過 0件・まもなく期限 1件"
    )
    assert r.case in mail.body and "あと1営業日" in mail.body
    again = digest(r.k.db, r.settings, monday, r.k.calendar, mailer)
    assert (again.sent, again.already) == ([], 1)
    assert len(mailer.mails) == 1


def test_digest_skips_holidays(r: R) -> None:
    got = digest(r.k.db, r.settings, at("2026-07-20", "09:00"), r.k.calendar, Recorder())
    assert got.skipped == "海の日" and got.sent == []


def test_digest_tells_supervisors_of_escalated_milestones(r: R) -> None:
    mailer = Recorder()
    got = digest(r.k.db, r.settings, at("2026-07-08", "09:00"), r.k.calendar, mailer)
    assert sorted(got.sent) == ["boss2", "suzuki"]
    boss2 = next(m for m in mailer.mails if m.recipient == "boss2")
    assert "担当: 鈴木 (suzuki)" in boss2.body


def test_a_failed_digest_may_be_sent_again(r: R) -> None:
    monday = at("2026-06-29", "09:00")
    failed = digest(r.k.db, r.settings, monday, r.k.calendar, Recorder(fail=5))
    assert failed.failed == ["suzuki"]
    ok = digest(r.k.db, r.settings, monday, r.k.calendar, Recorder())
    assert ok.sent == ["suzuki"]


def test_without_email_the_digest_sends_nothing(r: R) -> None:
    got = digest(r.k.db, r.settings, at("2026-06-29", "09:00"), r.k.calendar, OutboxOnly())
    assert got.sent == [] and got.no_email == 1


# ------------------------------------------------------------------ concurrent sweeps


def _many_cases(r: R, n: int) -> None:
    for i in range(n):
        r.open(date(2026, 6, 1) + timedelta(days=i % 3))


def test_concurrent_sweeps_never_send_twice(r: R) -> None:
    """Four engines sweep at the same instant from four threads."""
    _many_cases(r, 8)
    mailer = Recorder()
    results: list[SweepResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)
    when = at("2026-07-08")

    def one() -> None:
        db = open_database(r.w.url)
        try:
            barrier.wait()
            # Small claims, many rounds: the sweeps interleave instead of one taking all.
            results.append(sweep(db, r.settings, when, r.k.calendar, mailer, batch=2))
        except BaseException as e:  # reported below
            errors.append(e)
        finally:
            db.dispose()

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    rows = r.rows()
    assert len(rows) == 9 * 3  # nine cases: overdue to suzuki, escalation to boss and boss2
    assert all(x.status == "sent" for x in rows)
    delivered = [i.reminder for res in results for i in res.sent if i.reminder is not None]
    assert sorted(delivered) == sorted(x.id for x in rows)  # each exactly once
    refs = [line.strip() for m in mailer.mails for line in m.body.splitlines() if "[R" in line]
    assert sorted(refs) == sorted(f"[R{x.id}]" for x in rows if x.channel == "email")
    assert sum(res.created for res in results) == len(rows)
    assert {x.claimed_by for x in rows} <= {res.worker for res in results}


def test_a_back_filling_claim_is_not_taken_over_by_a_later_sweep(r: R) -> None:
    """Leases run on the wall clock: `kaizen remind --at <past>` racing the live scheduler."""
    july = at("2026-07-01")
    assert create_due(r.k.db, r.settings, july, r.k.calendar) == 1
    wall = FixedClock(at("2026-11-24"))
    with r.k.db.transaction() as s:
        [held], _ = claim(s, july.astimezone(UTC), "back-fill", now=wall.now())
    later = r.sweep(at("2026-11-24"), wall=wall)
    assert held.id not in {i.reminder for i in later.sent}
    assert later.sent  # the rest of what is due in November is sent meanwhile


@pytest.mark.postgres
def test_postgres_claims_skip_rows_another_sweep_holds(r: R) -> None:
    if not r.w.url.startswith("postgresql"):
        pytest.skip("FOR UPDATE SKIP LOCKED is PostgreSQL's; SQLite serialises writers")
    when = at("2026-07-08")
    assert create_due(r.k.db, r.settings, when, r.k.calendar) == 3  # rows only, no delivery
    wall = FixedClock(when)
    other = open_database(r.w.url)

    def b(**kw: Any) -> SweepResult:
        return sweep(other, r.settings, when, r.k.calendar, OutboxOnly(), wall=wall, **kw)

    try:
        with r.k.db.transaction() as s:
            held, _ = claim(s, when.astimezone(UTC), "worker-a", limit=1, now=wall.now())
            # While worker A's transaction holds its row, a whole sweep elsewhere runs.
            got = b(worker_id="worker-b")
            assert held[0].id not in {i.reminder for i in got.sent}
            assert len(got.sent) == 2
        # Committed: A's claim holds for CLAIM_LEASE; B leaves it alone meanwhile.
        wall.advance(seconds=CLAIM_LEASE.total_seconds() - 1)
        assert b().sent == []
        # A died without delivering: after the lease the row is delivered by someone else.
        wall.advance(seconds=2)
        assert [i.reminder for i in b().sent] == [held[0].id]
    finally:
        other.dispose()


class Crash(Exception):
    """The sweep's process dying while the SMTP server hangs."""


@dataclass
class DiesOnSend(Recorder):
    def send(self, mails: Sequence[Mail]) -> list[str | None]:
        raise Crash


def test_a_crashed_sweep_holds_its_rows_for_one_message_not_the_batch(r: R) -> None:
    """Issue 15: the lease was 3 SMTP timeouts × rows (~8 h for 1,000 rows); it is bounded by
    one message now (the claim's CLAIM_LEASE, renewed per e-mail to 3 timeouts)."""
    from workflow.config import SmtpSettings

    smtp = replace(r.settings, smtp=SmtpSettings(host="smtp.invalid", timeout=600))
    wall = FixedClock(at("2026-07-08"))
    with pytest.raises(Crash):
        sweep(r.k.db, smtp, wall.now(), r.k.calendar, DiesOnSend(), wall=wall)
    held = [x for x in r.rows() if x.claimed_until is not None]
    assert len(held) == 3 and all(x.status == "pending" for x in held)
    one_message = max(CLAIM_LEASE, timedelta(seconds=3 * 600))
    limit = wall.now() + one_message
    until = [x.claimed_until for x in held]
    assert all(u is not None and u.replace(tzinfo=UTC) <= limit for u in until), until
    # After that one message's lease, the next sweep delivers them.
    wall.advance(seconds=one_message.total_seconds() + 1)
    later = sweep(r.k.db, r.settings, wall.now(), r.k.calendar, OutboxOnly(), wall=wall)
    assert sorted(i.reminder or 0 for i in later.sent) == sorted(x.id for x in held)
