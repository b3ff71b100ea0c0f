"""Bulk import and export: the SQL side.

`crmcli.interchange.importer` reads and validates rows; the writers here put them into the
database inside the one `change("import", ...)` that the importer opens, so an
import is all-or-nothing and `crm undo` reverts it whole. Child rows without an
id (the million-interaction case) go through `insert_many` in chunks: batched
`executemany`, one `insert_range` audit row per chunk; new clients likewise
(ClientWriter), with their tags and stage moves (a big import into an empty table
builds its indexes once at the end instead of row by row: drop_indexes). These writers
are the one write path of an import, for every kind and every input. Rows
that carry an id or match an existing record by key are compared with what is stored
and counted as inserted, updated or unchanged; unchanged rows write nothing. A child
row without an id that equals a record stored before the import is unchanged too, so a
second import of the same file adds nothing.

Exports stream rows ordered by id (`export_rows`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from crmcli.errors import ValidationError
from crmcli.store import fields as custom_fields
from crmcli.store.clients import CLIENT_RECORD, Clients
from crmcli.store.store import utc_now_iso

if TYPE_CHECKING:
    from crmcli.store.contacts import Contacts
    from crmcli.store.store import Database

# Columns of each kind as exported and imported (clients also carry tags, custom and
# stage_history, which live in other tables or a JSON column; clients, contacts and deals
# also their declared custom fields, one column each: export_columns).
EXPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "clients": CLIENT_RECORD,
    "contacts": ("id", "client_id", "name", "role", "email", "phone", "decision_level",
                 "is_primary", "notes", "created_at", "updated_at", "custom"),
    "interactions": ("id", "client_id", "at", "channel", "direction", "kind", "summary",
                     "score", "contact_id", "resolved_at", "created_at"),
    "deals": ("id", "client_id", "at", "title", "amount", "currency", "status", "stage",
              "probability", "close_date", "created_at", "custom"),
    "followups": ("id", "client_id", "due", "due_at", "note", "every", "anchor",
                  "interaction_id", "done_at", "created_at"),
    "invoices": ("id", "number", "client_id", "deal_id", "issued", "due", "amount", "currency",
                 "note", "created_at"),
    "payments": ("id", "invoice_id", "client_id", "at", "amount", "currency", "note",
                 "created_at"),
}
# Table columns written by an import, in insert order (no id: SQLite assigns it).
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    kind: tuple(c for c in cols if c != "id") for kind, cols in EXPORT_COLUMNS.items()
    if kind != "clients"}
# Child rows inserted per `insert_many` call: bounds the memory of the search-index
# rebuild of each chunk; each chunk is one insert_range row in the audit log.
CHUNK = 50_000
# Columns of a new client written by an import (preceded by the id when the input gives
# one, else SQLite assigns it), and how many new clients are inserted at a time.
CLIENT_COLUMNS = tuple(c for c in CLIENT_RECORD if c not in ("id", "tags", "stage_history"))
CLIENT_CHUNK = 5_000
# The page cache of an import (KiB): see Bulk.import_cache.
IMPORT_CACHE_KIB = 64 * 1024
# Compared when deciding whether a keyed row changed (created_at/updated_at are not).
_NOT_COMPARED = {"created_at", "updated_at"}


def _documents(kind: str):
    """row tuple (TABLE_COLUMNS order) -> (search body, client_id), as search.document_for."""
    from crmcli.store.search import document_for, segment

    columns = TABLE_COLUMNS[kind]
    if kind == "interactions":
        at = columns.index("summary")
        return lambda row: (segment(row[at]) if row[at] else "", row[0])
    return lambda row: document_for(kind, dict(zip(columns, row, strict=True)))


def drop_indexes(db: Database, names: dict[str, tuple[str, ...] | None]
                 ) -> list[tuple[str, str]]:
    """Drop indexes for the length of a big import: {table: index names, or None for every
    index of the table but its unique ones (which keep guarding the data)}; returns [(name,
    its CREATE statement)] for build_indexes. Only inside the import's transaction, so a
    failure or a kill brings them back with everything else."""
    dropped = []
    for table, wanted in names.items():
        for name, sql in db.index_definitions(table):
            if name in wanted if wanted is not None else not sql.upper().startswith(
                    "CREATE UNIQUE"):
                db.conn.execute(f'DROP INDEX "{name}"')
                dropped.append((name, sql))
    return dropped


def build_indexes(db: Database, dropped: list[tuple[str, str]]) -> None:
    """Build again the indexes that drop_indexes dropped (emptying the list): one sort each
    instead of an insert per row, cheaper when the rows came in random key order."""
    while dropped:
        db.conn.execute(dropped.pop(0)[1])


class CustomChange:
    """The custom fields an import row of contacts or deals gives: base, its custom column
    (the whole object; None: not given), and changes, its declared fields' columns (a
    value, or None: remove). Made into the stored text by resolve() once the writer knows
    whether the row is new (every required field then) or updates a record (its stored
    fields are kept unless the custom column replaces them)."""

    __slots__ = ("base", "changes")

    def __init__(self, base: dict | None, changes: dict):
        self.base = base
        self.changes = changes

    def resolve(self, fields: dict, current: str | None, new: bool) -> str:
        start = self.base if self.base is not None else custom_fields.load(current)
        # (a whole custom object must hold every required field, as a new record must)
        return custom_fields.dump(custom_fields.apply(fields, start, self.changes,
                                                      new=new or self.base is not None))


class ChildWriter:
    """Writes contacts, interactions, deals or follow-ups for one import.

    put(row, row_id, given) takes a cleaned row (a tuple in TABLE_COLUMNS order), the id
    the input gives it (None: SQLite numbers it) and the fields the input gave; returns
    'inserted', 'updated' or 'unchanged'. A row without id that equals a record stored
    before the import began (same client, same value in every column; created_at/
    updated_at only when the input gave them) is 'unchanged': importing the same file
    twice adds nothing. Into a table empty when the import began, such a row needs no
    look-up: it goes straight into the insert buffer (a million interactions).
    """

    def __init__(self, store: Database, kind: str, keyed: bool, contacts: Contacts,
                 fields: dict | None = None):
        self.store = store
        self.contacts = contacts
        self.table = kind
        self.columns = TABLE_COLUMNS[kind]
        # where the row holds its CustomChange (None: the kind has no custom fields), and
        # the kind's declared fields
        self.custom_at = self.columns.index("custom") if "custom" in self.columns else None
        self.fields = fields or {}
        self.keyed = keyed
        self.buffer: list[Sequence] = []
        self.id_buffer: list[Sequence] = []
        self.inserted = 0
        self.documents = _documents(kind)
        # Records with ids up to this one existed before the import (None: the table was
        # empty); rows without id are matched against them only.
        self.existing_top: int | None = store.scalar(f"SELECT max(id) FROM {kind}")
        self.plain_inserted = False  # rows without id went in (their ids are SQLite's)
        # Into a table empty when the import began, nothing is looked up through the
        # table's indexes: a big import builds them once at the end (see drop_indexes).
        self.deferred: list[tuple[str, str]] = []
        self._may_defer = self.existing_top is None
        self._match_sql: dict[frozenset, tuple[str, tuple[str, ...]]] = {}

    def _stored_before(self, row: dict, present: set[str]) -> bool:
        """Whether a record stored before the import equals row (see the class doc)."""
        compared = frozenset(c for c in self.columns
                             if c not in _NOT_COMPARED or c in present)
        found = self._match_sql.get(compared)
        if found is None:
            cols = tuple(c for c in self.columns if c in compared)
            where = " AND ".join(("client_id = ?" if c == "client_id" else f"{c} IS ?")
                                 for c in cols)
            found = (f"SELECT 1 FROM {self.table} WHERE {where} AND id <= ? LIMIT 1", cols)
            self._match_sql[compared] = found
        sql, cols = found
        params = [row[c] for c in cols]
        params.append(self.existing_top)
        return self.store.conn.execute(sql, params).fetchone() is not None

    def _custom(self, row: Sequence, current: str | None, new: bool) -> Sequence:
        """row with its CustomChange made the stored text (see CustomChange)."""
        at = self.custom_at
        change = row[at] if at is not None else None
        if type(change) is not CustomChange:
            return row
        return (*row[:at], change.resolve(self.fields, current, new), *row[at + 1:])

    def put(self, row: Sequence, row_id: int | None = None, given: Iterable[str] = ()) -> str:
        if row_id is None and self.existing_top is None:
            row = self._custom(row, None, True)
            if self.id_buffer:
                self._flush_ids()  # (rows keep the input's order)
            buf = self.buffer
            buf.append(row)
            if len(buf) >= CHUNK:
                self._flush_plain()
            return "inserted"
        values = dict(zip(self.columns, row, strict=True))
        values["id"] = row_id
        # Every row names its client (the importer refuses one that does not).
        present = {*given, "client_id"}
        outcome = self._put(values, present)
        if (self.table == "contacts" and values["is_primary"] and outcome != "unchanged"
                and self.existing_top is not None):
            self._demote_other_primaries(values["client_id"], row_id)
        return outcome

    def _demote_other_primaries(self, client_id: int, keep: int | None) -> None:
        """A client has one primary contact: as `crm contact add --primary`, the imported one
        takes over. (The importer refuses two primaries of one client in one file, and rows
        of this import not yet written are not primary, so stored rows are all there is.)"""
        self.contacts.clear_primary(client_id, except_id=keep)

    def _put(self, row: dict, present: set[str]) -> str:
        row_id = row.get("id")
        change = row.get("custom") if self.custom_at is not None else None
        if row_id is None:
            if type(change) is CustomChange:
                row["custom"] = change.resolve(self.fields, None, True)
            if self.existing_top is not None and self._stored_before(row, present):
                return "unchanged"
            self._flush_ids()
            self.buffer.append(tuple(row[c] for c in self.columns))
            if len(self.buffer) >= CHUNK:
                self._flush_plain()
            return "inserted"
        if self.buffer:
            self._flush_plain()  # so that the ids SQLite gives them are taken
        if self.existing_top is None and not self.plain_inserted:
            # The table was empty and the importer refuses an id twice in one file, so this
            # id is new: no look-up (a restore of a million rows needs none).
            old = None
        else:
            old = self.store.get(self.table, row_id)
        if type(change) is CustomChange:
            row["custom"] = change.resolve(self.fields, old["custom"] if old else None,
                                           old is None)
        if old is not None:
            wanted = {c: row[c] for c in self.columns
                      if c in present and c not in _NOT_COMPARED}
            changed = {k: v for k, v in wanted.items() if old.get(k) != v}
            if not changed:
                return "unchanged"
            if "updated_at" in old:
                changed["updated_at"] = utc_now_iso()
            self.store.update(self.table, row_id, changed)
            return "updated"
        self.id_buffer.append((row_id, *(row[c] for c in self.columns)))
        if len(self.id_buffer) >= CHUNK // 10:
            self._flush_ids()
        return "inserted"

    def _flush_plain(self) -> None:
        if self.buffer:
            if self._may_defer:
                self._may_defer = False
                if len(self.buffer) >= CHUNK:  # a big import
                    self.deferred = drop_indexes(self.store, {self.table: None})
            self.store.insert_many(self.table, self.columns, self.buffer,
                                    documents=self.documents)
            self.plain_inserted = True
            self.inserted += len(self.buffer)
            self.buffer = []

    def _flush_ids(self) -> None:
        if self.id_buffer:
            documents = self.documents
            self.store.insert_many(self.table, ("id", *self.columns), self.id_buffer,
                                    documents=lambda row: documents(row[1:]))
            self.inserted += len(self.id_buffer)
            self.id_buffer = []

    def finish(self) -> None:
        """Write what is buffered and build the deferred indexes."""
        self._flush_plain()
        self._flush_ids()
        build_indexes(self.store, self.deferred)


# The client fields of its search document, in search.document_for's order (a test holds
# the two to the same text).
_CLIENT_DOCUMENT_FIELDS = itemgetter(*(CLIENT_COLUMNS.index(c) for c in (
    "name", "company", "email", "phone", "industry", "notes", "external_id")))


_CLIENT_CUSTOM = CLIENT_COLUMNS.index("custom")


def _client_document(row: tuple) -> tuple[str, None]:
    """The search document of a new client (CLIENT_COLUMNS order); None: its own id."""
    from crmcli.store.search import custom_words, segment

    parts = [*_CLIENT_DOCUMENT_FIELDS(row), custom_words(row[_CLIENT_CUSTOM])]
    return segment(" ".join(map(str, filter(None, parts)))), None


# Indexes that an import of many clients into an empty table builds once at the end
# instead of row by row (their keys arrive in random order: a sort is cheaper). The unique
# index on external_id stays: it keeps guarding the data, and its keys usually come in
# order. Only dropped inside the import's transaction, so a failure or a kill brings them
# back with everything else.
DEFERRED_INDEXES = {"clients": ("clients_email", "clients_name", "clients_stage",
                                "clients_owner"),
                    "tags": ("tags_tag",)}


class ClientWriter:
    """New clients of one import, inserted CLIENT_CHUNK at a time with their tags and
    stage moves (per chunk one insert_range audit row per table, or one row per client
    when the input gives the ids). A chunk holds rows without ids (SQLite numbers them)
    or rows with ids (a restore of crm export into an empty database), not both.

    rows: value tuples (CLIENT_COLUMNS order, preceded by the id in a chunk with ids);
    tag_refs: (position in rows, sorted tags) for rows with tags; moves: (position,
    from_stage, to_stage, at, note)."""

    def __init__(self, store: Database):
        self.store = store
        self.rows: list[tuple] = []
        self.tag_refs: list[tuple[int, list[str]]] = []
        self.moves: list[tuple] = []
        self.with_ids = False
        self.auto_inserted = False  # rows without ids went in: ids are now taken
        # No client existed when the import began: a row can then only clash with another
        # row of the same input, which the importer refuses as a duplicate key before it
        # gets here, so rows are not looked up in the database one by one.
        self.started_empty = store.scalar("SELECT 1 FROM clients LIMIT 1") is None
        # Indexes dropped for the length of the import: [(name, sql)] (see DEFERRED_INDEXES)
        self.deferred: list[tuple[str, str]] = []
        self._may_defer = self.started_empty

    def add(self, record: dict, tags: list[str], history: list[dict],
            row_id: int | None = None) -> None:
        if self.rows and self.with_ids != (row_id is not None):
            self.flush()
        self.with_ids = row_id is not None
        values = tuple(map(record.get, CLIENT_COLUMNS))
        pos = len(self.rows)
        self.rows.append(values if row_id is None else (row_id, *values))
        if tags:
            self.tag_refs.append((pos, tags))
        for h in history:
            self.moves.append((pos, h["from"], h["to"], h["at"], h["note"]))
        if len(self.rows) >= CLIENT_CHUNK:
            self.flush()

    def flush(self) -> None:
        rows = self.rows
        if not rows:
            return
        store = self.store
        if self._may_defer:
            self._may_defer = False
            if len(rows) >= CLIENT_CHUNK:  # a big import: build those indexes at the end
                self.deferred = drop_indexes(self.store, DEFERRED_INDEXES)
        if self.with_ids:
            store.insert_many("clients", ("id", *CLIENT_COLUMNS), rows,
                               documents=lambda row: _client_document(row[1:]))
            ids: Sequence[int] = [row[0] for row in rows]
        else:
            first = store.scalar("SELECT coalesce(max(id), 0) FROM clients") + 1
            store.insert_many("clients", CLIENT_COLUMNS, rows, documents=_client_document)
            # SQLite gives rows inserted without an id max(id) + 1, one after the other.
            if store.scalar("SELECT max(id) FROM clients") != first + len(rows) - 1:
                raise RuntimeError("imported clients did not get consecutive ids")
            ids = range(first, first + len(rows))
            self.auto_inserted = True
        tags = [(ids[pos], tag) for pos, names in self.tag_refs for tag in names]
        if tags:
            store.insert_many("tags", ("client_id", "tag"), tags)
        if self.moves:
            store.insert_many("stage_changes",
                               ("client_id", "from_stage", "to_stage", "at", "note"),
                               [(ids[m[0]], *m[1:]) for m in self.moves])
        rows.clear()
        self.tag_refs.clear()
        self.moves.clear()

    def finish(self) -> None:
        """Write what is buffered and rebuild the deferred indexes."""
        self.flush()
        self.restore_indexes()

    def restore_indexes(self) -> None:
        """Build the deferred indexes again (before anything needs to look rows up)."""
        self._may_defer = False
        build_indexes(self.store, self.deferred)


class Bulk:
    """Imports and exports in bulk (clients and their children). Uses the clients
    repository (unique email and external id of a client) and the contacts repository
    (one primary contact per client)."""

    def __init__(self, db: Database, clients: Clients, contacts: Contacts,
                 fields: dict[str, dict] | None = None):
        self.db = db
        self.clients = clients
        self.contacts = contacts
        self.fields = fields or {}  # kind -> its declared custom fields

    def export_columns(self, kind: str) -> tuple[str, ...]:
        """The columns of an export of kind: its own, then its declared custom fields (their
        values out of the custom object, which keeps the undeclared ones)."""
        declared = [f for f in self.fields.get(kind, {}) if f not in EXPORT_COLUMNS[kind]]
        return (*EXPORT_COLUMNS[kind], *declared)

    @contextmanager
    def import_cache(self) -> Iterator[None]:
        """A page cache of IMPORT_CACHE_KIB for the length of an import, then the old one.

        The indexes of a big import are written in random order; with SQLite's default
        2 MB cache their pages are spilled to the WAL over and over (a million interactions:
        10 s of system time, a third of the import). Memory stays bounded: the cache only
        grows to this size, whatever the size of the input."""
        with self.db.page_cache(IMPORT_CACHE_KIB):
            yield

    # --- lookups used while validating an import ------------------------

    def client_ref_lookup(self, how: str, value: str) -> list[int]:
        """Ids of clients matching value by how: 'id', 'email', 'external_id' or 'name'.

        Email prefers live clients; ids and external ids include archived ones."""
        if how == "id":
            row = self.db.conn.execute("SELECT id FROM clients WHERE id = ?", (value,)).fetchone()
            return [row[0]] if row else []
        if how == "name":
            return [r[0] for r in self.db.conn.execute(
                "SELECT id FROM clients WHERE name = ? COLLATE NOCASE ORDER BY id", (value,))]
        if how == "email":
            rows = self.db.conn.execute(
                "SELECT id, archived_at IS NULL FROM clients WHERE email = ? COLLATE NOCASE "
                "ORDER BY id", (value,)).fetchall()
            live = [r[0] for r in rows if r[1]]
            return live or [r[0] for r in rows]
        row = self.db.conn.execute("SELECT id FROM clients WHERE external_id = ?",
                                   (value,)).fetchone()
        return [row[0]] if row else []

    def client_ref_maps(self) -> tuple[set[int], dict[str, int], dict[str, list[int]]]:
        """All client ids, external id -> id, lower-case email -> ids (live ones first):
        loaded once when an import names many distinct clients."""
        ids: set[int] = set()
        external: dict[str, int] = {}
        emails: dict[str, list[int]] = {}
        for cid, ext, email in self.db.conn.execute(
                "SELECT id, external_id, email FROM clients ORDER BY archived_at IS NOT NULL, id"):
            ids.add(cid)
            if ext is not None:
                external[ext] = cid
            if email:
                emails.setdefault(email.lower(), []).append(cid)
        return ids, external, emails

    def client_ids_by_org(self, org: str) -> list[int]:
        """Clients whose name, else company, is exactly org (case-insensitive)."""
        rows = self.db.conn.execute("SELECT id FROM clients WHERE name = ? COLLATE NOCASE "
                                    "ORDER BY id", (org,)).fetchall()
        if not rows:
            rows = self.db.conn.execute("SELECT id FROM clients WHERE company = ? COLLATE NOCASE "
                                        "ORDER BY id", (org,)).fetchall()
        return [r[0] for r in rows]

    def owner_of(self, table: str, row_id: int) -> int | None:
        """The client_id of a contact or interaction (None when there is no such row)."""
        row = self.db.conn.execute(f"SELECT client_id FROM {table} WHERE id = ?",
                                   (row_id,)).fetchone()
        return row[0] if row else None

    # --- writing -------------------------------------------------------

    def child_writer(self, kind: str, keyed: bool) -> ChildWriter:
        self.db.require_change()
        return ChildWriter(self.db, kind, keyed, self.contacts, self.fields.get(kind))

    def find_client_for_import(self, key: str, row: dict) -> dict | None:
        """The stored client that an import row matches by key (id, email, external_id)."""
        value = row["fields"].get(key) if key != "id" else row.get("id")
        if value is None:
            return None
        if key == "id":
            return self.db.get("clients", value)
        if key == "email":
            rows = self.db.query("SELECT * FROM clients WHERE email = ? COLLATE NOCASE "
                                 "ORDER BY archived_at IS NOT NULL, id", (value,))
            return rows[0] if rows else None
        return self.db.query_one("SELECT * FROM clients WHERE external_id = ?", (value,))

    def client_writer(self) -> ClientWriter:
        self.db.require_change()
        return ClientWriter(self.db)

    def import_client(self, row: dict, key: str | None,
                      writer: ClientWriter | None = None) -> str:
        """Insert or update one client of an import; returns the outcome.

        row: {"id", "fields": {column: value} (only the columns the input gave),
        "tags": list or None, "custom": dict or None (the whole custom object),
        "extra": {key: value or None} (unknown columns: merged into custom),
        "history": list of {at, from, to, note} or None}.
        A new client without an id goes into writer (inserted in batches) when given;
        anything else is written at once, all or nothing for the row (a savepoint), so
        that --skip-invalid can leave out a row that fails half-way.
        """
        given_id = key == "id" and row.get("id") is not None
        if writer is not None and given_id and writer.rows and not writer.with_ids:
            writer.flush()  # the id may be one that the buffered rows are about to take
        # Into a table empty at the start, a row needs no look-up unless it names an id
        # that a row without one may have taken.
        fresh = writer is not None and writer.started_empty and not (
            given_id and writer.auto_inserted)
        if not fresh and writer is not None and writer.deferred:
            writer.restore_indexes()  # look-ups ahead: they need the indexes
        existing = self.find_client_for_import(key, row) if key and not fresh else None
        if existing is None and writer is not None and (fresh or not given_id):
            record = self._new_client_record(row, check_unique=not fresh)
            writer.add(record, sorted(set(row["tags"] or ())), _first_history(row, record),
                       row["id"] if given_id else None)
            return "inserted"
        if writer is not None:
            writer.flush()
        with self._row_savepoint():
            if existing is None:
                return self._import_new_client(row, key)
            return self._import_existing_client(row, existing, key)

    @contextmanager
    def _row_savepoint(self) -> Iterator[None]:
        ch = self.db.require_change()
        logged = ch.rows
        self.db.conn.execute("SAVEPOINT import_row")
        try:
            yield
        except BaseException:
            ch.rows = logged
            self.db.conn.execute("ROLLBACK TO import_row")
            self.db.conn.execute("RELEASE import_row")
            raise
        self.db.conn.execute("RELEASE import_row")

    def _import_existing_client(self, row: dict, existing: dict, key: str | None) -> str:
        fields = row["fields"]
        cid = existing["id"]
        values = {k: v for k, v in fields.items() if k not in _NOT_COMPARED}
        if key == "email" and (existing["email"] or "").lower() == (values["email"] or "").lower():
            values.pop("email")  # the key matched (ignoring case): keep the stored spelling
        if "stage" in values and values["stage"] is None and existing["stage"] is None:
            values.pop("stage")
        self.clients.check_unique(values.get("email"), values.get("external_id"), exclude_id=cid)
        current = custom_fields.load(existing["custom"])
        # (a whole custom object must hold every required field, as a new record must)
        custom = custom_fields.apply(self.clients.fields, dict(
            row["custom"] if row["custom"] is not None else current), row["extra"],
            new=row["custom"] is not None)
        if custom != current:
            values["custom"] = custom_fields.dump(custom)
        changed = False
        new_stage = values.pop("stage", existing["stage"])
        if new_stage != existing["stage"]:
            history = row["history"]
            if new_stage is not None and not (history and history[-1]["to"] == new_stage):
                self.db.insert("stage_changes", {"client_id": cid,
                                                 "from_stage": existing["stage"],
                                                 "to_stage": new_stage, "at": utc_now_iso(),
                                                 "note": None})
            values["stage"] = new_stage
        if self.db.update("clients", cid, values):
            changed = True
        if row["history"] is not None:
            have = {(r["at"], r["from_stage"], r["to_stage"]) for r in self.db.query(
                "SELECT at, from_stage, to_stage FROM stage_changes WHERE client_id = ?",
                (cid,))}
            for h in row["history"]:
                if (h["at"], h["from"], h["to"]) not in have:
                    self.db.insert("stage_changes", {"client_id": cid, "from_stage": h["from"],
                                                     "to_stage": h["to"], "at": h["at"],
                                                     "note": h["note"]})
                    changed = True
        if row["tags"] is not None:
            stored = {r["tag"]: r["id"] for r in self.db.query(
                "SELECT id, tag FROM tags WHERE client_id = ?", (cid,))}
            wanted = set(row["tags"])
            for tag in sorted(wanted - set(stored)):
                self.db.insert("tags", {"client_id": cid, "tag": tag})
                changed = True
            for tag in sorted(set(stored) - wanted):
                self.db.delete("tags", stored[tag])
                changed = True
        if not changed:
            return "unchanged"
        self.db.update("clients", cid, {"updated_at": utc_now_iso()})
        return "updated"

    def _new_client_record(self, row: dict, check_unique: bool = True) -> dict:
        """The clients row of a new client of an import (checked: name, unique keys)."""
        fields = row["fields"]
        if not fields.get("name"):
            raise ValidationError("name", fields.get("name"), "is required for a new client")
        if check_unique:
            self.clients.check_unique(fields.get("email"), fields.get("external_id"))
        record = dict(fields)
        record.setdefault("private", 0)
        if row["custom"] or row["extra"] or self.clients.fields:
            record["custom"] = custom_fields.dump(custom_fields.apply(
                self.clients.fields, dict(row["custom"] or {}), row["extra"], new=True))
        else:
            record["custom"] = "{}"
        record["created_at"] = fields.get("created_at") or utc_now_iso()
        record["updated_at"] = fields.get("updated_at") or record["created_at"]
        return record

    def _import_new_client(self, row: dict, key: str | None) -> str:
        record = self._new_client_record(row)
        if key == "id" and row.get("id") is not None:
            record["id"] = row["id"]
        cid = self.db.insert("clients", record)
        for tag in sorted(set(row["tags"] or ())):
            self.db.insert("tags", {"client_id": cid, "tag": tag})
        for h in _first_history(row, record):
            self.db.insert("stage_changes", {"client_id": cid, "from_stage": h["from"],
                                             "to_stage": h["to"], "at": h["at"],
                                             "note": h["note"]})
        return "inserted"

    # --- export --------------------------------------------------------

    def export_rows(self, kind: str) -> Iterator[dict]:
        """Every record of a kind ordered by id, as exported (streams)."""
        if kind == "clients":
            sql = (
                "SELECT c.id, c.name, c.company, c.email, c.phone, c.industry, c.size, c.owner, c.private, "
                "c.source, c.stage, c.external_id, "
                "(SELECT group_concat(tag, ',') FROM (SELECT tag FROM tags "
                " WHERE client_id = c.id ORDER BY tag)) AS tags, "
                "c.custom, c.notes, c.cadence_ideal, c.cadence_max, "
                "(SELECT json_group_array(json_object('at', at, 'from', from_stage, "
                " 'to', to_stage, 'note', note)) FROM (SELECT * FROM stage_changes "
                " WHERE client_id = c.id ORDER BY at, id)) AS stage_history, "
                "c.created_at, c.updated_at, c.archived_at FROM clients c ORDER BY c.id")
            declared = self.export_columns(kind)[len(EXPORT_COLUMNS[kind]):]
            for row in self.db.iter_query(sql):
                row["tags"] = row["tags"].split(",") if row["tags"] else []
                row["custom"] = custom_fields.load(row["custom"])
                for name in declared:
                    row[name] = row["custom"].pop(name, None)
                row["stage_history"] = json.loads(row["stage_history"] or "[]")
                yield row
            return
        cols = ", ".join(EXPORT_COLUMNS[kind])
        declared = self.export_columns(kind)[len(EXPORT_COLUMNS[kind]):]
        for row in self.db.iter_query(f"SELECT {cols} FROM {kind} ORDER BY id"):
            if "custom" in row:
                row["custom"] = custom_fields.load(row["custom"])
                for name in declared:
                    row[name] = row["custom"].pop(name, None)
            yield row

    def export_contacts_with_clients(self) -> Iterator[dict]:
        """Contacts with their client's name, email and external id (for vCard)."""
        yield from self.db.iter_query(
            "SELECT k.*, c.name AS client_name, c.company AS client_company "
            "FROM contacts k JOIN clients c ON c.id = k.client_id ORDER BY k.id")


def _first_history(row: dict, record: dict) -> list[dict]:
    """Stage moves of a new client: the input's stage_history, else its stage (reached
    when the client was created)."""
    if row["history"]:
        return row["history"]
    if record.get("stage"):
        return [{"at": record["created_at"], "from": None, "to": record["stage"],
                 "note": None}]
    return []

