"""The two SQLite encryption builds side by side, against the stdlib's SQLite.

    python bench/encryption_drivers.py [--rows 50000] [--repeat 5]

Candidates: SQLCipher through `sqlcipher3` (the `sqlcipher3-binary` wheel: a DB-API
module, a fork of the stdlib's sqlite3), and SQLite3 Multiple Ciphers through
`apsw-sqlite3mc` (APSW: its own API, not DB-API). For each: open a file and key it (with a
passphrase, which runs the build's key derivation on every open, and with a raw 256-bit
key, which does not), write ROWS rows with an FTS5 index in one transaction (an import),
then read them back (a full scan, an indexed lookup per client, a full-text query). The
median of --repeat runs, in CPU milliseconds of this process (the machine may be busy:
wall time would measure the neighbours), and the ratio to plain SQLite.

This is the measurement behind README's "Why these libraries"; bench/encryption.py
measures crm itself on an encrypted book.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

PASSPHRASE = "correct horse battery staple"
RAW_KEY = "2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe"

SCHEMA = [
    "CREATE TABLE interactions (id INTEGER PRIMARY KEY, client_id INTEGER NOT NULL, "
    "at TEXT NOT NULL, channel TEXT, summary TEXT, score INTEGER)",
    "CREATE INDEX interactions_client_at ON interactions(client_id, at)",
    "CREATE VIRTUAL TABLE search USING fts5(body)",
]
WORDS = ("renewal pricing call follow-up demo contract invoice meeting onboarding "
         "feedback complaint quote upgrade support visit").split()


def rows(n: int) -> list[tuple]:
    rnd = random.Random(42)
    return [(i, rnd.randrange(1, n // 20 + 2), f"2026-{rnd.randrange(1, 13):02d}-"
             f"{rnd.randrange(1, 29):02d}T10:00:00Z", rnd.choice(("call", "email", "meeting")),
             " ".join(rnd.choice(WORDS) for _ in range(12)), rnd.randrange(0, 11))
            for i in range(1, n + 1)]


class Stdlib:
    name = "sqlite3 (plain)"

    def open(self, path: str, key: str | None):
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA user_version").fetchone()
        return conn

    def run(self, conn, sql, params=()):
        return conn.execute(sql, params).fetchall()

    def many(self, conn, sql, seq):
        conn.executemany(sql, seq)


class SqlCipher(Stdlib):
    name = "sqlcipher3"

    def open(self, path, key):
        import sqlcipher3

        conn = sqlcipher3.connect(path, isolation_level=None)
        conn.execute(_key_pragma(key))
        conn.execute("PRAGMA user_version").fetchone()
        return conn


class Sqlite3mc(Stdlib):
    name = "apsw-sqlite3mc"

    def open(self, path, key):
        import apsw

        conn = apsw.Connection(path)
        conn.execute(_key_pragma(key))
        conn.execute("PRAGMA user_version").fetchall()
        return conn

    def run(self, conn, sql, params=()):
        return conn.execute(sql, params).fetchall()

    def many(self, conn, sql, seq):
        conn.executemany(sql, seq)


def _key_pragma(key: str) -> str:
    return (f"PRAGMA key = \"x'{key}'\"" if len(key) == 64
            else "PRAGMA key = '" + key.replace("'", "''") + "'")


def measure(driver, key, data, folder: Path, repeat: int) -> dict[str, float]:
    times: dict[str, list[float]] = {"open": [], "import": [], "read": []}
    clients = sorted({r[1] for r in data})[:200]
    for i in range(repeat):
        path = str(folder / f"{driver.name}-{i}-{key and len(key)}.db")
        conn = driver.open(path, key)
        for stmt in SCHEMA:
            driver.run(conn, stmt)
        t = time.process_time()
        driver.run(conn, "BEGIN")
        driver.many(conn, "INSERT INTO interactions VALUES (?, ?, ?, ?, ?, ?)", data)
        driver.many(conn, "INSERT INTO search (rowid, body) VALUES (?, ?)",
                    [(r[0], r[4]) for r in data])
        driver.run(conn, "COMMIT")
        times["import"].append(time.process_time() - t)
        conn.close()

        t = time.process_time()
        conn = driver.open(path, key)
        times["open"].append(time.process_time() - t)
        t = time.process_time()
        driver.run(conn, "SELECT count(*), sum(length(summary)) FROM interactions")
        for c in clients:
            driver.run(conn, "SELECT * FROM interactions WHERE client_id = ? ORDER BY at", (c,))
        driver.run(conn, "SELECT rowid FROM search WHERE search MATCH 'renewal AND invoice'")
        times["read"].append(time.process_time() - t)
        conn.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(path + suffix).unlink(missing_ok=True)
    return {k: statistics.median(v) * 1000 for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    data = rows(args.rows)
    cases = [(Stdlib(), None), (SqlCipher(), PASSPHRASE), (SqlCipher(), RAW_KEY),
             (Sqlite3mc(), PASSPHRASE), (Sqlite3mc(), RAW_KEY)]
    with tempfile.TemporaryDirectory() as tmp:
        results = [(d, k, measure(d, k, data, Path(tmp), args.repeat)) for d, k in cases]
    base = results[0][2]
    print(f"{args.rows} rows, median of {args.repeat}, CPU milliseconds (ratio to plain)\n")
    print("| driver | key | open + key | import | read |")
    print("|---|---|---:|---:|---:|")
    for driver, key, r in results:
        what = "-" if key is None else ("raw 256-bit" if len(key) == 64 else "passphrase")
        cells = [f"{r[k]:.1f} ({r[k] / base[k]:.2f}x)" if k != "open" else f"{r[k]:.1f}"
                 for k in ("open", "import", "read")]
        print(f"| {driver.name} | {what} | " + " | ".join(cells) + " |")
    version = ".".join(map(str, os.sys.version_info[:3]))
    print(f"\nPython {version}, SQLite {sqlite3.sqlite_version}")


if __name__ == "__main__":
    main()
