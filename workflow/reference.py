"""Use cases that need no database: the timeline preview, the rule book and the diagrams."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from states.calendar import BusinessCalendar
from states.diagram import mermaid
from states.programs import RuleDataError, UnknownProgramError, catalog
from states.rules import NoRuleVersionError, RuleVersion, get_version, version_for, versions
from states.timeline import TimelineError, plan_timeline
from workflow.config import Settings
from workflow.errors import InvalidInput, NotFound


@cache
def _calendar(closed: tuple[date, ...]) -> BusinessCalendar:
    return BusinessCalendar(extra_closed=closed)


def calendar_for(settings: Settings) -> BusinessCalendar:
    """One calendar per set of closed days, shared by every case in the process."""
    return _calendar(tuple(sorted(settings.closed_days)))


_OVERRIDDEN: dict[str, tuple[RuleVersion, ...]] = {}


def rule_versions(settings: Settings) -> tuple[RuleVersion, ...]:
    """The packaged versions with the council's overrides (kaizen.toml [rules.overrides])."""
    if not settings.rule_overrides:
        return versions()
    key = json.dumps([settings.source, settings.rule_overrides], sort_keys=True, default=str)
    if key not in _OVERRIDDEN:
        _OVERRIDDEN[key] = _with_overrides(versions(), settings.rule_overrides, settings.source)
    return _OVERRIDDEN[key]


def _with_overrides(
    base: tuple[RuleVersion, ...], by_id: Mapping[str, Mapping[str, Any]], source: str
) -> tuple[RuleVersion, ...]:
    unknown = set(by_id) - {v.id for v in base}
    if unknown:
        raise InvalidInput(f"{source}: rules.overrides に不明な版 {sorted(unknown)}")
    try:
        return tuple(
            v.with_overrides(dict(by_id[v.id]), source) if v.id in by_id else v for v in base
        )
    except RuleDataError as e:
        raise InvalidInput(str(e)) from e


def pick_version(settings: Settings, on: date) -> RuleVersion:
    try:
        return version_for(on, rule_versions(settings))
    except NoRuleVersionError as e:
        raise InvalidInput(str(e)) from e


def find_version(settings: Settings, version_id: str) -> RuleVersion:
    try:
        return get_version(version_id, rule_versions(settings))
    except NoRuleVersionError as e:
        raise NotFound(str(e)) from e


@dataclass(frozen=True)
class PlannedMilestone:
    key: str
    label: str
    stage: str
    stage_label: str
    due: date


def preview_plan(
    settings: Settings,
    *,
    fiscal_year_end_month: int,
    program: str,
    today: date,
    start: date | None = None,
    interim_monitoring: bool = False,
) -> tuple[RuleVersion, list[PlannedMilestone]]:
    """The milestones a new case would get, under the rule version in force on its start."""
    if program not in catalog().programs:
        known = ", ".join(catalog().programs)
        raise InvalidInput(f"不明な事業 (program) '{program}': {known} のいずれか")
    rules = pick_version(settings, start or today)
    try:
        ms = plan_timeline(
            program=program,
            rules=rules,
            cal=calendar_for(settings),
            fiscal_year_end_month=fiscal_year_end_month,
            today=today,
            start=start,
            interim_monitoring=interim_monitoring,
        )
    except TimelineError as e:
        raise InvalidInput(str(e)) from e
    labels = catalog().stages
    return rules, [
        PlannedMilestone(m.key, m.label, m.stage, labels[m.stage].label, m.due) for m in ms
    ]


def diagram(program: str, track: str) -> str:
    try:
        return mermaid(catalog().definition(program, track))
    except UnknownProgramError as e:
        raise InvalidInput(str(e)) from e


def rule_rows(version: RuleVersion) -> Iterable[Mapping[str, Any]]:
    for key, v in version.values.items():
        yield {
            "key": key,
            "value": v.value,
            "source": v.source,
            "verified": v.verified,
            "defined_in": v.defined_in,
        }
