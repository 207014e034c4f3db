"""Issue 12 through the CLI, on SQLite and PostgreSQL: each story ends unstuck without a false
record, and each refused correction is one line, a distinct exit code and nothing written."""

from __future__ import annotations

import json
from typing import Any

import pytest

from states.ids import make_corporate_number
from tests.conftest import World
from tests.workflow.conftest import snapshot

ON = "2026-06-01"  # the facts before apply are backdated to this day (--on)
NOW = "2026-06-10T10:00:00+09:00"


def ok(run_cli: Any, world: World, *args: str, user: str = "tanaka") -> Any:
    r = run_cli(*args, user=user, db=world.url, now=NOW)
    assert r.code == 0, r.err
    return r


def opened(run_cli: Any, world: World, number: str) -> str:
    r = ok(
        run_cli, world, "case", "open", "--company", number, "--program", "405",
        "--council", "40", "--advisor", "博多会計事務所", "--on", ON, "--json",
    )  # fmt: skip
    cid: str = json.loads(r.out)["id"]
    for args in (
        ("lender", cid, "福岡銀行", "--on", ON),
        ("certificate", cid, "--issued", "2026-05-20", "--on", ON),
        ("estimate", cid, "dd_plan", "2400000", "--on", ON),
        ("estimate", cid, "monitoring", "1200000", "--on", ON),
    ):
        ok(run_cli, world, "case", *args)
    return cid


def to_bank_negotiation(run_cli: Any, world: World, cid: str) -> None:
    for args in (
        ("advance", cid, "apply"),
        ("advance", cid, "accept"),
        ("advance", cid, "start_planning"),
        ("plan", cid),
        ("advance", cid, "submit_plan"),
    ):
        ok(run_cli, world, "case", *args)


def test_missing_capital_then_company_edit_then_apply(run_cli: Any, world: World) -> None:
    number = make_corporate_number("323456789012")
    ok(
        run_cli, world, "company", "add", "--number", number, "--name", "株式会社資本金なし",
        "--fiscal-year-end", "5", "--industry", "manufacturing",
    )  # fmt: skip
    cid = opened(run_cli, world, number)
    r = run_cli("case", "advance", cid, "apply", user="tanaka", db=world.url, now=NOW)
    assert r.code == 6 and "資本金" in r.err
    r = ok(
        run_cli, world, "company", "edit", number, "--capital", "10000000",
        "--employees", "20", "--reason", "登録漏れ", "--json",
    )  # fmt: skip
    assert json.loads(r.out)["changes"] == {"capital": [None, 10000000], "employees": [None, 20]}
    ok(run_cli, world, "case", "advance", cid, "apply")


def test_lender_typo_void_right_lender_consent_agree(run_cli: Any, world: World) -> None:
    cid = opened(run_cli, world, world.company)
    to_bank_negotiation(run_cli, world, cid)
    ok(run_cli, world, "case", "lender", cid, "西日本シテイ銀行")
    events = json.loads(ok(run_cli, world, "case", "history", cid, "--json").out)["events"]
    typo = events[-1]["seq"]
    ok(run_cli, world, "case", "void", cid, str(typo), "--reason", "金融機関名の誤記")
    ok(run_cli, world, "case", "lender", cid, "西日本シティ銀行")
    ok(run_cli, world, "case", "consent", cid, "西日本シティ銀行")
    ok(run_cli, world, "case", "consent", cid, "福岡銀行")
    shown = json.loads(ok(run_cli, world, "case", "advance", cid, "agree", "--json").out)
    assert shown["stage"] == "payment_claim"
    assert [x["name"] for x in shown["lenders"]] == ["福岡銀行", "西日本シティ銀行"]
    doc = json.loads(ok(run_cli, world, "case", "history", cid, "--json").out)
    voided = [e for e in doc["events"] if e["voided_by"] is not None]
    assert [(e["seq"], e["detail"]["lender"]) for e in voided] == [(typo, "西日本シテイ銀行")]
    human = ok(run_cli, world, "case", "history", cid).out
    assert "金融機関名の誤記" in human and "取消" in human


def test_mistaken_agree_reverted_by_a_supervisor(run_cli: Any, world: World) -> None:
    cid = opened(run_cli, world, world.company)
    to_bank_negotiation(run_cli, world, cid)
    ok(run_cli, world, "case", "consent", cid, "福岡銀行")
    ok(run_cli, world, "case", "advance", cid, "agree")
    ok(run_cli, world, "case", "fee", cid, "dd_plan", "2400000")
    ok(run_cli, world, "case", "advance", cid, "decide_payment", user="boss")
    paid = json.loads(ok(run_cli, world, "subsidy", cid, "--json").out)["paid"]
    assert paid > 0
    r = run_cli("case", "revert", cid, "--reason", "誤り", user="tanaka", db=world.url, now=NOW)
    assert r.code == 4 and r.err.count("\n") == 1
    ok(run_cli, world, "case", "revert", cid, "--reason", "支払決定の誤り", user="boss")
    doc = json.loads(
        ok(
            run_cli, world, "case", "revert", cid, "--reason", "同意の誤り", "--json", user="boss"
        ).out
    )
    assert doc["stage"] == "bank_negotiation"
    sub = json.loads(ok(run_cli, world, "subsidy", cid, "--json").out)
    assert sub["paid"] == 0
    assert [p["amount"] for p in sub["payments"]] == [paid, -paid]
    r = run_cli("doctor", "--json", user="admin", db=world.url, now=NOW)
    assert r.code == 0, r.out


def test_officer_edit_and_list(run_cli: Any, world: World) -> None:
    r = ok(run_cli, world, "officer", "edit", "tanaka", "--email", "t@example.jp", "--json",
           user="admin")  # fmt: skip
    assert json.loads(r.out)["changes"] == {"email": [None, "t@example.jp"]}
    doc = json.loads(ok(run_cli, world, "officer", "list", "--json").out)
    assert [o["id"] for o in doc["officers"]] == ["boss", "tanaka"]
    ok(run_cli, world, "officer", "edit", "tanaka", "--inactive", user="admin")
    r = run_cli("case", "list", user="tanaka", db=world.url, now=NOW)
    assert r.code == 4


REFUSALS = [
    ("no reason", ("case", "revert", "{C}"), "boss", 2, "理由"),
    ("wrong role", ("case", "revert", "{C}", "--reason", "誤り"), "tanaka", 4, "統括責任者"),
    ("other council", ("case", "revert", "{C}", "--reason", "誤り"), "saga", 3, "見つかりません"),
    ("not a fact", ("case", "void", "{C}", "1", "--reason", "誤り"), "boss", 5, "事実"),
    ("never moved", ("case", "revert", "{F}", "--reason", "誤り"), "boss", 5, "段階の変更"),
    ("breaks a later stage", ("case", "void", "{C}", "{CONSENT}", "--reason", "誤り"), "boss", 5,
     "revert"),
    ("company, no reason", ("company", "edit", "{N}", "--capital", "1"), "tanaka", 2, "理由"),
    ("officer edit, not admin", ("officer", "edit", "tanaka", "--email", "a@b.jp"), "boss", 4,
     "管理者"),
]  # fmt: skip


def test_refusals_are_one_line_distinct_codes_and_write_nothing(run_cli: Any, world: World) -> None:
    fresh = opened(run_cli, world, world.company)
    cid = opened(run_cli, world, world.company)
    to_bank_negotiation(run_cli, world, cid)
    ok(run_cli, world, "case", "consent", cid, "福岡銀行")
    ok(run_cli, world, "case", "advance", cid, "agree")
    events = json.loads(ok(run_cli, world, "case", "history", cid, "--json").out)["events"]
    consent = next(e["seq"] for e in events if e["trigger"] == "consent")
    subs = {"{C}": cid, "{F}": fresh, "{CONSENT}": str(consent), "{N}": world.company}
    before = snapshot(world.url)
    for name, args, user, code, words in REFUSALS:
        argv = [subs.get(a, a) for a in args]
        r = run_cli(*argv, user=user, db=world.url, now=NOW)
        assert (r.code, r.err.count("\n")) == (code, 1), (name, r.err)
        assert words in r.err, (name, r.err)
        assert snapshot(world.url) == before, name
    assert len({code for *_, code, _ in REFUSALS}) == 4


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_fact_command_takes_on(run_cli: Any, world: World) -> None:
    cid = opened(run_cli, world, world.company)
    doc = json.loads(ok(run_cli, world, "case", "history", cid, "--json").out)
    assert {e["on"] for e in doc["events"]} == {ON}  # backdated, not today (06-10)
    r = run_cli(
        "case", "lender", cid, "X銀行", "--on", "2026-06-11", user="tanaka", db=world.url, now=NOW
    )
    assert r.code == 2 and "未来" in r.err
    r = run_cli(
        "case", "lender", cid, "Y銀行", "--on", "2026-05-31", user="tanaka", db=world.url, now=NOW
    )
    assert r.code == 2 and "相談日" in r.err
