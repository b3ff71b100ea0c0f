"""Bulk import and export: the SQL side.

`crmcli.importer` reads and validates rows; the writers here put them into the
database inside the one `change("import", ...)` that the importer opens, so an
import is all-or-nothing and `crm undo` reverts it whole. Child rows without an
id (the million-interaction case) go through `_insert_many` in chunks: batched
`executemany`, one `insert_range` audit row per chunk. Rows that carry an id or
match an existing record by key are compared with what is stored and counted as
inserted, updated or unchanged; unchanged rows write nothing.

Exports stream rows ordered by id (`export_rows`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from crmcli.store.errors import ValidationError
from crmcli.store.store import utc_now_iso

# Columns of each kind as exported and imported (clients also carry tags, custom and
# stage_history, which live in other tables or a JSON column).
EXPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "clients": ("id", "name", "company", "email", "phone", "industry", "size", "owner",
                "source", "stage", "external_id", "tags", "custom", "notes", "cadence_ideal",
                "cadence_max", "stage_history", "created_at", "updated_at", "archived_at"),
    "contacts": ("id", "client_id", "name", "role", "email", "phone", "decision_level",
                 "is_primary", "notes", "created_at", "updated_at"),
    "interactions": ("id", "client_id", "at", "channel", "direction", "kind", "summary",
                     "score", "contact_id", "resolved_at", "created_at"),
    "deals": ("id", "client_id", "at", "title", "amount", "currency", "status", "created_at"),
    "followups": ("id", "client_id", "due", "due_at", "note", "every", "anchor",
                  "interaction_id", "done_at", "created_at"),
}
# Table columns written by an import, in insert order (no id: SQLite assigns it).
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    kind: tuple(c for c in cols if c != "id") for kind, cols in EXPORT_COLUMNS.items()
    if kind != "clients"}
# Child rows inserted per `_insert_many` call: bounds the memory of the search-index
# rebuild of each chunk; each chunk is one insert_range row in the audit log.
CHUNK = 50_000
# Compared when deciding whether a keyed row changed (created_at/updated_at are not).
_NOT_COMPARED = {"created_at", "updated_at"}


class ChildWriter:
    """Writes contacts, interactions, deals or follow-ups for one import.

    put(row, present) takes a dict of table columns (id may be None) and the set of
    columns the input gave; returns 'inserted', 'updated' or 'unchanged'.
    put_fast(values) takes a tuple in TABLE_COLUMNS order for rows without id.
    """

    def __init__(self, store: Any, kind: str, keyed: bool):
        self.store = store
        self.table = kind
        self.columns = TABLE_COLUMNS[kind]
        self.keyed = keyed
        self.buffer: list[Sequence] = []
        self.id_buffer: list[Sequence] = []
        self.inserted = 0

    def put_fast(self, values: Sequence) -> str:
        buf = self.buffer
        buf.append(values)
        if len(buf) >= CHUNK:
            self._flush_plain()
        return "inserted"

    def put(self, row: dict, present: set[str]) -> str:
        row_id = row.get("id")
        if row_id is None:
            self._flush_ids()
            return self.put_fast(tuple(row[c] for c in self.columns))
        old = self.store.get(self.table, row_id)
        if old is not None:
            wanted = {c: row[c] for c in self.columns
                      if c in present and c not in _NOT_COMPARED}
            changed = {k: v for k, v in wanted.items() if old.get(k) != v}
            if not changed:
                return "unchanged"
            if "updated_at" in old:
                changed["updated_at"] = utc_now_iso()
            self.store._update(self.table, row_id, changed)
            return "updated"
        self._flush_plain()
        self.id_buffer.append((row_id, *(row[c] for c in self.columns)))
        if len(self.id_buffer) >= CHUNK // 10:
            self._flush_ids()
        return "inserted"

    def _flush_plain(self) -> None:
        if self.buffer:
            self.store._insert_many(self.table, self.columns, self.buffer)
            self.inserted += len(self.buffer)
            self.buffer = []

    def _flush_ids(self) -> None:
        if self.id_buffer:
            self.store._insert_many(self.table, ("id", *self.columns), self.id_buffer)
            self.inserted += len(self.id_buffer)
            self.id_buffer = []

    def finish(self) -> None:
        self._flush_plain()
        self._flush_ids()


class BulkMixin:
    # --- lookups used while validating an import ------------------------

    def client_ref_lookup(self, how: str, value: str) -> list[int]:
        """Ids of clients matching value by how: 'id', 'email' or 'external_id'.

        Email prefers live clients; ids and external ids include archived ones."""
        if how == "id":
            row = self.conn.execute("SELECT id FROM clients WHERE id = ?", (value,)).fetchone()
            return [row[0]] if row else []
        if how == "email":
            rows = self.conn.execute(
                "SELECT id, archived_at IS NULL FROM clients WHERE email = ? COLLATE NOCASE "
                "ORDER BY id", (value,)).fetchall()
            live = [r[0] for r in rows if r[1]]
            return live or [r[0] for r in rows]
        row = self.conn.execute("SELECT id FROM clients WHERE external_id = ?",
                                (value,)).fetchone()
        return [row[0]] if row else []

    def client_ref_maps(self) -> tuple[set[int], dict[str, int], dict[str, list[int]]]:
        """All client ids, external id -> id, lower-case email -> ids (live ones first):
        loaded once when an import names many distinct clients."""
        ids: set[int] = set()
        external: dict[str, int] = {}
        emails: dict[str, list[int]] = {}
        for cid, ext, email in self.conn.execute(
                "SELECT id, external_id, email FROM clients ORDER BY archived_at IS NOT NULL, id"):
            ids.add(cid)
            if ext is not None:
                external[ext] = cid
            if email:
                emails.setdefault(email.lower(), []).append(cid)
        return ids, external, emails

    def client_ids_by_org(self, org: str) -> list[int]:
        """Clients whose name, else company, is exactly org (case-insensitive)."""
        rows = self.conn.execute("SELECT id FROM clients WHERE name = ? COLLATE NOCASE "
                                 "ORDER BY id", (org,)).fetchall()
        if not rows:
            rows = self.conn.execute("SELECT id FROM clients WHERE company = ? COLLATE NOCASE "
                                     "ORDER BY id", (org,)).fetchall()
        return [r[0] for r in rows]

    def owner_of(self, table: str, row_id: int) -> int | None:
        """The client_id of a contact or interaction (None when there is no such row)."""
        row = self.conn.execute(f"SELECT client_id FROM {table} WHERE id = ?",
                                (row_id,)).fetchone()
        return row[0] if row else None

    # --- writing -------------------------------------------------------

    def child_writer(self, kind: str, keyed: bool) -> ChildWriter:
        self._require_change()
        return ChildWriter(self, kind, keyed)

    def find_client_for_import(self, key: str, row: dict) -> dict | None:
        """The stored client that an import row matches by key (id, email, external_id)."""
        value = row["fields"].get(key) if key != "id" else row.get("id")
        if value is None:
            return None
        if key == "id":
            return self.get("clients", value)
        if key == "email":
            rows = self.query("SELECT * FROM clients WHERE email = ? COLLATE NOCASE "
                              "ORDER BY archived_at IS NOT NULL, id", (value,))
            return rows[0] if rows else None
        return self.query_one("SELECT * FROM clients WHERE external_id = ?", (value,))

    def import_client(self, row: dict, key: str | None) -> str:
        """Insert or update one client of an import; returns the outcome.

        row: {"id", "fields": {column: value} (only the columns the input gave),
        "tags": list or None, "custom": dict or None (the whole custom object),
        "extra": {key: value or None} (unknown columns: merged into custom),
        "history": list of {at, from, to, note} or None}.
        """
        existing = self.find_client_for_import(key, row) if key else None
        fields = row["fields"]
        if existing is None:
            return self._import_new_client(row, key)
        cid = existing["id"]
        values = {k: v for k, v in fields.items() if k not in _NOT_COMPARED}
        if "stage" in values and values["stage"] is None and existing["stage"] is None:
            values.pop("stage")
        self._check_unique(values.get("email"), values.get("external_id"), exclude_id=cid)
        current = json.loads(existing["custom"] or "{}")
        custom = dict(row["custom"]) if row["custom"] is not None else dict(current)
        for k, v in row["extra"].items():
            if v is None:
                custom.pop(k, None)
            else:
                custom[k] = v
        if custom != current:
            values["custom"] = _custom_json(custom)
        changed = False
        new_stage = values.pop("stage", existing["stage"])
        if new_stage != existing["stage"]:
            history = row["history"]
            if new_stage is not None and not (history and history[-1]["to"] == new_stage):
                self._insert("stage_changes", {"client_id": cid,
                                               "from_stage": existing["stage"],
                                               "to_stage": new_stage, "at": utc_now_iso(),
                                               "note": None})
            values["stage"] = new_stage
        if self._update("clients", cid, values):
            changed = True
        if row["history"] is not None:
            have = {(r["at"], r["from_stage"], r["to_stage"]) for r in self.query(
                "SELECT at, from_stage, to_stage FROM stage_changes WHERE client_id = ?",
                (cid,))}
            for h in row["history"]:
                if (h["at"], h["from"], h["to"]) not in have:
                    self._insert("stage_changes", {"client_id": cid, "from_stage": h["from"],
                                                   "to_stage": h["to"], "at": h["at"],
                                                   "note": h["note"]})
                    changed = True
        if row["tags"] is not None:
            stored = {r["tag"]: r["id"] for r in self.query(
                "SELECT id, tag FROM tags WHERE client_id = ?", (cid,))}
            wanted = set(row["tags"])
            for tag in sorted(wanted - set(stored)):
                self._insert("tags", {"client_id": cid, "tag": tag})
                changed = True
            for tag in sorted(set(stored) - wanted):
                self._delete("tags", stored[tag])
                changed = True
        if not changed:
            return "unchanged"
        self._update("clients", cid, {"updated_at": utc_now_iso()})
        return "updated"

    def _import_new_client(self, row: dict, key: str | None) -> str:
        fields = row["fields"]
        if not fields.get("name"):
            raise ValidationError("name", fields.get("name"), "is required for a new client")
        self._check_unique(fields.get("email"), fields.get("external_id"))
        now = utc_now_iso()
        custom = dict(row["custom"] or {})
        custom.update({k: v for k, v in row["extra"].items() if v is not None})
        record = dict(fields)
        record["custom"] = _custom_json(custom)
        record["created_at"] = fields.get("created_at") or now
        record["updated_at"] = fields.get("updated_at") or record["created_at"]
        if key == "id" and row.get("id") is not None:
            record["id"] = row["id"]
        cid = self._insert("clients", record)
        for tag in sorted(set(row["tags"] or ())):
            self._insert("tags", {"client_id": cid, "tag": tag})
        history = row["history"]
        if history:
            for h in history:
                self._insert("stage_changes", {"client_id": cid, "from_stage": h["from"],
                                               "to_stage": h["to"], "at": h["at"],
                                               "note": h["note"]})
        elif fields.get("stage"):
            self._insert("stage_changes", {"client_id": cid, "from_stage": None,
                                           "to_stage": fields["stage"],
                                           "at": record["created_at"], "note": None})
        return "inserted"

    # --- export --------------------------------------------------------

    def export_rows(self, kind: str) -> Iterator[dict]:
        """Every record of a kind ordered by id, as exported (streams)."""
        if kind == "clients":
            sql = (
                "SELECT c.id, c.name, c.company, c.email, c.phone, c.industry, c.size, c.owner, "
                "c.source, c.stage, c.external_id, "
                "(SELECT group_concat(tag, ',') FROM (SELECT tag FROM tags "
                " WHERE client_id = c.id ORDER BY tag)) AS tags, "
                "c.custom, c.notes, c.cadence_ideal, c.cadence_max, "
                "(SELECT json_group_array(json_object('at', at, 'from', from_stage, "
                " 'to', to_stage, 'note', note)) FROM (SELECT * FROM stage_changes "
                " WHERE client_id = c.id ORDER BY at, id)) AS stage_history, "
                "c.created_at, c.updated_at, c.archived_at FROM clients c ORDER BY c.id")
            for row in self.iter_query(sql):
                row["tags"] = row["tags"].split(",") if row["tags"] else []
                row["custom"] = json.loads(row["custom"] or "{}")
                row["stage_history"] = json.loads(row["stage_history"] or "[]")
                yield row
            return
        cols = ", ".join(EXPORT_COLUMNS[kind])
        yield from self.iter_query(f"SELECT {cols} FROM {kind} ORDER BY id")

    def export_contacts_with_clients(self) -> Iterator[dict]:
        """Contacts with their client's name, email and external id (for vCard)."""
        yield from self.iter_query(
            "SELECT k.*, c.name AS client_name, c.company AS client_company "
            "FROM contacts k JOIN clients c ON c.id = k.client_id ORDER BY k.id")


def _custom_json(custom: dict) -> str:
    from crmcli.output import to_json

    return to_json(dict(sorted(custom.items())))
