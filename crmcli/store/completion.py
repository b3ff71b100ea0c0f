"""Values from the book for shell completion: prefix ranges on indexed columns, capped, so
that a big book completes as fast as a small one."""

from __future__ import annotations

from typing import Any

CAP = 200
_TOP = "\U0010ffff"  # sorts after every character: [prefix, prefix + _TOP) is the prefix range


def client_names(store: Any, prefix: str) -> list[str]:
    return [r["name"] for r in store.query(
        "SELECT DISTINCT name FROM clients WHERE name COLLATE NOCASE >= ? "
        "AND name COLLATE NOCASE < ? AND archived_at IS NULL "
        "ORDER BY name COLLATE NOCASE LIMIT ?", (prefix, prefix + _TOP, CAP))]


def client_ids(store: Any, prefix: str) -> list[str]:
    low = int(prefix) if prefix.isdigit() else 0
    return [str(r["id"]) for r in store.query(
        "SELECT id FROM clients WHERE id >= ? AND archived_at IS NULL ORDER BY id LIMIT ?",
        (low, CAP)) if str(r["id"]).startswith(prefix)]


def tags(store: Any, prefix: str) -> list[str]:
    return [r["tag"] for r in store.query(
        "SELECT DISTINCT tag FROM tags WHERE tag >= ? AND tag < ? ORDER BY tag LIMIT ?",
        (prefix, prefix + _TOP, CAP))]


def owners(store: Any, prefix: str) -> list[str]:
    return [r["owner"] for r in store.query(
        "SELECT DISTINCT owner FROM clients WHERE owner >= ? AND owner < ? ORDER BY owner "
        "LIMIT ?", (prefix, prefix + _TOP, CAP))]
