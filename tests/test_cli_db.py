"""crm db path|check|backup|migrate, and database errors through the CLI."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from helpers import connect_book


def test_db_path_follows_the_resolution_order(crm, db_path, tmp_path):
    assert crm("db", "path").stdout == f"{db_path}\n"
    assert crm("--db", str(tmp_path / "x.db"), "db", "path").stdout == f"{tmp_path / 'x.db'}\n"


def test_db_check_reports_counts_and_passes(crm):
    crm("add", "Acme", "--tag", "vip")
    record = json.loads(crm("db", "check", "--json").stdout)
    assert record["ok"] is True and record["problems"] == []
    assert record["clients"] == 1 and record["tags"] == 1


@pytest.mark.sqlite_only  # a missing file
def test_db_check_without_a_database_is_an_error(crm, db_path):
    result = crm("db", "check", ok=False)
    assert result.exit_code == 1 and "no database here" in result.stderr
    assert not db_path.exists()


@pytest.mark.sqlite_only  # the backup is an SQLite file (PostgreSQL: pg_dump, test_pg_connect)
def test_db_backup_writes_an_owner_only_copy(crm, tmp_path):
    crm("add", "Acme")
    target = tmp_path / "backup.db"
    assert crm("db", "backup", str(target)).stdout == f"{target}\n"
    assert os.stat(target).st_mode & 0o777 == 0o600
    rows = json.loads(crm("--db", str(target), "ls", "--json").stdout)
    assert [r["name"] for r in rows] == ["Acme"]


def test_db_migrate_lists_applied_migrations(crm):
    rows = crm.json("db", "migrate")
    assert rows[0]["name"] == "m001_create_clients"


def test_directory_as_db_is_one_line_error(crm, tmp_path):
    result = crm("--db", str(tmp_path), "ls", ok=False)
    assert result.exit_code == 1
    assert result.stderr == f"crm: error: {tmp_path}: is a directory, not a database file\n"


def test_corrupt_file_is_refused_and_left_alone(crm, tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\x00garbage" * 512)
    before = junk.read_bytes()
    result = crm("--db", str(junk), "ls", ok=False)
    assert result.exit_code == 1
    assert "not a crm database" in result.stderr and "Traceback" not in result.stderr
    assert junk.read_bytes() == before


@pytest.fixture
def read_only(db_path):
    """Make the database file unwritable, even for root (who ignores mode bits)."""
    made_immutable = []

    def apply():
        os.chmod(db_path, 0o400)
        if os.geteuid() == 0:
            subprocess.run(["chattr", "+i", str(db_path)], check=True)
            made_immutable.append(db_path)

    yield apply
    for path in made_immutable:
        subprocess.run(["chattr", "-i", str(path)], check=False)


@pytest.mark.sqlite_only  # a read-only file
def test_read_only_database_is_a_clear_error(crm, db_path, read_only, snapshot):
    crm("add", "Acme")
    before = snapshot(db_path)
    read_only()
    result = crm("add", "Globex", ok=False)
    assert result.exit_code == 1
    assert "read-only" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(db_path) == before


def test_unwritable_location_is_a_clear_error(crm, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = crm("--db", str(blocker / "sub" / "crm.db"), "add", "Acme", ok=False)
    assert result.exit_code == 1
    assert "cannot create database" in result.stderr


@pytest.mark.sqlite_only  # PRAGMA user_version marks the newer file
def test_newer_database_is_refused_through_the_cli(crm, db_path):
    crm("add", "Acme")
    conn = connect_book(db_path)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    result = crm("ls", ok=False)
    assert result.exit_code == 1 and "written by a newer crmcli" in result.stderr


def test_version_and_help(crm):
    assert crm("--version").stdout.startswith("crm ")
    text = crm("--help").stdout
    for name in ("add", "show", "ls", "search", "contact", "db", "config"):
        assert name in text
