"""The due digest on a PostgreSQL book: its ledger and its sender lock live in the database,
so runs on two machines mail each item once."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import test_cli_due_email as due_email
from test_cli_due_email import Handler, digests, ledger, write_config

from crmcli.store.postgres import MAIL_LOCK

smtp_server = due_email.smtp_server


@pytest.fixture
def pg_due_book(crm, pg_book, monkeypatch):
    """The due book of test_cli_due_email, on PostgreSQL."""
    monkeypatch.setenv("CRM_DB", pg_book)
    crm("add", "Acme", "--owner", "alex")
    crm("add", "Beta", "--owner", "sam")
    crm("add", "Gamma")
    crm("followup", "Beta", "2026-11-12", "ten days late")
    crm("followup", "Acme", "2026-11-20", "two days late")
    crm("followup", "Gamma", "2026-11-22", "due today")
    crm("followup", "Acme", "2026-12-20", "far away")
    return pg_book


class WaitingHandler(Handler):
    """Holds DATA until every other run is waiting for the sender lock in the database (or
    is over), so that runs started together really overlap."""

    def __init__(self, url: str):
        super().__init__()
        self.url = url
        self.runs: list[subprocess.Popen] = []

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        import psycopg

        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            while True:
                cur = await conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND objid = %s AND database = (SELECT oid FROM pg_database WHERE "
                    "datname = current_database())", (MAIL_LOCK,))
                waiting = (await cur.fetchone())[0]
                running = sum(run.poll() is None for run in self.runs)
                if waiting >= running - 1:
                    break
                await asyncio.sleep(0.01)  # polling the server's lock table
        return await super().handle_DATA(server, session, envelope)


def test_two_runs_at_once_on_postgres_mail_each_item_once(pg_due_book, smtp_server, tmp_path):
    handler, port = smtp_server(WaitingHandler(pg_due_book))
    write_config(tmp_path, port)
    env = {k: v for k, v in os.environ.items() if k != "CRM_DEBUG"}
    handler.runs = [subprocess.Popen([sys.executable, "-m", "crmcli", "due", "--email"],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
                    for _ in range(2)]
    outcomes = [(run.wait(timeout=60), *run.communicate()) for run in handler.runs]
    assert outcomes == [(0, "", "")] * 2
    assert len(handler.messages) == 1
    assert len(digests(pg_due_book)) == 1
    assert len(ledger(pg_due_book)) == 3
    assert not any(name.endswith("mail-lock") for name in os.listdir(tmp_path))
    # and the next run has nothing new to mail
    again = subprocess.run([sys.executable, "-m", "crmcli", "due", "--email"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and len(handler.messages) == 1


def test_a_run_that_cannot_get_the_lock_in_time_sends_nothing(pg_due_book, smtp_server,
                                                               tmp_path, snapshot):
    import psycopg

    from crmcli.config import load_config
    from crmcli.mail import MailError
    from crmcli.services import digest
    from crmcli.services.due import compute_due
    from crmcli.store import CrmStore

    handler, port = smtp_server()
    write_config(tmp_path, port)
    config = load_config(tmp_path / "config.yaml")
    before = snapshot(pg_due_book)
    with psycopg.connect(pg_due_book, autocommit=True) as other_machine:
        other_machine.execute("SELECT pg_advisory_lock(%s)", (MAIL_LOCK,))
        with CrmStore(pg_due_book, config) as store:
            rows = compute_due(store, config, within=None, overdue_only=False, stale=True,
                               owner=None, tag=None)
            with pytest.raises(MailError, match=r"another 'crm due --email' has been sending "
                                                r"for over 0.2 s; nothing sent"):
                with digest.sender_lock_in_database(store, wait=0.2):
                    digest.run_digest(store, config, rows, dry_run=False, force=False,
                                      sendmail=False)
            # the lock wait is back to what every statement has
            assert store.scalar("SELECT current_setting('lock_timeout')") == "15s"
    assert handler.messages == []
    assert snapshot(pg_due_book) == before


def test_a_killed_run_leaves_no_lock_behind(pg_due_book, smtp_server, tmp_path, crm):
    """The lock is the connection's: a run killed while holding it releases it."""
    import psycopg

    handler, port = smtp_server()
    write_config(tmp_path, port)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import psycopg, sys; c = psycopg.connect(sys.argv[1], "
         "autocommit=True); c.execute('SELECT pg_advisory_lock(%s)', (int(sys.argv[2]),)); "
         "print('held', flush=True); sys.stdin.read()", pg_due_book, str(MAIL_LOCK)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    holder.kill()
    holder.wait()
    with psycopg.connect(pg_due_book, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                           "objid = %s", (MAIL_LOCK,)).fetchone()[0]:
            pass  # the server notices the closed connection
    result = crm("due", "--email")
    assert result.exit_code == 0 and len(handler.messages) == 1
