"""Trust: the database file. A mistyped path is not a new empty book, a foreign SQLite file
is not touched, a book this process may only read is readable, and the files crm creates
are owner-only."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import stat
import subprocess
import sys

import pytest

READING = [("ls",), ("show", "Acme"), ("search", "acme"), ("due",), ("due", "--email"),
           ("report", "summary"), ("export", "clients"), ("history",), ("db", "check"),
           ("db", "backup", "copy.db"), ("followups",), ("deals",), ("contact", "ls"), ("tags",), ("stage",)]


def run(*args, cwd=None, env=None, drop_caps=False):
    """The real crm binary in a subprocess. drop_caps: without the capabilities that let
    root ignore file modes, so that a read-only file or folder is read-only to it too."""
    argv = [sys.executable, "-m", "crmcli", *map(str, args)]
    if drop_caps:
        argv = ["capsh", "--drop=cap_dac_override,cap_dac_read_search,cap_fowner", "--",
                "-c", 'exec "$0" "$@"', *argv]
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=120)


def digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.mark.parametrize("args", READING, ids=" ".join)
def test_a_reading_command_refuses_a_missing_database_and_creates_nothing(args, tmp_path):
    db = tmp_path / "typo" / "crm.db"
    result = run(*args, cwd=tmp_path, env={"CRM_DB": str(db)})
    assert result.returncode == 1, result
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"{db}: no database here" in result.stderr and "crm add" in result.stderr
    assert not (tmp_path / "typo").exists()
    assert not (tmp_path / "copy.db").exists()


def test_a_writing_command_creates_the_database_and_says_so_once(tmp_path):
    db = tmp_path / "new" / "crm.db"
    first = run("add", "Acme", env={"CRM_DB": str(db)})
    assert first.returncode == 0
    assert first.stderr.splitlines()[0] == f"crm: created a new database at {db}"
    second = run("add", "Bank", env={"CRM_DB": str(db)})
    assert "created" not in second.stderr
    assert run("ls", env={"CRM_DB": str(db)}).returncode == 0


def test_an_empty_file_is_no_book_to_read(tmp_path):
    db = tmp_path / "crm.db"
    db.touch()
    result = run("due", env={"CRM_DB": str(db)})
    assert result.returncode == 1 and "the database file is empty" in result.stderr
    assert db.stat().st_size == 0


def _foreign(path):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO photos (name) VALUES ('cat.jpg')")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("args", [("ls",), ("add", "X"), ("db", "check"), ("db", "migrate"),
                                  ("due", "--email")], ids=" ".join)
def test_a_foreign_sqlite_file_is_refused_before_anything_is_written(args, tmp_path):
    other = tmp_path / "other.db"
    _foreign(other)
    before = digest(other)
    result = run("--db", other, *args, cwd=tmp_path)
    assert result.returncode == 1 and "not a crm database" in result.stderr
    assert digest(other) == before
    assert sqlite3.connect(other).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "other.db"]


def test_a_newer_schema_is_refused_before_anything_is_written(tmp_path):
    db = tmp_path / "crm.db"
    assert run("add", "Acme", env={"CRM_DB": str(db)}).returncode == 0
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    before = digest(db)
    result = run("add", "Bank", env={"CRM_DB": str(db)})
    assert result.returncode == 1 and "newer crmcli" in result.stderr
    assert digest(db) == before
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "delete"


@pytest.fixture
def read_only_book(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "crm.db"
    assert run("add", "Acme", "--email", "a@acme.test", env={"CRM_DB": str(db)}).returncode == 0
    assert run("log", "Acme", "called", env={"CRM_DB": str(db)}).returncode == 0
    db.chmod(0o444)
    folder.chmod(0o555)
    yield db
    folder.chmod(0o755)


@pytest.mark.skipif(shutil.which("capsh") is None, reason="needs capsh")
@pytest.mark.parametrize("args", [("ls",), ("show", "Acme"), ("search", "called"), ("due",),
                                  ("report", "summary"), ("export", "clients"), ("history",)],
                         ids=" ".join)
def test_a_book_in_a_folder_this_process_cannot_write_is_readable(args, read_only_book):
    before = digest(read_only_book)
    result = run(*args, env={"CRM_DB": str(read_only_book)}, drop_caps=True)
    assert result.returncode == 0, result.stderr
    assert digest(read_only_book) == before
    assert sorted(os.listdir(read_only_book.parent)) == ["crm.db"]


@pytest.mark.skipif(shutil.which("capsh") is None, reason="needs capsh")
def test_db_check_on_a_healthy_read_only_book_reports_ok(read_only_book):
    # The process really cannot write here: a plain write fails as it would for a user.
    denied = subprocess.run(["capsh", "--drop=cap_dac_override,cap_dac_read_search", "--", "-c",
                             f"echo x >> {read_only_book}"], capture_output=True, text=True)
    assert denied.returncode != 0
    result = run("db", "check", "--json", env={"CRM_DB": str(read_only_book)}, drop_caps=True)
    assert result.returncode == 0, result.stderr
    assert '"ok": true' in result.stdout
    writing = run("log", "Acme", "again", env={"CRM_DB": str(read_only_book)}, drop_caps=True)
    assert writing.returncode == 1 and "read-only" in writing.stderr


def test_a_database_created_through_a_symlink_is_owner_only(tmp_path):
    (tmp_path / "real").mkdir()
    link = tmp_path / "link.db"
    link.symlink_to(tmp_path / "real" / "crm.db")
    assert run("add", "Acme", env={"CRM_DB": str(link)}).returncode == 0
    assert stat.S_IMODE((tmp_path / "real" / "crm.db").stat().st_mode) == 0o600


def test_a_database_created_in_an_existing_empty_file_is_owner_only(tmp_path):
    db = tmp_path / "crm.db"
    db.touch(mode=0o644)
    db.chmod(0o644)
    result = run("add", "Acme", env={"CRM_DB": str(db)})
    assert result.returncode == 0 and "created a new database" in result.stderr
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


# --- files crm writes ----------------------------------------------------------------


@pytest.fixture
def book(tmp_path, crm, db_path):
    crm("add", "Acme", "--email", "a@acme.test")
    crm("contact", "add", "Acme", "Ann", "--email", "ann@acme.test")
    crm("followup", "Acme", "tomorrow", "call")
    db = db_path
    rows = "name,email\n" + "".join(f"C{i},c{i}@x.test\n" for i in range(3000)) + "Bad,bad\n"
    (tmp_path / "in.csv").write_text(rows)
    return db


def _writers(db, tmp_path):
    """Every command that writes a file, as a function of the path it writes."""
    return {
        "rejects": lambda p: ("import", "clients", tmp_path / "in.csv", "--skip-invalid",
                              "--rejects", p, "--dry-run"),
        "export": lambda p: ("export", "clients", "-o", p),
        "export ics": lambda p: ("export", "followups", "--format", "ics", "-o", p),
        "export vcf": lambda p: ("export", "contacts", "--format", "vcf", "-o", p),
        "backup": lambda p: ("db", "backup", p),
        "config init": lambda p: ("--config", p, "config", "init", "--force"),
    }


def _guarded(db, tmp_path):
    link = tmp_path / "link-to-book"
    link.symlink_to(db)
    hard = tmp_path / "hard-link-to-book"
    os.link(db, hard)
    return {"the database": db, "through a symlink": link, "through a hard link": hard,
            "WAL": f"{db}-wal", "SHM": f"{db}-shm", "mail lock": f"{db}.mail-lock"}


WRITERS = ["rejects", "export", "export ics", "export vcf", "backup", "config init"]
GUARDED = ["the database", "through a symlink", "through a hard link", "WAL", "SHM",
           "mail lock"]


@pytest.mark.parametrize("guarded", GUARDED)
@pytest.mark.parametrize("writer", WRITERS)
def test_no_command_writes_over_the_book_or_its_companion_files(writer, guarded, book,
                                                                 tmp_path, crm, snapshot):
    target = _guarded(book, tmp_path)[guarded]
    existed = os.path.exists(target)
    before = digest(target) if existed else None
    rows = snapshot(book)
    result = crm(*_writers(book, tmp_path)[writer](target), ok=False)
    assert result.exit_code == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "refusing to write over it" in result.stderr
    assert snapshot(book) == rows
    if existed and guarded != "WAL":
        assert digest(target) == before
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".partial")]
    assert crm.json("db", "check")["ok"] is True


def test_the_rejects_file_is_never_the_input_by_any_name(book, tmp_path):
    src = tmp_path / "in.csv"
    before = digest(src)
    link = tmp_path / "in-link.csv"
    link.symlink_to(src)
    env = {"CRM_DB": str(book)}
    for target in (src, link, "./in.csv"):
        result = run("import", "clients", src, "--skip-invalid", "--rejects", target,
                     cwd=tmp_path, env=env)
        assert result.returncode == 1 and "is the file being read" in result.stderr
        assert digest(src) == before
    with open(src) as stdin:
        result = subprocess.run([sys.executable, "-m", "crmcli", "import", "clients", "-",
                                 "--skip-invalid", "--rejects", str(src)], stdin=stdin,
                                capture_output=True, text=True, env={**os.environ, **env})
    assert result.returncode == 1 and "standard input" in result.stderr
    assert digest(src) == before
    assert run("ls", "--format", "json", env=env).stdout.count('"id"') == 1


def test_the_rejects_file_appears_only_once_the_input_is_read_whole(book, tmp_path, crm):
    out = tmp_path / "rejects.csv"
    result = crm("import", "clients", tmp_path / "in.csv", "--skip-invalid", "--rejects", out)
    assert "3000 inserted" in result.stderr
    assert out.read_text().splitlines()[1].startswith("Bad,bad,")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".partial")]


def test_import_all_rejects_never_overwrite_another_input_of_the_run(book, tmp_path, crm):
    dump = tmp_path / "dump"
    crm("export", "all", "-o", dump)
    (dump / "clients.csv").write_text((dump / "clients.csv").read_text() + "\nx,bad-row\n")
    before = {p.name: digest(p) for p in dump.iterdir()}
    result = crm("import", "all", dump, "--skip-invalid", "--rejects", dump, ok=False)
    assert result.exit_code == 1 and "is the file being read" in result.stderr
    assert {p.name: digest(p) for p in dump.iterdir()} == before


@pytest.mark.parametrize("writer", ["export", "export ics", "export vcf", "backup", "rejects"])
def test_a_planted_symlink_at_the_temporary_name_is_not_followed(writer, book, tmp_path, crm):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "out.file"
    for name in (f".{out.name}.partial", f"{out.name}.partial"):
        (tmp_path / name).symlink_to(victim)
    crm(*_writers(book, tmp_path)[writer](out))
    assert victim.read_text() == "precious\n"
    assert out.is_file() and not out.is_symlink()


@pytest.mark.parametrize("writer", ["export", "export ics", "export vcf", "backup", "rejects"])
def test_every_file_crm_writes_is_owner_only_even_over_a_wider_file(writer, book, tmp_path,
                                                                    crm):
    out = tmp_path / "out.file"
    out.write_text("old")
    out.chmod(0o644)
    crm(*_writers(book, tmp_path)[writer](out))
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    out.chmod(0o600)
    crm(*_writers(book, tmp_path)[writer](out))
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_config_init_is_owner_only(tmp_path):
    target = tmp_path / "new" / "config.yaml"
    assert run("--config", target, "config", "init").returncode == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
