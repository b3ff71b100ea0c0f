"""Values from the book for shell completion: prefix ranges on indexed columns, capped, so
that a big book completes as fast as a small one."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmcli.store.store import Database

CAP = 200
_TOP = "\U0010ffff"  # sorts after every character: [prefix, prefix + _TOP) is the prefix range


class Completion:
    """Completion candidates from clients and tags (read only). Uses the database only."""

    def __init__(self, db: Database):
        self.db = db

    def client_names(self, prefix: str) -> list[str]:
        return [r["name"] for r in self.db.query(
            "SELECT name FROM clients WHERE name COLLATE NOCASE >= ? "
            "AND name COLLATE NOCASE < ? AND archived_at IS NULL "
            "GROUP BY name ORDER BY name COLLATE NOCASE, name LIMIT ?",
            (prefix, prefix + _TOP, CAP))]

    def client_ids(self, prefix: str) -> list[str]:
        low = int(prefix) if prefix.isdigit() else 0
        return [str(r["id"]) for r in self.db.query(
            "SELECT id FROM clients WHERE id >= ? AND archived_at IS NULL ORDER BY id LIMIT ?",
            (low, CAP)) if str(r["id"]).startswith(prefix)]

    def tags(self, prefix: str) -> list[str]:
        return [r["tag"] for r in self.db.query(
            "SELECT DISTINCT tag FROM tags WHERE tag >= ? AND tag < ? ORDER BY tag LIMIT ?",
            (prefix, prefix + _TOP, CAP))]

    def owners(self, prefix: str) -> list[str]:
        return [r["owner"] for r in self.db.query(
            "SELECT DISTINCT owner FROM clients WHERE owner >= ? AND owner < ? ORDER BY owner "
            "LIMIT ?", (prefix, prefix + _TOP, CAP))]
