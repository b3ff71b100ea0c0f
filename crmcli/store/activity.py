"""Interactions, deals, follow-ups and cadence (the daily loop).

Conventions shared with imports and reports:

- ``at`` arguments accept an aware ``datetime`` or a UTC ISO string
  ('YYYY-MM-DDTHH:MM:SSZ'); None means now. They are stored as UTC ISO text.
- A follow-up's ``due`` is a local calendar date 'YYYY-MM-DD'; ``due_at`` is
  the UTC ISO instant when a time of day was given (else NULL).
- Recurring follow-ups (``every`` = an RRULE string from dates.parse_every)
  keep ``anchor`` = the first due ('YYYY-MM-DD', or local 'YYYY-MM-DDTHH:MM'
  when timed), so a monthly series started on the 31st clamps to Feb 28 and
  returns to Mar 31. Completing one marks that row done (the completion stays
  in the timeline) and inserts the next occurrence as a new open row.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from crmcli import dates
from crmcli.errors import CrmError, NotFound, ValidationError
from crmcli.store import validate
from crmcli.store.store import utc_now_iso

_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
DEAL_COLUMNS = ("id", "client_id", "client", "at", "title", "amount", "currency", "status")


def _utc(value: datetime | str | None, field: str = "at") -> str:
    """An instant as stored: UTC 'YYYY-MM-DDTHH:MM:SSZ'."""
    if value is None:
        return utc_now_iso()
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValidationError(field, value.isoformat(), "needs a time zone")
        return dates.to_utc_iso(value)
    if isinstance(value, date):
        return dates.to_utc_iso(dates.parse_at(value.isoformat()))
    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", text):
        return text
    return dates.to_utc_iso(dates.parse_at(text))


def split_due(due: date | datetime | str) -> tuple[str, str | None]:
    """(local due date 'YYYY-MM-DD', UTC due_at or None) for a date or an aware datetime."""
    if isinstance(due, str):
        due = dates.parse_when(due)
    if isinstance(due, datetime):
        if due.tzinfo is None:
            raise ValidationError("due", due.isoformat(), "needs a time zone")
        return dates.local(due).date().isoformat(), dates.to_utc_iso(due)
    if isinstance(due, date):
        return due.isoformat(), None
    raise ValidationError("due", due, "is not a date")


def _anchor_of(due: str, due_at: str | None) -> str:
    if due_at:
        return dates.local(dates.from_utc_iso(due_at)).strftime("%Y-%m-%dT%H:%M")
    return due


def _local_zone():
    return dates.local(dates.now()).tzinfo


def _localize(naive: datetime) -> datetime:
    """A naive local wall-clock time in the configured zone (zoneinfo handles DST)."""
    return naive.replace(tzinfo=_local_zone())


def _as_when(text: str) -> date | datetime:
    """'YYYY-MM-DD' → date; 'YYYY-MM-DDTHH:MM' → aware local datetime."""
    if "T" not in text:
        return date.fromisoformat(text)
    return _localize(datetime.fromisoformat(text))


class ActivityMixin:
    currency: str = "USD"

    # --- interactions --------------------------------------------------

    def _clean_interaction(self, client_id: int, summary: str | None, *, at, channel, direction,
                           kind, score, contact_id) -> dict[str, Any]:
        channel = validate.choice("channel", channel or "other", validate.CHANNELS)
        kind = validate.text("kind", kind or "note", max_len=64)
        if not re.fullmatch(r"[\w\-]+", kind or ""):
            raise ValidationError("kind", kind, "must be one word such as note, complaint, "
                                                "feedback")
        direction = validate.direction(direction, kind.lower())
        summary = validate.text("summary", summary) or ""
        if contact_id is not None:
            contact = self.get_contact(int(contact_id))
            if contact["client_id"] != client_id:
                raise ValidationError("contact", contact_id,
                                      f"belongs to client {contact['client_id']}, not {client_id}")
        return {"client_id": client_id, "at": _utc(at), "channel": channel,
                "direction": direction, "kind": kind.lower(), "summary": summary,
                "score": validate.score(score), "contact_id": contact_id,
                "resolved_at": None, "created_at": utc_now_iso()}

    def log_interaction(self, client_id: int, summary: str, *, at: datetime | str | None = None,
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
        client = self.get_client(client_id)
        row = self._clean_interaction(client_id, summary, at=at, channel=channel,
                                      direction=direction, kind=kind, score=score,
                                      contact_id=contact_id)
        validate.happened("at", row["at"], row["created_at"])
        if resolved_at is not None:
            row["resolved_at"] = _utc(resolved_at, "resolved_at")
        followup = None
        if next_due is not None:
            due, due_at = split_due(next_due)
            note = validate.text("note", next_note) or f"follow up: {row['summary'][:80]}".rstrip(
                ": ")
            followup = {"due": due, "due_at": due_at, "note": note}
        with self.change("log", f"logged {row['channel']} {row['direction']} with client "
                                f"{client_id} {client['name']}", client_id=client_id):
            interaction_id = self.insert("interactions", row)
            followup_id = None
            if followup:
                followup_id = self.insert("followups", {
                    "client_id": client_id, **followup, "every": None, "anchor": None,
                    "interaction_id": interaction_id, "done_at": None,
                    "created_at": utc_now_iso()})
        return {"interaction_id": interaction_id, "followup_id": followup_id}

    def edit_interaction(self, interaction_id: int, **fields: Any) -> list[str]:
        """Change a logged interaction: any of summary, at, channel, direction, kind, score
        (None clears it) and contact_id (None clears it), checked as log_interaction checks
        them. A resolved complaint stays a complaint and is not moved after its resolution.
        Returns the fields that changed (none: nothing is recorded)."""
        old = self.get_interaction(interaction_id)
        merged = {k: fields.get(k, old[k]) for k in ("summary", "at", "channel", "direction",
                                                      "kind", "score", "contact_id")}
        if "summary" in fields and not (validate.text("summary", fields["summary"]) or ""):
            raise ValidationError("summary", fields["summary"], "must not be empty")
        clean = self._clean_interaction(old["client_id"], merged.pop("summary"), **merged)
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
        client = self.get_client(old["client_id"])
        with self.change("edit-log", f"edited interaction {interaction_id} of client "
                                     f"{client['id']} {client['name']}: {', '.join(changed)}",
                         client_id=client["id"]):
            self.update("interactions", interaction_id, {k: clean[k] for k in changed})
        return changed

    def get_interaction(self, interaction_id: int) -> dict:
        row = self.get("interactions", interaction_id)
        if row is None:
            raise NotFound(f"no interaction with id {interaction_id}")
        return row

    def resolve_interaction(self, interaction_id: int, at: datetime | str | None = None) -> dict:
        """Mark a complaint resolved (at: when, default now). Returns the updated row."""
        row = self.get_interaction(interaction_id)
        if row["kind"] != "complaint":
            raise CrmError(f"interaction {interaction_id} is not a complaint (kind {row['kind']})")
        if row["resolved_at"]:
            raise CrmError(f"interaction {interaction_id} is already resolved "
                           f"(at {row['resolved_at']})")
        when = _utc(at, "resolved at")
        if when < row["at"]:
            raise ValidationError("--at", when, f"is before the complaint itself ({row['at']})")
        with self.change("resolve", f"resolved complaint {interaction_id}",
                         client_id=row["client_id"]):
            self.update("interactions", interaction_id, {"resolved_at": when})
        return self.get_interaction(interaction_id)

    def list_interactions(self, client_id: int | None = None, *, kind: str | None = None,
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
        return self.query(sql, params)

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
                   "FROM json_each(?)")
            params = (json.dumps([int(i) for i in client_ids]),)
        return {cid: last for cid, last in self.conn.execute(sql, params) if last is not None}

    def has_client_cadences(self) -> bool:
        """Whether any live client has its own cadence (lets `crm due` skip the stale scan)."""
        return bool(self.scalar("SELECT 1 FROM clients WHERE cadence_ideal IS NOT NULL "
                                "AND archived_at IS NULL LIMIT 1"))

    # --- deals ---------------------------------------------------------

    def _clean_currency(self, currency: str | None) -> str:
        value = validate.text("currency", currency, max_len=8) or self.currency or "USD"
        if not _CURRENCY.match(value):
            raise ValidationError("currency", value, "must be a three-letter code such as USD")
        return value.upper()

    def add_deal(self, client_id: int, amount: str | int | Decimal, *,
                 at: datetime | str | None = None, title: str | None = None,
                 status: str = "won", currency: str | None = None) -> int:
        """Record a deal and return its id.

        amount: non-negative decimal (text, int or Decimal; stored exactly as typed, e.g.
        "19.99"); at: when (aware datetime or UTC ISO; default now); title: free text;
        status: won / open / lost (won deals are revenue); currency: 3-letter code
        (default: the config's currency).
        """
        client = self.get_client(client_id)
        row = {"client_id": client_id, "amount": validate.amount(str(amount)),
               "currency": self._clean_currency(currency), "at": _utc(at),
               "title": validate.text("title", title, max_len=validate.MAX_NAME),
               "status": validate.choice("status", status or "won", validate.DEAL_STATUSES),
               "created_at": utc_now_iso()}
        with self.change("deal", f"recorded {row['status']} deal {row['amount']} "
                                 f"{row['currency']} for client {client_id} {client['name']}",
                         client_id=client_id):
            return self.insert("deals", row)

    def get_deal(self, deal_id: int) -> dict:
        row = self.get("deals", deal_id)
        if row is None:
            raise NotFound(f"no deal with id {deal_id}")
        return row

    def edit_deal(self, deal_id: int, **fields: Any) -> list[str]:
        """Change a deal: any of client_id, amount, at, title (None or '' clears it), status,
        currency, checked as add_deal checks them. Returns the fields that changed (none:
        nothing is recorded)."""
        deal = self.get_deal(deal_id)
        values: dict[str, Any] = {}
        if "client_id" in fields:
            values["client_id"] = self.get_client(fields["client_id"])["id"]
        if "amount" in fields:
            values["amount"] = validate.amount(str(fields["amount"]))
        if "at" in fields:
            values["at"] = _utc(fields["at"])
        if "title" in fields:
            values["title"] = validate.text("title", fields["title"], max_len=validate.MAX_NAME)
        if "status" in fields:
            values["status"] = validate.choice("status", fields["status"],
                                               validate.DEAL_STATUSES)
        if "currency" in fields:
            values["currency"] = self._clean_currency(fields["currency"])
        changed = [k for k, v in values.items() if deal[k] != v]
        if not changed:
            return []
        client = self.get_client(values.get("client_id", deal["client_id"]))
        with self.change("edit-deal", f"edited deal {deal_id} of client {client['id']} "
                                      f"{client['name']}: {', '.join(changed)}",
                         client_id=client["id"]):
            self.update("deals", deal_id, {k: values[k] for k in changed})
        return changed

    def list_deals(self, client_id: int | None = None, status: str | None = None, *,
                   include_archived: bool = False, limit: int | None = None) -> list[dict]:
        """Deals newest first, with the client's name; amount as exact Decimal."""
        where, params = [], []
        if client_id is not None:
            where.append("d.client_id = ?")
            params.append(client_id)
        elif not include_archived:
            where.append("c.archived_at IS NULL")
        if status:
            where.append("d.status = ?")
            params.append(validate.choice("--status", status, validate.DEAL_STATUSES))
        sql = ("SELECT d.id, d.client_id, c.name AS client, d.at, d.title, d.amount, d.currency, "
               "d.status FROM deals d JOIN clients c ON c.id = d.client_id"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY d.at DESC, d.id DESC")
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self.query(sql, params)
        for row in rows:
            row["amount"] = Decimal(row["amount"])
        return rows

    def revenue(self, client_id: int) -> dict[str, Decimal]:
        """Won revenue to date per currency, {currency: Decimal} ({} without won deals): one
        shape however many currencies."""
        totals: dict[str, Decimal] = {}
        for row in self.query("SELECT amount, currency FROM deals WHERE client_id = ? AND "
                              "status = 'won'", (client_id,)):
            totals[row["currency"]] = totals.get(row["currency"], Decimal(0)) + Decimal(
                row["amount"])
        return dict(sorted(totals.items()))

    # --- follow-ups ----------------------------------------------------

    def get_followup(self, followup_id: int) -> dict:
        row = self.get("followups", followup_id)
        if row is None:
            raise NotFound(f"no follow-up with id {followup_id}")
        return row

    def add_followup(self, client_id: int, due: date | datetime | str, note: str | None = None,
                     every: str | None = None, interaction_id: int | None = None) -> int:
        """Schedule a follow-up and return its id.

        due: a date (all-day) or an aware datetime (timed), or WHEN text; note: what to do;
        every: an RRULE string (dates.parse_every) for a recurring follow-up;
        interaction_id: the interaction that asked for it.
        """
        client = self.get_client(client_id)
        due_day, due_at = split_due(due)
        note = validate.text("note", note) or ""
        if every:
            every = self._check_rule(every)
        row = {"client_id": client_id, "due": due_day, "due_at": due_at, "note": note,
               "every": every or None, "anchor": _anchor_of(due_day, due_at) if every else None,
               "interaction_id": interaction_id, "done_at": None, "created_at": utc_now_iso()}
        with self.change("followup", f"scheduled follow-up for client {client_id} "
                                     f"{client['name']} on {due_day}", client_id=client_id):
            return self.insert("followups", row)

    @staticmethod
    def _check_rule(every: str) -> str:
        return dates.parse_every(str(every))

    def next_due_of(self, row: dict) -> tuple[str, str | None] | None:
        """The next occurrence (due, due_at) of a recurring follow-up after its current due,
        or None when its series has ended (COUNT/UNTIL) or its stored rule is not one crm
        accepts (a row stored before every path checked rules).

        Occurrences up to today are skipped: completing a weekly follow-up three weeks late
        schedules the next one after today, not three stale ones.
        """

        rule = dates.usable_rule(row["every"])
        if rule is None:
            return None
        try:
            anchor = _as_when(row["anchor"] or _anchor_of(row["due"], row["due_at"]))
            current: date | datetime = (dates.local(dates.from_utc_iso(row["due_at"]))
                                        if row["due_at"] else date.fromisoformat(row["due"]))
        except (ValueError, OverflowError):
            return None
        if isinstance(current, datetime) and not isinstance(anchor, datetime):
            anchor = _localize(datetime.combine(anchor, current.replace(tzinfo=None).time()))
        today = dates.today()
        # Start from the end of today (or the current due when later): one step, however
        # long ago the series began.
        if isinstance(current, datetime):
            end_of_today = dates.local(datetime.combine(today, time(23, 59, 59)))
            current = max(current, end_of_today)
        else:
            current = max(current, today)
        for _ in range(1_000):
            nxt = dates.next_occurrence(rule, current, anchor)
            if nxt is None:
                return None
            if isinstance(nxt, datetime) and nxt.tzinfo is None:
                nxt = _localize(nxt)
            day = dates.local(nxt).date() if isinstance(nxt, datetime) else nxt
            if day > today:
                return split_due(nxt)
            current = nxt + timedelta(seconds=1) if isinstance(nxt, datetime) else nxt
        raise CrmError(f"follow-up {row['id']}: cannot find its next date")

    def complete_followup(self, followup_id: int, at: datetime | str | None = None
                          ) -> dict[str, Any]:
        """Mark a follow-up done. A recurring one also gets its next occurrence as a new row.

        Returns {"id", "done_at", "next_id", "next_due", "next_due_at"} (next_* None when
        not recurring). Done twice is an error.
        """
        row = self.get_followup(followup_id)
        if row["done_at"]:
            raise CrmError(f"follow-up {followup_id} is already done")
        client = self.get_client(row["client_id"])
        done_at = _utc(at, "done at")
        nxt = self.next_due_of(row) if row["every"] else None
        result: dict[str, Any] = {"id": followup_id, "done_at": done_at, "next_id": None,
                                  "next_due": None, "next_due_at": None,
                                  "every": row["every"],
                                  "series_ended": bool(row["every"]) and nxt is None}
        with self.change("done", f"completed follow-up {followup_id} of client "
                                 f"{client['id']} {client['name']}", client_id=client["id"]):
            self.update("followups", followup_id, {"done_at": done_at})
            if nxt:
                result["next_id"] = self.insert("followups", {
                    "client_id": row["client_id"], "due": nxt[0], "due_at": nxt[1],
                    "note": row["note"], "every": row["every"], "anchor": row["anchor"],
                    "interaction_id": row["interaction_id"], "done_at": None,
                    "created_at": utc_now_iso()})
                result["next_due"], result["next_due_at"] = nxt
        return result

    def snooze_followup(self, followup_id: int, when: date | datetime | str) -> dict:
        """Move an open follow-up to a new due date (a date or an aware datetime)."""
        row = self.get_followup(followup_id)
        if row["done_at"]:
            raise CrmError(f"follow-up {followup_id} is already done")
        due, due_at = split_due(when)
        if isinstance(when, date) and not isinstance(when, datetime) and row["due_at"]:
            # Snoozing a timed follow-up to another day keeps its time of day.

            old = dates.local(dates.from_utc_iso(row["due_at"]))
            moved = _localize(datetime.combine(when, old.time().replace(tzinfo=None)))
            due, due_at = split_due(moved)
        with self.change("snooze", f"snoozed follow-up {followup_id} to {due}",
                         client_id=row["client_id"]):
            self.update("followups", followup_id, {"due": due, "due_at": due_at})
        return self.get_followup(followup_id)

    def open_followups(self, client_id: int | None = None, *, until: str | None = None,
                       owner: str | None = None, tag: str | None = None,
                       include_archived: bool = False, limit: int | None = None) -> list[dict]:
        """Open follow-ups by due date (then time, then id), with client name and owner.

        until: only those due on or before this local date 'YYYY-MM-DD'.
        """
        sql, params = self._open_followups_sql(
            "f.id, f.client_id, c.name AS client, c.owner, f.due, f.due_at, f.note, f.every, "
            "f.anchor, f.interaction_id, f.created_at", client_id, until, owner, tag,
            include_archived, limit)
        return self.query(sql, params)

    def due_followups(self, *, until: str, owner: str | None = None, tag: str | None = None
                      ) -> list[tuple]:
        """What `crm due` lists of open_followups (live clients, due on or before until), as
        plain tuples (id, client_id, client, owner, due, due_at, note), same order: the due
        list of a large book has tens of thousands of rows."""
        sql, params = self._open_followups_sql(
            "f.id, f.client_id, c.name, c.owner, f.due, f.due_at, f.note", None, until, owner,
            tag, False, None)
        return self.conn.execute(sql, params).fetchall()

    def due_followup_counts(self, *, today: str, until: str) -> dict[str, int]:
        """How many of the follow-ups `crm due` lists (open, live clients, due on or before
        until) are overdue, due today and upcoming: the summary's counts, without the rows."""
        row = self.conn.execute(
            "SELECT coalesce(sum(f.due < :today), 0), coalesce(sum(f.due = :today), 0), "
            "coalesce(sum(f.due > :today), 0) FROM followups f JOIN clients c "
            "ON c.id = f.client_id WHERE f.done_at IS NULL AND c.archived_at IS NULL "
            "AND f.due <= :until", {"today": today, "until": until}).fetchone()
        return dict(zip(("overdue", "due", "upcoming"), row, strict=True))

    @staticmethod
    def _open_followups_sql(columns: str, client_id, until, owner, tag, include_archived,
                            limit) -> tuple[str, list]:
        where, params = ["f.done_at IS NULL"], []
        if client_id is not None:
            where.append("f.client_id = ?")
            params.append(client_id)
        elif not include_archived:
            where.append("c.archived_at IS NULL")
        if until:
            where.append("f.due <= ?")
            params.append(until)
        if owner:
            where.append("c.owner = ? COLLATE NOCASE")
            params.append(owner)
        if tag:
            where.append("EXISTS (SELECT 1 FROM tags t WHERE t.client_id = c.id AND t.tag = ?)")
            params.append(tag.strip().lower())
        sql = (f"SELECT {columns} FROM followups f JOIN clients c ON c.id = f.client_id "
               "WHERE " + " AND ".join(where) + " ORDER BY f.due, coalesce(f.due_at, ''), f.id")
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        return sql, params

    # --- timeline ------------------------------------------------------

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

        for r in self.query("SELECT id, at, channel, direction, kind, summary, score, "
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
        for r in self.query("SELECT id, at, amount, currency, status, title FROM deals "
                            f"WHERE client_id = ? ORDER BY at DESC, id DESC{top}",
                            args(client_id)):
            rows.append({"at": r["at"], "type": "deal", "id": r["id"],
                         "detail": f"{r['status']} {r['amount']} {r['currency']}",
                         "summary": r["title"] or ""})
        for r in self.query("SELECT id, at, from_stage, to_stage, note FROM stage_changes "
                            f"WHERE client_id = ? ORDER BY at DESC, id DESC{top}",
                            args(client_id)):
            rows.append({"at": r["at"], "type": "stage", "id": r["id"],
                         "detail": f"{r['from_stage'] or '(none)'} → {r['to_stage']}",
                         "summary": r["note"] or ""})
        for r in self.query("SELECT id, done_at, due, note, every FROM followups "
                            "WHERE client_id = ? AND done_at IS NOT NULL "
                            f"ORDER BY done_at DESC, id DESC{top}", args(client_id)):
            rows.append({"at": r["done_at"], "type": "followup", "id": r["id"],
                         "detail": f"done (due {r['due']})" + (" recurring" if r["every"]
                                                               else ""),
                         "summary": r["note"]})
        rows.sort(key=lambda r: (r["at"], r["type"], r["id"]), reverse=True)
        return rows[:limit] if limit else rows
