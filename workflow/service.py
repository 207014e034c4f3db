"""The facade: one `Kaizen` per process, one short method per use case.

Each method names its actor and delegates to a use-case module grouped by what it does —
`people` (councils, officers), `companies`, `cases` (open, show, subsidy, list), `moves`
(triggers and facts, through the decision core and the one writer). Every change is one
transaction: all its rows (stage, event, milestones, payments) are committed or none, and a
`KaizenError` raised anywhere inside rolls it back (design.md §3, §6).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from states.calendar import BusinessCalendar
from storage.db import Database
from workflow import cases, companies, company_views, moves, people
from workflow.clock import Clock
from workflow.company_views import CompanyRow, CompanyView
from workflow.config import Settings
from workflow.corrections import CaseEdit
from workflow.decide import check_date
from workflow.facts import (
    AddLender,
    Certificate,
    Consent,
    Estimate,
    Extend,
    FactCommand,
    Fee,
    Plan,
    Report,
)
from workflow.inputs import causes, text
from workflow.inputs import name as clean_name
from workflow.inputs import yen as money
from workflow.moves import Hook, Moved
from workflow.reference import calendar_for
from workflow.reuse import Use
from workflow.today import TodayView, today_view
from workflow.tx import Boundaries
from workflow.views import Actor, CaseRow, CaseView, SubsidyView


class Kaizen(Boundaries):
    """The engine: one instance per process, shared by every command and scheduler job."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        calendar: BusinessCalendar | None = None,
    ) -> None:
        super().__init__(db, settings, clock, calendar or calendar_for(settings))
        self.after_load: Hook | None = None  # a test seam: runs between load and write

    # ------------------------------------------------------------ councils and officers

    def list_councils(self) -> list[dict[str, str]]:
        return people.list_councils(self)

    def upsert_councils(self, actor_id: str, rows: Sequence[dict[str, str]]) -> int:
        return people.upsert_councils(self, actor_id, rows)

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
        return people.add_officer(
            self, actor_id, officer_id, name_=name, council=council, role=role, email=email
        )

    def whoami(self, actor_id: str) -> Actor:
        return people.whoami(self, actor_id)

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
        facts = companies.check_company(
            number=number,
            name_=name,
            fiscal_year_end=fiscal_year_end,
            industry=industry,
            capital=capital,
            employees=employees,
            legal_form=legal_form,
        )
        return companies.add_company(self, actor_id, facts)

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
        return companies.record_prior_use(
            self,
            actor_id,
            company,
            program=program,
            fiscal_year=fiscal_year,
            track=track,
            paid=paid,
            note=note,
        )

    def prior_uses(
        self, actor_id: str, company: str, *, exclude_case: str | None = None
    ) -> list[Use]:
        return companies.prior_uses(self, actor_id, company, exclude_case=exclude_case)

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
        case_id = cases.open_case(
            self,
            actor_id,
            company=company,
            program=program,
            track=track,
            council=council,
            advisor=advisor,
            affected=affected,
            interim_monitoring=interim_monitoring,
            guarantee_release=guarantee_release,
            on=on,
        )
        return self.show(actor_id, case_id)

    def show(self, actor_id: str, case_id: str) -> CaseView:
        return cases.show(self, actor_id, case_id)

    def subsidy(self, actor_id: str, case_id: str) -> SubsidyView:
        return cases.subsidy(self, actor_id, case_id)

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
        return cases.list_cases(
            self,
            actor_id,
            council=council,
            stage=stage,
            officer=officer,
            overdue=overdue,
            limit=limit,
        )

    # ------------------------------------------------------------ moves

    def advance(
        self,
        actor_id: str,
        case_id: str,
        trigger: str,
        *,
        on: date | None = None,
        reason: str | None = None,
    ) -> CaseView:
        """Fire a trigger and return the case as it stands (one transaction)."""
        return moves.advance(
            self, actor_id, case_id, trigger, on=on, reason=reason, hook=self.after_load
        )

    def move(
        self,
        actor_id: str,
        case_id: str,
        trigger: str,
        *,
        on: date | None = None,
        reason: str | None = None,
    ) -> Moved:
        """Fire a trigger; returns only what moved (scripts and sweeps use this)."""
        return moves.move(
            self, actor_id, case_id, trigger, on=on, reason=reason, hook=self.after_load
        )

    # ------------------------------------------------------------ facts

    def _record(self, actor_id: str, case_id: str, cmd: FactCommand) -> CaseView:
        return moves.record_viewed(self, actor_id, case_id, cmd, self.after_load)

    def _date(self, on: date | None, what: str) -> date:
        return check_date(on, self.today(), what)

    def _on(self, on: date | None, what: str) -> date | None:
        return None if on is None else check_date(on, self.today(), what)

    def record_estimate(
        self, actor_id: str, case_id: str, category: str, yen: int, on: date | None = None
    ) -> CaseView:
        cmd = Estimate(category, money(yen, "見積額"), self._on(on, "見積の登録日"))
        return self._record(actor_id, case_id, cmd)

    def record_fee(
        self, actor_id: str, case_id: str, category: str, yen: int, on: date | None = None
    ) -> CaseView:
        amount = money(yen, "支払額")
        return self._record(actor_id, case_id, Fee(category, amount, self._date(on, "支払日")))

    def add_lender(
        self, actor_id: str, case_id: str, name: str, on: date | None = None
    ) -> CaseView:
        cmd = AddLender(clean_name(name, "金融機関名"), self._on(on, "金融機関の登録日"))
        return self._record(actor_id, case_id, cmd)

    def record_consent(
        self, actor_id: str, case_id: str, lender: str, on: date | None = None
    ) -> CaseView:
        nm = clean_name(lender, "金融機関名")
        return self._record(actor_id, case_id, Consent(nm, self._date(on, "同意日")))

    def record_certificate(
        self, actor_id: str, case_id: str, issued: date, on: date | None = None
    ) -> CaseView:
        when = self._date(issued, "証明書の発行日")
        return self._record(actor_id, case_id, Certificate(when, self._on(on, "証明書の登録日")))

    def record_plan(self, actor_id: str, case_id: str, on: date | None = None) -> CaseView:
        return self._record(actor_id, case_id, Plan(self._date(on, "計画の登録日")))

    def record_report(self, actor_id: str, case_id: str, on: date | None = None) -> CaseView:
        return self._record(actor_id, case_id, Report(self._date(on, "報告日")))

    def extend_validity(self, actor_id: str, case_id: str, until: date, reason: str) -> CaseView:
        why = text(reason, "延長の理由", required=True) or ""
        return self._record(actor_id, case_id, Extend(until, why))

    # ------------------------------------------------------------ corrections (issue 12)

    def void_fact(self, actor_id: str, case_id: str, seq: int, reason: str | None) -> CaseView:
        """Void one recorded fact (a `correction` event); its effect disappears."""
        d = moves.void(self, actor_id, case_id, seq, reason, self.after_load)
        return self.show(actor_id, d.changes.case_id)

    def revert(self, actor_id: str, case_id: str, reason: str | None) -> CaseView:
        """Undo the last stage change (supervisors); its payments are reversed."""
        d = moves.revert(self, actor_id, case_id, reason, self.after_load)
        return self.show(actor_id, d.changes.case_id)

    def edit_case(
        self,
        actor_id: str,
        case_id: str,
        *,
        reason: str | None,
        advisor: str | None = None,
        officer: str | None = None,
        interim_monitoring: bool | None = None,
        guarantee_release: bool | None = None,
        affected: Sequence[str] | None = None,
    ) -> CaseView:
        edit = CaseEdit(
            advisor=None if advisor is None else clean_name(advisor, "認定支援機関名"),
            interim_monitoring=interim_monitoring,
            guarantee_release=guarantee_release,
            affected=None if affected is None else causes(list(affected)),
        )
        d = moves.edit(self, actor_id, case_id, edit, officer, reason)
        return self.show(actor_id, d.changes.case_id)

    def edit_company(
        self,
        actor_id: str,
        number: str,
        *,
        reason: str | None,
        name: str | None = None,
        fiscal_year_end: int | None = None,
        industry: str | None = None,
        capital: int | None = None,
        employees: int | None = None,
        legal_form: str | None = None,
    ) -> list[tuple[str, object, object]]:
        """Correct a company's facts; returns (field, old, new) of what changed."""
        key = companies.company_key(number)
        given = {
            "name": name,
            "fiscal_year_end": fiscal_year_end,
            "industry": industry,
            "capital": capital,
            "employees": employees,
            "legal_form": legal_form,
        }
        fields = companies.check_edit({k: v for k, v in given.items() if v is not None})
        return moves.edit_company(self, actor_id, key, fields, reason)

    def edit_officer(
        self,
        actor_id: str,
        officer_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        role: str | None = None,
        council: str | None = None,
        active: bool | None = None,
    ) -> people.OfficerRow:
        return people.edit_officer(
            self,
            actor_id,
            officer_id,
            name_=name,
            email=email,
            role=role,
            council=council,
            active=active,
        )

    def list_officers(
        self, actor_id: str, *, council: str | None = None
    ) -> list[people.OfficerRow]:
        return people.list_officers(self, actor_id, council=council)

    # ------------------------------------------------------------ the officer's day (issue 14)

    def find_cases(
        self,
        actor_id: str,
        *,
        council: str | None = None,
        stage: str | None = None,
        officer: str | None = None,
        overdue: bool = False,
        open_only: bool = True,
        search: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[CaseRow]:
        """`case list`: open cases by default, next due first, searched and paged."""
        return cases.list_cases(
            self, actor_id, council=council, stage=stage, officer=officer, overdue=overdue,
            open_only=open_only, search=search, by_due=True, limit=limit, offset=offset,
        )  # fmt: skip

    def morning(self, actor_id: str) -> TodayView:
        """`kaizen today`: the acting officer's morning (a supervisor's: the council's)."""
        return today_view(self, actor_id)

    def find_companies(
        self, actor_id: str, *, search: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[CompanyRow]:
        return company_views.list_companies(
            self, actor_id, search=search, limit=limit, offset=offset
        )

    def company(self, actor_id: str, number: str) -> CompanyView:
        return company_views.show_company(self, actor_id, number)

    def export_calendar(
        self, actor_id: str, path: Path, *, officer: str | None = None, council: str | None = None
    ) -> int:
        """`kaizen export calendar`: open milestones as all-day events; how many."""
        from workflow.calendar_export import export_calendar

        return export_calendar(self, actor_id, path, officer=officer, council=council)


__all__ = ["Kaizen", "Moved"]
