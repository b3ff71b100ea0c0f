"""Encryption at rest: an encrypted book is unreadable without its key, opened with it from
CRM_DB_KEY or db_key_file, converted in place by crm db encrypt/decrypt, backed up encrypted.

The store's own tests run against an encrypted book too: CRM_TEST_ENCRYPTED=1 (.ci/run)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest
import sqlcipher3
from conftest import ENCRYPTED
from helpers import crm_env

from crmcli.store.encryption import looks_encrypted

pytestmark = pytest.mark.sqlite_only  # encryption at rest is a property of the SQLite file

RAW_KEY = "2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe"
PASSPHRASE = "correct horse battery staple"
HEADER = b"SQLite format 3\x00"


def header(path) -> bytes:
    return path.read_bytes()[:16]


def files(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def sqlcipher_rows(path, key_pragma: str, sql: str) -> list:
    """Read a book with SQLCipher itself, as any SQLCipher tool would (not through crm)."""
    conn = sqlcipher3.connect(str(path))
    try:
        conn.execute(key_pragma)
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture
def encrypted_book(crm, db_path, monkeypatch):
    """A book encrypted with RAW_KEY holding one client, one interaction, one follow-up."""
    monkeypatch.setenv("CRM_DB_KEY", RAW_KEY)
    crm("add", "Acme", "--email", "a@acme.test", "--tag", "vip")
    crm("log", "Acme", "called about the renewal")
    crm("followup", "Acme", "tomorrow", "send the quote")
    return db_path


def test_the_test_switch_encrypts_the_books_of_the_tests(store, db_path):
    # CRM_TEST_ENCRYPTED=1 is how the store's tests run against SQLCipher.
    assert looks_encrypted(db_path) is ENCRYPTED
    assert store.encrypted is ENCRYPTED


def test_a_new_book_is_encrypted_when_a_key_is_set(encrypted_book):
    assert header(encrypted_book) != HEADER
    conn = sqlite3.connect(encrypted_book)
    with pytest.raises(sqlite3.DatabaseError, match="file is not a database"):
        conn.execute("SELECT * FROM clients").fetchall()
    conn.close()
    # A 64-hex-digit key is SQLCipher's raw key: any SQLCipher tool opens the book with it.
    assert sqlcipher_rows(encrypted_book, f"PRAGMA key = \"x'{RAW_KEY}'\"",
                          "SELECT name, email FROM clients") == [("Acme", "a@acme.test")]


def test_the_encrypted_book_works_like_a_plain_one(crm, encrypted_book):
    assert [c["name"] for c in crm.json("ls")] == ["Acme"]
    assert crm.json("search", "renewal")[0]["client"] == "Acme"
    assert crm.json("due", "--within", "7d")
    crm("undo")
    assert crm.json("due", "--within", "7d") == []
    check = crm.json("db", "check")
    assert check["ok"] is True and check["encrypted"] is True and check["clients"] == 1


def test_a_passphrase_is_a_key_too(crm, db_path, monkeypatch):
    monkeypatch.setenv("CRM_DB_KEY", PASSPHRASE)
    crm("add", "Acme")
    assert header(db_path) != HEADER
    assert crm.json("ls")[0]["name"] == "Acme"
    assert sqlcipher_rows(db_path, f"PRAGMA key = '{PASSPHRASE}'",
                          "SELECT name FROM clients") == [("Acme",)]


COMMANDS = [("ls",), ("add", "Globex"), ("show", "Acme"), ("due",), ("search", "renewal"),
            ("log", "Acme", "x"), ("history",), ("undo",), ("export", "clients"),
            ("report", "summary"), ("db", "check"), ("db", "backup", "copy.db"),
            ("db", "migrate"), ("db", "decrypt"), ("db", "encrypt")]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_without_the_key_every_command_fails_with_one_line(crm, encrypted_book, tmp_path,
                                                            monkeypatch, args):
    monkeypatch.delenv("CRM_DB_KEY")
    monkeypatch.chdir(tmp_path)
    before = files(tmp_path)
    result = crm(*args, ok=False)
    assert result.exit_code == 1
    assert result.stderr == (f"crm: error: {encrypted_book}: encrypted; set CRM_DB_KEY (or "
                             "db_key_file in the config) to its key\n")
    assert result.stdout == ""
    assert files(tmp_path) == before


@pytest.mark.parametrize("args", [("ls",), ("add", "Globex"), ("db", "check"), ("db", "decrypt")],
                         ids=" ".join)
def test_a_wrong_key_fails_with_one_line_and_writes_nothing(crm, encrypted_book, tmp_path,
                                                             monkeypatch, args):
    monkeypatch.setenv("CRM_DB_KEY", "not the key")
    before = files(tmp_path)
    result = crm(*args, ok=False)
    assert result.exit_code == 1
    assert result.stderr == (f"crm: error: {encrypted_book}: wrong key (CRM_DB_KEY does not "
                             "open this encrypted book)\n")
    assert files(tmp_path) == before


def test_the_real_binary_without_the_key_exits_1_without_a_traceback(encrypted_book, tmp_path):
    env = crm_env(tmp_path)
    env.pop("CRM_DB_KEY", None)
    result = subprocess.run([sys.executable, "-m", "crmcli", "ls"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr == (f"crm: error: {encrypted_book}: encrypted; set CRM_DB_KEY (or "
                             "db_key_file in the config) to its key\n")


def test_the_key_from_an_owner_only_key_file(crm, encrypted_book, tmp_path, monkeypatch):
    monkeypatch.delenv("CRM_DB_KEY")
    key_file = tmp_path / "crm.key"
    key_file.write_text(RAW_KEY + "\n")
    key_file.chmod(0o600)
    (tmp_path / "config.yaml").write_text("timezone: UTC\ndb_key_file: crm.key\n")
    assert crm.json("ls")[0]["name"] == "Acme"

    key_file.chmod(0o644)
    result = crm("ls", ok=False)
    assert result.exit_code == 1
    assert result.stderr == (f"crm: error: {key_file}: the key file must be owner-only "
                             f"(mode 0644); run chmod 600 {key_file}\n")

    key_file.write_text("")
    key_file.chmod(0o600)
    result = crm("ls", ok=False)
    assert result.stderr == f"crm: error: {key_file}: the key file is empty\n"

    # CRM_DB_KEY wins over the key file.
    monkeypatch.setenv("CRM_DB_KEY", RAW_KEY)
    assert crm.json("ls")[0]["name"] == "Acme"


def test_a_bad_key_file_creates_no_book(crm, db_path, tmp_path, monkeypatch):
    monkeypatch.delenv("CRM_DB_KEY", raising=False)
    key_file = tmp_path / "crm.key"
    key_file.write_text(RAW_KEY + "\n")
    key_file.chmod(0o644)
    (tmp_path / "config.yaml").write_text("timezone: UTC\ndb_key_file: crm.key\n")
    result = crm("add", "Acme", ok=False)
    assert result.exit_code == 1 and "must be owner-only" in result.stderr
    assert not db_path.exists()


def test_a_migration_backup_of_an_encrypted_book_is_encrypted(crm, db_path, tmp_path,
                                                              monkeypatch):
    from crmcli.store import CrmStore
    from crmcli.store.migrations import STEPS

    monkeypatch.setenv("CRM_DB_KEY", RAW_KEY)
    with CrmStore(db_path, migrate=False) as old:
        old.migrate(stop_before=STEPS[-1][0])
    result = crm("ls")
    assert "crm: migrated" in result.stderr
    backups = list(tmp_path.glob("crm.db.v*.bak"))
    assert len(backups) == 1 and header(backups[0]) != HEADER
    assert crm.json("--db", str(backups[0]), "db", "check", "--fields", "encrypted")[
        "encrypted"] is True


def test_a_missing_key_file_is_named(crm, encrypted_book, tmp_path, monkeypatch):
    monkeypatch.delenv("CRM_DB_KEY")
    (tmp_path / "config.yaml").write_text("timezone: UTC\ndb_key_file: nowhere.key\n")
    result = crm("ls", ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"crm: error: {tmp_path / 'nowhere.key'}: cannot read the "
                                    "key file (db_key_file): ")


def test_a_plain_book_stays_plain_with_a_key_set(crm, db_path, monkeypatch):
    monkeypatch.delenv("CRM_DB_KEY", raising=False)
    crm("add", "Acme")
    monkeypatch.setenv("CRM_DB_KEY", RAW_KEY)
    crm("add", "Globex")
    assert header(db_path) == HEADER
    assert crm.json("db", "check")["encrypted"] is False


def test_backup_of_an_encrypted_book_stays_encrypted(crm, encrypted_book, tmp_path):
    crm("db", "backup", str(tmp_path / "backup.db"))
    backup = tmp_path / "backup.db"
    assert header(backup) != HEADER
    assert oct(backup.stat().st_mode & 0o777) == "0o600"
    assert [c["name"] for c in crm.json("--db", str(backup), "ls")] == ["Acme"]
    assert crm.json("--db", str(backup), "db", "check")["ok"] is True


def test_plain_books_never_load_sqlcipher(tmp_path):
    env = crm_env(tmp_path)
    env.pop("CRM_DB_KEY", None)
    code = ("import sys; from crmcli.cli import main; sys.argv = ['crm', 'add', 'Acme', '-q'];"
            "\ntry: main()\nexcept SystemExit: pass\nprint('sqlcipher3' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr
    assert header(tmp_path / "crm.db") == HEADER


def test_without_sqlcipher_installed_an_encrypted_book_says_what_to_install(encrypted_book,
                                                                             tmp_path):
    env = crm_env(tmp_path)
    env["CRM_DB_KEY"] = RAW_KEY
    # sys.modules[name] = None makes `import sqlcipher3` fail as if it were not installed.
    code = ("import sys; sys.modules['sqlcipher3'] = None; sys.argv = ['crm', 'ls']\n"
            "from crmcli.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr == (f"crm: error: {encrypted_book}: encrypted, but SQLCipher is not "
                             "installed; install the encrypt extra: pip install "
                             "'crmcli[encrypt]'\n")


# --- crm db encrypt / decrypt ----------------------------------------------------------------

@pytest.fixture
def plain_book(crm, db_path, monkeypatch):
    monkeypatch.delenv("CRM_DB_KEY", raising=False)
    crm("add", "Acme", "--email", "a@acme.test", "--tag", "vip")
    crm("add", "Globex")
    crm("log", "Acme", "called about the renewal")
    crm("deal", "Acme", "1200", "--title", "renewal")
    return db_path


def everything(crm) -> dict:
    return {"clients": crm.json("ls"), "search": crm.json("search", "renewal"),
            "history": crm.json("history"), "deals": crm.json("deals")}


def test_encrypt_and_decrypt_convert_the_book_in_place(crm, plain_book, tmp_path, monkeypatch):
    before = everything(crm)
    monkeypatch.setenv("CRM_DB_KEY", RAW_KEY)
    result = crm("db", "encrypt")
    assert result.stderr == (f"encrypted {plain_book} (key: CRM_DB_KEY); keep the key safe: "
                             "without it the book cannot be read\n")
    assert header(plain_book) != HEADER
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("crm.db")) == \
        ["crm.db"]
    assert everything(crm) == before
    assert crm.json("db", "check")["encrypted"] is True
    assert sqlcipher_rows(plain_book, f"PRAGMA key = \"x'{RAW_KEY}'\"",
                          "SELECT count(*) FROM clients") == [(2,)]

    assert crm("db", "encrypt").stderr == f"{plain_book} is already encrypted; nothing to do\n"
    assert crm("db", "decrypt").stderr == f"decrypted {plain_book}\n"
    assert header(plain_book) == HEADER
    monkeypatch.delenv("CRM_DB_KEY")
    assert everything(crm) == before
    check = crm.json("db", "check")
    assert check["ok"] is True and check["encrypted"] is False
    assert crm("db", "decrypt").stderr == f"{plain_book} is not encrypted; nothing to do\n"


def test_encrypt_leaves_no_plain_file_beside_the_book(crm, plain_book, tmp_path, monkeypatch):
    # The book was just written in WAL mode: its -wal and -shm are folded in, not left.
    crm("add", "Initech")
    monkeypatch.setenv("CRM_DB_KEY", PASSPHRASE)
    crm("db", "encrypt")
    leftovers = [p for p in tmp_path.iterdir() if p.is_file() and p.name not in
                 ("crm.db", "config.yaml")]
    assert leftovers == []
    for name in os.listdir(tmp_path):
        assert b"Initech" not in (tmp_path / name).read_bytes(), name
    assert len(crm.json("ls")) == 3


def test_encrypt_with_a_new_key_file(crm, plain_book, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = crm("db", "encrypt", "--new-key-file", "crm.key")
    key_file = tmp_path / "crm.key"
    assert result.stderr.splitlines()[-1] == f"open it from now on with: crm config set " \
                                              f"db_key_file {key_file}"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    key = key_file.read_text().strip()
    assert len(key) == 64
    assert crm("ls", ok=False).exit_code == 1
    crm("config", "set", "db_key_file", str(key_file))
    assert len(crm.json("ls")) == 2
    assert sqlcipher_rows(plain_book, f"PRAGMA key = \"x'{key}'\"",
                          "SELECT count(*) FROM clients") == [(2,)]


def test_a_new_key_file_never_overwrites_one(crm, plain_book, tmp_path):
    key_file = tmp_path / "crm.key"
    key_file.write_text("precious\n")
    result = crm("db", "encrypt", "--new-key-file", str(key_file), ok=False)
    assert result.exit_code == 1
    assert result.stderr == (f"crm: error: {key_file}: already exists; a key file is never "
                             "overwritten\n")
    assert key_file.read_text() == "precious\n" and header(plain_book) == HEADER


def test_encrypt_without_a_key_is_refused(crm, plain_book, snapshot):
    before = snapshot(plain_book)
    result = crm("db", "encrypt", ok=False)
    assert result.exit_code == 1
    assert result.stderr == (f"crm: error: {plain_book}: no key to encrypt with; set "
                             "CRM_DB_KEY (or db_key_file in the config)\n")
    assert header(plain_book) == HEADER and snapshot(plain_book) == before


def test_encrypt_is_refused_while_another_process_has_the_book_open(crm, plain_book,
                                                                    monkeypatch, snapshot):
    before = snapshot(plain_book)
    monkeypatch.setenv("CRM_DB_KEY", RAW_KEY)
    other = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
         "c.execute('SELECT count(*) FROM clients').fetchall(); print('open', flush=True); "
         "sys.stdin.read()", str(plain_book)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline() == "open\n"
        result = crm("db", "encrypt", ok=False)
    finally:
        other.stdin.close()
        other.wait(timeout=30)
    assert result.exit_code == 1
    assert result.stderr == (f"crm: error: {plain_book}: in use by another process (a crm "
                             "command, the cron digest); try again when it has finished\n")
    assert header(plain_book) == HEADER and snapshot(plain_book) == before


def test_encrypted_book_round_trips_its_export(crm, plain_book, tmp_path, monkeypatch):
    crm("export", "all", "-o", str(tmp_path / "plain-export"))
    monkeypatch.setenv("CRM_DB_KEY", RAW_KEY)
    crm("db", "encrypt")
    crm("export", "all", "-o", str(tmp_path / "encrypted-export"))
    for f in sorted((tmp_path / "plain-export").iterdir()):
        assert f.read_bytes() == (tmp_path / "encrypted-export" / f.name).read_bytes(), f.name
    data = json.loads(crm("ls", "--format", "json").stdout)
    assert len(data) == 2


def test_db_copy_of_an_encrypted_book_is_encrypted_with_the_key_set(crm, encrypted_book,
                                                                    tmp_path):
    copy = tmp_path / "copy.db"
    crm("db", "copy", str(encrypted_book), str(copy))
    assert header(copy) != HEADER
    assert [c["name"] for c in crm.json("--db", str(copy), "ls")] == ["Acme"]
