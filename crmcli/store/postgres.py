"""The crm book on a PostgreSQL server: the same Database, another engine.

A book named by a `postgresql://` URL (in --db, CRM_DB or the config's `db:`) opens
here. The repositories are the same as on SQLite: their SQL is rewritten for
PostgreSQL by store/sql_dialect.py, and the few things that cannot be rewritten (the
full-text index, the schema's own catalog, the migration lock) are this module's
methods. psycopg 3 is imported only when such a book is opened: `pip install
'crmcli[postgres]'`.

Writers take one transaction-level advisory lock (WRITE_LOCK) where SQLite takes its
write lock (BEGIN IMMEDIATE): changes are serialised, so the change log's ids, the
ranges logged by bulk inserts and the mail ledger mean the same on both engines.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from crmcli.errors import CrmError, SchemaTooNew, StoreError, ValidationError, not_utf8
from crmcli.store.migrations import MIGRATION_SET, SCHEMA_VERSION, STEPS, postgres_sql
from crmcli.store.search import SEARCHABLE, doc_id, document_for
from crmcli.store.sql_dialect import POSTGRES_FUNCTIONS, to_postgres

# A bulk insert of this many rows refreshes the table's planner statistics.
ANALYZE_AFTER = 1000
URL_SCHEMES = ("postgresql://", "postgres://")
# pg_advisory locks: one number each, "crm" in the high bits so as not to meet others'.
_BASE = 0x63726D00
WRITE_LOCK = _BASE + 1
MIGRATION_LOCK = _BASE + 2
MAIL_LOCK = _BASE + 3
# The version of the SQLite functions created in the database (sql_dialect.py), recorded
# in crm_migrations under its own set: a book made by an older crmcli gets them again.
FUNCTIONS_SET = "crm-functions"
# crm_reset_ids(): every id sequence set to max(id) + 1 of its table, made from the catalog
# after the migrations (so it covers every table). Run by each writer once it holds
# WRITE_LOCK: new rows get SQLite's ids (max + 1, the freed top id again), whatever a
# rolled-back transaction took from a sequence. SECURITY DEFINER: max(id) of every row,
# not of the rows a member may see.
_RESET_IDS = r"""
DO $do$ DECLARE body text := ''; r record; BEGIN
    FOR r IN SELECT c.table_name AS tbl,
                    pg_get_serial_sequence(quote_ident(c.table_name), 'id') AS seq
             FROM information_schema.columns c WHERE c.table_schema = current_schema()
             AND c.column_name = 'id' AND c.column_default LIKE 'nextval%' ORDER BY 1 LOOP
        body := body || format('PERFORM setval(%L, coalesce((SELECT max(id) FROM %I), 0) + 1, '
                               'false); ', r.seq, r.tbl);
    END LOOP;
    EXECUTE format('CREATE OR REPLACE FUNCTION crm_reset_ids() RETURNS void LANGUAGE plpgsql '
                   'SECURITY DEFINER SET search_path FROM CURRENT AS %L',
                   'BEGIN ' || body || 'END');
END $do$;
"""
FUNCTIONS_VERSION = hashlib.sha256((POSTGRES_FUNCTIONS + _RESET_IDS).encode()).hexdigest()[:16]
INSTALL_HINT = "PostgreSQL support is not installed: pip install 'crmcli[postgres]'"


def is_postgres_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(URL_SCHEMES)


def shown_url(url: str) -> str:
    """The URL without its password, for messages."""
    from crmcli.config import shown_book

    return shown_book(url)


def describe_connect_error(url: str, exc: Exception) -> str:
    text = "; ".join(" ".join(line.split()) for line in str(exc).splitlines() if line.strip())
    where = shown_url(url)
    if "password authentication failed" in text or "no password supplied" in text:
        return f"{where}: the server refused the login (wrong user or password)"
    m = re.search(r'database "([^"]+)" does not exist', text)
    if m:
        return (f"{where}: the server has no database named {m.group(1)!r}; create it "
                f"(createdb {m.group(1)}) or fix the URL")
    m = re.search(r'role "([^"]+)" does not exist', text)
    if m:
        return (f"{where}: the server has no login role {m.group(1)!r} "
                "(crm team add, or fix the URL)")
    if ("Connection refused" in text or "could not connect" in text
            or "No such file or directory" in text or "timeout expired" in text
            or "could not translate host name" in text or "Name or service not known" in text):
        return f"{where}: cannot reach the database server ({_reason(text)})"
    if "invalid" in text and ("URI" in text or "connection option" in text or "dsn" in text):
        return f"{where}: not a valid PostgreSQL URL ({_reason(text)})"
    return f"{where}: cannot connect: {_reason(text)}"


def _reason(text: str) -> str:
    text = re.sub(r"^(connection failed: |connection is bad: )+", "", text)
    text = re.sub(r'^connection to server (at|on) .*? failed: ', "", text)
    return text[:200]


def describe_db_error(exc: Exception) -> str:
    """A psycopg error as the one line a user can act on."""
    import psycopg

    diag = getattr(exc, "diag", None)
    text = (diag.message_primary if diag is not None and diag.message_primary
            else " ".join(str(exc).split()))
    m = re.search(r'row-level security policy for table "([^"]+)"', text)
    if m:
        return (f"permission denied: the database refused this row of {m.group(1)} (a member "
                "changes only clients it owns or that have no owner, and their records); ask "
                "the owner or an admin")
    m = re.search(r"permission denied for (?:table|relation) (\S+)", text)
    if m:
        return (f"permission denied: the database refused this role access to {m.group(1)} "
                "(a read-only member only reads; someone outside the team needs crm team add); "
                "ask an admin")
    if isinstance(exc, psycopg.errors.InsufficientPrivilege) or "row-level security" in text:
        return f"permission denied by the database: {text}"
    if isinstance(exc, psycopg.OperationalError):
        return f"the database server connection failed: {text}"
    if isinstance(exc, psycopg.errors.LockNotAvailable | psycopg.errors.DeadlockDetected):
        return "the database is busy (another crm process holds it); try again"
    if isinstance(exc, psycopg.errors.DiskFull):
        return "the database server's disk is full; nothing was written"
    return f"database error: {text}"


def _connect(url: str):
    try:
        import psycopg
    except ImportError:
        raise StoreError(INSTALL_HINT) from None
    from psycopg.adapt import Dumper, Loader

    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10,
                               application_name="crm")
    except psycopg.Error as exc:
        raise StoreError(describe_connect_error(url, exc)) from None
    except (ValueError, UnicodeError) as exc:
        raise StoreError(f"{shown_url(url)}: not a valid PostgreSQL URL ({exc})") from None

    # Values come back as SQLite gives them: booleans as 0/1, numbers as int or float
    # (a sum of integers is an integer), never Decimal.
    class BoolAsInt(Loader):
        def load(self, data):
            return 1 if bytes(data) == b"t" else 0

    class NumericAsNumber(Loader):
        def load(self, data):
            text = bytes(data).decode()
            if "." in text or "e" in text or "N" in text:
                return float(text)
            return int(text)

    class BoolDumper(Dumper):
        # Untyped, as SQLite's 1 and 0 are: a number in a number column, a truth in NOT ?.
        oid = 0

        def dump(self, obj):
            return b"1" if obj else b"0"

    conn.adapters.register_loader("bool", BoolAsInt)
    conn.adapters.register_loader("numeric", NumericAsNumber)
    conn.adapters.register_dumper(bool, BoolDumper)
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("SET lock_timeout = '15s'")
    # The row-level security policies of a team book (store/team.py) make the planner's
    # estimates of plain reads large enough to JIT-compile them: hundreds of milliseconds
    # to save a few on crm's short queries.
    conn.execute("SET jit = off")
    return conn


class PgCursor:
    """What the repositories use of an sqlite3 cursor."""

    def __init__(self, cur):
        self._cur = cur

    def fetchone(self):
        return self._cur.fetchone() if self._cur.description else None

    def fetchall(self):
        return self._cur.fetchall() if self._cur.description else []

    def __iter__(self):
        if self._cur.description:
            yield from self._cur

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    @property
    def lastrowid(self):
        row = self._cur.fetchone() if self._cur.description else None
        return None if row is None else (row["id"] if isinstance(row, dict) else row[0])

    @property
    def description(self):
        return self._cur.description


class PgConnection:
    """What the repositories use of an sqlite3 connection: execute() takes SQLite's SQL."""

    def __init__(self, raw):
        self.raw = raw

    def execute(self, sql: str, params: Sequence | dict = (), *, dicts: bool = False):
        import psycopg
        from psycopg.rows import dict_row, tuple_row

        text = _statement(sql)
        cur = self.raw.cursor(row_factory=dict_row if dicts else tuple_row)
        try:
            cur.execute(text, _params(params))
        except UnicodeEncodeError as exc:
            raise not_utf8(exc, "text", "; nothing was written") from None
        except psycopg.errors.UntranslatableCharacter as exc:
            raise ValidationError("text", "", f"cannot be stored: {exc.diag.message_primary}"
                                  ) from None
        return PgCursor(cur)

    def executemany(self, sql: str, rows: Iterable[Sequence]):
        with self.raw.cursor() as cur:
            cur.executemany(to_postgres(sql), [_params(r) for r in rows])
            return cur.rowcount

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()


def _params(params):
    if isinstance(params, dict):
        return params
    return tuple(params)


_TXN = {"BEGIN IMMEDIATE": f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK}); "
                           "SELECT crm_reset_ids()",
        "BEGIN": "BEGIN"}


def _statement(sql: str) -> str:
    head = sql.strip().upper()
    if head in _TXN:
        return _TXN[head]
    return to_postgres(sql)


# --- the schema -----------------------------------------------------------

_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS crm_migrations (
    migration_set TEXT NOT NULL,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (migration_set, name)
)"""


# --- the full-text index: SQLite's unicode61 tokens, as PostgreSQL lexemes ------------

_TOKEN_CHAR = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Case and diacritics folded as unicode61 remove_diacritics 2 folds them."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def lexemes(body: str) -> list[str]:
    return _TOKEN_CHAR.findall(fold(body))


def _quote_lexeme(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_text(body: str) -> str:
    """The document as a tsvector literal: each token with its position, as FTS5 sees it."""
    positions: dict[str, list[int]] = {}
    for pos, word in enumerate(lexemes(body), start=1):
        positions.setdefault(word[:500], []).append(min(pos, 16383))
    return " ".join(f"{_quote_lexeme(w)}:{','.join(map(str, p[:256]))}"
                    for w, p in positions.items())


def phrases(expression: str) -> list[tuple[list[str], bool]]:
    """The phrases of an FTS5 expression of search.match_expression(): (lexemes, whether
    the last one is a prefix), as FTS5 reads `"a b"` and `"a"*`."""
    out = []
    for term, star in re.findall(r'"((?:[^"]|"")*)"(\*?)', expression):
        words = lexemes(term.replace('""', '"'))
        if words:
            out.append(([w[:500] for w in words], bool(star)))
    return out


def _phrase_query(words: list[str], prefix: bool) -> str:
    quoted = [_quote_lexeme(w) for w in words]
    if prefix:
        quoted[-1] += ":*"
    return quoted[0] if len(quoted) == 1 else "(" + " <-> ".join(quoted) + ")"


def tsquery_text(expression: str) -> str | None:
    """The FTS5 expression of search.match_expression() as a tsquery literal."""
    terms = [_phrase_query(words, prefix) for words, prefix in phrases(expression)]
    return " & ".join(terms) if terms else None


# FTS5's bm25 parameters (fts5_aux.c).
_BM25_K1 = 1.2
_BM25_B = 0.75


class PostgresDatabase:
    """Database's engine-specific methods, for a book on PostgreSQL (placed before
    Database in the class's bases by `on_postgres`)."""

    engine = "postgres"

    # --- lifecycle ------------------------------------------------------

    def _open(self, path, *, migrate: bool, create: bool) -> None:
        self.path = path
        self.location = shown_url(path)
        self.read_only = False
        self.created = False
        self._raw = _connect(path)
        self.conn = PgConnection(self._raw)
        try:
            self._check_search_path()
            self._refuse_foreign()
            version = self.schema_version()
            if version == SCHEMA_VERSION and migrate and not self._functions_current():
                self.migrate()
            if version != SCHEMA_VERSION and migrate:
                if version == 0 and not create:
                    from crmcli.store.store import MISSING_HINT

                    raise StoreError(f"{self.location}: no crm book in this database; "
                                     f"{MISSING_HINT}")
                self.created = version == 0
                self.migrated = self.migrate()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        raw = getattr(self, "_raw", None)
        if raw is not None:
            try:
                raw.close()
            finally:
                self._raw = None
                self.conn = None  # type: ignore[assignment]

    @property
    def utils_db(self):
        raise StoreError("this operation needs an SQLite book")

    @property
    def native(self):
        """The psycopg connection, for SQL written for PostgreSQL (not rewritten)."""
        return self._raw

    def _check_search_path(self) -> None:
        if self.scalar("SELECT current_schema()") is None:
            path = self.scalar("SELECT current_setting('search_path')")
            raise StoreError(f"{self.location}: the schema named by the search path "
                             f"({path}) does not exist; create it or fix the URL")

    # --- schema ---------------------------------------------------------

    def _has_table(self, name: str) -> bool:
        return self.scalar("SELECT to_regclass(?) IS NOT NULL", (name,)) == 1

    def schema_version(self) -> int:
        if not self._has_table("crm_migrations"):
            return 0
        return self.scalar("SELECT count(*) FROM crm_migrations WHERE migration_set = ?",
                           (MIGRATION_SET,))

    def _refuse_foreign(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"{self.location}: written by a newer crmcli (schema version {version}; this "
                f"crmcli knows up to {SCHEMA_VERSION}); upgrade crmcli to open it")
        if version == 0 and self._has_table("clients"):
            raise StoreError(f"{self.location}: has a clients table but is not a crm book "
                             "(no crm_migrations); use another database or schema")

    def migrate(self, stop_before: str | None = None) -> list[str]:
        import psycopg

        applied: list[str] = []
        raw = self._raw
        try:
            with raw.transaction():
                raw.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                raw.execute(_MIGRATIONS_TABLE)
                done = {r[0] for r in raw.execute(
                    "SELECT name FROM crm_migrations WHERE migration_set = %s",
                    (MIGRATION_SET,))}
                raw.execute(POSTGRES_FUNCTIONS)
                raw.execute("DELETE FROM crm_migrations WHERE migration_set = %s",
                            (FUNCTIONS_SET,))
                raw.execute("INSERT INTO crm_migrations (migration_set, name, applied_at) "
                            "VALUES (%s, %s, %s)", (FUNCTIONS_SET, FUNCTIONS_VERSION, _now()))
                for name, sql in STEPS:
                    if name == stop_before:
                        break
                    if name in done:
                        continue
                    raw.execute(postgres_sql(name, sql))
                    raw.execute("INSERT INTO crm_migrations (migration_set, name, applied_at) "
                                "VALUES (%s, %s, %s)", (MIGRATION_SET, name, _now()))
                    applied.append(name)
                raw.execute(_RESET_IDS)
                if applied:
                    from crmcli.store.team import reapply

                    reapply(raw)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StoreError(f"{self.location}: cannot create or upgrade the crm schema: "
                             f"{exc.diag.message_primary} (ask an admin to run crm team init "
                             "or crm db migrate)") from None
        except psycopg.Error as exc:
            raise StoreError(f"{self.location}: {describe_db_error(exc)}") from None
        return applied

    def _functions_current(self) -> bool:
        """Whether the database has this crmcli's POSTGRES_FUNCTIONS (a newer crmcli may
        add or change one without a migration of the schema)."""
        return self.scalar("SELECT count(*) FROM crm_migrations WHERE migration_set = ? "
                           "AND name = ?", (FUNCTIONS_SET, FUNCTIONS_VERSION)) == 1

    def applied_migrations(self) -> list[dict]:
        if not self._has_table("crm_migrations"):
            return []
        return self.query("SELECT name, applied_at FROM crm_migrations "
                          "WHERE migration_set = ? ORDER BY applied_at, name", (MIGRATION_SET,))

    def columns(self, table: str) -> list[str]:
        return [r["column_name"] for r in self.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = ? ORDER BY ordinal_position", (table,))]

    def integrity_errors(self) -> tuple[type[Exception], ...]:
        import psycopg

        return (psycopg.errors.IntegrityError,)

    def column_types(self, table: str) -> dict[str, str]:
        return {r["column_name"]: r["data_type"] for r in self.query(
            "SELECT column_name, data_type FROM information_schema.columns WHERE "
            "table_schema = current_schema() AND table_name = ?", (table,))}

    def parents(self, table: str) -> list[tuple[str, str]]:
        return [(r["col"], r["parent"]) for r in self.query(
            "SELECT a.attname AS col, confrelid::regclass::text AS parent "
            "FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid "
            "AND a.attnum = c.conkey[1] WHERE c.contype = 'f' AND c.conrelid = to_regclass(?) "
            "ORDER BY c.conname", (table,))]

    def index_definitions(self, table: str | None = None) -> list[tuple[str, str]]:
        where, params = ("AND tablename = ?", (table,)) if table else ("", ())
        return [tuple(r) for r in self.conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            f"{where} ORDER BY indexname", params)]

    def has_index_on(self, table: str, columns: Sequence[str], *, partial: bool = True
                     ) -> bool:
        want = list(columns)
        whole = "" if partial else "AND i.indpred IS NULL "
        for row in self.query(
                "SELECT array_agg(a.attname::text ORDER BY k.n) AS cols FROM pg_index i "
                "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
                "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                f"WHERE i.indrelid = to_regclass(?) {whole}GROUP BY i.indexrelid", (table,)):
            if list(row["cols"][:len(want)]) == want:
                return True
        return False

    def json_field_sql(self, doc: str, key: str, sqltype: str = "text") -> str:
        cast = {"integer": "bigint", "bigint": "bigint", "real": "double precision",
                "double precision": "double precision"}.get(sqltype.lower(), "text")
        return f"(({doc})::jsonb ->> '{key}')::{cast}"

    def json_has_sql(self, doc: str, key: str) -> str:
        return f"jsonb_exists(({doc})::jsonb, '{key}')"

    def json_value_sql(self, doc: str, key: str, kind: str = "text") -> tuple[str, list]:
        if kind == "number":
            return (f"(CASE WHEN jsonb_typeof(({doc})::jsonb -> ?) = 'number' "
                    f"THEN (({doc})::jsonb ->> ?)::numeric END)", [key, key])
        if kind == "bool":
            return (f"(CASE jsonb_typeof(({doc})::jsonb -> ?) WHEN 'boolean' THEN "
                    f"CASE WHEN ({doc})::jsonb -> ? = 'true'::jsonb THEN 1 ELSE 0 END END)",
                    [key, key])
        return f"(({doc})::jsonb ->> ?)", [key]

    def same_sql(self, a: str, b: str) -> str:
        return f"({a}) IS NOT DISTINCT FROM ({b})"

    def json_row_sql(self, table: str) -> str:
        return "row_to_json(t)::text"

    @contextmanager
    def page_cache(self, kib: int) -> Iterator[None]:
        # The server's memory (shared_buffers) is its administrator's to size.
        yield

    # --- maintenance ---------------------------------------------------

    def backup_to(self, target):
        """pg_dump's custom format (-Fc) of the database, written as every crm output is
        (owner-only, through a temporary file beside it); pg_restore reads it back."""
        import shutil
        import subprocess
        from pathlib import Path
        from urllib.parse import unquote

        from crmcli.files import temporary_beside

        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise StoreError(f"{self.location}: a book on PostgreSQL is backed up with "
                             "PostgreSQL's pg_dump, which is not on PATH: install it (Debian: "
                             "apt install postgresql-client) or run pg_dump -Fc -f FILE "
                             "DATABASE where it is")
        target = Path(target)
        if target.is_dir():
            target = target / f"{urlsplit(self.path).path.strip('/') or 'crm'}.dump"
        shown = target
        target, tmp = temporary_beside(target, db=None)
        # The password, if the URL has one, goes to pg_dump in its environment, not in
        # its arguments (which other users of the machine can read).
        parts = urlsplit(self.path)
        env = dict(os.environ)
        url = self.path
        if parts.password is not None:
            env["PGPASSWORD"] = unquote(parts.password)
            url = urlunsplit(parts._replace(netloc=parts.netloc.replace(
                f":{parts.password}@", "@", 1)))
        try:
            done = subprocess.run([pg_dump, "-Fc", "--file", str(tmp), "--dbname", url],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True, env=env)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise StoreError(f"{pg_dump}: cannot run: {exc.strerror or exc}") from None
        if done.returncode != 0:
            Path(tmp).unlink(missing_ok=True)
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            first = lines[0].removeprefix("pg_dump: ").removeprefix("error: ") if lines else ""
            raise StoreError(f"{shown}: pg_dump failed: {first or f'exit {done.returncode}'}")
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
        return shown

    def integrity_check(self) -> list[str]:
        problems = []
        for table, column, parent in (("contacts", "client_id", "clients"),
                                      ("interactions", "client_id", "clients"),
                                      ("followups", "client_id", "clients"),
                                      ("deals", "client_id", "clients")):
            n = self.scalar(f"SELECT count(*) FROM {table} t WHERE NOT EXISTS "
                            f"(SELECT 1 FROM {parent} p WHERE p.id = t.{column})")
            if n:
                problems.append(f"{table}: {n} rows refer to a missing {parent} row")
        for table in SEARCHABLE:
            n = self.scalar(f"SELECT count(*) FROM search_index s WHERE s.rowid % 4 = "
                            f"{SEARCHABLE[table]} AND NOT EXISTS (SELECT 1 FROM {table} t "
                            f"WHERE t.id * 4 + {SEARCHABLE[table]} = s.rowid)")
            if n:
                problems.append(f"search index: {n} documents of missing {table} rows")
        return problems

    # --- reading --------------------------------------------------------

    def _dict_cursor(self, sql: str, params: Sequence | dict):
        return self.conn.execute(sql, params, dicts=True)

    def scalar(self, sql: str, params: Sequence | dict = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    # --- writing --------------------------------------------------------

    # --- the team: who this connection is (crmcli/store/team.py) ------------

    def team_identity(self):
        """This connection's role and powers on a team book (None without a team)."""
        if not hasattr(self, "_identity"):
            from crmcli.store.team import identity

            self._identity = identity(self)
        return self._identity

    def current_role(self) -> str | None:
        return self.scalar("SELECT current_user")

    def _client_tables(self) -> set[str]:
        if not hasattr(self, "_children"):
            from crmcli.store.team import client_tables

            fks: dict[str, list[tuple[str, str]]] = {}
            for r in self.query(
                    "SELECT cl.relname AS t, a.attname AS col, p.relname AS parent "
                    "FROM pg_constraint k JOIN pg_class cl ON cl.oid = k.conrelid "
                    "JOIN pg_class p ON p.oid = k.confrelid JOIN pg_attribute a ON "
                    "a.attrelid = k.conrelid AND a.attnum = k.conkey[1] WHERE k.contype = 'f' "
                    "AND cl.relnamespace = current_schema()::regnamespace"):
                fks.setdefault(r["t"], []).append((r["col"], r["parent"]))
            self._children = client_tables(fks)
        return self._children

    def _refuse_write(self, table: str, row: dict) -> None:
        who = self.team_identity()
        if who is not None:
            from crmcli.store.team import refuse_write

            refuse_write(self, who, table, row, self._client_tables())

    def check_undo(self, change: dict) -> None:
        who = self.team_identity()
        if who is not None:
            from crmcli.store.team import refuse_undo

            refuse_undo(who, change)

    def own_changes_sql(self, alias: str) -> tuple[str, tuple]:
        who = self.team_identity()
        if who is None:
            return "", ()
        return f" AND {alias}.role = ?", (who.role,)

    def insert(self, table: str, row: dict) -> int:
        if table != "clients":
            self._refuse_write(table, row)
        return super().insert(table, row)

    def update(self, table: str, row_id: int, values: dict) -> bool:
        old = self.get(table, row_id) if self.team_identity() is not None else None
        if old is not None:
            self._refuse_write(table, old)
        return super().update(table, row_id, values)

    def delete(self, table: str, row_id: int) -> bool:
        old = self.get(table, row_id) if self.team_identity() is not None else None
        if old is not None:
            self._refuse_write(table, old)
        return super().delete(table, row_id)

    @contextmanager
    def change(self, command: str, summary: str = "", client_id: int | None = None):
        import psycopg

        if self._change is None:
            who = self.team_identity()
            if who is not None and not who.writer:
                from crmcli.errors import PermissionDenied

                raise PermissionDenied(f"{who.role} is a read-only member of this book; "
                                       "ask an admin")
        try:
            with super().change(command, summary, client_id) as ch:
                yield ch
        except psycopg.errors.IntegrityError as exc:
            raise StoreError(f"{self.location}: {describe_db_error(exc)}") from None
        except psycopg.Error as exc:
            raise StoreError(f"{self.location}: {describe_db_error(exc)}") from None

    def _insert_row(self, table: str, cols: list[str], values: list) -> int:
        # A table keyed otherwise (digest_items) has no id to return.
        ids = self.__dict__.setdefault("_has_ids", {})
        if table not in ids:
            ids[table] = "id" in self.columns(table)
        cur = self.conn.execute(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            + (" RETURNING id" if ids[table] else ""), values)
        row_id = cur.lastrowid
        if "id" in cols:
            self._advance_ids(table)
        return row_id

    def _advance_ids(self, table: str) -> None:
        """After rows inserted with their own ids: the sequence goes past them."""
        self.conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                          f"greatest((SELECT max(id) FROM {table}), "
                          f"(SELECT last_value FROM {table}_id_seq)))")

    def _next_ids(self, table: str, count: int) -> int:
        """Reserve count ids in a row; returns the first (writers are serialised): max(id)
        + 1 as on SQLite, whatever a rolled-back transaction took from the sequence."""
        first = self.scalar(f"SELECT coalesce(max(id), 0) FROM {table}") + 1
        self.conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), ?)",
                          (first + count - 1,))
        return first

    def insert_many(self, table: str, columns: Sequence[str], rows: Iterable[Sequence],
                    batch_size: int = 5000, documents=None) -> int:
        self.require_change()
        columns = list(columns)
        given = "id" in columns
        rows = rows if isinstance(rows, list) else list(rows)
        if not rows:
            return 0
        if not given:
            first = self._next_ids(table, len(rows))
            rows = [(first + i, *row) for i, row in enumerate(rows)]
            columns = ["id", *columns]
        sql = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
               f"({', '.join(['%s'] * len(columns))})")
        with self._raw.cursor() as cur:
            for start in range(0, len(rows), batch_size):
                cur.executemany(sql, [tuple(r) for r in rows[start:start + batch_size]])
        ids = [r[0] for r in rows] if not given else [r[columns.index("id")] for r in rows]
        if given:
            self._advance_ids(table)
            self.log_rows_sql(table, "insert", "t.id = ANY(?)", (ids,))
        else:
            self.log_row(table, ids[0], "insert_range", None,
                         {"first": ids[0], "last": ids[-1]})
        if table in SEARCHABLE:
            if documents is not None:
                docs = []
                for row in rows:
                    values = row[1:] if not given else row
                    body, client_id = documents(values)
                    if body:
                        row_id = row[0] if not given else row[columns.index("id")]
                        docs.append((doc_id(table, row_id), body,
                                     row_id if client_id is None else client_id))
                self._put_documents(docs)
            else:
                self.reindex_range(table, min(ids), max(ids))
        if len(rows) >= ANALYZE_AFTER:
            self._analyze(table)
            if table in SEARCHABLE:
                self._analyze("search_index")
        return len(rows)

    # --- the due digest's sender lock ----------------------------------

    def take_mail_lock(self, wait: float) -> bool:
        """Take the book's sender lock (a session advisory lock: the server drops it when
        this connection ends, so a killed run never leaves it held), waiting up to wait
        seconds; False when another crm holds it that long."""
        import psycopg

        self._raw.execute(f"SET lock_timeout = '{max(int(wait * 1000), 1)}ms'")
        try:
            self._raw.execute("SELECT pg_advisory_lock(%s)", (MAIL_LOCK,))
            return True
        except psycopg.errors.LockNotAvailable:
            return False
        finally:
            self._raw.execute("SET lock_timeout = '15s'")

    def release_mail_lock(self) -> None:
        if self._raw is not None and not self._raw.closed:
            self._raw.execute("SELECT pg_advisory_unlock(%s)", (MAIL_LOCK,))

    # --- a whole book at once (crm db copy) -----------------------------

    def book_tables(self) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = 'BASE TABLE' AND table_name <> "
            "'crm_migrations' AND substr(table_name, 1, 7) <> 'search_' "
            "ORDER BY table_name")]

    @contextmanager
    def loading(self) -> Iterator[None]:
        import psycopg

        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self._raw.execute("ROLLBACK")
                raise
        except psycopg.Error as exc:
            raise StoreError(f"{self.location}: {describe_db_error(exc)}") from None

    @contextmanager
    def reading(self) -> Iterator[None]:
        self._raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield
        finally:
            self._raw.execute("COMMIT")

    def read_rows(self, table: str, columns: Sequence[str]) -> Iterator[tuple]:
        # A cursor on the server (inside reading()): a big table is not held in memory.
        order = " ORDER BY id" if "id" in columns else ""
        with self._raw.cursor(name=f"crm_read_{table}") as cur:
            cur.itersize = 5000
            cur.execute(f"SELECT {', '.join(columns)} FROM {table}{order}")
            yield from cur

    def load_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence],
                  batch_size: int = 5000) -> int:
        count = 0
        with self._raw.cursor() as cur, cur.copy(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count

    def loaded(self, table: str) -> None:
        if self.scalar("SELECT pg_get_serial_sequence(?, 'id')", (table,)) is not None:
            self._advance_ids(table)
        self._analyze(table)

    def rebuild_search(self, chunk: int = 20_000) -> None:
        super().rebuild_search(chunk)
        self._analyze("search_index")

    def _analyze(self, table: str) -> None:
        """Statistics after a bulk load: without them the planner takes a table of thousands
        for one of a few rows until autovacuum comes by (a search's count: 0.75 s instead
        of 20 ms). A member who does not own the table is skipped, with a server notice."""
        self._raw.execute(f"ANALYZE {table}")

    # --- full-text index ----------------------------------------------

    def _put_documents(self, docs: list[tuple[int, str, int]]) -> None:
        """Index documents (rowid, body, client_id), replacing those with the same rowid:
        one statement per batch (the totals' trigger runs once per statement)."""
        for start in range(0, len(docs), 5000):
            batch = docs[start:start + 5000]
            self._raw.execute(
                "INSERT INTO search_index (rowid, body, client_id, words, tokens) "
                "SELECT * FROM unnest(%s::bigint[], %s::text[], %s::bigint[], "
                "%s::tsvector[], %s::integer[]) ON CONFLICT (rowid) DO UPDATE SET "
                "body = excluded.body, client_id = excluded.client_id, "
                "words = excluded.words, tokens = excluded.tokens",
                ([d[0] for d in batch], [d[1] for d in batch], [d[2] for d in batch],
                 [tsvector_text(d[1]) for d in batch], [len(lexemes(d[1])) for d in batch]))

    def reindex(self, table: str, row_id: int, row: dict | None = None) -> None:
        if table not in SEARCHABLE:
            return
        self.unindex(table, row_id)
        row = row or self.get(table, row_id)
        if row is None:
            return
        body, client_id = document_for(table, row)
        if body:
            self._put_documents([(doc_id(table, row_id), body, client_id)])

    def reindex_range(self, table: str, first: int, last: int) -> None:
        docs = []
        for row in self.iter_query(f"SELECT * FROM {table} WHERE id BETWEEN ? AND ?",
                                   (first, last)):
            body, client_id = document_for(table, row)
            if body:
                docs.append((doc_id(table, row["id"]), body, client_id))
        self._put_documents(docs)

    def search_ranked(self, expression: str, limit: int) -> list[int]:
        """The matching documents' rowids, best first by FTS5's bm25 (computed as
        fts5_aux.c does, in the same floating-point steps, so that the order is SQLite's),
        ties by rowid."""
        import math

        found = phrases(expression)
        if not found:
            return []
        docs, tokens = self.conn.execute("SELECT docs, tokens FROM search_totals").fetchone()
        if not docs:
            return []
        avgdl = float(tokens) / float(docs)
        terms, params = [], []
        for words, prefix in found:
            hits = self.scalar("SELECT count(*) FROM search_index WHERE words @@ ?::tsquery",
                               (_phrase_query(words, prefix),))
            idf = math.log((docs - hits + 0.5) / (hits + 0.5))
            if idf <= 0.0:
                idf = 1e-6
            terms.append("? * ((crm_phrase_hits(words, ?, ?)::float8 * ?) / "
                         "(crm_phrase_hits(words, ?, ?)::float8 + ? * (? + ? * "
                         "tokens::float8 / ?)))")
            params += [idf, words, prefix, _BM25_K1 + 1.0, words, prefix, _BM25_K1,
                       1 - _BM25_B, _BM25_B, avgdl]
        score = " + ".join(["CAST(0.0 AS float8)", *terms])
        return [r[0] for r in self.conn.execute(
            f"SELECT rowid FROM search_index WHERE words @@ ?::tsquery "
            f"ORDER BY -1.0 * ({score}), rowid LIMIT ?",
            (tsquery_text(expression), *params, None if limit < 0 else limit))]

    def search_count(self, expression: str, include_archived: bool) -> int:
        query = tsquery_text(expression)
        if query is None:
            return 0
        live = "" if include_archived else "AND c.archived_at IS NULL"
        return self.scalar("SELECT count(*) FROM search_index s JOIN clients c ON "
                           f"c.id = s.client_id WHERE s.words @@ ?::tsquery {live}", (query,))

    def in_list_sql(self, expr: str) -> str:
        return f"{expr} = ANY(?)"

    def in_list_param(self, values: list) -> Any:
        return list(values)

    def ids_table_sql(self) -> str:
        return "(SELECT unnest(CAST(? AS bigint[])) AS value) AS ids"


def _now() -> str:
    from crmcli.store.store import utc_now_iso

    return utc_now_iso()


_CLASSES: dict[type, type] = {}


def on_postgres(cls: type) -> type:
    """cls (a Database) with its engine-specific methods for PostgreSQL."""
    if cls not in _CLASSES:
        _CLASSES[cls] = type(f"Postgres{cls.__name__}", (PostgresDatabase, cls), {})
    return _CLASSES[cls]


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def json_loads_maybe(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def iter_dicts(rows: Iterator) -> Iterator[dict]:
    yield from rows


__all__ = ["is_postgres_url", "on_postgres", "shown_url", "PostgresDatabase", "CrmError"]
