"""The floors the read commands are measured against: the same answer, hand-written.

    python bench/floor.py [--typer] OPERATION DB ARG

Imports sqlite3 (and typer with --typer: the framework floor), runs hand-written SQL that
gives what the crm command shows, and prints the rows as tab-separated text. Nothing of
crmcli is imported. OPERATION is due, ls-tag, show or search; "today" is 2026-11-22 (the
benchmark pins CRM_NOW to it) and due looks 7 days ahead, as `crm due` does by default.
"""

import sys

args = sys.argv[1:]
if args and args[0] == "--typer":
    import typer  # noqa: F401

    args = args[1:]
import sqlite3  # noqa: E402

operation, db, arg = args
conn = sqlite3.connect(db)
out = sys.stdout
TODAY, UNTIL = "2026-11-22", "2026-11-29"


def emit(rows):
    out.write("\n".join("\t".join("" if v is None else str(v) for v in row) for row in rows))
    out.write("\n")


if operation == "due":
    emit(conn.execute(
        """SELECT f.id, c.name, f.due, f.note,
                  (SELECT max(at) FROM interactions i WHERE i.client_id = f.client_id)
           FROM followups f JOIN clients c ON c.id = f.client_id
           WHERE f.done_at IS NULL AND c.archived_at IS NULL AND f.due <= ?
           ORDER BY f.due, coalesce(f.due_at, ''), f.id""", (UNTIL,)))
elif operation == "ls-tag":
    emit(conn.execute(
        """SELECT c.id, c.name, c.company, c.stage, c.owner,
                  (SELECT group_concat(tag, ', ') FROM
                      (SELECT tag FROM tags WHERE client_id = c.id ORDER BY tag)), c.email
           FROM clients c
           WHERE c.archived_at IS NULL AND c.id IN (SELECT client_id FROM tags WHERE tag = ?)
           ORDER BY c.name COLLATE NOCASE, c.id""", (arg,)))
elif operation == "show":
    client = conn.execute("SELECT * FROM clients WHERE external_id = ?", (arg,)).fetchone()
    cid = client[0]
    emit([client])
    emit(conn.execute("SELECT tag FROM tags WHERE client_id = ? ORDER BY tag", (cid,)))
    emit(conn.execute("SELECT * FROM contacts WHERE client_id = ?", (cid,)))
    emit(conn.execute("SELECT at, from_stage, to_stage, note FROM stage_changes "
                      "WHERE client_id = ? ORDER BY at", (cid,)))
    emit(conn.execute("SELECT at, channel, direction, kind, summary FROM interactions "
                      "WHERE client_id = ? ORDER BY at DESC LIMIT 20", (cid,)))
    emit(conn.execute("SELECT at, amount, currency, status, title FROM deals "
                      "WHERE client_id = ? ORDER BY at DESC", (cid,)))
    emit(conn.execute("SELECT due, note FROM followups WHERE client_id = ? AND done_at IS NULL "
                      "ORDER BY due", (cid,)))
    # The revenue tier (A/B/C) ranks the client's won revenue against the whole book.
    totals = conn.execute("SELECT client_id, sum(amount) AS total FROM deals "
                          "WHERE status = 'won' GROUP BY client_id ORDER BY total DESC")
    grand, running, rank = 0.0, 0.0, []
    for row in totals:
        rank.append(row)
        grand += row[1]
    tier = "C"
    for other, total in rank:
        running += total
        if other == cid:
            tier = "A" if running <= 0.8 * grand else ("B" if running <= 0.95 * grand else "C")
            break
    emit([(tier,)])
elif operation == "search":
    words = " AND ".join('"' + w.replace('"', '""') + '"*' for w in arg.split())
    hits = conn.execute(
        """SELECT s.rowid % 4, s.rowid / 4, c.id, c.name FROM search_index s
           JOIN clients c ON c.id = s.client_id
           WHERE search_index MATCH ? AND c.archived_at IS NULL
           ORDER BY bm25(search_index) LIMIT 50""", (words,)).fetchall()
    tables = {0: "clients", 1: "contacts", 2: "interactions"}
    rows = []
    for kind, ref, cid, name in hits:
        column = "summary" if kind == 2 else "name"
        found = conn.execute(f"SELECT {column} FROM {tables[kind]} WHERE id = ?", (ref,))
        rows.append((kind, ref, cid, name, (found.fetchone() or ("",))[0]))
    emit(rows)
else:
    sys.exit(f"unknown operation {operation}")
