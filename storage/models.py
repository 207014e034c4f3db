"""The tables that keep councils, officers, companies, cases and their history.

SQLAlchemy 2.x declarative models. Money is integer yen (BigInteger), calendar facts are
`date`, instants are aware UTC (`UTCDateTime`). Stage, program and trigger ids are the English
ids of `states`; labels are never stored. The schema is created and upgraded by Alembic
(`storage/migrations`); the naming convention keeps constraint names stable across SQLite
(batch mode) and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in and out, on SQLite (which keeps naive text) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: Kaizen stores aware UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Council(Base):
    __tablename__ = "councils"
    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    url: Mapped[str] = mapped_column(String(300), default="")


class Officer(Base):
    __tablename__ = "officers"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    council_code: Mapped[str | None] = mapped_column(ForeignKey("councils.code"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(254))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (CheckConstraint("role in ('officer','supervisor','admin')", name="role"),)


class Company(Base):
    __tablename__ = "companies"
    # 法人番号 (13 digits) or, for a sole proprietor, an internal key 'P' + 8 digits.
    key: Mapped[str] = mapped_column(String(13), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    fiscal_year_end: Mapped[int] = mapped_column(Integer)
    industry: Mapped[str] = mapped_column(String(20))
    capital: Mapped[int | None] = mapped_column(BigInteger)
    employees: Mapped[int | None] = mapped_column(Integer)
    legal_form: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (CheckConstraint("fiscal_year_end between 1 and 12", name="fye"),)


class PriorUse(Base):
    """A use of either program, recorded by hand (before Kaizen) or by a case of Kaizen."""

    __tablename__ = "prior_uses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    company_key: Mapped[str] = mapped_column(ForeignKey("companies.key"), index=True)
    program: Mapped[str] = mapped_column(String(8))
    track: Mapped[str | None] = mapped_column(String(16))
    fiscal_year: Mapped[int] = mapped_column(Integer)
    paid: Mapped[int] = mapped_column(BigInteger, default=0)  # council's payments, yen
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(64))


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[str] = mapped_column(String(20), primary_key=True)  # '40-2026-0007'
    program: Mapped[str] = mapped_column(String(8))
    track: Mapped[str] = mapped_column(String(16))
    council_code: Mapped[str] = mapped_column(ForeignKey("councils.code"))
    company_key: Mapped[str] = mapped_column(ForeignKey("companies.key"), index=True)
    officer_id: Mapped[str] = mapped_column(ForeignKey("officers.id"), index=True)
    advisor: Mapped[str] = mapped_column(String(200), default="")
    stage: Mapped[str] = mapped_column(String(24))
    rule_version: Mapped[str | None] = mapped_column(String(8))
    affected: Mapped[str] = mapped_column(String(64), default="")  # comma list of causes
    affected_note: Mapped[str | None] = mapped_column(String(200))  # words of `other` (0004)
    interim_monitoring: Mapped[bool] = mapped_column(Boolean, default=False)
    guarantee_release: Mapped[bool] = mapped_column(Boolean, default=False)
    reuse_reason: Mapped[str | None] = mapped_column(Text)
    reuse_exception: Mapped[bool] = mapped_column(Boolean, default=False)  # R6+: supervisor
    certificate_issued: Mapped[date | None] = mapped_column(Date)
    plan_recorded: Mapped[date | None] = mapped_column(Date)
    lender_receipt: Mapped[date | None] = mapped_column(Date)
    opened_on: Mapped[date] = mapped_column(Date)
    applied_on: Mapped[date | None] = mapped_column(Date)
    accepted_on: Mapped[date | None] = mapped_column(Date)
    agreed_on: Mapped[date | None] = mapped_column(Date)
    decided_on: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)  # 405: lapse date, extendable
    last_event_on: Mapped[date] = mapped_column(Date)
    periods_paid: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    lenders: Mapped[list[Lender]] = relationship(
        back_populates="case", order_by="Lender.id", cascade="all, delete-orphan"
    )
    costs: Mapped[list[Cost]] = relationship(
        back_populates="case", order_by="Cost.category", cascade="all, delete-orphan"
    )
    # Optimistic locking: an UPDATE that finds another version raises StaleDataError.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        Index("ix_cases_council_stage", "council_code", "stage"),
        Index("ix_cases_opened_on", "opened_on"),  # reports filter by 年度 (migration 0003)
    )


class Lender(Base):
    __tablename__ = "lenders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    consented_on: Mapped[date | None] = mapped_column(Date)
    case: Mapped[Case] = relationship(back_populates="lenders")
    __table_args__ = (UniqueConstraint("case_id", "name"),)


class Cost(Base):
    """Estimate (filed with the application) and fee actually paid, per cost category."""

    __tablename__ = "costs"
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    estimate: Mapped[int | None] = mapped_column(BigInteger)
    actual: Mapped[int | None] = mapped_column(BigInteger)
    paid_on: Mapped[date | None] = mapped_column(Date)
    case: Mapped[Case] = relationship(back_populates="costs")
    __table_args__ = (
        CheckConstraint("estimate is null or estimate >= 0", name="estimate"),
        CheckConstraint("actual is null or actual >= 0", name="actual"),
    )


class Payment(Base):
    """The council's 2/3 share, as decided: plan halves and monitoring periods."""

    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # plan_first, plan_second, monitoring
    period: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    paid_on: Mapped[date] = mapped_column(Date)
    # A reverted payment is undone by a row of the same kind and a negative amount (0005).
    reversal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    __table_args__ = (
        CheckConstraint(
            "(reversal and amount <= 0) or (not reversal and amount >= 0)", name="amount"
        ),
        CheckConstraint("kind in ('plan_first','plan_second','monitoring')", name="kind"),
    )


class MonitoringReport(Base):
    __tablename__ = "monitoring_reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    period: Mapped[int] = mapped_column(Integer)
    reported_on: Mapped[date] = mapped_column(Date)
    __table_args__ = (UniqueConstraint("case_id", "period"),)


class Milestone(Base):
    __tablename__ = "milestones"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    key: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(24))
    due: Mapped[date] = mapped_column(Date)
    done_on: Mapped[date | None] = mapped_column(Date)
    __table_args__ = (
        UniqueConstraint("case_id", "key"),
        # Overdue and reminder sweeps read only open milestones: a partial index keeps them
        # off the done ones (a plain (due) index made SQLite's overdue count slower).
        Index(
            "ix_milestones_open_due",
            "due",
            "case_id",
            sqlite_where=text("done_on is null"),
            postgresql_where=text("done_on is null"),
        ),
    )


class Event(Base):
    """Append-only: one row per transition or recorded fact (never updated or deleted)."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, 3… per case: gaps are detectable
    kind: Mapped[str] = mapped_column(String(12))  # transition, fact, import, correction
    trigger: Mapped[str] = mapped_column(String(32))
    from_stage: Mapped[str | None] = mapped_column(String(24))
    to_stage: Mapped[str] = mapped_column(String(24))
    effective_on: Mapped[date] = mapped_column(Date)  # JST calendar date it took effect
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)  # JSON of the fact recorded
    __table_args__ = (
        UniqueConstraint("case_id", "seq"),
        CheckConstraint("kind in ('transition','fact','import','correction')", name="kind"),
    )


class CompanyChange(Base):
    """Append-only: one changed company field (old → new, who, when, why), migration 0005."""

    __tablename__ = "company_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    company_key: Mapped[str] = mapped_column(ForeignKey("companies.key"), index=True)
    field: Mapped[str] = mapped_column(String(32))
    old: Mapped[str | None] = mapped_column(Text)
    new: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Reminder(Base):
    """One reminder per (milestone, kind, recipient, due), delivered exactly once (the outbox)."""

    __tablename__ = "reminders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    milestone_id: Mapped[int] = mapped_column(ForeignKey("milestones.id"), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # upcoming-7, upcoming-1, overdue, escalation
    recipient: Mapped[str] = mapped_column(String(64))  # officer id (never an address)
    due: Mapped[date] = mapped_column(Date)  # the milestone's due date it reminds of
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # pending, sent, failed (attempts exhausted), cancelled (milestone done, moved or closed)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    channel: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        # The due date is part of the key (migration 0002): a milestone that moves is
        # reminded again for its new date, and the rows for the old one stay as history.
        UniqueConstraint("milestone_id", "kind", "recipient", "due"),
        # Claims read only undelivered rows: a partial index on them stays small as the
        # queue drains (PostgreSQL SKIP LOCKED slowed down on a plain index).
        Index(
            "ix_reminders_pending",
            "next_attempt_at",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )


class Meta(Base):
    """Key/value facts about the database itself (e.g. the demo's seed)."""

    __tablename__ = "kaizen_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
