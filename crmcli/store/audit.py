"""The change log read back: history and undo.

Every write is one change (`changes`) with the rows it touched (`change_rows`:
table, row id, op and the old and new values). Undo applies the inverse of each
row, newest first, as a new change whose `undo_of` names the change it reverts;
the reverted change gets `undone_by`. Undoing an undo therefore redoes the
original, and its own inverse is recorded like any other change.

Inverse of each op:

- insert       -> delete the row (refused if the row was changed since or other
                  records now hang off it: deleting would cascade into them);
- update       -> set the old values (refused if the row no longer has the new ones);
- delete       -> insert the old row again with the same id (refused if the id was
                  taken since or a record it points at is gone);
- insert_range -> delete ids first..last (a bulk import logs only its id range);
                  the deleted rows are logged one by one as deletes, in SQL, so a
                  redo can put them back. Long runs of row inserts and deletes are
                  reverted with set-based SQL, so undoing and redoing an import of a
                  million rows takes seconds, not hours.

Refusals are checked against the current rows, so nothing is ever overwritten
silently, and the whole undo is one transaction: it happens completely or not
at all.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from crmcli.errors import CrmError, NotFound
from crmcli.store.search import SEARCHABLE, doc_id_sql

if TYPE_CHECKING:
    from crmcli.store.store import Database

SINGULAR = {"clients": "client", "contacts": "contact", "interactions": "interaction",
            "followups": "follow-up", "deals": "deal", "tags": "tag",
            "stage_changes": "stage change", "invoices": "invoice", "payments": "payment",
            "deal_stage_changes": "deal stage change"}
# Runs of at least this many consecutive inserts or deletes of one table are reverted
# with set-based SQL instead of row by row.
BULK_RUN = 64
HISTORY_FIELDS = ["change_id", "at", "by", "command", "summary", "client_id", "undo_of", "undone_by",
                  "table", "row_id", "op", "old", "new"]
UNDOABLE_FIELDS = ["change_id", "at", "by", "command", "summary", "client_id", "rows", "undo_of",
                   "original"]


class UndoConflict(CrmError):
    """Undo refused because later changes depend on what it would revert."""


def _same(a: Any, b: Any) -> bool:
    if a == b:
        return True
    if a is None or b is None:
        return False
    return str(a) == str(b)


class Audit:
    """The change log read back: history, and undo of a change (tables changes,
    change_rows; it writes to every audited table when it reverts). Uses the database
    only."""

    def __init__(self, db: Database):
        self.db = db

    # --- reading the log -----------------------------------------------

    def get_change(self, change_id: int) -> dict:
        row = self.db.query_one("SELECT * FROM changes WHERE id = ?", (change_id,))
        if row is None:
            raise NotFound(f"no change with id {change_id} (see crm history)")
        return row

    def history(self, client_id: int | None = None, since: str | None = None,
                limit: int | None = None) -> list[dict]:
        """The audit trail, newest change first; one record per row a change touched.

        client_id: only changes made to that client (its own record or records filed
        under it); since: UTC ISO time, only changes at or after it; limit: at most that
        many changes (each may span several records). Fields: change_id, at (UTC ISO), by
        (the database role that made the change on PostgreSQL; None on SQLite), command,
        summary, client_id, undo_of, undone_by, table, row_id, op
        (insert/update/delete/insert_range), old, new (dicts of column values: the whole row
        for insert and delete, the changed columns for update, {first, last} ids for
        insert_range; None where not applicable). A change that touched no audited row
        gives one record with table, row_id, op, old and new all None.
        """
        where, params = [], []
        if client_id is not None:
            where.append("(c.client_id = ? OR c.id IN (SELECT change_id FROM change_rows "
                         "WHERE tbl = 'clients' AND row_id = ?))")
            params += [client_id, client_id]
        if since:
            where.append("c.at >= ?")
            params.append(since)
        sql = "SELECT * FROM changes c"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY c.id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        records = []
        for ch in self.db.query(sql, params):
            base = {"change_id": ch["id"], "at": ch["at"], "by": ch.get("role"),
                    "command": ch["command"],
                    "summary": ch["summary"], "client_id": ch["client_id"],
                    "undo_of": ch["undo_of"], "undone_by": ch["undone_by"]}
            rows = self.db.query("SELECT tbl, row_id, op, old, new FROM change_rows "
                                 "WHERE change_id = ? ORDER BY id", (ch["id"],))
            if not rows:
                records.append({**base, "table": None, "row_id": None, "op": None,
                                "old": None, "new": None})
            for r in rows:
                records.append({**base, "table": r["tbl"], "row_id": r["row_id"], "op": r["op"],
                                "old": json.loads(r["old"]) if r["old"] is not None else None,
                                "new": json.loads(r["new"]) if r["new"] is not None else None})
        return records

    def has_changes_of(self, client_id: int) -> bool:
        """Whether the change log names client_id (a purged or merged-away client too)."""
        return bool(self.db.scalar("SELECT 1 FROM changes WHERE client_id = ? LIMIT 1",
                                   (client_id,)))

    def undoable(self, limit: int | None = None) -> list[dict]:
        """Changes that can still be undone, newest first (the first is what `undo` reverts).

        On a team book, only this role's own changes. Fields: change_id, at, by (the
        database role that made it), command, summary, client_id, rows (records touched),
        undo_of (set when undoing this change would redo change undo_of), original (the
        change that did the real work: itself, or for an undo or redo the change it undid
        or redid).
        """
        own, params_own = self.db.own_changes_sql("c")
        sql = ("SELECT c.id AS change_id, c.at, c.role AS \"by\", c.command, c.summary, "
               "c.client_id, (SELECT count(*) FROM change_rows r WHERE r.change_id = c.id) AS "
               "rows, c.undo_of FROM changes c WHERE c.undone_by IS NULL AND EXISTS "
               f"(SELECT 1 FROM change_rows r WHERE r.change_id = c.id){own} ORDER BY c.id DESC")
        params: list[Any] = list(params_own)
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self.db.query(sql, params)
        for row in rows:
            original = row["change_id"], row["undo_of"]
            while original[1] is not None:
                up = self.db.query_one("SELECT id, undo_of FROM changes WHERE id = ?",
                                       (original[1],))
                original = up["id"], up["undo_of"]
            row["original"] = original[0]
        return rows

    # --- undo ----------------------------------------------------------

    def undo_last(self) -> dict:
        """Revert the newest change not yet undone (redo, if that change is an undo)."""
        return self.undo(None)

    def undo(self, change_id: int | None = None) -> dict:
        """Revert one change (default: the newest not yet undone) as a new change.

        Returns {"change_id": the new change, "undid": the reverted change, "redo": bool,
        "original": the change whose effect was undone or redone, "summary", "rows"}.
        Raises NotFound, or CrmError when the change was already undone, changed nothing
        that can be restored, or later changes depend on it (UndoConflict).
        """
        with self.db.change("undo", "", client_id=None) as new:
            new.details["keep_empty"] = True
            if change_id is None:
                todo = self.undoable(limit=1)
                if not todo:
                    raise CrmError("nothing to undo")
                change_id = todo[0]["change_id"]
            target = self.get_change(change_id)
            if target["id"] == new.id:
                raise NotFound(f"no change with id {change_id} (see crm history)")
            self.db.check_undo(target)
            if target["undone_by"] is not None:
                by = self.get_change(target["undone_by"])
                if by["undone_by"] is not None:
                    raise CrmError(f"change {change_id} was undone by change {by['id']} and "
                                   f"redone by change {by['undone_by']}; undo change "
                                   f"{by['undone_by']} instead")
                raise CrmError(f"change {change_id} was already undone by change {by['id']}")
            rows = self.db.query("SELECT * FROM change_rows WHERE change_id = ? ORDER BY id",
                                 (change_id,))
            if not rows:
                raise CrmError(f"change {change_id} ({target['command']}) changed nothing that "
                               "undo can restore")
            # Follow undo_of back to the change that did the real work: undoing an undo
            # redoes it, undoing that redo undoes it again, and so on.
            original, hops = target, 0
            while original["undo_of"] is not None:
                original, hops = self.get_change(original["undo_of"]), hops + 1
            redo = hops % 2 == 1
            verb = "redid" if redo else "undid"
            new.summary = f"{verb} change {original['id']}: {original['summary']}"
            new.client_id = target["client_id"]
            self.db.conn.execute("UPDATE changes SET command = ?, undo_of = ? WHERE id = ?",
                                 ("redo" if redo else "undo", change_id, new.id))
            try:
                self._revert(target, rows)
            except self.db.integrity_errors() as exc:
                raise UndoConflict(f"cannot undo change {change_id}: {exc}") from None
            self.db.conn.execute("UPDATE changes SET undone_by = ? WHERE id = ?",
                                 (new.id, change_id))
            result = {"change_id": new.id, "undid": change_id, "redo": redo,
                      "original": original["id"], "summary": new.summary,
                      "client_id": target["client_id"], "rows": new.rows}
        return result

    # --- the inverse of each logged row --------------------------------

    def _revert(self, target: dict, rows: list[dict]) -> None:
        i = len(rows) - 1
        while i >= 0:
            row = rows[i]
            j = i
            if row["op"] in ("insert", "delete"):
                while (j > 0 and rows[j - 1]["op"] == row["op"]
                       and rows[j - 1]["tbl"] == row["tbl"]):
                    j -= 1
            run = rows[j:i + 1]
            if len(run) >= BULK_RUN:
                if row["op"] == "insert":
                    self._bulk_uninsert(target, row["tbl"], run[0]["id"], run[-1]["id"])
                else:
                    self._bulk_undelete(target, row["tbl"], run[0]["id"], run[-1]["id"])
            else:
                for r in reversed(run):
                    self._revert_row(target, r)
            i = j - 1

    def _revert_row(self, target: dict, r: dict) -> None:
        tbl, row_id, op = r["tbl"], r["row_id"], r["op"]
        old = json.loads(r["old"]) if r["old"] is not None else None
        new = json.loads(r["new"]) if r["new"] is not None else None
        if op == "insert_range":
            self._uninsert_range(target, tbl, new["first"], new["last"])
            return
        current = self.db.get(tbl, row_id)
        if op in ("insert", "update"):
            if current is None:
                self._conflict(target, tbl, row_id, "deleted")
            if any(k != "id" and not _same(current.get(k), v) for k, v in new.items()):
                self._conflict(target, tbl, row_id, "changed")
            if op == "update":
                self.db.update(tbl, row_id, old)
                return
            self._check_no_dependents(target, tbl, "id = ?", (row_id,))
            self.db.delete(tbl, row_id)
            return
        # delete: put the old row back with its id
        if current is not None:
            self._conflict(target, tbl, row_id, "taken")
        for col, parent in self.db.parents(tbl):
            ref = old.get(col)
            if ref is not None and self.db.get(parent, ref) is None:
                self._conflict(target, parent, ref, "gone")
        self.db.insert(tbl, old)

    def _uninsert_range(self, target: dict, tbl: str, first: int, last: int) -> None:
        # A later change to these rows blocks the undo unless it was itself undone: a
        # change and the undo that reverted it cancel out (an undo undone is a redo, and
        # blocks again).
        later_changes = self.db.conn.execute(
            "SELECT DISTINCT c.id, c.undone_by FROM change_rows cr JOIN changes c "
            "ON c.id = cr.change_id WHERE cr.tbl = ? AND cr.row_id BETWEEN ? AND ? "
            "AND cr.change_id > ? ORDER BY c.id", (tbl, first, last, target["id"])).fetchall()
        touching = {cid for cid, _ in later_changes}
        cancelled: set[int] = set()
        for cid, undone_by in later_changes:
            if cid not in cancelled and undone_by in touching and undone_by not in cancelled:
                cancelled |= {cid, undone_by}
        later = min(touching - cancelled, default=None)
        if later is not None:
            row_id = self.db.scalar(
                "SELECT row_id FROM change_rows WHERE change_id = ? AND tbl = ? "
                                 "AND row_id BETWEEN ? AND ? ORDER BY id LIMIT 1",
                                 (later, tbl, first, last))
            raise UndoConflict(f"cannot undo change {target['id']}: {SINGULAR.get(tbl, tbl)} "
                               f"{row_id} was changed since by change {later}")
        self._check_no_dependents(target, tbl, "id BETWEEN ? AND ?", (first, last))
        where = "t.id BETWEEN ? AND ?"
        self.db.log_rows_sql(tbl, "delete", where, (first, last))
        self._unindex_where(tbl, where, (first, last))
        self.db.conn.execute(f"DELETE FROM {tbl} AS t WHERE {where}", (first, last))

    def _bulk_uninsert(self, target: dict, tbl: str, lo: int, hi: int) -> None:
        """Delete the rows inserted by change_rows lo..hi (all inserts into tbl)."""
        types = self.db.column_types(tbl)
        differs = " OR ".join(
            f"NOT (NOT {self.db.json_has_sql('cr.new', c)} OR "
            f"{self.db.same_sql(self.db.json_field_sql('cr.new', c, types[c]), 't.' + c)})"
            for c in self.db.columns(tbl) if c != "id")
        bad = self.db.query_one(
            f"SELECT cr.row_id, t.id IS NULL AS gone FROM change_rows cr LEFT JOIN {tbl} t "
            f"ON t.id = cr.row_id WHERE cr.id BETWEEN ? AND ? AND (t.id IS NULL OR {differs}) "
            f"ORDER BY cr.id LIMIT 1", (lo, hi))
        if bad:
            self._conflict(target, tbl, bad["row_id"], "deleted" if bad["gone"] else "changed")
        ids = "SELECT row_id FROM change_rows WHERE id BETWEEN ? AND ?"
        self._check_no_dependents(target, tbl, f"id IN ({ids})", (lo, hi))
        where = f"t.id IN ({ids})"
        self.db.log_rows_sql(tbl, "delete", where, (lo, hi))
        self._unindex_where(tbl, where, (lo, hi))
        self.db.conn.execute(f"DELETE FROM {tbl} AS t WHERE {where}", (lo, hi))

    def _bulk_undelete(self, target: dict, tbl: str, lo: int, hi: int) -> None:
        """Insert again the rows deleted by change_rows lo..hi (all deletes from tbl)."""
        taken = self.db.scalar(f"SELECT cr.row_id FROM change_rows cr JOIN {tbl} t ON t.id = "
                               f"cr.row_id WHERE cr.id BETWEEN ? AND ? ORDER BY cr.id LIMIT 1",
                               (lo, hi))
        if taken is not None:
            self._conflict(target, tbl, taken, "taken")
        types = self.db.column_types(tbl)
        for col, parent in self.db.parents(tbl):
            old = self.db.json_field_sql("cr.old", col, types[col])
            missing = self.db.scalar(
                f"SELECT {old} FROM change_rows cr WHERE cr.id BETWEEN ? AND ? AND {old} IS NOT "
                f"NULL AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.id = {old}) LIMIT 1",
                (lo, hi))
            if missing is not None:
                self._conflict(target, parent, missing, "gone")
        cols = self.db.columns(tbl)
        self.db.conn.execute(
            f"INSERT INTO {tbl} ({', '.join(cols)}) SELECT "
            + ", ".join(self.db.json_field_sql("cr.old", c, types[c]) for c in cols)
            + " FROM change_rows cr WHERE cr.id BETWEEN ? AND ? ORDER BY cr.id", (lo, hi))
        where = "t.id IN (SELECT row_id FROM change_rows WHERE id BETWEEN ? AND ?)"
        self.db.log_rows_sql(tbl, "insert", where, (lo, hi))
        if tbl in SEARCHABLE:
            first, last = self.db.conn.execute(
                "SELECT min(row_id), max(row_id) FROM change_rows WHERE id BETWEEN ? AND ?",
                (lo, hi)).fetchone()
            self.db.reindex_range(tbl, first, last)

    # --- helpers -------------------------------------------------------

    def _columns(self, tbl: str) -> list[str]:
        return self.db.columns(tbl)

    def _parents(self, tbl: str) -> list[tuple[str, str]]:
        """(column, parent table) of each foreign key of tbl."""
        return self.db.parents(tbl)

    def _children(self, tbl: str) -> list[tuple[str, str]]:
        """(child table, column) of each foreign key that points at tbl."""
        from crmcli.store.store import AUDITED

        found = []
        for child in sorted(AUDITED):
            for col, parent in self.db.parents(child):
                if parent == tbl:
                    found.append((child, col))
        return found

    def _check_no_dependents(self, target: dict, tbl: str, where: str, params: tuple) -> None:
        """Refuse to delete rows that records outside the change being undone point at:
        the delete would cascade into them (or clear their link) without a trace."""
        for child, col in self._children(tbl):
            row = self.db.query_one(f"SELECT id, {col} AS parent FROM {child} WHERE {col} IN "
                                    f"(SELECT id FROM {tbl} WHERE {where}) LIMIT 1", params)
            if row is None:
                continue
            count = self.db.scalar(f"SELECT count(*) FROM {child} WHERE {col} IN "
                                   f"(SELECT id FROM {tbl} WHERE {where})", params)
            later = self._last_change_of(child, row["id"])
            since = f" since by change {later}" if later and later > target["id"] else ""
            noun = SINGULAR.get(child, child) + ("s" if count != 1 else "")
            raise UndoConflict(
                f"cannot undo change {target['id']}: {SINGULAR.get(tbl, tbl)} {row['parent']} "
                f"has {count} {noun} added{since}; undo or remove those first")

    def _last_change_of(self, tbl: str, row_id: int) -> int | None:
        return self.db.scalar(
            "SELECT max(change_id) FROM change_rows WHERE tbl = ? AND (row_id = ? OR "
            "(op = 'insert_range' AND row_id <= ? AND "
            f"{self.db.json_field_sql('new', 'last', 'integer')} >= ?))",
            (tbl, row_id, row_id, row_id))

    def _conflict(self, target: dict, tbl: str, row_id: int, what: str) -> None:
        """Refuse the undo; what: changed, deleted, taken (id in use again) or gone (a
        record the restored row points at no longer exists)."""
        later = self._last_change_of(tbl, row_id)
        by = f" by change {later}" if later is not None and later > target["id"] else ""
        name = f"{SINGULAR.get(tbl, tbl)} {row_id}"
        text = {"changed": f"{name} was changed since{by}",
                "deleted": f"{name} was deleted since{by}",
                "taken": f"{name} exists again (its id was taken since{by})",
                "gone": f"{name} no longer exists" + (f" (deleted{by})" if by else "")}[what]
        raise UndoConflict(f"cannot undo change {target['id']}: {text}")

    def _unindex_where(self, tbl: str, where: str, params: tuple) -> None:
        if tbl not in SEARCHABLE:
            return
        self.db.conn.execute(f"DELETE FROM search_index WHERE rowid IN (SELECT "
                             f"{doc_id_sql(tbl, 't.id')} FROM {tbl} t WHERE {where})", params)
