"""Tests for `kaizen plan`, `kaizen rules show` and `kaizen diagram`, run in-process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from states.diagram import mermaid
from states.programs import definition
from tests.cli.conftest import Result
from tests.conftest import pinned_clock

Kaizen = Callable[..., Result]

SEED_405 = [
    ("kickoff", "consultation", "2026-06-30"),
    ("dd", "due_diligence", "2026-07-31"),
    ("draft_plan", "planning", "2026-08-31"),
    ("final_plan", "bank_negotiation", "2026-09-30"),
    ("payment_claim", "payment_claim", "2026-10-30"),
    ("monitoring_1", "monitoring", "2027-01-29"),
    ("monitoring_2", "monitoring", "2027-07-30"),
    ("monitoring_3", "monitoring", "2028-01-31"),
    ("monitoring_4", "monitoring", "2028-07-31"),
    ("monitoring_5", "monitoring", "2029-01-31"),
    ("monitoring_6", "monitoring", "2029-07-31"),
]


def _ok(r: Result) -> Result:
    assert r.code == 0, r.err
    assert r.err == ""
    return r


# ---------------------------------------------------------------- kaizen plan


def test_plan_json(kaizen: Kaizen) -> None:
    doc = _ok(kaizen("plan", "--fiscal-year-end", "5", "--from", "2026-06-01", "--json")).json()
    assert [(m["key"], m["stage"], m["due"]) for m in doc["milestones"]] == SEED_405
    for m in doc["milestones"]:
        assert {"key", "label", "stage", "due"} <= set(m)
        assert m["label"]
    assert doc["rule_version"] == "R7"


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (
            ["--program", "early"],
            [("kickoff", "2026-06-30"), ("draft_plan", "2026-08-31"), ("final_plan", "2026-09-30"),
             ("payment_claim", "2026-10-30"), ("monitoring_year_end", "2028-07-31")],
        ),
        (
            ["--program", "early", "--interim-monitoring"],
            [("kickoff", "2026-06-30"), ("draft_plan", "2026-08-31"), ("final_plan", "2026-09-30"),
             ("payment_claim", "2026-10-30"), ("monitoring_interim", "2028-01-31"),
             ("monitoring_year_end", "2028-07-31")],
        ),
        (["-m", "5", "--program", "405"], [(k, d) for k, _, d in SEED_405]),
    ],
)  # fmt: skip
def test_plan_json_variants(kaizen: Kaizen, args: list[str], expect: list[tuple[str, str]]) -> None:
    base = [] if "-m" in args else ["--fiscal-year-end", "5"]
    r = _ok(kaizen("plan", *base, "--from", "2026-06-01", "--json", *args))
    assert [(m["key"], m["due"]) for m in r.json()["milestones"]] == expect


@pytest.mark.parametrize(
    ("start", "version"),
    [
        ("2022-04-01", "R4"),
        ("2023-06-01", "R5"),
        ("2024-06-01", "R6"),
        ("2025-04-01", "R7"),
    ],
)
def test_plan_picks_the_rule_version_of_its_start(kaizen: Kaizen, start: str, version: str) -> None:
    doc = _ok(kaizen("plan", "-m", "3", "--from", start, "--json")).json()
    assert doc["rule_version"] == version


def test_plan_human(kaizen: Kaizen) -> None:
    r = _ok(kaizen("plan", "--fiscal-year-end", "5", "--from", "2026-06-01"))
    for heading in ("スケジュール案", "5月決算", "期限", "段階", "マイルストーン"):
        assert heading in r.out
    for _, _, due in SEED_405:
        assert due in r.out
    for label in ("相談", "DD", "計画策定", "金融機関協議", "モニタリング"):
        assert label in r.out
    assert "最終営業日" in r.out
    assert "{" not in r.out


@pytest.mark.parametrize(
    ("now", "args", "kickoff", "version"),
    [
        ("2026-11-22T10:00", ["-m", "5"], "2027-06-30", "R7"),
        ("2026-06-15T09:00", ["-m", "5"], "2026-06-30", "R7"),
        ("2026-12-10T09:00", ["-m", "12"], "2027-01-29", "R7"),
        # 20:00 UTC on 5/31 is already 6/1 in Japan: May is past, so the next May's month after.
        ("2026-05-31T20:00:00+00:00", ["-m", "4"], "2027-05-31", "R7"),
        ("2026-05-31T10:00:00+00:00", ["-m", "4"], "2026-05-29", "R7"),
        # 2025-04-01 00:30 JST: R7 has started.
        ("2025-03-31T15:30:00+00:00", ["-m", "3"], "2025-04-30", "R7"),
        ("2025-03-31T14:30:00+00:00", ["-m", "2"], "2025-03-31", "R6"),
    ],
)
def test_clock_pins_today(
    kaizen: Kaizen,
    monkeypatch: pytest.MonkeyPatch,
    now: str,
    args: list[str],
    kickoff: str,
    version: str,
) -> None:
    import cli.app

    monkeypatch.setattr(cli.app, "_clock", pinned_clock(now))
    doc = _ok(kaizen("plan", *args, "--json")).json()
    assert doc["milestones"][0]["key"] == "kickoff"
    assert doc["milestones"][0]["due"] == kickoff
    assert doc["rule_version"] == version


# ---------------------------------------------------------------- kaizen rules show


def test_rules_show_json(kaizen: Kaizen) -> None:
    doc = _ok(kaizen("rules", "show", "R6", "--json")).json()
    assert [v["id"] for v in doc["versions"]] == ["R6"]
    v = doc["versions"][0]
    assert v["effective_from"] == "2024-04-01"
    assert v["inherits"] == "R5"
    rows = {row["key"]: row for row in v["values"]}
    for row in rows.values():
        assert set(row) >= {"key", "value", "source", "verified", "defined_in"}
        assert row["source"].strip()
        assert isinstance(row["verified"], bool)
    assert rows["caps.405/normal.dd_plan"]["value"] == 2_000_000
    assert rows["caps.405/normal.dd_plan"]["defined_in"] == "R4"
    assert rows["caps.405/gl.dd"]["value"] == 3_000_000
    assert rows["caps.early/normal.plan"]["value"] == 150_000
    assert rows["reuse.405.mode"]["value"] == "exception"
    assert rows["reuse.405.payment_cap_total"]["value"] == 3_000_000
    assert rows["reuse.early.mode"]["value"] == "once"
    assert rows["money.rounding"]["verified"] is False
    assert rows["monitoring.405.periods"]["verified"] is False
    assert rows["money.rate_numerator"]["verified"] is True
    assert [m["key"] for m in v["timeline"]["early"]] == [
        "kickoff",
        "draft_plan",
        "final_plan",
        "payment_claim",
    ]


@pytest.mark.parametrize(("arg", "vid"), [("R4", "R4"), ("r7", "R7"), ("R5", "R5")])
def test_rules_show_one_version(kaizen: Kaizen, arg: str, vid: str) -> None:
    doc = _ok(kaizen("rules", "show", arg, "--json")).json()
    assert [v["id"] for v in doc["versions"]] == [vid]


def test_rules_show_all_versions(kaizen: Kaizen) -> None:
    doc = _ok(kaizen("rules", "show", "--json")).json()
    assert [v["id"] for v in doc["versions"]] == ["R4", "R5", "R6", "R7"]
    r = _ok(kaizen("rules", "show"))
    for vid in ("R4", "R5", "R6", "R7"):
        assert f"{vid}: " in r.out
    for date_ in ("2022-04-01", "2023-04-01", "2024-04-01", "2025-04-01"):
        assert date_ in r.out


def test_rules_show_human(kaizen: Kaizen) -> None:
    r = _ok(kaizen("rules", "show", "R7"))
    assert "R7: 令和7年度" in r.out
    assert "未確認" in r.out
    assert "確認済" in r.out
    assert "2,000,000" in r.out
    assert "(R4 から)" in r.out
    assert "スケジュール 405" in r.out
    from states.rules import get_version

    assert f"未確認の値が {len(get_version('R7').unverified)} 件あります" in r.out


def test_rules_show_names_the_override_table(kaizen: Kaizen) -> None:
    assert "[rules.overrides.R7]" in _ok(kaizen("rules", "show", "R7")).out


def test_rules_show_with_overrides(kaizen: Kaizen, tmp_path: Path) -> None:
    (tmp_path / "kaizen.toml").write_text(
        '[rules.overrides.R7]\n"caps.early/normal.plan" = 200000\n"money.rounding" = "floor"\n',
        "utf-8",
    )
    rows = {
        row["key"]: row
        for row in _ok(kaizen("rules", "show", "R7", "--json")).json()["versions"][0]["values"]
    }
    assert rows["caps.early/normal.plan"]["value"] == 200_000
    assert rows["caps.early/normal.plan"]["source"] == "kaizen.toml"
    assert rows["money.rounding"]["verified"] is True
    # Other versions are untouched.
    r6 = _ok(kaizen("rules", "show", "R6", "--json")).json()["versions"][0]["values"]
    assert {row["key"]: row["value"] for row in r6}["caps.early/normal.plan"] == 150_000


# ---------------------------------------------------------------- kaizen diagram


@pytest.mark.parametrize(
    ("args", "pair"),
    [
        (["--program", "405", "--track", "gl"], ("405", "gl")),
        (["--program", "405"], ("405", "normal")),
        (["--program", "early", "--track", "guarantee"], ("early", "guarantee")),
        (["--track", "normal", "--program", "early"], ("early", "normal")),
    ],
)
def test_diagram(kaizen: Kaizen, args: list[str], pair: tuple[str, str]) -> None:
    r = _ok(kaizen("diagram", *args))
    assert r.out == mermaid(definition(*pair))
    assert r.out.startswith(f"---\ntitle: {pair[0]} / {pair[1]}\n---\nstateDiagram-v2\n")


def test_diagram_405_gl_text(kaizen: Kaizen) -> None:
    out = _ok(kaizen("diagram", "--program", "405", "--track", "gl")).out
    assert '    state "DD" as due_diligence' in out
    assert "    application --> due_diligence: accept 受付・利用決定" in out
    assert "    completed --> [*]" in out


# ---------------------------------------------------------------- help


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        ([], "Usage: kaizen"),
        (["--help"], "plan"),
        (["rules"], "show"),
        (["plan", "--help"], "--fiscal-year-end"),
        (["diagram", "--help"], "--program"),
    ],
)
def test_help(kaizen: Kaizen, args: list[str], expect: str) -> None:
    r = _ok(kaizen(*args))
    assert expect in r.out


# ---------------------------------------------------------------- bad input

BAD = [
    # (args, exit code, stderr substring)
    (["plan", "--fiscal-year-end", "13"], 2, "決算月は1から12"),
    (["plan", "--fiscal-year-end", "0"], 2, "決算月は1から12"),
    (["plan", "--fiscal-year-end", "-1"], 2, "決算月は1から12"),
    (["plan", "--fiscal-year-end", "five"], 2, "--fiscal-year-end"),
    (["plan", "-m", "5.5"], 2, "--fiscal-year-end"),
    (["plan", "-m"], 2, "-m"),
    (["plan"], 2, "Missing option '--fiscal-year-end'"),
    (["plan", "-m", "5", "--from", "2026-02-30"], 2, "--fromは YYYY-MM-DD"),
    (["plan", "-m", "5", "--from", "2026/06/31"], 2, "'2026/06/31'"),
    (["plan", "-m", "5", "--from", "2026-13-01"], 2, "--from"),
    (["plan", "-m", "5", "--from", "tomorrow"], 2, "--from"),
    (["plan", "-m", "5", "--from", "2022-03-31"], 2, "2022-04-01"),
    (["plan", "-m", "5", "--program", "406"], 2, "不明な事業 (program) '406'"),
    (["plan", "-m", "5", "--program", "ealy"], 2, "'ealy': もしかして: early"),
    (["plan", "-m", "5", "--bogus"], 2, "No such option: --bogus"),
    (["plan", "-m", "5", "extra"], 2, "extra"),
    (["diagram", "--program", "early", "--track", "gl"], 2, "枠 (track) 'gl'"),
    (["diagram", "--program", "405", "--track", "guarantee"], 2, "'guarantee'"),
    (["diagram", "--program", "nope"], 2, "不明な事業 (program) 'nope'"),
    (["diagram", "--program", ""], 2, "--program を指定"),
    (["diagram"], 2, "Missing option '--program'"),
    (["diagram", "--track", "gl"], 2, "Missing option '--program'"),
    (["rules", "show", "R9"], 3, "不明な規程の版 'R9'"),
    (["rules", "show", "2024"], 3, "'2024'"),
    (["rules", "show", "R6", "R7"], 2, "unexpected extra argument"),
    (["rules", "list"], 2, "No such command 'list'"),
    (["nope"], 2, "No such command 'nope'"),
    (["--bogus"], 2, "No such option: --bogus"),
    (["--config", "missing.toml", "plan", "-m", "5"], 2, "設定ファイルがありません"),
]


def _one_line_error(r: Result, code: int, message: str) -> None:
    assert r.code == code, (r.code, r.err)
    assert r.err.startswith("kaizen: "), r.err
    assert r.err.endswith("\n")
    assert r.err.count("\n") == 1, r.err
    assert "Traceback" not in r.err
    assert message in r.err
    assert r.out == ""


@pytest.mark.parametrize(("args", "code", "message"), BAD)
def test_bad_input(kaizen: Kaizen, args: list[str], code: int, message: str) -> None:
    _one_line_error(kaizen(*args), code, message)


@pytest.mark.parametrize(
    ("env", "toml", "code", "message"),
    [
        ({}, "[clock]\nnow = 'garbage'\n", 2, "[clock] now は"),
        ({}, "[clock]\nnow = 2100-01-01T00:00:00\n", 2, "[clock] now 2100-01-01 は範囲外"),
        ({}, "[clock]\nnow = 2026-06-01T10:00:00+09:00\n", 2, "[clock] now は"),
        ({}, "[clock]\nnow = 2026-06-01\n", 2, "[clock] now は"),
        ({}, "[clock]\nthen = 2026-06-01T10:00:00\n", 2, "[clock] の不明な設定 ['then']"),
        ({"KAIZEN_CONFIG": "nowhere.toml"}, None, 2, "KAIZEN_CONFIG"),
        ({}, "[rules.overrides.R9]\nx = 1\n", 2, "不明な版 ['R9']"),
        ({}, '[rules.overrides.R6]\n"caps.405/gl.dd" = "x"\n', 2, "caps.405/gl.dd must be int"),
        ({}, '[rules.overrides.R6]\n"caps.405/gl.xx" = 1\n', 2, "no value 'caps.405/gl.xx'"),
        ({}, "[rules]\nversion_key = 'today'\n", 2, "version_key"),
        ({}, "[colour]\n", 2, "不明な設定"),
        ({}, "[reminders]\nsweep_minuts = 5\n", 2, "[reminders] の不明な設定 ['sweep_minuts']"),
        ({}, "[reminders]\nsweep_minutes = 0\n", 2, "reminders.sweep_minutes は 1 から 1440"),
        ({}, "[reminders]\nsweep_minutes = '15'\n", 2, "reminders.sweep_minutes は 1 から"),
        ({}, "[reminders]\nsweep_minutes = 1.5\n", 2, "reminders.sweep_minutes は 1 から"),
        ({}, "[reminders]\nmax_attempts = true\n", 2, "reminders.max_attempts は 1 から 30"),
        ({}, "[reminders]\nbefore_days = 7\n", 2, "reminders.before_days は営業日数のリスト"),
        ({}, "[reminders]\nbefore_days = [-1]\n", 2, "reminders.before_days は 0 から 60"),
        ({}, "[reminders]\nbefore_days = [[7]]\n", 2, "reminders.before_days は 0 から 60"),
        ({}, "[reminders]\ndigest_time = '9時'\n", 2, "reminders.digest_time は時刻"),
        ({}, "[reminders]\nescalate_after_days = 99999999999999\n", 2, "escalate_after_days は"),
        ({}, "[smtp]\nhost = 'h'\nport = 70000\n", 2, "smtp.port は 1 から 65535"),
        ({}, "[smtp]\nhost = 'h'\nport = '25'\n", 2, "smtp.port は 1 から 65535"),
        ({}, "[smtp]\nhost = 'h'\nstarttls = 'yes'\n", 2, "smtp.starttls は true か false"),
        ({}, "[smtp]\nhost = 'h'\ntimeout = -1\n", 2, "smtp.timeout は"),
        ({}, "[smtp]\nhost = 'h'\npassword = 'x'\n", 2, "[smtp] の不明な設定 ['password']"),
        ({}, "[smtp]\nhost = 'h'\nsender = 1\n", 2, "smtp.sender は文字列"),
        ({}, "[smtp]\nport = 25\n", 2, "smtp.host がありません"),
        ({}, "[database]\nurl = 5\n", 2, "database.url は文字列"),
        ({}, "[database]\nuri = 'x.db'\n", 2, "[database] の不明な設定 ['uri']"),
        ({}, "[calendar]\nclosed_days = []\n", 2, "[calendar] の不明な設定"),
        ({}, "[rules]\nversion = 'R7'\n", 2, "[rules] の不明な設定 ['version']"),
        ({}, "[rules\n", 2, "kaizen.toml"),
    ],
)
def test_bad_settings(
    kaizen: Kaizen,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    env: dict[str, str],
    toml: str | None,
    code: int,
    message: str,
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    if toml is not None:
        (tmp_path / "kaizen.toml").write_text(toml, "utf-8")
    _one_line_error(kaizen("rules", "show", "R6") if toml else kaizen("plan", "-m", "5"), code,
                    message)  # fmt: skip


def test_empty_from_is_refused(kaizen: Kaizen) -> None:
    _one_line_error(kaizen("plan", "-m", "5", "--from", ""), 2, "--from")


def test_list_override(kaizen: Kaizen, tmp_path: Path) -> None:
    (tmp_path / "kaizen.toml").write_text(
        '[rules.overrides.R6]\n"reuse.405.counted_programs" = ["405", "early"]\n', "utf-8"
    )
    rows = _ok(kaizen("rules", "show", "R6", "--json")).json()["versions"][0]["values"]
    assert {r["key"]: r["value"] for r in rows}["reuse.405.counted_programs"] == ["405", "early"]


@pytest.mark.parametrize("toml", ["[rules]\noverrides = 5\n", "[rules.overrides]\nR6 = 5\n"])
def test_overrides_of_the_wrong_shape(kaizen: Kaizen, tmp_path: Path, toml: str) -> None:
    (tmp_path / "kaizen.toml").write_text(toml, "utf-8")
    _one_line_error(kaizen("rules", "show", "R6"), 2, "overrides")


@pytest.mark.parametrize(
    ("now", "kickoff"),
    [("2026-11-22T10:00:00", "2027-06-30"), ("2026-06-15T09:00:00", "2026-06-30")],
)
def test_clock_setting_pins_today_on_sqlite_and_says_so(
    kaizen: Kaizen, tmp_path: Path, now: str, kickoff: str
) -> None:
    (tmp_path / "kaizen.toml").write_text(f"[clock]\nnow = {now}\n", "utf-8")
    r = kaizen("plan", "-m", "5", "--json")
    assert r.code == 0, r.err
    assert r.json()["milestones"][0]["due"] == kickoff
    assert r.err == f"kaizen: 注意: 時計を {now} に固定しています ([clock] now, kaizen.toml)\n"


@pytest.mark.parametrize("url", ["postgresql+psycopg://nobody@127.0.0.1:1/x", "postgresql://h/db"])
def test_clock_setting_is_refused_on_postgresql(
    kaizen: Kaizen, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str
) -> None:
    (tmp_path / "kaizen.toml").write_text('[clock]\nnow = "2026-06-01T10:00:00"\n', "utf-8")
    for args in (("--db", url, "plan", "-m", "5"), ("--db", url, "case", "list")):
        _one_line_error(kaizen(*args), 2, "[clock] now (時計の固定) は SQLite のデータベースでだけ")
    monkeypatch.setenv("KAIZEN_DB", url)
    _one_line_error(kaizen("remind", "--dry-run"), 2, "SQLite のデータベースでだけ")


def test_kaizen_now_is_not_read(kaizen: Kaizen, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15: the old test hook would let anyone date a fact in 2031."""
    real = _ok(kaizen("plan", "-m", "5", "--json")).json()
    monkeypatch.setenv("KAIZEN_NOW", "2031-06-01T10:00:00")
    assert _ok(kaizen("plan", "-m", "5", "--json")).json() == real
