"""The use cases: open, record facts, advance, show, list — each one transaction.

`Kaizen` holds the injected boundaries (database, settings, clock, calendar) and exposes one
method per use case. Every method names its actor, checks access, validates its input, and
either commits all its rows (stage, event, milestones, payments) or none: a `KaizenError`
raised anywhere inside rolls the transaction back (design.md §3, §6).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from states.calendar import BusinessCalendar, fiscal_year
from states.calendar import fiscal_year as fiscal_year_of  # a parameter shadows the name
from states.eligibility import (
    INDUSTRIES,
    CompanyFacts,
    canonical_legal_form,
)
from states.ids import InvalidCorporateNumber, validate_corporate_number
from states.money import MoneyError, category_subsidy, check_yen, split_plan_share
from states.programs import INITIAL_STAGE, Definition, UnknownProgramError, catalog
from states.rules import RuleVersion
from states.timeline import monitoring_period_count
from storage.db import Database, DatabaseUnavailable, describe
from storage.models import (
    Case,
    Company,
    Cost,
    Council,
    Event,
    Lender,
    Milestone,
    MonitoringReport,
    Officer,
    Payment,
    PriorUse,
    Reminder,
)
from workflow import access, milestones
from workflow.clock import Clock, today_jst
from workflow.config import Settings
from workflow.errors import (
    Conflict,
    GuardFailed,
    InvalidInput,
    KaizenError,
    NotAllowed,
    NotFound,
    PermissionDenied,
    StorageError,
)
from workflow.guards import Facts, LenderFact, failures
from workflow.machines import Token, TriggerNotAvailable, allowed_triggers, fire
from workflow.reference import calendar_for, find_version, pick_version
from workflow.reuse import Use, decide
from workflow.views import (
    Actor,
    CaseRow,
    CaseView,
    EventView,
    LenderView,
    MilestoneView,
    SubsidyLine,
    SubsidyView,
)

T = TypeVar("T")

CASE_ID = re.compile(r"^\d{2}-\d{4}-\d{4}$")
AFFECTED_CAUSES = ("covid", "ukraine", "oil")
MAX_TEXT = 2000
MAX_NAME = 200


def _text(
    value: str | None, what: str, *, required: bool = False, limit: int = MAX_TEXT
) -> str | None:
    if value is None:
        if required:
            raise InvalidInput(f"{what}を入力してください")
        return None
    v = value.strip()
    if required and not v:
        raise InvalidInput(f"{what}が空です")
    if len(v) > limit:
        raise InvalidInput(f"{what}が長すぎます ({len(v)}文字; 上限 {limit}文字)")
    if any(ord(ch) < 32 and ch not in "\t" for ch in v):
        raise InvalidInput(f"{what}に制御文字が含まれています")
    return v


def _yen(amount: int, what: str) -> int:
    try:
        return check_yen(amount, what)
    except MoneyError as e:
        raise InvalidInput(str(e)) from None


@dataclass(frozen=True)
class Moved:
    case: str
    from_stage: str
    to_stage: str
    version: int


@dataclass
class _Loaded:
    case: Case
    definition: Definition
    rules: RuleVersion | None


class Kaizen:
    """The engine: one instance per process, shared by every command and scheduler job."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        calendar: BusinessCalendar | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.calendar = calendar or calendar_for(settings)

    # ------------------------------------------------------------ plumbing

    @contextmanager
    def _write(self) -> Iterator[Session]:
        try:
            with self.db.transaction() as s:
                yield s
        except KaizenError:
            raise
        except StaleDataError:
            raise Conflict(
                "他の担当者が同時にこの案件を変更しました: 何も保存していません。"
                "'kaizen case show' で確認してから再実行してください"
            ) from None
        except IntegrityError as e:
            raise Conflict(
                f"同じデータが既に登録されているか、同時に登録されました: {describe(e)}"
            ) from None
        except DBAPIError as e:
            raise StorageError(describe(e, self.db.url)) from None
        except DatabaseUnavailable as e:
            raise StorageError(str(e)) from None

    @contextmanager
    def _read(self) -> Iterator[Session]:
        try:
            with self.db.reading() as s:
                yield s
        except KaizenError:
            raise
        except DBAPIError as e:
            raise StorageError(describe(e, self.db.url)) from None

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return today_jst(self.clock)

    def _actor(self, s: Session, actor_id: str) -> Actor:
        o = s.get(Officer, actor_id)
        if o is None or not o.active:
            raise PermissionDenied(
                f"'{actor_id}' は登録された担当者ではありません "
                "(管理者に 'kaizen officer add' を依頼するか --as / KAIZEN_USER を確認してください)"
            )
        return Actor(o.id, o.name, o.role, o.council_code)

    def _date(self, on: date | None, *, not_before: date | None = None, what: str = "日付") -> date:
        today = self.today()
        d = on or today
        if d > today:
            raise InvalidInput(f"{what} {d} は未来の日付です (今日は {today})")
        if not_before is not None and d < not_before:
            raise InvalidInput(f"{what} {d} は案件の最後の記録日 {not_before} より前です")
        return d

    def _rules(self, version_id: str | None) -> RuleVersion | None:
        return find_version(self.settings, version_id) if version_id else None

    def _load(self, s: Session, actor: Actor, case_id: str) -> _Loaded:
        """The case, if the actor may see it. No row lock: the version column decides at
        UPDATE time (optimistic locking), so a read never blocks another officer."""
        cid = case_id.strip()
        if not CASE_ID.match(cid):
            raise InvalidInput(f"案件番号は '40-2026-0007' の形式です: '{case_id}'")
        q = select(Case).where(Case.id == cid)
        case = s.scalars(q).one_or_none()
        if case is None or not access.can_see_council(actor, case.council_code):
            # Another council's case is reported as missing: its existence is not disclosed.
            raise NotFound(f"案件 {cid} が見つかりません")
        return _Loaded(
            case, catalog().definition(case.program, case.track), self._rules(case.rule_version)
        )

    def _event(
        self,
        s: Session,
        case: Case,
        *,
        kind: str,
        trigger: str,
        frm: str | None,
        to: str,
        on: date,
        actor: Actor,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Event:
        seq = (s.scalar(select(func.max(Event.seq)).where(Event.case_id == case.id)) or 0) + 1
        ev = Event(
            case_id=case.id,
            seq=seq,
            kind=kind,
            trigger=trigger,
            from_stage=frm,
            to_stage=to,
            effective_on=on,
            recorded_at=self.now(),
            actor=actor.id,
            reason=reason,
            detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
        )
        s.add(ev)
        return ev

    def rules_of(self, case: Case) -> RuleVersion | None:
        """The rule version a case pinned at `apply` (None before)."""
        return self._rules(case.rule_version)

    def touch(self, case: Case) -> None:
        self._touch(case)

    def _touch(self, case: Case) -> None:
        """Force an UPDATE of the case row, so its version moves even when the clock does not:
        every change of a case, fact or transition, then conflicts with a concurrent one."""
        case.updated_at = self.now()
        flag_modified(case, "updated_at")

    # ------------------------------------------------------------ councils and officers

    def list_councils(self) -> list[dict[str, str]]:
        with self._read() as s:
            return [
                {
                    "code": c.code,
                    "name": c.name,
                    "address": c.address,
                    "phone": c.phone,
                    "url": c.url,
                }
                for c in s.scalars(select(Council).order_by(Council.code))
            ]

    def upsert_councils(self, actor_id: str, rows: Sequence[dict[str, str]]) -> int:
        with self._write() as s:
            actor = self._actor(s, actor_id)
            access.require_admin(actor, "協議会の登録")
            return _upsert_councils(s, rows)

    def add_officer(
        self,
        actor_id: str,
        officer_id: str,
        *,
        name: str,
        council: str | None,
        role: str,
        email: str | None = None,
    ) -> Actor:
        oid = _text(officer_id, "担当者ID", required=True, limit=64) or ""
        if not re.fullmatch(r"[A-Za-z0-9._@-]+", oid):
            raise InvalidInput(f"担当者IDは英数字と . _ @ - で入力してください: '{officer_id}'")
        nm = _text(name, "氏名", required=True, limit=MAX_NAME) or ""
        if role not in access.ROLES:
            raise InvalidInput(
                f"役割 (--role) は {', '.join(access.ROLES)} のいずれかです: '{role}'"
            )
        if email is not None and (
            len(email) > 254 or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email)
        ):
            raise InvalidInput(f"メールアドレスの形式が不正です: '{email}'")
        with self._write() as s:
            actor = self._actor(s, actor_id)
            access.require_admin(actor, "担当者の登録")
            if council is None and role != "admin":
                raise InvalidInput("担当者と統括責任者には所属協議会 (--council) が必要です")
            if council is not None and s.get(Council, council) is None:
                raise NotFound(f"協議会 {council} が見つかりません ('kaizen council list')")
            if s.get(Officer, oid) is not None:
                raise Conflict(f"担当者 {oid} は既に登録されています")
            s.add(
                Officer(
                    id=oid,
                    name=nm,
                    council_code=council,
                    role=role,
                    email=email,
                    active=True,
                    created_at=self.now(),
                )
            )
            return Actor(oid, nm, role, council)

    def whoami(self, actor_id: str) -> Actor:
        with self._read() as s:
            return self._actor(s, actor_id)

    # ------------------------------------------------------------ companies

    def add_company(
        self,
        actor_id: str,
        *,
        number: str | None,
        name: str,
        fiscal_year_end: int,
        industry: str = "other",
        capital: int | None = None,
        employees: int | None = None,
        legal_form: str = "株式会社",
    ) -> str:
        nm = _text(name, "会社名", required=True, limit=MAX_NAME) or ""
        if isinstance(fiscal_year_end, bool) or not 1 <= fiscal_year_end <= 12:
            raise InvalidInput(f"決算月は1から12です: {fiscal_year_end}")
        if industry not in INDUSTRIES:
            raise InvalidInput(
                f"業種 (--industry) は {', '.join(INDUSTRIES)} のいずれかです: '{industry}'"
            )
        if capital is not None:
            _yen(capital, "資本金")
        if employees is not None and (
            isinstance(employees, bool) or not 0 <= employees <= 10_000_000
        ):
            raise InvalidInput(f"従業員数は0から10,000,000までの整数です: {employees}")
        if len(legal_form) > 40:
            raise InvalidInput(f"法人形態が長すぎます ({len(legal_form)}文字; 上限 40文字)")
        try:
            form = canonical_legal_form(legal_form)
        except ValueError as e:
            raise InvalidInput(str(e)) from None
        sole = form == "個人事業主"
        if number is None and not sole:
            raise InvalidInput(
                "法人番号 (--number) を入力してください (個人事業主は --legal-form 個人事業主)"
            )
        key = None
        if number is not None:
            try:
                key = validate_corporate_number(number)
            except InvalidCorporateNumber as e:
                raise InvalidInput(str(e)) from None
        with self._write() as s:
            self._actor(s, actor_id)
            if key is None:
                n = s.scalar(
                    select(func.count()).select_from(Company).where(Company.key.like("P%"))
                )
                key = f"P{(n or 0) + 1:08d}"
            if s.get(Company, key) is not None:
                raise Conflict(f"法人番号 {key} の会社は既に登録されています")
            s.add(
                Company(
                    key=key,
                    name=nm,
                    fiscal_year_end=fiscal_year_end,
                    industry=industry,
                    capital=capital,
                    employees=employees,
                    legal_form=form,
                    created_at=self.now(),
                )
            )
            return key

    def _company(self, s: Session, key: str) -> Company:
        k = key.strip()
        if not k.startswith("P"):
            try:
                k = validate_corporate_number(k)
            except InvalidCorporateNumber as e:
                raise InvalidInput(str(e)) from None
        c = s.get(Company, k)
        if c is None:
            raise NotFound(f"会社 {k} が見つかりません ('kaizen company add' で登録してください)")
        return c

    def record_prior_use(
        self,
        actor_id: str,
        company: str,
        *,
        program: str,
        fiscal_year: int,
        track: str | None = None,
        paid: int = 0,
        note: str = "",
    ) -> int:
        try:
            if track is not None:
                catalog().definition(program, track)
            elif program not in catalog().programs:
                catalog().definition(program, "normal")
        except UnknownProgramError as e:
            raise InvalidInput(str(e)) from None
        this_fy = fiscal_year_of(self.today())
        if isinstance(fiscal_year, bool) or not 2000 <= fiscal_year <= this_fy:
            raise InvalidInput(f"年度は2000から{this_fy}までです: {fiscal_year}")
        _yen(paid, "支払額")
        nt = _text(note, "備考") or ""
        with self._write() as s:
            actor = self._actor(s, actor_id)
            c = self._company(s, company)
            use = PriorUse(
                company_key=c.key,
                program=program,
                track=track,
                fiscal_year=fiscal_year,
                paid=paid,
                note=nt,
                recorded_at=self.now(),
                recorded_by=actor.id,
            )
            s.add(use)
            s.flush()
            return use.id

    def prior_uses(
        self, actor_id: str, company: str, *, exclude_case: str | None = None
    ) -> list[Use]:
        with self._read() as s:
            self._actor(s, actor_id)
            c = self._company(s, company)
            return _uses(s, c.key, exclude_case)

    # ------------------------------------------------------------ cases

    def open_case(
        self,
        actor_id: str,
        *,
        company: str,
        program: str,
        track: str,
        council: str,
        advisor: str = "",
        affected: Sequence[str] = (),
        interim_monitoring: bool = False,
        guarantee_release: bool = False,
        on: date | None = None,
    ) -> CaseView:
        try:
            d = catalog().definition(program, track)
        except UnknownProgramError as e:
            raise InvalidInput(str(e)) from None
        adv = _text(advisor, "認定支援機関名", limit=MAX_NAME) or ""
        causes = sorted(set(affected))
        bad = [c for c in causes if c not in AFFECTED_CAUSES]
        if bad:
            raise InvalidInput(
                f"--affected は {', '.join(AFFECTED_CAUSES)} から選んでください: {', '.join(bad)}"
            )
        if interim_monitoring and program != "early":
            raise InvalidInput("--interim-monitoring は早期経営改善 (early) の案件だけです")
        if guarantee_release and d.key != "405/normal":
            raise InvalidInput(
                "--guarantee-release は 405 通常枠の案件だけです (早期は guarantee 枠)"
            )
        since = catalog().track_since.get(track)
        opened = self._date(on, what="相談日")
        if since and opened < since:
            raise InvalidInput(f"{catalog().track_labels[track]}は {since} からです")
        for attempt in range(3):
            try:
                with self._write() as s:
                    actor = self._actor(s, actor_id)
                    if s.get(Council, council) is None:
                        raise NotFound(f"協議会 {council} が見つかりません ('kaizen council list')")
                    access.require_council(actor, council)
                    comp = self._company(s, company)
                    prefix = f"{council}-{fiscal_year(opened)}-"
                    if self.db.dialect == "postgresql":
                        # Numbers are allocated under a transaction-scoped lock per council and
                        # year, so simultaneous openings queue instead of colliding.
                        s.execute(
                            text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                            {"k": "kaizen-case-" + prefix},
                        )
                    last = s.scalar(select(func.max(Case.id)).where(Case.id.like(prefix + "%")))
                    seq = int(last.rsplit("-", 1)[1]) + 1 if last else 1
                    case = Case(
                        id=f"{prefix}{seq:04d}",
                        program=program,
                        track=track,
                        council_code=council,
                        company_key=comp.key,
                        officer_id=actor.id,
                        advisor=adv,
                        stage=INITIAL_STAGE,
                        affected=",".join(causes),
                        interim_monitoring=interim_monitoring,
                        guarantee_release=guarantee_release,
                        opened_on=opened,
                        last_event_on=opened,
                        periods_paid=0,
                        updated_at=self.now(),
                    )
                    s.add(case)
                    s.flush()
                    self._event(
                        s,
                        case,
                        kind="transition",
                        trigger="open",
                        frm=None,
                        to=INITIAL_STAGE,
                        on=opened,
                        actor=actor,
                    )
                    self._replan(s, case, comp, pick_version(self.settings, opened))
                    case_id = case.id
                break
            except Conflict:
                if attempt == 2:
                    raise
        return self.show(actor_id, case_id)

    def _case_options(self, case: Case) -> set[str]:
        opts = set()
        if case.guarantee_release:
            opts.add("guarantee_release")
        if case.interim_monitoring:
            opts.add("interim_monitoring")
        return opts

    def _category(self, ld: _Loaded, category: str) -> str:
        cats = ld.definition.categories_for(self._case_options(ld.case))
        ids = [c.id for c in cats]
        if category not in ids:
            raise InvalidInput(
                f"費用区分 '{category}' はこの案件 ({ld.definition.key}) にありません: {', '.join(ids)}"
            )
        return category

    def _fact(
        self,
        actor_id: str,
        case_id: str,
        fact: str,
        body: Callable[[Session, _Loaded, Actor], dict[str, Any]],
        *,
        on: date | None = None,
        stages: Sequence[str] | None = None,
    ) -> CaseView:
        with self._write() as s:
            actor = self._actor(s, actor_id)
            ld = self._load(s, actor, case_id)
            case = ld.case
            if stages is not None and case.stage not in stages:
                labels = "・".join(catalog().stage_label(x) for x in stages)
                raise NotAllowed(
                    f"{fact}は {labels} の段階でのみ登録できます (現在: {catalog().stage_label(case.stage)})"
                )
            detail = body(s, ld, actor)
            if on is not None and on > case.last_event_on:
                # A transition may not be dated before the facts it relies on.
                case.last_event_on = on
            self._touch(case)
            self._event(
                s,
                case,
                kind="fact",
                trigger=fact,
                frm=case.stage,
                to=case.stage,
                on=on or self.today(),
                actor=actor,
                detail=detail,
            )
            self._replan(s, case, s.get(Company, case.company_key), ld.rules)
        return self.show(actor_id, case.id)

    def record_estimate(self, actor_id: str, case_id: str, category: str, yen: int) -> CaseView:
        amount = _yen(yen, "見積額")

        def body(s: Session, ld: _Loaded, actor: Actor) -> dict[str, Any]:
            cat = self._category(ld, category)
            cost = s.get(Cost, (ld.case.id, cat)) or Cost(case_id=ld.case.id, category=cat)
            cost.estimate = amount
            s.add(cost)
            return {"category": cat, "estimate": amount}

        # Estimates are filed with the application and fixed by `apply`: the guards checked
        # there (e.g. 405 normal's 伴走 ≤ half rule) cannot be bypassed by a later change.
        return self._fact(actor_id, case_id, "estimate", body, stages=("consultation",))

    def record_fee(
        self, actor_id: str, case_id: str, category: str, yen: int, on: date | None = None
    ) -> CaseView:
        amount = _yen(yen, "支払額")
        paid_on = self._date(on, what="支払日")

        def body(s: Session, ld: _Loaded, actor: Actor) -> dict[str, Any]:
            cat = self._category(ld, category)
            case = ld.case
            if case.accepted_on is None:
                raise InvalidInput("受付 (accept) 前の費用は補助の対象外です (事前着手不可)")
            if paid_on < case.accepted_on:
                raise InvalidInput(
                    f"支払日 {paid_on} は受付日 {case.accepted_on} より前です: 受付前の作業は補助の対象外です (事前着手不可)"
                )
            phase = ld.definition.category(cat).phase
            if phase == "plan" and case.stage not in (
                "due_diligence",
                "planning",
                "bank_negotiation",
                "payment_claim",
            ):
                raise NotAllowed(
                    f"計画策定費用は支払決定の前に登録してください (現在: {catalog().stage_label(case.stage)})"
                )
            if phase == "monitoring" and case.stage not in ("monitoring", "monitoring_claim"):
                raise NotAllowed(
                    f"伴走支援費用はモニタリングの段階で登録してください (現在: {catalog().stage_label(case.stage)})"
                )
            cost = s.get(Cost, (case.id, cat)) or Cost(case_id=case.id, category=cat)
            if cost.estimate is None:
                raise InvalidInput(f"費用区分 {cat} の見積額が未登録です")
            if phase == "monitoring" and cost.actual is not None and amount < cost.actual:
                # Monitoring fees are cumulative and paid period by period: lowering them
                # after a payment would leave the council having paid more than 2/3.
                raise InvalidInput(
                    f"伴走支援費用は累計額で登録します: 登録済みの {cost.actual:,}円より少なくできません"
                )
            cost.actual = amount
            cost.paid_on = paid_on
            s.add(cost)
            return {"category": cat, "actual": amount, "paid_on": paid_on}

        return self._fact(actor_id, case_id, "fee", body, on=paid_on)

    def add_lender(self, actor_id: str, case_id: str, name: str) -> CaseView:
        nm = _text(name, "金融機関名", required=True, limit=MAX_NAME) or ""

        def body(s: Session, ld: _Loaded, actor: Actor) -> dict[str, Any]:
            if any(x.name == nm for x in ld.case.lenders):
                raise Conflict(f"金融機関 {nm} は既に登録されています")
            ld.case.lenders.append(Lender(name=nm))
            return {"lender": nm}

        return self._fact(
            actor_id,
            case_id,
            "lender",
            body,
            stages=("consultation", "application", "due_diligence", "planning", "bank_negotiation"),
        )

    def record_consent(
        self, actor_id: str, case_id: str, lender: str, on: date | None = None
    ) -> CaseView:
        nm = _text(lender, "金融機関名", required=True, limit=MAX_NAME) or ""
        when = self._date(on, what="同意日")

        def body(s: Session, ld: _Loaded, actor: Actor) -> dict[str, Any]:
            match = [x for x in ld.case.lenders if x.name == nm]
            if not match:
                names = "、".join(x.name for x in ld.case.lenders) or "なし"
                raise NotFound(f"金融機関 {nm} はこの案件に登録されていません (登録済: {names})")
            if ld.case.applied_on and when < ld.case.applied_on:
                raise InvalidInput(f"同意日 {when} は利用申請日 {ld.case.applied_on} より前です")
            match[0].consented_on = when
            doc = "受領書" if ld.case.program == "early" else "同意書"
            return {"lender": nm, "document": doc, "on": when}

        return self._fact(
            actor_id, case_id, "consent", body, on=when, stages=("planning", "bank_negotiation")
        )

    def record_certificate(self, actor_id: str, case_id: str, issued: date) -> CaseView:
        when = self._date(issued, what="証明書の発行日")

        def body(s: Session, ld: _Loaded, actor: Actor) -> dict[str, Any]:
            ld.case.certificate_issued = when
            return {"issued": when}

        return self._fact(
            actor_id, case_id, "certificate", body, stages=("consultation", "application")
        )

    def record_plan(self, actor_id: str, case_id: str, on: date | None = None) -> CaseView:
        when = self._date(on, what="計画の登録日")

        def body(s: Session, ld: _Loaded, actor: Actor) -> dict[str, Any]:
            if ld.case.accepted_on and when < ld.case.accepted_on:
                raise InvalidInput(f"計画の日付 {when} は受付日 {ld.case.accepted_on} より前です")
            ld.case.plan_recorded = when
            return {"plan": when}

        return self._fact(actor_id, case_id, "plan", body, on=when, stages=("planning",))

    def record_report(self, actor_id: str, case_id: str, on: date | None = None) -> CaseView:
        when = self._date(on, what="報告日")

        def body(s: Session, ld: _Loaded, actor: Actor) -> dict[str, Any]:
            period = ld.case.periods_paid + 1
            if ld.case.decided_on and when < ld.case.decided_on:
                raise InvalidInput(f"報告日 {when} は支払決定日 {ld.case.decided_on} より前です")
            exists = s.scalar(
                select(MonitoringReport.id).where(
                    MonitoringReport.case_id == ld.case.id, MonitoringReport.period == period
                )
            )
            if exists:
                raise Conflict(f"第{period}期のモニタリング報告は既に登録されています")
            s.add(MonitoringReport(case_id=ld.case.id, period=period, reported_on=when))
            return {"period": period, "reported_on": when}

        return self._fact(actor_id, case_id, "report", body, on=when, stages=("monitoring",))

    def extend_validity(self, actor_id: str, case_id: str, until: date, reason: str) -> CaseView:
        why = _text(reason, "延長の理由", required=True)

        def body(s: Session, ld: _Loaded, actor: Actor) -> dict[str, Any]:
            access.require_supervisor(actor, ld.case.council_code, "利用申請の有効期限の延長")
            if ld.case.program != "405" or ld.case.accepted_on is None:
                raise NotAllowed("有効期限の延長は受付済みの 405 案件だけです")
            if until <= (ld.case.valid_until or ld.case.accepted_on):
                raise InvalidInput(f"延長後の期限 {until} は現在の期限より後にしてください")
            ld.case.valid_until = until
            return {"valid_until": until, "reason": why}

        return self._fact(actor_id, case_id, "extend", body)

    # ------------------------------------------------------------ advance

    def advance(
        self,
        actor_id: str,
        case_id: str,
        trigger: str,
        *,
        on: date | None = None,
        reason: str | None = None,
    ) -> CaseView:
        """Fire a trigger (one transaction), then read the case back for the caller."""
        moved = self.move(actor_id, case_id, trigger, on=on, reason=reason)
        return self.show(actor_id, moved.case)

    def move(
        self,
        actor_id: str,
        case_id: str,
        trigger: str,
        *,
        on: date | None = None,
        reason: str | None = None,
    ) -> Moved:
        """Fire a trigger: permission, every guard, then stage, event, payments and milestones
        written in one transaction. Returns only what moved (scripts and sweeps use this)."""
        why = _text(reason, "理由")
        with self._write() as s:
            actor = self._actor(s, actor_id)
            ld = self._load(s, actor, case_id)
            case = ld.case
            d = ld.definition
            if trigger not in d.triggers:
                raise InvalidInput(f"不明なトリガー '{trigger}' ({d.key}): {', '.join(d.triggers)}")
            when = self._date(on, not_before=case.last_event_on, what="日付 (--on)")
            company = s.get(Company, case.company_key)
            assert company is not None
            frm, rules = self.apply_trigger(s, case, company, actor, trigger, when, why)
            self._event(
                s,
                case,
                kind="transition",
                trigger=trigger,
                frm=frm,
                to=case.stage,
                on=when,
                actor=actor,
                reason=why,
            )
            s.flush()
            self._replan(s, case, company, rules)
        return Moved(case.id, frm, case.stage, case.version)

    def apply_trigger(
        self,
        s: Session,
        case: Case,
        company: Company,
        actor: Actor,
        trigger: str,
        when: date,
        why: str | None,
    ) -> tuple[str, RuleVersion]:
        """The heart of a transition, inside the caller's transaction: the trigger must exist
        from the stage, every guard must hold (all failures reported), then the stage, the
        pinned rule version, dates and payments change and the version moves. The caller
        writes the event and replans (`move` does; the importer batches them).
        Returns the stage it left and the rule version in force."""
        d = catalog().definition(case.program, case.track)
        available = allowed_triggers(case.program, case.track, case.stage)
        if trigger not in available:
            raise NotAllowed(
                f"{catalog().stage_label(case.stage)} ({case.stage}) から {trigger} はできません: "
                f"できるのは {', '.join(available) or 'なし (終了済み)'}"
            )
        rules = self._rules(case.rule_version)
        if trigger == "apply" or (
            trigger == "accept" and self.settings.version_key == "acceptance"
        ):
            rules = pick_version(self.settings, when)
        if rules is None:
            rules = pick_version(self.settings, case.applied_on or when)
        facts = self._facts(
            s,
            case,
            d,
            company,
            rules,
            actor,
            when,
            why,
            trigger,
            frozenset(d.transition(trigger).guards),
        )
        token = Token(case.stage, check=lambda trig: failures(d.transition(trig).guards, facts))
        try:
            ok = fire(case.program, case.track, token, trigger)
        except TriggerNotAvailable:
            raise NotAllowed(f"{case.stage} から {trigger} はできません") from None
        if not ok:
            raise GuardFailed(trigger, token.failures)
        frm = case.stage
        case.stage = token.state
        case.last_event_on = when
        self._effects(s, case, d, rules, trigger, when, facts)
        self._touch(case)
        return frm, rules

    def replan(self, s: Session, case: Case, company: Company) -> None:
        """Rewrite a case's milestones inside the caller's transaction (importer, demo)."""
        self._replan(s, case, company, self._rules(case.rule_version))

    def _facts(
        self,
        s: Session,
        case: Case,
        d: Definition,
        company: Company,
        rules: RuleVersion,
        actor: Actor,
        on: date,
        reason: str | None,
        trigger: str,
        guards: frozenset[str] | None = None,
    ) -> Facts:
        """A snapshot of what the guards read; only what `guards` need is loaded (all if None)."""

        def need(*ids: str) -> bool:
            return guards is None or not guards.isdisjoint(ids)

        costs = (
            {c.category: c for c in case.costs}
            if need("estimates_recorded", "monitoring_estimate_half", "fees_recorded")
            else {}
        )
        lenders = (
            tuple(LenderFact(x.name, x.consented_on) for x in case.lenders)
            if need("lenders_named", "all_lenders_consented", "lender_receipt")
            else ()
        )
        reports = (
            frozenset(
                s.scalars(
                    select(MonitoringReport.period).where(MonitoringReport.case_id == case.id)
                )
            )
            if need("monitoring_report")
            else frozenset()
        )
        reuse = None
        if trigger in ("apply", "accept") and need("reuse_allowed", "reuse_exception_approved"):
            uses = _uses(s, company.key, case.id)
            reuse = decide(
                rules,
                case.program,
                uses,
                frozenset(filter(None, case.affected.split(","))),
                reason if trigger == "apply" else case.reuse_reason,
            )
        return Facts(
            program=case.program,
            track=case.track,
            stage=case.stage,
            on=on,
            reason=reason,
            actor_role=actor.role,
            company=CompanyFacts(
                company.industry, company.capital, company.employees, company.legal_form
            ),
            advisor=case.advisor,
            lenders=lenders,
            certificate_issued=case.certificate_issued,
            certificate_max_age_months=rules.deadline("certificate_max_age_months"),
            categories=d.categories_for(self._case_options(case)),
            estimates={k: c.estimate for k, c in costs.items() if c.estimate is not None},
            actuals={k: c.actual for k, c in costs.items() if c.actual is not None},
            plan_recorded=case.plan_recorded,
            reports=reports,
            periods_paid=case.periods_paid,
            periods_total=monitoring_period_count(case.program, rules, case.interim_monitoring),
            reuse=reuse,
        )

    def _effects(
        self,
        s: Session,
        case: Case,
        d: Definition,
        rules: RuleVersion,
        trigger: str,
        on: date,
        facts: Facts,
    ) -> None:
        """What a transition changes beyond the stage: dates, the pinned rule, payments."""
        if trigger == "apply":
            case.applied_on = on
            case.rule_version = rules.id
            assert facts.reuse is not None
            case.reuse_exception = facts.reuse.exception
            if facts.reuse.exception:
                case.reuse_reason = facts.reason
        elif trigger == "accept":
            case.accepted_on = on
            case.rule_version = rules.id  # same as at apply unless keyed on acceptance
            if case.program == "405":
                from states.timeline import date_plus_months

                case.valid_until = date_plus_months(
                    on, 12 * rules.deadline("application_valid_years_405"), self.calendar
                )
        elif trigger == "agree":
            case.agreed_on = on
        elif trigger == "decide_payment":
            case.decided_on = on
            plan_share = self._plan_share(case, d, rules)
            first = (
                split_plan_share(plan_share)[0]
                if rules.value("money.split_payment")
                else plan_share
            )
            self._pay(s, case, "plan_first", None, first, on)
        elif trigger in ("pay_monitoring", "complete"):
            period = case.periods_paid + 1
            if period == 1 and rules.value("money.split_payment"):
                plan_share = self._plan_share(case, d, rules)
                self._pay(
                    s, case, "plan_second", None, plan_share - split_plan_share(plan_share)[0], on
                )
            mon = self._monitoring_share(case, d, rules)
            paid_mon = sum(p.amount for p in self._payments(s, case) if p.kind == "monitoring")
            self._pay(s, case, "monitoring", period, max(mon - paid_mon, 0), on)
            case.periods_paid = period

    def _payments(self, s: Session, case: Case) -> list[Payment]:
        return list(
            s.scalars(select(Payment).where(Payment.case_id == case.id).order_by(Payment.id))
        )

    def _pay(
        self, s: Session, case: Case, kind: str, period: int | None, amount: int, on: date
    ) -> None:
        if case.reuse_exception:
            # R6+ 405 re-use: the council's payments to the firm over all its uses are capped.
            rules = self._rules(case.rule_version)
            cap = rules.reuse(case.program).payment_cap_total if rules else None
            if cap is not None:
                paid = sum(u.paid for u in _uses(s, case.company_key, case.id))
                paid += sum(p.amount for p in self._payments(s, case))
                amount = max(min(amount, cap - paid), 0)
        s.add(Payment(case_id=case.id, kind=kind, period=period, amount=amount, paid_on=on))
        s.flush()

    def _lines(self, case: Case, d: Definition, rules: RuleVersion) -> list[SubsidyLine]:
        costs = {c.category: c for c in case.costs}
        out = []
        for c in d.categories_for(self._case_options(case)):
            cost = costs.get(c.id)
            est = cost.estimate if cost else None
            act = cost.actual if cost else None
            cap = rules.cap(case.program, case.track, c.id)
            sub = category_subsidy(act, est, cap, rules.rate) if est is not None else 0
            out.append(SubsidyLine(c.id, c.label, c.phase, est, act, cap, sub))
        return out

    def _plan_share(self, case: Case, d: Definition, rules: RuleVersion) -> int:
        return sum(x.subsidy for x in self._lines(case, d, rules) if x.phase == "plan")

    def _monitoring_share(self, case: Case, d: Definition, rules: RuleVersion) -> int:
        return sum(x.subsidy for x in self._lines(case, d, rules) if x.phase == "monitoring")

    # ------------------------------------------------------------ milestones

    def _replan(
        self, s: Session, case: Case, company: Company | None, rules: RuleVersion | None
    ) -> None:
        """Rewrite the case's milestones from its facts (done ones keep their dates)."""
        assert company is not None
        rules = rules or pick_version(self.settings, case.applied_on or case.opened_on)
        events = [
            (t, on)
            for t, on in s.execute(
                select(Event.trigger, Event.effective_on)
                .where(Event.case_id == case.id, Event.kind != "fact")
                .order_by(Event.seq)
            )
        ]
        planned = milestones.compute(
            milestones.CaseDates(
                program=case.program,
                fiscal_year_end=company.fiscal_year_end,
                interim_monitoring=case.interim_monitoring,
                opened_on=case.opened_on,
                certificate_issued=case.certificate_issued,
                applied_on=case.applied_on,
                accepted_on=case.accepted_on,
                agreed_on=case.agreed_on,
                decided_on=case.decided_on,
                valid_until=case.valid_until,
                stage=case.stage,
            ),
            events,
            rules,
            self.calendar,
        )
        final = case.stage in catalog().definition(case.program, case.track).final_stages
        existing = {
            m.key: m for m in s.scalars(select(Milestone).where(Milestone.case_id == case.id))
        }
        keep = set()
        for p in planned:
            if final and p.done_on is None:
                continue  # a closed case has nothing left to chase
            keep.add(p.key)
            m = existing.get(p.key)
            if m is None:
                s.add(
                    Milestone(
                        case_id=case.id,
                        key=p.key,
                        label=p.label,
                        stage=p.stage,
                        due=p.due,
                        done_on=p.done_on,
                    )
                )
                continue
            if m.done_on is not None and p.done_on is not None:
                continue  # done stays done, with its date
            if (m.label, m.stage, m.due, m.done_on) != (p.label, p.stage, p.due, p.done_on):
                # Assign only on a change: most replans move nothing, and an assignment costs
                # the ORM its change tracking even when the value is the same.
                m.label, m.stage, m.due, m.done_on = p.label, p.stage, p.due, p.done_on
        for key, m in existing.items():
            if key not in keep and m.done_on is None:
                reminders = list(s.scalars(select(Reminder).where(Reminder.milestone_id == m.id)))
                if any(r.status == "sent" for r in reminders):
                    # Reminders already delivered are history: keep the milestone they name,
                    # closed on the case's last date, and cancel what is still pending.
                    m.done_on = case.last_event_on
                    for r in reminders:
                        if r.status == "pending":
                            r.status = "cancelled"
                    continue
                for r in reminders:
                    s.delete(r)
                s.delete(m)

    # ------------------------------------------------------------ reading

    def show(self, actor_id: str, case_id: str) -> CaseView:
        with self._read() as s:
            actor = self._actor(s, actor_id)
            ld = self._load(s, actor, case_id)
            return self._view(s, ld, actor)

    def _view(self, s: Session, ld: _Loaded, actor: Actor) -> CaseView:
        case, d = ld.case, ld.definition
        cat = catalog()
        company = s.get(Company, case.company_key)
        council = s.get(Council, case.council_code)
        assert company is not None and council is not None
        today = self.today()
        rules = ld.rules or pick_version(
            self.settings, min(today, max(case.opened_on, date(2022, 4, 1)))
        )
        ms = []
        for m in s.scalars(
            select(Milestone)
            .where(Milestone.case_id == case.id)
            .order_by(Milestone.due, Milestone.id)
        ):
            overdue = m.done_on is None and m.due < today
            ms.append(
                MilestoneView(
                    m.key,
                    m.label,
                    m.stage,
                    cat.stage_label(m.stage),
                    m.due,
                    m.done_on is not None,
                    m.done_on,
                    overdue,
                    self.calendar.business_days_between(m.due, today) if overdue else 0,
                )
            )
        evs = [
            EventView(
                e.seq,
                e.kind,
                e.trigger,
                e.from_stage,
                e.to_stage,
                e.effective_on,
                e.recorded_at,
                e.actor,
                e.reason,
                json.loads(e.detail) if e.detail else None,
            )
            for e in s.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq))
        ]
        triggers = allowed_triggers(case.program, case.track, case.stage)
        missing: dict[str, list[str]] = {}
        forward = [t for t in triggers if not d.transition(t).needs_reason]
        if forward:
            facts = self._facts(s, case, d, company, rules, actor, today, None, forward[0])
            for t in forward:
                f = failures(d.transition(t).guards, facts)
                if t == "accept" and facts.reuse is not None:
                    f = [x for x in f if "統括責任者" not in x] + (
                        ["再利用の例外: 統括責任者による受付が必要です"]
                        if facts.reuse.exception
                        else []
                    )
                missing[t] = f
        return CaseView(
            id=case.id,
            program=case.program,
            program_label=cat.programs[case.program].short,
            track=case.track,
            track_label=cat.track_labels[case.track],
            stage=case.stage,
            stage_label=cat.stage_label(case.stage),
            council=case.council_code,
            council_name=council.name,
            company=company.key,
            company_name=company.name,
            officer=case.officer_id,
            advisor=case.advisor,
            rule_version=case.rule_version,
            affected=[x for x in case.affected.split(",") if x],
            interim_monitoring=case.interim_monitoring,
            guarantee_release=case.guarantee_release,
            reuse_exception=case.reuse_exception,
            certificate_issued=case.certificate_issued,
            plan_recorded=case.plan_recorded,
            opened_on=case.opened_on,
            applied_on=case.applied_on,
            accepted_on=case.accepted_on,
            valid_until=case.valid_until,
            periods_paid=case.periods_paid,
            periods_total=monitoring_period_count(case.program, rules, case.interim_monitoring),
            version=case.version,
            triggers=triggers,
            missing=missing,
            lenders=[LenderView(x.name, x.consented_on) for x in case.lenders],
            milestones=ms,
            events=evs,
        )

    def subsidy(self, actor_id: str, case_id: str) -> SubsidyView:
        with self._read() as s:
            actor = self._actor(s, actor_id)
            ld = self._load(s, actor, case_id)
            case = ld.case
            rules = ld.rules or pick_version(
                self.settings, min(self.today(), max(case.opened_on, date(2022, 4, 1)))
            )
            lines = self._lines(case, ld.definition, rules)
            pays = self._payments(s, case)
            plan = sum(x.subsidy for x in lines if x.phase == "plan")
            mon = sum(x.subsidy for x in lines if x.phase == "monitoring")
            first = split_plan_share(plan)[0] if rules.value("money.split_payment") else plan
            withheld = plan - first if case.decided_on and case.periods_paid == 0 else 0
            room = None
            if case.reuse_exception:
                cap = rules.reuse(case.program).payment_cap_total
                if cap is not None:
                    room = max(
                        cap
                        - sum(u.paid for u in _uses(s, case.company_key, case.id))
                        - sum(p.amount for p in pays),
                        0,
                    )
            return SubsidyView(
                case=case.id,
                rule_version=case.rule_version,
                categories=lines,
                total=plan + mon,
                plan_share=plan,
                monitoring_share=mon,
                paid=sum(p.amount for p in pays),
                withheld=withheld,
                payment_room=room,
                payments=[
                    {"kind": p.kind, "period": p.period, "amount": p.amount, "paid_on": p.paid_on}
                    for p in pays
                ],
            )

    def list_cases(
        self,
        actor_id: str,
        *,
        council: str | None = None,
        stage: str | None = None,
        officer: str | None = None,
        overdue: bool = False,
        limit: int | None = None,
    ) -> list[CaseRow]:
        if stage is not None and stage not in catalog().stages:
            raise InvalidInput(f"不明な段階 '{stage}': {', '.join(catalog().stages)}")
        with self._read() as s:
            actor = self._actor(s, actor_id)
            if council is not None:
                if s.get(Council, council) is None:
                    raise NotFound(f"協議会 {council} が見つかりません")
                access.require_council(actor, council)
            elif actor.role != "admin":
                council = actor.council
            today = self.today()
            od = (
                select(
                    Milestone.case_id,
                    func.count().label("n"),
                    func.min(Milestone.due).label("next"),
                )
                .where(Milestone.done_on.is_(None))
                .group_by(Milestone.case_id)
                .subquery()
            )
            late = (
                select(Milestone.case_id, func.count().label("n"))
                .where(Milestone.done_on.is_(None), Milestone.due < today)
                .group_by(Milestone.case_id)
                .subquery()
            )
            q = (
                select(
                    Case.id,
                    Case.program,
                    Case.track,
                    Case.stage,
                    Case.council_code,
                    Case.company_key,
                    Company.name,
                    Case.officer_id,
                    od.c.next,
                    func.coalesce(late.c.n, 0),
                )
                .join(Company, Company.key == Case.company_key)
                .outerjoin(od, od.c.case_id == Case.id)
                .outerjoin(late, late.c.case_id == Case.id)
                .order_by(Case.id)
            )
            if council is not None:
                q = q.where(Case.council_code == council)
            if stage is not None:
                q = q.where(Case.stage == stage)
            if officer is not None:
                q = q.where(Case.officer_id == officer)
            if overdue:
                q = q.where(late.c.n > 0)
            if limit is not None:
                q = q.limit(limit)
            cat = catalog()
            return [
                CaseRow(
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    cat.stage_label(r[3]),
                    r[4],
                    r[5],
                    r[6],
                    r[7],
                    r[8],
                    int(r[9]),
                )
                for r in s.execute(q)
            ]


def _uses(s: Session, company_key: str, exclude_case: str | None) -> list[Use]:
    """Every earlier use of either program: recorded prior uses and accepted Kaizen cases."""
    out = [
        Use(p.program, p.track, p.fiscal_year, p.paid, f"記録 #{p.id}")
        for p in s.scalars(
            select(PriorUse)
            .where(PriorUse.company_key == company_key)
            .order_by(PriorUse.fiscal_year)
        )
    ]
    q = select(Case).where(Case.company_key == company_key, Case.accepted_on.is_not(None))
    if exclude_case:
        q = q.where(Case.id != exclude_case)
    for c in s.scalars(q.order_by(Case.accepted_on)):
        assert c.accepted_on is not None
        paid = (
            s.scalar(
                select(func.coalesce(func.sum(Payment.amount), 0)).where(Payment.case_id == c.id)
            )
            or 0
        )
        out.append(Use(c.program, c.track, fiscal_year(c.accepted_on), int(paid), f"案件 {c.id}"))
    return out


def _upsert_councils(s: Session, rows: Sequence[dict[str, str]]) -> int:
    n = 0
    for r in rows:
        code = str(r.get("code", "")).strip()
        name = str(r.get("name", "")).strip()
        if not re.fullmatch(r"\d{2}", code):
            raise InvalidInput(f"協議会コードは都道府県コード2桁です: '{code}'")
        if not name:
            raise InvalidInput(f"協議会 {code} の名称が空です")
        for key, limit in (("name", 200), ("address", 300), ("phone", 40), ("url", 300)):
            value = str(r.get(key, "")).strip()
            if len(value) > limit:
                raise InvalidInput(
                    f"協議会 {code} の {key} が長すぎます ({len(value)}文字; 上限 {limit}文字)"
                )
        c = s.get(Council, code) or Council(code=code)
        c.name = name
        c.address = str(r.get("address", "")).strip()
        c.phone = str(r.get("phone", "")).strip()
        c.url = str(r.get("url", "")).strip()
        s.add(c)
        n += 1
    return n


__all__ = ["Kaizen", "Moved"]
