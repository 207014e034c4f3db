"""Settings: where the database is, the council's calendar, rule overrides, reminders, SMTP.

Read from `kaizen.toml` (path from `--config`, `KAIZEN_CONFIG`, or `./kaizen.toml` when it
exists) and the environment; every setting has a default that works, so no file is needed.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from workflow.errors import InvalidInput

DEFAULT_DB = "sqlite:///kaizen.db"


@dataclass(frozen=True)
class ReminderSettings:
    before_days: tuple[int, ...] = (7, 1)  # business days before a due date
    escalate_after_days: int = 5  # business days overdue before the supervisor is told
    sweep_minutes: int = 15
    digest_time: time = time(9, 0)
    retry_base_seconds: int = 60
    max_attempts: int = 8


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    starttls: bool = True
    sender: str = "kaizen@localhost"
    username: str | None = None
    password: str | None = None  # only ever from the environment (KAIZEN_SMTP_PASSWORD)
    timeout: float = 10.0


@dataclass(frozen=True)
class Settings:
    db_url: str = DEFAULT_DB
    closed_days: tuple[date, ...] = ()
    version_key: str = "filing"  # or "acceptance" (rules.md §4: some councils key on 利用決定日)
    rule_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    reminders: ReminderSettings = field(default_factory=ReminderSettings)
    smtp: SmtpSettings | None = None
    source: str = "defaults"
    # [clock] now: a pinned time for demos and training databases (aware UTC), SQLite only.
    clock_now: datetime | None = None

    @property
    def sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")


def normalize_db_url(value: str) -> str:
    """A URL as given, or a plain file path taken as an SQLite database."""
    value = value.strip()
    if not value:
        raise InvalidInput("データベースの指定 (--db / KAIZEN_DB) が空です")
    if "://" in value:
        return value
    return f"sqlite:///{value}"


def _table(raw: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    v = raw.get(key, {})
    if not isinstance(v, dict):
        raise InvalidInput(f"{where}: [{key}] は表 (table) で指定してください")
    return v


REMINDER_KEYS = {
    "before_days",
    "escalate_after_days",
    "sweep_minutes",
    "digest_time",
    "retry_base_seconds",
    "max_attempts",
}
SMTP_KEYS = {"host", "port", "starttls", "sender", "username", "timeout"}


def _known(table: Mapping[str, Any], name: str, known: set[str], where: str) -> None:
    unknown = set(table) - known
    if unknown:
        raise InvalidInput(
            f"{where}: [{name}] の不明な設定 {sorted(unknown)} (使えるのは {sorted(known)})"
        )


def _int(value: Any, name: str, where: str, low: int, high: int) -> int:
    """A whole number from the file (not a string, not true/false) within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{where}: {name} は {low} から {high} までの整数です: {value!r}")
    return value


def parse_settings(raw: Mapping[str, Any], where: str, env: Mapping[str, str]) -> Settings:
    known = {"database", "calendar", "rules", "reminders", "smtp", "clock"}
    unknown = set(raw) - known
    if unknown:
        raise InvalidInput(f"{where}: 不明な設定 {sorted(unknown)} (使えるのは {sorted(known)})")
    database = _table(raw, "database", where)
    _known(database, "database", {"url"}, where)
    db = database.get("url", DEFAULT_DB)
    if not isinstance(db, str):
        raise InvalidInput(f"{where}: database.url は文字列です")
    calendar = _table(raw, "calendar", where)
    _known(calendar, "calendar", {"closed"}, where)
    closed = calendar.get("closed", [])
    if not isinstance(closed, list) or not all(isinstance(d, date) for d in closed):
        raise InvalidInput(f"{where}: calendar.closed は日付 (YYYY-MM-DD) のリストです")
    rules = _table(raw, "rules", where)
    _known(rules, "rules", {"version_key", "overrides"}, where)
    version_key = rules.get("version_key", "filing")
    if version_key not in ("filing", "acceptance"):
        raise InvalidInput(f"{where}: rules.version_key は filing か acceptance です")
    overrides = rules.get("overrides", {})
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise InvalidInput(
            f"{where}: rules.overrides は [rules.overrides.R7] のように版ごとの表で指定してください"
        )
    rem = _table(raw, "reminders", where)
    _known(rem, "reminders", REMINDER_KEYS, where)
    before = rem.get("before_days", [7, 1])
    if not isinstance(before, list) or not before:
        raise InvalidInput(f"{where}: reminders.before_days は営業日数のリストです (例: [7, 1])")
    digest_time = rem.get("digest_time", time(9, 0))
    if not isinstance(digest_time, time):
        raise InvalidInput(f"{where}: reminders.digest_time は時刻です (例: 09:00:00)")
    reminders = ReminderSettings(
        before_days=tuple(_int(x, "reminders.before_days", where, 0, 60) for x in before),
        escalate_after_days=_int(
            rem.get("escalate_after_days", 5), "reminders.escalate_after_days", where, 1, 60
        ),
        sweep_minutes=_int(rem.get("sweep_minutes", 15), "reminders.sweep_minutes", where, 1, 1440),
        digest_time=digest_time,
        retry_base_seconds=_int(
            rem.get("retry_base_seconds", 60), "reminders.retry_base_seconds", where, 1, 86400
        ),
        max_attempts=_int(rem.get("max_attempts", 8), "reminders.max_attempts", where, 1, 30),
    )
    smtp = None
    s = _table(raw, "smtp", where)
    if s:
        _known(s, "smtp", SMTP_KEYS, where)
        if not isinstance(s.get("host"), str) or not s["host"]:
            raise InvalidInput(f"{where}: smtp.host がありません")
        for key in ("sender", "username"):
            if key in s and not isinstance(s[key], str):
                raise InvalidInput(f"{where}: smtp.{key} は文字列です")
        if not isinstance(s.get("starttls", True), bool):
            raise InvalidInput(f"{where}: smtp.starttls は true か false です")
        timeout = s.get("timeout", 10.0)
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout <= 600
        ):
            raise InvalidInput(f"{where}: smtp.timeout は 0 より大きく 600 以下の秒数です")
        smtp = SmtpSettings(
            host=s["host"],
            port=_int(s.get("port", 587), "smtp.port", where, 1, 65535),
            starttls=s.get("starttls", True),
            sender=s.get("sender", "kaizen@localhost"),
            username=env.get("KAIZEN_SMTP_USER") or s.get("username"),
            password=env.get("KAIZEN_SMTP_PASSWORD"),
            timeout=float(timeout),
        )
    return Settings(
        db_url=normalize_db_url(str(db)),
        clock_now=_clock(_table(raw, "clock", where), where),
        closed_days=tuple(closed),
        version_key=version_key,
        rule_overrides=overrides,
        reminders=reminders,
        smtp=smtp,
        source=where,
    )


CLOCK_FORMAT = '[clock] now は "YYYY-MM-DDTHH:MM:SS" (日本時間) で指定してください'


def _clock(table: Mapping[str, Any], where: str) -> datetime | None:
    """`[clock] now`: a naive Japan time (TOML local date-time, or the same as a string)."""
    unknown = set(table) - {"now"}
    if unknown:
        raise InvalidInput(f"{where}: [clock] の不明な設定 {sorted(unknown)} (使えるのは ['now'])")
    if "now" not in table:
        return None
    value = table["now"]
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(f"{where}: {CLOCK_FORMAT}") from None
    if not isinstance(value, datetime) or value.tzinfo is not None:
        raise InvalidInput(f"{where}: {CLOCK_FORMAT}")
    from states.calendar import DateOutOfRange, check_input_date

    try:
        check_input_date(value.date(), "[clock] now")
    except DateOutOfRange as e:
        raise InvalidInput(f"{where}: {e}") from None
    return value.replace(tzinfo=ZoneInfo("Asia/Tokyo")).astimezone(UTC)


CLOCK_ON_SERVER = (
    "[clock] now (時計の固定) は SQLite のデータベースでだけ使えます: "
    "PostgreSQL では設定から外してください"
)


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Settings from a file (if any) with `KAIZEN_DB` taking precedence for the database."""
    env = os.environ if env is None else env
    if path is None and env.get("KAIZEN_CONFIG"):
        path = Path(env["KAIZEN_CONFIG"])
        if not path.exists():
            raise InvalidInput(f"設定ファイルがありません: {path} (KAIZEN_CONFIG)")
    if path is None and Path("kaizen.toml").exists():
        path = Path("kaizen.toml")
    raw: dict[str, Any] = {}
    where = "defaults"
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            raise InvalidInput(f"設定ファイルがありません: {path}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise InvalidInput(f"設定ファイル {path} を読めません: {e}") from e
        where = str(path)
    settings = parse_settings(raw, where, env)
    if env.get("KAIZEN_DB"):
        from dataclasses import replace

        settings = replace(settings, db_url=normalize_db_url(env["KAIZEN_DB"]))
    if settings.clock_now is not None and not settings.sqlite:
        # A shared database must never run on a clock that one user's file sets.
        raise InvalidInput(f"{settings.source}: {CLOCK_ON_SERVER}")
    return settings
