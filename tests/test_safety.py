"""Files and faults: owner-only files, consistent online backups, read-only and full disks,
files that are not databases, and formula injection in CSV output.

Items about processes run the real `python -m crmcli` in subprocesses."""

from __future__ import annotations

import csv
import io
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import helpers
import pytest

from crmcli.config import Config
from crmcli.store import CrmStore, StoreError
from crmcli.store.store import file_mode

ROOT = Path(__file__).resolve().parents[1]


def crm_env(db: Path, config: Path | None = None, **extra: str) -> dict:
    config = config or db.parent / "config.yaml"
    if not config.exists():
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text("timezone: UTC\n")
    return helpers.crm_env(db.parent, db=db, config=config, **extra)


def run_crm(db: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("env", crm_env(db))
    return subprocess.run([sys.executable, "-m", "crmcli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, **kwargs)


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def assert_one_clean_line(result, code: int = 1) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("crm: error: ") and result.stderr.count("\n") == 1, \
        result.stderr
    return result.stderr


# --- permissions ----------------------------------------------------------------------

def test_database_and_backups_are_created_owner_only_whatever_the_umask(tmp_path):
    db = tmp_path / "data" / "crm.db"

    def loose_umask():
        os.umask(0)

    env = crm_env(db, tmp_path / "config.yaml")
    result = run_crm(db, "add", "Acme", "-q", preexec_fn=loose_umask, env=env)
    assert result.returncode == 0, result.stderr
    assert file_mode(db) == 0o600
    for side in (db.with_name("crm.db-wal"), db.with_name("crm.db-shm")):
        if side.exists():
            assert file_mode(side) & 0o077 == 0
    result = run_crm(db, "db", "backup", str(tmp_path / "backups" / "copy.db"),
                     preexec_fn=loose_umask, env=env)
    assert result.returncode == 0, result.stderr
    backup = Path(result.stdout.strip())
    assert backup == tmp_path / "backups" / "copy.db"
    assert file_mode(backup) == 0o600
    assert integrity(backup) == "ok"
    conn = sqlite3.connect(backup)
    try:
        assert conn.execute("SELECT name FROM clients").fetchall() == [("Acme",)]
    finally:
        conn.close()


# --- online backup while another process writes -----------------------------------------

WRITER = """
import os, sys
from crmcli.store import CrmStore
store = CrmStore(sys.argv[1])
i = 0
while not os.path.exists(sys.argv[2]):
    with store.change("seed", "batch") as ch:
        cid = store.insert("clients", {"name": f"W{i}", "custom": "{}",
                                        "created_at": "2026-11-22T10:00:00Z",
                                        "updated_at": "2026-11-22T10:00:00Z"})
        for k in range(20):
            store.insert("interactions", {"client_id": cid, "at": "2026-11-22T10:00:00Z",
                                           "summary": f"note {k} " + "x" * 200,
                                           "created_at": "2026-11-22T10:00:00Z"})
    i += 1
    if i == 1:
        print("writing", flush=True)
print(i)
"""


@pytest.mark.stress
def test_backup_is_consistent_while_another_process_keeps_writing(tmp_path):
    db = tmp_path / "crm.db"
    assert run_crm(db, "add", "Seed", "-q").returncode == 0
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    stop = tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, str(script), str(db), str(stop)], cwd=ROOT,
                              env=crm_env(db), stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "writing\n"  # its first batch is committed
        backups = []
        for n in range(4):
            result = run_crm(db, "db", "backup", str(tmp_path / f"b{n}.db"))
            assert result.returncode == 0, result.stderr
            backups.append(Path(result.stdout.strip()))
    finally:
        stop.touch()
        out, _ = writer.communicate(timeout=60)
    assert writer.returncode == 0
    written = int(out)
    assert written > 0
    seen = []
    for backup in backups:
        assert integrity(backup) == "ok"
        assert file_mode(backup) == 0o600
        with CrmStore(backup, Config()) as copy:
            assert copy.integrity_check() == []
            clients = copy.scalar("SELECT count(*) FROM clients WHERE name LIKE 'W%'")
            # every batch is whole: 20 interactions per client, one change per batch
            assert copy.scalar("SELECT count(*) FROM interactions") == 20 * clients
            assert copy.scalar("SELECT count(*) FROM changes WHERE command = 'seed'") == clients
            seen.append(clients)
    assert seen == sorted(seen) and seen[-1] <= written
    assert seen[-1] > 0  # the writer really was writing while we copied


def test_backup_refuses_to_overwrite_the_database_itself(tmp_path):
    db = tmp_path / "crm.db"
    run_crm(db, "add", "Acme")
    before = db.read_bytes()
    result = run_crm(db, "db", "backup", str(db))
    assert "is the database" in assert_one_clean_line(result)
    assert db.read_bytes() == before


# --- files that are not (writable) databases ------------------------------------------

def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path):
    db = tmp_path / "crm.db"
    db.write_bytes(b"name,email\nAcme,a@acme.test\n" * 300)
    before = db.read_bytes()
    for args in (["ls"], ["add", "Acme"], ["db", "check"], ["undo"], ["history"]):
        result = run_crm(db, *args)
        assert "not a crm database (the file is not SQLite or is damaged)" in \
            assert_one_clean_line(result)
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "crm.db"]


def test_a_directory_where_the_database_should_be_is_refused(tmp_path):
    db = tmp_path / "crm.db"
    db.mkdir()
    result = run_crm(db, "ls")
    assert "is a directory, not a database file" in assert_one_clean_line(result)


def _without_root_override():
    """In the child: make file permissions bind even for root, by dropping the capabilities
    that let root ignore them (from the bounding set, so they stay dropped across exec)."""
    if os.geteuid() != 0:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop = 24
    for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "cannot drop root's file-permission override")


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "ro"
    path.mkdir()
    yield path
    path.chmod(0o700)
    for p in path.iterdir():
        p.chmod(0o600)


def test_a_read_only_database_file_reads_fine_and_refuses_writes_cleanly(folder):
    db = folder / "crm.db"
    assert run_crm(db, "add", "Acme", "-q").returncode == 0
    db.chmod(0o400)
    (folder / "config.yaml").chmod(0o400)
    before = db.read_bytes()
    result = run_crm(db, "add", "Globex", preexec_fn=_without_root_override)
    assert "the database is read-only" in assert_one_clean_line(result)
    result = run_crm(db, "ls", "--format", "json", preexec_fn=_without_root_override)
    assert result.returncode == 0, result.stderr
    assert '"name": "Acme"' in result.stdout
    assert db.read_bytes() == before


def test_a_read_only_directory_refuses_writes_cleanly(folder):
    db = folder / "crm.db"
    assert run_crm(db, "add", "Acme", "-q").returncode == 0
    (folder / "config.yaml").chmod(0o400)
    folder.chmod(0o500)  # nobody can create the -wal / -shm files or a new database here
    before = db.read_bytes()
    result = run_crm(db, "add", "Globex", preexec_fn=_without_root_override)
    assert "the database is read-only (check the permissions of the file and its folder)" in \
        assert_one_clean_line(result)
    assert db.read_bytes() == before
    result = run_crm(folder / "new.db", "add", "Acme", preexec_fn=_without_root_override,
                     env=crm_env(folder / "new.db", folder / "config.yaml"))
    assert "cannot create database" in assert_one_clean_line(result)
    assert not (folder / "new.db").exists()


# --- a full disk --------------------------------------------------------------------------

def _data(path: Path) -> list:
    conn = sqlite3.connect(path)
    try:
        return [conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall()
                for t in ("clients", "tags", "changes", "change_rows")]
    finally:
        conn.close()


def test_a_full_disk_fails_the_write_whole_with_a_clean_error(db_path):
    with CrmStore(db_path, Config()) as store:
        store.clients.add("Acme", tags=["vip"])
    before = _data(db_path)
    with CrmStore(db_path, Config()) as store:
        pages = store.scalar("PRAGMA page_count")
        # SQLite's own size cap: the file may not grow beyond a few more pages
        assert store.scalar(f"PRAGMA max_page_count = {pages + 3}") == pages + 3
        with pytest.raises(StoreError) as err:
            store.clients.add("Globex", notes="x" * 90_000, tags=["a", "b", "c"])
        assert str(err.value) == f"{db_path}: the disk is full; nothing was written"
        # the same connection still works for what fits
        store.clients.add("Small")
    after = _data(db_path)
    assert after[0][0] == before[0][0] and [r[1] for r in after[0]] == ["Acme", "Small"]
    assert after[1] == before[1]  # none of Globex's tags
    assert integrity(db_path) == "ok"
    with CrmStore(db_path, Config()) as store:
        assert store.integrity_check() == []


def test_a_process_hitting_the_file_size_limit_fails_cleanly_and_writes_nothing(tmp_path):
    db = tmp_path / "crm.db"
    assert run_crm(db, "add", "Acme", "-q").returncode == 0
    before = _data(db)
    limit = db.stat().st_size + 8192

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = run_crm(db, "add", "Globex", "--note", "y" * 99_000, preexec_fn=small_disk)
    assert "nothing was written" in assert_one_clean_line(result)
    assert _data(db) == before
    check = run_crm(db, "db", "check", "--json")
    assert check.returncode == 0 and '"ok": true' in check.stdout


# --- formula injection in CSV -------------------------------------------------------------

DANGEROUS = ["=cmd|' /C calc'!A0", "+SUM(1+1)*cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
             "@SUM(1+1)*cmd|' /C calc'!A0", "=HYPERLINK(\"http://evil.test\")"]


def test_csv_and_tsv_output_defuses_spreadsheet_formulas(crm):
    for i, text in enumerate(DANGEROUS):
        crm("add", f"Client {i}", "--company", text, "--note", text)
    crm("add", "Plain", "--company", "-42")
    for fmt, delim in (("csv", ","), ("tsv", "\t")):
        out = crm("ls", "--format", fmt).stdout
        rows = {r["name"]: r for r in csv.DictReader(io.StringIO(out), delimiter=delim)}
        for i, text in enumerate(DANGEROUS):
            assert rows[f"Client {i}"]["company"] == "'" + text
            assert rows[f"Client {i}"]["notes"] == "'" + text
        assert rows["Plain"]["company"] == "-42"  # a number stays a number
    # JSON is data for programs, not spreadsheets: it keeps the text as typed
    assert {r["company"] for r in crm.json("ls")} >= set(DANGEROUS)


# --- the SMTP password never appears -------------------------------------------------------

SECRET = "hunter2-S3cret-pw"


@pytest.mark.parametrize("fmt", ["table", "json", "ndjson", "csv", "tsv", "markdown"])
def test_config_show_names_the_password_variable_but_never_prints_the_password(tmp_path, fmt):
    db = tmp_path / "crm.db"
    config = tmp_path / "config.yaml"
    config.write_text("timezone: UTC\nsmtp:\n  host: mail.example.test\n  username: me\n"
                      "  password_env: CRM_SMTP_PASSWORD\n")
    env = crm_env(db, config, CRM_SMTP_PASSWORD=SECRET)
    for args in (["config", "show", "--format", fmt], ["--debug", "config", "show", "-f", fmt]):
        result = run_crm(db, *args, env=env)
        assert result.returncode == 0, result.stderr
        assert "CRM_SMTP_PASSWORD" in result.stdout
        assert SECRET not in result.stdout + result.stderr


def test_a_password_written_into_the_config_file_is_refused_without_echoing_it(tmp_path):
    db = tmp_path / "crm.db"
    for i, body in enumerate([f"smtp:\n  password: {SECRET}\n",
                              f"smtp:\n  pass: {SECRET}\n",
                              f"smtp:\n  password_env: [{SECRET}]\n",
                              f"smtp:\n  password_env: SMTP_PW\n  password {SECRET}\n",
                              f"smtp: {{password: '{SECRET}'\n"]):
        config = tmp_path / f"config{i}.yaml"
        config.write_text(body)
        for args in (["config", "show"], ["ls"], ["add", "Acme"]):
            result = run_crm(db, *args, env=crm_env(db, config))
            assert result.returncode != 0 and result.stderr.startswith("crm: error: "), \
                (body, result.stderr)
            assert SECRET not in result.stdout + result.stderr, (body, result.stderr)
    assert not db.exists()


def test_crm_export_defuses_spreadsheet_formulas_in_csv_and_tsv_files(crm, tmp_path):
    for i, text in enumerate(DANGEROUS):
        crm("add", f"Client {i}", "--company", text)
        crm("log", "--", f"Client {i}", text)
    for fmt, delim in (("csv", ","), ("tsv", "\t")):
        clients = list(csv.DictReader(io.StringIO(crm("export", "clients", "-f", fmt).stdout),
                                      delimiter=delim))
        assert [c["company"] for c in clients] == ["'" + t for t in DANGEROUS]
        target = tmp_path / f"interactions.{fmt}"
        crm("export", "interactions", "-o", str(target))
        with open(target, newline="", encoding="utf-8-sig") as fh:
            calls = list(csv.DictReader(fh, delimiter=delim))
        assert [c["summary"] for c in calls] == ["'" + t for t in DANGEROUS]
    # JSON keeps the text as typed
    assert [c["company"] for c in crm.json("export", "clients")] == DANGEROUS
