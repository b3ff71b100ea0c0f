"""crm due --email against a real SMTP server on loopback (aiosmtpd in the test process):
what arrives, the once-a-day ledger, login, TLS, failures, --dry-run and --sendmail."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import os
import socket
import ssl
import stat
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from helpers import connect_book

# Login tests on plain loopback need aiosmtpd's auth_require_tls=False, which warns.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS:UserWarning")

PASSWORD = "s3cret-Pw-7f1c"
SUBJECT = "crm: {due} due, {overdue} overdue — {date}"


# --- a real SMTP server ---------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message: email.message.EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content()

    @property
    def html(self) -> str | None:
        part = self.message.get_body(("html",))
        return part.get_content() if part is not None else None


class Handler:
    def __init__(self):
        self.messages: list[Received] = []
        self.reject: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or envelope.content
        self.messages.append(Received(
            envelope.mail_from, list(envelope.rcpt_tos), data,
            email.message_from_bytes(data, policy=email.policy.default)))
        return "250 2.0.0 Ok: queued"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == b"alex"
          and auth_data.password == PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """Start servers with given options; all are stopped at the end of the test."""
    started = []

    def start(handler: Handler | None = None, **kwargs) -> tuple[Handler, int]:
        handler = handler or Handler()
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        started.append(controller)
        return handler, port

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def server(smtp_server):
    return smtp_server()


def _self_signed_with_cryptography(cert_file, key_file) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + dt.timedelta(days=365 * 30))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))


def _self_signed_with_openssl(cert_file, key_file) -> None:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                    "-keyout", str(key_file), "-out", str(cert_file), "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)


@pytest.fixture
def cert(tmp_path):
    """A self-signed certificate for 127.0.0.1 and localhost (cryptography, else openssl)."""
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    try:
        _self_signed_with_cryptography(cert_file, key_file)
    except ImportError:
        _self_signed_with_openssl(cert_file, key_file)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    return cert_file, server_context


# --- a book and its config ------------------------------------------------------------


@pytest.fixture
def book(crm):
    """Today is 2026-11-22. Three follow-ups in the 7-day window, one outside it."""
    crm("add", "Acme", "--owner", "alex")
    crm("add", "Beta", "--owner", "sam")
    crm("add", "Gamma")
    crm("followup", "Beta", "2026-11-12", "ten days late")    # 1: overdue
    crm("followup", "Acme", "2026-11-20", "two days late")    # 2: overdue
    crm("followup", "Gamma", "2026-11-22", "due today")       # 3: due
    crm("followup", "Acme", "2026-12-20", "far away")         # 4: outside the window
    return crm


def write_config(tmp_path, port: int | None, extra: str = "", *, security: str = "none",
                 smtp_lines: str = "") -> None:
    host = f"  host: 127.0.0.1\n  port: {port}\n" if port else ""
    (tmp_path / "config.yaml").write_text(
        "timezone: UTC\n"
        "smtp:\n" + host +
        f"  security: {security}\n"
        "  from: crm@example.com\n"
        "  to: [me@example.com]\n"
        f"  subject: \"{SUBJECT}\"\n"
        "  timeout: 5\n" + textwrap.indent(textwrap.dedent(smtp_lines), "  ") + extra)


def ledger(db_path):
    import sqlite3

    conn = connect_book(db_path)
    try:
        return sorted(conn.execute("SELECT day, recipient, item_key FROM digest_items"))
    finally:
        conn.close()


def digests(db_path):
    import sqlite3

    conn = connect_book(db_path)
    try:
        return conn.execute("SELECT day, transport, recipients, subject, item_count "
                            "FROM digests ORDER BY id").fetchall()
    finally:
        conn.close()


def table_ids(text: str) -> list[str]:
    """The id column of the plain-text table in a digest body."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(("id ", "new ")))
    rows = []
    for line in lines[start + 2:]:
        if not line.strip():
            break
        cells = line.split()
        rows.append(cells[1] if line.startswith("*") else cells[0])
    return rows


# --- what arrives ---------------------------------------------------------------------


def test_digest_arrives_with_recipient_subject_and_rows(book, server, tmp_path, db_path):
    handler, port = server
    write_config(tmp_path, port)
    result = book("due", "--email")
    assert (result.stdout, result.stderr) == ("", "")
    assert len(handler.messages) == 1
    got = handler.messages[0]
    assert got.rcpt_tos == ["me@example.com"]
    assert got.mail_from == "crm@example.com"
    assert got.message["To"] == "me@example.com"
    assert got.message["From"] == "crm@example.com"
    assert got.message["Auto-Submitted"] == "auto-generated"
    # Beta (10d late) and Acme (2d late) are overdue, Gamma is due today.
    assert got.subject == "crm: 1 due, 2 overdue — 2026-11-22"
    assert table_ids(got.text) == ["1", "2", "3"]
    assert "Due on 2026-11-22: 3 items (2 overdue, 1 due)." in got.text
    first = next(line for line in got.text.splitlines() if line.startswith("1 "))
    assert first.split()[:6] == ["1", "Beta", "overdue", "2026-11-12", "10d", "late"]
    assert "far away" not in got.text
    assert "<td>ten days late</td>" in got.html and "<td>Gamma</td>" in got.html
    assert digests(db_path) == [("2026-11-22", "smtp", "me@example.com",
                                 "crm: 1 due, 2 overdue — 2026-11-22", 3)]
    assert ledger(db_path) == [("2026-11-22", "me@example.com", "followup:1.4:2026-11-12"),
                               ("2026-11-22", "me@example.com", "followup:2.5:2026-11-20"),
                               ("2026-11-22", "me@example.com", "followup:3.6:2026-11-22")]


def test_html_part_can_be_turned_off(book, server, tmp_path):
    handler, port = server
    write_config(tmp_path, port, smtp_lines="html: false\n")
    book("due", "--email")
    got = handler.messages[0]
    assert got.html is None
    assert got.message.get_content_type() == "text/plain"
    assert table_ids(got.text) == ["1", "2", "3"]


def test_each_mapped_owner_gets_their_rows_and_the_rest_go_to_smtp_to(
        book, server, tmp_path, db_path):
    handler, port = server
    write_config(tmp_path, port, smtp_lines="""\
        owners:
          alex: Alex <alex@example.com>
          SAM: sam@example.com
        """)
    book("due", "--email")
    by_rcpt = {m.rcpt_tos[0]: m for m in handler.messages}
    assert sorted(by_rcpt) == ["alex@example.com", "me@example.com", "sam@example.com"]
    assert table_ids(by_rcpt["sam@example.com"].text) == ["1"]     # Beta, owner sam
    assert table_ids(by_rcpt["alex@example.com"].text) == ["2"]    # Acme, owner alex
    assert table_ids(by_rcpt["me@example.com"].text) == ["3"]      # Gamma, no owner
    assert by_rcpt["alex@example.com"].message["To"] == "Alex <alex@example.com>"
    assert by_rcpt["sam@example.com"].subject == "crm: 0 due, 1 overdue — 2026-11-22"
    assert [r[1:3] for r in ledger(db_path)] == [
        ("alex@example.com", "followup:2.5:2026-11-20"),
        ("me@example.com", "followup:3.6:2026-11-22"),
        ("sam@example.com", "followup:1.4:2026-11-12")]


def test_overdue_option_mails_only_overdue_rows(book, server, tmp_path):
    handler, port = server
    write_config(tmp_path, port)
    book("due", "--email", "--overdue")
    assert table_ids(handler.messages[0].text) == ["1", "2"]


# --- once a day -----------------------------------------------------------------------


def test_hourly_reruns_send_one_mail_a_day(book, server, tmp_path, monkeypatch, db_path):
    handler, port = server
    write_config(tmp_path, port)
    for hour in ("10", "11", "12", "23"):
        monkeypatch.setenv("CRM_NOW", f"2026-11-22T{hour}:00:00+00:00")
        result = book("due", "--email")
        assert (result.stdout, result.stderr) == ("", "")
    assert len(handler.messages) == 1
    assert len(digests(db_path)) == 1
    # The next day the items are mailed again, once.
    for hour in ("00", "01"):
        monkeypatch.setenv("CRM_NOW", f"2026-11-23T{hour}:30:00+00:00")
        book("due", "--email")
    assert len(handler.messages) == 2
    assert handler.messages[1].subject == "crm: 0 due, 3 overdue — 2026-11-23"
    assert [d[0] for d in digests(db_path)] == ["2026-11-22", "2026-11-23"]


def test_force_resends_what_was_already_mailed(book, server, tmp_path, db_path):
    handler, port = server
    write_config(tmp_path, port)
    book("due", "--email")
    book("due", "--email")
    assert len(handler.messages) == 1
    book("due", "--email", "--force")
    assert len(handler.messages) == 2
    assert table_ids(handler.messages[1].text) == ["1", "2", "3"]
    assert "new" not in handler.messages[1].subject
    assert [d[4] for d in digests(db_path)] == [3, 3]
    assert len(ledger(db_path)) == 3


def _has_open(pid: int, path: str) -> bool:
    """Whether process pid has path open (Linux: its descriptors under /proc)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == path:
                return True
        except FileNotFoundError:
            continue
    return False


class HoldingHandler(Handler):
    """Holds DATA until every run has the sender lock open (the one sending holds it, the
    others wait for it), so that runs started together really overlap."""

    def __init__(self, lock_path: Path):
        super().__init__()
        self.lock_path = os.path.realpath(lock_path)
        self.runs: list[subprocess.Popen] = []

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        while not all(run.poll() is not None or _has_open(run.pid, self.lock_path)
                      for run in self.runs):
            await asyncio.sleep(0.01)  # polling the processes' descriptors
        return await super().handle_DATA(server, session, envelope)


def test_two_cron_jobs_firing_together_send_one_mail(book, smtp_server, tmp_path, db_path):
    import sys

    handler, port = smtp_server(HoldingHandler(tmp_path / "crm.db.mail-lock"))
    write_config(tmp_path, port)
    env = {k: v for k, v in os.environ.items() if k != "CRM_DEBUG"}
    handler.runs = [subprocess.Popen([sys.executable, "-m", "crmcli", "due", "--email"],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
                    for _ in range(3)]
    outcomes = [(run.wait(timeout=60), *run.communicate()) for run in handler.runs]
    assert outcomes == [(0, "", "")] * 3
    assert len(handler.messages) == 1
    assert len(digests(db_path)) == 1
    assert len(ledger(db_path)) == 3
    assert oct((tmp_path / "crm.db.mail-lock").stat().st_mode & 0o777) == "0o600"


def test_a_run_that_cannot_get_the_sender_lock_in_time_sends_nothing(
        book, server, tmp_path, db_path, snapshot):
    import fcntl

    from crmcli.config import load_config
    from crmcli.mail import MailError
    from crmcli.services import digest
    from crmcli.services.due import compute_due
    from crmcli.store import CrmStore

    handler, port = server
    write_config(tmp_path, port)
    config = load_config(tmp_path / "config.yaml")
    before = snapshot(db_path)
    with open(f"{db_path}.mail-lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with CrmStore(db_path, config) as store:
            rows = compute_due(store, config, within=None, overdue_only=False, stale=True,
                               owner=None, tag=None)
            with pytest.raises(MailError, match=r"mail-lock: another 'crm due --email' has "
                                                r"been sending for over 0.2 s; nothing sent"):
                with digest.one_sender(db_path, wait=0.2):
                    digest.run_digest(store, config, rows, dry_run=False, force=False,
                                      sendmail=False)
    assert handler.messages == []
    assert snapshot(db_path) == before


def test_a_new_item_sends_a_new_mail_with_everything_and_the_new_one_marked(
        book, server, tmp_path, monkeypatch):
    handler, port = server
    write_config(tmp_path, port)
    book("due", "--email")
    monkeypatch.setenv("CRM_NOW", "2026-11-22T14:00:00+00:00")
    book("followup", "Beta", "today", "call back about the quote")   # 5
    book("due", "--email")
    book("due", "--email")
    assert len(handler.messages) == 2
    second = handler.messages[1]
    assert second.subject == "crm: 2 due, 2 overdue — 2026-11-22 (1 new)"
    assert table_ids(second.text) == ["1", "2", "3", "5"]
    marked = [line.split()[1] for line in second.text.splitlines() if line.startswith("* ")]
    assert marked == ["5"]
    assert "Items marked * are new since the digest sent earlier today." in second.text


def test_with_owners_mapped_a_new_item_is_mailed_only_to_its_owner(
        book, server, tmp_path, monkeypatch, db_path):
    handler, port = server
    write_config(tmp_path, port, smtp_lines="""\
        owners:
          alex: alex@example.com
          sam: sam@example.com
        """)
    book("due", "--email")
    assert sorted(m.rcpt_tos[0] for m in handler.messages) == [
        "alex@example.com", "me@example.com", "sam@example.com"]
    monkeypatch.setenv("CRM_NOW", "2026-11-22T14:00:00+00:00")
    book("followup", "Beta", "today", "call back about the quote")   # 5: Beta is Sam's
    for hour in ("14", "15", "16"):                                   # hourly cron
        monkeypatch.setenv("CRM_NOW", f"2026-11-22T{hour}:05:00+00:00")
        book("due", "--email")
    assert len(handler.messages) == 4
    fourth = handler.messages[3]
    assert fourth.rcpt_tos == ["sam@example.com"]
    assert fourth.subject == "crm: 1 due, 1 overdue — 2026-11-22 (1 new)"
    assert table_ids(fourth.text) == ["1", "5"]
    assert [line.split()[1] for line in fourth.text.splitlines() if line.startswith("* ")] == [
        "5"]
    sent = [d[2] for d in digests(db_path)]
    assert sorted(sent[:3]) == ["alex@example.com", "me@example.com", "sam@example.com"]
    assert sent[3:] == ["sam@example.com"]


def test_a_snoozed_item_coming_back_counts_as_new(book, server, tmp_path):
    handler, port = server
    write_config(tmp_path, port)
    book("due", "--email")
    book("snooze", "3", "2026-11-21")    # a different due date: a different item
    book("due", "--email")
    assert len(handler.messages) == 2
    assert "(1 new)" in handler.messages[1].subject


def test_nothing_due_sends_nothing_prints_nothing(crm, server, tmp_path, db_path):
    handler, port = server
    write_config(tmp_path, port)
    crm("add", "Acme")
    crm("followup", "Acme", "2027-03-01", "later")
    result = crm("due", "--email")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert handler.messages == []
    assert digests(db_path) == []


@pytest.mark.parametrize("options", [[], ["--dry-run"], ["--force"], ["--sendmail"],
                                     ["--within", "0d", "--overdue"]])
def test_nothing_due_needs_no_smtp_config(crm, tmp_path, db_path, options):
    (tmp_path / "config.yaml").write_text("timezone: UTC\n")
    crm("add", "Acme", "--tag", "vip")
    crm("followup", "Acme", "2027-03-01", "later")
    result = crm("due", "--email", *options)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert digests(db_path) == []


def test_nothing_due_from_cron_with_no_config_file_at_all_is_silent(tmp_path):
    """As cron runs it: a real process, no config file anywhere, a fresh (empty) book."""
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env.update(CRM_DB=str(tmp_path / "cron.db"), XDG_CONFIG_HOME=str(tmp_path / "nothing"),
               HOME=str(tmp_path), CRM_NOW="2026-11-22T10:00:00+00:00")
    subprocess.run([sys.executable, "-m", "crmcli", "db", "migrate"], env=env, check=True,
                   capture_output=True, timeout=60)
    for args in (["due", "--email"], ["due", "--email"], ["due"]):
        done = subprocess.run([sys.executable, "-m", "crmcli", *args], env=env,
                              capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", ""), args


# --- login and TLS --------------------------------------------------------------------


def auth_server(smtp_server, **kwargs):
    return smtp_server(authenticator=authenticator, auth_required=True,
                       auth_require_tls=False, **kwargs)


LOGIN = """\
    username: alex
    password_env: CRM_TEST_SMTP_PASSWORD
    """


def test_login_is_used_and_accepted(book, smtp_server, tmp_path, monkeypatch, db_path):
    handler, port = auth_server(smtp_server)
    write_config(tmp_path, port, smtp_lines=LOGIN)
    monkeypatch.setenv("CRM_TEST_SMTP_PASSWORD", PASSWORD)
    result = book("due", "--email")
    assert len(handler.messages) == 1
    assert PASSWORD not in result.stdout + result.stderr
    assert len(digests(db_path)) == 1


def test_server_that_requires_login_refuses_an_anonymous_digest(
        book, smtp_server, tmp_path, db_path, snapshot):
    handler, port = auth_server(smtp_server)
    write_config(tmp_path, port)
    before = snapshot(db_path)
    result = book("due", "--email", ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"crm: error: SMTP server 127.0.0.1:{port} rejected the "
                                    "sender crm@example.com: 530")
    assert "Authentication required" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert handler.messages == []
    assert snapshot(db_path) == before


def test_refused_login_exits_1_records_nothing_and_never_shows_the_password(
        book, smtp_server, tmp_path, monkeypatch, db_path, snapshot):
    handler, port = auth_server(smtp_server)
    write_config(tmp_path, port, smtp_lines=LOGIN)
    monkeypatch.setenv("CRM_TEST_SMTP_PASSWORD", "wrong-" + PASSWORD)
    before = snapshot(db_path)
    result = book("due", "--email", ok=False)
    assert result.exit_code == 1
    assert result.stderr == (f"crm: error: SMTP server 127.0.0.1:{port} refused the login of "
                             f"'alex': 535 5.7.8 {HIDDEN}\n")
    assert result.stdout == ""
    assert PASSWORD not in result.stderr
    assert handler.messages == []
    assert snapshot(db_path) == before
    # The next run, with the right password, retries and succeeds.
    monkeypatch.setenv("CRM_TEST_SMTP_PASSWORD", PASSWORD)
    book("due", "--email")
    assert len(handler.messages) == 1


def test_password_is_nowhere_in_output_or_database(book, smtp_server, tmp_path, monkeypatch,
                                                   db_path):
    handler, port = auth_server(smtp_server)
    write_config(tmp_path, port, smtp_lines=LOGIN)
    monkeypatch.setenv("CRM_TEST_SMTP_PASSWORD", PASSWORD)
    outputs = [book("due", "--email", "--dry-run"), book("due", "--email"),
               book("history"), book("config", "show")]
    for result in outputs:
        assert PASSWORD not in result.stdout + result.stderr
    assert all(PASSWORD.encode() not in m.data for m in handler.messages)
    for path in tmp_path.iterdir():
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


UNICODE_PASSWORD = "pässwörd-密码"
HIDDEN = "(the server's text is not shown: it may quote the credentials)"


def utf8_authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == b"alex"
          and auth_data.password == UNICODE_PASSWORD.encode("utf-8"))
    return AuthResult(success=ok, handled=False)


@pytest.mark.parametrize("exclude", [[], ["PLAIN"]], ids=["AUTH PLAIN", "AUTH LOGIN"])
def test_a_password_with_non_ascii_characters_logs_in_as_utf8(
        book, smtp_server, tmp_path, monkeypatch, db_path, exclude):
    handler, port = smtp_server(authenticator=utf8_authenticator, auth_required=True,
                                auth_require_tls=False, auth_exclude_mechanism=exclude)
    write_config(tmp_path, port, smtp_lines=LOGIN)
    monkeypatch.setenv("CRM_TEST_SMTP_PASSWORD", UNICODE_PASSWORD)
    result = book("due", "--email")
    assert result.stdout == result.stderr == ""
    assert len(handler.messages) == 1
    assert len(digests(db_path)) == 1


def test_a_wrong_non_ascii_password_is_refused_in_one_line_that_shows_none_of_it(
        book, smtp_server, tmp_path, monkeypatch, db_path, snapshot):
    handler, port = smtp_server(authenticator=utf8_authenticator, auth_required=True,
                                auth_require_tls=False)
    write_config(tmp_path, port, smtp_lines=LOGIN)
    wrong = "wrông-" + UNICODE_PASSWORD
    monkeypatch.setenv("CRM_TEST_SMTP_PASSWORD", wrong)
    before = snapshot(db_path)
    result = book("due", "--email", ok=False)
    assert result.exit_code == 1
    assert result.stderr == (f"crm: error: SMTP server 127.0.0.1:{port} refused the login of "
                             f"'alex': 535 5.7.8 {HIDDEN}\n")
    # --debug shows the traceback on purpose: still no trace of the password in it
    import traceback

    from crmcli.mail import MailError

    with pytest.raises(MailError) as raised:
        book("--debug", "due", "--email", ok=False)
    for shown in (result.stdout + result.stderr,
                  "".join(traceback.format_exception(raised.value))):
        assert "pässw" not in shown and "wrông" not in shown
        assert not any(not ch.isascii() and ch in shown for ch in wrong)  # not a character
    assert handler.messages == []
    assert snapshot(db_path) == before


def test_a_server_that_quotes_the_password_back_does_not_get_it_printed(
        book, smtp_server, tmp_path, monkeypatch, db_path):
    def echoing(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=False, handled=False,
                          message=f"535 5.7.8 wrong password {auth_data.password.decode()}")

    handler, port = smtp_server(authenticator=echoing, auth_required=True,
                                auth_require_tls=False)
    write_config(tmp_path, port, smtp_lines=LOGIN)
    monkeypatch.setenv("CRM_TEST_SMTP_PASSWORD", PASSWORD)
    result = book("due", "--email", ok=False)
    assert result.exit_code == 1
    assert result.stderr == (f"crm: error: SMTP server 127.0.0.1:{port} refused the login of "
                             f"'alex': 535 5.7.8 {HIDDEN}\n")
    assert handler.messages == [] and digests(db_path) == []


def test_a_host_name_that_cannot_be_looked_up_is_one_clear_line(book, tmp_path, db_path,
                                                                snapshot):
    write_config(tmp_path, None, smtp_lines="host: mail..example.com\nport: 2525\n")
    before = snapshot(db_path)
    result = book("due", "--email", ok=False)
    assert result.exit_code == 1
    assert result.stderr == ("crm: error: cannot reach SMTP server mail..example.com:2525: "
                             "'mail..example.com' is not a valid host name (smtp.host)\n")
    assert snapshot(db_path) == before


def test_missing_password_variable_names_it(book, server, tmp_path, monkeypatch):
    _, port = server
    write_config(tmp_path, port, smtp_lines=LOGIN)
    monkeypatch.delenv("CRM_TEST_SMTP_PASSWORD", raising=False)
    result = book("due", "--email", ok=False)
    assert result.exit_code == 1
    assert result.stderr == ("crm: error: environment variable CRM_TEST_SMTP_PASSWORD (named "
                             "by smtp.password_env) is not set or empty: it must hold the SMTP "
                             "password\n")


def test_starttls_with_a_trusted_self_signed_certificate_and_login(
        book, smtp_server, cert, tmp_path, monkeypatch, db_path):
    cert_file, server_context = cert
    # auth_require_tls stays at its default (True): login is offered only after STARTTLS.
    handler, port = smtp_server(tls_context=server_context, require_starttls=True,
                                authenticator=authenticator, auth_required=True)
    write_config(tmp_path, port, security="starttls", smtp_lines=LOGIN)
    monkeypatch.setenv("CRM_TEST_SMTP_PASSWORD", PASSWORD)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    book("due", "--email")
    assert len(handler.messages) == 1
    assert len(digests(db_path)) == 1


def test_implicit_tls(book, smtp_server, cert, tmp_path, monkeypatch):
    cert_file, server_context = cert
    handler, port = smtp_server(ssl_context=server_context)
    write_config(tmp_path, port, security="tls")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    book("due", "--email")
    assert table_ids(handler.messages[0].text) == ["1", "2", "3"]


def test_untrusted_certificate_fails_loudly_and_sends_nothing(
        book, smtp_server, cert, tmp_path, monkeypatch, db_path, snapshot):
    _, server_context = cert
    handler, port = smtp_server(tls_context=server_context, require_starttls=True)
    write_config(tmp_path, port, security="starttls")
    # Trust an empty bundle: the self-signed certificate cannot be verified.
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(empty))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-such-dir"))
    before = snapshot(db_path)
    result = book("due", "--email", ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"crm: error: TLS with SMTP server 127.0.0.1:{port} failed "
                                    "(STARTTLS): ")
    assert "certificate verify failed: self-signed certificate" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert handler.messages == []
    assert snapshot(db_path) == before


def test_starttls_required_but_not_offered(book, server, tmp_path):
    _, port = server
    write_config(tmp_path, port, security="starttls")
    result = book("due", "--email", ok=False)
    assert result.exit_code == 1
    assert result.stderr == (f"crm: error: SMTP server 127.0.0.1:{port} does not offer STARTTLS "
                             "(smtp.security is starttls; use tls or none if intended)\n")


# --- failures -------------------------------------------------------------------------


def test_server_down_exits_1_and_records_nothing(book, tmp_path, db_path, snapshot):
    port = free_port()          # nothing listens there
    write_config(tmp_path, port)
    before = snapshot(db_path)
    result = book("due", "--email", ok=False)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (f"crm: error: cannot reach SMTP server 127.0.0.1:{port}: "
                             "Connection refused\n")
    assert snapshot(db_path) == before


def test_rejected_recipient_exits_1_and_records_nothing(book, server, tmp_path, db_path,
                                                        snapshot):
    handler, port = server
    handler.reject.add("me@example.com")
    write_config(tmp_path, port)
    before = snapshot(db_path)
    result = book("due", "--email", ok=False)
    assert result.exit_code == 1
    assert result.stderr == (f"crm: error: SMTP server 127.0.0.1:{port} rejected the recipient "
                             "me@example.com: 550 5.1.1 <me@example.com>: Recipient address "
                             "rejected: User unknown\n")
    assert handler.messages == []
    assert snapshot(db_path) == before


def test_one_rejected_owner_does_not_stop_the_others_and_is_retried(
        book, server, tmp_path, db_path):
    handler, port = server
    handler.reject.add("sam@example.com")
    write_config(tmp_path, port, smtp_lines="owners: {sam: sam@example.com}\n")
    result = book("due", "--email", ok=False)
    assert result.exit_code == 1
    assert "rejected the recipient sam@example.com" in result.stderr
    assert [m.rcpt_tos for m in handler.messages] == [["me@example.com"]]
    assert {r[1] for r in ledger(db_path)} == {"me@example.com"}
    # Next run: only sam's digest is pending, and it goes out once the server takes it.
    handler.reject.clear()
    book("due", "--email")
    assert [m.rcpt_tos for m in handler.messages] == [["me@example.com"], ["sam@example.com"]]


def test_missing_host_names_the_key(book, tmp_path, db_path, snapshot):
    write_config(tmp_path, None)
    before = snapshot(db_path)
    result = book("due", "--email", ok=False)
    assert result.exit_code == 1
    assert result.stderr == (f"crm: error: smtp.host is not set in {tmp_path / 'config.yaml'}: "
                             "name your SMTP server (or use --sendmail)\n")
    assert snapshot(db_path) == before


def test_missing_recipient_names_the_key(book, tmp_path):
    (tmp_path / "config.yaml").write_text("timezone: UTC\nsmtp:\n  host: 127.0.0.1\n"
                                          "  from: crm@example.com\n")
    result = book("due", "--email", ok=False)
    assert result.exit_code == 1
    assert result.stderr == ("crm: error: no recipient: set smtp.to (or smtp.owners) in "
                             f"{tmp_path / 'config.yaml'}\n")


def test_rows_of_unmapped_owners_need_smtp_to(book, tmp_path):
    (tmp_path / "config.yaml").write_text(
        "timezone: UTC\nsmtp:\n  host: 127.0.0.1\n  from: crm@example.com\n"
        "  owners: {sam: sam@example.com}\n")
    result = book("due", "--email", ok=False)
    assert result.exit_code == 1
    assert result.stderr == ("crm: error: 2 due item(s) belong to no owner in smtp.owners and "
                             f"smtp.to is empty: set smtp.to in {tmp_path / 'config.yaml'}\n")


def test_bad_address_names_the_key_and_value(book, server, tmp_path):
    _, port = server
    write_config(tmp_path, port, smtp_lines="owners: {sam: not-an-address}\n")
    result = book("due", "--email", ok=False)
    assert result.stderr == ("crm: error: smtp.owners.sam 'not-an-address' in "
                             f"{tmp_path / 'config.yaml'}: not an email address\n")


def test_options_need_email(book):
    result = book("due", "--dry-run", ok=False)
    assert result.exit_code == 2


# --- --dry-run ------------------------------------------------------------------------


def test_dry_run_prints_the_whole_message_and_sends_and_records_nothing(
        book, server, tmp_path, db_path, snapshot):
    handler, port = server
    write_config(tmp_path, port, smtp_lines="html: false\n")
    before = snapshot(db_path)
    result = book("due", "--email", "--dry-run")
    assert result.stderr == ""
    out = result.stdout
    headers, _, body = out.partition("\n\n")
    assert headers.splitlines()[:3] == ["From: crm@example.com", "To: me@example.com",
                                        "Subject: crm: 1 due, 2 overdue — 2026-11-22"]
    assert "Date: Sun, 22 Nov 2026 10:00:00 +0000" in headers
    assert "Content-Type: text/plain; charset=\"utf-8\"" in headers
    assert body.splitlines()[0] == "Due on 2026-11-22: 3 items (2 overdue, 1 due)."
    assert table_ids(body) == ["1", "2", "3"]
    assert handler.messages == []
    assert snapshot(db_path) == before
    # A real send afterwards is not affected by the rehearsal.
    book("due", "--email")
    assert len(handler.messages) == 1


def test_dry_run_needs_no_password(book, tmp_path, monkeypatch):
    write_config(tmp_path, 2525, smtp_lines=LOGIN)
    monkeypatch.delenv("CRM_TEST_SMTP_PASSWORD", raising=False)
    assert "To: me@example.com" in book("due", "--email", "--dry-run").stdout


def test_non_ascii_names_arrive_intact(crm, server, tmp_path):
    handler, port = server
    write_config(tmp_path, port)
    crm("add", "陈静")
    crm("followup", "陈静", "today", "发送报价单")
    crm("due", "--email")
    got = handler.messages[0]
    assert "陈静" in got.text and "发送报价单" in got.text and "<td>陈静</td>" in got.html


def test_dry_run_shows_one_message_per_recipient(book, tmp_path):
    write_config(tmp_path, 2525, smtp_lines="owners: {alex: alex@example.com}\n")
    out = book("due", "--email", "--dry-run").stdout
    assert [line for line in out.splitlines() if line.startswith("To: ")] == [
        "To: me@example.com", "To: alex@example.com"]
    assert out.count("\nFrom: crm@example.com\n") == 1 and out.startswith("From: ")


def test_dry_run_after_a_send_shows_nothing_unless_forced(book, server, tmp_path):
    _, port = server
    write_config(tmp_path, port)
    book("due", "--email")
    assert book("due", "--email", "--dry-run").stdout == ""
    assert "Subject: crm: 1 due, 2 overdue" in book("due", "--email", "--dry-run",
                                                   "--force").stdout


# --- --sendmail -----------------------------------------------------------------------


def fake_sendmail(tmp_path, body: str) -> str:
    script = tmp_path / "fake-sendmail"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_sendmail_pipes_the_message_to_the_command(book, tmp_path, db_path):
    out = tmp_path / "piped.eml"
    args = tmp_path / "args.txt"
    script = fake_sendmail(tmp_path, f'echo "$@" > "{args}"\ncat > "{out}"\n')
    write_config(tmp_path, None, extra=f"sendmail:\n  command: {script} -t -oi\n")
    result = book("due", "--email", "--sendmail")
    assert (result.stdout, result.stderr) == ("", "")
    assert args.read_text() == "-t -oi\n"
    msg = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
    assert msg["To"] == "me@example.com"
    assert msg["Subject"] == "crm: 1 due, 2 overdue — 2026-11-22"
    assert table_ids(msg.get_body(("plain",)).get_content()) == ["1", "2", "3"]
    assert digests(db_path) == [("2026-11-22", "sendmail", "me@example.com",
                                 "crm: 1 due, 2 overdue — 2026-11-22", 3)]
    out.unlink()
    book("due", "--email", "--sendmail")     # already mailed today: the command is not run
    assert not out.exists()


def test_failing_sendmail_exits_1_and_records_nothing(book, tmp_path, db_path, snapshot):
    script = fake_sendmail(tmp_path, "cat > /dev/null\necho 'sendmail: fatal: queue file "
                                     "write error' >&2\nexit 75\n")
    write_config(tmp_path, None, extra=f"sendmail:\n  command: {script} -t -oi\n")
    before = snapshot(db_path)
    result = book("due", "--email", "--sendmail", ok=False)
    assert result.exit_code == 1
    assert result.stderr == (f"crm: error: sendmail command '{script} -t -oi' exited with "
                             "status 75: sendmail: fatal: queue file write error\n")
    assert snapshot(db_path) == before


def test_missing_sendmail_command_is_a_clear_error(book, tmp_path):
    write_config(tmp_path, None,
                 extra=f"sendmail:\n  command: {tmp_path / 'no-such-sendmail'} -t\n")
    result = book("due", "--email", "--sendmail", ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith("crm: error: sendmail command not found: ")
    assert "sendmail.command" in result.stderr


def test_sendmail_does_not_need_an_smtp_host_or_from(book, tmp_path):
    out = tmp_path / "piped.eml"
    script = fake_sendmail(tmp_path, f'cat > "{out}"\n')
    (tmp_path / "config.yaml").write_text(
        f"timezone: UTC\nsmtp:\n  to: me@example.com\nsendmail:\n  command: {script} -t\n")
    book("due", "--email", "--sendmail")
    msg = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
    assert msg["From"] is None and msg["To"] == "me@example.com"


# --- a ledger that cannot be written: nothing is sent -------------------------------------


def test_a_read_only_database_sends_nothing_so_the_next_hour_does_not_mail_again(
        book, server, tmp_path, db_path):
    """Mail that went out but could not be recorded would go out again every hour."""
    import os
    import sys

    from test_safety import _without_root_override

    handler, port = server
    write_config(tmp_path, port)
    before = db_path.read_bytes()
    db_path.chmod(0o400)
    env = {**os.environ}
    env.pop("CRM_DEBUG", None)
    try:
        for _ in range(2):  # two hourly runs
            done = subprocess.run([sys.executable, "-m", "crmcli", "due", "--email"], env=env,
                                  capture_output=True, text=True, timeout=60,
                                  preexec_fn=_without_root_override)
            assert done.returncode == 1, done.stderr
            assert done.stderr == (f"crm: error: {db_path}: the database is read-only (check "
                                   "the permissions of the file and its folder)\n")
    finally:
        db_path.chmod(0o600)
    assert handler.messages == []
    assert db_path.read_bytes() == before
    book("due", "--email")  # writable again: the digest goes out, once
    book("due", "--email")
    assert len(handler.messages) == 1


def test_a_database_locked_by_another_process_sends_nothing_and_records_nothing(
        book, server, tmp_path, db_path, snapshot):
    """Another process holds the write lock longer than the busy timeout (a huge import)."""
    import sqlite3

    from crmcli.config import load_config
    from crmcli.services.digest import send_digest
    from crmcli.services.due import compute_due
    from crmcli.store import CrmStore, StoreError

    handler, port = server
    write_config(tmp_path, port)
    config = load_config(tmp_path / "config.yaml")
    before = snapshot(db_path)
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        with CrmStore(db_path, config) as store:
            rows = compute_due(store, config, within=None, overdue_only=False, stale=True,
                               owner=None, tag=None)
            assert len(rows) == 3
            store.conn.execute("PRAGMA busy_timeout = 200")  # instead of waiting 15 s
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(StoreError, match="the database is busy"):
                send_digest(store, config, rows)
            other.execute("ROLLBACK")
    finally:
        other.close()
    assert handler.messages == []
    assert snapshot(db_path) == before


@pytest.mark.parametrize("exclude", [["LOGIN"], ["PLAIN"]], ids=["AUTH PLAIN", "AUTH LOGIN"])
@pytest.mark.parametrize("echo", ["blob", "half", "tail"])
def test_nothing_the_server_says_during_login_is_printed(
        book, smtp_server, tmp_path, monkeypatch, db_path, exclude, echo):
    import base64

    def echoing(server, session, envelope, mechanism, auth_data):
        secret = auth_data.password.decode()
        blob = base64.b64encode(b"\0alex\0" + auth_data.password).decode()
        said = {"blob": f"bad credentials {blob}", "half": f"wrong: {secret[:len(secret) // 2]}",
                "tail": f"almost {secret[2:]}\x1b]0;pwned\x07"}[echo]
        return AuthResult(success=False, handled=False, message=f"535 5.7.8 {said}")

    handler, port = smtp_server(authenticator=echoing, auth_required=True,
                                auth_require_tls=False, auth_exclude_mechanism=exclude)
    write_config(tmp_path, port, smtp_lines=LOGIN)
    monkeypatch.setenv("CRM_TEST_SMTP_PASSWORD", PASSWORD)
    result = book("due", "--email", ok=False)
    assert result.exit_code == 1
    assert result.stderr == (f"crm: error: SMTP server 127.0.0.1:{port} refused the login of "
                             f"'alex': 535 5.7.8 {HIDDEN}\n")
    blob = base64.b64encode(b"\0alex\0" + PASSWORD.encode()).decode()
    for shown in (result.stdout, result.stderr):
        assert PASSWORD[:4] not in shown and PASSWORD[-4:] not in shown
        assert blob[:8] not in shown
    assert handler.messages == [] and digests(db_path) == []


def test_a_name_of_four_byte_characters_split_by_line_separators_is_delivered(
        crm, server, tmp_path, db_path):
    handler, port = server
    write_config(tmp_path, port)
    name = "\u2028".join(["𝒜" * 200] * 4)  # 800 octets a line if U+2028 ended lines
    crm("add", name[:400])
    crm("followup", name[:400], "today", "call")
    import sqlite3

    with connect_book(db_path) as conn:  # stored before any rule on names
        conn.execute("UPDATE clients SET name = ?", (name,))
    conn.close()
    result = crm("due", "--email")
    assert result.stderr == ""
    assert len(handler.messages) == 1
    raw = handler.messages[0].data
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    text = handler.messages[0].text
    assert "𝒜" * 200 in text and "\u2028" not in text


def test_control_characters_stored_before_the_rule_reach_no_mail(crm, server, tmp_path,
                                                                db_path):
    handler, port = server
    write_config(tmp_path, port)
    crm("add", "Acme")
    crm("followup", "Acme", "today", "call")
    import sqlite3

    with connect_book(db_path) as conn:
        conn.execute("UPDATE clients SET name = 'Ac\x1b]0;pwned\x07me\u202e'")
        conn.execute("UPDATE followups SET note = 'ca\x9b31mll'")
    conn.close()
    crm("due", "--email")
    message = handler.messages[0]
    for part in (message.text, message.html, message.data.decode("utf-8", "replace")):
        assert "\x1b" not in part and "\u202e" not in part and "\x9b" not in part
    assert "Ac\\x1b]0;pwned\\x07me\\u202e" in message.text
