"""Bad input at the CLI: every row is refused with its exit code and a one-line reason, no
traceback, nothing on stdout, and not one row of the database changed.

The database (SQLite) is built once per module with the engine: councils, officers tanaka
(40), boss (40, supervisor), saga (41), a company, and case 40-2026-0001 at 相談 with one
lender. Each row runs on a fresh copy and compares `iterdump()` before and after.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from states.ids import make_corporate_number
from workflow.clock import FixedClock
from workflow.config import Settings

COMPANY = make_corporate_number("123456789012")
NEW = make_corporate_number("222222222222")  # not registered
UNKNOWN = make_corporate_number("999999999999")  # valid, not registered
CASE = "40-2026-0001"
SQL = "x'; DROP TABLE cases; --"
LONG = "長" * 5000


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    from workflow.setup import init_database

    folder = tmp_path_factory.mktemp("cli_bad_input")
    path = folder / "kaizen.db"
    shutil.copy(sqlite_template, path)
    clock = FixedClock(datetime(2026, 6, 1, 1, 0, tzinfo=UTC))
    k, _ = init_database(Settings(db_url=f"sqlite:///{path}"), clock, "admin")
    k.add_officer("admin", "tanaka", name="田中", council="40", role="officer")
    k.add_officer("admin", "boss", name="統括", council="40", role="supervisor")
    k.add_officer("admin", "saga", name="佐賀", council="41", role="officer")
    k.add_company(
        "tanaka",
        number=COMPANY,
        name="株式会社テスト製作所",
        fiscal_year_end=5,
        industry="manufacturing",
        capital=10_000_000,
        employees=20,
    )
    case = k.open_case(
        "tanaka", company=COMPANY, program="405", track="normal", council="40", advisor="博多"
    )
    assert case.id == CASE
    k.add_lender("tanaka", CASE, "福岡銀行")
    with k.db.engine.connect() as c:
        c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    k.db.dispose()
    (folder / "councils.csv").write_text("code,name\n47,沖縄県中小企業活性化協議会\n", "utf-8")
    return path


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "kaizen.db"
    shutil.copy(template, path)
    return path


def dump(path: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def _tables(path: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


def company_add(*extra: str, number: str = NEW) -> list[str]:
    args = [
        "company",
        "add",
        "--number",
        number,
        "--name",
        "株式会社新規",
        "--fiscal-year-end",
        "3",
    ]
    return args + list(extra)


def case_open(*extra: str, track: str = "normal", program: str = "405") -> list[str]:
    args = ["case", "open", "--company", COMPANY, "--program", program, "--track", track]
    return [*args, "--council", "40", *extra]


def prior_use(*extra: str, number: str = COMPANY) -> list[str]:
    return ["company", "prior-use", number, "--program", "405", "--fiscal-year", "2021", *extra]


def officer_add(oid: str = "newbie", *extra: str) -> list[str]:
    return ["officer", "add", oid, "--name", "新人", "--council", "40", *extra]


# (id, args, actor, exit code, stderr substring)
ROWS: list[tuple[str, list[str], str, int, str]] = [
    # ------------------------------------------------ company add
    ("fy_fullwidth", company_add("--fiscal-year-end", "５"), "admin", 2,
     "Invalid value for '--fiscal-year-end'"),
    ("fy_kanji", company_add("--fiscal-year-end", "五"), "admin", 2,
     "Invalid value for '--fiscal-year-end'"),
    ("fy_13", company_add("--fiscal-year-end", "13"), "admin", 2, "決算月は1から12です: 13"),
    ("capital_fraction", company_add("--capital", "1.5"), "admin", 2,
     "資本金 (--capital)は半角数字 (例: 10,000,000 または 1,500,000円) で入力してください: '1.5'"),
    ("capital_negative", company_add("--capital", "-1"), "admin", 2, "資本金は0円以上"),
    ("capital_fullwidth", company_add("--capital", "１２３"), "admin", 2,
     "資本金 (--capital)は半角数字"),
    ("capital_man", company_add("--capital", "1000万"), "admin", 2, "資本金 (--capital)は半角数字"),
    ("capital_bad_commas", company_add("--capital", "10,00,000"), "admin", 2, "'10,00,000'"),
    ("number_fullwidth_short", company_add(number="１２３"), "admin", 2, "法人番号は13桁です"),
    ("number_check_digit", company_add(number="1234567890123"), "admin", 2,
     "チェックデジットが一致しません"),
    ("number_sql", company_add(number=SQL), "admin", 2, "法人番号に数字以外の文字"),
    ("number_missing", ["company", "add", "--name", "x", "--fiscal-year-end", "3"], "admin", 2,
     "法人番号 (--number) を入力してください"),
    ("number_duplicate", company_add(number=COMPANY), "admin", 7, "既に登録されています"),
    ("name_empty", company_add("--name", ""), "admin", 2, "会社名が空です"),
    ("name_5000", company_add("--name", LONG), "admin", 2, "会社名が長すぎます (5000文字"),
    ("name_control", company_add("--name", "テスト\x07"), "admin", 2, "制御文字"),
    ("industry_unknown", company_add("--industry", "farming"), "admin", 2,
     "業種 (--industry) は"),
    ("employees_text", company_add("--employees", "二十"), "admin", 2,
     "従業員数 (--employees)は半角数字"),
    ("industry_near_miss", company_add("--industry", "manufactoring"), "admin", 2,
     "不明な業種 'manufactoring': もしかして: manufacturing (製造業・建設業・運輸業その他)?"),
    ("employees_negative", company_add("--employees", "-3"), "admin", 2, "従業員数は0から"),
    ("capital_overflow", company_add("--capital", "9" * 25), "admin", 2, "資本金が大きすぎます"),
    # ------------------------------------------------ company prior-use
    ("prior_fy_fullwidth", ["company", "prior-use", COMPANY, "--program", "405",
                            "--fiscal-year", "２０２１"], "tanaka", 2,
     "Invalid value for '--fiscal-year'"),
    ("prior_fy_future", ["company", "prior-use", COMPANY, "--program", "405",
                         "--fiscal-year", "2030"], "tanaka", 2, "年度は2000から2026までです"),
    ("prior_program", ["company", "prior-use", COMPANY, "--program", "406",
                       "--fiscal-year", "2021"], "tanaka", 2, "不明な事業 (program) '406'"),
    ("prior_track", prior_use("--track", "guarantee"), "tanaka", 2,
     "枠 (track) 'guarantee' はありません"),
    ("prior_paid_negative", prior_use("--paid", "-5"), "tanaka", 2, "支払額は0円以上"),
    ("prior_paid_fraction", prior_use("--paid", "0.5"), "tanaka", 2, "支払額 (--paid)は半角数字"),
    ("prior_unknown_company", prior_use(number=UNKNOWN), "tanaka", 3,
     f"会社 {UNKNOWN} が見つかりません"),
    ("prior_note_5000", prior_use("--note", LONG), "tanaka", 2, "備考が長すぎます"),
    # ------------------------------------------------ case open
    ("open_track_of_other_program", case_open(track="guarantee"), "tanaka", 2,
     "事業 405 に枠 (track) 'guarantee' はありません"),
    ("open_program_unknown", case_open(program="406"), "tanaka", 2, "不明な事業 (program) '406'"),
    ("open_council_unknown", ["case", "open", "--company", COMPANY, "--program", "405",
                              "--council", "99"], "tanaka", 3, "協議会 99 が見つかりません"),
    ("open_council_other", case_open(), "saga", 4, "saga は協議会 40 の案件を扱えません"),
    ("open_company_unknown", ["case", "open", "--company", UNKNOWN, "--program", "405",
                              "--council", "40"], "tanaka", 3, "が見つかりません"),
    ("open_company_missing", ["case", "open", "--program", "405", "--council", "40"], "tanaka",
     2, "Missing option '--company'"),
    ("open_impossible_date", case_open("--on", "2026-02-30"), "tanaka", 2,
     "--onは YYYY-MM-DD で正しい日付を指定してください: '2026-02-30'"),
    ("open_future", case_open("--on", "2026-06-02"), "tanaka", 2, "未来の日付"),
    ("open_gl_before_2022_04_15", case_open("--on", "2022-04-14", track="gl"), "tanaka", 2,
     "2022-04-15 から"),
    ("open_affected_unknown", case_open("--affected", "flood"), "tanaka", 2,
     "--affected は covid, ukraine, oil, other から選んでください: flood"),
    ("open_interim_405", case_open("--interim-monitoring"), "tanaka", 2,
     "--interim-monitoring は早期経営改善 (early) の案件だけです"),
    ("open_guarantee_release_early", case_open("--guarantee-release", program="early"),
     "tanaka", 2, "--guarantee-release は 405 通常枠の案件だけです"),
    ("open_advisor_5000", case_open("--advisor", LONG), "tanaka", 2, "認定支援機関名が長すぎます"),
    # ------------------------------------------------ case facts
    ("estimate_fullwidth", ["case", "estimate", CASE, "dd_plan", "１２３"], "tanaka", 2,
     "半角数字の円単位"),
    ("estimate_kanji", ["case", "estimate", CASE, "dd_plan", "百万"], "tanaka", 2, "半角数字"),
    ("estimate_man_yen", ["case", "estimate", CASE, "dd_plan", "１００万円"], "tanaka", 2,
     "半角数字"),
    ("estimate_negative", ["case", "estimate", CASE, "dd_plan", "--", "-100"], "tanaka", 2,
     "半角数字の円単位 (例: 1500000) で入力してください: '-100'"),
    ("estimate_negative_unquoted", ["case", "estimate", CASE, "dd_plan", "-100"], "tanaka", 2,
     "半角数字の円単位 (例: 1500000) で入力してください: '-100'"),
    ("fee_negative_unquoted", ["case", "fee", CASE, "dd_plan", "-5"], "tanaka", 2,
     "半角数字の円単位 (例: 1500000) で入力してください: '-5'"),
    ("fee_misspelt_option", ["case", "fee", CASE, "dd_plan", "100", "--onn", "2026-06-01"],
     "tanaka", 2, "unexpected extra argument"),
    ("estimate_fraction", ["case", "estimate", CASE, "dd_plan", "100.5"], "tanaka", 2,
     "'100.5'"),
    ("estimate_bad_commas", ["case", "estimate", CASE, "dd_plan", "1,50,000"], "tanaka", 2,
     "'1,50,000'"),
    ("estimate_category_unknown", ["case", "estimate", CASE, "foo", "100"], "tanaka", 2,
     "費用区分 'foo' はこの案件 (405/normal) にありません: dd_plan, monitoring"),
    ("estimate_category_of_other_track", ["case", "estimate", CASE, "dd", "100"], "tanaka", 2,
     "費用区分 'dd' はこの案件"),
    ("estimate_case_unknown", ["case", "estimate", "40-2026-9999", "dd_plan", "100"], "tanaka",
     3, "案件 40-2026-9999 が見つかりません"),
    ("estimate_case_bad_format", ["case", "estimate", "40-26-1", "dd_plan", "100"], "tanaka", 2,
     "案件番号は '40-2026-0007' の形式です"),
    ("estimate_overflow", ["case", "estimate", CASE, "dd_plan", "9" * 25], "tanaka", 2,
     "見積額が大きすぎます"),
    ("fee_before_accept", ["case", "fee", CASE, "dd_plan", "100"], "tanaka", 2,
     "事前着手不可"),
    ("fee_impossible_date", ["case", "fee", CASE, "dd_plan", "100", "--on", "2026-02-29"],
     "tanaka", 2, "'2026-02-29'"),
    ("lender_empty", ["case", "lender", CASE, " "], "tanaka", 2, "金融機関名が空です"),
    ("lender_5000", ["case", "lender", CASE, LONG], "tanaka", 2, "金融機関名が長すぎます"),
    ("lender_duplicate", ["case", "lender", CASE, "福岡銀行"], "tanaka", 7,
     "金融機関 福岡銀行 は既に登録されています"),
    ("consent_too_early", ["case", "consent", CASE, "福岡銀行"], "tanaka", 5,
     "consentは 計画策定・金融機関協議 の段階でのみ登録できます"),
    ("plan_too_early", ["case", "plan", CASE], "tanaka", 5, "planは 計画策定 の段階でのみ"),
    ("report_too_early", ["case", "report", CASE], "tanaka", 5, "reportは モニタリング の段階"),
    ("certificate_slashes_impossible", ["case", "certificate", CASE, "--issued", "2026/02/30"],
     "tanaka", 2, "--issuedは YYYY-MM-DD"),
    ("certificate_wareki_outside_era", ["case", "certificate", CASE, "--issued", "平成31年5月1日"],
     "tanaka", 2, "--issued: 平成31年5月1日 は平成にない日付です"),
    ("certificate_words", ["case", "certificate", CASE, "--issued", "先週"], "tanaka", 2,
     "--issuedは YYYY-MM-DD で正しい日付を指定してください: '先週' (2026/6/1・令和8年6月1日・R8.6.1 も可)"),
    ("certificate_future", ["case", "certificate", CASE, "--issued", "2026-07-01"], "tanaka", 2,
     "証明書の発行日 2026-07-01 は未来の日付です"),
    ("extend_by_officer", ["case", "extend", CASE, "--until", "2028-12-28", "--reason", "x"],
     "tanaka", 4, "統括責任者 (supervisor) のみ"),
    # ------------------------------------------------ case advance
    ("advance_unknown_trigger", ["case", "advance", CASE, "fly"], "tanaka", 2,
     "不明なトリガー 'fly' (405/normal)"),
    ("advance_near_miss", ["case", "advance", CASE, "aply"], "tanaka", 2,
     "不明なトリガー 'aply': もしかして: apply (利用申請)?"),
    ("advance_near_miss_label", ["case", "advance", CASE, "利用申"], "tanaka", 2,
     "もしかして: apply (利用申請)?"),
    ("advance_label_not_from_stage", ["case", "advance", CASE, "金融機関合意"], "tanaka", 5,
     "相談 (consultation) から agree はできません"),
    ("estimate_category_near_miss", ["case", "estimate", CASE, "dd_plann", "100"], "tanaka", 2,
     "不明な費用区分 'dd_plann': もしかして: dd_plan (DD・計画策定支援費用)?"),
    ("list_stage_near_miss", ["case", "list", "--stage", "計画策定中"], "tanaka", 2,
     "不明な段階 '計画策定中': もしかして: planning (計画策定)?"),
    ("open_track_near_miss", case_open(track="通常"), "tanaka", 2,
     "もしかして: normal (通常枠)?"),
    ("advance_not_from_stage", ["case", "advance", CASE, "agree"], "tanaka", 5,
     "相談 (consultation) から agree はできません"),
    ("advance_guard", ["case", "advance", CASE, "apply"], "tanaka", 6,
     "apply できません: 履歴事項全部証明書の発行日が未登録です"),
    ("advance_no_reason", ["case", "advance", CASE, "withdraw"], "tanaka", 6,
     "理由 (--reason) を記載してください"),
    ("advance_reason_5000", ["case", "advance", CASE, "withdraw", "--reason", LONG], "tanaka", 2,
     "理由が長すぎます (5000文字"),
    ("advance_month_13", ["case", "advance", CASE, "withdraw", "--on", "2026-13-01",
                          "--reason", "x"], "tanaka", 2, "'2026-13-01'"),
    ("advance_future", ["case", "advance", CASE, "withdraw", "--on", "2026-06-02",
                        "--reason", "x"], "tanaka", 2, "未来の日付"),
    ("advance_before_last_event", ["case", "advance", CASE, "withdraw", "--on", "2026-05-31",
                                   "--reason", "x"], "tanaka", 2, "最後の記録日 2026-06-01 より前"),
    ("advance_other_council", ["case", "advance", CASE, "withdraw", "--reason", "x"], "saga", 3,
     f"案件 {CASE} が見つかりません"),
    # ------------------------------------------------ reading
    ("show_sql_id", ["case", "show", SQL], "tanaka", 2, "案件番号は '40-2026-0007' の形式です"),
    ("show_other_council", ["case", "show", CASE], "saga", 3, "が見つかりません"),
    ("show_unknown_actor", ["case", "show", CASE], "ghost", 4,
     "'ghost' は登録された担当者ではありません"),
    ("history_long_id", ["case", "history", "40-2026-00011"], "tanaka", 2, "案件番号は"),
    ("subsidy_unknown_case", ["subsidy", "40-2026-0009"], "tanaka", 3, "見つかりません"),
    ("list_stage_unknown", ["case", "list", "--stage", "nowhere"], "tanaka", 2,
     "不明な段階 'nowhere'"),
    ("list_other_council", ["case", "list", "--council", "41"], "tanaka", 4,
     "tanaka は協議会 41 の案件を扱えません"),
    ("list_council_unknown", ["case", "list", "--council", "99"], "tanaka", 3,
     "協議会 99 が見つかりません"),
    # ------------------------------------------------ officers and councils
    ("officer_bad_id", officer_add("bad id"), "admin", 2, "担当者IDは英数字と"),
    ("officer_sql_id", officer_add(SQL), "admin", 2, "担当者IDは英数字と"),
    ("officer_by_officer", officer_add(), "tanaka", 4, "担当者の登録は管理者 (admin) のみ"),
    ("officer_by_supervisor", officer_add(), "boss", 4, "管理者 (admin) のみ"),
    ("officer_role_unknown", officer_add("newbie", "--role", "king"), "admin", 2,
     "役割 (--role) は officer, supervisor, admin のいずれか"),
    ("officer_name_empty", ["officer", "add", "newbie", "--name", "", "--council", "40"],
     "admin", 2, "氏名が空です"),
    ("officer_duplicate", officer_add("tanaka"), "admin", 7, "担当者 tanaka は既に登録されています"),
    ("officer_council_unknown", ["officer", "add", "newbie", "--name", "x", "--council", "99"],
     "admin", 3, "協議会 99 が見つかりません"),
    ("officer_without_council", ["officer", "add", "newbie", "--name", "x"], "admin", 2,
     "所属協議会 (--council) が必要です"),
    ("officer_email", officer_add("newbie", "--email", "not-an-address"), "admin", 2,
     "メールアドレスの形式が不正です"),
    ("council_import_missing", ["council", "import", "/nonexistent/councils.csv"], "admin", 2,
     "ファイルを読めません"),
    ("council_import_by_officer", ["council", "import", "{dir}/councils.csv"], "tanaka", 4,
     "協議会の登録は管理者 (admin) のみ"),
    # ------------------------------------------------ the database and the command line
    ("db_missing", ["--db", "/nonexistent/dir/x.db", "case", "list"], "tanaka", 8,
     "データベースがありません: /nonexistent/dir/x.db"),
    ("db_missing_init", ["--db", "/nonexistent/dir/x.db", "init"], "admin", 8,
     "データベースのフォルダがありません: /nonexistent/dir"),
    ("command_unknown", ["frobnicate"], "admin", 2, "No such command 'frobnicate'"),
]  # fmt: skip


def _params() -> list[Any]:
    return [pytest.param(*row, id=row[0]) for row in ROWS]


@pytest.mark.parametrize(("name", "args", "user", "code", "needle"), _params())
def test_bad_input_is_refused_and_writes_nothing(
    run_cli: Callable[..., Any],
    db: Path,
    template: Path,
    name: str,
    args: list[str],
    user: str,
    code: int,
    needle: str,
) -> None:
    args = [a.replace("{dir}", str(template.parent)) for a in args]
    before = dump(db)
    r = run_cli(*args, user=user, db=f"sqlite:///{db}")
    assert r.code == code, (name, r.code, r.err)
    assert r.err.startswith("kaizen: "), r.err
    assert r.err.endswith("\n") and r.err.count("\n") == 1, r.err
    assert "Traceback" not in r.err and r.out == ""
    assert needle in r.err, r.err
    assert dump(db) == before


def test_the_table_is_wide() -> None:
    assert len(ROWS) >= 30
    groups = {tuple(r[1][:2]) for r in ROWS}
    for g in [("company", "add"), ("company", "prior-use"), ("case", "open"),
              ("case", "advance"), ("officer", "add"), ("council", "import")]:  # fmt: skip
        assert g in groups, g
    assert {r[3] for r in ROWS} == {2, 3, 4, 5, 6, 7, 8}


def test_sql_looking_text_is_stored_verbatim(run_cli: Callable[..., Any], db: Path) -> None:
    url = f"sqlite:///{db}"
    tables = _tables(db)
    assert {"cases", "companies", "events", "lenders"} <= tables
    r = run_cli("company", "add", "--number", NEW, "--name", SQL, "--fiscal-year-end", "3",
                user="tanaka", db=url)  # fmt: skip
    assert r.code == 0, r.err
    r = run_cli("case", "lender", CASE, SQL, "--json", user="tanaka", db=url)
    assert r.code == 0, r.err
    assert [x["name"] for x in json.loads(r.out)["lenders"]] == ["福岡銀行", SQL]
    r = run_cli("case", "open", "--company", NEW, "--program", "early", "--council", "40",
                "--advisor", SQL, "--json", user="tanaka", db=url)  # fmt: skip
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert (doc["advisor"], doc["company_name"]) == (SQL, SQL)
    r = run_cli("case", "advance", doc["id"], "withdraw", "--reason", SQL, "--json",
                user="tanaka", db=url)  # fmt: skip
    assert r.code == 0, r.err
    assert json.loads(r.out)["events"][-1]["reason"] == SQL
    assert _tables(db) == tables  # every table is still there
    r = run_cli("case", "list", "--all", "--json", user="tanaka", db=url)  # withdrawn too
    assert [c["id"] for c in json.loads(r.out)["cases"]] == [CASE, doc["id"]]
