"""A book on PostgreSQL: what goes wrong connecting (each one line, exit 1, no traceback),
and crm db path|check|backup there."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pg_server as cluster
import pytest
from conftest import ROOT, _database_url


def one_line_error(result, *expected: str) -> str:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith("crm: error: ") and result.stderr.count("\n") == 1, \
        result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr
    return result.stderr


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_socket_folder_with_no_server(crm, tmp_path):
    url = f"postgresql:///crm?host={tmp_path}&user=postgres"
    line = one_line_error(crm("--db", url, "ls", ok=False), url,
                          "cannot reach the database server")
    assert "connection is bad" not in line


def test_a_closed_port(crm):
    url = f"postgresql://alice:s3cret@127.0.0.1:{closed_port()}/crm"
    line = one_line_error(crm("--db", url, "due", ok=False),
                          "cannot reach the database server", "Connection refused")
    assert "s3cret" not in line and "alice:***@127.0.0.1" in line


def test_a_missing_database(crm, pg_server):
    url = _database_url(pg_server, "crm_no_such_database")
    one_line_error(crm("--db", url, "ls", ok=False),
                   "the server has no database named 'crm_no_such_database'")
    one_line_error(crm("--db", url, "add", "Acme", ok=False), "crm_no_such_database")


def test_a_missing_schema(crm, pg_book, snapshot):
    url = pg_book + "&options=-csearch_path%3Dnope"
    before = snapshot(pg_book)
    one_line_error(crm("--db", url, "add", "Acme", ok=False),
                   "the schema named by the search path (nope) does not exist")
    assert snapshot(pg_book) == before


@pytest.fixture(scope="module")
def password_server(pg_server):
    """A server where cluster.PASSWORD_ROLE must give its password: the session's, when
    tests/pg_server.py started it, else one of this module's own."""
    import psycopg

    with psycopg.connect(pg_server, autocommit=True) as admin:
        ruled = admin.execute("SELECT count(*) FROM pg_hba_file_rules WHERE %s = ANY(user_name)",
                              (cluster.PASSWORD_ROLE,)).fetchone()[0]
    folder = None if ruled else tempfile.mkdtemp(prefix="crm-pg-pw-")
    url = pg_server if folder is None else cluster.start(folder)
    try:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP ROLE IF EXISTS {cluster.PASSWORD_ROLE}")
            admin.execute(f"CREATE ROLE {cluster.PASSWORD_ROLE} LOGIN PASSWORD 'right-one'")
        yield url
    finally:
        if folder:
            cluster.stop(folder)


def test_a_wrong_password(crm, password_server):
    role = cluster.PASSWORD_ROLE
    wrong = password_server.replace("user=postgres", f"user={role}&password=wrong-one")
    line = one_line_error(crm("--db", wrong, "ls", ok=False),
                          "the server refused the login (wrong user or password)")
    assert "wrong-one" not in line and "password=***" in line
    none = password_server.replace("user=postgres", f"user={role}")
    env = {k: v for k, v in os.environ.items() if k != "PGPASSWORD"}
    done = subprocess.run([sys.executable, "-m", "crmcli", "--db", none, "ls"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "refused the login" in done.stderr


def test_without_psycopg_the_message_names_the_extra(tmp_path, pg_book):
    """A machine where psycopg is not installed: a sitecustomize hides it."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import sys\n"
        "class NoPsycopg:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'psycopg' or name.startswith('psycopg.'):\n"
        "            raise ImportError(f'No module named {name!r}')\n"
        "sys.meta_path.insert(0, NoPsycopg())\n")
    env = dict(os.environ, PYTHONPATH=f"{site}{os.pathsep}{ROOT}")
    for args in (["ls"], ["add", "Acme"], ["db", "check"]):
        done = subprocess.run([sys.executable, "-m", "crmcli", "--db", pg_book, *args],
                              capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == 1, done.stderr
        assert done.stderr == ("crm: error: PostgreSQL support is not installed: "
                               "pip install 'crmcli[postgres]'\n")


# --- crm db path|check|backup on PostgreSQL ------------------------------------------

def test_db_path_shows_the_url_without_its_password(crm):
    url = "postgresql://alice:s3cret@db.example:5433/crm?sslmode=require"
    assert crm("--db", url, "db", "path").stdout == \
        "postgresql://alice:***@db.example:5433/crm?sslmode=require\n"
    url = "postgresql:///crm?host=/run/pg&user=bob&password=s3cret"
    assert crm("--db", url, "db", "path").stdout == \
        "postgresql:///crm?host=/run/pg&user=bob&password=***\n"


def test_db_check_on_postgres(crm, pg_book):
    crm("--db", pg_book, "add", "Acme", "--tag", "vip")
    crm("--db", pg_book, "log", "1", "called")
    record = crm.json("--db", pg_book, "db", "check")
    assert record["ok"] is True and record["problems"] == []
    assert record["path"] == pg_book and record["clients"] == 1 and record["interactions"] == 1


def test_db_check_on_postgres_finds_orphans_and_stray_documents(crm, pg_book):
    import psycopg

    crm("--db", pg_book, "add", "Acme")
    crm("--db", pg_book, "log", "1", "called")
    with psycopg.connect(pg_book, autocommit=True) as conn:
        # What only a broken server or a hand-made edit can do: rows past the constraints.
        conn.execute("SET session_replication_role = replica")
        conn.execute("DELETE FROM clients WHERE id = 1")
        conn.execute("INSERT INTO search_index (rowid, body, client_id, words) "
                     "VALUES (4 * 99, 'ghost', 99, 'ghost'::tsvector)")
    result = crm("--db", pg_book, "db", "check", "--json", ok=False)
    assert result.exit_code == 1
    import json

    problems = json.loads(result.stdout)["problems"]
    assert "interactions: 1 rows refer to a missing clients row" in problems, problems
    assert any(p.startswith("search index: ") for p in problems), problems


def test_db_backup_on_postgres_runs_pg_dump(crm, pg_book, pg_server, tmp_path, monkeypatch):
    import psycopg

    if shutil.which("pg_dump") is None:
        monkeypatch.setenv("PATH", f"{cluster.binaries()}{os.pathsep}{os.environ['PATH']}")
    crm("--db", pg_book, "add", "北京 Acme 🎉")
    target = tmp_path / "book.dump"
    result = crm("--db", pg_book, "db", "backup", target)
    assert result.stdout == f"{target}\n"
    assert os.stat(target).st_mode & 0o777 == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    # pg_restore reads it back into another database, which crm then opens.
    name = f"crm_restored_{os.getpid()}"
    restored = _database_url(pg_server, name)
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
    try:
        restore = shutil.which("pg_restore", path=os.environ["PATH"])
        subprocess.run([restore, "--dbname", restored, str(target)], check=True,
                       capture_output=True)
        assert [c["name"] for c in crm.json("--db", restored, "ls")] == ["北京 Acme 🎉"]
    finally:
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    # A folder: the file is named after the database.
    folder = tmp_path / "backups"
    folder.mkdir()
    written = crm("--db", pg_book, "db", "backup", folder).stdout.strip()
    assert Path(written).parent == folder and written.endswith(".dump")


def test_db_backup_on_postgres_without_pg_dump_says_to_use_it(crm, pg_book, tmp_path,
                                                              monkeypatch):
    crm("--db", pg_book, "add", "Acme")
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    target = tmp_path / "book.dump"
    one_line_error(crm("--db", pg_book, "db", "backup", target, ok=False),
                   "pg_dump", "not on PATH", "pg_dump -Fc")
    assert not [p for p in tmp_path.iterdir() if "book.dump" in p.name]


def test_db_backup_on_postgres_when_pg_dump_fails(crm, pg_book, tmp_path, monkeypatch):
    crm("--db", pg_book, "add", "Acme")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "pg_dump").write_text("#!/bin/sh\necho 'pg_dump: error: server version "
                                  "mismatch' >&2\nexit 1\n")
    (fake / "pg_dump").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    target = tmp_path / "book.dump"
    one_line_error(crm("--db", pg_book, "db", "backup", target, ok=False),
                   f"{target}: pg_dump failed: server version mismatch")
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
