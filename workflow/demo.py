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
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, func, inspect, select, text
from sqlalchemy.orm import Session

from states.calendar import BusinessCalendar, fiscal_year
from states.eligibility import canonical_legal_form
from states.ids import make_corporate_number, validate_corporate_number
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
FIRST_DAY = date(2022, 4, 18)  # 2022年度, after the GL track opened (2022-04-15)
KEPT_TABLES = ("councils", "officers", "kaizen_meta", "alembic_version")
BATCH = 100  # stories written per batch

# ---------------------------------------------------------------- the cast

PREFS: dict[str, tuple[str, int]] = {  # council -> (romaji for ids, weight in the sample)
    "40": ("fukuoka", 30),
    "41": ("saga", 8),
    "42": ("nagasaki", 11),
    "43": ("kumamoto", 15),
    "44": ("oita", 11),
    "45": ("miyazaki", 10),
    "46": ("kagoshima", 15),
}
PLACES = {
    "40": ("博多", "天神", "久留米", "北九州", "飯塚", "大牟田", "糸島", "宗像", "柳川", "直方"),
    "41": ("佐賀", "唐津", "鳥栖", "伊万里", "武雄", "有田", "嬉野", "鹿島"),
    "42": ("長崎", "佐世保", "諫早", "大村", "島原", "平戸", "五島", "雲仙"),
    "43": ("熊本", "八代", "天草", "人吉", "玉名", "菊池", "阿蘇", "水俣"),
    "44": ("大分", "別府", "中津", "日田", "佐伯", "臼杵", "由布", "杵築"),
    "45": ("宮崎", "都城", "延岡", "日南", "日向", "小林", "高千穂", "西都"),
    "46": ("鹿児島", "薩摩", "霧島", "鹿屋", "指宿", "奄美", "出水", "枕崎"),
}
WORDS = ("", "", "", "中央", "第一", "共栄", "みらい", "九州", "西日本", "大和", "あさひ", "丸")
TRADES = (  # (suffix, industry)
    ("製作所", "manufacturing"),
    ("工業", "manufacturing"),
    ("精工", "manufacturing"),
    ("食品", "manufacturing"),
    ("酒造", "manufacturing"),
    ("印刷", "manufacturing"),
    ("水産", "wholesale"),
    ("商事", "wholesale"),
    ("物産", "wholesale"),
    ("建設", "other"),
    ("土木", "other"),
    ("運輸", "other"),
    ("設備", "other"),
    ("観光", "services"),
    ("ホテル", "services"),
    ("商店", "retail"),
    ("自動車販売", "retail"),
)
SURNAMES = (
    ("田中", "tanaka"),
    ("佐藤", "sato"),
    ("鈴木", "suzuki"),
    ("高橋", "takahashi"),
    ("渡辺", "watanabe"),
    ("伊藤", "ito"),
    ("山本", "yamamoto"),
    ("中村", "nakamura"),
    ("小林", "kobayashi"),
    ("吉田", "yoshida"),
    ("山田", "yamada"),
    ("松本", "matsumoto"),
    ("井上", "inoue"),
    ("木村", "kimura"),
    ("林", "hayashi"),
    ("清水", "shimizu"),
    ("森", "mori"),
    ("池田", "ikeda"),
    ("橋本", "hashimoto"),
    ("前田", "maeda"),
    ("藤田", "fujita"),
    ("後藤", "goto"),
    ("岡田", "okada"),
    ("村上", "murakami"),
    ("坂本", "sakamoto"),
    ("西村", "nishimura"),
    ("福田", "fukuda"),
    ("松田", "matsuda"),
    ("中島", "nakashima"),
    ("原田", "harada"),
)
GIVEN = ("健一", "陽子", "大輔", "美咲", "誠", "直子", "翔太", "恵", "浩二", "由美", "拓也", "真理")
BANKS = {
    "40": ("福岡銀行", "西日本シティ銀行", "福岡中央銀行", "北九州銀行", "福岡ひびき信用金庫"),
    "41": ("佐賀銀行", "佐賀共栄銀行", "九州ひぜん信用金庫", "唐津信用金庫"),
    "42": ("十八親和銀行", "長崎銀行", "たちばな信用金庫"),
    "43": ("肥後銀行", "熊本銀行", "熊本第一信用金庫", "熊本中央信用金庫"),
    "44": ("大分銀行", "豊和銀行", "大分信用金庫", "大分みらい信用金庫"),
    "45": ("宮崎銀行", "宮崎太陽銀行", "高鍋信用金庫", "宮崎第一信用金庫"),
    "46": ("鹿児島銀行", "南日本銀行", "鹿児島相互信用金庫", "鹿児島信用金庫"),
}
NATIONAL = ("日本政策金融公庫", "商工中金")
ADVISORS = (
    "税理士法人{place}会計",
    "{surname}公認会計士事務所",
    "中小企業診断士 {surname}{given}",
    "九州経営支援株式会社",
    "{place}経営コンサルティング株式会社",
    "税理士法人{surname}総合会計",
)
REJECT = ("事業の継続性が見込めないため", "債務超過の解消見通しが立たないため")
WITHDRAW = (
    "経営者の判断により取下げ",
    "自力での資金繰り改善にめどが立ったため",
    "事業承継の方針変更のため",
)
DISCONTINUE = (
    "事業停止のため",
    "破産手続開始の申立てがあったため",
    "代表者の体調不良により支援中止",
)
REVISE = ("金融機関から返済計画の見直しを求められた", "メインバンクから数値計画の修正依頼")
REUSE_REASON = "前回は新型コロナによる売上減少、今回は原材料価格の高騰による収益悪化で要因が異なる"
AFFECTED = ("covid", "oil", "ukraine")


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


@dataclass
class _Plan:
    """One case's story, drawn up front from the seed (dates are filled in as it plays)."""

    council: str
    officer: str
    supervisor: str
    program: str
    track: str
    opened: date
    company: dict[str, object]
    advisor: str
    lenders: list[str]
    estimates: dict[str, int]
    actuals: dict[str, int]
    interim: bool = False
    guarantee_release: bool = False
    affected: tuple[str, ...] = ()
    prior: tuple[tuple[str, str, int, int], ...] = ()  # (program, track, 年度, paid)
    reuse_reason: str | None = None
    outcome: str = "normal"  # normal, reject, withdraw, discontinue, stall
    stop_at: str | None = None  # stage where the story stops (stall / close there)
    revise: bool = False
    gaps: list[int] = field(default_factory=list)


class _Stop(Exception):
    """The story has reached today (or its planned stop): the rest has not happened yet."""


# ---------------------------------------------------------------- drawing the stories


class _Draw:
    def __init__(self, seed: int, today: date, cal: BusinessCalendar) -> None:
        self.rng = random.Random(seed)
        self.today = today
        self.cal = cal
        self.names: set[str] = set()
        self.numbers: set[str] = set()

    def bd(self, d: date, lo: int, hi: int) -> date:
        return self.cal.add_business_days(d, self.rng.randint(lo, hi))

    def officers(self) -> list[tuple[str, str, str, str]]:
        """(id, name, council, role): three or four officers and a supervisor per council."""
        out = []
        for code, (romaji, weight) in PREFS.items():
            people = self.rng.sample(SURNAMES, 5 if weight >= 15 else 4)
            for i, (kanji, roman) in enumerate(people):
                role = "supervisor" if i == 0 else "officer"
                name = f"{kanji} {self.rng.choice(GIVEN)}"
                out.append((f"{romaji}.{roman}", name, code, role))
        return out

    def company(self, council: str) -> dict[str, object]:
        r = self.rng
        place = r.choice(PLACES[council])
        if r.random() < 0.03:
            kanji = r.choice(SURNAMES)[0]
            name = f"{kanji}{r.choice(('商店', '工務店', '鮮魚店'))} ({place})"
            form, industry, capital = "個人事業主", "retail", None
        else:
            suffix, industry = r.choice(TRADES)
            word = r.choice(WORDS)
            form = r.choices(("株式会社", "有限会社", "合同会社"), (80, 15, 5))[0]
            core = f"{place}{word}{suffix}"
            name = f"{form}{core}" if r.random() < 0.7 else f"{core}{form}"
            small = industry in ("retail", "services")  # SME limits: 5,000万円 (rules.md §7)
            capital = r.choice((3, 5, 10, 10, 20, 30) if small else (3, 5, 10, 20, 30, 50, 80))
            capital *= 1_000_000
        while name in self.names:
            name = name + "・" + r.choice(PLACES[council])
        self.names.add(name)
        number = None
        if form != "個人事業主":
            while number is None or number in self.numbers:
                number = make_corporate_number(f"{r.randrange(10**11, 10**12):012d}")
            self.numbers.add(number)
        return {
            "number": number,
            "name": name,
            "fiscal_year_end": r.choices((3, 6, 9, 12, 5, 8), (45, 10, 15, 15, 8, 7))[0],
            "industry": industry,
            "capital": capital,
            "employees": r.randint(3, 45) if industry == "retail" else r.randint(4, 95),
            "legal_form": form,
        }

    def _yen(self, lo: int, hi: int, unit: int) -> int:
        return self.rng.randint(lo // unit, hi // unit) * unit

    def money(
        self, program: str, track: str, interim: bool, guarantee: bool
    ) -> tuple[dict[str, int], dict[str, int]]:
        r = self.rng
        est: dict[str, int] = {}
        if program == "405" and track == "normal":
            tier = r.choices(
                ((900_000, 1_500_000), (1_500_000, 3_000_000), (3_000_000, 4_500_000)), (40, 45, 15)
            )[0]
            total = self._yen(*tier, 10_000)
            mon = total * r.randint(15, 33) // 100 // 10_000 * 10_000
            est = {"dd_plan": total - mon, "monitoring": mon}
            if guarantee:
                est["bank_negotiation"] = self._yen(100_000, 150_000, 10_000)
        elif program == "405":
            est = {
                "dd": self._yen(1_000_000, 3_500_000, 10_000),
                "plan": self._yen(1_500_000, 4_000_000, 10_000),
                "monitoring": self._yen(500_000, 1_500_000, 10_000),
            }
        else:
            est = {
                "plan": self._yen(150_000, 330_000, 1_000),
                "monitoring_year_end": self._yen(50_000, 90_000, 1_000),
            }
            if interim:
                est["monitoring_interim"] = self._yen(50_000, 75_000, 1_000)
            if track == "guarantee":
                est["bank_negotiation"] = self._yen(100_000, 160_000, 1_000)
        act = {}
        for k, v in est.items():
            u = r.random()
            f = 1.0 if u < 0.7 else r.uniform(0.85, 0.98) if u < 0.9 else r.uniform(1.05, 1.2)
            act[k] = int(v * f) // 1_000 * 1_000
        return est, act

    def plans(self, n: int, officers: list[tuple[str, str, str, str]]) -> list[_Plan]:
        r = self.rng
        first = max(FIRST_DAY, self.today - timedelta(days=int(365.25 * 4.6)))
        span = (self.today - timedelta(days=3) - first).days
        if span < 60:
            raise InvalidInput(
                f"デモの日付が早すぎます ({self.today}): 2022-07 以降で実行してください"
            )
        by_council: dict[str, list[str]] = {}
        sup: dict[str, str] = {}
        for oid, _, code, role in officers:
            if role == "supervisor":
                sup[code] = oid
            else:
                by_council.setdefault(code, []).append(oid)
        codes = list(PREFS)
        weights = [w for _, w in PREFS.values()]
        out = []
        for _ in range(n):
            council = r.choices(codes, weights)[0]
            # A few more cases in recent years, as the programs grew.
            opened = self.cal.next_business_day(
                first + timedelta(days=int(span * r.random() ** 0.8))
            )
            if opened > self.today:
                opened = self.cal.previous_business_day(self.today)
            program = r.choices(("405", "early"), (55, 45))[0]
            track = (
                r.choices(("normal", "gl"), (75, 25))[0]
                if program == "405"
                else r.choices(("normal", "guarantee"), (70, 30))[0]
            )
            interim = program == "early" and r.random() < 0.35
            guarantee = program == "405" and track == "normal" and r.random() < 0.15
            est, act = self.money(program, track, interim, guarantee)
            place = r.choice(PLACES[council])
            kanji = r.choice(SURNAMES)[0]
            advisor = r.choice(ADVISORS).format(place=place, surname=kanji, given=r.choice(GIVEN))
            banks = list(BANKS[council])
            nl = r.choice((2, 2, 3, 3, 4)) if program == "405" else r.choice((1, 1, 2))
            lenders = [banks[0] if r.random() < 0.6 else r.choice(banks)]
            pool = [b for b in (*banks, *NATIONAL) if b not in lenders]
            lenders += r.sample(pool, nl - 1)
            p = _Plan(
                council=council,
                officer=r.choice(by_council[council]),
                supervisor=sup[council],
                program=program,
                track=track,
                opened=opened,
                company=self.company(council),
                advisor=advisor,
                lenders=lenders,
                estimates=est,
                actuals=act,
                interim=interim,
                guarantee_release=guarantee,
                revise=r.random() < 0.15,
                gaps=[r.randint(0, 10**6) for _ in range(40)],
            )
            age = (self.today - opened).days
            u = r.random()
            if u < 0.04:
                p.outcome = "reject"
            elif u < 0.10:
                p.outcome = "withdraw"
                p.stop_at = r.choice(
                    ("consultation", "application", "planning", "bank_negotiation")
                )
            elif u < 0.14:
                p.outcome = "discontinue"
                p.stop_at = r.choice(("planning", "bank_negotiation", "monitoring"))
            elif u < 0.26 and age < 540:
                p.outcome = "stall"
                p.stop_at = r.choice(
                    ("consultation", "application", "planning", "bank_negotiation", "payment_claim")
                )
            if p.company["legal_form"] != "個人事業主" and r.random() < 0.07:
                self._reuse(p)
            out.append(p)
        self._cover(out)
        out.sort(key=lambda p: (p.opened, p.council))
        return out

    def _reuse(self, p: _Plan) -> None:
        """A company that used the programs before: R4/R5 affected firms, R6+ 405 exceptions."""
        r = self.rng
        apply_by = p.opened + timedelta(days=45)
        if apply_by < date(2024, 3, 1):
            prog = r.choice(("405", "early"))
            paid = self._yen(1_000_000, 2_000_000, 10_000) if prog == "405" else 100_000
            p.prior = ((prog, "normal", r.choice((2018, 2019, 2020)), paid),)
            p.affected = (r.choice(AFFECTED),)
        elif p.opened >= date(2024, 4, 1) and p.program == "405":
            p.prior = (
                (
                    "405",
                    "normal",
                    r.choice((2017, 2018, 2019)),
                    self._yen(800_000, 1_800_000, 10_000),
                ),
            )
            p.reuse_reason = REUSE_REASON

    def _cover(self, plans: list[_Plan]) -> None:
        """Every stage appears: a few cases are made to stop at each one (deterministically)."""
        wanted = [
            ("stall", "consultation", 60, 400),
            ("stall", "application", 60, 400),
            ("stall", "due_diligence", 90, 400),
            ("stall", "planning", 120, 500),
            ("stall", "bank_negotiation", 150, 500),
            ("stall", "payment_claim", 200, 600),
            ("stall", "monitoring_claim", 700, 1400),
            ("reject", "application", 60, 1500),
            ("withdraw", "planning", 120, 1500),
            ("discontinue", "monitoring", 500, 1500),
        ]
        used: set[int] = set()
        for outcome, stage, young, old in wanted:
            for _ in range(2 if len(plans) >= 100 else 1):
                pool = [
                    i
                    for i, p in enumerate(plans)
                    if i not in used
                    and p.outcome == "normal"
                    and not p.prior
                    and young <= (self.today - p.opened).days <= old
                    and (stage != "due_diligence" or p.program == "405")
                ]
                if not pool:
                    continue
                i = self.rng.choice(pool)
                used.add(i)
                plans[i].outcome = outcome
                plans[i].stop_at = stage


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
        self.plan: _Plan | None = None
        self.snap: Snapshot | None = None
        self.changes: ChangeSet | None = None
        self.done: list[ChangeSet] = []
        self.last = today

    def at(self, d: date) -> None:
        if d > self.today:
            raise _Stop
        self.clock.at = datetime(d.year, d.month, d.day, 1, 0, tzinfo=UTC)  # 10:00 JST

    def bd(self, d: date, lo: int, hi: int) -> date:
        return self.cal.add_business_days(d, self.rng.randint(lo, hi))

    def actor(self, actor_id: str) -> Actor:
        if actor_id not in self.actors:
            self.actors[actor_id] = self.eng.whoami(actor_id)
        return self.actors[actor_id]

    def _state(self) -> tuple[_Plan, Snapshot, ChangeSet]:
        assert self.plan is not None and self.snap is not None and self.changes is not None
        return self.plan, self.snap, self.changes

    def _take(self, d: Decision) -> None:
        """Keep a decision: its events stamped with the story's clock, merged into the story."""
        at = self.clock.now()
        d.changes.events = [replace(e, at=at) for e in d.changes.events]
        self.snap = d.after
        self.changes = d.changes if self.changes is None else self.changes.merge(d.changes)

    def open(self, p: _Plan, company: CompanyState) -> None:
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
        raise _Stop

    # -------------------------------------------------------- a story

    def play(self, p: _Plan, company: CompanyState) -> None:
        self.rng = random.Random(p.gaps[0])
        self.open(p, company)
        self.last = p.opened
        with contextlib.suppress(_Stop):
            self._story(p)
        self.finish()

    def _story(self, p: _Plan) -> None:
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
            raise _Stop
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

    def _monitor(self, p: _Plan) -> None:
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
                raise _Stop
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
    draw = _Draw(seed, today, k.calendar)
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
