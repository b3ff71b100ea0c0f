"""Database: the connection and the change log that every repository of the store shares.

Reads go through plain sqlite3 so that read-only commands never pay for
importing sqlite_utils; the sqlite_utils Database is built on the same
connection only when a command migrates or writes in bulk.

Every write happens inside `change()`, a transaction that also writes the
change log (`changes` + `change_rows`): the old and new values of every row
touched, which is what `crm history` shows and `crm undo` reverts.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crmcli import dates
from crmcli.errors import CrmError, SchemaTooNew, StoreError, ValidationError, not_utf8
from crmcli.store.encryption import Cipher, KeySource, cipher_for, connect_like, stdlib_error
from crmcli.store.migrations import SCHEMA_VERSION
from crmcli.store.search import SEARCHABLE, doc_id, document_for, of_table_sql

BUSY_TIMEOUT_MS = 15_000
# Tables whose rows the change log records and `crm undo` can restore.
AUDITED = {"clients", "contacts", "interactions", "followups", "deals", "tags", "stage_changes",
           "invoices", "payments", "deal_stage_changes"}

# The tables `crm db check` counts, in the order it shows them.
COUNTED_TABLES = ("clients", "contacts", "interactions", "deals", "followups", "tags",
                  "stage_changes", "invoices", "payments", "changes")


def utc_now_iso() -> str:
    return dates.to_utc_iso(dates.now())


@dataclass
class Change:
    """The change being recorded by the current transaction."""

    id: int
    command: str
    summary: str = ""
    client_id: int | None = None
    rows: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    # What the change wrote, when a watcher of the database wants to know (else None):
    # (table, op, row id, old, new) as log_row gets them; rows logged in SQL as
    # (table, op, row id, None, None).
    touched: list[tuple[str, str, int, dict | None, dict | None]] | None = None


def _dict_factory(cursor: sqlite3.Cursor, row: tuple) -> dict:
    return {col[0]: value for col, value in zip(cursor.description, row, strict=True)}


MISSING_HINT = ("create it with a command that writes (`crm add NAME`, `crm import`, "
                "`crm demo`), or point --db/CRM_DB at your book")


def _create_owner_only(path: Path) -> bool:
    """Create the database file owner-only, following a symlink to where it points.

    True when this call created it (or found it empty: a file of no bytes is a book
    not yet begun, and is made owner-only before anything is written into it)."""
    target = Path(os.path.realpath(path))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
        return True
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"{path}: cannot create database: {exc.strerror or exc}") from None
    try:
        if target.stat().st_size == 0:
            os.chmod(target, 0o600)
            return True
    except OSError:
        pass
    return False


def _writable(path: Path) -> bool:
    """Whether this process may write the file and create its -wal/-shm beside it."""
    real = os.path.realpath(path)
    return os.access(real, os.W_OK) and os.access(os.path.dirname(real) or ".", os.W_OK)


def _connect(path: Path, read_only: bool, cipher: Cipher | None = None) -> sqlite3.Connection:
    kwargs = {"isolation_level": None, "timeout": BUSY_TIMEOUT_MS / 1000,
              "check_same_thread": False}
    connect = sqlite3.connect if cipher is None else cipher.connect
    if not read_only:
        return connect(path, **kwargs)
    from urllib.parse import quote

    uri = f"file:{quote(os.path.realpath(path))}?mode=ro"
    conn = connect(uri, uri=True, **kwargs)
    try:
        conn.execute("PRAGMA schema_version").fetchone()
        return conn
    except sqlite3.OperationalError:
        # A WAL book in a folder we cannot write, with no -shm left beside it: nobody
        # can be writing it, so read it as it stands.
        conn.close()
    return connect(uri + "&immutable=1", uri=True, **kwargs)


def _open_connection(path: Path, *, create: bool = True, keys: KeySource | None = None
                     ) -> tuple[sqlite3.Connection, bool, bool]:
    """(connection, created, read_only). Nothing is written to the file here: the caller
    checks that it is a crm database first (see StoreBase._use_wal). keys: where the key
    of an encrypted book is found (store/encryption.py)."""
    if path.is_dir():
        raise StoreError(f"{path}: is a directory, not a database file")
    exists = path.exists()
    if not create and (not exists or path.stat().st_size == 0):
        what = "no database here" if not exists else "the database file is empty"
        raise StoreError(f"{path}: {what}; {MISSING_HINT}")
    created = _create_owner_only(path) if create else False
    read_only = not created and not _writable(path)
    cipher = cipher_for(path, created, keys)
    try:
        conn = _connect(path, read_only, cipher)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open database: {exc}") from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA user_version").fetchone()
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"{path}: {describe_db_error(exc)}") from None
    return conn, created, read_only


def user_error_of(exc: BaseException) -> CrmError | None:
    """The driver's error as the one line a user can act on, or None if it is not one."""
    exc = stdlib_error(exc) or exc
    if isinstance(exc, sqlite3.Error):
        return StoreError(describe_db_error(exc))
    return None


def describe_db_error(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "file is not a database" in text or "malformed" in text:
        return "not a crm database (the file is not SQLite or is damaged)"
    if "readonly" in text or "read-only" in text:
        return "the database is read-only (check the permissions of the file and its folder)"
    if "unable to open" in text:
        return "cannot open the database file (check that its folder exists and is writable)"
    if "locked" in text or "busy" in text:
        return "the database is busy (another crm process holds it); try again"
    if "full" in text:
        return "the disk is full; nothing was written"
    if "disk I/O error" in text:
        return "disk I/O error (is the disk full or the file too large?); nothing was written"
    return f"database error: {text}"


def not_utf8_on_write(exc: UnicodeEncodeError) -> ValidationError:
    """Text that SQLite cannot store, caught as it is written (see errors.not_utf8)."""
    return not_utf8(exc, "text", "; nothing was written")


class Database:
    """Connection, schema, transactions and the change log; the repositories (clients,
    interactions, deals...) read and write through it, and CrmStore composes them."""

    # the migrations this process applied when it opened the book (crmcli.store.CrmStore
    # finishes the work of those that need more than SQL)
    migrated: list[str] = []
    engine = "sqlite"

    def __init__(self, path: str | os.PathLike, *, migrate: bool = True,
                 create: bool = True, keys: KeySource | None = None):
        # Where the key of an encrypted book is found (store/encryption.py).
        self.keys = keys
        self._utils_db = None
        self._change: Change | None = None
        # Told of every change while their watching() is true: before_commit(change)
        # inside its transaction (raising rolls it back), after_commit(change) once it is
        # committed. The change records the rows it touches only for them.
        self.watchers: list[Any] = []
        self.backup_path: Path | None = None
        self._open(path, migrate=migrate, create=create)

    def _open(self, path: str | os.PathLike, *, migrate: bool, create: bool) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.conn, self.created, self.read_only = _open_connection(self.path, create=create,
                                                                   keys=self.keys)
        try:
            self._refuse_foreign()
            self._use_wal()
            self._check_schema(migrate)
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise StoreError(f"{self.path}: {describe_db_error(exc)}") from None
        except BaseException:
            self.conn.close()
            raise

    # --- lifecycle -----------------------------------------------------

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None  # type: ignore[assignment]

    @property
    def utils_db(self):
        """The sqlite_utils Database on this connection (imported on first use)."""
        if self._utils_db is None:
            from sqlite_utils import Database as UtilsDatabase

            self._utils_db = UtilsDatabase(self.conn)
        return self._utils_db

    # --- schema --------------------------------------------------------

    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def _refuse_foreign(self) -> None:
        """Refuse, having written nothing, a file that is not a crm database this crm
        can open: another program's SQLite file, or one from a newer crm."""
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"{self.path}: written by a newer crmcli (schema version {version}; this crmcli "
                f"knows up to {SCHEMA_VERSION}); upgrade crmcli to open it")
        has_tables = self.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
        if has_tables and version == 0 and not self._is_crm_file():
            raise StoreError(f"{self.path}: is an SQLite file but not a crm database")

    def _use_wal(self) -> None:
        if self.read_only:
            return
        if self.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                self.conn.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as exc:
                if "readonly" not in str(exc) and "read-only" not in str(exc):
                    raise
        self.conn.execute("PRAGMA synchronous = NORMAL")

    def _check_schema(self, migrate: bool) -> None:
        version = self.schema_version()
        if version == SCHEMA_VERSION or not migrate:
            return
        if self.read_only:
            raise StoreError(f"{self.path}: needs upgrading to schema version {SCHEMA_VERSION} "
                             "but this process cannot write it; run crm once with write access")
        has_tables = self.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
        if has_tables:
            self.backup_path = self._backup_before_migration(version)
        self.migrated = self.migrate()

    def _is_crm_file(self) -> bool:
        return bool(self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = '_sqlite_migrations'").fetchone())

    def _backup_before_migration(self, version: int) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = self.path.with_name(f"{self.path.name}.v{version}-{stamp}.bak")
        self.backup_to(target)
        return target

    def migrate(self, stop_before: str | None = None) -> list[str]:
        """Apply pending migrations; returns the names applied."""
        from crmcli.store.migrations import migrations

        mset = migrations()
        # Hold the write lock for the whole migration and decide what is pending
        # under it: several processes may open the same old (or new) file at once,
        # and only the first may apply anything.
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.path}: {describe_db_error(exc)}") from None
        try:
            pending = [m.name for m in mset.pending(self.utils_db)]
            if stop_before in pending:
                pending = pending[: pending.index(stop_before)]
            mset.apply(self.utils_db, stop_before=stop_before)
            applied = len(mset.applied(self.utils_db))
            self.conn.execute(f"PRAGMA user_version = {applied}")
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        return pending

    def applied_migrations(self) -> list[dict]:
        if not self._is_crm_file():
            return []
        return self.query("SELECT name, applied_at FROM _sqlite_migrations "
                          "WHERE migration_set = 'crmcli' ORDER BY rowid")

    # --- maintenance ---------------------------------------------------

    def backup_to(self, target: str | os.PathLike) -> Path:
        """A consistent copy through SQLite's online backup, owner-only."""
        from crmcli.files import temporary_beside

        target = Path(target)
        if target.exists() and target.is_dir():
            target = target / self.path.name
        shown = target
        target, tmp = temporary_beside(target, db=self.path)
        try:
            dest = connect_like(self.conn, tmp)
            try:
                self.conn.backup(dest)
                dest.execute("PRAGMA journal_mode = DELETE")
            finally:
                dest.close()
            os.replace(tmp, target)
        except (OSError, sqlite3.Error) as exc:
            Path(tmp).unlink(missing_ok=True)
            raise StoreError(f"{shown}: cannot write backup: {exc}") from None
        return shown

    def row_counts(self) -> dict[str, int]:
        """How many rows each table of the book holds (what `crm db check` reports)."""
        return {t: self.scalar(f"SELECT count(*) FROM {t}") for t in COUNTED_TABLES}

    def integrity_check(self) -> list[str]:
        """Problems found by SQLite's integrity and foreign-key checks ([] when sound)."""
        problems = [r["integrity_check"] for r in self.query("PRAGMA integrity_check")]
        problems = [p for p in problems if p != "ok"]
        for row in self.query("PRAGMA foreign_key_check"):
            problems.append(f"{row['table']} row {row['rowid']} refers to a missing "
                            f"{row['parent']} row")
        # FTS5 checks its index through an INSERT: on a book this process may only
        # read, check a copy in memory instead.
        conn = self.conn
        if self.read_only:
            conn = connect_like(self.conn, ":memory:")
            self.conn.backup(conn)
        try:
            conn.execute("INSERT INTO search_index(search_index, rank) "
                         "VALUES ('integrity-check', 1)")
        except sqlite3.DatabaseError as exc:
            problems.append(f"search index: {exc}")
        finally:
            if conn is not self.conn:
                conn.close()
        return problems

    # --- reading -------------------------------------------------------

    def _dict_cursor(self, sql: str, params: Sequence | dict) -> sqlite3.Cursor:
        # Rows as dicts on our cursors only: sqlite_utils shares the connection and
        # expects plain tuples from its own.
        cur = self.conn.cursor()
        cur.row_factory = _dict_factory
        try:
            return cur.execute(sql, params)
        except UnicodeEncodeError as exc:
            raise not_utf8_on_write(exc) from None

    def query(self, sql: str, params: Sequence | dict = ()) -> list[dict]:
        return self._dict_cursor(sql, params).fetchall()

    def query_one(self, sql: str, params: Sequence | dict = ()) -> dict | None:
        return self._dict_cursor(sql, params).fetchone()

    def iter_query(self, sql: str, params: Sequence | dict = ()) -> Iterator[dict]:
        yield from self._dict_cursor(sql, params)

    def scalar(self, sql: str, params: Sequence | dict = ()) -> Any:
        try:
            row = self.conn.execute(sql, params).fetchone()
        except UnicodeEncodeError as exc:
            raise not_utf8_on_write(exc) from None
        return None if row is None else row[0]

    def get(self, table: str, row_id: int) -> dict | None:
        return self.query_one(f"SELECT * FROM {table} WHERE id = ?", (row_id,))

    # --- who writes (a team on PostgreSQL: crmcli/store/team.py) ---------------

    def team_identity(self):
        """This connection's role and powers on a team book; None: no team (SQLite)."""
        return None

    def current_role(self) -> str | None:
        """The database role writing (None on SQLite, which has no roles)."""
        return None

    def check_undo(self, change: dict) -> None:
        """Refuse to undo a change this role may not undo (another's, on a team book)."""

    def own_changes_sql(self, alias: str) -> tuple[str, tuple]:
        """SQL (' AND ...') and parameters keeping the changes (aliased alias) that this
        role made, on a team book; nothing elsewhere."""
        return "", ()

    # --- writing: every write goes through change() ---------------------

    @contextmanager
    def change(self, command: str, summary: str = "", client_id: int | None = None
               ) -> Iterator[Change]:
        """One transaction, recorded in the change log as one undoable change.

        Nested calls join the outer change, so a merge or an import that calls
        other store methods is still one change.
        """
        if self._change is not None:
            yield self._change
            return
        watchers = [watcher for watcher in self.watchers if watcher.watching()]
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.path}: {describe_db_error(exc)}") from None
        try:
            change_id = self._insert_row("changes", ["at", "command", "summary", "client_id"],
                                         [utc_now_iso(), command, summary, client_id])
            self._change = Change(id=change_id, command=command, summary=summary,
                                  client_id=client_id,
                                  touched=[] if watchers else None)
            yield self._change
            ch = self._change
            if not ch.touched:
                watchers = []
            for watcher in watchers:
                watcher.before_commit(ch)
            if ch.rows == 0 and not ch.details.get("keep_empty"):
                self.conn.execute("DELETE FROM changes WHERE id = ?", (ch.id,))
            else:
                self.conn.execute("UPDATE changes SET summary = ?, client_id = ? WHERE id = ?",
                                  (ch.summary, ch.client_id, ch.id))
            self.conn.execute("COMMIT")
        except BaseException as exc:
            try:
                self.conn.execute("ROLLBACK")
            except Exception:  # noqa: BLE001 - the first error is the one to report
                pass
            if isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError) and not isinstance(
                    exc, sqlite3.IntegrityError):
                raise StoreError(f"{self.path}: {describe_db_error(exc)}") from None
            if isinstance(exc, UnicodeEncodeError):
                raise not_utf8_on_write(exc) from None
            raise
        finally:
            self._change = None
        for watcher in watchers:
            watcher.after_commit(ch)

    def require_change(self) -> Change:
        if self._change is None:
            raise RuntimeError("store writes must happen inside store.change()")
        return self._change

    def log_row(self, table: str, row_id: int, op: str, old: dict | None, new: dict | None
                 ) -> None:
        ch = self.require_change()
        ch.rows += 1
        if ch.touched is not None:
            ch.touched.append((table, op, row_id, old, new))
        if table not in AUDITED:
            return
        self.conn.execute(
            "INSERT INTO change_rows (change_id, tbl, row_id, op, old, new) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (ch.id, table, row_id, op,
             None if old is None else json.dumps(old, ensure_ascii=False),
             None if new is None else json.dumps(new, ensure_ascii=False)))

    def insert(self, table: str, row: dict) -> int:
        cols = list(row)
        self.require_change()
        row_id = self._insert_row(table, cols, [row[c] for c in cols])
        # Log the row as stored (defaults filled in, column affinity applied), so that
        # undo can compare it with what is there later and redo can restore all of it.
        stored = self.get(table, row_id) if table in AUDITED or table in SEARCHABLE else None
        self.log_row(table, row_id, "insert", None, stored or {"id": row_id, **row})
        self.reindex(table, row_id, stored)
        return row_id

    def _insert_row(self, table: str, cols: list[str], values: list) -> int:
        cur = self.conn.execute(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            values)
        return cur.lastrowid

    def update(self, table: str, row_id: int, values: dict) -> bool:
        """Set values on one row; records only the columns that really change."""
        old = self.get(table, row_id)
        if old is None:
            return False
        changed = {k: v for k, v in values.items() if old.get(k) != v}
        if not changed:
            return False
        self.require_change()
        sets = ", ".join(f"{k} = ?" for k in changed)
        self.conn.execute(f"UPDATE {table} SET {sets} WHERE id = ?", [*changed.values(), row_id])
        # A member who hands a private client over sees it no more: it is as written.
        stored = self.get(table, row_id) or {**old, **changed}
        # Values as stored: '5' written to an INTEGER column is logged as 5.
        really = [k for k in changed if stored[k] != old[k] or type(stored[k]) is not type(old[k])]
        if not really:
            return False
        self.log_row(table, row_id, "update", {k: old[k] for k in really},
                      {k: stored[k] for k in really})
        self.reindex(table, row_id, stored)
        return True

    def delete(self, table: str, row_id: int) -> bool:
        old = self.get(table, row_id)
        if old is None:
            return False
        self.conn.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,))
        self.log_row(table, row_id, "delete", old, None)
        self.unindex(table, row_id)
        return True

    def insert_many(self, table: str, columns: Sequence[str], rows: Iterable[Sequence],
                     batch_size: int = 5000, documents: Callable | None = None) -> int:
        """Insert many rows fast; the change log records the id range, not each row.

        documents(row) -> (search body, client_id; None: the row's own id): the search
        documents are then made from the rows as given instead of read back."""
        self.require_change()
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        first = self.scalar(f"SELECT coalesce(max(id), 0) FROM {table}") + 1
        id_at = list(columns).index("id") if "id" in columns else None
        given_ids: list[int] = []
        count = 0
        batch: list[Sequence] = []
        docs: list[tuple] | None = (
            [] if documents is not None and table in SEARCHABLE else None)
        for row in rows:
            batch.append(row)
            if id_at is not None:
                given_ids.append(row[id_at])
            if docs is not None:
                body, client_id = documents(row)
                if body:
                    row_id = first + count + len(batch) - 1 if id_at is None else row[id_at]
                    docs.append((doc_id(table, row_id), body,
                                 row_id if client_id is None else client_id))
            if len(batch) >= batch_size:
                self.conn.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            self.conn.executemany(sql, batch)
            count += len(batch)
        if count:
            last = self.scalar(f"SELECT max(id) FROM {table}")
            if id_at is not None:
                # Caller-chosen ids need not form the range first..last: log every row.
                self.log_rows_sql(table, "insert", self.in_list_sql("id"),
                                   (self.in_list_param(given_ids),))
                if docs is not None:
                    self.conn.executemany("INSERT OR REPLACE INTO search_index (rowid, body, "
                                          "client_id) VALUES (?, ?, ?)", docs)
                elif table in SEARCHABLE:
                    for row_id in given_ids:
                        self.reindex(table, int(row_id))
            else:
                self.log_row(table, first, "insert_range", None, {"first": first, "last": last})
                if docs is not None and last == first + count - 1:
                    # New ids: a plain INSERT, unless a document of a removed row is in the
                    # way (REPLACE looks every rowid up first).
                    taken = self.conn.execute(
                        "SELECT 1 FROM search_index WHERE rowid BETWEEN ? AND ? AND "
                        f"{of_table_sql(table, 'rowid')} LIMIT 1",
                        (doc_id(table, first), doc_id(table, last))).fetchone()
                    verb = "INSERT OR REPLACE" if taken else "INSERT"
                    self.conn.executemany(f"{verb} INTO search_index (rowid, body, client_id) "
                                          "VALUES (?, ?, ?)", docs)
                elif table in SEARCHABLE:
                    self.reindex_range(table, first, last)
        return count

    @contextmanager
    def page_cache(self, kib: int) -> Iterator[None]:
        """A page cache of at least kib KiB while inside, then the old one."""
        old = self.conn.execute("PRAGMA cache_size").fetchone()[0]
        current_kib = -old if old < 0 else old * self.conn.execute(
            "PRAGMA page_size").fetchone()[0] // 1024
        if current_kib < kib:
            self.conn.execute(f"PRAGMA cache_size = -{kib}")
        try:
            yield
        finally:
            self.conn.execute(f"PRAGMA cache_size = {old}")

    def json_row_sql(self, table: str) -> str:
        """SQL for json_object(...) of every column of a row of table (aliased t)."""
        return "json_object(" + ", ".join(f"'{c}', t.{c}" for c in self.columns(table)) + ")"

    # --- the schema's catalog, and SQL that the engines spell differently ----

    def columns(self, table: str) -> list[str]:
        return [r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")]

    def column_types(self, table: str) -> dict[str, str]:
        """{column: its declared type, lower case}."""
        return {r[1]: r[2].lower() for r in self.conn.execute(f"PRAGMA table_info({table})")}

    def integrity_errors(self) -> tuple[type[Exception], ...]:
        """The driver's exceptions for a broken constraint."""
        return (sqlite3.IntegrityError,)

    def parents(self, table: str) -> list[tuple[str, str]]:
        """(column, parent table) of each foreign key of table."""
        return [(r[3], r[2]) for r in self.conn.execute(f"PRAGMA foreign_key_list({table})")]

    def index_definitions(self, table: str | None = None) -> list[tuple[str, str]]:
        """(name, CREATE statement) of the indexes made by the schema (of table, or of
        every table), by name."""
        where, params = ("AND tbl_name = ?", (table,)) if table else ("", ())
        return [tuple(r) for r in self.conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"{where} ORDER BY name", params)]

    def has_index_on(self, table: str, columns: Sequence[str], *, partial: bool = True
                     ) -> bool:
        """Whether an index of table starts with these columns (a partial index counts
        unless partial is False)."""
        want = list(columns)
        for idx in self.query(f"PRAGMA index_list({table})"):
            if idx["partial"] and not partial:
                continue
            cols = [r["name"] for r in self.query(f"PRAGMA index_info({idx['name']!r})")]
            if cols[:len(want)] == want:
                return True
        return False

    def json_field_sql(self, doc: str, key: str, sqltype: str = "text") -> str:
        """SQL for the value under key of the JSON text doc, as a value of sqltype."""
        return f"json_extract({doc}, '$.{key}')"

    def json_has_sql(self, doc: str, key: str) -> str:
        """SQL that holds when the JSON object doc has key (even with a null value)."""
        return f"json_type({doc}, '$.{key}') IS NOT NULL"

    def json_value_sql(self, doc: str, key: str, kind: str = "text") -> tuple[str, list]:
        """SQL, and its parameters, for the value under key (any text: it is a parameter)
        of the JSON object doc. kind text: the value (NULL when absent); number: the
        number (NULL when absent or not a JSON number); bool: 1 or 0 (NULL when absent or
        not true/false). The one spelling of custom fields' JSON (crmcli.store.fields)."""
        path = '$."' + key + '"'  # (keys hold no double quote: validate.custom_key)
        if kind == "number":
            return (f"(CASE WHEN json_type({doc}, ?) IN ('integer', 'real') "
                    f"THEN json_extract({doc}, ?) END)", [path, path])
        if kind == "bool":
            return f"(CASE json_type({doc}, ?) WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)", [
                path]
        return f"json_extract({doc}, ?)", [path]

    def same_sql(self, a: str, b: str) -> str:
        """SQL for a equals b, NULL equal to NULL."""
        return f"({a}) IS ({b})"

    def in_list_sql(self, expr: str) -> str:
        """SQL for expr being one of a list given as one parameter (see in_list_param)."""
        return f"{expr} IN (SELECT value FROM json_each(?))"

    def in_list_param(self, values: list) -> Any:
        return json.dumps(list(values))

    def ids_table_sql(self) -> str:
        """SQL for a table of one column, value, of the integers given as one parameter
        (see in_list_param)."""
        return "json_each(?)"

    def log_rows_sql(self, table: str, op: str, where: str, params: Sequence) -> int:
        """Log many rows at once, in SQL: op 'insert' logs them as new, 'delete' as old.

        Used for bulk writes where a Python loop per row would be too slow."""
        ch = self.require_change()
        if ch.touched is not None:
            ch.touched.extend((table, op, row_id, None, None) for (row_id,) in self.conn.execute(
                f"SELECT t.id FROM {table} t WHERE {where} ORDER BY t.id", params))
        if table not in AUDITED:
            n = self.scalar(f"SELECT count(*) FROM {table} t WHERE {where}", params)
            ch.rows += n
            return n
        column = "new" if op == "insert" else "old"
        cur = self.conn.execute(
            f"INSERT INTO change_rows (change_id, tbl, row_id, op, {column}) "
            f"SELECT ?, ?, t.id, ?, {self.json_row_sql(table)} FROM {table} t WHERE {where} "
            f"ORDER BY t.id", (ch.id, table, op, *params))
        ch.rows += cur.rowcount
        return cur.rowcount

    # --- a whole book at once (crm db copy) -----------------------------

    def book_tables(self) -> list[str]:
        """The tables holding the book: all but the migrations' own and the search index
        (which is made from the others)."""
        return [r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' "
            "AND name NOT LIKE 'search_index%' AND name <> '_sqlite_migrations' ORDER BY name")]

    @contextmanager
    def loading(self) -> Iterator[None]:
        """One write transaction outside the change log, for rows copied in as they are
        (their ids, and the change log itself, come from another book)."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.location}: {describe_db_error(exc)}") from None
        try:
            yield
            self.conn.execute("COMMIT")
        except BaseException as exc:
            try:
                self.conn.execute("ROLLBACK")
            except Exception:  # noqa: BLE001 - the first error is the one to report
                pass
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"{self.location}: {describe_db_error(exc)}") from None
            if isinstance(exc, UnicodeEncodeError):
                raise not_utf8_on_write(exc) from None
            raise

    def load_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence],
                  batch_size: int = 5000) -> int:
        """Insert rows exactly as given, ids included (inside loading())."""
        sql = (f"INSERT INTO {table} ({', '.join(columns)}) "
               f"VALUES ({', '.join('?' * len(columns))})")
        count = 0
        batch: list[Sequence] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= batch_size:
                self.conn.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            self.conn.executemany(sql, batch)
            count += len(batch)
        return count

    @contextmanager
    def reading(self) -> Iterator[None]:
        """One read transaction: every table read inside sees the same moment of the book,
        while other crm processes go on writing."""
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    def read_rows(self, table: str, columns: Sequence[str]) -> Iterator[tuple]:
        """Every row of table as tuples of columns, in id order where there are ids."""
        order = " ORDER BY id" if "id" in columns else ""
        yield from self.conn.execute(f"SELECT {', '.join(columns)} FROM {table}{order}")

    def has_rows(self, table: str) -> bool:
        return self.conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None

    def clear_rows(self, table: str) -> None:
        self.conn.execute(f"DELETE FROM {table}")

    def set_column(self, table: str, column: str, values: Iterable[tuple[Any, int]]) -> None:
        """column = value on the rows of these ids: (value, id) pairs."""
        self.conn.executemany(f"UPDATE {table} SET {column} = ? WHERE id = ?", list(values))

    def loaded(self, table: str) -> None:
        """After rows were loaded with their own ids (PostgreSQL moves its sequences on)."""

    def rebuild_search(self, chunk: int = 20_000) -> None:
        """The search index made again from the rows, in ranges of ids."""
        self.conn.execute("DELETE FROM search_index")
        for table in SEARCHABLE:
            top = self.scalar(f"SELECT max(id) FROM {table}")
            for first in range(1, (top or 0) + 1, chunk):
                self.reindex_range(table, first, first + chunk - 1)

    # --- full-text index ----------------------------------------------

    def reindex(self, table: str, row_id: int, row: dict | None = None) -> None:
        if table not in SEARCHABLE:
            return
        rowid = doc_id(table, row_id)
        self.conn.execute("DELETE FROM search_index WHERE rowid = ?", (rowid,))
        row = row or self.get(table, row_id)
        if row is None:
            return
        body, client_id = document_for(table, row)
        if body:
            self.conn.execute("INSERT INTO search_index (rowid, body, client_id) VALUES (?, ?, ?)",
                              (rowid, body, client_id))

    def reindex_range(self, table: str, first: int, last: int) -> None:
        docs = []
        for row in self.iter_query(f"SELECT * FROM {table} WHERE id BETWEEN ? AND ?",
                                   (first, last)):
            body, client_id = document_for(table, row)
            if body:
                docs.append((doc_id(table, row["id"]), body, client_id))
        self.conn.executemany(
            "INSERT OR REPLACE INTO search_index (rowid, body, client_id) VALUES (?, ?, ?)", docs)

    def unindex(self, table: str, row_id: int) -> None:
        if table in SEARCHABLE:
            self.conn.execute("DELETE FROM search_index WHERE rowid = ?",
                              (doc_id(table, row_id),))


def file_mode(path: str | os.PathLike) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def copy_file(src: Path, dst: Path) -> None:
    shutil.copy2(src, dst)
