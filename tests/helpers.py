"""Helpers shared by the tests that run real `crm` processes (import as `from helpers import`).

Kill points are SQL statements, not moments: `crm_held_at` runs the real entry point
(`crmcli.cli.main`) with SQLite's trace callback counting the statements the process
runs, and holds the process still at the chosen one, so a test can SIGKILL it exactly
there, on any machine, at any speed. Nothing of crm is replaced: the callback only counts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-11-22T10:00:00+00:00"

# Counts every statement of every connection and holds the process still (writes "held at
# N: SQL" on stderr, then waits for good: the test kills it) at $CRM_TEST_HOLD_AT: statement
# number N, or "after-commit", the first statement of crm's own after a COMMIT (SQLite's
# nested statements, "-- ...", still belong to the commit), else the exit, once the store is
# closed. At exit, writes "statements: N" (a whole run gives the count to choose from).
HOLD_PROBE = r"""
import atexit, os, sqlite3, sys, threading
_hold = os.environ.get("CRM_TEST_HOLD_AT") or "0"
_count, _committed = 0, False
_connect = sqlite3.connect

def _held(sql):
    sys.stderr.write(f"held at {_count}: {' '.join(sql.split())[:60]}\n")
    sys.stderr.flush()
    threading.Event().wait()

def _traced(sql):
    global _count, _committed
    _count += 1
    if _hold == "after-commit":
        if _committed and not sql.startswith("--"):
            _held(sql)
        _committed = _committed or sql == "COMMIT"
    elif _count == int(_hold):
        _held(sql)

def connect(*args, **kwargs):
    conn = _connect(*args, **kwargs)
    conn.set_trace_callback(_traced)
    return conn

def _at_exit():
    sys.stderr.write(f"statements: {_count}\n")
    if _hold == "after-commit" and _committed:
        _held("(exit)")

sqlite3.connect = connect
atexit.register(_at_exit)
sys.argv = ["crm"] + sys.argv[1:]
from crmcli.cli import main
main()
"""


def crm_env(tmp_path: Path, *, db: Path | None = None, config: Path | None = None,
            **extra: str) -> dict:
    """The environment of a real `crm` process on the test's own files (its database and
    config, XDG dirs in tmp_path, "now" pinned, UTC), plus `extra`."""
    env = {**os.environ, "CRM_DB": str(db or tmp_path / "crm.db"),
           "CRM_CONFIG": str(config or tmp_path / "config.yaml"), "CRM_NOW": NOW, "TZ": "UTC",
           "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
           "XDG_DATA_HOME": str(tmp_path / "xdg-data"), **extra}
    env.pop("CRM_DEBUG", None)
    env.pop("CRM_TEST_HOLD_AT", None)
    return env


def crm_run(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`crm ARGS` as a real process (`python -m crmcli`)."""
    return subprocess.run([sys.executable, "-m", "crmcli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def crm_statements(env: dict, *args: str) -> tuple[subprocess.CompletedProcess, int]:
    """Run `crm ARGS` to the end; returns the result and how many SQL statements it ran."""
    done = subprocess.run([sys.executable, "-c", HOLD_PROBE, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    counts = [line for line in done.stderr.splitlines() if line.startswith("statements: ")]
    assert counts, done.stderr
    return done, int(counts[-1].split()[1])


def crm_held_at(env: dict, statement: int | str, *args: str) -> subprocess.Popen:
    """Start `crm ARGS` and return once it is held at `statement` (a number, or
    "after-commit": see HOLD_PROBE), or has exited without reaching it. Its stderr up to
    then is in `stderr_before_hold`; stdin is kept open so that a held process never sees
    end-of-file."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD_PROBE, *args], cwd=ROOT,
                            env={**env, "CRM_TEST_HOLD_AT": str(statement)},
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stderr_before_hold = ""
    for line in proc.stderr:
        if line.startswith("held at "):
            break
        proc.stderr_before_hold += line
    return proc


class _PostgresBook:
    """A test's PostgreSQL book, read with SQLite's SQL like an sqlite3 connection."""

    def __init__(self, url: str):
        from crmcli.store.postgres import PgConnection, _connect

        self._conn = PgConnection(_connect(url))
        self.row_factory = None

    def execute(self, sql: str, params=()):
        return self._conn.execute(sql, params, dicts=self.row_factory is not None)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect_book(path):
    """The test's book to read directly, whatever its engine: an sqlite3 connection, or
    for a postgresql:// URL a connection that takes the same SQL. A book that is encrypted
    (CRM_TEST_ENCRYPTED=1), or a new one while CRM_DB_KEY is set, is opened with the key,
    as crm opens it."""
    if isinstance(path, str) and path.startswith("postgresql://"):
        return _PostgresBook(path)
    import sqlite3

    from crmcli.store.encryption import Cipher, KeySource, looks_encrypted

    key = KeySource().key()
    fresh = not Path(path).exists() or Path(path).stat().st_size == 0
    if key is not None and (looks_encrypted(Path(path)) or fresh):
        return Cipher(key).connect(path)
    return sqlite3.connect(path)
