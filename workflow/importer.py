"""Cases in and out of spreadsheets: `import_cases` (CSV or XLSX) and `export_cases`.

The columns (docs/import.md) are what councils keep today: one row per case, with its
company, the company's uses before Kaizen, the dates the case passed each step, its lenders,
costs, monitoring periods and payments. `export_cases` writes the same columns, so an export
imports into an empty database and exports again to the same file.

Validation comes first and covers every row: the cells are parsed (all problems of a row are
listed, with the spreadsheet's row number — the header is row 1), then each row's history is
replayed through the decision core (`workflow.decide`, `workflow.facts`) on plain objects
inside a savepoint, then written by the one writer (`workflow.store`): the same guards, effects (payments,
pinned rule version, validity) and milestone planning as `kaizen case advance`, so an imported
case is one the engine could have made. Nothing is written unless every row is good; with
`skip_bad=True` the good rows are written and the bad ones reported.

How an imported case's history is recorded (docs/import.md): one event of kind `import`
(trigger `import`, from nothing to 相談, on the consultation date, its reason naming the file
and row), then one `transition` event per step of the stage graph up to the current stage,
on the dates of the file, each with `{"import": file, "row": n}` in its detail. The steps are
needed because milestones and the funnel read them; `kaizen doctor` accepts an import only
as a case's first event. Revisions (計画修正) and the fees' history are not in the file: an
imported path is the straight one, and fees are the final amounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from states.calendar import fiscal_year
from states.programs import catalog
from storage.models import (
    Case,
    Council,
    Officer,
    PriorUse,
)
from workflow import access, store
from workflow.case_export import ExportResult, case_sheet, export_cases
from workflow.cases import new_case
from workflow.decide import Env, case_rules, check_opening, decide_move, event, replan_into
from workflow.decide import opened as opened_case
from workflow.errors import KaizenError
from workflow.exports import Progress
from workflow.facts import (
    AddLender,
    Certificate,
    Consent,
    Estimate,
    FactCommand,
    Fee,
    Plan,
    Report,
    apply_fact,
)
from workflow.rows import Row, parse_row
from workflow.sheet import (
    COLUMNS,
    HEADERS,
    REQUIRED,
    ImportRejected,
    ImportResult,
    RowError,
    RowProblem,
    read_table,
)
from workflow.snapshot import CaseState, CompanyState, Decision, PaymentState, Snapshot, evolve
from workflow.tx import write as write_tx
from workflow.views import Actor

if TYPE_CHECKING:
    from workflow.service import Kaizen

# ---------------------------------------------------------------- replaying a row


@dataclass
class _Refs:
    """What the rows refer to, read once: councils, officers, companies, case ids."""

    councils: set[str]
    officers: dict[str, Actor]
    companies: dict[str, CompanyState]
    case_ids: set[str]
    seqs: dict[str, int] = field(default_factory=dict)
    sole: int = 0  # sole proprietors' 'P…' keys given so far


def import_cases(
    k: Kaizen,
    actor_id: str,
    path: Path,
    *,
    skip_bad: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Validate every row, then write all of them (or, with `skip_bad`, the good ones)."""
    header, raw_rows = read_table(path)
    unknown = [h for h in header if h and h not in HEADERS]
    keyed = [{HEADERS[h]: v for h, v in row.items() if h in HEADERS} for _, row in raw_rows]
    problems: list[RowProblem] = []
    if unknown:
        problems.append(RowProblem(1, None, f"不明な見出し: {', '.join(unknown)} (docs/import.md)"))
    present = {HEADERS[h] for h in header if h in HEADERS}
    missing = [c.label for c in COLUMNS if c.key in REQUIRED and c.key not in present]
    if missing:
        problems.append(RowProblem(1, None, f"必須の見出しがありません: {', '.join(missing)}"))
    if problems:
        raise ImportRejected(ImportResult(path.name, len(raw_rows), 0, [], 0, problems))
    parsed: list[Row] = []
    for (n, _), raw in zip(raw_rows, keyed, strict=True):
        row, errs = parse_row(n, raw)
        problems += errs
        if row is not None:
            parsed.append(row)
    _cross_check(parsed, problems)
    bad = {p.row for p in problems}
    actor = k.whoami(actor_id)
    env = k.env()
    with write_tx(k) as s:
        refs = _refs(s)
        written: list[str] = []
        companies = 0
        total = len(parsed)
        for i, row in enumerate(parsed, 1):
            if row.n not in bad:
                # A savepoint per row: a row refused half-way (its new company written, its
                # replay refused) leaves nothing behind, and --skip-bad goes on.
                sp = s.begin_nested()
                try:
                    cid, new_company = _import_row(k, s, env, actor, refs, row, path.name)
                    sp.commit()
                    written.append(cid)
                    companies += new_company
                except (RowError, KaizenError) as e:
                    sp.rollback()
                    column = e.column if isinstance(e, RowError) else None
                    problems.append(RowProblem(row.n, column, e.message))
                    _forget(refs, s)
            if progress is not None:
                progress(i, total)
        problems.sort(key=lambda p: p.row)
        if problems and not skip_bad:
            raise ImportRejected(ImportResult(path.name, len(raw_rows), 0, [], 0, problems))
        return ImportResult(path.name, len(raw_rows), len(written), written, companies, problems)


def _forget(refs: _Refs, s: Session) -> None:
    """After a savepoint rolled back, what this row added is gone: re-read it."""
    fresh = _refs(s)
    refs.companies, refs.case_ids, refs.sole, refs.seqs = (
        fresh.companies,
        fresh.case_ids,
        fresh.sole,
        {},
    )


def _refs(s: Session) -> _Refs:
    companies = store.all_companies(s)
    return _Refs(
        councils=set(s.scalars(select(Council.code))),
        officers={
            o.id: Actor(o.id, o.name, o.role, o.council_code)
            for o in s.scalars(select(Officer).where(Officer.active.is_(True)))
        },
        companies=companies,
        case_ids=store.case_ids(s),
        sole=sum(1 for c in companies if c.startswith("P")),
    )


def _cross_check(rows: list[Row], problems: list[RowProblem]) -> None:
    """What no single row shows: a case id twice, one company described two ways."""
    seen_ids: dict[str, int] = {}
    companies: dict[str, Row] = {}
    for r in rows:
        if r.case_id:
            if r.case_id in seen_ids:
                problems.append(
                    RowProblem(
                        r.n, "案件番号", f"{r.case_id} は {seen_ids[r.case_id]}行目にもあります"
                    )
                )
            seen_ids.setdefault(r.case_id, r.n)
        if r.company is None:
            continue
        first = companies.setdefault(r.company, r)
        if first is r:
            continue
        for what, a, b in (
            ("会社名", first.company_name, r.company_name),
            ("過去の利用", first.prior_raw, r.prior_raw),
            *(
                (k, first.company_facts.get(k), r.company_facts.get(k))
                for k in ("fiscal_year_end", "industry", "capital", "employees", "legal_form")
            ),
        ):
            if a and b and a != b:
                label = {c.key: c.label for c in COLUMNS}.get(str(what), str(what))
                problems.append(
                    RowProblem(
                        r.n, label, f"同じ会社 {r.company} の {label} が {first.n}行目と異なります"
                    )
                )


def _check_row(k: Kaizen, actor: Actor, refs: _Refs, r: Row) -> tuple[Actor, Actor]:
    """What the file says that the engine cannot check: returns (officer, accepter)."""
    if r.council not in refs.councils:
        raise RowError("協議会", f"協議会 {r.council} が見つかりません ('kaizen council list')")
    if not access.can_see_council(actor, r.council):
        raise RowError("協議会", f"{actor.id} は協議会 {r.council} の案件を取り込めません")
    officer = refs.officers.get(r.officer or actor.id)
    if officer is None:
        raise RowError("担当者", f"担当者 {r.officer} が登録されていません ('kaizen officer add')")
    if officer.role != "admin" and officer.council != r.council:
        raise RowError("担当者", f"担当者 {officer.id} は協議会 {r.council} の所属ではありません")
    accepter = officer if r.accepted_by is None else refs.officers.get(r.accepted_by)
    if accepter is None:
        raise RowError("受付者", f"担当者 {r.accepted_by} が登録されていません (または無効です)")
    if not access.can_see_council(accepter, r.council):
        # The commands let only the case's own council accept it (supervisor for a re-use
        # exception: the guard checks the role when the accept is replayed).
        raise RowError(
            "受付者",
            f"受付者 {accepter.id} は協議会 {r.council} の所属ではありません: "
            "受付を記録できるのは案件の協議会の担当者・統括責任者です",
        )
    opened = r.dates["opened_on"]
    assert opened is not None
    today = k.today()
    if opened > today:
        raise RowError("相談日", f"{opened} は未来の日付です")
    try:
        check_opening(
            r.program,
            r.track,
            opened,
            interim_monitoring=r.interim,
            guarantee_release=r.guarantee_release,
        )
    except KaizenError as e:
        raise RowError(None, e.message) from None
    # Every date is something that happened (the validity date is a deadline: not checked).
    happened = [v for key, v in r.dates.items() if key != "valid_until"]
    every = [*happened, *(on for _, on in r.lenders), *(x[3] for x in r.costs)]
    every += [x for p in r.periods for x in (p.reported, p.claimed, p.paid)]
    every += [x[3] for x in r.payments or []]
    if any(x is not None and x > today for x in every):
        raise RowError(None, f"未来の日付があります (今日は {today})")
    applied = r.dates["applied_on"]
    for name, consented in r.lenders:
        if consented is not None and (applied is None or consented < applied):
            raise RowError("金融機関", f"{name} の同意・受領日 {consented} が利用申請日より前です")
    return officer, accepter


def _sees_company(s: Session, actor: Actor, key: str) -> bool:
    """Whether `actor` may see a case of the firm (an admin sees every one)."""
    if actor.role == "admin":
        return True
    q = select(Case.id).where(Case.company_key == key, Case.council_code == actor.council)
    return s.execute(q.limit(1)).first() is not None


def _case_id(refs: _Refs, r: Row, opened: date) -> str:
    """As given, or the engine's next number for the council and 年度."""
    prefix = f"{r.council}-{fiscal_year(opened)}-"
    if r.case_id:
        if not r.case_id.startswith(prefix):
            raise RowError(
                "案件番号",
                f"{r.case_id} は協議会 {r.council}・相談日の年度 ({prefix}…) と合いません",
            )
        if r.case_id in refs.case_ids:
            raise RowError("案件番号", f"案件 {r.case_id} は既に登録されています")
        return r.case_id
    if prefix not in refs.seqs:
        taken = [int(c.rsplit("-", 1)[1]) for c in refs.case_ids if c.startswith(prefix)]
        refs.seqs[prefix] = max(taken, default=0)
    try:
        cid = store.number_after(prefix, f"{prefix}{refs.seqs[prefix]:04d}")
    except KaizenError as e:
        raise RowError("案件番号", e.message) from None
    refs.seqs[prefix] += 1
    return cid


class _Replay:
    """One row's history, replayed through the decision core on plain objects."""

    def __init__(self, decision: Decision, env: Env) -> None:
        self.snap = decision.after
        self.changes = decision.changes
        self.env = env

    def fact(self, actor: Actor, cmd: FactCommand) -> None:
        """A fact set from the file (no fact event: the history has one `import` event)."""
        try:
            self.snap, ch, _ = apply_fact(self.snap, actor, cmd, self.env, windows=False)
        except KaizenError as e:
            raise RowError("費用" if isinstance(cmd, Fee) else None, e.message) from None
        self.changes = self.changes.merge(ch)

    def move(
        self, trigger: str, on: date, actor: Actor, reason: str | None, detail: dict[str, Any]
    ) -> None:
        last = self.snap.case.last_event_on
        if on < last:
            raise RowError(None, f"{trigger} の日付 {on} が前の記録日 {last} より前です")
        try:
            d = decide_move(
                self.snap, actor, trigger, on, reason, self.env, replan=False, detail=detail
            )
        except KaizenError as e:
            raise RowError(None, e.message) from None
        self.snap = d.after
        self.changes = self.changes.merge(d.changes)

    def set_case(self, **fields: Any) -> None:
        self.snap = evolve(self.snap, **fields)
        self.changes.case = self.snap.case


def _import_row(
    k: Kaizen, s: Session, env: Env, actor: Actor, refs: _Refs, r: Row, source: str
) -> tuple[str, int]:
    """Replay one row in memory, then write it (its company first, if new)."""
    officer, accepter = _check_row(k, actor, refs, r)
    d = catalog().definition(r.program, r.track)
    company, new_company = _company(k, s, refs, r, actor)
    opened = r.dates["opened_on"]
    assert opened is not None
    cid = _case_id(refs, r, opened)
    case = new_case(
        cid,
        program=r.program,
        track=r.track,
        council=r.council,
        company=company.key,
        officer=officer.id,
        advisor=r.advisor,
        affected=tuple(r.affected),
        affected_note=r.affected_note,
        interim_monitoring=r.interim,
        guarantee_release=r.guarantee_release,
        opened_on=opened,
    )
    detail = {"import": source, "row": r.n}
    snap = Snapshot(case, company, (), {}, 1)
    first = event(
        snap,
        kind="import",
        trigger="import",
        frm=None,
        to=case.stage,
        on=opened,
        actor=actor.id,
        reason=f"取込: {source} {r.n}行目",
        detail=detail,
    )
    h = _Replay(opened_case(snap, first, env, replan=False), env)
    h.snap = replace(h.snap, uses=tuple(store.uses(s, company.key, None)))
    allowed = {c.id: c for c in d.categories_for(case.options)}
    for cat_id, est, _act, _paid in r.costs:
        if cat_id not in allowed:
            raise RowError(
                "費用",
                f"費用区分 '{cat_id}' はこの案件 ({d.key}) にありません: {', '.join(allowed)}",
            )
        h.fact(actor, Estimate(cat_id, est))
    for name, _ in r.lenders:
        h.fact(actor, AddLender(name))
    if r.dates["certificate_issued"] is not None:
        h.fact(actor, Certificate(r.dates["certificate_issued"]))
    _replay_path(h, actor, accepter, r, allowed, detail)
    _after_path(h, actor, r, allowed)
    changes = h.changes
    h.snap = replan_into(h.snap, changes, case_rules(h.snap.case, env), env)
    changes.case = h.snap.case
    store.apply(s, changes, k.now())
    refs.case_ids.add(cid)
    return cid, new_company


def _replay_path(
    h: _Replay,
    actor: Actor,
    accepter: Actor,
    r: Row,
    allowed: dict[str, Any],
    detail: dict[str, Any],
) -> None:
    """The row's steps, each with the facts it needs set just before (as an officer would)."""
    for trigger, _stage, on in r.path:
        who = accepter if trigger == "accept" else actor
        reason = None
        if trigger == "apply":
            reason = r.reuse_reason
        elif trigger in ("reject", "withdraw", "discontinue"):
            reason = r.closed_reason
        if trigger == "submit_plan":
            h.fact(actor, Plan(r.dates["plan_recorded"] or on))
        elif trigger == "agree":
            for lender, consented in r.lenders:
                if consented is not None:
                    h.fact(actor, Consent(lender, consented))
        elif trigger == "decide_payment":
            _fees(h, actor, r, allowed, "plan", on)
        elif trigger == "claim_monitoring":
            period = h.snap.case.periods_paid + 1
            p = r.periods[period - 1]
            h.fact(actor, Report(p.reported))
            if period == len(r.periods) or p.paid is None:
                _fees(h, actor, r, allowed, "monitoring", on)
        h.move(trigger, on, who, reason, detail)


def _fees(h: _Replay, actor: Actor, r: Row, allowed: dict[str, Any], phase: str, on: date) -> None:
    for cat_id, _est, act, paid_on in r.costs:
        if allowed[cat_id].phase == phase and act is not None:
            h.fact(actor, Fee(cat_id, act, paid_on or on))


def _after_path(h: _Replay, actor: Actor, r: Row, allowed: dict[str, Any]) -> None:
    """What the steps did not set: facts recorded after the last step, payments, validity."""
    case = h.snap.case
    if r.dates["plan_recorded"] is not None and r.dates["plan_recorded"] != case.plan_recorded:
        h.fact(actor, Plan(r.dates["plan_recorded"]))
    have = {x.name: x.consented_on for x in h.snap.lender_list}
    for lender, consented in r.lenders:
        if consented is not None and have.get(lender) != consented:
            h.fact(actor, Consent(lender, consented))
    costs = h.snap.cost_map
    for cat_id, _est, act, paid_on in r.costs:
        if act is not None and costs[cat_id].actual is None:
            h.fact(actor, Fee(cat_id, act, paid_on or h.snap.case.last_event_on))
    claimed = sum(1 for p in r.periods if p.claimed is not None)
    if len(r.periods) > claimed:  # a report recorded for a period not claimed yet
        h.fact(actor, Report(r.periods[-1].reported))
    if r.dates["valid_until"] is not None:
        h.set_case(valid_until=r.dates["valid_until"])
    _check_rule_version(r, h.snap.case)
    if r.payments is not None:
        _replace_payments(h, r)


def _check_rule_version(r: Row, case: CaseState) -> None:
    if r.rule_version is None or r.rule_version == case.rule_version:
        return
    if case.rule_version is None:
        raise RowError("規程", "規程は利用申請日から決まります: 申請前の案件には書かないでください")
    raise RowError(
        "規程",
        f"規程 {r.rule_version} は利用申請日 {case.applied_on} の規程 {case.rule_version} と異なります",
    )


def _replace_payments(h: _Replay, r: Row) -> None:
    """The file's payments instead of the ones the replay computed from the final fees."""
    assert r.payments is not None
    case = h.snap.case
    if case.decided_on is None:
        raise RowError("支払", "支払決定前の案件に支払があります")
    pays = []
    for kind, period, amount, on in r.payments:
        if period is not None and period > case.periods_paid:
            raise RowError(
                "支払", f"第{period}期の支払がありますが、支払済みは{case.periods_paid}期です"
            )
        if on < case.decided_on:
            raise RowError("支払", f"支払日 {on} が支払決定日 {case.decided_on} より前です")
        pays.append(PaymentState(kind, period, amount, on))
    h.changes.payments = pays
    h.snap = replace(h.snap, payments=tuple(pays))


def _company(k: Kaizen, s: Session, refs: _Refs, r: Row, actor: Actor) -> tuple[CompanyState, int]:
    facts = r.company_facts
    existing = refs.companies.get(r.company) if r.company else None
    if existing is not None:
        if r.company_name and r.company_name != existing.name:
            if not _sees_company(s, actor, existing.key):  # another council's firm: no name
                raise RowError("会社名", f"会社 {existing.key} は別の会社名で登録済みです")
            raise RowError("会社名", f"会社 {existing.key} は「{existing.name}」として登録済みです")
        have = {
            (u.program, u.track, u.fiscal_year, u.paid)
            for u in s.scalars(select(PriorUse).where(PriorUse.company_key == existing.key))
        }
        for use in r.prior_uses:
            if use not in have:
                _prior_use(k, s, existing.key, use, r)
                have.add(use)
        return existing, 0
    missing = [label for key, label in (("fiscal_year_end", "決算月"),) if facts.get(key) is None]
    if not r.company_name:
        missing.insert(0, "会社名")
    if missing:
        raise RowError(None, f"新しい会社には {'・'.join(missing)} が必要です")
    key = r.company
    if key is None:
        key = f"P{refs.sole + 1:08d}"
    for use in r.prior_uses:
        if use[2] > fiscal_year(k.today()):
            raise RowError("過去の利用", f"年度 {use[2]} は未来です")
    company = CompanyState(
        key=key,
        name=r.company_name,
        fiscal_year_end=int(facts["fiscal_year_end"]),
        industry=facts.get("industry") or "other",
        capital=facts.get("capital"),
        employees=facts.get("employees"),
        legal_form=facts.get("legal_form") or ("個人事業主" if key.startswith("P") else "株式会社"),
    )
    store.insert_companies(s, [company], k.now())
    refs.companies[key] = company
    refs.sole += key.startswith("P")
    for use in r.prior_uses:
        _prior_use(k, s, key, use, r)
    return company, 1


def _prior_use(
    k: Kaizen, s: Session, key: str, use: tuple[str, str | None, int, int], r: Row
) -> None:
    program, track, fy, paid = use
    if fy > fiscal_year(k.today()):
        raise RowError("過去の利用", f"年度 {fy} は未来です")
    s.add(
        PriorUse(
            company_key=key,
            program=program,
            track=track,
            fiscal_year=fy,
            paid=paid,
            note=f"取込 ({r.n}行目)",
            recorded_at=k.now(),
            recorded_by=r.officer or "import",
        )
    )
    s.flush()


__all__ = [
    "COLUMNS",
    "ExportResult",
    "ImportRejected",
    "ImportResult",
    "RowProblem",
    "case_sheet",
    "export_cases",
    "import_cases",
]
