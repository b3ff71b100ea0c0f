"""The interactions repository: every touch with a client (table interactions), and a
client's timeline."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from crmcli.errors import CrmError, NotFound, ValidationError
from crmcli.store import validate
from crmcli.store.activity import split_due, utc_at
from crmcli.store.clients import Clients
from crmcli.store.contacts import Contacts
from crmcli.store.store import Database, utc_now_iso


class Interactions:
    """Logged interactions. Uses the clients repository (the client must exist) and the
    contacts repository (the contact must be the client's)."""

    def __init__(self, db: Database, clients: Clients, contacts: Contacts):
        self.db = db
        self.clients = clients
        self.contacts = contacts

    def _clean(self, client_id: int, summary: str | None, *, at, channel, direction,
               kind, score, contact_id) -> dict[str, Any]:
        channel = validate.choice("channel", channel or "other", validate.CHANNELS)
        kind = validate.text("kind", kind or "note", max_len=64)
        if not re.fullmatch(r"[\w\-]+", kind or ""):
            raise ValidationError("kind", kind, "must be one word such as note, complaint, "
                                                "feedback")
        direction = validate.direction(direction, kind.lower())
        summary = validate.text("summary", summary) or ""
        if contact_id is not None:
            contact = self.contacts.get(int(contact_id))
            if contact["client_id"] != client_id:
                raise ValidationError("contact", contact_id,
                                      f"belongs to client {contact['client_id']}, not {client_id}")
        return {"client_id": client_id, "at": utc_at(at), "channel": channel,
                "direction": direction, "kind": kind.lower(), "summary": summary,
                "score": validate.score(score), "contact_id": contact_id,
                "resolved_at": None, "created_at": utc_now_iso()}

    def log(self, client_id: int, summary: str, *, at: datetime | str | None = None,
            channel: str = "other", direction: str | None = "out", kind: str = "note",
            score: int | str | None = None, contact_id: int | None = None,
            next_due: date | datetime | None = None, next_note: str | None = None,
            resolved_at: datetime | str | None = None) -> dict[str, int | None]:
        """Record one touch with a client; optionally schedule the next one in the same change.

        client_id: the client; summary: free text. Keyword args: at (aware datetime or UTC ISO,
        default now), channel (call/email/meeting/chat/visit/other), direction (in/out; None:
        by kind, see validate.direction),
        kind (note, complaint, feedback, ...), score (0-10 or None), contact_id (a contact of
        the client), next_due (date or aware datetime: creates a follow-up), next_note
        (its note; default "follow up: <summary>"), resolved_at (complaints; for imports).
        Returns {"interaction_id": id, "followup_id": id or None}.
        """
        client = self.clients.get(client_id)
        row = self._clean(client_id, summary, at=at, channel=channel,
                                      direction=direction, kind=kind, score=score,
                                      contact_id=contact_id)
        validate.happened("at", row["at"], row["created_at"])
        if resolved_at is not None:
            row["resolved_at"] = utc_at(resolved_at, "resolved_at")
        followup = None
        if next_due is not None:
            due, due_at = split_due(next_due)
            note = validate.text("note", next_note) or f"follow up: {row['summary'][:80]}".rstrip(
                ": ")
            followup = {"due": due, "due_at": due_at, "note": note}
        with self.db.change("log", f"logged {row['channel']} {row['direction']} with client "
                                f"{client_id} {client['name']}", client_id=client_id):
            interaction_id = self.db.insert("interactions", row)
            followup_id = None
            if followup:
                followup_id = self.db.insert("followups", {
                    "client_id": client_id, **followup, "every": None, "anchor": None,
                    "interaction_id": interaction_id, "done_at": None,
                    "created_at": utc_now_iso()})
        return {"interaction_id": interaction_id, "followup_id": followup_id}

    def edit(self, interaction_id: int, **fields: Any) -> list[str]:
        """Change a logged interaction: any of summary, at, channel, direction, kind, score
        (None clears it) and contact_id (None clears it), checked as log_interaction checks
        them. A resolved complaint stays a complaint and is not moved after its resolution.
        Returns the fields that changed (none: nothing is recorded)."""
        old = self.get(interaction_id)
        merged = {k: fields.get(k, old[k]) for k in ("summary", "at", "channel", "direction",
                                                      "kind", "score", "contact_id")}
        if "summary" in fields and not (validate.text("summary", fields["summary"]) or ""):
            raise ValidationError("summary", fields["summary"], "must not be empty")
        clean = self._clean(old["client_id"], merged.pop("summary"), **merged)
        changed = [k for k in ("summary", "at", "channel", "direction", "kind", "score",
                               "contact_id") if clean[k] != old[k]]
        if not changed:
            return []
        if "at" in changed:
            validate.happened("at", clean["at"], clean["created_at"])
        if old["resolved_at"]:
            if clean["kind"] != "complaint":
                raise ValidationError("kind", clean["kind"], f"interaction {interaction_id} is "
                                      "a resolved complaint; it stays a complaint")
            if clean["at"] > old["resolved_at"]:
                raise ValidationError("at", clean["at"], "is after the complaint's resolution "
                                      f"({old['resolved_at']})")
        client = self.clients.get(old["client_id"])
        with self.db.change("edit-log", f"edited interaction {interaction_id} of client "
                                     f"{client['id']} {client['name']}: {', '.join(changed)}",
                            client_id=client["id"]):
            self.db.update("interactions", interaction_id, {k: clean[k] for k in changed})
        return changed

    def get(self, interaction_id: int) -> dict:
        row = self.db.get("interactions", interaction_id)
        if row is None:
            raise NotFound(f"no interaction with id {interaction_id}")
        return row

    def resolve(self, interaction_id: int, at: datetime | str | None = None) -> dict:
        """Mark a complaint resolved (at: when, default now). Returns the updated row."""
        row = self.get(interaction_id)
        if row["kind"] != "complaint":
            raise CrmError(f"interaction {interaction_id} is not a complaint (kind {row['kind']})")
        if row["resolved_at"]:
            raise CrmError(f"interaction {interaction_id} is already resolved "
                           f"(at {row['resolved_at']})")
        when = utc_at(at, "resolved at")
        if when < row["at"]:
            raise ValidationError("--at", when, f"is before the complaint itself ({row['at']})")
        with self.db.change("resolve", f"resolved complaint {interaction_id}",
                            client_id=row["client_id"]):
            self.db.update("interactions", interaction_id, {"resolved_at": when})
        return self.get(interaction_id)

    def list(self, client_id: int | None = None, *, kind: str | None = None,
             limit: int | None = None) -> list[dict]:
        where, params = [], []
        if client_id is not None:
            where.append("i.client_id = ?")
            params.append(client_id)
        if kind:
            where.append("i.kind = ?")
            params.append(kind)
        sql = ("SELECT i.*, c.name AS client FROM interactions i JOIN clients c ON c.id = "
               "i.client_id" + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY i.at DESC, i.id DESC")
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        return self.db.query(sql, params)

    def last_contacts(self, client_ids: list[int] | None = None) -> dict[int, str]:
        """Latest interaction time (UTC ISO) per client, any channel and direction."""
        if client_ids is None:
            sql, params = ("SELECT client_id, max(at) AS last FROM interactions "
                           "GROUP BY client_id"), ()
        elif not client_ids:
            return {}
        else:
            # One min/max seek of the (client_id, at) index per client; the ids travel as one
            # JSON text (a list of any length, where `IN (?, ?, ...)` has a variable limit).
            sql = ("SELECT value, (SELECT max(at) FROM interactions WHERE client_id = value) "
                   f"FROM {self.db.ids_table_sql()}")
            params = (self.db.in_list_param([int(i) for i in client_ids]),)
        return {cid: last for cid, last in self.db.conn.execute(sql, params) if last is not None}

    def timeline(self, client_id: int, limit: int | None = 20) -> list[dict]:
        """Recent events of a client, newest first: interactions, deals, stage moves and
        completed follow-ups. Rows: at, type, id, detail, summary.

        With a limit each source gives only its newest `limit` rows (newest first by time,
        then id, as the merged order has it), so a client with thousands of interactions
        costs an index walk of a few entries."""
        rows: list[dict] = []
        top = " LIMIT ?" if limit else ""

        def args(*params):
            return (*params, limit) if limit else params

        for r in self.db.query("SELECT id, at, channel, direction, kind, summary, score, "
                               "resolved_at FROM interactions WHERE client_id = ? "
                               f"ORDER BY at DESC, id DESC{top}", args(client_id)):
            detail = f"{r['channel']} {r['direction']}"
            if r["kind"] != "note":
                detail += f" {r['kind']}"
            if r["score"] is not None:
                detail += f" score {r['score']}"
            if r["kind"] == "complaint":
                detail += " (resolved)" if r["resolved_at"] else " (open)"
            rows.append({"at": r["at"], "type": "interaction", "id": r["id"], "detail": detail,
                         "summary": r["summary"]})
        for r in self.db.query("SELECT id, at, amount, currency, status, title FROM deals "
                               f"WHERE client_id = ? ORDER BY at DESC, id DESC{top}",
                               args(client_id)):
            rows.append({"at": r["at"], "type": "deal", "id": r["id"],
                         "detail": f"{r['status']} {r['amount']} {r['currency']}",
                         "summary": r["title"] or ""})
        for r in self.db.query("SELECT id, at, from_stage, to_stage, note FROM stage_changes "
                               f"WHERE client_id = ? ORDER BY at DESC, id DESC{top}",
                               args(client_id)):
            rows.append({"at": r["at"], "type": "stage", "id": r["id"],
                         "detail": f"{r['from_stage'] or '(none)'} → {r['to_stage']}",
                         "summary": r["note"] or ""})
        for r in self.db.query("SELECT id, done_at, due, note, every FROM followups "
                               "WHERE client_id = ? AND done_at IS NOT NULL "
                               f"ORDER BY done_at DESC, id DESC{top}", args(client_id)):
            rows.append({"at": r["done_at"], "type": "followup", "id": r["id"],
                         "detail": f"done (due {r['due']})" + (" recurring" if r["every"]
                                                               else ""),
                         "summary": r["note"]})
        rows.sort(key=lambda r: (r["at"], r["type"], r["id"]), reverse=True)
        return rows[:limit] if limit else rows
