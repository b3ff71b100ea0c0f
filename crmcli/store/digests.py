"""The ledger of due digests already sent (tables `digests` and `digest_items`).

A digest is one message to one recipient. Its items are the `item_key`s of the due rows it
carried (`followup:<id>:<due>`, `stale:<client>:<due>`, `invoice:<id>:step<days>`),
recorded per local day and recipient, so that an hourly cron job mails the same items once
a day. The ledger is written only after the server (or the sendmail command) accepted the
message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmcli.store.store import Database

DIGEST_FIELDS = ["id", "sent_at", "day", "transport", "recipients", "subject", "item_count"]


class _Rehearsal(Exception):
    """Rolls back the rehearsal of a digest record."""


class Digests:
    """The ledger of due digests sent. Uses the database only."""

    def __init__(self, db: Database):
        self.db = db

    def mailed_item_keys(self, day: str, recipient: str) -> set[str]:
        """The item keys already mailed to recipient (compared case-insensitively) on day."""
        return {r["item_key"] for r in self.db.query(
            "SELECT item_key FROM digest_items WHERE day = ? AND recipient = ?",
            (day, recipient.strip().lower()))}

    def mailed_ever(self, recipient: str, prefix: str) -> set[str]:
        """The item keys starting with prefix ever mailed to recipient, on any day."""
        return {r["item_key"] for r in self.db.query(
            "SELECT DISTINCT item_key FROM digest_items WHERE recipient = ? AND item_key LIKE ?",
            (recipient.strip().lower(), prefix.replace("%", "").replace("_", "") + "%"))}

    def incarnations(self, table: str, ids: Iterable[int]) -> dict[int, int]:
        """The change that last inserted each row: with the id, a name no later row takes.

        SQLite hands the id of an undone or purged row to the next one inserted; a ledger
        keyed on the id alone would take the new row for the old one, already mailed."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        found: dict[int, int] = {}
        for row_id, change_id in self.db.conn.execute(
                "SELECT row_id, max(change_id) FROM change_rows WHERE tbl = ? AND op = 'insert' "
                "AND row_id IN (SELECT value FROM json_each(?)) GROUP BY row_id",
                (table, json.dumps(wanted))):
            found[row_id] = change_id
        # Bulk inserts log a range of ids in one row.
        ranges = self.db.conn.execute(
            f"SELECT change_id, row_id, {self.db.json_field_sql('new', 'last', 'integer')} "
            "FROM change_rows WHERE tbl = ? AND op = 'insert_range'", (table,)).fetchall()
        for change_id, first, last in ranges:
            for row_id in wanted:
                if first <= row_id <= (last or first) and change_id > found.get(row_id, 0):
                    found[row_id] = change_id
        return found

    def record(self, *, day: str, transport: str, recipient: str, subject: str,
               item_keys: Iterable[str]) -> int:
        """Record one accepted digest and its items; returns the digest id.

        Items already in the ledger for (day, recipient) (a --force resend) are not recorded
        twice; item_count is the number of items the message carried.
        """
        keys = list(dict.fromkeys(item_keys))
        noun = "item" if len(keys) == 1 else "items"
        with self.db.change("due --email", f"mailed {len(keys)} due {noun} to {recipient} "
                                        f"({transport})"):
            return self._write(day, transport, recipient, subject, keys)

    def rehearse(self, *, day: str, transport: str, recipient: str, subject: str,
                 item_keys: Iterable[str]) -> None:
        """Write the record of a digest as record_digest would, then roll it back.

        Raises StoreError (read-only file or folder, database busy) before the
        message goes out: a digest whose sending could not be recorded would be mailed again
        by every run of the cron job."""
        try:
            with self.db.change("due --email", "rehearsal"):
                self._write(day, transport, recipient, subject,
                                   list(dict.fromkeys(item_keys)))
                raise _Rehearsal
        except _Rehearsal:
            pass

    def _write(self, day: str, transport: str, recipient: str, subject: str,
               keys: list[str]) -> int:
        from crmcli.store.store import utc_now_iso

        who = recipient.strip().lower()
        known = self.mailed_item_keys(day, who)
        digest_id = self.db.insert("digests", {
            "sent_at": utc_now_iso(), "day": day, "transport": transport,
            "recipients": recipient, "subject": subject, "item_count": len(keys)})
        for key in keys:
            if key not in known:
                self.db.insert("digest_items", {"digest_id": digest_id, "day": day,
                                                "recipient": who, "item_key": key})
        return digest_id

    def sent(self, day: str | None = None) -> list[dict]:
        """Digests sent (on day, a local 'YYYY-MM-DD', if given), oldest first."""
        sql = f"SELECT {', '.join(DIGEST_FIELDS)} FROM digests"
        params: tuple = ()
        if day:
            sql += " WHERE day = ?"
            params = (day,)
        return self.db.query(sql + " ORDER BY id", params)

    def database_identity(self) -> str:
        """A short stable name of this database (from when it was created), e.g. for
        calendar UIDs: the same file, its backups and copies give the same identity."""
        import hashlib

        first = next(iter(self.db.applied_migrations()), None)
        seed = (f"{first['name']}|{first['applied_at']}" if first else
                str(self.db.path.resolve() if isinstance(self.db.path, Path) else self.db.path))
        return "crm-" + hashlib.sha1(seed.encode("utf-8")).hexdigest()[:12]
