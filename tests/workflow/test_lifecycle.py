"""Whole lives of cases, from `case open` to `completed`, through the CLI on both backends.

Three lives (issue 3, "Done means"): a 405 normal case, a 405 GL case and an early case with
期中 monitoring. Each runs every transition with `kaizen case advance`, records every fact with
the CLI, and tries refused steps on the way; a refused step must exit with its code, print one
line on stderr, and leave `case show --json` exactly as it was (stage, version, events).
The rest of the file follows the engine's road: pinned rule versions, exits, known bugs.
"""

from __future__ import annotations

import gc
import json
import warnings
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from states.ids import make_corporate_number
from tests.conftest import Result, World
from tests.workflow.conftest import SQLITE_ONLY, Driver, set_today

NOW = "2030-01-15T10:00:00+09:00"  # every --on below is before it
COMPANY = make_corporate_number("123456789012")

SHOW_KEYS = {
    "id",
    "program",
    "track",
    "stage",
    "stage_label",
    "council",
    "company",
    "rule_version",
    "triggers",
    "milestones",
    "events",
}
MILESTONE_KEYS = {"key", "label", "stage", "due", "done"}
EVENT_KEYS = {"trigger", "from", "to", "at", "actor"}
SUBSIDY_KEYS = {"category", "estimate", "actual", "cap", "subsidy"}
MONITORING_DATES = [
    "2026-12-20",
    "2027-07-20",
    "2027-12-20",
    "2028-07-20",
    "2028-12-20",
    "2029-07-20",
]


class Cli:
    """`kaizen` on one database, with the clock pinned at NOW and tanaka acting by default.

    It remembers the last `case show` document each command printed for a case, so that a
    refused command is checked against it with a single fresh `case show --json`.
    """

    def __init__(self, run: Callable[..., Any], db: str) -> None:
        self.run, self.db = run, db
        self.docs: dict[str, dict[str, Any]] = {}
        self.calls = 0
        self.pg = db.startswith("postgresql")

    def __call__(self, *args: str, user: str = "tanaka") -> Result:
        self.calls += 1
        r: Result = self.run(*args, user=user, db=self.db, now=NOW)
        return r

    def ok(self, *args: str, user: str = "tanaka") -> Result:
        r = self(*args, user=user)
        assert r.code == 0, (args, r.err)
        assert r.err == ""
        return r

    def json(self, *args: str, user: str = "tanaka") -> Any:
        doc = json.loads(self.ok(*args, "--json", user=user).out)
        if isinstance(doc, dict) and "events" in doc and "stage" in doc:
            assert set(doc) >= SHOW_KEYS
            for m in doc["milestones"]:
                assert set(m) >= MILESTONE_KEYS
            for e in doc["events"]:
                assert set(e) >= EVENT_KEYS
            self.docs[doc["id"]] = doc
        return doc

    def show(self, case: str) -> dict[str, Any]:
        doc: dict[str, Any] = self.json("case", "show", case)
        return doc

    def fact(self, case: str, *args: str, user: str = "tanaka") -> Any:
        """`kaizen case FACT CASE …`: one more event, same stage."""
        before = self.docs[case]
        doc = self.json("case", args[0], case, *args[1:], user=user)
        # version: >=, not > (a fact under a pinned clock does not bump it: see
        # test_concurrency.py::test_a_fact_bumps_the_case_version)
        assert doc["stage"] == before["stage"] and doc["version"] >= before["version"]
        assert doc["events"][:-1] == before["events"]
        assert doc["events"][-1]["trigger"] == args[0]
        return doc

    def advance(self, case: str, trigger: str, on: str, *extra: str, user: str = "tanaka") -> Any:
        before = self.docs[case]
        doc = self.json("case", "advance", case, trigger, "--on", on, *extra, user=user)
        assert doc["version"] > before["version"]
        last = doc["events"][-1]
        assert (last["trigger"], last["from"], last["to"], last["actor"], last["on"]) == (
            trigger,
            before["stage"],
            doc["stage"],
            user,
            on,
        )
        assert doc["events"][:-1] == before["events"]
        return doc

    def refused(self, code: int, needle: str, case: str, *args: str, user: str = "tanaka") -> str:
        """Run a command that must fail and leave the case exactly as it was."""
        before = self.docs[case]
        r = self(*args, user=user)
        assert r.code == code, (args, r.code, r.err)
        assert r.err.startswith("kaizen: ") and r.err.endswith("\n")
        assert r.err.count("\n") == 1, r.err
        assert "Traceback" not in r.err and r.out == ""
        assert needle in r.err, r.err
        assert self.show(case) == before  # stage, version, events, facts: all unchanged
        return r.err


@pytest.fixture
def cli(run_cli: Callable[..., Any], db_url: str) -> Iterator[Cli]:
    """A database initialised with `kaizen init` (already migrated: init must still work)."""
    c = Cli(run_cli, db_url)
    r = c("init", user="admin")
    assert r.code == 0, r.err
    assert "管理者 admin を作成しました" in r.out
    c.ok("officer", "add", "tanaka", "--name", "田中", "--council", "40", user="admin")
    c.ok(
        "company", "add", "--number", COMPANY, "--name", "株式会社テスト製作所",
        "--fiscal-year-end", "5", "--industry", "manufacturing", "--capital", "10000000",
        "--employees", "20",
    )  # fmt: skip
    yield c


def _open(cli: Cli, program: str, track: str, on: str, *extra: str) -> dict[str, Any]:
    doc: dict[str, Any] = cli.json(
        "case", "open", "--company", COMPANY, "--program", program, "--track", track,
        "--council", "40", "--advisor", "博多会計事務所", "--on", on, *extra,
    )  # fmt: skip
    assert (doc["program"], doc["track"], doc["stage"], doc["stage_label"]) == (
        program,
        track,
        "consultation",
        "相談",
    )
    assert doc["council"] == "40" and doc["company"] == COMPANY
    assert doc["rule_version"] is None  # picked at apply, not before
    assert doc["triggers"] == ["apply", "withdraw", "discontinue"]
    assert [(e["trigger"], e["from"], e["to"], e["actor"]) for e in doc["events"]] == [
        ("open", None, "consultation", "tanaka")
    ]
    return doc


def _subsidy(cli: Cli, case: str) -> dict[str, Any]:
    doc: dict[str, Any] = cli.json("subsidy", case)
    assert {"categories", "total"} <= set(doc)
    for line in doc["categories"]:
        assert set(line) >= SUBSIDY_KEYS
    return doc


def _lines(doc: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {
        x["category"]: (x["estimate"], x["actual"], x["cap"], x["subsidy"])
        for x in doc["categories"]
    }


# name: (exit code, stderr needle, `case …` command after CASE, actor)
REFUSALS: dict[str, tuple[int, str, tuple[str, ...], str]] = {
    "future": (2, "未来の日付", ("advance", "withdraw", "--on", "2030-01-16", "--reason", "x"),
               "tanaka"),
    "unknown_trigger": (2, "不明なトリガー 'fly'", ("advance", "fly"), "tanaka"),
    "not_allowed": (5, "から agree はできません", ("advance", "agree"), "tanaka"),
    "no_reason": (6, "理由 (--reason)", ("advance", "withdraw"), "tanaka"),
    "other_council": (3, "が見つかりません", ("show",), "saga"),
}  # fmt: skip


def _refusals(cli: Cli, cid: str, *names: str) -> None:
    """Refusals a case gets in its first stage: bad dates, triggers, people."""
    for name in names:
        code, needle, (cmd, *rest), user = REFUSALS[name]
        cli.refused(code, needle, cid, "case", cmd, cid, *rest, user=user)


def _monitoring(
    cli: Cli,
    cid: str,
    periods: int,
    fees: dict[int, tuple[str, str]],
    refuse: tuple[str, ...] = (),
    dates: list[str] = MONITORING_DATES,
) -> dict[str, Any]:
    """Report, claim and pay every period (each once it is over); `refuse` the wrong ways.

    claim: claiming before the period's report; complete: completing with periods left;
    pay: paying (instead of completing) the last period.
    """
    doc: dict[str, Any] = {}
    for n in range(1, periods + 1):
        on = dates[n - 1]
        if n == 1 and "claim" in refuse:
            cli.refused(6, "第1期のモニタリング報告が未登録です", cid, "case", "advance", cid,
                        "claim_monitoring", "--on", on)  # fmt: skip
        if n in fees:
            cat, yen = fees[n]
            cli.fact(cid, "fee", cat, yen, "--on", on)
        cli.fact(cid, "report", "--on", on)
        cli.advance(cid, "claim_monitoring", on)
        if n < periods:
            if n == 1 and "complete" in refuse:
                cli.refused(6, f"モニタリング期間が残っています (あと{periods - 1}期)", cid,
                            "case", "advance", cid, "complete", "--on", on)  # fmt: skip
            doc = cli.advance(cid, "pay_monitoring", on)
            assert doc["periods_paid"] == n and doc["stage"] == "monitoring"
        else:
            if "pay" in refuse:
                cli.refused(6, f"第{n}期が最終期です", cid, "case", "advance", cid,
                            "pay_monitoring", "--on", on)  # fmt: skip
            doc = cli.advance(cid, "complete", on)
    assert doc["stage"] == "completed" and doc["stage_label"] == "完了"
    assert doc["triggers"] == [] and doc["periods_paid"] == periods
    assert all(m["done"] for m in doc["milestones"])  # a closed case chases nothing
    assert [e["seq"] for e in doc["events"]] == list(range(1, len(doc["events"]) + 1))
    return doc


def test_405_normal_whole_life(cli: Cli) -> None:
    again = cli("init", user="admin")  # already initialised: no second admin, no second seed
    assert again.code == 0 and "作成しました" not in again.out
    cli.ok("officer", "add", "boss", "--name", "統括", "--council", "40", "--role", "supervisor",
           user="admin")  # fmt: skip
    doc = _open(cli, "405", "normal", "2026-04-01")
    cid = doc["id"]
    assert cid == "40-2026-0001"
    assert doc == cli.show(cid)  # `case open --json` prints the `case show --json` document
    _refusals(cli, cid, "not_allowed")

    # apply: every missing fact is reported at once, then recorded one by one.
    err = cli.refused(6, "apply できません", cid, "case", "advance", cid, "apply",
                      "--on", "2026-04-10")  # fmt: skip
    for needle in ("取引金融機関が未登録", "履歴事項全部証明書の発行日が未登録", "見積額が未登録"):
        assert needle in err
    cli.fact(cid, "lender", "福岡銀行")
    cli.fact(cid, "lender", "西日本シティ銀行")
    cli.fact(cid, "certificate", "--issued", "2026-01-09")  # 3 months and a day on 04-10
    cli.fact(cid, "estimate", "dd_plan", "2,400,000")
    cli.fact(cid, "estimate", "monitoring", "2400001")  # more than half of the total
    err = cli.refused(6, "履歴事項全部証明書が古すぎます", cid, "case", "advance", cid,
                      "apply", "--on", "2026-04-10")  # fmt: skip
    assert "2分の1を超えています" in err
    cli.fact(cid, "certificate", "--issued", "2026-01-10")  # exactly 3 months
    cli.fact(cid, "estimate", "monitoring", "2400000")  # exactly half
    doc = cli.advance(cid, "apply", "2026-04-10")
    assert (doc["stage"], doc["stage_label"], doc["rule_version"]) == (
        "application",
        "利用申請",
        "R7",
    )
    assert doc["triggers"] == ["accept", "reject", "withdraw", "discontinue"]
    doc = cli.advance(cid, "accept", "2026-04-20")
    assert doc["stage"] == "due_diligence" and doc["valid_until"] is not None
    doc = cli.fact(cid, "extend", "--until", "2028-12-28", "--reason", "金融機関調整の長期化",
                   user="boss")  # fmt: skip
    assert doc["valid_until"] == "2028-12-28"

    cli.advance(cid, "start_planning", "2026-05-01")
    cli.fact(cid, "plan", "--on", "2026-05-31")
    cli.advance(cid, "submit_plan", "2026-06-01")
    cli.fact(cid, "consent", "福岡銀行", "--on", "2026-07-01")
    err = cli.refused(6, "同意書が未提出の金融機関: 西日本シティ銀行", cid, "case", "advance",
                      cid, "agree", "--on", "2026-07-02")  # fmt: skip
    assert "福岡銀行" not in err
    cli.fact(cid, "consent", "西日本シティ銀行", "--on", "2026-07-01")
    cli.advance(cid, "agree", "2026-07-02")
    cli.refused(6, "支払額 (実績) が未登録の費用区分: DD・計画策定支援費用", cid, "case",
                "advance", cid, "decide_payment", "--on", "2026-07-15")  # fmt: skip
    cli.fact(cid, "fee", "dd_plan", "2400000", "--on", "2026-07-10")
    doc = cli.advance(cid, "decide_payment", "2026-07-15")
    assert doc["stage"] == "monitoring" and doc["periods_total"] == 6

    sub = _subsidy(cli, cid)
    assert _lines(sub) == {
        "dd_plan": (2_400_000, 2_400_000, 2_000_000, 1_600_000),
        "monitoring": (2_400_000, None, 1_000_000, 0),
    }
    assert (sub["total"], sub["paid"], sub["withheld"]) == (1_600_000, 800_000, 800_000)

    fees = {1: ("monitoring", "600000"), 3: ("monitoring", "1200000")}
    doc = _monitoring(cli, cid, 6, fees, refuse=("claim", "pay"))
    triggers = [e["trigger"] for e in doc["events"] if e["kind"] == "transition"]
    assert triggers == [
        "open", "apply", "accept", "start_planning", "submit_plan", "agree", "decide_payment",
        *["claim_monitoring", "pay_monitoring"] * 5, "claim_monitoring", "complete",
    ]  # fmt: skip

    sub = _subsidy(cli, cid)
    assert _lines(sub)["monitoring"] == (2_400_000, 1_200_000, 1_000_000, 800_000)
    assert sub["total"] == 2_400_000 == sub["paid"] and sub["withheld"] == 0
    assert [(p["kind"], p["period"], p["amount"]) for p in sub["payments"]] == [
        ("plan_first", None, 800_000),
        ("plan_second", None, 800_000),
        ("monitoring", 1, 400_000),
        ("monitoring", 2, 0),
        ("monitoring", 3, 400_000),
        ("monitoring", 4, 0),
        ("monitoring", 5, 0),
        ("monitoring", 6, 0),
    ]
    human = cli.ok("case", "show", cid)
    assert "完了" in human.out and cid in human.out


def test_405_gl_whole_life(cli: Cli) -> None:
    # A council may shorten 405 monitoring in kaizen.toml (rules.md §5: length unverified,
    # configurable): this life runs two periods; the default six run in the 405 normal life.
    Path("kaizen.toml").write_text('[rules.overrides.R7]\n"monitoring.405.periods" = 2\n', "utf-8")
    cli.ok("officer", "add", "saga", "--name", "佐賀", "--council", "41", user="admin")
    cid = _open(cli, "405", "gl", "2026-04-01")["id"]
    _refusals(cli, cid, "unknown_trigger", "other_council")
    cli.fact(cid, "lender", "福岡銀行")
    cli.fact(cid, "lender", "日本政策金融公庫")
    cli.fact(cid, "certificate", "--issued", "2026-03-01")
    cli.fact(cid, "estimate", "dd", "3300000")
    cli.fact(cid, "estimate", "plan", "3000000")
    err = cli.refused(6, "見積額が未登録の費用区分: 伴走支援費用", cid, "case", "advance", cid,
                      "apply", "--on", "2026-04-10")  # fmt: skip
    assert "DD費用等" not in err
    cli.fact(cid, "estimate", "monitoring", "6400000")  # GL has no "伴走 ≤ half" rule
    cli.advance(cid, "apply", "2026-04-10")
    doc = cli.advance(cid, "accept", "2026-04-20")
    assert doc["stage"] == "due_diligence"
    cli.advance(cid, "start_planning", "2026-05-01")
    cli.fact(cid, "plan", "--on", "2026-06-01")
    cli.advance(cid, "submit_plan", "2026-06-01")
    cli.fact(cid, "consent", "日本政策金融公庫", "--on", "2026-07-01")
    cli.refused(6, "同意書が未提出の金融機関: 福岡銀行", cid, "case", "advance", cid, "agree",
                "--on", "2026-07-02")  # fmt: skip
    cli.fact(cid, "consent", "福岡銀行", "--on", "2026-07-01")
    cli.advance(cid, "agree", "2026-07-02")
    cli.fact(cid, "fee", "dd", "3300000", "--on", "2026-07-10")
    cli.refused(6, "計画策定支援費用 (第三者支援専門家を含む)", cid, "case", "advance", cid,
                "decide_payment", "--on", "2026-07-15")  # fmt: skip
    cli.fact(cid, "fee", "plan", "2999999", "--on", "2026-07-10")
    doc = cli.advance(cid, "decide_payment", "2026-07-15")
    assert doc["periods_total"] == 2
    sub = _subsidy(cli, cid)
    assert _lines(sub) == {
        "dd": (3_300_000, 3_300_000, 3_000_000, 2_200_000),
        "plan": (3_000_000, 2_999_999, 3_000_000, 1_999_999),
        "monitoring": (6_400_000, None, 1_000_000, 0),
    }
    # Only 計画策定支援費用 is split (rules.md §3): DD費用等 (2,200,000) is paid whole; the odd
    # share 1,999,999 is split with its first half floored, the odd yen coming later.
    assert (sub["paid"], sub["withheld"]) == (2_200_000 + 999_999, 1_000_000)

    _monitoring(cli, cid, 2, {2: ("monitoring", "9000000")}, refuse=("complete",))
    sub = _subsidy(cli, cid)
    assert _lines(sub)["monitoring"] == (6_400_000, 9_000_000, 1_000_000, 1_000_000)
    assert sub["total"] == 5_199_999 == sub["paid"]
    assert [(p["kind"], p["period"], p["amount"]) for p in sub["payments"]][:4] == [
        ("plan_first", None, 3_199_999),
        ("plan_second", None, 1_000_000),
        ("monitoring", 1, 0),
        ("monitoring", 2, 1_000_000),
    ]


def test_early_whole_life_with_interim_monitoring(cli: Cli) -> None:
    doc = _open(cli, "early", "normal", "2026-04-01", "--interim-monitoring")
    cid = doc["id"]
    assert doc["interim_monitoring"] is True and doc["periods_total"] == 2
    _refusals(cli, cid, "future", "no_reason")
    cli.fact(cid, "lender", "福岡銀行")
    cli.fact(cid, "certificate", "--issued", "2026-03-01")
    cli.fact(cid, "estimate", "plan", "240000")
    err = cli.refused(6, "見積額が未登録の費用区分: 伴走支援費用 (期中)、伴走支援費用 (決算期)",
                      cid, "case", "advance", cid, "apply", "--on", "2026-04-10")  # fmt: skip
    assert "2分の1" not in err  # the half rule is 405 normal's only
    cli.fact(cid, "estimate", "monitoring_interim", "75000")
    cli.fact(cid, "estimate", "monitoring_year_end", "400000")
    cli.advance(cid, "apply", "2026-04-10")
    doc = cli.advance(cid, "accept", "2026-04-20")
    assert doc["stage"] == "planning"  # early has no DD stage
    assert "start_planning" not in doc["triggers"]
    cli.fact(cid, "plan", "--on", "2026-06-01")
    cli.advance(cid, "submit_plan", "2026-06-01")
    cli.refused(6, "受領書が未登録の金融機関: 福岡銀行", cid, "case", "advance", cid, "agree",
                "--on", "2026-07-02")  # fmt: skip
    cli.fact(cid, "consent", "福岡銀行", "--on", "2026-07-01")
    cli.advance(cid, "agree", "2026-07-02")
    cli.refused(5, "伴走支援費用はモニタリングの段階で", cid, "case", "fee", cid,
                "monitoring_interim", "75000", "--on", "2026-07-10")  # fmt: skip
    cli.fact(cid, "fee", "plan", "240000", "--on", "2026-07-10")
    cli.advance(cid, "decide_payment", "2026-07-15")
    sub = _subsidy(cli, cid)
    assert _lines(sub)["plan"] == (240_000, 240_000, 150_000, 150_000)
    assert (sub["paid"], sub["withheld"]) == (75_000, 75_000)

    fees = {1: ("monitoring_interim", "75000"), 2: ("monitoring_year_end", "75000")}
    # Agreed in 2026-07: the 決算期 is May 2028 (a year after the plan at least), the 期中
    # period six months before it; each report waits for its period to end.
    early = ["2027-12-20", "2028-07-20"]
    cli.refused(2, "期中のモニタリング期間 (2027年11月まで) は 2027-11-30 に終わります", cid,
                "case", "report", cid, "--on", "2027-11-30")  # fmt: skip
    _monitoring(cli, cid, 2, fees, refuse=("complete", "pay"), dates=early)
    sub = _subsidy(cli, cid)
    assert _lines(sub) == {
        "plan": (240_000, 240_000, 150_000, 150_000),
        "monitoring_interim": (75_000, 75_000, 50_000, 50_000),
        "monitoring_year_end": (400_000, 75_000, 50_000, 50_000),
    }
    assert sub["total"] == 250_000 == sub["paid"]
    assert [(p["kind"], p["period"], p["amount"]) for p in sub["payments"]] == [
        ("plan_first", None, 75_000),
        ("plan_second", None, 75_000),
        ("monitoring", 1, 50_000),
        ("monitoring", 2, 50_000),
    ]


# ---------------------------------------------------------------- the engine's road


@SQLITE_ONLY
def test_rule_version_is_picked_at_apply_and_pinned(world: World, drive: Driver) -> None:
    set_today(world, date(2024, 3, 25))
    cid = drive.open("405", "normal")
    drive.prepare_apply(cid)
    set_today(world, date(2024, 4, 2))
    v = drive.k.advance("tanaka", cid, "apply", on=date(2024, 3, 31))
    assert v.rule_version == "R5"
    v = drive.k.advance("tanaka", cid, "accept", on=date(2024, 4, 1))
    assert v.rule_version == "R5"  # filing date decides, never recomputed
    v = drive.to(cid, "completed")
    assert v.rule_version == "R5" and v.periods_total == 6


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("trigger", "stage", "final"),
    [
        ("withdraw", "payment_claim", "withdrawn"),
        ("discontinue", "monitoring_claim", "discontinued"),
        ("reject", "application", "rejected"),
    ],
)
def test_exits_need_a_reason_and_close_the_case(
    drive: Driver, trigger: str, stage: str, final: str
) -> None:
    from workflow.errors import GuardFailed

    cid = drive.new("405", "normal", stage)
    with pytest.raises(GuardFailed, match="理由"):
        drive.step(cid, trigger)
    v = drive.step(cid, trigger, reason="事業者の申出")
    assert (v.stage, v.triggers) == (final, [])
    assert v.events[-1].reason == "事業者の申出"
    assert all(m.done for m in v.milestones)


@SQLITE_ONLY
def test_withdraw_is_not_offered_from_monitoring(drive: Driver) -> None:
    from workflow.errors import NotAllowed

    cid = drive.new("405", "normal", "monitoring")
    with pytest.raises(NotAllowed):
        drive.step(cid, "withdraw", reason="x")
    assert drive.k.show("tanaka", cid).stage == "monitoring"


def test_cli_closes_its_connections(run_cli: Callable[..., Any], db_url: str) -> None:
    gc.collect()  # engines of earlier tests' own fixtures are not this test's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert run_cli("init", user="admin", db=db_url, now=NOW).code == 0
        assert run_cli("case", "list", "--json", user="admin", db=db_url, now=NOW).code == 0
        gc.collect()
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert [str(w.message)[:200] for w in leaks] == []
