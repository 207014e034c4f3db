"""`company list` and `company show`: find a firm that phones in, and see all Kaizen knows of
it — its facts, its earlier uses of either program, and the cases the actor may see."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from states.eligibility import INDUSTRY_LABELS
from states.programs import catalog
from storage.queries import companies as q
from workflow import store
from workflow.cases import list_cases
from workflow.companies import company_key
from workflow.reuse import Use
from workflow.tx import Boundaries, read
from workflow.views import CaseRow


@dataclass(frozen=True)
class CompanyRow:
    number: str
    name: str
    industry: str
    industry_label: str
    fiscal_year_end: int
    cases: int  # in the councils the actor sees
    open_cases: int


@dataclass(frozen=True)
class CompanyView:
    number: str
    name: str
    legal_form: str
    industry: str
    industry_label: str
    fiscal_year_end: int
    capital: int | None
    employees: int | None
    uses: tuple[Use, ...]
    cases: tuple[CaseRow, ...]

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["uses"] = [asdict(u) for u in self.uses]
        doc["cases"] = [asdict(c) for c in self.cases]
        return doc


def list_companies(
    b: Boundaries, actor_id: str, *, search: str | None, limit: int | None, offset: int = 0
) -> list[CompanyRow]:
    """Every registered company matching (companies are shared by the councils); the case
    counts are those of the actor's council (an admin's: every council's)."""
    final = tuple(k for k, st in catalog().stages.items() if st.final)
    with read(b) as s:
        who = store.actor(s, actor_id)
        council = None if who.role == "admin" else who.council
        rows = q.company_rows(
            s, search=search, council=council, final_stages=final, limit=limit, offset=offset
        )
    labels = INDUSTRY_LABELS
    return [CompanyRow(*r[:3], labels.get(r.industry, r.industry), *r[3:]) for r in rows]


def show_company(b: Boundaries, actor_id: str, number: str) -> CompanyView:
    key = company_key(number)
    with read(b) as s:
        store.actor(s, actor_id)
        c = store.company(s, key)
        uses = store.uses(s, key, None)
    cases = list_cases(b, actor_id, search=key, by_due=True)
    mine = tuple(r for r in cases if r.company == key)
    return CompanyView(
        c.key, c.name, c.legal_form, c.industry, INDUSTRY_LABELS.get(c.industry, c.industry),
        c.fiscal_year_end, c.capital, c.employees, tuple(uses), mine,
    )  # fmt: skip
