"""E-mail reminders against a real SMTP server (aiosmtpd) on 127.0.0.1, started by the test.

The sweep gets an `SmtpMailer`, exactly as `kaizen scheduler run` builds it from kaizen.toml;
the server keeps what it receives, and the test reads the messages back as a mail client would.
STARTTLS is off (no certificate on loopback), except to show that asking for it fails cleanly.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from storage.models import Reminder
from tests.conftest import World
from workflow.clock import JST
from workflow.config import SmtpSettings, parse_settings
from workflow.mailer import SmtpMailer, mailer_for
from workflow.reminders import sweep
from workflow.service import Kaizen

# SMTP does not depend on the database: SQLite is enough here.
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

SENDER = "kaizen@council40.example.jp"


@dataclass
class Inbox:
    """The server's handler: every accepted message, parsed."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if address in rcpts]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    inbox: Inbox
    port: int

    def settings(self, **kw: Any) -> SmtpSettings:
        args: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "starttls": False,
            "sender": SENDER,
            "timeout": 5.0,
        }
        args.update(kw)
        return SmtpSettings(**args)


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"kaizen", b"secret")
    return AuthResult(success=ok, handled=False)


def start_server(**kw: Any) -> tuple[Controller, Server]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kw)
    controller.start()
    return controller, Server(inbox, port)


@pytest.fixture
def smtp_server() -> Iterator[Server]:
    controller, server = start_server()
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def smtp_auth_server() -> Iterator[Server]:
    controller, server = start_server(
        authenticator=_authenticate, auth_required=True, auth_require_tls=False
    )
    try:
        yield server
    finally:
        controller.stop()


def at(day: str, hm: str = "10:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{hm}").replace(tzinfo=JST)


@pytest.fixture
def k(world: World) -> Kaizen:
    """Kick-off due 2026-06-30 on a case of suzuki's; boss2 supervises council 40."""
    k: Kaizen = world.k  # type: ignore[assignment]
    k.add_officer(
        "admin", "suzuki", name="鈴木", council="40", role="officer", email="suzuki@example.jp"
    )
    k.add_officer(
        "admin", "boss2", name="統括二", council="40", role="supervisor", email="boss2@example.jp"
    )
    k.open_case(
        "suzuki",
        company=world.company,
        program="405",
        track="normal",
        council="40",
        advisor="博多会計事務所",
        on=date(2026, 6, 1),
    )
    return k


def run(k: Kaizen, when: datetime, mailer: SmtpMailer) -> Any:
    return sweep(k.db, k.settings, when, k.calendar, mailer)


def statuses(k: Kaizen) -> list[tuple[str, str, str | None, int]]:
    with k.db.reading() as s:
        return [
            (r.recipient, r.status, r.channel, r.attempts)
            for r in s.scalars(select(Reminder).order_by(Reminder.recipient))
        ]


@SQLITE
def test_reminders_arrive_in_japanese_one_message_per_recipient(
    k: Kaizen, smtp_server: Server
) -> None:
    mailer = SmtpMailer(smtp_server.settings())
    got = run(k, at("2026-07-07"), mailer)
    assert got.emails == 2
    inbox = smtp_server.inbox
    assert len(inbox.messages) == 2
    [mine] = inbox.to("suzuki@example.jp")
    assert mine["Subject"] == "【Kaizen】期限のお知らせ: 期限超過 1件"
    assert mine["From"] == SENDER and mine["To"] == "suzuki@example.jp"
    assert mine.get_content_charset() == "utf-8"
    body = mine.get_content().replace("\r\n", "\n")
    assert body.startswith("鈴木 様\n")
    assert "■ 期限超過 (1件)" in body
    assert "40-2026-0001 株式会社テスト製作所" in body
    assert "相談・キックオフ (支援枠の確認)" in body
    assert "期限: 2026年6月30日 (火) (5営業日超過)" in body
    # The raw subject is MIME-encoded: 7-bit headers for any server on the way.
    raw = mine.as_bytes()
    assert b"=?utf-8?" in raw.lower() and "期限".encode() not in raw.split(b"\n\n")[0]
    [boss] = inbox.to("boss2@example.jp")
    assert boss["Subject"] == "【Kaizen】期限のお知らせ: 期限超過 (統括責任者への報告) 1件"
    assert "担当: 鈴木 (suzuki)" in boss.get_content()
    # boss (world's supervisor) has no address: his reminder went to the outbox.
    assert statuses(k) == [
        ("boss", "sent", "outbox", 0),
        ("boss2", "sent", "email", 0),
        ("suzuki", "sent", "email", 0),
    ]
    # The same sweep again, and a later one: nothing new arrives.
    run(k, at("2026-07-07"), mailer)
    run(k, at("2026-07-07", "10:15"), mailer)
    assert len(inbox.messages) == 2


@SQLITE
def test_several_reminders_for_one_officer_come_in_one_message(
    k: Kaizen, smtp_server: Server, world: World
) -> None:
    world.clock.at = at("2026-07-01")
    second = k.open_case(
        "suzuki",
        company=world.company,
        program="405",
        track="normal",
        council="40",
        advisor="博多会計事務所",
        on=date(2026, 7, 1),
    ).id  # kick-off due 2026-07-31: 7 business days before is 7/22
    run(k, at("2026-07-22"), SmtpMailer(smtp_server.settings()))
    [mine] = smtp_server.inbox.to("suzuki@example.jp")
    assert mine["Subject"] == "【Kaizen】期限のお知らせ: 期限超過 1件・まもなく期限 2件"
    body = mine.get_content()
    assert "■ まもなく期限 (2件)" in body and second in body
    assert "あと7営業日" in body


@SQLITE
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_login_with_credentials(k: Kaizen, smtp_auth_server: Server) -> None:
    wrong = SmtpMailer(smtp_auth_server.settings(username="kaizen", password="guess"))
    got = run(k, at("2026-07-01"), wrong)
    assert got.sent == [] and got.retrying[0].error
    assert "SMTPAuthenticationError" in got.retrying[0].error
    assert smtp_auth_server.inbox.messages == []
    right = SmtpMailer(smtp_auth_server.settings(username="kaizen", password="secret"))
    got = run(k, at("2026-07-01", "10:01"), right)
    assert [i.to for i in got.sent] == ["suzuki"]
    assert len(smtp_auth_server.inbox.messages) == 1


@SQLITE
def test_starttls_refused_by_the_server_is_a_retry(k: Kaizen, smtp_server: Server) -> None:
    got = run(k, at("2026-07-01"), SmtpMailer(smtp_server.settings(starttls=True)))
    [item] = got.retrying
    assert "SMTPNotSupportedError" in (item.error or "")
    assert smtp_server.inbox.messages == []


@SQLITE
def test_a_server_that_is_down_is_retried_later(k: Kaizen) -> None:
    port = free_port()  # nothing listens here yet
    mailer = SmtpMailer(
        SmtpSettings(host="127.0.0.1", port=port, starttls=False, sender=SENDER, timeout=2)
    )
    t0 = at("2026-07-01", "09:00")
    got = run(k, t0, mailer)
    assert got.retrying and "connect" in (got.retrying[0].error or "")
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert run(k, t0 + timedelta(seconds=30), mailer).sent == []  # backoff: 60 s
        again = run(k, t0 + timedelta(seconds=60), mailer)
        assert [i.to for i in again.sent] == ["suzuki"]
        assert len(controller.handler.messages) == 1
    finally:
        controller.stop()
    assert statuses(k) == [("suzuki", "sent", "email", 1)]


def test_kaizen_toml_smtp_settings_make_an_smtp_mailer() -> None:
    raw = {
        "smtp": {
            "host": "smtp.example.jp",
            "port": 2525,
            "starttls": True,
            "sender": SENDER,
            "username": "kaizen",
        }
    }
    settings = parse_settings(raw, "kaizen.toml", {"KAIZEN_SMTP_PASSWORD": "s3cret"})
    mailer = mailer_for(settings)
    assert isinstance(mailer, SmtpMailer) and mailer.enabled
    assert mailer.settings.password == "s3cret"  # from the environment only
    assert not mailer_for(parse_settings({}, "defaults", {})).enabled
