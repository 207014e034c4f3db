"""The typer application, its shared options, and the one place errors become exit codes."""

from __future__ import annotations

import getpass
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from states.text import has_surrogates, visible
from workflow.clock import Clock, FixedClock, SystemClock
from workflow.config import Settings, load_settings

if TYPE_CHECKING:
    from workflow.service import Kaizen
from workflow.errors import InvalidInput, KaizenError

JST = ZoneInfo("Asia/Tokyo")

app = typer.Typer(
    help="Kaizen: 中小企業活性化協議会の経営改善計画策定支援 (405事業・早期経営改善) の案件管理",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


_clock: Clock | None = None  # a test's clock (`set_clock`); never set by production code


def set_clock(clock: Clock | None) -> None:
    """Tests only: every command of this process runs on `clock` (None: back to normal).

    Production time comes from the system clock or, for a demo or training database on
    SQLite, from `[clock] now` in kaizen.toml; no environment variable can set it.
    """
    global _clock
    _clock = clock


@dataclass
class Ctx:
    """What every command needs: settings, the acting user, and the clock."""

    config: Path | None = None
    db: str | None = None
    actor: str | None = None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            env = dict(os.environ)
            if self.db:
                env["KAIZEN_DB"] = self.db
            self._settings = load_settings(self.config, env)
            if self._settings.clock_now is not None and _clock is None:
                say(
                    f"注意: 時計を {self._settings.clock_now.astimezone(JST):%Y-%m-%dT%H:%M:%S}"
                    f" に固定しています ([clock] now, {self._settings.source})"
                )
        return self._settings

    @property
    def user(self) -> str:
        return self.actor or os.environ.get("KAIZEN_USER") or getpass.getuser()

    def now(self) -> datetime:
        """Aware UTC now, from the clock (`clock()`)."""
        return self.clock().now()

    def today(self) -> date:
        return self.now().astimezone(JST).date()

    def clock(self) -> Clock:
        """The injected clock: a test's (`set_clock`), else `[clock] now` of an SQLite
        database's settings (announced on stderr), else the system clock."""
        if _clock is not None:
            return _clock
        pinned = self.settings.clock_now
        return FixedClock(pinned) if pinned is not None else SystemClock()

    def real_clock(self) -> Clock:
        """The clock of the world outside (what reminders may be sent up to): a test's, else
        the system clock — never `[clock] now`, which only pretends for a demo."""
        return _clock if _clock is not None else SystemClock()

    def kaizen(self) -> Kaizen:
        """The engine on the configured database (which must have been initialised)."""
        from workflow.service import Kaizen
        from workflow.setup import connect

        return Kaizen(connect(self.settings), self.settings, self.clock())


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"kaizen {version('kaizen')}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    _show_version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="版を表示して終了."
    ),
    db: str | None = typer.Option(
        None,
        "--db",
        help="データベースの URL または SQLite ファイル (既定: KAIZEN_DB、kaizen.toml、./kaizen.db).",
    ),
    actor: str | None = typer.Option(
        None, "--as", help="操作する担当者 ID (既定: KAIZEN_USER、なければ OS のログイン名)."
    ),
    config: Path | None = typer.Option(
        None, "--config", help="設定ファイル (既定: KAIZEN_CONFIG、なければ ./kaizen.toml)."
    ),
) -> None:
    ctx.obj = Ctx(config=config, db=db, actor=actor)


def get_ctx(ctx: typer.Context) -> Ctx:
    root = ctx.find_root()
    if not isinstance(root.obj, Ctx):
        root.obj = Ctx()
    return root.obj


def console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def emit_json(doc: Any) -> None:
    """One JSON document on stdout: dates as ISO strings, Japanese kept readable.

    Characters a terminal would act on (C1 controls, bidi, lone surrogates) are written as
    `\\uXXXX` escapes, which is the same JSON: json escapes C0 controls but not those.
    """
    text = json.dumps(doc, ensure_ascii=False, indent=2, default=_json_default)
    sys.stdout.write(_HIDDEN_IN_JSON.sub(lambda m: f"\\u{ord(m[0]):04x}", text) + "\n")


_HIDDEN_IN_JSON = re.compile(
    "[\x7f-\x9f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]"
)


def _json_default(o: Any) -> Any:
    if isinstance(o, datetime | date):
        return o.isoformat()
    raise TypeError(f"not JSON: {type(o).__name__}")


def parse_date(text: str, what: str = "日付") -> date:
    """A date a person gave (`YYYY-MM-DD`, `YYYY/MM/DD`, full-width digits, 和暦 such as
    `令和8年6月1日` or `R8.6.1`), within the years the business calendar covers."""
    from states.calendar import DateOutOfRange, check_input_date
    from states.parse import ParseError
    from states.parse import parse_date as read_date

    try:
        return check_input_date(read_date(text, what), what)
    except DateOutOfRange as e:
        raise InvalidInput(str(e)) from None
    except ParseError as e:
        raise InvalidInput(visible(e.message)) from None


def parse_count(text: str | None, what: str) -> int | None:
    """A number option (`10,000,000`, `1,500,000円`); None stays None."""
    if text is None:
        return None
    from states.parse import ParseError
    from states.parse import parse_count as read_count

    try:
        return read_count(text, what)
    except ParseError as e:
        raise InvalidInput(visible(e.message)) from None


def complete(kind: str) -> Callable[[str], list[tuple[str, str]]]:
    """Shell completion for a vocabulary of `states.parse`: the ids, each with its label."""

    def candidates(incomplete: str) -> list[tuple[str, str]]:
        from states import parse

        vocab = getattr(parse, kind)()
        return [(i, label) for i, label in vocab.labels.items() if i.startswith(incomplete)]

    return candidates


def choose(kind: str, text: str) -> str:
    """The id a person named by its id or Japanese label (`kind`: a `states.parse` vocabulary:
    triggers, stages, categories, tracks, programs, industries). A near miss is refused with
    "もしかして"; an unknown word is handed on for the use case's own refusal."""
    from states import parse

    vocab = getattr(parse, kind)()
    try:
        return str(vocab.resolve(text))
    except parse.ParseError as e:
        raise InvalidInput(visible(e.message)) from None


def parse_datetime(text: str, what: str = "日時") -> datetime:
    """ISO 8601; a naive value is read as Japan time (the officers' clock)."""
    from states.calendar import DateOutOfRange, check_input_date

    try:
        dt = datetime.fromisoformat(text.strip())
        check_input_date(dt.date(), what)  # the date as written, before any conversion
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=JST)
        return dt.astimezone(ZoneInfo("UTC"))
    except DateOutOfRange as e:
        raise InvalidInput(str(e)) from None
    except (ValueError, OverflowError):
        raise InvalidInput(
            f"{what}は ISO 8601 (例: 2026-11-24T09:00) で指定してください: '{visible(text)}'"
        ) from None


def parse_fiscal_year(value: int | None, today: date, what: str = "--fiscal-year") -> int | None:
    """A 年度 a person gave (None stays None): from 2000 to the one after today's."""
    if value is None:
        return None
    from states.calendar import DateOutOfRange, check_input_fiscal_year

    try:
        return check_input_fiscal_year(value, today, what)
    except DateOutOfRange as e:
        raise InvalidInput(str(e)) from None


F = TypeVar("F", bound=Callable[..., Any])


def main(argv: list[str] | None = None) -> int:
    """Run the CLI: a user's mistake is one line on stderr and a distinct exit code."""
    # Import the command modules for their registrations (kept lazy in each module).
    import cli.commands  # noqa: F401

    try:
        return _run(argv)
    finally:
        from workflow.pools import close_all

        close_all()  # the pools this command opened


def say(message: str) -> None:
    """One line on stderr: `kaizen: ` and the message, which may quote what a user typed, so
    newlines and control characters are shown as escapes and nothing reaches the terminal raw."""
    print(f"kaizen: {visible(message)}", file=sys.stderr)


NOT_UTF8 = "引数に UTF-8 でない文字があります: UTF-8 で入力してください"


def _run(argv: list[str] | None) -> int:
    # Bytes that are not UTF-8 (a Shift_JIS terminal) reach Python as lone surrogates
    # (surrogateescape); they could be neither stored nor printed.
    if any(has_surrogates(a) for a in (sys.argv[1:] if argv is None else argv)):
        say(NOT_UTF8)
        return 2
    from states.calendar import DateOutOfRange

    try:
        # Without standalone mode, click returns the code of a `typer.Exit` instead of raising.
        rv = app(args=argv, prog_name="kaizen", standalone_mode=False)
        if isinstance(rv, int) and not isinstance(rv, bool):
            return rv
    except KaizenError as e:
        say(e.message)
        return e.exit_code
    except DateOutOfRange as e:  # a date computed past the holiday data (e.g. a timeline)
        say(str(e))
        return InvalidInput.exit_code
    except UnicodeEncodeError:  # a surrogate from the environment (KAIZEN_USER, KAIZEN_DB…)
        say("UTF-8 で表せない文字があります (環境変数・設定): UTF-8 で入力してください")
        return InvalidInput.exit_code
    except typer.Exit as e:
        return int(e.exit_code or 0)
    except (typer.Abort, KeyboardInterrupt):
        say("中断しました")
        return 130
    except Exception as e:
        # Usage errors of the (vendored) click layer: duck-typed, so that typer's packaging
        # of click does not leak into this module.
        fmt = getattr(e, "format_message", None)
        if fmt is None or not hasattr(e, "exit_code"):
            raise
        if type(e).__name__ == "NoArgsIsHelpError":  # `kaizen` alone: the help, not an error
            print(fmt())
            return 0
        uctx = getattr(e, "ctx", None)
        hint = f" ('{uctx.command_path} --help' で使い方)" if uctx is not None else ""
        say(f"{fmt()}{hint}")
        return int(e.exit_code) or 2
    return 0
