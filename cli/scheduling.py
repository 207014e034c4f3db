"""`kaizen remind` (one reminder sweep now) and `kaizen scheduler run` (the long-running one)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import typer
from rich.table import Table

from cli.app import app, console, emit_json, get_ctx, parse_datetime
from cli.render import plain, row
from workflow.clock import FixedClock
from workflow.errors import InvalidInput

scheduler_app = typer.Typer(
    help="スケジューラ: リマインダーの定期送信と朝の期限一覧 (APScheduler, Asia/Tokyo)",
    no_args_is_help=True,
)
app.add_typer(scheduler_app, name="scheduler")

KIND_LABELS = {"upcoming": "まもなく期限", "overdue": "期限超過", "escalation": "エスカレーション"}


@app.command("remind")
def remind(
    ctx: typer.Context,
    at: str | None = typer.Option(
        None,
        "--at",
        help="この時刻として実行 (ISO 8601; タイムゾーンなしは JST). 既定: 今.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="送る予定の一覧だけ表示 (書き込み・送信なし)."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON で1つの文書を出力."),
) -> None:
    """リマインダーを今1回処理する: 期限の来たリマインダーを作って送る.

    Kinds: upcoming (7 and 1 business days before a due date), overdue (to the case's officer),
    escalation (overdue 5 business days or more: to the council's supervisors). Each reminder
    is delivered once, to the outbox and by e-mail when [smtp] is set in kaizen.toml. Sending
    is for admins, for no time later than now; any officer may --dry-run (their own council's
    reminders), at any time.

    Example: kaizen remind --at 2026-07-01T09:00 --dry-run --json
    """
    from workflow.mailer import mailer_for
    from workflow.reference import calendar_for
    from workflow.reminders import remind as run_remind
    from workflow.setup import connect

    c = get_ctx(ctx)
    when = parse_datetime(at, "--at") if at is not None else c.now()
    settings = c.settings
    db = connect(settings)
    try:
        result = run_remind(
            db,
            settings,
            c.user,
            when,
            calendar_for(settings),
            mailer_for(settings),
            dry_run=dry_run,
            wall=c.real_clock(),
        )
    finally:
        db.dispose()
    if as_json:
        emit_json(result.to_json())
        return
    out = console()
    title = "送信予定 (dry run: 何も書き込みません)" if dry_run else "送信したリマインダー"
    if result.sent:
        t = Table(title=f"{title} {len(result.sent)} 件")
        for col in ("案件", "マイルストーン", "種類", "宛先", "期限", "経路"):
            t.add_column(col)
        for i in result.sent:
            kind = KIND_LABELS[i.kind] + (f" ({i.window}営業日前)" if i.window is not None else "")
            t.add_row(*row(i.case, i.label, kind, i.to, i.due.isoformat(), i.channel))
        out.print(t)
    else:
        out.print(plain(f"{title}: なし"))
    for i in result.retrying + result.failed:
        state = "再試行予定" if i in result.retrying else "送信失敗 (打ち切り)"
        out.print(plain(f"{state}: {i.case} {i.milestone} → {i.to} ({i.attempts}回目: {i.error})"))
    out.print(plain(result.summary(), style="dim"))


@scheduler_app.command("run")
def scheduler_run(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="1回だけ処理して (取りこぼしも含めて) 終了."),
    log_level: str = typer.Option(
        "INFO", "--log-level", help="ログの詳しさ: DEBUG、INFO、WARNING、ERROR."
    ),
) -> None:
    """スケジューラを実行する: リマインダーの定期処理と朝の期限一覧.

    It sweeps at once on start (catching up what came due while it was down), then every
    sweep_minutes; at digest_time on business days each officer gets one e-mail listing their
    overdue and upcoming milestones. SIGTERM or Ctrl-C stops it cleanly (exit 0). Several
    schedulers may share one PostgreSQL database: each reminder is still sent once.

    Only a registered admin (--as / KAIZEN_USER) may run it: it sends every council's reminders.

    Settings (kaizen.toml; every one has a default):

    \b
      [reminders]
      sweep_minutes = 15          # minutes between sweeps
      before_days = [7, 1]        # business days before a due date that remind
      escalate_after_days = 5     # business days overdue before supervisors are told
      digest_time = 09:00:00      # morning digest (Asia/Tokyo, Mon–Fri, not holidays)
      retry_base_seconds = 60     # failed e-mail: retry after 60 s, 120 s, 240 s…
      max_attempts = 8            # then the reminder stays 'failed'

    \b
      [smtp]                      # without it reminders go to the outbox only
      host = "smtp.example.jp"
      port = 587
      starttls = true
      sender = "kaizen@example.jp"
      username = "kaizen"         # or KAIZEN_SMTP_USER

    The SMTP password comes only from the environment: KAIZEN_SMTP_PASSWORD.
    The database is --db / KAIZEN_DB / [database] url.

    Example: kaizen scheduler run --config /etc/kaizen/kaizen.toml
    """
    from workflow import scheduler as sched
    from workflow.reminders import require_scheduler
    from workflow.setup import connect

    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int) or log_level.upper() not in (
        "DEBUG",
        "INFO",
        "WARNING",
        "ERROR",
    ):
        raise InvalidInput(
            f"--log-level は DEBUG, INFO, WARNING, ERROR のいずれかです: '{log_level}'"
        )
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    # APScheduler's own lines ("Adding job tentatively…") only when asked for DEBUG.
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))
    c = get_ctx(ctx)
    settings = c.settings  # a bad kaizen.toml fails here, before anything starts
    db = connect(settings)  # and so does a missing or uninitialised database
    try:
        require_scheduler(db, c.user)  # and an actor who is not a registered admin
    finally:
        db.dispose()
    config = _config_path(c.config)
    # A pinned clock (a test's, or [clock] now of an SQLite demo) is the jobs' time.
    clock = c.clock()
    pinned = clock.now().isoformat() if isinstance(clock, FixedClock) else None
    wall = c.real_clock()  # what is due by it may be sent (a test's clock, else the system's)
    real = wall.now().isoformat() if isinstance(wall, FixedClock) else None
    if once:
        sched.sweep_now(settings.db_url, config, pinned, real)  # logs its summary
        logging.getLogger("kaizen.scheduler").info("sweep done (--once)")
        return
    # The triggers keep the real clock.
    scheduler = sched.build_scheduler(settings.db_url, config, settings, at=pinned, real=real)
    sched.run(scheduler)


def _config_path(given: Path | None) -> str | None:
    """The settings file the jobs re-read, as an absolute path (jobs take strings only)."""
    path = given
    if path is None and os.environ.get("KAIZEN_CONFIG"):
        path = Path(os.environ["KAIZEN_CONFIG"])
    if path is None and Path("kaizen.toml").exists():
        path = Path("kaizen.toml")
    return str(path.resolve()) if path is not None else None
