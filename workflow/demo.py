"""`kaizen demo`: a realistic, reproducible sample database, built on the engine's rules.

The seven Kyushu councils get officers and a supervisor each; a few hundred companies with
plausible names, 法人番号 and lenders open cases of both programs and every track between
2022年度 and today. Each history is played step by step with a clock moved to each step's
date: every transition runs the engine's guards and effects (payments, pinned rule version,
validity), every fact is the row its `record_*` use case writes, and the milestones are the
engine's planning — so `kaizen doctor` finds nothing wrong. Some cases are refused,
withdrawn, discontinued or left stalled (hence overdue), and a few re-use the programs.

Speed (design.md §2: a newcomer's first command must finish in seconds). Calling the public
use cases costs ~100 ms per case here (each reloads the case, returns a full view and
re-plans the milestones, ~165 SQL statements a case), ~25 s for the default size. The demo
decides the same steps with the decision core on snapshots kept in memory, in one
transaction, planning milestones once per story and writing the rows in batches.
The same seed, case count and day give the same database.
"""

from __future__ import annotations

import contextlib
import random
import time
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, func, inspect, select, text
from sqlalchemy.orm import Session

from states.calendar import fiscal_year
from states.eligibility import canonical_legal_form
from states.ids import validate_corporate_number
from states.programs import catalog
from storage.models import (
    Base,
    Case,
    Meta,
    Officer,
    PriorUse,
)
from workflow import milestones, store
from workflow.cases import new_case
from workflow.clock import JST, Clock, FixedClock, today_jst
from workflow.config import Settings
from workflow.dberrors import translate_errors
from workflow.decide import Env, case_rules, decide_move, decide_open, plan, replan_into
from workflow.demo_draw import (
    DISCONTINUE,
    REJECT,
    REVISE,
    WITHDRAW,
    Draw,
    Stop,
    Story,
)
from workflow.errors import (
    Conflict,
    InvalidInput,
    PermissionDenied,
)
from workflow.facts import (
    AddLender,
    Certificate,
    Consent,
    Estimate,
    FactCommand,
    Fee,
    Plan,
    Report,
    decide_fact,
)
from workflow.service import Kaizen
from workflow.setup import init_database
from workflow.snapshot import ChangeSet, CompanyState, Decision, Snapshot
from workflow.views import Actor

DEFAULT_SEED = 2026
DEFAULT_CASES = 240
MIN_CASES, MAX_CASES = 10, 2000
KEPT_TABLES = ("councils", "officers", "kaizen_meta", "alembic_version")
BATCH = 100  # stories written per batch


@dataclass(frozen=True)
class DemoResult:
    url: str
    seed: int
    cases: int
    companies: int
    officers: int
    seconds: float
    today: date
    admin_created: str | None
    stages: dict[str, int]


# ---------------------------------------------------------------- playing a story


class _Player:
    """Plays one story at a time through the decision core, in memory.

    A transition is `decide_move` and a fact `decide_fact` — what `kaizen case advance` and
    the `record_*` use cases decide — on a snapshot kept in memory, with the story's clock
    moved to each step's date; the milestones are planned once per story, and the change
    sets go to the one writer (`store.apply_many`) in batches.
    """

    def __init__(self, eng: Kaizen, s: Session, clock: FixedClock, today: date) -> None:
        self.eng = eng
        self.s = s
        self.clock = clock
        self.today = today
        self.cal = eng.calendar
        self.rng = random.Random(0)
        self.actors: dict[str, Actor] = {}
        self.seqs: dict[str, int] = {}
        self.plan: Story | None = None
        self.snap: Snapshot | None = None
        self.changes: ChangeSet | None = None
        self.done: list[ChangeSet] = []
        self.last = today

    def at(self, d: date) -> None:
        if d > self.today:
            raise Stop
        self.clock.at = datetime(d.year, d.month, d.day, 1, 0, tzinfo=UTC)  # 10:00 JST

    def bd(self, d: date, lo: int, hi: int) -> date:
        return self.cal.add_business_days(d, self.rng.randint(lo, hi))

    def actor(self, actor_id: str) -> Actor:
        if actor_id not in self.actors:
            self.actors[actor_id] = self.eng.whoami(actor_id)
        return self.actors[actor_id]

    def _state(self) -> tuple[Story, Snapshot, ChangeSet]:
        assert self.plan is not None and self.snap is not None and self.changes is not None
        return self.plan, self.snap, self.changes

    def _take(self, d: Decision) -> None:
        """Keep a decision: its events stamped with the story's clock, merged into the story."""
        at = self.clock.now()
        d.changes.events = [replace(e, at=at) for e in d.changes.events]
        self.snap = d.after
        self.changes = d.changes if self.changes is None else self.changes.merge(d.changes)

    def open(self, p: Story, company: CompanyState) -> None:
        """What `Kaizen.open_case` decides: the case at 相談 and its opening event."""
        self.at(p.opened)
        prefix = f"{p.council}-{fiscal_year(p.opened)}-"
        if prefix not in self.seqs:
            last = store.last_case_id(self.s, prefix)
            self.seqs[prefix] = int(last.rsplit("-", 1)[1]) if last else 0
        self.seqs[prefix] += 1
        case = new_case(
            f"{prefix}{self.seqs[prefix]:04d}",
            program=p.program,
            track=p.track,
            council=p.council,
            company=company.key,
            officer=p.officer,
            advisor=p.advisor,
            affected=tuple(sorted(p.affected)),
            interim_monitoring=p.interim,
            guarantee_release=p.guarantee_release,
            opened_on=p.opened,
        )
        self.plan, self.changes = p, None
        snap = Snapshot(case, company, (), {}, 1)
        d = decide_open(case, snap, self.actor(p.officer), self.env(), replan=False)
        self._take(d)
        self.snap = replace(d.after, uses=tuple(store.uses(self.s, company.key, None)))

    def env(self) -> Env:
        return self.eng.env(today=self.clock.now().astimezone(JST).date())

    def fact(self, cmd: FactCommand, on: date) -> None:
        p, snap, _ = self._state()
        self.at(on)
        self._take(decide_fact(snap, self.actor(p.officer), cmd, self.env(), replan=False))

    def move(
        self, trigger: str, on: date, *, reason: str | None = None, actor: str | None = None
    ) -> None:
        p, snap, _ = self._state()
        self.at(on)
        who = self.actor(actor or p.officer)
        self._take(decide_move(snap, who, trigger, on, reason, self.env(), replan=False))
        self.last = on

    def planned(self) -> list[milestones.Planned]:
        _, snap, _ = self._state()
        return plan(snap, case_rules(snap.case, self.env()), self.env())

    def finish(self) -> None:
        """Plan the story's milestones once and queue its rows for the writer."""
        _, snap, changes = self._state()
        env = self.env()
        self.snap = replan_into(snap, changes, case_rules(snap.case, env), env)
        self.done.append(changes)
        if len(self.done) >= BATCH:
            self.flush()

    def flush(self) -> None:
        store.apply_many(self.s, self.done, self.eng.now())
        self.done = []

    def stop_here(self, stage: str) -> None:
        """Close or leave the case at `stage` if its story ends there."""
        p, _, _ = self._state()
        if p.stop_at != stage:
            return
        if p.outcome == "withdraw":
            self.move("withdraw", self.bd(self.last, 10, 60), reason=self.rng.choice(WITHDRAW))
        elif p.outcome == "discontinue":
            self.move(
                "discontinue", self.bd(self.last, 10, 80), reason=self.rng.choice(DISCONTINUE)
            )
        raise Stop

    # -------------------------------------------------------- a story

    def play(self, p: Story, company: CompanyState) -> None:
        self.rng = random.Random(p.gaps[0])
        self.open(p, company)
        self.last = p.opened
        with contextlib.suppress(Stop):
            self._story(p)
        self.finish()

    def _story(self, p: Story) -> None:
        bd = self.bd
        for name in p.lenders:
            self.fact(AddLender(name), p.opened)
        for cat, yen in p.estimates.items():
            self.fact(Estimate(cat, yen), p.opened)
        self.stop_here("consultation")
        applied = bd(p.opened, 5, 20)
        issued = applied - timedelta(days=self.rng.randint(5, 70))
        self.fact(Certificate(issued), applied)
        self.move("apply", applied, reason=p.reuse_reason)
        if p.outcome == "reject":
            self.move("reject", bd(self.last, 5, 15), reason=self.rng.choice(REJECT))
            raise Stop
        self.stop_here("application")
        # A re-use exception (R6+) is accepted by the council's supervisor.
        self.move("accept", bd(self.last, 5, 12), actor=p.supervisor if p.reuse_reason else None)
        if p.program == "405":
            self.stop_here("due_diligence")
            self.move("start_planning", bd(self.last, 5, 20))
        self.stop_here("planning")
        self._plan(bd(self.last, 20, 40))
        if p.revise:
            self.move("revise", bd(self.last, 10, 25), reason=self.rng.choice(REVISE))
            self._plan(bd(self.last, 10, 25))
        self.stop_here("bank_negotiation")
        consents = sorted(bd(self.last, 5, 30) for _ in p.lenders)
        for lender, on in zip(p.lenders, consents, strict=True):
            self.fact(Consent(lender, on), on)
        self.move("agree", bd(consents[-1], 1, 5))
        fee_on = bd(self.last, 3, 15)
        plan_cats = {
            c.id for c in catalog().definition(p.program, p.track).categories if c.phase == "plan"
        }
        for cat in p.estimates:
            if cat in plan_cats:
                self.fact(Fee(cat, p.actuals[cat], fee_on), fee_on)
        self.stop_here("payment_claim")
        self.move("decide_payment", bd(fee_on, 5, 20))
        self._monitor(p)

    def _plan(self, on: date) -> None:
        self.fact(Plan(on), on)
        self.move("submit_plan", on)

    def _monitor(self, p: Story) -> None:
        # The monitoring reports' due dates, now planned from the payment decision.
        dues = sorted(
            m.due
            for m in self.planned()
            if m.key.startswith("monitoring") and not m.key.endswith("claim")
        )
        mon_cats = [
            c.id
            for c in catalog().definition(p.program, p.track).categories
            if c.phase == "monitoring" and c.id in p.estimates
        ]
        stop_after = self.rng.randint(1, len(dues)) if p.stop_at == "monitoring" else None
        for period, due in enumerate(dues, 1):
            if period == stop_after:
                self.stop_here("monitoring")
            reported = self.cal.next_business_day(due - timedelta(days=self.rng.randint(0, 30)))
            reported = max(reported, self.cal.add_business_days(self.last, 1))
            self.fact(Report(reported), reported)
            claimed = self.bd(reported, 0, 5)
            if p.program == "405":  # the 伴走 fee is billed as it accrues: cumulative
                cat = mon_cats[0]
                fee = p.actuals[cat] * period // len(dues)
            else:
                cat = mon_cats[period - 1] if len(dues) == len(mon_cats) else mon_cats[-1]
                fee = p.actuals[cat]
            self.fact(Fee(cat, fee, claimed), claimed)
            self.move("claim_monitoring", claimed)
            # A claim left unpaid: the latest one the story reaches by today.
            upcoming = dues[period] - timedelta(days=30) if period < len(dues) else None
            if p.stop_at == "monitoring_claim" and (upcoming is None or upcoming > self.today):
                raise Stop
            last = period == len(dues)
            self.move("complete" if last else "pay_monitoring", self.bd(claimed, 5, 20))


# ---------------------------------------------------------------- the use case


def _company(s: Session, info: dict[str, object], now: datetime) -> CompanyState:
    """What `Kaizen.add_company` writes (the drawn values are valid by construction)."""
    number = info["number"]
    key = store.next_company_key(s) if number is None else validate_corporate_number(str(number))
    company = CompanyState(
        key=key,
        name=str(info["name"]),
        fiscal_year_end=int(str(info["fiscal_year_end"])),
        industry=str(info["industry"]),
        capital=None if info["capital"] is None else int(str(info["capital"])),
        employees=int(str(info["employees"])),
        legal_form=canonical_legal_form(str(info["legal_form"])),
    )
    store.insert_companies(s, [company], now)
    return company


def _count_cases(k: Kaizen) -> int:
    with k.db.reading() as s:
        return int(s.scalar(select(func.count()).select_from(Case)) or 0)


def clear_cases(s: Session) -> None:
    """Delete every case and company row (all tables but councils, officers and meta).

    On PostgreSQL the events table refuses DELETE (an append-only trigger, migration 0001):
    the reset empties the tables with one TRUNCATE, which row triggers do not see. `run_demo`
    only ever does this to a database the demo made.
    """
    conn = s.connection()
    present = set(inspect(conn).get_table_names())
    tables = [
        t
        for t in reversed(Base.metadata.sorted_tables)
        if t.name not in KEPT_TABLES and t.name in present
    ]
    if conn.dialect.name == "postgresql":
        s.execute(text(f"TRUNCATE {', '.join(t.name for t in tables)} RESTART IDENTITY"))
    else:
        for table in tables:
            s.execute(delete(table))


def _made_by_demo(k: Kaizen) -> bool:
    with k.db.reading() as s:
        return s.get(Meta, "demo.seed") is not None


def run_demo(
    settings: Settings,
    clock: Clock,
    actor_id: str,
    *,
    seed: int = DEFAULT_SEED,
    cases: int = DEFAULT_CASES,
    force: bool = False,
) -> tuple[Kaizen, DemoResult]:
    """Fill the configured database with the sample; returns the engine and a summary."""
    if isinstance(cases, bool) or not MIN_CASES <= cases <= MAX_CASES:
        raise InvalidInput(f"--cases は {MIN_CASES} から {MAX_CASES} です: {cases}")
    started = time.perf_counter()
    k, init = init_database(settings, clock, actor_id)
    with translate_errors(settings.db_url):
        return _fill(k, init.admin_created, settings, clock, actor_id, seed, cases, force, started)


def _fill(
    k: Kaizen,
    admin_created: str | None,
    settings: Settings,
    clock: Clock,
    actor_id: str,
    seed: int,
    cases: int,
    force: bool,
    started: float,
) -> tuple[Kaizen, DemoResult]:
    today = today_jst(clock)
    existing = _count_cases(k)
    admin = k.whoami(actor_id)
    if admin.role != "admin":
        raise PermissionDenied(f"デモデータの作成は管理者 (admin) のみが行えます ({actor_id})")
    demo_db = _made_by_demo(k)
    if existing and not force:
        raise Conflict(
            f"データベースには既に案件が {existing} 件あります: デモで作り直すには --force "
            "(案件と会社を削除します)"
        )
    if existing and not demo_db:
        # --force resets a demo, never a council's own data.
        raise Conflict(
            f"このデータベースの案件 {existing} 件はデモで作られたものではありません: 削除しません "
            "(新しいデータベースで実行してください: KAIZEN_DB=demo.db kaizen demo)"
        )
    if force and demo_db:
        with k.db.transaction() as s:
            clear_cases(s)
    draw = Draw(seed, today, k.calendar)
    people = draw.officers()
    with k.db.reading() as s:
        have = set(s.scalars(select(Officer.id)))
    for oid, name, code, role in people:
        if oid not in have:
            k.add_officer(actor_id, oid, name=name, council=code, role=role)
    plans = draw.plans(cases, people)
    story_clock = FixedClock(clock.now())
    eng = Kaizen(k.db, settings, story_clock, k.calendar)
    with k.db.transaction() as s:
        player = _Player(eng, s, story_clock, today)
        for p in plans:
            info = p.company
            player.at(p.opened)
            company = _company(s, info, story_clock.now())
            for prog, track, fy, paid in p.prior:
                s.add(
                    PriorUse(
                        company_key=company.key,
                        program=prog,
                        track=track,
                        fiscal_year=fy,
                        paid=paid,
                        note="Kaizen 導入前の利用 (デモ)",
                        recorded_at=story_clock.now(),
                        recorded_by=p.officer,
                    )
                )
            s.flush()
            player.play(p, company)
        player.flush()
    with k.db.transaction() as s:
        stages = {
            st: int(n) for st, n in s.execute(select(Case.stage, func.count()).group_by(Case.stage))
        }
        for key, value in (
            ("demo.seed", str(seed)),
            ("demo.cases", str(cases)),
            ("demo.day", today.isoformat()),
        ):
            s.merge(Meta(key=key, value=value))
    return k, DemoResult(
        url=settings.db_url,
        seed=seed,
        cases=sum(stages.values()),
        companies=len(plans),
        officers=len(people),
        seconds=round(time.perf_counter() - started, 2),
        today=today,
        admin_created=admin_created,
        stages=stages,
    )
