"""One engine, two doors: the same lives through the commands and through the importer.

Each scripted life (every program and track, with its options, to every stage, closings
included) is driven through the use cases on one database, exported (`export_cases`) and
imported (`import_cases`) into a second, empty database on the same backend. Both doors go
through the same decision core and writer, so the case's rows must be identical: the case row,
lenders, costs, payments, monitoring reports, milestones and the transition events. Refusals
too: a step the commands refuse is refused in an imported row with the same words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Case, Cost, Event, Lender, Milestone, MonitoringReport, Payment
from tests.conftest import World, migrated
from tests.workflow.conftest import Driver, set_today
from workflow.config import Settings
from workflow.errors import KaizenError
from workflow.importer import ImportRejected, export_cases, import_cases
from workflow.service import Kaizen
from workflow.setup import init_database

# (program, track, stage reached, options, closing trigger or None)
LIVES: list[tuple[str, str, str, dict[str, Any], str | None]] = [
    ("405", "normal", "completed", {}, None),
    ("405", "normal", "completed", {"guarantee_release": True}, None),
    ("405", "normal", "monitoring_claim", {}, None),
    ("405", "normal", "bank_negotiation", {}, None),
    ("405", "normal", "application", {}, "reject"),
    ("405", "normal", "planning", {}, "withdraw"),
    ("405", "gl", "completed", {}, None),
    ("405", "gl", "monitoring", {}, "discontinue"),
    ("405", "gl", "due_diligence", {}, None),
    ("early", "normal", "completed", {}, None),
    ("early", "normal", "completed", {"interim_monitoring": True}, None),
    ("early", "normal", "payment_claim", {}, None),
    ("early", "guarantee", "completed", {}, None),
    ("early", "guarantee", "consultation", {}, "withdraw"),
]


@pytest.fixture
def other_url(world: World, sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    """A second empty, migrated database on the world's backend."""
    backend = "sqlite" if world.url.startswith("sqlite") else "postgresql"
    with migrated(backend, sqlite_template, tmp_path / "other.db") as url:
        yield url


def _other(world: World, url: str) -> Kaizen:
    k, _ = init_database(Settings(db_url=url), world.clock, "admin")
    for oid, role, council in (("tanaka", "officer", "40"), ("boss", "supervisor", "40")):
        k.add_officer("admin", oid, name=oid, council=council, role=role)
    return k


def rows(k: Kaizen, case_id: str) -> dict[str, Any]:
    """What a case is in the database, without what only says when it was written."""
    skip = {"updated_at", "version"}
    with k.db.reading() as s:
        case = s.execute(select(Case.__table__).where(Case.id == case_id)).one()._asdict()
        return {
            "case": {k_: v for k_, v in case.items() if k_ not in skip},
            "lenders": _all(s, Lender.name, Lender.consented_on, where=Lender.case_id == case_id),
            "costs": _all(
                s,
                Cost.category,
                Cost.estimate,
                Cost.actual,
                Cost.paid_on,
                where=Cost.case_id == case_id,
            ),
            "payments": _all(
                s,
                Payment.kind,
                Payment.period,
                Payment.amount,
                Payment.paid_on,
                where=Payment.case_id == case_id,
            ),
            "reports": _all(
                s,
                MonitoringReport.period,
                MonitoringReport.reported_on,
                where=MonitoringReport.case_id == case_id,
            ),
            "milestones": _all(
                s,
                Milestone.key,
                Milestone.label,
                Milestone.stage,
                Milestone.due,
                Milestone.done_on,
                where=Milestone.case_id == case_id,
            ),
            # The first event differs by design (open / import); the steps must not.
            "transitions": _all(
                s,
                Event.trigger,
                Event.from_stage,
                Event.to_stage,
                Event.effective_on,
                Event.actor,
                Event.reason,
                where=(Event.case_id == case_id) & (Event.kind == "transition") & (Event.seq > 1),
                order=Event.seq,
            ),
        }


def _all(s: Session, *cols: Any, where: Any, order: Any = None) -> list[tuple[Any, ...]]:
    q = select(*cols).where(where)
    out = [tuple(r) for r in s.execute(q.order_by(order) if order is not None else q)]
    return out if order is not None else sorted(out, key=repr)


def live(drive: Driver, life: tuple[str, str, str, dict[str, Any], str | None]) -> str:
    program, track, stage, options, closing = life
    set_today(drive.world, date(2025, 4, 7))  # R7; a full life fits before the pinned day
    cid = drive.open(program, track, **options)
    drive.fill_monitoring_fees = True
    drive.to(cid, stage)
    if closing is not None:
        drive.step(cid, closing, reason="事業者の申出")
    return cid


@pytest.mark.parametrize("life", LIVES, ids=lambda x: f"{x[0]}-{x[1]}-{x[2]}-{x[4] or 'open'}")
def test_a_life_is_the_same_through_commands_and_import(
    world: World,
    drive: Driver,
    other_url: str,
    tmp_path: Path,
    life: tuple[str, str, str, dict[str, Any], str | None],
) -> None:
    cid = live(drive, life)
    k = drive.k
    sheet = tmp_path / "cases.csv"
    export_cases(k, "admin", sheet)
    k2 = _other(world, other_url)
    try:
        result = import_cases(k2, "tanaka", sheet)
        assert result.cases == [cid] and result.problems == []
        assert rows(k2, cid) == rows(k, cid)
        assert k2.subsidy("tanaka", cid) == k.subsidy("tanaka", cid)
    finally:
        k2.db.dispose()


# A step the commands refuse, and the same step in a row: (what to break, the command).
REFUSALS = [
    ("stale_certificate", "apply"),
    ("unconsented_lender", "agree"),
    ("fee_before_acceptance", "fee"),
]


def _refused_by_command(drive: Driver, kind: str) -> tuple[str, str]:
    """Drive a case to the refused step; returns (case id, the refusal's message)."""
    k = drive.k
    set_today(drive.world, date(2025, 4, 7))
    cid = drive.open("405", "normal")
    step: Callable[[], object]
    if kind == "stale_certificate":
        k.record_certificate("tanaka", cid, k.today() - timedelta(days=120))
        drive.prepare_apply(cid)
        step = partial(drive.step, cid, "apply")
    elif kind == "unconsented_lender":
        k.add_lender("tanaka", cid, "西日本シティ銀行")  # never consents
        drive.to(cid, "bank_negotiation")
        step = partial(drive.step, cid, "agree")
    else:
        drive.prepare_apply(cid)
        drive.step(cid, "apply")
        step = partial(k.record_fee, "tanaka", cid, "dd_plan", 2_400_000)
    with pytest.raises(KaizenError) as refused:
        step()
    return cid, refused.value.message


def _as_row(kind: str, sheet: Path, on: date) -> None:
    """Make the exported row ask for the refused step, on the day it was refused."""
    text = sheet.read_text("utf-8-sig").splitlines()
    header, row = text[0].split(","), text[1].split(",")
    cell = dict(zip(header, row, strict=True))
    if kind == "stale_certificate":
        cell["段階"] = "application"
        cell["利用申請日"] = on.isoformat()
    elif kind == "unconsented_lender":
        cell["段階"] = "payment_claim"
        cell["金融機関合意日"] = on.isoformat()
    else:
        cell["費用"] = cell["費用"].replace("dd_plan=2400000", "dd_plan=2400000/2400000")
    sheet.write_text(
        ",".join(header) + "\n" + ",".join(cell[h] for h in header) + "\n", "utf-8-sig"
    )


@pytest.mark.parametrize(("kind", "step"), REFUSALS)
def test_a_refusal_is_the_same_through_commands_and_import(
    world: World, drive: Driver, other_url: str, tmp_path: Path, kind: str, step: str
) -> None:
    cid, message = _refused_by_command(drive, kind)
    sheet = tmp_path / "cases.csv"
    export_cases(drive.k, "admin", sheet)
    _as_row(kind, sheet, drive.k.today())
    k2 = _other(world, other_url)
    try:
        with pytest.raises(ImportRejected) as rejected:
            import_cases(k2, "tanaka", sheet)
        assert [p.message for p in rejected.value.result.problems] == [message], cid
    finally:
        k2.db.dispose()
