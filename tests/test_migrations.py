"""Schema versions: a fresh file, re-opening, upgrading an older file (after a backup),
refusing a newer one and files that are not crm databases."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import crm_env

from crmcli.config import Config
from crmcli.store import SCHEMA_VERSION, CrmStore, SchemaTooNew, StoreError
from crmcli.store.migrations import STEPS
from crmcli.store.store import file_mode

ROOT = Path(__file__).resolve().parents[1]


def tables(path: Path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    finally:
        conn.close()


def user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def test_a_fresh_database_gets_every_migration_wal_foreign_keys_and_owner_only_mode(crm, db_path):
    crm("add", "Acme")
    assert file_mode(db_path) == 0o600
    assert user_version(db_path) == SCHEMA_VERSION == len(STEPS)
    applied = crm.json("db", "migrate")
    assert [m["name"] for m in applied] == [name for name, _ in STEPS]
    with CrmStore(db_path, Config()) as store:
        assert store.scalar("PRAGMA journal_mode") == "wal"
        assert store.scalar("PRAGMA foreign_keys") == 1
        assert store.scalar("PRAGMA busy_timeout") >= 5000
        assert store.backup_path is None
    assert not list(db_path.parent.glob("*.bak"))


def test_reopening_an_up_to_date_file_changes_nothing(crm, db_path, snapshot):
    crm("add", "Acme")
    schema, rows = tables(db_path), snapshot(db_path)
    for _ in range(3):
        with CrmStore(db_path, Config()) as store:
            assert store.backup_path is None
            assert store.schema_version() == SCHEMA_VERSION
    crm("ls")
    assert tables(db_path) == schema and snapshot(db_path) == rows
    assert not list(db_path.parent.glob("*.bak"))


def _old_file(path: Path, stop_before: str) -> None:
    """A file as an older crmcli left it: migrations up to stop_before, with some data."""
    store = CrmStore(path, Config(), migrate=False)
    try:
        store.migrate(stop_before=stop_before)
        if store._is_crm_file() and store.scalar(
                "SELECT 1 FROM sqlite_master WHERE name = 'changes'"):
            store.clients.add("Acme", email="ops@acme.test", tags=["vip"])
            store.clients.add("Globex")
        else:  # older than the change log: rows as that version wrote them
            for name, email in (("Acme", "ops@acme.test"), ("Globex", None)):
                store.conn.execute("INSERT INTO clients (name, email, created_at, updated_at) "
                                   "VALUES (?, ?, '2026-01-01T00:00:00Z', "
                                   "'2026-01-01T00:00:00Z')", (name, email))
    finally:
        store.close()


def test_an_older_file_is_backed_up_then_upgraded_with_its_data_intact(crm, db_path):
    last = STEPS[-1][0]
    _old_file(db_path, stop_before=last)
    assert user_version(db_path) == SCHEMA_VERSION - 1
    result = crm("ls", "--format", "json")
    assert [c["name"] for c in __import__("json").loads(result.stdout)] == ["Acme", "Globex"]
    assert f"crm: migrated {db_path} to schema version {SCHEMA_VERSION} (backup: " in \
        result.stderr
    assert user_version(db_path) == SCHEMA_VERSION
    [backup] = db_path.parent.glob(f"crm.db.v{SCHEMA_VERSION - 1}-*.bak")
    assert str(backup) in result.stderr
    assert file_mode(backup) == 0o600
    assert user_version(backup) == SCHEMA_VERSION - 1
    conn = sqlite3.connect(backup)
    try:
        assert conn.execute("SELECT name, email FROM clients ORDER BY id").fetchall() == [
            ("Acme", "ops@acme.test"), ("Globex", None)]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    # the upgraded file works: undo reaches back into changes made before the upgrade
    assert crm("undo").stderr.startswith("undid change 2: added client 2 Globex")
    assert crm.json("db", "check")["ok"] is True
    # and opening it again does not back it up again
    crm("ls")
    assert len(list(db_path.parent.glob("*.bak"))) == 1


def test_a_much_older_file_is_upgraded_in_one_go(db_path):
    _old_file(db_path, stop_before="m007_create_search_index")
    assert user_version(db_path) == 6
    with CrmStore(db_path, Config()) as store:
        assert store.backup_path is not None and store.backup_path.exists()
        assert store.schema_version() == SCHEMA_VERSION
        assert [c["name"] for c in store.clients.list()] == ["Acme", "Globex"]
        assert store.integrity_check() == []


def test_a_file_from_a_newer_crmcli_is_refused_untouched(crm, db_path):
    crm("add", "Acme")
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = db_path.read_bytes()
    result = crm("ls", ok=False)
    assert result.exit_code == 1
    assert result.stderr == (
        f"crm: error: {db_path}: written by a newer crmcli (schema version {SCHEMA_VERSION + 1};"
        f" this crmcli knows up to {SCHEMA_VERSION}); upgrade crmcli to open it\n")
    assert db_path.read_bytes() == before
    with pytest.raises(SchemaTooNew):
        CrmStore(db_path, Config())


def test_a_file_that_is_not_sqlite_or_not_crm_is_refused(crm, db_path, tmp_path):
    db_path.write_bytes(b"\x00\xffnot a database at all" * 200)
    before = db_path.read_bytes()
    result = crm("ls", ok=False)
    assert result.exit_code == 1
    assert result.stderr == (f"crm: error: {db_path}: not a crm database (the file is not SQLite "
                             "or is damaged)\n")
    assert db_path.read_bytes() == before
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)")
    conn.commit()
    conn.close()
    schema = tables(other)
    with pytest.raises(StoreError, match="is an SQLite file but not a crm database"):
        CrmStore(other, Config())
    assert tables(other) == schema
    result = crm("--db", str(other), "ls", ok=False)
    assert result.stderr == f"crm: error: {other}: is an SQLite file but not a crm database\n"


@pytest.mark.stress
def test_processes_opening_a_new_file_at_the_same_time_all_succeed(tmp_path):
    db = tmp_path / "crm.db"
    (tmp_path / "config.yaml").write_text("timezone: UTC\n")
    env = crm_env(tmp_path)
    procs = [subprocess.Popen([sys.executable, "-m", "crmcli", "add", f"P{i}", "-q"], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(6)]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert [r[0] for r in results] == [0] * 6, results
    assert sorted(int(r[1]) for r in results) == [1, 2, 3, 4, 5, 6]
    assert user_version(db) == SCHEMA_VERSION
    with CrmStore(db, Config()) as store:
        assert store.integrity_check() == []
        assert len(store.applied_migrations()) == SCHEMA_VERSION
