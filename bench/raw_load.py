"""The raw import baseline: the physical limit of loading a file with Python and SQLite.

    python bench/raw_load.py KIND FILE DB [--no-fts | --floor]

Reads FILE (.csv with the csv module, .ndjson with the json module), resolves each row's
`client` (external id or email) with one dict built up front, and inserts the rows with
`executemany` in ONE transaction into DB, a database created by crmcli's own store, so
the schema and indexes are exactly crm's. Like crm, it also writes the full-text search
documents (CJK characters spaced apart, as crmcli.store.search does) and, for clients,
their tags and first stage; --no-fts leaves the search index out. No validation, no
audit trail, no crmcli import: this is the floor, not a usable importer.

--floor (interactions only): the least a store of interactions must write, into tables of
its own in DB: the rows, one (client, at) index and an FTS5 index of the summaries. It is
the floor `crm import interactions` is held to (bench/run.py: "floor: rows + (client, at)
+ FTS5").
"""

import csv
import json
import re
import sqlite3
import sys
from datetime import UTC, datetime
from itertools import count

# Copied from crmcli/store/search.py (segment): the baseline must not import crmcli.
_CJK = (r"\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3130-\u318f\u31a0-\u31ff"
        r"\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
        r"\U00020000-\U0002fa1f")
_CJK_CHAR = re.compile(f"[{_CJK}]")


def segment(text):
    if not text or not _CJK_CHAR.search(text):
        return text or ""
    return _CJK_CHAR.sub(lambda m: f" {m.group(0)} ", text)


def records(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        if path.endswith(".ndjson"):
            for line in f:
                if line.strip():
                    yield json.loads(line)
        else:
            for row in csv.DictReader(f):
                yield {k: (v if v != "" else None) for k, v in row.items()}


FLOOR_SCHEMA = """
CREATE TABLE floor_interactions (id INTEGER PRIMARY KEY, client_id INTEGER NOT NULL, at TEXT
    NOT NULL, channel TEXT, direction TEXT, kind TEXT, summary TEXT, score INTEGER,
    created_at TEXT);
CREATE INDEX floor_interactions_client_at ON floor_interactions(client_id, at);
CREATE VIRTUAL TABLE floor_search USING fts5(body, client_id UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2');
"""


def floor(conn, path, client_of, now):
    """The rows, one (client, at) index and the summaries' FTS5 index: nothing else."""
    conn.executescript(FLOOR_SCHEMA)
    conn.execute("BEGIN IMMEDIATE")
    insert = ("INSERT INTO floor_interactions (id, client_id, at, channel, direction, kind, "
              "summary, score, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
    batch, docs, ids = [], [], count(1)
    for r in records(path):
        iid, cid = next(ids), client_of(r)
        score = r.get("score")
        batch.append((iid, cid, r["at"], r.get("channel") or "other",
                       r.get("direction") or "out", r.get("kind") or "note",
                       r.get("summary") or "", None if score is None else int(score), now))
        if r.get("summary"):
            docs.append((iid, segment(r["summary"]), cid))
        if len(batch) >= 50_000:
            conn.executemany(insert, batch)
            conn.executemany("INSERT INTO floor_search (rowid, body, client_id) "
                             "VALUES (?, ?, ?)", docs)
            batch.clear()
            docs.clear()
    conn.executemany(insert, batch)
    conn.executemany("INSERT INTO floor_search (rowid, body, client_id) VALUES (?, ?, ?)", docs)
    conn.execute("COMMIT")


def client_resolver(conn):
    by_ref = dict(conn.execute("SELECT external_id, id FROM clients "
                               "WHERE external_id IS NOT NULL"))
    by_ref.update(conn.execute("SELECT lower(email), id FROM clients "
                               "WHERE email IS NOT NULL AND external_id IS NULL"))

    def client_of(r):
        ref = r["client"]
        return by_ref.get(ref) or by_ref[ref.lower()]

    return client_of


def main(kind, path, db, fts=True, floor_only=False):
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if floor_only:
        if kind != "interactions":
            sys.exit("--floor: interactions only")
        floor(conn, path, client_resolver(conn), now)
        conn.close()
        return
    conn.execute("BEGIN IMMEDIATE")
    if kind == "clients":
        first = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM clients").fetchone()[0]
        ids = count(first)
        tags, docs, stages = [], [], []

        def client_rows():
            for r in records(path):
                cid = next(ids)
                tag_list = r.get("tags") or []
                if isinstance(tag_list, str):
                    tag_list = json.loads(tag_list)
                tags.extend((cid, t) for t in tag_list)
                if r.get("stage"):
                    stages.append((cid, r["stage"], r["created_at"] or now))
                if fts:
                    body = " ".join(str(r[k]) for k in ("name", "company", "email", "phone",
                                                        "industry", "notes", "external_id")
                                    if r.get(k))
                    docs.append((cid * 4, segment(body), cid))
                yield (cid, r["name"], r.get("company"), r.get("email"), r.get("phone"),
                       r.get("industry"), r.get("size"), r.get("owner"), r.get("source"),
                       r.get("stage"), r.get("external_id"), "{}", r.get("notes"),
                       r.get("created_at") or now, now)

        conn.executemany(
            "INSERT INTO clients (id, name, company, email, phone, industry, size, owner, "
            "source, stage, external_id, custom, notes, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", client_rows())
        conn.executemany("INSERT INTO tags (client_id, tag) VALUES (?, ?)", tags)
        conn.executemany("INSERT INTO stage_changes (client_id, from_stage, to_stage, at) "
                         "VALUES (?, NULL, ?, ?)", stages)
        conn.executemany("INSERT INTO search_index (rowid, body, client_id) VALUES (?, ?, ?)",
                         docs)
    else:
        client_of = client_resolver(conn)
        if kind == "interactions":
            first = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM interactions").fetchone()[0]
            ids = count(first)
            docs = []

            def rows():
                for r in records(path):
                    iid, cid = next(ids), client_of(r)
                    if fts and r.get("summary"):
                        docs.append((iid * 4 + 2, segment(r["summary"]), cid))
                        if len(docs) >= 50_000:
                            conn.executemany("INSERT INTO search_index (rowid, body, client_id) "
                                             "VALUES (?, ?, ?)", docs)
                            docs.clear()
                    score = r.get("score")
                    yield (iid, cid, r["at"], r.get("channel") or "other",
                           r.get("direction") or "out", r.get("kind") or "note",
                           r.get("summary") or "", None if score is None else int(score), now)

            # Batches, so that the search documents are written as we go (flat memory).
            batch, insert = [], ("INSERT INTO interactions (id, client_id, at, channel, "
                                 "direction, kind, summary, score, created_at) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
            for row in rows():
                batch.append(row)
                if len(batch) >= 50_000:
                    conn.executemany(insert, batch)
                    batch.clear()
            conn.executemany(insert, batch)
            conn.executemany("INSERT INTO search_index (rowid, body, client_id) VALUES (?, ?, ?)",
                             docs)
        elif kind == "deals":
            conn.executemany(
                "INSERT INTO deals (client_id, at, title, amount, currency, status, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                ((client_of(r), r["at"], r.get("title"), r["amount"], r.get("currency") or "USD",
                  r.get("status") or "won", now) for r in records(path)))
        elif kind == "followups":
            conn.executemany(
                "INSERT INTO followups (client_id, due, note, done_at, anchor, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                ((client_of(r), r["due"], r.get("note") or "", r.get("done_at"), r["due"], now)
                 for r in records(path)))
        else:
            sys.exit(f"unknown kind {kind}")
    conn.execute("COMMIT")
    conn.close()


if __name__ == "__main__":
    argv = sys.argv[1:]
    no_fts, floor_only = "--no-fts" in argv, "--floor" in argv
    argv = [a for a in argv if a not in ("--no-fts", "--floor")]
    if len(argv) != 3 or (no_fts and floor_only):
        sys.exit(__doc__)
    main(*argv, fts=not no_fts, floor_only=floor_only)
