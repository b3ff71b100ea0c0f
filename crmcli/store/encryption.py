"""Encryption at rest: SQLCipher (the `sqlcipher3` module of the `encrypt` extra).

Everything that knows about the cipher lives here; store.py only asks `cipher_for` which
driver opens a book and `connect_like` for a second file of the same kind (a backup).

- The key comes from `CRM_DB_KEY`, else from the file named by `db_key_file` in the config
  (owner-only). A key of exactly 64 hexadecimal digits is a raw 256-bit key, used as is;
  anything else is a passphrase, stretched by SQLCipher's key derivation (PBKDF2, 256,000
  iterations) on every open, which costs a tenth of a second or so per command.
- A book is encrypted when its file does not start with SQLite's header and looks like
  SQLCipher's (random bytes, whole pages); a new book is created encrypted when a key is
  set. A plain book opens plain whether or not a key is set (`crm db encrypt` converts it).
- `sqlcipher3` is imported only when a book is encrypted (or about to be): plain books never
  load it. Its errors are raised as the stdlib sqlite3's of the same name, so the store (and
  sqlite_utils on the same connection) handle them as they always have.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from crmcli.errors import ConfigError, StoreError

KEY_ENV = "CRM_DB_KEY"
SQLITE_HEADER = b"SQLite format 3\x00"
INSTALL_HINT = "install the encrypt extra: pip install 'crmcli[encrypt]'"
SQLITE_NOTADB = 26


@dataclass(frozen=True)
class Key:
    text: str
    source: str  # where it came from, for messages: "CRM_DB_KEY" or the key file

    @property
    def sql_literal(self) -> str:
        """The key as SQLCipher reads it in PRAGMA key / ATTACH ... KEY."""
        if is_raw_key(self.text):
            return f"x'{self.text}'"
        return self.text


def is_raw_key(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)


@dataclass(frozen=True)
class KeySource:
    """Where a book's key is looked for: CRM_DB_KEY, then the config's db_key_file."""

    key_file: Path | None = None

    @classmethod
    def of(cls, config) -> KeySource:
        path = config["db_key_file"]
        if not path:
            return cls()
        path = Path(str(path)).expanduser()
        if not path.is_absolute() and config.path is not None:
            path = config.path.parent / path
        return cls(path)

    def describe(self) -> str:
        return KEY_ENV + (f" or db_key_file ({self.key_file})" if self.key_file else
                          " (or db_key_file in the config)")

    def key(self) -> Key | None:
        text = os.environ.get(KEY_ENV)
        if text:
            return Key(text, KEY_ENV)
        if self.key_file is None:
            return None
        return Key(read_key_file(self.key_file), str(self.key_file))


@dataclass(frozen=True)
class GivenKey(KeySource):
    """This key and no other (a new key, a converted copy), whatever CRM_DB_KEY says."""

    given: Key | None = None

    def key(self) -> Key | None:
        return self.given


def new_key_file(path: Path) -> Key:
    """A new random raw 256-bit key, written to path (created owner-only, never over an
    existing file)."""
    import secrets

    text = secrets.token_hex(32)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path}: already exists; a key file is never overwritten") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the key file: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    return Key(text, str(path))


def read_key_file(path: Path) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
            if mode & 0o077:
                raise ConfigError(f"{path}: the key file must be owner-only (mode {mode:04o}); "
                                  f"run chmod 600 {path}")
            text = f.read().strip("\r\n")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the key file (db_key_file): "
                          f"{exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the key file is not UTF-8 text") from None
    if not text:
        raise ConfigError(f"{path}: the key file is empty")
    return text


def looks_encrypted(path: Path) -> bool:
    """Whether the file is what an SQLCipher book looks like: no SQLite header, whole pages
    of bytes that look random (its salt and ciphertext; text or junk do not)."""
    try:
        size = path.stat().st_size
        if size < 1024 or size % 512:
            return False
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError:
        return False
    return not head.startswith(SQLITE_HEADER) and len(set(head)) >= 200


def is_encrypted(path: Path) -> bool:
    return looks_encrypted(path)


# --- the driver ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Cipher:
    """How to open one encrypted book: the driver and its key."""

    key: Key

    def connect(self, database: str | os.PathLike, **kwargs) -> sqlite3.Connection:
        """A keyed connection; StoreError when the key does not open the file."""
        driver = _driver()
        conn = _keyed(driver.connect(database, factory=driver.CipherConnection, **kwargs),
                      self.key)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            conn.close()
            if getattr(exc, "sqlite_errorcode", None) == SQLITE_NOTADB:
                raise StoreError(f"{_shown(database)}: wrong key ({self.key.source} does not "
                                 "open this encrypted book)") from None
            raise
        return conn


def _shown(database: str | os.PathLike) -> str:
    text = str(database)
    if text.startswith("file:"):
        from urllib.parse import unquote

        text = unquote(text[5:].split("?", 1)[0])
    return text


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def cipher_for(path: Path, created: bool, keys: KeySource | None) -> Cipher | None:
    """How to open the book at path: None for plain SQLite (the stdlib), else a Cipher.
    StoreError when it is encrypted and no key is set or the driver is not installed."""
    if created:
        try:
            key = (keys or KeySource()).key()
            if key is None:
                return None
            _require_driver(path, f"{key.source} is set, so new books are encrypted")
        except (ConfigError, StoreError):
            # The book was to be created: leave no empty file where it would have been.
            if path.exists() and path.stat().st_size == 0:
                path.unlink()
            raise
        return Cipher(key)
    if not looks_encrypted(path):
        return None
    key = (keys or KeySource()).key()
    if key is None:
        raise StoreError(f"{path}: encrypted; set {(keys or KeySource()).describe()} "
                         "to its key")
    _require_driver(path, "encrypted")
    return Cipher(key)


def _require_driver(path: Path, why: str) -> None:
    try:
        _driver()
    except ImportError:
        raise StoreError(f"{path}: {why}, but SQLCipher is not installed; "
                         f"{INSTALL_HINT}") from None


def connect_like(conn: sqlite3.Connection, database: str | os.PathLike) -> sqlite3.Connection:
    """A connection to another file (a backup, a scratch copy in memory) that is encrypted
    with conn's key when conn's book is encrypted, so that SQLite's backup can copy pages
    from one to the other."""
    key = getattr(conn, "cipher_key", None)
    if key is None:
        return sqlite3.connect(database)
    driver = _driver()
    return _keyed(driver.connect(database, factory=driver.CipherConnection), key)


def _keyed(conn, key: Key):
    # SQLCipher logs a failed page check (a wrong key) to stderr itself: crm says it once.
    conn.execute("PRAGMA cipher_log_level = NONE")
    conn.execute("PRAGMA key = " + _quote(key.sql_literal))
    conn.cipher_key = key
    return conn


def is_encrypted_connection(conn) -> bool:
    return getattr(conn, "cipher_key", None) is not None


def stdlib_error(exc: BaseException) -> sqlite3.Error | None:
    """The driver's error as the stdlib sqlite3 error of the same name (None: not one)."""
    driver = _loaded_driver()
    if driver is None or not isinstance(exc, driver.module.Error):
        return None
    return driver.translate(exc)


def _loaded_driver():
    import sys

    return _driver() if "sqlcipher3" in sys.modules else None


@cache
def _driver():
    """sqlcipher3 with its connection and cursor raising the stdlib's sqlite3 errors."""
    import sqlcipher3

    def translate(exc: Exception) -> sqlite3.Error:
        error = getattr(sqlite3, type(exc).__name__, sqlite3.DatabaseError)(*exc.args)
        for attr in ("sqlite_errorcode", "sqlite_errorname"):
            if hasattr(exc, attr):
                setattr(error, attr, getattr(exc, attr))
        return error

    class CipherCursor(sqlcipher3.Cursor):
        def execute(self, *args):
            try:
                return super().execute(*args)
            except sqlcipher3.Error as exc:
                raise translate(exc) from None

        def executemany(self, *args):
            try:
                return super().executemany(*args)
            except sqlcipher3.Error as exc:
                raise translate(exc) from None

        def executescript(self, *args):
            try:
                return super().executescript(*args)
            except sqlcipher3.Error as exc:
                raise translate(exc) from None

        def fetchone(self):
            try:
                return super().fetchone()
            except sqlcipher3.Error as exc:
                raise translate(exc) from None

        def fetchall(self):
            try:
                return super().fetchall()
            except sqlcipher3.Error as exc:
                raise translate(exc) from None

        def fetchmany(self, *args):
            try:
                return super().fetchmany(*args)
            except sqlcipher3.Error as exc:
                raise translate(exc) from None

    class CipherConnection(sqlcipher3.Connection):
        cipher_key: Key | None = None

        def cursor(self, factory=CipherCursor):
            return super().cursor(factory)

        def backup(self, target, **kwargs):
            try:
                return super().backup(target, **kwargs)
            except sqlcipher3.Error as exc:
                raise translate(exc) from None

    class Driver:
        module = sqlcipher3
        connect = staticmethod(sqlcipher3.connect)

    Driver.CipherConnection = CipherConnection
    Driver.translate = staticmethod(translate)
    return Driver


# --- converting a book in place -------------------------------------------------------------

def convert(db, *, encrypt: bool, key: Key | None = None) -> Key | None:
    """Encrypt (or decrypt) db's book in place with key (default: the configured one);
    returns the key used (None: decrypted).

    SQLCipher's sqlcipher_export writes the converted copy into an owner-only temporary
    file beside the book; the copy is opened as crm opens a book and must hold as many rows
    in every table and pass the integrity checks before it replaces the book (one rename:
    no moment without a whole book, and the old file is gone). The book leaves WAL mode
    first, which SQLite allows only when no other connection has it open, and a write lock
    is held until the rename, so nothing written elsewhere is lost. db is closed."""
    from crmcli.files import temporary_beside

    if db.engine != "sqlite":
        raise StoreError(f"{db.location}: encryption at rest is for SQLite books; encrypt a "
                         "PostgreSQL book's storage with the server's own means")
    path = db.path
    keys = db.keys or KeySource()
    was_encrypted = is_encrypted_connection(db.conn)
    if was_encrypted == encrypt:
        raise StoreError(f"{path}: already {'encrypted' if encrypt else 'not encrypted'}")
    key = (key or keys.key()) if encrypt else None
    if encrypt and key is None:
        raise StoreError(f"{path}: no key to encrypt with; set {keys.describe()}")
    if db.read_only:
        raise StoreError(f"{path}: the database is read-only (check the permissions of the "
                         "file and its folder)")
    _require_driver(path, "encrypting")
    source_key = db.conn.cipher_key if was_encrypted else None
    _leave_wal(db)
    db.close()
    lock = _open(path, source_key)
    try:
        lock.execute("BEGIN IMMEDIATE")
        if lock.execute("PRAGMA journal_mode").fetchone()[0] != "delete":
            raise StoreError(_in_use(path))
        version = lock.execute("PRAGMA user_version").fetchone()[0]
        counts = _row_counts(lock)
        target, tmp = temporary_beside(path)
        try:
            _export(path, source_key, tmp, key, version)
            _verify(tmp, counts, key)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except sqlite3.DatabaseError as exc:
        from crmcli.store.store import describe_db_error

        raise StoreError(f"{path}: {describe_db_error(exc)}") from None
    finally:
        lock.close()
    return key


def _in_use(path: Path) -> str:
    return (f"{path}: in use by another process (a crm command, the cron digest); "
            "try again when it has finished")


def _leave_wal(db) -> None:
    """Rollback-journal mode, so that the book is one file (no -wal or -shm beside it)."""
    db.conn.execute("PRAGMA busy_timeout = 2000")
    try:
        mode = db.conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
    except sqlite3.OperationalError:
        mode = "wal"
    if mode != "delete":
        raise StoreError(_in_use(db.path))


def _open(path: Path | str, key: Key | None):
    driver = _driver()
    conn = driver.connect(str(path), factory=driver.CipherConnection, isolation_level=None,
                          timeout=2)
    return conn if key is None else _keyed(conn, key)


def _row_counts(conn) -> dict[str, int]:
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def _export(source: Path, source_key: Key | None, copy: Path, key: Key | None,
            version: int) -> None:
    conn = _open(source, source_key)
    try:
        conn.execute("ATTACH DATABASE ? AS converted KEY ?",
                     (str(copy), "" if key is None else key.sql_literal))
        conn.execute("SELECT sqlcipher_export('converted')")
        conn.execute(f"PRAGMA converted.user_version = {int(version)}")
        conn.execute("DETACH DATABASE converted")
    finally:
        conn.close()


def _verify(copy: Path, counts: dict[str, int], key: Key | None) -> None:
    """The copy opens as crm opens a book (with the key when encrypted), holds every row
    and passes the integrity checks; else StoreError, and the book is left as it was."""
    from crmcli.store.store import Database

    with open(copy, "rb") as f:
        plain = f.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    if plain != (key is None):
        raise StoreError(f"{copy}: the converted copy is not what was asked; book unchanged")
    with Database(copy, migrate=False, create=False, keys=GivenKey(given=key)) as converted:
        if is_encrypted_connection(converted.conn) != (key is not None):
            raise StoreError(f"{copy}: the converted copy did not open as expected; "
                             "book unchanged")
        problems = converted.integrity_check()
        copied = _row_counts(converted.conn)
    if problems or copied != counts:
        missing = sorted(t for t in counts if copied.get(t) != counts[t])
        raise StoreError(f"{copy}: the converted copy failed its check "
                         f"({'; '.join(problems) or 'row counts differ: ' + ', '.join(missing)});"
                         " book unchanged")
