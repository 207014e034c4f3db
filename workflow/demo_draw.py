"""The sample `kaizen demo` draws: the cast (councils' officers, company names, lenders,
advisors, reasons) and the stories (`_Draw.plans`), all from one seed. Nothing here touches the
database or the engine; `workflow/demo.py` plays the stories through the decision core."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from states.calendar import BusinessCalendar
from states.ids import make_corporate_number
from workflow.errors import InvalidInput

FIRST_DAY = date(2022, 4, 18)  # 2022年度, after the GL track opened (2022-04-15)

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


@dataclass
class Story:
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


class Stop(Exception):
    """The story has reached today (or its planned stop): the rest has not happened yet."""


# ---------------------------------------------------------------- drawing the stories


class Draw:
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

    def plans(self, n: int, officers: list[tuple[str, str, str, str]]) -> list[Story]:
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
            p = Story(
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

    def _reuse(self, p: Story) -> None:
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

    def _cover(self, plans: list[Story]) -> None:
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
