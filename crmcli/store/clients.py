"""The clients repository: clients, their tags and their stage moves (tables clients, tags,
stage_changes)."""

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
    TwoReadings,
    UnknownStage,
    UsageError,
    ValidationError,
)
from crmcli.store import fields as custom_fields
from crmcli.store import validate
from crmcli.store.store import Database, utc_now_iso

# The columns of a client record, in the order export, import and --json write them; the
# other client column lists below (and in bulk, the importer, the card, crm ls) pick from it.
CLIENT_RECORD = ("id", "name", "company", "email", "phone", "industry", "size", "owner",
                 "private", "source", "stage", "external_id", "tags", "custom", "notes", "cadence_ideal",
                 "cadence_max", "stage_history", "created_at", "updated_at", "archived_at")
# What lives in other tables or a JSON column, and the timestamps the store keeps.
_NOT_PLAIN = ("tags", "custom", "cadence_ideal", "cadence_max", "stage_history")
_STAMPS = ("created_at", "updated_at", "archived_at")
# The client's plain columns (the profile of its card) and, of those, the text fields a
# user sets (crm add/edit, clean_client_fields).
PROFILE_FIELDS = tuple(c for c in CLIENT_RECORD if c not in _NOT_PLAIN)
CLIENT_FIELDS = tuple(c for c in PROFILE_FIELDS if c != "id" and c not in _STAMPS)
SORTS = {"name": "c.name COLLATE NOCASE", "created": "c.created_at", "updated": "c.updated_at",
         "stage": "c.stage", "company": "c.company COLLATE NOCASE", "id": "c.id",
         "owner": "c.owner"}


# The client columns --where may name (on clients aliased `c`), with their types.
WHERE_COLUMNS = {
    **{name: custom_fields.Column(f"c.{name}", "text") for name in (
        "name", "company", "email", "phone", "industry", "size", "owner", "source", "stage",
        "external_id", "notes")},
    "id": custom_fields.Column("c.id", "number"),
    **{name: custom_fields.Column(f"c.{name}", "instant") for name in (
        "created_at", "updated_at")},
}


def like_escape(text: str) -> str:
    """text as a LIKE pattern matching it literally (with ESCAPE '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _text_rule(field: str, max_len: int):
    return partial(validate.text, field, max_len=max_len)


# The one rule of each client field, for every path that writes one (crm add, crm edit,
# crm import).
CLIENT_RULES = {"name": validate.name, "email": validate.email, "phone": validate.phone,
                "notes": _text_rule("notes", validate.MAX_TEXT),
                **{f: _text_rule(f, validate.MAX_NAME) for f in (
                    "company", "industry", "size", "owner", "source", "external_id")},
                "stage": _text_rule("stage", 64), "private": partial(validate.flag, "private")}


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


def referenced_id(ref: str) -> int | None:
    """The id a client reference names as an id ('#42', 'id:42' or a plain 42), if any."""
    explicit = ID_FORM.fullmatch(ref)
    return int(explicit[1]) if explicit else plain_id(ref)


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


def client_conditions(*, live: bool = True, archived: bool = False, owner: str | None = None,
                      tags: list[str] | tuple[str, ...] = ()) -> tuple[list[str], list[Any]]:
    """WHERE conditions (ANDed) and their parameters on clients aliased `c`: live ones only
    (or archived ones only), of one owner (any case), having every tag. The one spelling of
    these filters for every list of clients or of their records."""
    where: list[str] = []
    params: list[Any] = []
    if archived:
        where.append("c.archived_at IS NOT NULL")
    elif live:
        where.append("c.archived_at IS NULL")
    if owner:
        where.append("c.owner = ? COLLATE NOCASE")
        params.append(owner)
    for tag in tags:
        # The clients with the tag, from the (tag, client_id) index, instead of a test
        # of every client (a scan of the name index) for a tag few clients have.
        where.append("c.id IN (SELECT client_id FROM tags WHERE tag = ?)")
        params.append(tag.strip().lower())
    return where, params


class Clients:
    """Clients, their tags and stages. Uses the database only; `pipeline` is the configured
    stage order (the stages a client may be moved to); `fields` the declared custom fields
    of clients (crmcli.store.fields)."""

    def __init__(self, db: Database, *, pipeline: list[str],
                 fields: dict[str, custom_fields.Field] | None = None):
        self.db = db
        self.pipeline = list(pipeline)
        self.fields = fields or {}
        self.where = custom_fields.Where(db, "clients", WHERE_COLUMNS, "c.custom", self.fields)

    # --- resolution ----------------------------------------------------

    def get(self, client_id: int) -> dict:
        row = self.db.get("clients", client_id)
        if row is None:
            raise ClientNotFound(str(client_id))
        return row

    def resolve(self, ref: str, *, include_archived: bool = False) -> dict:
        """A client by id ('#42', 'id:42', or 42 when no other client is 42 by email,
        external id or name), email, external id, exact name or unambiguous part of a name.

        Without include_archived, a reference that names an archived client is refused as
        such (ClientArchived says how to restore it), not as no match."""
        if include_archived:
            return self._resolve(ref, include_archived=True)
        try:
            row = self._resolve(ref, include_archived=False)
        except ClientNotFound:
            try:
                row = self._resolve(ref, include_archived=True)
            except CrmError:
                row = None
            if row is None or not row["archived_at"]:
                raise
        if row["archived_at"]:
            raise ClientArchived(row)
        return row

    def _resolve(self, ref: str, *, include_archived: bool) -> dict:
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
            return [r["id"] for r in self.db.query(sql[how], (value,))]

        try:
            found = read_reference(ref, lookup)
        except TwoReadings as exc:
            raise TwoReadings(ref, [(how, self.get(row["id"]))
                                    for how, row in exc.readings],
                              cli_spelling([row["id"] for row in exc.candidates])) from None
        except AmbiguousClient as exc:
            raise AmbiguousClient(ref, [self.get(c["id"]) for c in exc.candidates]
                                  ) from None
        if found is not None:
            return self.get(found)
        rows = self.db.query(
            f"SELECT * FROM clients WHERE (name LIKE ? ESCAPE '\\' OR company LIKE ? ESCAPE '\\')"
            f"{live} ORDER BY name COLLATE NOCASE LIMIT 50",
            (f"%{like_escape(ref)}%",) * 2)
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

    def check_unique(self, email: str | None, external_id: str | None,
                     exclude_id: int | None = None) -> None:
        if email:
            row = self.db.query_one("SELECT id, name FROM clients WHERE email = ? COLLATE NOCASE "
                                    "AND archived_at IS NULL AND id IS NOT ?", (email, exclude_id))
            if row:
                raise ValidationError("email", email, f"already belongs to client {row['id']} "
                                                      f"({row['name']})")
        if external_id:
            row = self.db.query_one("SELECT id, name FROM clients WHERE external_id = ? "
                                    "AND id IS NOT ?",
                                    (external_id, exclude_id))
            if row:
                raise ValidationError("external_id", external_id,
                                      f"already belongs to client {row['id']} ({row['name']})")

    def add(self, name: str, *, tags: list[str] | None = None,
            custom: dict[str, str] | None = None, at: str | None = None,
            **fields: Any) -> int:
        values = clean_client_fields({"name": name, **fields})
        values["stage"] = self.check_stage(values.get("stage"))
        if values.get("private") and not values.get("owner"):
            # Private to nobody would be private to no one: it is the writer's (on a
            # team book; SQLite has no roles and no one to hide it from).
            values["owner"] = self.db.current_role()
        self.check_unique(values.get("email"), values.get("external_id"))
        tag_list = sorted({validate.tag(t) for t in tags or []})
        custom = custom_fields.apply(self.fields, {}, custom or {}, new=True)
        now = at or utc_now_iso()
        with self.db.change("add", f"added client {values['name']}") as ch:
            client_id = self.db.insert("clients", {
                # private only when set: the column's default is no
                **{k: values.get(k) for k in CLIENT_FIELDS if k != "private"},
                **({"private": 1} if values.get("private") else {}),
                "custom": custom_fields.dump(custom),
                "created_at": now, "updated_at": now})
            ch.client_id = client_id
            ch.summary = f"added client {client_id} {values['name']}"
            for tag in tag_list:
                self.db.insert("tags", {"client_id": client_id, "tag": tag})
            if values.get("stage"):
                self.db.insert("stage_changes", {"client_id": client_id, "from_stage": None,
                                                 "to_stage": values["stage"], "at": now,
                                                 "note": None})
        return client_id

    def edit(self, client_id: int, *, custom: dict[str, str | None] | None = None,
             **fields: Any) -> bool:
        """Change profile fields (None clears a field); stage moves go through set_stage."""
        client = self.get(client_id)
        if "stage" in fields:
            raise CrmError("use `crm stage CLIENT STAGE` to move a client through the pipeline")
        values = clean_client_fields(fields)
        if "name" in fields and values.get("name") is None:
            raise ValidationError("name", fields["name"], "must not be empty")
        self.check_unique(values.get("email"), values.get("external_id"), exclude_id=client_id)
        if custom:
            current = custom_fields.load(client["custom"])
            values["custom"] = custom_fields.dump(
                custom_fields.apply(self.fields, current, custom, new=False))
        with self.db.change("edit", f"edited client {client_id} {client['name']}",
                            client_id=client_id) as ch:
            rest = {k: v for k, v in values.items() if k != "owner"}
            changed = bool(rest) and self.db.update("clients", client_id, rest)
            handover = "owner" in values and values["owner"] != client["owner"]
            if changed or handover:
                self.db.update("clients", client_id, {"updated_at": utc_now_iso()})
            if handover:
                # The owner last: on a team book, handing a client over ends this role's
                # right to change it.
                changed = self.db.update("clients", client_id,
                                         {"owner": values["owner"]}) or changed
            ch.summary = (f"edited client {client_id} {client['name']}: "
                          + ", ".join(sorted(values)))
        return changed

    def set_cadence(self, client_id: int, ideal: str | None, maximum: str | None) -> bool:
        """Set (None, None: clear) a client's own cadence; see validate.cadence."""
        ideal, maximum = validate.cadence(ideal, maximum)
        client = self.get(client_id)
        with self.db.change("cadence", f"set cadence of client {client_id} {client['name']}",
                            client_id=client_id):
            return self.db.update("clients", client_id, {"cadence_ideal": ideal,
                                                         "cadence_max": maximum,
                                                         "updated_at": utc_now_iso()})

    def archive(self, client_id: int) -> bool:
        client = self.get(client_id)
        if client["archived_at"]:
            return False
        with self.db.change("rm", f"archived client {client_id} {client['name']}",
                            client_id=client_id):
            now = utc_now_iso()
            return self.db.update("clients", client_id, {"archived_at": now, "updated_at": now})

    def restore(self, client_id: int) -> bool:
        """Bring an archived client back; False when it was not archived."""
        client = self.get(client_id)
        if not client["archived_at"]:
            return False
        self.check_unique(client["email"], None, exclude_id=client_id)
        with self.db.change("unarchive", f"restored client {client_id} {client['name']}",
                         client_id=client_id):
            return self.db.update("clients", client_id, {"archived_at": None,
                                                       "updated_at": utc_now_iso()})

    # Child tables in the order their rows must be deleted (children of children first).
    CHILD_TABLES = ("followups", "interactions", "contacts", "payments", "invoices", "deals",
                    "tags", "stage_changes")

    def purge(self, client_id: int) -> dict[str, int]:
        """Delete a client and everything of theirs; each row is logged so undo restores it."""
        client = self.get(client_id)
        counts: dict[str, int] = {}
        with self.db.change("rm --purge", f"deleted client {client_id} {client['name']}",
                            client_id=client_id):
            for table in self.CHILD_TABLES:
                if table == "deals":  # their stage moves first, logged so undo restores them
                    for row in self.db.query(
                            "SELECT h.id FROM deal_stage_changes h JOIN deals d ON "
                            "d.id = h.deal_id WHERE d.client_id = ? ORDER BY h.id", (client_id,)):
                        self.db.delete("deal_stage_changes", row["id"])
                ids = [r["id"] for r in self.db.query(
                    f"SELECT id FROM {table} WHERE client_id = ? ORDER BY id", (client_id,))]
                for row_id in ids:
                    self.db.delete(table, row_id)
                counts[table] = len(ids)
            self.db.delete("clients", client_id)
        return counts

    def merge(self, keep_id: int, dup_id: int) -> dict[str, int]:
        """Move everything of dup onto keep, fill keep's empty fields from dup, delete dup."""
        if keep_id == dup_id:
            raise CrmError("cannot merge a client into itself")
        keep = self.get(keep_id)
        dup = self.get(dup_id)
        moved: dict[str, int] = {}
        with self.db.change("merge", f"merged client {dup_id} {dup['name']} into {keep_id} "
                                  f"{keep['name']}", client_id=keep_id):
            keep_tags = {r["tag"] for r in self.db.query("SELECT tag FROM tags WHERE client_id = ?",
                                                         (keep_id,))}
            for table in self.CHILD_TABLES:
                rows = self.db.query(f"SELECT * FROM {table} WHERE client_id = ? ORDER BY id",
                                     (dup_id,))
                for row in rows:
                    if table == "tags" and row["tag"] in keep_tags:
                        self.db.delete("tags", row["id"])
                    else:
                        self.db.update(table, row["id"], {"client_id": keep_id})
                moved[table] = len(rows)
            fill = {k: dup[k] for k in CLIENT_FIELDS
                    if k not in ("name", "external_id", "stage") and not keep[k] and dup[k]}
            if keep["notes"] and dup["notes"] and dup["notes"] not in keep["notes"]:
                fill["notes"] = keep["notes"] + "\n" + dup["notes"]
            custom = {**custom_fields.load(dup["custom"]), **custom_fields.load(keep["custom"])}
            fill["custom"] = custom_fields.dump(custom)
            if not keep["stage"] and dup["stage"]:
                fill["stage"] = dup["stage"]
            external = dup["external_id"] if not keep["external_id"] else None
            fill["created_at"] = min(keep["created_at"], dup["created_at"])
            fill["updated_at"] = utc_now_iso()
            self.db.delete("clients", dup_id)
            if external:
                fill["external_id"] = external
            self.db.update("clients", keep_id, fill)
        return moved

    def list(self, *, stage: str | None = None, tags: list[str] | None = None,
             industry: str | None = None, owner: str | None = None,
             text: str | None = None, archived: bool = False,
             include_archived: bool = False, ids: list[int] | None = None,
             sort: str = "name", descending: bool = False,
             limit: int | None = None, conditions: list[str] | tuple[str, ...] = ()
             ) -> list[dict]:
        """Clients with their tags (a list) and custom fields (a dict); conditions: --where
        texts (crmcli.store.fields.Where), ANDed with the rest."""
        where, params = client_conditions(live=not include_archived, archived=archived,
                                          owner=owner, tags=tags or ())
        more, more_params = self.where.build(conditions)
        where += more
        params += more_params
        if stage:
            where.append("c.stage = ?")
            params.append(self.check_stage(stage))
        if industry:
            where.append("c.industry = ? COLLATE NOCASE")
            params.append(industry)
        if text:
            pattern = f"%{like_escape(text)}%"
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
            params.extend([json.dumps(self.pipeline), len(self.pipeline)])
        sql = ("SELECT c.*, (SELECT group_concat(tag, ',') FROM (SELECT tag FROM tags "
               "WHERE client_id = c.id ORDER BY tag)) AS tags FROM clients c")
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {order}, c.id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self.db.query(sql, params)
        for row in rows:
            row["tags"] = row["tags"].split(",") if row["tags"] else []
            row["custom"] = custom_fields.load(row["custom"])
        return rows

    def for_cadence(self, *, owner: str | None = None, tag: str | None = None
                    ) -> list[dict]:
        """What the stale-client pass of `crm due` needs of every live client (optionally
        one owner's, or those with a tag), by id: id, name, owner, stage, created_at,
        cadence_ideal, cadence_max and tags (a list). Lean: it is the whole book."""
        where, params = client_conditions(owner=owner, tags=[tag] if tag else ())
        names = ("id", "name", "owner", "stage", "created_at", "cadence_ideal", "cadence_max")
        sql = (f"SELECT {', '.join('c.' + n for n in names)}, (SELECT group_concat(tag, ',') "
               "FROM (SELECT tag FROM tags WHERE client_id = c.id ORDER BY tag)) FROM clients c "
               f"WHERE {' AND '.join(where)} ORDER BY c.id")
        rows = []
        for row in self.db.conn.execute(sql, params):
            client = dict(zip(names, row, strict=False))
            client["tags"] = row[-1].split(",") if row[-1] else []
            rows.append(client)
        return rows

    def any_own_cadence(self) -> bool:
        """Whether any live client has its own cadence (lets `crm due` skip the stale scan)."""
        return bool(self.db.scalar("SELECT 1 FROM clients WHERE cadence_ideal IS NOT NULL "
                                   "AND archived_at IS NULL LIMIT 1"))

    # --- tags ----------------------------------------------------------

    def tags(self, client_id: int) -> list[str]:
        return [r["tag"] for r in self.db.query("SELECT tag FROM tags WHERE client_id = ? "
                                                "ORDER BY tag",
                                                (client_id,))]

    def tag(self, client_id: int, tags: list[str], *, remove: bool = False) -> list[str]:
        """Add (or remove) tags; returns the tags that actually changed."""
        client = self.get(client_id)
        wanted = sorted({validate.tag(t) for t in tags})
        current = set(self.tags(client_id))
        changed: list[str] = []
        verb = "untagged" if remove else "tagged"
        with self.db.change("tag", f"{verb} client {client_id} {client['name']}: "
                                f"{', '.join(wanted)}", client_id=client_id):
            for tag in wanted:
                if remove and tag in current:
                    row = self.db.query_one("SELECT id FROM tags WHERE client_id = ? AND tag = ?",
                                            (client_id, tag))
                    self.db.delete("tags", row["id"])
                    changed.append(tag)
                elif not remove and tag not in current:
                    self.db.insert("tags", {"client_id": client_id, "tag": tag})
                    changed.append(tag)
        return changed

    def tag_counts(self) -> list[dict]:
        return self.db.query(
            "SELECT t.tag, count(*) AS clients FROM tags t JOIN clients c ON c.id = t.client_id "
            "WHERE c.archived_at IS NULL GROUP BY t.tag ORDER BY clients DESC, t.tag")

    # --- stages --------------------------------------------------------

    def set_stage(self, client_id: int, stage: str, *, at: str | None = None,
                  note: str | None = None) -> dict | None:
        """Move a client to a stage; returns the stage change (None if already there)."""
        client = self.get(client_id)
        stage = self.check_stage(stage)
        note = validate.text("note", note)
        if client["stage"] == stage:
            return None
        when = at or utc_now_iso()
        with self.db.change("stage", f"moved client {client_id} {client['name']} from "
                                  f"{client['stage'] or '(none)'} to {stage}",
                            client_id=client_id):
            row = {"client_id": client_id, "from_stage": client["stage"], "to_stage": stage,
                   "at": when, "note": note}
            row_id = self.db.insert("stage_changes", row)
            self.db.update("clients", client_id, {"stage": stage, "updated_at": utc_now_iso()})
        return {"id": row_id, **row}

    def stage_history(self, client_id: int) -> list[dict]:
        return self.db.query("SELECT id, from_stage, to_stage, at, note FROM stage_changes "
                             "WHERE client_id = ? ORDER BY at, id", (client_id,))

    def pipeline_board(self) -> list[dict]:
        # Names grouped here, not by group_concat: an aggregate's input order is not kept
        # by every engine's GROUP BY.
        counts: dict = {}
        for stage, name in self.db.conn.execute(
                "SELECT stage, name FROM clients WHERE archived_at IS NULL "
                "ORDER BY updated_at DESC, id"):
            row = counts.setdefault(stage, {"clients": 0, "names": []})
            row["clients"] += 1
            row["names"].append(name)
        board = []
        for stage in [*self.pipeline, None]:
            row = counts.pop(stage, None)
            if stage is None and row is None:
                continue
            names = row["names"] if row else []
            board.append({"stage": stage, "clients": row["clients"] if row else 0,
                          "names": names})
        for stage, row in counts.items():  # stages no longer in the configured pipeline
            board.append({"stage": stage, "clients": row["clients"],
                          "names": row["names"]})
        return board

