"""Use cases for companies: register one, record and list its earlier uses of the programs."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from states.calendar import fiscal_year as fiscal_year_of
from states.eligibility import INDUSTRIES, canonical_legal_form
from states.ids import InvalidCorporateNumber, validate_corporate_number
from states.programs import UnknownProgramError, catalog
from storage.models import Case, PriorUse
from workflow import store
from workflow.errors import Conflict, InvalidInput, PermissionDenied
from workflow.inputs import name, text, yen
from workflow.reuse import Use
from workflow.snapshot import CompanyState
from workflow.tx import Boundaries, read, write

SOLE = "個人事業主"
log = logging.getLogger("kaizen.companies")


def check_company(
    *,
    number: str | None,
    name_: str,
    fiscal_year_end: int,
    industry: str,
    capital: int | None,
    employees: int | None,
    legal_form: str,
) -> CompanyState:
    """A company's facts, checked; its key is the 法人番号, or '' for a sole proprietor (the
    writer gives the next 'P…' key)."""
    nm = name(name_, "会社名")
    if isinstance(fiscal_year_end, bool) or not 1 <= fiscal_year_end <= 12:
        raise InvalidInput(f"決算月は1から12です: {fiscal_year_end}")
    if industry not in INDUSTRIES:
        raise InvalidInput(
            f"業種 (--industry) は {', '.join(INDUSTRIES)} のいずれかです: '{industry}'"
        )
    if capital is not None:
        yen(capital, "資本金")
    if employees is not None and (isinstance(employees, bool) or not 0 <= employees <= 10_000_000):
        raise InvalidInput(f"従業員数は0から10,000,000までの整数です: {employees}")
    if len(legal_form) > 40:
        raise InvalidInput(f"法人形態が長すぎます ({len(legal_form)}文字; 上限 40文字)")
    try:
        form = canonical_legal_form(legal_form)
    except ValueError as e:
        raise InvalidInput(str(e)) from None
    if number is None and form != SOLE:
        raise InvalidInput(
            "法人番号 (--number) を入力してください (個人事業主は --legal-form 個人事業主)"
        )
    key = "" if number is None else corporate_number(number)
    return CompanyState(key, nm, fiscal_year_end, industry, capital, employees, form)


def check_edit(fields: dict[str, object]) -> dict[str, object]:
    """The company fields a correction gives, each checked as `check_company` checks it."""
    out: dict[str, object] = {}
    for f, v in fields.items():
        if f == "name":
            out[f] = name(str(v), "会社名")
        elif f == "fiscal_year_end":
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 12:
                raise InvalidInput(f"決算月は1から12です: {v}")
            out[f] = v
        elif f == "industry":
            if v not in INDUSTRIES:
                raise InvalidInput(
                    f"業種 (--industry) は {', '.join(INDUSTRIES)} のいずれかです: '{v}'"
                )
            out[f] = v
        elif f == "capital":
            out[f] = yen(int(str(v)), "資本金")
        elif f == "employees":
            n = int(str(v))
            if not 0 <= n <= 10_000_000:
                raise InvalidInput(f"従業員数は0から10,000,000までの整数です: {n}")
            out[f] = n
        elif f == "legal_form":
            text_ = str(v)
            if len(text_) > 40:
                raise InvalidInput(f"法人形態が長すぎます ({len(text_)}文字; 上限 40文字)")
            try:
                out[f] = canonical_legal_form(text_)
            except ValueError as e:
                raise InvalidInput(str(e)) from None
    if not out:
        raise InvalidInput("変更する項目を指定してください (--name, --capital など)")
    return out


def corporate_number(number: str) -> str:
    try:
        return validate_corporate_number(number)
    except InvalidCorporateNumber as e:
        raise InvalidInput(str(e)) from None


def company_key(key: str) -> str:
    """A 法人番号 (checked) or a sole proprietor's 'P…' key, as a person typed it."""
    k = key.strip()
    return k if k.startswith("P") else corporate_number(k)


def add_company(b: Boundaries, actor_id: str, facts: CompanyState) -> str:
    with write(b) as s:
        store.actor(s, actor_id)
        return insert_company(s, facts, b)


def insert_company(s: Session, facts: CompanyState, b: Boundaries) -> str:
    key = facts.key or store.next_company_key(s)
    if store.company_exists(s, key):
        raise Conflict(f"法人番号 {key} の会社は既に登録されています")
    store.insert_companies(s, [CompanyState(key, *_rest(facts))], b.now())
    return key


def _rest(c: CompanyState) -> tuple[str, int, str, int | None, int | None, str]:
    return (c.name, c.fiscal_year_end, c.industry, c.capital, c.employees, c.legal_form)


def record_prior_use(
    b: Boundaries,
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
    this_fy = fiscal_year_of(b.today())
    if isinstance(fiscal_year, bool) or not 2000 <= fiscal_year <= this_fy:
        raise InvalidInput(f"年度は2000から{this_fy}までです: {fiscal_year}")
    yen(paid, "支払額")
    nt = text(note, "備考") or ""
    with write(b) as s:
        who = store.actor(s, actor_id)
        key = store.company(s, company_key(company)).key
        if who.role != "admin" and not _council_has_case(s, who.council, key):
            # A prior use blocks every council's case of the firm: only a council that works
            # with the firm (or an admin) may write one.
            raise PermissionDenied(
                f"{who.id} の協議会 ({who.council or 'なし'}) にはこの会社の案件がありません: "
                "過去の利用を記録できるのは、案件のある協議会の担当者か管理者です"
            )
        use = PriorUse(
            company_key=key,
            program=program,
            track=track,
            fiscal_year=fiscal_year,
            paid=paid,
            note=nt,
            recorded_at=b.now(),
            recorded_by=who.id,
        )
        s.add(use)
        s.flush()
        # The audit trail: the row keeps who and when; the log says for which council.
        log.info(
            "prior use %d recorded by %s (%s, council %s)", use.id, who.id, who.role, who.council
        )
        return use.id


def _council_has_case(s: Session, council: str | None, key: str) -> bool:
    if council is None:
        return False
    q = select(Case.id).where(Case.company_key == key, Case.council_code == council).limit(1)
    return s.execute(q).first() is not None


def prior_uses(
    b: Boundaries, actor_id: str, company: str, *, exclude_case: str | None = None
) -> list[Use]:
    with read(b) as s:
        store.actor(s, actor_id)
        key = store.company(s, company_key(company)).key
        return store.uses(s, key, exclude_case)
