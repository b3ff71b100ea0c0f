"""Clients, contacts, tags and stages."""

from __future__ import annotations

import json
import re
from functools import partial
from typing import Any

from crmcli.errors import (
    AmbiguousClient,
    ClientArchived,
    ClientNotFound,
    CrmError,
    NotFound,
    TwoReadings,
    UnknownStage,
    UsageError,
    ValidationError,
)
from crmcli.store import validate
from crmcli.store.store import utc_now_iso

# The columns of a client record, in the order export, import and --json write them; the
# other client column lists below (and in bulk, the importer, the card, crm ls) pick from it.
CLIENT_RECORD = ("id", "name", "company", "email", "phone", "industry", "size", "owner",
                 "source", "stage", "external_id", "tags", "custom", "notes", "cadence_ideal",
                 "cadence_max", "stage_history", "created_at", "updated_at", "archived_at")
# What lives in other tables or a JSON column, and the timestamps the store keeps.
_NOT_PLAIN = ("tags", "custom", "cadence_ideal", "cadence_max", "stage_history")
_STAMPS = ("created_at", "updated_at", "archived_at")
# The client's plain columns (the profile of its card) and, of those, the text fields a
# user sets (crm add/edit, clean_client_fields).
PROFILE_FIELDS = tuple(c for c in CLIENT_RECORD if c not in _NOT_PLAIN)
CLIENT_FIELDS = tuple(c for c in PROFILE_FIELDS if c != "id" and c not in _STAMPS)
CONTACT_FIELDS = ("name", "role", "email", "phone", "decision_level", "is_primary", "notes")
SORTS = {"name": "c.name COLLATE NOCASE", "created": "c.created_at", "updated": "c.updated_at",
         "stage": "c.stage", "company": "c.company COLLATE NOCASE", "id": "c.id",
         "owner": "c.owner"}


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _text_rule(field: str, max_len: int):
    return partial(validate.text, field, max_len=max_len)


# The one rule of each client field, for every path that writes one (crm add, crm edit,
# crm import).
CLIENT_RULES = {"name": validate.name, "email": validate.email, "phone": validate.phone,
                "notes": _text_rule("notes", validate.MAX_TEXT),
                **{f: _text_rule(f, validate.MAX_NAME) for f in (
                    "company", "industry", "size", "owner", "source", "external_id")},
                "stage": _text_rule("stage", 64)}


def clean_client_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Validate the client fields present in values; returns the cleaned subset."""
    cleaned: dict[str, Any] = {}
    rules = CLIENT_RULES
    for key, value in values.items():
        rule = rules.get(key)
        if rule is None:
            raise ValidationError(key, value, "is not a client field")
        cleaned[key] = rule(value)
    return cleaned


MAX_CLIENT_REF = 1000
# The explicit id forms of a client reference: '#42' or 'id:42'.
ID_FORM = re.compile(r"(?:#|id:)\s*([0-9]{1,18})", re.IGNORECASE)


def plain_id(ref: str) -> int | None:
    """The id a bare reference may mean: ASCII digits without a leading zero ('00042' is a
    customer number, never client 42), short enough for SQLite."""
    if ref.isascii() and ref.isdigit() and not ref.startswith("0") and len(ref) < 19:
        return int(ref)
    return None


def cli_spelling(ids: list[int]) -> str:
    return "write " + " or ".join(f"'#{cid}'" for cid in ids) + " to name one"


def read_reference(ref: str, lookup, *, spelling=cli_spelling, names: bool = True
                   ) -> int | None:
    """The one reading of a client reference, for the command line and every import.

    lookup(how, value) -> [client ids] for how in id, email, external_id, name;
    spelling(ids) -> how to name each candidate without doubt. Returns the
    client id, None when nothing matches exactly (the command line then tries part of a
    name), or raises: TwoReadings when the value is one client's id and another's email,
    external id or name; AmbiguousClient when one reading matches several clients."""
    explicit = ID_FORM.fullmatch(ref)
    if explicit:
        found = lookup("id", int(explicit[1]))
        if not found:
            raise ClientNotFound(ref)
        return found[0]
    readings: list[tuple[str, list[int]]] = []
    as_id = plain_id(ref)
    if as_id is not None:
        readings.append(("id", lookup("id", as_id)))
    if "@" in ref:
        readings.append(("email", lookup("email", ref)))
    readings.append(("external id", lookup("external_id", ref)))
    if names:
        readings.append(("name", lookup("name", ref)))
    by_id = readings[0][1] if as_id is not None else []
    if by_id:
        others = [(how, cid) for how, ids in readings[1:] for cid in ids if cid != by_id[0]]
        if others:
            readings_ = [("id", {"id": by_id[0]}), *[(how, {"id": cid}) for how, cid in others]]
            raise TwoReadings(ref, readings_, spelling([row["id"] for _, row in readings_]))
        return by_id[0]
    for how, ids in readings:
        if len(ids) == 1:
            return ids[0]
        if len(ids) > 1:
            raise AmbiguousClient(ref, [{"id": cid, "name": f"by {how}"} for cid in ids])
    return None


class ClientsMixin:
    pipeline: list[str] = []

    # --- resolution ----------------------------------------------------

    def get_client(self, client_id: int) -> dict:
        row = self.get("clients", client_id)
        if row is None:
            raise ClientNotFound(str(client_id))
        return row

    def resolve_client(self, ref: str, *, include_archived: bool = False) -> dict:
        """A client by id ('#42', 'id:42', or 42 when no other client is 42 by email,
        external id or name), email, external id, exact name or unambiguous part of a name.

        Without include_archived, a reference that names an archived client is refused as
        such (ClientArchived says how to restore it), not as no match."""
        if include_archived:
            return self._resolve_client(ref, include_archived=True)
        try:
            row = self._resolve_client(ref, include_archived=False)
        except ClientNotFound:
            try:
                row = self._resolve_client(ref, include_archived=True)
            except CrmError:
                row = None
            if row is None or not row["archived_at"]:
                raise
        if row["archived_at"]:
            raise ClientArchived(row)
        return row

    def _resolve_client(self, ref: str, *, include_archived: bool) -> dict:
        if ref is None or not str(ref).strip():
            raise ClientNotFound(str(ref or ""))
        ref = str(ref).strip()
        # No name is this long; SQLite also refuses LIKE patterns past a length limit.
        if "\x00" in ref or len(ref) > MAX_CLIENT_REF:
            raise ClientNotFound(ref)
        live = "" if include_archived else " AND archived_at IS NULL"
        sql = {"id": "SELECT id FROM clients WHERE id = ?",
               "email": f"SELECT id FROM clients WHERE email = ? COLLATE NOCASE{live} ORDER BY id",
               "external_id": "SELECT id FROM clients WHERE external_id = ?",
               "name": f"SELECT id FROM clients WHERE name = ? COLLATE NOCASE{live} ORDER BY id"}

        def lookup(how: str, value: str | int) -> list[int]:
            return [r["id"] for r in self.query(sql[how], (value,))]

        try:
            found = read_reference(ref, lookup)
        except TwoReadings as exc:
            raise TwoReadings(ref, [(how, self.get_client(row["id"]))
                                    for how, row in exc.readings],
                              cli_spelling([row["id"] for row in exc.candidates])) from None
        except AmbiguousClient as exc:
            raise AmbiguousClient(ref, [self.get_client(c["id"]) for c in exc.candidates]
                                  ) from None
        if found is not None:
            return self.get_client(found)
        rows = self.query(
            f"SELECT * FROM clients WHERE (name LIKE ? ESCAPE '\\' OR company LIKE ? ESCAPE '\\')"
            f"{live} ORDER BY name COLLATE NOCASE LIMIT 50",
            (f"%{_like_escape(ref)}%",) * 2)
        if len(rows) == 1:
            return rows[0]
        if len(rows) > 1:
            by_name = [r for r in rows if ref.lower() in r["name"].lower()]
            if len(by_name) == 1:
                return by_name[0]
            raise AmbiguousClient(ref, rows)
        raise ClientNotFound(ref)

    # --- clients -------------------------------------------------------

    def check_stage(self, stage: str | None) -> str | None:
        if stage is None:
            return None
        wanted = stage.strip().lower()
        for known in self.pipeline:
            if known.lower() == wanted:
                return known
        raise UnknownStage(stage, self.pipeline)

    def _check_unique(self, email: str | None, external_id: str | None,
                      exclude_id: int | None = None) -> None:
        if email:
            row = self.query_one("SELECT id, name FROM clients WHERE email = ? COLLATE NOCASE "
                                 "AND archived_at IS NULL AND id IS NOT ?", (email, exclude_id))
            if row:
                raise ValidationError("email", email, f"already belongs to client {row['id']} "
                                                      f"({row['name']})")
        if external_id:
            row = self.query_one("SELECT id, name FROM clients WHERE external_id = ? "
                                 "AND id IS NOT ?",
                                 (external_id, exclude_id))
            if row:
                raise ValidationError("external_id", external_id,
                                      f"already belongs to client {row['id']} ({row['name']})")

    def add_client(self, name: str, *, tags: list[str] | None = None,
                   custom: dict[str, str] | None = None, at: str | None = None,
                   **fields: Any) -> int:
        values = clean_client_fields({"name": name, **fields})
        values["stage"] = self.check_stage(values.get("stage"))
        self._check_unique(values.get("email"), values.get("external_id"))
        tag_list = sorted({validate.tag(t) for t in tags or []})
        custom = {validate.custom_key(k): validate.custom_value(k, v)
                  for k, v in (custom or {}).items()}
        now = at or utc_now_iso()
        with self.change("add", f"added client {values['name']}") as ch:
            client_id = self.insert("clients", {
                **{k: values.get(k) for k in CLIENT_FIELDS},
                "custom": json.dumps(custom, ensure_ascii=False, sort_keys=True),
                "created_at": now, "updated_at": now})
            ch.client_id = client_id
            ch.summary = f"added client {client_id} {values['name']}"
            for tag in tag_list:
                self.insert("tags", {"client_id": client_id, "tag": tag})
            if values.get("stage"):
                self.insert("stage_changes", {"client_id": client_id, "from_stage": None,
                                               "to_stage": values["stage"], "at": now,
                                               "note": None})
        return client_id

    def edit_client(self, client_id: int, *, custom: dict[str, str | None] | None = None,
                    **fields: Any) -> bool:
        """Change profile fields (None clears a field); stage moves go through set_stage."""
        client = self.get_client(client_id)
        if "stage" in fields:
            raise CrmError("use `crm stage CLIENT STAGE` to move a client through the pipeline")
        values = clean_client_fields(fields)
        if "name" in fields and values.get("name") is None:
            raise ValidationError("name", fields["name"], "must not be empty")
        self._check_unique(values.get("email"), values.get("external_id"), exclude_id=client_id)
        if custom:
            current = json.loads(client["custom"] or "{}")
            for key, value in custom.items():
                validate.custom_key(key)
                if value is None or value == "":
                    current.pop(key, None)
                else:
                    current[key] = validate.custom_value(key, value)
            values["custom"] = json.dumps(current, ensure_ascii=False, sort_keys=True)
        with self.change("edit", f"edited client {client_id} {client['name']}",
                         client_id=client_id) as ch:
            changed = self.update("clients", client_id, values)
            if changed:
                self.update("clients", client_id, {"updated_at": utc_now_iso()})
            ch.summary = (f"edited client {client_id} {client['name']}: "
                          + ", ".join(sorted(values)))
        return changed

    def set_cadence(self, client_id: int, ideal: str | None, maximum: str | None) -> bool:
        """Set (None, None: clear) a client's own cadence; see validate.cadence."""
        ideal, maximum = validate.cadence(ideal, maximum)
        client = self.get_client(client_id)
        with self.change("cadence", f"set cadence of client {client_id} {client['name']}",
                         client_id=client_id):
            return self.update("clients", client_id, {"cadence_ideal": ideal,
                                                       "cadence_max": maximum,
                                                       "updated_at": utc_now_iso()})

    def archive_client(self, client_id: int) -> bool:
        client = self.get_client(client_id)
        if client["archived_at"]:
            return False
        with self.change("rm", f"archived client {client_id} {client['name']}",
                         client_id=client_id):
            now = utc_now_iso()
            return self.update("clients", client_id, {"archived_at": now, "updated_at": now})

    def restore_client(self, client_id: int) -> bool:
        """Bring an archived client back; False when it was not archived."""
        client = self.get_client(client_id)
        if not client["archived_at"]:
            return False
        self._check_unique(client["email"], None, exclude_id=client_id)
        with self.change("unarchive", f"restored client {client_id} {client['name']}",
                         client_id=client_id):
            return self.update("clients", client_id, {"archived_at": None,
                                                       "updated_at": utc_now_iso()})

    # Child tables in the order their rows must be deleted (children of children first).
    CHILD_TABLES = ("followups", "interactions", "contacts", "deals", "tags", "stage_changes")

    def purge_client(self, client_id: int) -> dict[str, int]:
        """Delete a client and everything of theirs; each row is logged so undo restores it."""
        client = self.get_client(client_id)
        counts: dict[str, int] = {}
        with self.change("rm --purge", f"deleted client {client_id} {client['name']}",
                         client_id=client_id):
            for table in self.CHILD_TABLES:
                ids = [r["id"] for r in self.query(
                    f"SELECT id FROM {table} WHERE client_id = ? ORDER BY id", (client_id,))]
                for row_id in ids:
                    self.delete(table, row_id)
                counts[table] = len(ids)
            self.delete("clients", client_id)
        return counts

    def merge_clients(self, keep_id: int, dup_id: int) -> dict[str, int]:
        """Move everything of dup onto keep, fill keep's empty fields from dup, delete dup."""
        if keep_id == dup_id:
            raise CrmError("cannot merge a client into itself")
        keep = self.get_client(keep_id)
        dup = self.get_client(dup_id)
        moved: dict[str, int] = {}
        with self.change("merge", f"merged client {dup_id} {dup['name']} into {keep_id} "
                                  f"{keep['name']}", client_id=keep_id):
            keep_tags = {r["tag"] for r in self.query("SELECT tag FROM tags WHERE client_id = ?",
                                                      (keep_id,))}
            for table in self.CHILD_TABLES:
                rows = self.query(f"SELECT * FROM {table} WHERE client_id = ? ORDER BY id",
                                  (dup_id,))
                for row in rows:
                    if table == "tags" and row["tag"] in keep_tags:
                        self.delete("tags", row["id"])
                    else:
                        self.update(table, row["id"], {"client_id": keep_id})
                moved[table] = len(rows)
            fill = {k: dup[k] for k in CLIENT_FIELDS
                    if k not in ("name", "external_id", "stage") and not keep[k] and dup[k]}
            if keep["notes"] and dup["notes"] and dup["notes"] not in keep["notes"]:
                fill["notes"] = keep["notes"] + "\n" + dup["notes"]
            custom = {**json.loads(dup["custom"] or "{}"), **json.loads(keep["custom"] or "{}")}
            fill["custom"] = json.dumps(custom, ensure_ascii=False, sort_keys=True)
            if not keep["stage"] and dup["stage"]:
                fill["stage"] = dup["stage"]
            external = dup["external_id"] if not keep["external_id"] else None
            fill["created_at"] = min(keep["created_at"], dup["created_at"])
            fill["updated_at"] = utc_now_iso()
            self.delete("clients", dup_id)
            if external:
                fill["external_id"] = external
            self.update("clients", keep_id, fill)
        return moved

    def list_clients(self, *, stage: str | None = None, tags: list[str] | None = None,
                     industry: str | None = None, owner: str | None = None,
                     text: str | None = None, archived: bool = False,
                     include_archived: bool = False, ids: list[int] | None = None,
                     sort: str = "name", descending: bool = False,
                     limit: int | None = None) -> list[dict]:
        where, params = [], []
        if archived:
            where.append("c.archived_at IS NOT NULL")
        elif not include_archived:
            where.append("c.archived_at IS NULL")
        if stage:
            where.append("c.stage = ?")
            params.append(self.check_stage(stage))
        for tag in tags or []:
            # The clients with the tag, from the (tag, client_id) index, instead of a test
            # of every client (a scan of the name index) for a tag few clients have.
            where.append("c.id IN (SELECT client_id FROM tags WHERE tag = ?)")
            params.append(tag.strip().lower())
        if industry:
            where.append("c.industry = ? COLLATE NOCASE")
            params.append(industry)
        if owner:
            where.append("c.owner = ? COLLATE NOCASE")
            params.append(owner)
        if text:
            pattern = f"%{_like_escape(text)}%"
            where.append("(c.name LIKE ? ESCAPE '\\' OR c.company LIKE ? ESCAPE '\\' "
                         "OR c.email LIKE ? ESCAPE '\\' OR c.notes LIKE ? ESCAPE '\\')")
            params.extend([pattern] * 4)
        if ids is not None:
            # one JSON parameter: no limit on the number of ids (a whole revenue tier)
            where.append("c.id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(ids)))
        if sort not in SORTS:
            raise UsageError(f"--sort {sort!r}: must be one of {', '.join(SORTS)}")
        order = SORTS[sort] + (" DESC" if descending else "")
        if sort == "stage":
            # pipeline order (lead before won), stages outside the pipeline after it by name
            order = ("coalesce((SELECT key FROM json_each(?) WHERE value = c.stage), ?)"
                     + (" DESC" if descending else "") + ", " + order)
            params.extend([json.dumps(self.config.pipeline), len(self.config.pipeline)])
        sql = ("SELECT c.*, (SELECT group_concat(tag, ',') FROM (SELECT tag FROM tags "
               "WHERE client_id = c.id ORDER BY tag)) AS tags FROM clients c")
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {order}, c.id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self.query(sql, params)
        for row in rows:
            row["tags"] = row["tags"].split(",") if row["tags"] else []
            row["custom"] = json.loads(row["custom"] or "{}")
        return rows

    def cadence_clients(self, *, owner: str | None = None, tag: str | None = None
                        ) -> list[dict]:
        """What the stale-client pass of `crm due` needs of every live client (optionally
        one owner's, or those with a tag), by id: id, name, owner, stage, created_at,
        cadence_ideal, cadence_max and tags (a list). Lean: it is the whole book."""
        where, params = ["c.archived_at IS NULL"], []
        if owner:
            where.append("c.owner = ? COLLATE NOCASE")
            params.append(owner)
        if tag:
            where.append("c.id IN (SELECT client_id FROM tags WHERE tag = ?)")
            params.append(tag.strip().lower())
        names = ("id", "name", "owner", "stage", "created_at", "cadence_ideal", "cadence_max")
        sql = (f"SELECT {', '.join('c.' + n for n in names)}, (SELECT group_concat(tag, ',') "
               "FROM (SELECT tag FROM tags WHERE client_id = c.id ORDER BY tag)) FROM clients c "
               f"WHERE {' AND '.join(where)} ORDER BY c.id")
        rows = []
        for row in self.conn.execute(sql, params):
            client = dict(zip(names, row, strict=False))
            client["tags"] = row[-1].split(",") if row[-1] else []
            rows.append(client)
        return rows

    # --- tags ----------------------------------------------------------

    def client_tags(self, client_id: int) -> list[str]:
        return [r["tag"] for r in self.query("SELECT tag FROM tags WHERE client_id = ? "
                                             "ORDER BY tag",
                                             (client_id,))]

    def tag_client(self, client_id: int, tags: list[str], *, remove: bool = False) -> list[str]:
        """Add (or remove) tags; returns the tags that actually changed."""
        client = self.get_client(client_id)
        wanted = sorted({validate.tag(t) for t in tags})
        current = set(self.client_tags(client_id))
        changed: list[str] = []
        verb = "untagged" if remove else "tagged"
        with self.change("tag", f"{verb} client {client_id} {client['name']}: "
                                f"{', '.join(wanted)}", client_id=client_id):
            for tag in wanted:
                if remove and tag in current:
                    row = self.query_one("SELECT id FROM tags WHERE client_id = ? AND tag = ?",
                                         (client_id, tag))
                    self.delete("tags", row["id"])
                    changed.append(tag)
                elif not remove and tag not in current:
                    self.insert("tags", {"client_id": client_id, "tag": tag})
                    changed.append(tag)
        return changed

    def tag_counts(self) -> list[dict]:
        return self.query(
            "SELECT t.tag, count(*) AS clients FROM tags t JOIN clients c ON c.id = t.client_id "
            "WHERE c.archived_at IS NULL GROUP BY t.tag ORDER BY clients DESC, t.tag")

    # --- stages --------------------------------------------------------

    def set_stage(self, client_id: int, stage: str, *, at: str | None = None,
                  note: str | None = None) -> dict | None:
        """Move a client to a stage; returns the stage change (None if already there)."""
        client = self.get_client(client_id)
        stage = self.check_stage(stage)
        note = validate.text("note", note)
        if client["stage"] == stage:
            return None
        when = at or utc_now_iso()
        with self.change("stage", f"moved client {client_id} {client['name']} from "
                                  f"{client['stage'] or '(none)'} to {stage}",
                         client_id=client_id):
            row = {"client_id": client_id, "from_stage": client["stage"], "to_stage": stage,
                   "at": when, "note": note}
            row_id = self.insert("stage_changes", row)
            self.update("clients", client_id, {"stage": stage, "updated_at": utc_now_iso()})
        return {"id": row_id, **row}

    def stage_history(self, client_id: int) -> list[dict]:
        return self.query("SELECT id, from_stage, to_stage, at, note FROM stage_changes "
                          "WHERE client_id = ? ORDER BY at, id", (client_id,))

    def pipeline_board(self) -> list[dict]:
        counts = {r["stage"]: r for r in self.query(
            "SELECT stage, count(*) AS clients, group_concat(name, '\x1f') AS names FROM "
            "(SELECT stage, name FROM clients WHERE archived_at IS NULL ORDER BY updated_at DESC) "
            "GROUP BY stage")}
        board = []
        for stage in [*self.pipeline, None]:
            row = counts.pop(stage, None)
            if stage is None and row is None:
                continue
            names = row["names"].split("\x1f") if row and row["names"] else []
            board.append({"stage": stage, "clients": row["clients"] if row else 0,
                          "names": names})
        for stage, row in counts.items():  # stages no longer in the configured pipeline
            board.append({"stage": stage, "clients": row["clients"],
                          "names": row["names"].split("\x1f") if row["names"] else []})
        return board

    # --- contacts ------------------------------------------------------

    def _clean_contact(self, values: dict[str, Any]) -> dict[str, Any]:
        cleaned: dict[str, Any] = {}
        for key, value in values.items():
            if key == "name":
                cleaned[key] = validate.name(value)
            elif key == "email":
                cleaned[key] = validate.email(value)
            elif key == "phone":
                cleaned[key] = validate.phone(value)
            elif key == "decision_level":
                cleaned[key] = validate.choice("decision level", value, validate.DECISION_LEVELS)
            elif key == "is_primary":
                cleaned[key] = 1 if value else 0
            elif key in ("role", "notes"):
                cleaned[key] = validate.text(key, value)
            else:
                raise ValidationError(key, value, "is not a contact field")
        return cleaned

    def add_contact(self, client_id: int, name: str, **fields: Any) -> int:
        client = self.get_client(client_id)
        values = self._clean_contact({"name": name, **fields})
        now = utc_now_iso()
        with self.change("contact add", f"added contact {values['name']} to client {client_id} "
                                        f"{client['name']}", client_id=client_id):
            if values.get("is_primary"):
                self._clear_primary(client_id)
            row = {k: values.get(k) for k in CONTACT_FIELDS}
            row["is_primary"] = values.get("is_primary", 0)
            return self.insert("contacts", {"client_id": client_id, **row,
                                             "created_at": now, "updated_at": now})

    def _clear_primary(self, client_id: int, except_id: int | None = None) -> None:
        for row in self.query("SELECT id FROM contacts WHERE client_id = ? AND is_primary = 1 "
                              "AND id IS NOT ?", (client_id, except_id)):
            self.update("contacts", row["id"], {"is_primary": 0})

    def get_contact(self, contact_id: int) -> dict:
        row = self.get("contacts", contact_id)
        if row is None:
            raise NotFound(f"no contact with id {contact_id}")
        return row

    def resolve_contact(self, client_id: int, ref: str) -> dict:
        ref = str(ref).strip()
        if ref.isascii() and ref.isdigit() and len(ref) < 19:
            row = self.query_one("SELECT * FROM contacts WHERE id = ? AND client_id = ?",
                                 (int(ref), client_id))
            if row:
                return row
        rows = self.query("SELECT * FROM contacts WHERE client_id = ? AND (name = ? COLLATE NOCASE "
                          "OR email = ? COLLATE NOCASE)", (client_id, ref, ref))
        if not rows:
            rows = self.query("SELECT * FROM contacts WHERE client_id = ? AND name LIKE ? "
                              "ESCAPE '\\'", (client_id, f"%{_like_escape(ref)}%"))
        if len(rows) == 1:
            return rows[0]
        if not rows:
            raise NotFound(f"client {client_id} has no contact matching {ref!r}")
        names = "; ".join(f"{r['id']}: {r['name']}" for r in rows[:8])
        raise CrmError(f"{ref!r} matches {len(rows)} contacts: {names}; use the contact id")

    def edit_contact(self, contact_id: int, **fields: Any) -> bool:
        contact = self.get_contact(contact_id)
        values = self._clean_contact(fields)
        if "name" in fields and values.get("name") is None:
            raise ValidationError("name", fields["name"], "must not be empty")
        with self.change("contact edit", f"edited contact {contact_id} {contact['name']}",
                         client_id=contact["client_id"]):
            if values.get("is_primary"):
                self._clear_primary(contact["client_id"], except_id=contact_id)
            changed = self.update("contacts", contact_id, values)
            if changed:
                self.update("contacts", contact_id, {"updated_at": utc_now_iso()})
        return changed

    def remove_contact(self, contact_id: int) -> dict:
        contact = self.get_contact(contact_id)
        with self.change("contact rm", f"removed contact {contact_id} {contact['name']}",
                         client_id=contact["client_id"]):
            for row in self.query("SELECT id FROM interactions WHERE contact_id = ?",
                                  (contact_id,)):
                self.update("interactions", row["id"], {"contact_id": None})
            self.delete("contacts", contact_id)
        return contact

    def list_contacts(self, client_id: int | None = None) -> list[dict]:
        sql = ("SELECT k.id, k.client_id, c.name AS client, k.name, k.role, k.email, k.phone, "
               "k.decision_level, k.is_primary, k.notes FROM contacts k "
               "JOIN clients c ON c.id = k.client_id")
        params: list[Any] = []
        if client_id is not None:
            sql += " WHERE k.client_id = ?"
            params.append(client_id)
        sql += " ORDER BY c.name COLLATE NOCASE, k.is_primary DESC, k.name COLLATE NOCASE, k.id"
        rows = self.query(sql, params)
        for row in rows:
            row["is_primary"] = bool(row["is_primary"])
        return rows

    # --- search --------------------------------------------------------

    def search_count(self, text: str, *, include_archived: bool = False) -> int:
        """How many records search() would find with no limit."""
        from crmcli.store.search import match_expression

        expr = match_expression(text)
        if expr is None:
            return 0
        live = "" if include_archived else "AND c.archived_at IS NULL"
        return self.scalar(f"""SELECT count(*) FROM search_index s
                               JOIN clients c ON c.id = s.client_id
                               WHERE search_index MATCH ? {live}""", (expr,))

    def search(self, text: str, *, limit: int = 50, include_archived: bool = False) -> list[dict]:
        from crmcli.store.search import ref_of

        results = []
        for doc, client_id, client in self._ranked_documents(text, limit, include_archived):
            table, ref_id = ref_of(doc)
            record = self.get(table, ref_id) or {}
            if table == "clients":
                kind = "client"
                match = " · ".join(str(record[k]) for k in ("company", "email")
                                   if record.get(k)) or record.get("name", "")
            elif table == "contacts":
                kind = "contact"
                match = " · ".join(str(record[k]) for k in ("name", "role", "email")
                                   if record.get(k))
            else:
                kind = "interaction"
                match = (record.get("summary") or "")[:200]
            results.append({"kind": kind, "id": ref_id, "client_id": client_id,
                            "client": client, "match": match, "at": record.get("at")})
        return results

    def _ranked_documents(self, text: str, limit: int, include_archived: bool
                          ) -> list[tuple[int, int, str]]:
        """(document rowid, client id, client name) of the best `limit` matches, best first.

        Ranked inside the index, which reads no column but the rank, before anything is
        joined: joining every match first costs twice as much when most documents match.
        Archived clients' documents are dropped after ranking, so the ranked batch grows
        until `limit` survive or the matches run out. Ties keep the index's order (rowid).
        """
        from crmcli.store.search import match_expression

        expr = match_expression(text)
        if expr is None:
            return []
        batch = limit
        while True:
            ranked = [doc for doc, in self.conn.execute(
                "SELECT s.rowid FROM search_index s WHERE search_index MATCH ? "
                "ORDER BY bm25(search_index) LIMIT ?", (expr, batch))]
            owners = {doc: (client_id, name, archived) for doc, client_id, name, archived
                      in self.conn.execute(
                          "SELECT s.rowid, c.id, c.name, c.archived_at FROM search_index s "
                          "JOIN clients c ON c.id = s.client_id "
                          "WHERE s.rowid IN (SELECT value FROM json_each(?))",
                          (json.dumps(ranked),))}
            kept = [(doc, owners[doc][0], owners[doc][1]) for doc in ranked
                    if doc in owners and (include_archived or owners[doc][2] is None)]
            if limit < 0:  # SQLite's LIMIT -1: no limit
                return kept
            if len(kept) >= limit or len(ranked) < batch:
                return kept[:limit]
            batch *= 4
