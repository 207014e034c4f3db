"""`kaizen export calendar`: one all-day event per open milestone, read back with the
icalendar library; UIDs stay the same from one export to the next; 0644; access."""

from __future__ import annotations

import stat
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar

from tests.conftest import World
from tests.workflow.conftest import Driver, company, set_today


@pytest.fixture
def cases(world: World, drive: Driver) -> dict[str, str]:
    out = {
        "open": drive.new(company=company(world, "400000000001", name="株式会社博多精工")),
        "dd": drive.new(company=company(world, "400000000002"), stage="due_diligence"),
        "gone": drive.new(company=company(world, "400000000003")),
    }
    drive.step(out["gone"], "withdraw", reason="取りやめ")
    out["saga"] = Driver(world, actor="saga").new(
        company=company(world, "400000000004"), council="41"
    )
    return out


def read(path: Path) -> dict[str, Any]:
    cal = Calendar.from_ical(path.read_bytes())
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def open_milestones(drive: Driver, cid: str) -> dict[str, date]:
    return {m.key: m.due for m in drive.k.show("tanaka", cid).milestones if not m.done}


def test_one_all_day_event_per_open_milestone(
    drive: Driver, cases: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "kaizen.ics"
    n = drive.k.export_calendar("tanaka", path)
    events = read(path)
    expected = {
        f"{cid}.{key}@kaizen": due
        for cid in (cases["open"], cases["dd"])
        for key, due in open_milestones(drive, cid).items()
    }
    assert n == len(events) == len(expected) > 0
    assert {uid: e.decoded("DTSTART") for uid, e in events.items()} == expected
    for uid, e in events.items():
        start, end = e.decoded("DTSTART"), e.decoded("DTEND")
        assert type(start) is date and end == start + timedelta(days=1), uid  # all day
    some = events[f"{cases['open']}.kickoff@kaizen"]
    assert "株式会社博多精工" in str(some["SUMMARY"]) and cases["open"] in str(some["SUMMARY"])
    assert f"kaizen case advance {cases['open']} 利用申請" in str(some["DESCRIPTION"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_uids_are_stable_and_a_moved_date_updates(
    world: World, drive: Driver, cases: dict[str, str], tmp_path: Path
) -> None:
    first, second = tmp_path / "a.ics", tmp_path / "b.ics"
    drive.k.export_calendar("tanaka", first)
    drive.next(cases["open"])  # apply: kickoff done, the rest stays
    set_today(world, date(2026, 6, 20))
    drive.k.export_calendar("tanaka", second)
    a, b = read(first), read(second)
    kickoff = f"{cases['open']}.kickoff@kaizen"
    assert kickoff in a and kickoff not in b  # done: no longer an event
    assert set(b) < set(a)  # nothing new, nothing renamed


def test_scopes(drive: Driver, cases: dict[str, str], tmp_path: Path) -> None:
    def case_ids(actor: str, **kw: str) -> set[str]:
        path = tmp_path / f"{actor}.ics"
        drive.k.export_calendar(actor, path, **kw)
        return {uid.split(".")[0] for uid in read(path)}

    mine = {cases["open"], cases["dd"]}
    assert case_ids("tanaka") == mine
    assert case_ids("boss") == mine  # a supervisor: the council
    assert case_ids("boss", officer="tanaka") == mine
    assert case_ids("admin", council="41") == {cases["saga"]}
    assert case_ids("saga", officer="tanaka") == set()  # another council's officer


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["export", "calendar", "{dir}/x.txt"], 2, ".ics"),
        (["export", "calendar", "{dir}/none/x.ics"], 2, "フォルダがありません"),
        (["export", "calendar", "{dir}/x.ics", "--council", "41"], 4, "協議会 41"),
        (["export", "calendar", "{dir}/x.ics", "--council", "99"], 3, "協議会 99"),
        (["export", "calendar", "{dir}/x.ics", "--officer", "a", "--council", "40"], 2, "どちらか"),
    ],
)
def test_refusals_write_nothing(
    run_cli: Callable[..., Any],
    world: World,
    cases: dict[str, str],
    tmp_path: Path,
    args: list[str],
    code: int,
    needle: str,
) -> None:
    r = run_cli(*[a.replace("{dir}", str(tmp_path)) for a in args], user="tanaka", db=world.url)
    assert r.code == code and needle in r.err, r.err
    assert not list(tmp_path.glob("*.ics")) and not list(tmp_path.glob(".*tmp"))


def test_the_cli_writes_the_file(
    run_cli: Callable[..., Any], world: World, cases: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "mine.ics"
    r = run_cli("export", "calendar", str(path), user="tanaka", db=world.url)
    assert r.code == 0, r.err
    assert f"{len(read(path))} 件の期限を書き出しました" in r.out


@pytest.mark.parametrize("name", ["cases.csv", "cases.xlsx"])
def test_exports_are_readable_by_the_group(
    drive: Driver, cases: dict[str, str], tmp_path: Path, name: str
) -> None:
    from workflow.importer import export_cases

    path = tmp_path / name
    export_cases(drive.k, "tanaka", path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
