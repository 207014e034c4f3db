"""E-mail delivery: the `Mailer` boundary, `SmtpMailer` for real, `OutboxOnly` when none is set.

The sweep hands a mailer plain `Mail` values (one per recipient) and gets back, per mail, None
or a one-line error; it never sees smtplib. Tests inject a fake mailer, or an `SmtpMailer`
pointed at a real SMTP server on loopback — nothing is patched.

Addresses and bodies are personal data: this module logs neither (only counts and officer ids,
and those at DEBUG).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Protocol
from zoneinfo import ZoneInfo

from workflow.config import Settings, SmtpSettings

JST = ZoneInfo("Asia/Tokyo")
log = logging.getLogger("kaizen.mailer")


@dataclass(frozen=True)
class Mail:
    """One message to one officer."""

    recipient: str  # officer id (for the outbox and the logs)
    to: str  # e-mail address
    subject: str
    body: str
    at: datetime  # aware: the sweep's time, used for the Date header


class Mailer(Protocol):
    @property
    def enabled(self) -> bool:
        """False when no e-mail is sent at all (the outbox is the only channel)."""
        ...

    def send(self, mails: Sequence[Mail]) -> list[str | None]:
        """Send each mail; per mail, None when the server accepted it, else the reason."""
        ...


class OutboxOnly:
    """No e-mail: reminders are delivered to the outbox (the table and `kaizen remind`)."""

    @property
    def enabled(self) -> bool:
        return False

    def send(self, mails: Sequence[Mail]) -> list[str | None]:
        return ["e-mail is not configured ([smtp] in kaizen.toml)" for _ in mails]


def build_message(mail: Mail, sender: str) -> EmailMessage:
    """A UTF-8 message with a MIME-encoded Japanese subject."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = format_datetime(mail.at.astimezone(JST))
    domain = sender.rsplit("@", 1)[-1] if "@" in sender else "kaizen.localhost"
    msg["Message-ID"] = make_msgid(domain=domain)
    msg.set_content(mail.body, charset="utf-8")
    return msg


class SmtpMailer:
    """smtplib over one connection per batch: STARTTLS when configured, login with credentials."""

    def __init__(self, settings: SmtpSettings, *, tls: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self._tls = tls

    @property
    def enabled(self) -> bool:
        return True

    def send(self, mails: Sequence[Mail]) -> list[str | None]:
        if not mails:
            return []
        s = self.settings
        try:
            conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        except (OSError, smtplib.SMTPException) as e:
            return [_reason("connect", e)] * len(mails)
        out: list[str | None] = []
        try:
            conn.ehlo()
            if s.starttls:
                conn.starttls(context=self._tls or ssl.create_default_context())
                conn.ehlo()
            if s.username and s.password:
                conn.login(s.username, s.password)
        except (OSError, smtplib.SMTPException) as e:
            _quit(conn)
            return [_reason("session", e)] * len(mails)
        for mail in mails:
            try:
                refused = conn.send_message(build_message(mail, s.sender))
                out.append(_reason("refused", refused) if refused else None)
            except (OSError, smtplib.SMTPException) as e:
                out.append(_reason("send", e))
        _quit(conn)
        log.debug("smtp: %d of %d mail(s) accepted", out.count(None), len(mails))
        return out


def _quit(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (OSError, smtplib.SMTPException):
        conn.close()


def _reason(step: str, e: object) -> str:
    """One line, for the reminder row's last_error (the database, not the log)."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    name = type(e).__name__ if isinstance(e, BaseException) else "SMTP"
    return f"smtp {step}: {name}: {text}"[:500]


def mailer_for(settings: Settings) -> Mailer:
    """SMTP when kaizen.toml has an [smtp] table, else the outbox only."""
    return SmtpMailer(settings.smtp) if settings.smtp is not None else OutboxOnly()
