"""`crm due --email`: the due list as one digest per recipient, once a day.

Rules (documented in the README, "The due digest by mail"):

- one message per recipient: an owner mapped in smtp.owners gets their clients' rows,
  every address in smtp.to gets the other rows;
- the ledger (`digests`, `digest_items`) remembers which items went to which recipient on
  which local day. A recipient gets a message only when at least one of their items was not
  mailed to them today; that message then holds *all* their items, the new ones marked
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
import sys
import time

# Long enough for another run to finish talking to a slow server (each SMTP step has its own
# timeout); past it the run fails loudly rather than wait for ever under cron.
LOCK_WAIT_SECONDS = 300.0


def _today() -> str:
    from crmcli import dates

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
    lock_path = f"{db_path}.mail-lock"
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


def send_digest(store, config, rows: list[dict], *, dry_run: bool = False, force: bool = False,
                sendmail: bool = False) -> int:
    """Mail the due rows per the config; returns the number of messages sent (or shown).

    Raises MailError (a CrmError: one line, exit 1) on a config, server or command failure.
    """
    if not rows:
        return 0
    if dry_run:
        return _send_digest(store, config, rows, dry_run=True, force=force, sendmail=sendmail)
    with one_sender(store.path):
        return _send_digest(store, config, rows, dry_run=False, force=force, sendmail=sendmail)


def _send_digest(store, config, rows: list[dict], *, dry_run: bool, force: bool,
                 sendmail: bool) -> int:
    from crmcli.mail import (
        MailError,
        SmtpSession,
        build_message,
        check_smtp_config,
        message_text,
        plan_digests,
        send_with_sendmail,
    )

    day = _today()
    digests = plan_digests(rows, config)
    if not sendmail:
        check_smtp_config(config, password=not dry_run)
    sender = config.get("smtp.from") or None
    pending = []
    for digest in digests:
        keys = {r["item_key"] for r in digest.rows}
        digest.new_keys = keys - store.mailed_item_keys(day, digest.address)
        if digest.new_keys or force:
            pending.append(digest)
    if not pending:
        return 0
    messages = [(d, build_message(d, config, day, sender=sender)) for d in pending]

    if dry_run:
        out = sys.stdout
        for i, (_, msg) in enumerate(messages):
            if i:
                out.write("\n")
            out.write(message_text(msg))
        out.flush()
        return len(messages)

    transport = "sendmail" if sendmail else "smtp"
    # Before anything goes out, make sure the ledger can record it: mail sent but not recorded
    # (a read-only database, or one locked past the busy timeout) would go out again on every
    # run of the cron job.
    for digest, msg in messages:
        store.rehearse_digest(day=day, transport=transport, recipient=digest.address,
                              subject=str(msg["Subject"]),
                              item_keys=[r["item_key"] for r in digest.rows])
    failures: list[str] = []
    sent = 0

    def record(digest, msg) -> None:
        nonlocal sent
        store.record_digest(day=day, transport=transport, recipient=digest.address,
                            subject=str(msg["Subject"]),
                            item_keys=[r["item_key"] for r in digest.rows])
        sent += 1

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
        for line in failures[:-1]:
            sys.stderr.write(f"crm: error: {line}\n")
        raise MailError(failures[-1])
    from crmcli.render.output import is_terminal, message

    if is_terminal(sys.stderr):

        for digest, _ in messages:
            noun = "item" if len(digest.rows) == 1 else "items"
            message(f"mailed {len(digest.rows)} due {noun} to {digest.recipient} ({transport})")
    return sent
