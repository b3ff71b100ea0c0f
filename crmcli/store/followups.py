"""The follow-ups repository: what to do next and when, one-off or recurring (table
followups). See store.activity for how due dates, times and recurrence anchors are kept."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from crmcli.errors import CrmError, NotFound
from crmcli.store import validate
from crmcli.store.activity import anchor_of, as_when, localize, split_due, utc_at
from crmcli.store.clients import Clients, client_conditions
from crmcli.store.store import Database, utc_now_iso


def check_rule(every: str) -> str:
    """A recurrence as stored: an RRULE string (WHEN text such as 'every 2 weeks' parsed)."""
    from crmcli import dates

    return dates.parse_every(str(every))


def open_followups_sql(columns: str, client_id, until, owner, tag, include_archived,
                       limit) -> tuple[str, list]:
    """SELECT columns of the open follow-ups (f) with their clients (c), filtered, in due
    order: the one WHERE clause of every open follow-up list."""
    where, params = client_conditions(live=client_id is None and not include_archived,
                                      owner=owner, tags=[tag] if tag else ())
    where.insert(0, "f.done_at IS NULL")
    if client_id is not None:
        where.append("f.client_id = ?")
        params.append(client_id)
    if until:
        where.append("f.due <= ?")
        params.append(until)
    sql = (f"SELECT {columns} FROM followups f JOIN clients c ON c.id = f.client_id "
           "WHERE " + " AND ".join(where) + " ORDER BY f.due, coalesce(f.due_at, ''), f.id")
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return sql, params


class Followups:
    """Follow-ups. Uses the clients repository (the client must exist)."""

    def __init__(self, db: Database, clients: Clients):
        self.db = db
        self.clients = clients

    def get(self, followup_id: int) -> dict:
        row = self.db.get("followups", followup_id)
        if row is None:
            raise NotFound(f"no follow-up with id {followup_id}")
        return row

    def add(self, client_id: int, due: date | datetime | str, note: str | None = None,
            every: str | None = None, interaction_id: int | None = None) -> int:
        """Schedule a follow-up and return its id.

        due: a date (all-day) or an aware datetime (timed), or WHEN text; note: what to do;
        every: an RRULE string (dates.parse_every) for a recurring follow-up;
        interaction_id: the interaction that asked for it.
        """
        client = self.clients.get(client_id)
        due_day, due_at = split_due(due)
        note = validate.text("note", note) or ""
        if every:
            every = check_rule(every)
        row = {"client_id": client_id, "due": due_day, "due_at": due_at, "note": note,
               "every": every or None, "anchor": anchor_of(due_day, due_at) if every else None,
               "interaction_id": interaction_id, "done_at": None, "created_at": utc_now_iso()}
        with self.db.change("followup", f"scheduled follow-up for client {client_id} "
                                     f"{client['name']} on {due_day}", client_id=client_id):
            return self.db.insert("followups", row)

    def next_due_of(self, row: dict) -> tuple[str, str | None] | None:
        """The next occurrence (due, due_at) of a recurring follow-up after its current due,
        or None when its series has ended (COUNT/UNTIL) or its stored rule is not one crm
        accepts (a row stored before every path checked rules).

        Occurrences up to today are skipped: completing a weekly follow-up three weeks late
        schedules the next one after today, not three stale ones.
        """
        from datetime import time, timedelta

        from crmcli import dates

        rule = dates.usable_rule(row["every"])
        if rule is None:
            return None
        try:
            anchor = as_when(row["anchor"] or anchor_of(row["due"], row["due_at"]))
            current: date | datetime = (dates.local(dates.from_utc_iso(row["due_at"]))
                                        if row["due_at"] else date.fromisoformat(row["due"]))
        except (ValueError, OverflowError):
            return None
        if isinstance(current, datetime) and not isinstance(anchor, datetime):
            anchor = localize(datetime.combine(anchor, current.replace(tzinfo=None).time()))
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
                nxt = localize(nxt)
            day = dates.local(nxt).date() if isinstance(nxt, datetime) else nxt
            if day > today:
                return split_due(nxt)
            current = nxt + timedelta(seconds=1) if isinstance(nxt, datetime) else nxt
        raise CrmError(f"follow-up {row['id']}: cannot find its next date")

    def complete(self, followup_id: int, at: datetime | str | None = None
                 ) -> dict[str, Any]:
        """Mark a follow-up done. A recurring one also gets its next occurrence as a new row.

        Returns {"id", "done_at", "next_id", "next_due", "next_due_at"} (next_* None when
        not recurring). Done twice is an error.
        """
        row = self.get(followup_id)
        if row["done_at"]:
            raise CrmError(f"follow-up {followup_id} is already done")
        client = self.clients.get(row["client_id"])
        done_at = utc_at(at, "done at")
        nxt = self.next_due_of(row) if row["every"] else None
        result: dict[str, Any] = {"id": followup_id, "done_at": done_at, "next_id": None,
                                  "next_due": None, "next_due_at": None,
                                  "every": row["every"],
                                  "series_ended": bool(row["every"]) and nxt is None}
        with self.db.change("done", f"completed follow-up {followup_id} of client "
                                 f"{client['id']} {client['name']}", client_id=client["id"]):
            self.db.update("followups", followup_id, {"done_at": done_at})
            if nxt:
                result["next_id"] = self.db.insert("followups", {
                    "client_id": row["client_id"], "due": nxt[0], "due_at": nxt[1],
                    "note": row["note"], "every": row["every"], "anchor": row["anchor"],
                    "interaction_id": row["interaction_id"], "done_at": None,
                    "created_at": utc_now_iso()})
                result["next_due"], result["next_due_at"] = nxt
        return result

    def snooze(self, followup_id: int, when: date | datetime | str) -> dict:
        """Move an open follow-up to a new due date (a date or an aware datetime)."""
        row = self.get(followup_id)
        if row["done_at"]:
            raise CrmError(f"follow-up {followup_id} is already done")
        due, due_at = split_due(when)
        if isinstance(when, date) and not isinstance(when, datetime) and row["due_at"]:
            # Snoozing a timed follow-up to another day keeps its time of day.
            from crmcli import dates

            old = dates.local(dates.from_utc_iso(row["due_at"]))
            moved = localize(datetime.combine(when, old.time().replace(tzinfo=None)))
            due, due_at = split_due(moved)
        with self.db.change("snooze", f"snoozed follow-up {followup_id} to {due}",
                            client_id=row["client_id"]):
            self.db.update("followups", followup_id, {"due": due, "due_at": due_at})
        return self.get(followup_id)

    def open(self, client_id: int | None = None, *, until: str | None = None,
             owner: str | None = None, tag: str | None = None,
             include_archived: bool = False, limit: int | None = None) -> list[dict]:
        """Open follow-ups by due date (then time, then id), with client name and owner.

        until: only those due on or before this local date 'YYYY-MM-DD'.
        """
        sql, params = open_followups_sql(
            "f.id, f.client_id, c.name AS client, c.owner, f.due, f.due_at, f.note, f.every, "
            "f.anchor, f.interaction_id, f.created_at", client_id, until, owner, tag,
            include_archived, limit)
        return self.db.query(sql, params)

    def due(self, *, until: str, owner: str | None = None, tag: str | None = None
            ) -> list[tuple]:
        """What `crm due` lists of open_followups (live clients, due on or before until), as
        plain tuples (id, client_id, client, owner, due, due_at, note), same order: the due
        list of a large book has tens of thousands of rows."""
        sql, params = open_followups_sql(
            "f.id, f.client_id, c.name, c.owner, f.due, f.due_at, f.note", None, until, owner,
            tag, False, None)
        return self.db.conn.execute(sql, params).fetchall()

    def due_counts(self, *, today: str, until: str) -> dict[str, int]:
        """How many of the follow-ups `crm due` lists (open, live clients, due on or before
        until) are overdue, due today and upcoming: the summary's counts, without the rows."""
        row = self.db.conn.execute(
            "SELECT coalesce(sum(f.due < :today), 0), coalesce(sum(f.due = :today), 0), "
            "coalesce(sum(f.due > :today), 0) FROM followups f JOIN clients c "
            "ON c.id = f.client_id WHERE f.done_at IS NULL AND c.archived_at IS NULL "
            "AND f.due <= :until", {"today": today, "until": until}).fetchone()
        return dict(zip(("overdue", "due", "upcoming"), row, strict=True))
