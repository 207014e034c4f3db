"""Rule versions (R4, R5, R6, R7…): caps, re-use policy, timeline template and deadlines.

Each version is a TOML file in `data/rules/`; a version may inherit another and restate only
what changed. Every value carries its source and a `verified` flag (rules.md §8: unverified
values are shipped defaults that `kaizen rules show` flags and a council may override).
A case pins the version picked by its filing date and keeps it for life (design.md §1).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

from states.programs import Catalog, RuleDataError, catalog

REUSE_MODES = ("affected", "exception", "once")


@dataclass(frozen=True)
class Sourced:
    """One rule value with where it comes from."""

    value: Any
    source: str
    verified: bool
    defined_in: str  # the version whose file states it (inheritance shows here)


@dataclass(frozen=True)
class TemplateMilestone:
    key: str
    label: str
    stage: str
    done_by: str
    month: int  # months after the kick-off month


@dataclass(frozen=True)
class ReusePolicy:
    mode: str
    counted_programs: tuple[str, ...]
    max_uses: int | None = None
    affected_causes: tuple[str, ...] = ()
    payment_cap_total: int | None = None
    needs_reason: bool = False
    needs_supervisor: bool = False
    blocked_after_405: bool = False
    blocked_after_405_unless_affected: bool = False


@dataclass(frozen=True, eq=False)  # identity: versions are loaded once and cached by identity
class RuleVersion:
    id: str
    label: str
    effective_from: date
    source: str
    verified: bool
    inherits: str | None
    values: Mapping[str, Sourced]  # dotted keys, e.g. 'caps.405/normal.dd_plan'
    timeline: Mapping[str, tuple[TemplateMilestone, ...]] = field(default_factory=dict)

    def value(self, key: str) -> Any:
        try:
            return self.values[key].value
        except KeyError:
            raise KeyError(f"rule {self.id} has no value '{key}'") from None

    def cap(self, program: str, track: str, category: str) -> int:
        return int(self.value(f"caps.{program}/{track}.{category}"))

    def caps(self, program: str, track: str) -> dict[str, int]:
        prefix = f"caps.{program}/{track}."
        return {
            k[len(prefix) :]: int(v.value) for k, v in self.values.items() if k.startswith(prefix)
        }

    def reuse(self, program: str) -> ReusePolicy:
        prefix = f"reuse.{program}."
        raw = {k[len(prefix) :]: v.value for k, v in self.values.items() if k.startswith(prefix)}
        return ReusePolicy(
            mode=raw["mode"],
            counted_programs=tuple(raw["counted_programs"]),
            max_uses=raw.get("max_uses"),
            affected_causes=tuple(raw.get("affected_causes", ())),
            payment_cap_total=raw.get("payment_cap_total"),
            needs_reason=bool(raw.get("needs_reason", False)),
            needs_supervisor=bool(raw.get("needs_supervisor", False)),
            blocked_after_405=bool(raw.get("blocked_after_405", False)),
            blocked_after_405_unless_affected=bool(
                raw.get("blocked_after_405_unless_affected", False)
            ),
        )

    def monitoring(self, program: str, name: str) -> int:
        return int(self.value(f"monitoring.{program}.{name}"))

    def deadline(self, name: str) -> int:
        return int(self.value(f"deadlines.{name}"))

    @property
    def rate(self) -> tuple[int, int]:
        return int(self.value("money.rate_numerator")), int(self.value("money.rate_denominator"))

    @property
    def unverified(self) -> list[str]:
        return [k for k, v in self.values.items() if not v.verified]

    def with_overrides(self, overrides: Mapping[str, Any], source: str) -> RuleVersion:
        """A copy with some values replaced (a council's kaizen.toml), same types only."""
        values = dict(self.values)
        for key, new in overrides.items():
            if key not in values:
                raise RuleDataError(f"{source}: rule {self.id} has no value '{key}'")
            old = values[key].value
            if type(new) is not type(old):
                raise RuleDataError(f"{source}: {key} must be {type(old).__name__}, got {new!r}")
            values[key] = Sourced(new, source, True, source)
        updated = replace(self, values=values)
        _validate(updated, catalog(), f"{source} (rules.overrides.{self.id})")
        return updated


# ---------------------------------------------------------------- loading and validation

_META = ("id", "label", "effective_from", "source", "inherits", "verified")
_SECTIONS = ("money", "caps", "reuse", "monitoring", "deadlines")


def _merge(base: dict[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge a child version over its parent; `replace = true` drops the parent's table."""
    out = dict(base)
    for k, v in child.items():
        if isinstance(v, dict) and v.get("replace") is True:
            out[k] = {kk: vv for kk, vv in v.items() if kk != "replace"}
        elif isinstance(v, dict) and isinstance(out.get(k), dict) and not _is_sourced(v):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _is_sourced(v: Any) -> bool:
    return isinstance(v, dict) and "value" in v


def _flatten(
    table: Mapping[str, Any], prefix: str, origin: Mapping[str, str], where: str
) -> dict[str, Sourced]:
    out: dict[str, Sourced] = {}
    for k, v in table.items():
        key = f"{prefix}.{k}" if prefix else k
        if _is_sourced(v):
            if set(v) - {"value", "source", "verified"}:
                raise RuleDataError(f"{where}: {key}: unexpected keys {sorted(set(v))}")
            src, ver = v.get("source"), v.get("verified")
            if not isinstance(src, str) or not src.strip():
                raise RuleDataError(f"{where}: {key}: every value needs a 'source'")
            if not isinstance(ver, bool):
                raise RuleDataError(f"{where}: {key}: 'verified' must be true or false")
            out[key] = Sourced(v["value"], src, ver, origin.get(key, "?"))
        elif isinstance(v, dict):
            out.update(_flatten(v, key, origin, where))
        else:
            raise RuleDataError(f"{where}: {key}: expected {{value, source, verified}}, got {v!r}")
    return out


def _origins(raw_by_id: Mapping[str, Mapping[str, Any]], chain: list[str]) -> dict[str, str]:
    """For each dotted key, the version (along the inheritance chain) that states it last."""
    origin: dict[str, str] = {}
    for vid in chain:

        def walk(t: Mapping[str, Any], prefix: str, vid: str = vid) -> None:
            for k, v in t.items():
                key = f"{prefix}.{k}" if prefix else k
                if isinstance(v, dict) and v.get("replace") is True:
                    for old in [o for o in origin if o.startswith(key + ".")]:
                        del origin[old]
                if _is_sourced(v):
                    origin[key] = vid
                elif isinstance(v, dict):
                    walk(v, key)

        walk({s: raw_by_id[vid][s] for s in _SECTIONS if s in raw_by_id[vid]}, "")
    return origin


def _check_int(values: Mapping[str, Sourced], key: str, where: str, minimum: int = 0) -> None:
    v = values.get(key)
    if v is None:
        raise RuleDataError(f"{where}: '{key}' is missing")
    if not isinstance(v.value, int) or isinstance(v.value, bool) or v.value < minimum:
        raise RuleDataError(f"{where}: {key} must be an integer ≥ {minimum}, got {v.value!r}")


def _validate(version: RuleVersion, cat: Catalog, where: str) -> None:
    values = version.values
    for k in ("money.rate_numerator", "money.rate_denominator"):
        _check_int(values, k, where, 1)
    num, den = version.rate
    if num > den:
        raise RuleDataError(f"{where}: the subsidy rate {num}/{den} is above 1")
    for key, d in cat.definitions.items():
        for c in d.categories:
            _check_int(values, f"caps.{key}.{c.id}", where, 1)
        known = {c.id for c in d.categories}
        stray = {k.split(".")[-1] for k in values if k.startswith(f"caps.{key}.")} - known
        if stray:
            raise RuleDataError(f"{where}: caps.{key}: unknown categories {sorted(stray)}")
    for program in cat.programs:
        mode = values.get(f"reuse.{program}.mode")
        if mode is None or mode.value not in REUSE_MODES:
            raise RuleDataError(f"{where}: reuse.{program}.mode must be one of {REUSE_MODES}")
        counted = values.get(f"reuse.{program}.counted_programs")
        if counted is None or not set(counted.value) <= set(cat.programs) or not counted.value:
            raise RuleDataError(f"{where}: reuse.{program}.counted_programs must list programs")
        if mode.value == "affected":
            _check_int(values, f"reuse.{program}.max_uses", where, 1)
            if not values.get(f"reuse.{program}.affected_causes"):
                raise RuleDataError(f"{where}: reuse.{program}.affected_causes is missing")
        if mode.value == "exception" and f"reuse.{program}.payment_cap_total" in values:
            _check_int(values, f"reuse.{program}.payment_cap_total", where, 1)
        tl = version.timeline.get(program)
        if not tl:
            raise RuleDataError(f"{where}: timeline.{program} is missing")
        d0 = next(d for d in cat.definitions.values() if d.program == program)
        last = -1
        for m in tl:
            if m.stage not in d0.stage_ids:
                raise RuleDataError(f"{where}: timeline.{program}.{m.key}: unknown stage")
            if m.done_by not in d0.triggers:
                raise RuleDataError(f"{where}: timeline.{program}.{m.key}: unknown trigger")
            if m.month < last:
                raise RuleDataError(f"{where}: timeline.{program}.{m.key}: months go backwards")
            last = m.month
    for k in ("periods", "per_year", "report_months_after_period_end", "start_month"):
        _check_int(values, f"monitoring.405.{k}", where, 1)
    if 12 % version.monitoring("405", "per_year"):
        raise RuleDataError(f"{where}: monitoring.405.per_year must divide 12")
    for k in (
        "year_end_min_months_after_plan",
        "report_months_after_year_end",
        "interim_months_before_year_end",
    ):
        _check_int(values, f"monitoring.early.{k}", where, 0)
    for k in (
        "certificate_max_age_months",
        "application_valid_years_405",
        "early_payment_claim_within_months",
        "monitoring_claim_expiry_days",
        "monitoring_claim_reminder_days",
        "payment_claim_after_agreement_months",
    ):
        _check_int(values, f"deadlines.{k}", where, 0)


def _timeline(raw: Mapping[str, Any], where: str) -> dict[str, tuple[TemplateMilestone, ...]]:
    out = {}
    for program, rows in raw.get("timeline", {}).items():
        items = []
        for i, r in enumerate(rows):
            w = f"{where}: timeline.{program}[{i}]"
            try:
                items.append(
                    TemplateMilestone(
                        key=str(r["key"]),
                        label=str(r["label"]),
                        stage=str(r["stage"]),
                        done_by=str(r["done_by"]),
                        month=int(r["month"]),
                    )
                )
            except (KeyError, TypeError, ValueError) as e:
                raise RuleDataError(f"{w}: needs key, label, stage, done_by, month ({e})") from e
        out[program] = tuple(items)
    return out


def parse_versions(files: Mapping[str, str], cat: Catalog | None = None) -> tuple[RuleVersion, ...]:
    """Build and validate versions from {file name: TOML text}; sorted by effective date."""
    cat = cat or catalog()
    raw_by_id: dict[str, dict[str, Any]] = {}
    name_of: dict[str, str] = {}
    for name, text in files.items():
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise RuleDataError(f"{name}: {e}") from e
        vid = raw.get("id")
        if not isinstance(vid, str) or not vid:
            raise RuleDataError(f"{name}: 'id' is missing")
        if vid in raw_by_id:
            raise RuleDataError(f"{name}: version {vid} is defined twice")
        unknown = set(raw) - set(_META) - set(_SECTIONS) - {"timeline", "timeline_source"}
        if unknown:
            raise RuleDataError(f"{name}: unknown sections {sorted(unknown)}")
        if not isinstance(raw.get("effective_from"), date):
            raise RuleDataError(f"{name}: 'effective_from' must be a date (YYYY-MM-DD)")
        raw_by_id[vid] = raw
        name_of[vid] = name

    versions = []
    for vid, raw in raw_by_id.items():
        where = name_of[vid]
        chain = [vid]
        while (parent := raw_by_id[chain[0]].get("inherits")) is not None:
            if parent not in raw_by_id:
                raise RuleDataError(f"{where}: inherits unknown version '{parent}'")
            if parent in chain:
                raise RuleDataError(f"{where}: inheritance loop through '{parent}'")
            chain.insert(0, parent)
        merged: dict[str, Any] = {}
        for cid in chain:
            merged = _merge(merged, raw_by_id[cid])
        sections = {s: merged[s] for s in _SECTIONS if s in merged}
        values = _flatten(sections, "", _origins(raw_by_id, chain), where)
        ts = merged.get("timeline_source")
        if ts is not None:
            values.update(_flatten({"timeline_source": ts}, "", {"timeline_source": vid}, where))
        v = RuleVersion(
            id=vid,
            label=str(raw.get("label", vid)),
            effective_from=raw["effective_from"],
            source=str(raw.get("source", "")),
            verified=bool(raw.get("verified", True)),
            inherits=raw.get("inherits"),
            values=values,
            timeline=_timeline(merged, where),
        )
        _validate(v, cat, where)
        versions.append(v)
    versions.sort(key=lambda v: v.effective_from)
    for a, b in pairwise(versions):
        if a.effective_from == b.effective_from:
            raise RuleDataError(
                f"{name_of[a.id]}, {name_of[b.id]}: effective_from {a.effective_from} is shared "
                f"by {a.id} and {b.id}"
            )
    return tuple(versions)


def load_versions(folder: Path | None = None) -> tuple[RuleVersion, ...]:
    """Read every `*.toml` in a folder (the packaged `data/rules` by default)."""
    if folder is None:
        root = resources.files("states").joinpath("data/rules")
        files = {p.name: p.read_text("utf-8") for p in root.iterdir() if p.name.endswith(".toml")}
    else:
        files = {p.name: p.read_text("utf-8") for p in sorted(folder.glob("*.toml"))}
    if not files:
        raise RuleDataError(f"no rule files in {folder or 'states/data/rules'}")
    return parse_versions(files)


@cache
def versions() -> tuple[RuleVersion, ...]:
    """The packaged versions, loaded and validated once per process."""
    return load_versions()


class NoRuleVersionError(ValueError):
    """No rule version covers the date, or the id is unknown."""


def version_for(on: date, available: Iterable[RuleVersion] | None = None) -> RuleVersion:
    """The version in force on a filing (or acceptance) date: the latest that has started."""
    vs = sorted(available if available is not None else versions(), key=lambda v: v.effective_from)
    current = None
    for v in vs:
        if v.effective_from <= on:
            current = v
    if current is None:
        first = vs[0].effective_from if vs else None
        raise NoRuleVersionError(
            f"{on.isoformat()} より前の制度は収録されていません (最初の版: {first})"
        )
    return current


def get_version(version_id: str, available: Iterable[RuleVersion] | None = None) -> RuleVersion:
    vs = list(available if available is not None else versions())
    for v in vs:
        if v.id == version_id.upper():
            return v
    known = ", ".join(v.id for v in vs)
    raise NoRuleVersionError(f"不明な規程の版 '{version_id}': {known} のいずれか")
