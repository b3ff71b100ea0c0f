"""The due digest as an email: who gets which rows, the message, and its delivery.

Built with the standard library only: `email.message.EmailMessage` for the message (a
plain-text table, plus an HTML part with the same table when `smtp.html` is true) and
`smtplib` or the configured sendmail command for delivery. Every failure becomes a
`MailError`: one line naming the server (host:port) or command and the server's reply,
never the password.

Imported only by `crm due --email` (and its helpers), so `crm due` stays fast.
"""

from __future__ import annotations

import hmac
import html
import os
import re
import subprocess
from dataclasses import dataclass, field
from email.message import EmailMessage

from crmcli import dates
from crmcli.errors import CrmError
from crmcli.render.output import display_width

TEXT_COLUMNS = ["id", "client", "status", "due", "late", "what", "last_contact"]
TEXT_HEADERS = ["id", "client", "status", "due", "late", "what", "last contact"]
NEW_MARK = "*"
SUBJECT_FIELDS = ("count", "overdue", "due", "today", "upcoming", "new", "date")


class MailError(CrmError):
    """The digest could not be built or delivered (config, server, command)."""


class DeliveryFailed(MailError):
    """Messages the server or command did not accept: the error's text is the last
    failure, `earlier` the ones before it (each shown as its own line)."""

    def __init__(self, failures: list[str]):
        super().__init__(failures[-1])
        self.earlier = failures[:-1]


@dataclass
class Digest:
    """One message: the rows for one recipient and which of them are new today."""

    recipient: str
    rows: list[dict]
    new_keys: set[str] = field(default_factory=set)

    @property
    def address(self) -> str:
        """The bare address, lower case: the ledger's name for the recipient."""
        return _key(self.recipient)


# --- config ---------------------------------------------------------------


def _where(config) -> str:
    return f"in {config.path}" if getattr(config, "path", None) else (
        "in the config (none found; create one with `crm config init`)")


def _address(value, key: str, config) -> str:
    from email.utils import parseaddr

    text = str(value).strip() if value is not None else ""
    _, addr = parseaddr(text)
    if not addr or "@" not in addr or any(c.isspace() for c in addr):
        raise MailError(f"{key} {text!r} {_where(config)}: not an email address")
    return text


def _key(address: str) -> str:
    from email.utils import parseaddr

    return parseaddr(address)[1].strip().lower()


def recipients_of(config) -> tuple[list[str], dict[str, list[str]]]:
    """smtp.to as a list of addresses and smtp.owners as owner (lower case) -> addresses."""
    to = config["smtp.to"]
    if isinstance(to, str):
        to = [to]
    to_list = [_address(a, "smtp.to", config) for a in to]
    owners: dict[str, list[str]] = {}
    mapping = config["smtp.owners"]
    if not isinstance(mapping, dict):
        raise MailError(f"smtp.owners {_where(config)}: must map owner names to addresses")
    for owner, value in mapping.items():
        values = value if isinstance(value, list) else [value]
        owners[str(owner).strip().lower()] = [
            _address(v, f"smtp.owners.{owner}", config) for v in values]
    return to_list, owners


def plan_digests(rows: list[dict], config) -> list[Digest]:
    """Split the due rows into one digest per recipient.

    An owner mapped in smtp.owners gets the rows of their clients; every other row goes to
    each address in smtp.to. An address named in both gets both, in one message.
    Raises MailError naming the config key when a row would have no recipient.
    """
    to_list, owners = recipients_of(config)
    if not to_list and not owners:
        raise MailError(f"no recipient: set smtp.to (or smtp.owners) {_where(config)}")
    by_address: dict[str, Digest] = {}
    unmapped = 0
    for row in rows:
        owner = (row.get("owner") or "").strip().lower()
        targets = owners.get(owner) if owner else None
        if not targets:
            targets = to_list
            if not to_list:
                unmapped += 1
        for address in targets:
            digest = by_address.setdefault(_key(address), Digest(address, []))
            digest.rows.append(row)
    if unmapped:
        raise MailError(f"{unmapped} due item(s) belong to no owner in smtp.owners and smtp.to "
                        f"is empty: set smtp.to {_where(config)}")
    return list(by_address.values())


def check_smtp_config(config, *, password: bool = True) -> None:
    """Raise MailError naming the key when SMTP delivery cannot work as configured
    (password=False: do not require the password variable, for --dry-run)."""
    if not config["smtp.host"]:
        raise MailError(f"smtp.host is not set {_where(config)}: name your SMTP server "
                        "(or use --sendmail)")
    if not config["smtp.from"]:
        raise MailError(f"smtp.from is not set {_where(config)}: the From: address of the "
                        "digest")
    _address(config["smtp.from"], "smtp.from", config)
    if config["smtp.username"] and password:
        _password(config)


def _password(config) -> str:
    name = config["smtp.password_env"]
    if not name:
        raise MailError(f"smtp.username is set but smtp.password_env is not {_where(config)}: "
                        "name the environment variable that holds the password")
    value = os.environ.get(str(name))
    if not value:
        raise MailError(f"environment variable {name} (named by smtp.password_env) is not set "
                        "or empty: it must hold the SMTP password")
    return value


# --- the message ----------------------------------------------------------


def _cells(row: dict) -> dict[str, str]:
    from crmcli.render.due import due_cells
    from crmcli.render.safe import visible

    cells = due_cells(row)
    return {**cells, "id": str(cells["id"]),
            # One line of visible text whatever was stored (U+2028 and U+2029 end lines too).
            "client": visible(" ".join(str(cells["client"]).split())),
            "what": visible(" ".join(str(cells["what"]).split()))}


def counts(rows: list[dict]) -> dict[str, int]:
    overdue = sum(r["status"] == "overdue" for r in rows)
    today = sum(r["status"] == "due" for r in rows)
    upcoming = sum(r["status"] == "upcoming" for r in rows)
    return {"count": len(rows), "overdue": overdue, "due": len(rows) - overdue,
            "today": today, "upcoming": upcoming}


def subject_for(digest: Digest, config, day: str) -> str:
    template = str(config["smtp.subject"])
    values = {**counts(digest.rows), "new": len(digest.new_keys), "date": day}
    try:
        subject = template.format_map(values)
    except (KeyError, IndexError, ValueError) as exc:
        fields = ", ".join("{" + f + "}" for f in SUBJECT_FIELDS)
        raise MailError(f"smtp.subject {template!r} {_where(config)}: bad placeholder {exc}; "
                        f"use {fields}") from None
    if _marked(digest) and "{new}" not in template:
        subject += f" ({len(digest.new_keys)} new)"
    return " ".join(subject.split())


def _summary_line(digest: Digest, day: str) -> str:
    c = counts(digest.rows)
    parts = [f"{c[k]} {label}" for k, label in (("overdue", "overdue"), ("today", "due"),
                                                 ("upcoming", "upcoming")) if c[k]]
    noun = "item" if c["count"] == 1 else "items"
    return f"Due on {day}: {c['count']} {noun} ({', '.join(parts)})."


def _marked(digest: Digest) -> bool:
    """Whether the message marks new items: only when some were already mailed today."""
    keys = {r["item_key"] for r in digest.rows}
    return bool(digest.new_keys & keys) and not keys <= digest.new_keys


def text_body(digest: Digest, day: str) -> str:
    marked = _marked(digest)
    cells = [_cells(r) for r in digest.rows]
    cols, heads = list(TEXT_COLUMNS), list(TEXT_HEADERS)
    if marked:
        for row, cell in zip(digest.rows, cells, strict=True):
            cell["new"] = NEW_MARK if row["item_key"] in digest.new_keys else ""
        cols, heads = ["new", *cols], ["new", *heads]
    widths = [max([display_width(h)] + [display_width(c[k]) for c in cells])
              for k, h in zip(cols, heads, strict=True)]

    def line(values: list[str]) -> str:
        return "  ".join(v + " " * (w - display_width(v))
                         for v, w in zip(values, widths, strict=True)).rstrip()

    lines = [_summary_line(digest, day)]
    if marked:
        lines.append(f"Items marked {NEW_MARK} are new since the digest sent earlier today.")
    lines += ["", line(heads), "  ".join("-" * w for w in widths)]
    lines += [line([c[k] for k in cols]) for c in cells]
    lines += ["", "-- ", "Sent by `crm due --email`. `crm done ID` marks a follow-up done, "
              "`crm snooze ID WHEN` moves it."]
    return "\n".join(lines) + "\n"


def html_body(digest: Digest, day: str) -> str:
    marked = _marked(digest)
    esc = html.escape
    cols, heads = list(TEXT_COLUMNS), list(TEXT_HEADERS)
    if marked:
        cols, heads = ["new", *cols], ["new", *heads]
    out = ["<!DOCTYPE html>", "<html><head><meta charset=\"utf-8\"></head><body>",
           f"<p>{esc(_summary_line(digest, day))}</p>"]
    if marked:
        out.append(f"<p>Items marked {NEW_MARK} are new since the digest sent earlier today.</p>")
    out.append('<table border="1" cellpadding="4" cellspacing="0" '
               'style="border-collapse:collapse">')
    out.append("<tr>" + "".join(f"<th align=\"left\">{esc(h)}</th>" for h in heads) + "</tr>")
    for row in digest.rows:
        cell = _cells(row)
        cell["new"] = NEW_MARK if row["item_key"] in digest.new_keys else ""
        style = ' style="color:#b00020"' if row["status"] == "overdue" else ""
        out.append(f"<tr{style}>" + "".join(f"<td>{esc(cell[k])}</td>" for k in cols) + "</tr>")
    out += ["</table>", "<p><small>Sent by <code>crm due --email</code>.</small></p>",
            "</body></html>"]
    return "\n".join(out) + "\n"


def _cte(text: str) -> str:
    # 8bit keeps non-ASCII text readable (in --dry-run too); SMTP allows at most 998 octets
    # a line, so a table with a very long note goes quoted-printable instead. Lines are
    # what mail calls lines (split at LF only, not at U+2028), measured in octets.
    if max(len(line.encode("utf-8")) for line in text.split("\n")) > 900:
        return "quoted-printable"
    return "7bit" if text.isascii() else "8bit"


def build_message(digest: Digest, config, day: str, *, sender: str | None) -> EmailMessage:
    """The digest as a complete message (From, To, Subject, Date, Message-ID, body)."""
    from email.utils import format_datetime, make_msgid

    msg = EmailMessage()
    if sender:
        msg["From"] = sender
    msg["To"] = digest.recipient
    msg["Subject"] = subject_for(digest, config, day)
    msg["Date"] = format_datetime(dates.now())
    domain = _key(sender).rpartition("@")[2] if sender else None
    msg["Message-ID"] = make_msgid("crm-due", domain=domain or None)
    # RFC 3834: an automatic message; vacation responders must not answer it.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Mailer"] = "crmcli"
    text = text_body(digest, day)
    msg.set_content(text, cte=_cte(text))
    if config["smtp.html"]:
        page = html_body(digest, day)
        msg.add_alternative(page, subtype="html", cte=_cte(page))
    return msg


def message_text(msg: EmailMessage) -> str:
    """The whole message as text, headers and body, as --dry-run shows it."""
    from email.policy import SMTPUTF8

    return msg.as_bytes(policy=SMTPUTF8.clone(linesep="\n")).decode("utf-8", "replace")


# --- delivery -------------------------------------------------------------


def _reply(code, text) -> str:
    from crmcli.render.safe import visible

    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return visible(" ".join(f"{code} {text}".split()))


def _code_only(code, text) -> str:
    """A reply during authentication: its code and enhanced status code (535 5.7.8), none
    of its text."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    status = re.match(r"\s*([245]\.\d{1,3}\.\d{1,3})\b", str(text or ""))
    return f"{code}" + (f" {status.group(1)}" if status else "") + " (the server's text is " \
        "not shown: it may quote the credentials)"


class _Utf8Text(str):
    """Text that smtplib's AUTH code encodes as UTF-8 where it would insist on ASCII.

    smtplib sends the AUTH PLAIN / LOGIN responses (and the CRAM-MD5 key) through
    `.encode('ascii')`, so a password such as 'pässwörd' raised UnicodeEncodeError. RFC 4616
    (PLAIN) and every server in practice take the credentials as UTF-8."""

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return str.encode(self, "utf-8", errors)


def _utf8_auth(base):
    """smtplib.SMTP or SMTP_SSL with AUTH responses in UTF-8 (see _Utf8Text)."""

    class Utf8Auth(base):
        def auth_plain(self, challenge=None):
            return _Utf8Text(super().auth_plain(challenge))

        def auth_login(self, challenge=None):
            return _Utf8Text(super().auth_login(challenge))

        def auth_cram_md5(self, challenge=None):
            if challenge is None:
                return None
            key = self.password.encode("utf-8")
            return _Utf8Text(f"{self.user} {hmac.HMAC(key, challenge, 'md5').hexdigest()}")

    Utf8Auth.__name__ = base.__name__
    return Utf8Auth


class SmtpSession:
    """One SMTP connection for all the digests of a run; `send(msg)` returns when the
    server accepted the message and raises MailError otherwise."""

    def __init__(self, config):
        self.config = config
        self.host = str(config["smtp.host"])
        self.port = int(config["smtp.port"])
        self.security = config["smtp.security"]
        if not self.port:
            self.port = {"tls": 465, "none": 25}.get(self.security, 587)
        self.where = f"{self.host}:{self.port}"
        self.smtp = None

    def __enter__(self) -> SmtpSession:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _hide_password(self, error: MailError) -> MailError:
        """The error with the password blanked out, should the server have quoted it."""
        name = self.config["smtp.password_env"]
        secret = os.environ.get(str(name)) if name and self.config["smtp.username"] else None
        text = str(error)
        if not secret or len(secret) < 3 or secret not in text:
            return error
        return MailError(text.replace(secret, "(password hidden)"))

    def connect(self) -> None:
        try:
            self._connect()
        except MailError as exc:
            raise self._hide_password(exc) from None

    def _connect(self) -> None:
        import smtplib
        import ssl

        timeout = float(self.config["smtp.timeout"])
        stage = "connect"
        try:
            if self.security == "tls":
                stage = "TLS"
                self.smtp = _utf8_auth(smtplib.SMTP_SSL)(
                    self.host, self.port, timeout=timeout, context=ssl.create_default_context())
            else:
                self.smtp = _utf8_auth(smtplib.SMTP)(self.host, self.port, timeout=timeout)
            self.smtp.ehlo()
            if self.security == "starttls":
                stage = "STARTTLS"
                if not self.smtp.has_extn("starttls"):
                    raise MailError(f"SMTP server {self.where} does not offer STARTTLS "
                                    "(smtp.security is starttls; use tls or none if intended)")
                self.smtp.starttls(context=ssl.create_default_context())
                self.smtp.ehlo()
            if self.config["smtp.username"]:
                stage = "login"
                user = str(self.config["smtp.username"])
                try:
                    self.smtp.login(user, _password(self.config))
                except smtplib.SMTPAuthenticationError as exc:
                    # The code only: servers quote the AUTH blob (the password in base64)
                    # or part of the password in their text.
                    raise MailError(f"SMTP server {self.where} refused the login of "
                                    f"{user!r}: {_code_only(exc.smtp_code, exc.smtp_error)}"
                                    ) from None
                except smtplib.SMTPNotSupportedError:
                    raise MailError(f"SMTP server {self.where} does not offer login (AUTH) "
                                    "on this connection; check smtp.security and smtp.port"
                                    ) from None
                except smtplib.SMTPResponseException as exc:
                    raise MailError(f"SMTP server {self.where} answered login: "
                                    f"{_code_only(exc.smtp_code, exc.smtp_error)}") from None
                except smtplib.SMTPException as exc:
                    raise MailError(f"SMTP server {self.where} failed at login "
                                    f"({type(exc).__name__})") from None
        except MailError:
            self.close()
            raise
        except ssl.SSLError as exc:
            self.close()
            if isinstance(exc, ssl.SSLCertVerificationError):
                reason = f"certificate verify failed: {exc.verify_message}"
            else:
                reason = exc.reason or str(exc)
            raise MailError(f"TLS with SMTP server {self.where} failed ({stage}): {reason}"
                            ) from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise MailError(f"SMTP server {self.where} answered {stage}: "
                            f"{_reply(exc.smtp_code, exc.smtp_error)}") from None
        except smtplib.SMTPException as exc:
            self.close()
            raise MailError(f"SMTP server {self.where} failed at {stage}: {exc}") from None
        except UnicodeError:
            # Never the exception's text: at login it would quote part of the password.
            self.close()
            if stage == "login":
                raise MailError(f"SMTP server {self.where}: the login of "
                                f"{self.config['smtp.username']!r} cannot be encoded"
                                ) from None
            raise MailError(f"cannot reach SMTP server {self.where}: {self.host!r} is not a "
                            "valid host name (smtp.host)") from None
        except TimeoutError:
            self.close()
            raise MailError(f"cannot reach SMTP server {self.where}: no answer within "
                            f"{timeout:g} s (smtp.timeout)") from None
        except OSError as exc:
            self.close()
            raise MailError(f"cannot reach SMTP server {self.where}: "
                            f"{exc.strerror or exc}") from None

    def send(self, msg: EmailMessage) -> None:
        try:
            self._send(msg)
        except MailError as exc:
            raise self._hide_password(exc) from None

    def _send(self, msg: EmailMessage) -> None:
        import smtplib

        if self.smtp is None:
            raise MailError(f"SMTP server {self.where}: the connection is closed")
        options: tuple[str, ...] = ()
        if any(not part.get_content().isascii() for part in msg.walk()
               if not part.is_multipart()) and self.smtp.has_extn("8bitmime"):
            options = ("BODY=8BITMIME",)
        try:
            refused = self.smtp.send_message(msg, mail_options=options)
        except smtplib.SMTPRecipientsRefused as exc:
            who, (code, text) = next(iter(exc.recipients.items()))
            raise MailError(f"SMTP server {self.where} rejected the recipient {who}: "
                            f"{_reply(code, text)}") from None
        except smtplib.SMTPSenderRefused as exc:
            raise MailError(f"SMTP server {self.where} rejected the sender {exc.sender}: "
                            f"{_reply(exc.smtp_code, exc.smtp_error)}") from None
        except smtplib.SMTPResponseException as exc:
            raise MailError(f"SMTP server {self.where} refused the message: "
                            f"{_reply(exc.smtp_code, exc.smtp_error)}") from None
        except (smtplib.SMTPException, OSError) as exc:
            self.smtp = None
            raise MailError(f"SMTP server {self.where} failed while sending: {exc}") from None
        if refused:
            who, (code, text) = next(iter(refused.items()))
            raise MailError(f"SMTP server {self.where} rejected the recipient {who}: "
                            f"{_reply(code, text)}")

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except Exception:  # noqa: BLE001 - closing a broken connection is best effort
                try:
                    self.smtp.close()
                except Exception:  # noqa: BLE001
                    pass
            self.smtp = None


def send_with_sendmail(msg: EmailMessage, config) -> None:
    """Pipe the message to sendmail.command (default `sendmail -t -oi`); raises MailError
    when the command is missing, fails or takes longer than smtp.timeout."""
    import shlex

    command = str(config["sendmail.command"])
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise MailError(f"sendmail.command {command!r} {_where(config)}: {exc}") from None
    if not argv:
        raise MailError(f"sendmail.command is empty {_where(config)}")
    timeout = float(config["smtp.timeout"])
    try:
        done = subprocess.run(argv, input=msg.as_bytes(), capture_output=True,
                              timeout=max(timeout, 1.0), check=False)
    except FileNotFoundError:
        raise MailError(f"sendmail command not found: {argv[0]!r} (set sendmail.command "
                        f"{_where(config)})") from None
    except PermissionError:
        raise MailError(f"sendmail command {argv[0]!r} is not executable") from None
    except subprocess.TimeoutExpired:
        raise MailError(f"sendmail command {command!r} did not finish within "
                        f"{timeout:g} s (smtp.timeout)") from None
    except OSError as exc:
        raise MailError(f"sendmail command {command!r} failed: {exc.strerror or exc}"
                        ) from None
    if done.returncode != 0:
        said = " ".join(done.stderr.decode("utf-8", "replace").split())[:300]
        raise MailError(f"sendmail command {command!r} exited with status {done.returncode}"
                        + (f": {said}" if said else ""))
