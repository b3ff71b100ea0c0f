"""The due digest: one message per recipient, once a day (`crm due --email`).

Who gets what, the ledger, the lock and delivery live here; the messages themselves are
built in crmcli.mail, and the command prints what this returns.

Rules (documented in the README, "The due digest by mail"):

- one message per recipient: an owner mapped in smtp.owners gets their clients' rows,
  every address in smtp.to gets the other rows;
- the ledger (`digests`, `digest_items`) remembers which items went to which recipient on
  which local day. A recipient gets a message only when at least one of their items was not
  mailed to them today (an overdue invoice: not mailed to them at its reminder step, on any
  day: its item key names the step); that message then holds *all* their items, the new ones marked
  (so the latest mail is always the complete list). `--force` sends regardless;
- nothing due, or nothing new: no message, no output, exit 0;
- `--dry-run` prints the messages that would go out (headers and body) and changes nothing;
- a recipient's items are recorded only after the server (or sendmail) accepted the
  message; any failure is one line on stderr and exit 1, so the next run retries;
- nothing is sent when the ledger cannot be written (a read-only database, one locked by
  another process past the busy timeout): the record is rehearsed (written and rolled
  back) first;
- one sender at a time: two runs that overlap (two cron lines firing in the same minute)
  take turns on a lock file beside the database, and the second reads the ledger only
  after the first has recorded what it sent, so it sends nothing twice.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field

from crmcli import dates

# Long enough for another run to finish talking to a slow server (each SMTP step has its own
# timeout); past it the run fails loudly rather than wait for ever under cron.
LOCK_WAIT_SECONDS = 300.0


@dataclass
class DigestRun:
    """What a run did: the messages (each a Digest and its EmailMessage), the transport, and
    whether they were only shown (dry run). Empty when nothing was due or new."""

    messages: list = field(default_factory=list)
    transport: str = "smtp"
    dry_run: bool = False


def _today() -> str:
    return dates.today().isoformat()


@contextlib.contextmanager
def one_sender(db_path, wait: float = LOCK_WAIT_SECONDS):
    """Hold an exclusive lock on `<database>.mail-lock` while a digest is planned and sent.

    A separate file, because SQLite's own POSIX locks on the database are dropped when any
    other descriptor of that file is closed in the same process. The kernel releases the
    lock when the process dies, so a killed run never leaves it held. Where no lock file can
    be made (a read-only directory), the run goes on unlocked: the ledger rehearsal then
    refuses to send anything it could not record.
    """
    from crmcli.mail import MailError

    try:
        import fcntl
    except ImportError:  # not a POSIX system: no flock
        yield
        return
    from crmcli.files import mail_lock_path

    lock_path = mail_lock_path(db_path)
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        yield
        return
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise MailError(f"{lock_path}: another 'crm due --email' has been sending "
                                    f"for over {wait:g} s; nothing sent") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def sender_lock_in_database(store, wait: float = LOCK_WAIT_SECONDS):
    """one_sender for a book on a server: the lock lives in the database, so that runs on
    two machines take turns as two runs on one machine do."""
    from crmcli.mail import MailError

    if not store.take_mail_lock(wait):
        raise MailError(f"{store.location}: another 'crm due --email' has been sending for "
                        f"over {wait:g} s; nothing sent")
    try:
        yield
    finally:
        store.release_mail_lock()


def send_digest(store, config, rows: list[dict], *, dry_run: bool = False, force: bool = False,
                sendmail: bool = False) -> DigestRun:
    """Mail the due rows per the config (dry_run: build the messages, send nothing).

    Raises MailError (a CrmError: one line, exit 1) on a config, server or command failure;
    when messages failed, a DeliveryFailed (a MailError) carries every failure.
    """
    if not rows:
        return DigestRun(dry_run=dry_run)
    if dry_run:
        return run_digest(store, config, rows, dry_run=True, force=force, sendmail=sendmail)
    lock = sender_lock_in_database(store) if store.engine != "sqlite" else one_sender(store.path)
    with lock:
        return run_digest(store, config, rows, dry_run=False, force=force, sendmail=sendmail)


def _name_incarnations(store, rows: list[dict]) -> dict[str, str]:
    """Key each follow-up (and stale client) of rows by its id and the change that created it
    (`followup:7.12:2026-11-22`), so that a later follow-up given the id of an undone or
    purged one is not taken for it. Returns new key -> the key a ledger written before
    this rule holds for the same item (`followup:7:2026-11-22`)."""
    legacy = {}
    # Stale clients likewise: a client merged or purged away leaves its id to the next one.
    # Invoices likewise (`invoice:4.31:step7`).
    for kind, table, id_key in (("followup", "followups", "id"), ("stale", "clients",
                                                                   "client_id"),
                                ("invoice", "invoices", "id")):
        items = [r for r in rows if r.get("kind") == kind]
        made = store.digests.incarnations(table, [r[id_key] for r in items])
        for row in items:
            change = made.get(row[id_key])
            if change is not None:
                old = row["item_key"]
                row["item_key"] = f"{kind}:{row[id_key]}.{change}:{old.split(':', 2)[2]}"
                legacy[row["item_key"]] = old
    return legacy


def run_digest(store, config, rows: list[dict], *, dry_run: bool, force: bool,
               sendmail: bool) -> DigestRun:
    """send_digest without the lock (the caller holds it, or sends nothing)."""
    from crmcli.mail import (
        DeliveryFailed,
        MailError,
        SmtpSession,
        build_message,
        check_smtp_config,
        plan_digests,
        send_with_sendmail,
    )

    day = _today()
    legacy = _name_incarnations(store, rows)
    digests = plan_digests(rows, config)
    if not sendmail:
        check_smtp_config(config, password=not dry_run)
    sender = config["smtp.from"] or None
    transport = "sendmail" if sendmail else "smtp"
    pending = []
    for digest in digests:
        keys = {r["item_key"] for r in digest.rows}
        mailed = store.digests.mailed_item_keys(day, digest.address)
        # an overdue invoice is new once per reminder step, whatever the day
        mailed |= store.digests.mailed_ever(digest.address, "invoice:")
        digest.new_keys = {k for k in keys - mailed if legacy.get(k) not in mailed}
        if digest.new_keys or force:
            pending.append(digest)
    run = DigestRun(transport=transport, dry_run=dry_run)
    if not pending:
        return run
    messages = [(d, build_message(d, config, day, sender=sender)) for d in pending]
    if dry_run:
        run.messages = messages
        return run

    # Before anything goes out, make sure the ledger can record it: mail sent but not recorded
    # (a read-only database, or one locked past the busy timeout) would go out again on every
    # run of the cron job.
    for digest, msg in messages:
        store.digests.rehearse(day=day, transport=transport, recipient=digest.address,
                              subject=str(msg["Subject"]),
                              item_keys=[r["item_key"] for r in digest.rows])
    failures: list[str] = []

    def record(digest, msg) -> None:
        store.digests.record(day=day, transport=transport, recipient=digest.address,
                            subject=str(msg["Subject"]),
                            item_keys=[r["item_key"] for r in digest.rows])
        run.messages.append((digest, msg))

    if sendmail:
        for digest, msg in messages:
            try:
                send_with_sendmail(msg, config)
            except MailError as exc:
                failures.append(str(exc))
                continue
            record(digest, msg)
    else:
        # A connection failure (unreachable, TLS, login) stops the run before anything is
        # sent; a recipient the server rejects fails alone and the others still go out.
        with SmtpSession(config) as session:
            for digest, msg in messages:
                try:
                    session.send(msg)
                except MailError as exc:
                    failures.append(str(exc))
                    if session.smtp is None:
                        break
                    continue
                record(digest, msg)
    if failures:
        raise DeliveryFailed(failures)
    return run

