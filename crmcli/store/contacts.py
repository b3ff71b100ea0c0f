"""The contacts repository: the people at a client (table contacts)."""

from __future__ import annotations

from typing import Any

from crmcli.errors import CrmError, NotFound, ValidationError
from crmcli.store import fields as custom_fields
from crmcli.store import validate
from crmcli.store.clients import Clients, like_escape
from crmcli.store.store import Database, utc_now_iso

CONTACT_FIELDS = ("name", "role", "email", "phone", "decision_level", "is_primary", "notes")
# The contact columns --where may name (on contacts aliased `k`), with their types.
WHERE_COLUMNS = {
    "id": custom_fields.Column("k.id", "number"),
    "client_id": custom_fields.Column("k.client_id", "number"),
    **{name: custom_fields.Column(f"k.{name}", "text") for name in (
        "name", "role", "email", "phone", "decision_level", "notes")},
    "is_primary": custom_fields.Column("k.is_primary", "bool"),
    "created_at": custom_fields.Column("k.created_at", "instant"),
}


class Contacts:
    """Contacts of clients. Uses the clients repository to check the client exists;
    `fields`: the declared custom fields of contacts."""

    def __init__(self, db: Database, clients: Clients,
                 fields: dict[str, custom_fields.Field] | None = None):
        self.db = db
        self.clients = clients
        self.fields = fields or {}
        self.where = custom_fields.Where(db, "contacts", WHERE_COLUMNS, "k.custom", self.fields)

    def _clean(self, values: dict[str, Any]) -> dict[str, Any]:
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

    def add(self, client_id: int, name: str, *, custom: dict[str, Any] | None = None,
            **fields: Any) -> int:
        client = self.clients.get(client_id)
        values = self._clean({"name": name, **fields})
        values["custom"] = custom_fields.dump(
            custom_fields.apply(self.fields, {}, custom or {}, new=True))
        now = utc_now_iso()
        with self.db.change("contact add", f"added contact {values['name']} to client {client_id} "
                                        f"{client['name']}", client_id=client_id):
            if values.get("is_primary"):
                self.clear_primary(client_id)
            row = {k: values.get(k) for k in (*CONTACT_FIELDS, "custom")}
            row["is_primary"] = values.get("is_primary", 0)
            return self.db.insert("contacts", {"client_id": client_id, **row,
                                               "created_at": now, "updated_at": now})

    def clear_primary(self, client_id: int, except_id: int | None = None) -> None:
        for row in self.db.query("SELECT id FROM contacts WHERE client_id = ? AND is_primary = 1 "
                                 "AND id IS NOT ?", (client_id, except_id)):
            self.db.update("contacts", row["id"], {"is_primary": 0})

    def get(self, contact_id: int) -> dict:
        row = self.db.get("contacts", contact_id)
        if row is None:
            raise NotFound(f"no contact with id {contact_id}")
        return row

    def resolve(self, client_id: int, ref: str) -> dict:
        ref = str(ref).strip()
        if ref.isascii() and ref.isdigit() and len(ref) < 19:
            row = self.db.query_one("SELECT * FROM contacts WHERE id = ? AND client_id = ?",
                                    (int(ref), client_id))
            if row:
                return row
        rows = self.db.query("SELECT * FROM contacts WHERE client_id = ? AND "
                             "(name = ? COLLATE NOCASE OR email = ? COLLATE NOCASE)",
                             (client_id, ref, ref))
        if not rows:
            rows = self.db.query("SELECT * FROM contacts WHERE client_id = ? AND name LIKE ? "
                                 "ESCAPE '\\'", (client_id, f"%{like_escape(ref)}%"))
        if len(rows) == 1:
            return rows[0]
        if not rows:
            raise NotFound(f"client {client_id} has no contact matching {ref!r}")
        names = "; ".join(f"{r['id']}: {r['name']}" for r in rows[:8])
        raise CrmError(f"{ref!r} matches {len(rows)} contacts: {names}; use the contact id")

    def edit(self, contact_id: int, *, custom: dict[str, Any] | None = None,
             **fields: Any) -> bool:
        contact = self.get(contact_id)
        values = self._clean(fields)
        if custom:
            values["custom"] = custom_fields.dump(custom_fields.apply(
                self.fields, custom_fields.load(contact["custom"]), custom, new=False))
        if "name" in fields and values.get("name") is None:
            raise ValidationError("name", fields["name"], "must not be empty")
        with self.db.change("contact edit", f"edited contact {contact_id} {contact['name']}",
                            client_id=contact["client_id"]):
            if values.get("is_primary"):
                self.clear_primary(contact["client_id"], except_id=contact_id)
            changed = self.db.update("contacts", contact_id, values)
            if changed:
                self.db.update("contacts", contact_id, {"updated_at": utc_now_iso()})
        return changed

    def remove(self, contact_id: int) -> dict:
        contact = self.get(contact_id)
        with self.db.change("contact rm", f"removed contact {contact_id} {contact['name']}",
                            client_id=contact["client_id"]):
            for row in self.db.query("SELECT id FROM interactions WHERE contact_id = ?",
                                     (contact_id,)):
                self.db.update("interactions", row["id"], {"contact_id": None})
            self.db.delete("contacts", contact_id)
        return contact

    def list(self, client_id: int | None = None, *,
             conditions: list[str] | tuple[str, ...] = ()) -> list[dict]:
        """Contacts with their client's name and custom fields (a dict); conditions: --where
        texts (crmcli.store.fields.Where)."""
        sql = ("SELECT k.id, k.client_id, c.name AS client, k.name, k.role, k.email, k.phone, "
               "k.decision_level, k.is_primary, k.notes, k.custom FROM contacts k "
               "JOIN clients c ON c.id = k.client_id")
        where, params = self.where.build(conditions)
        if client_id is not None:
            where.append("k.client_id = ?")
            params.append(client_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY c.name COLLATE NOCASE, k.is_primary DESC, k.name COLLATE NOCASE, k.id"
        rows = self.db.query(sql, params)
        for row in rows:
            row["is_primary"] = bool(row["is_primary"])
            row["custom"] = custom_fields.load(row["custom"])
        return rows

