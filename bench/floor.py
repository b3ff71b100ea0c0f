"""The floors the read commands are measured against: the same output, hand-written.

    python bench/floor.py [--typer] OPERATION DB ARG

Imports sqlite3 (and typer with --typer: the framework floor), runs hand-written SQL for
what the crm command shows, and prints the very text `crm` prints on a pipe (the same
rows, columns and alignment: bench/run.py checks that the two outputs are identical), so
that the comparison is of the same work. Nothing of crmcli is imported.

OPERATION is due, ls-tag, show or search (Latin words only: no CJK segmenting). The book
is the benchmark's: "today" is 2026-11-22 (run.py pins CRM_NOW), the zone is UTC, no
config file (so the defaults: due looks 7 days ahead, no cadence rules, USD, tiers
80/95 %, lifecycle 90/180 days and twice the usual gap, CLV margin 1, lifetime cap 10
years), no saved model fit.
"""

import sys

args = sys.argv[1:]
if args and args[0] == "--typer":
    import typer  # noqa: F401

    args = args[1:]
import sqlite3  # noqa: E402
import unicodedata  # noqa: E402
from datetime import date  # noqa: E402

operation, db, arg = args
conn = sqlite3.connect(db)
out = sys.stdout
TODAY, UNTIL = "2026-11-22", "2026-11-29"
# Local midnights (UTC zone) of tomorrow, and 12 and 24 months before it.
END, TRAILING, PREVIOUS = "2026-11-23T00:00:00Z", "2025-11-23T00:00:00Z", "2024-11-23T00:00:00Z"
LIVE = "client_id NOT IN (SELECT id FROM clients WHERE archived_at IS NOT NULL)"
# Exact sums of decimal text: integer parts, and fractions padded to 12 digits.
EXACT = ("sum(CAST(amount AS INTEGER)), sum(CAST(substr(amount || '000000000000', "
         "instr(amount, '.') + 1, 12) AS INTEGER) * (instr(amount, '.') > 0)), "
         "max((length(amount) - instr(amount, '.')) * (instr(amount, '.') > 0))")


def width(text):
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(headers, rows, right=()):
    """Plain aligned text: two spaces between columns, numbers right-aligned."""
    rows = [["" if v is None else str(v) for v in row] for row in rows]
    sizes = [[width(v) for v in row] for row in rows]
    widths = [max([len(h)] + [s[i] for s in sizes]) for i, h in enumerate(headers)]

    def line(cells, cell_sizes):
        return "  ".join(" " * (widths[i] - n) + c if i in right else c + " " * (widths[i] - n)
                         for i, (c, n) in enumerate(zip(cells, cell_sizes, strict=True))).rstrip()

    out.write(line(headers, [len(h) for h in headers]) + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    out.write("\n".join(line(r, s) for r, s in zip(rows, sizes, strict=True)) + "\n")


def exact(m_int, m_frac, m_scale):
    from decimal import Decimal

    if m_int is None:
        return Decimal(0)
    scale = min(m_scale or 0, 12)
    whole = (m_int * 10 ** 12 + (m_frac or 0)) // 10 ** (12 - scale)
    return Decimal(f"{whole}E-{scale}") if scale else Decimal(whole)


def local(at):
    return at[:10] + " " + at[11:16] if at and len(at) >= 20 and at.endswith("Z") else at


if operation == "due":
    table(["id", "client", "status", "due", "late", "what", "last contact"], conn.execute(
        """SELECT f.id, c.name,
                  CASE WHEN f.due < :today THEN 'overdue' WHEN f.due = :today THEN 'due'
                       ELSE 'upcoming' END,
                  f.due || coalesce(' ' || strftime('%H:%M', f.due_at), ''),
                  CASE WHEN f.due < :today
                       THEN CAST(julianday(:today) - julianday(f.due) AS INTEGER) || 'd late'
                       WHEN f.due = :today THEN 'today'
                       ELSE 'in ' || CAST(julianday(f.due) - julianday(:today) AS INTEGER)
                            || 'd' END,
                  coalesce(nullif(f.note, ''), 'follow up'),
                  coalesce(date((SELECT max(at) FROM interactions i
                                 WHERE i.client_id = f.client_id)), 'never')
           FROM followups f JOIN clients c ON c.id = f.client_id
           WHERE f.done_at IS NULL AND c.archived_at IS NULL AND f.due <= :until
           ORDER BY f.due, coalesce(f.due_at, ''), f.id""",
        {"today": TODAY, "until": UNTIL}), right={0})
elif operation == "ls-tag":
    table(["id", "name", "company", "stage", "owner", "tags", "email"], conn.execute(
        """SELECT c.id, c.name, c.company, c.stage, c.owner,
                  (SELECT group_concat(tag, ', ') FROM
                      (SELECT tag FROM tags WHERE client_id = c.id ORDER BY tag)), c.email
           FROM clients c
           WHERE c.archived_at IS NULL AND c.id IN (SELECT client_id FROM tags WHERE tag = ?)
           ORDER BY c.name COLLATE NOCASE, c.id""", (arg,)), right={0})
elif operation == "search":
    words = " AND ".join('"' + w.replace('"', '""') + '"*' for w in arg.split())
    hits = conn.execute(
        """SELECT s.rowid % 4, s.rowid / 4, c.id, c.name FROM search_index s
           JOIN clients c ON c.id = s.client_id
           WHERE search_index MATCH ? AND c.archived_at IS NULL
           ORDER BY bm25(search_index) LIMIT 50""", (words,)).fetchall()
    rows = []
    for kind, ref, cid, name in hits:
        if kind == 2:
            match, at = conn.execute("SELECT substr(summary, 1, 200), at FROM interactions "
                                     "WHERE id = ?", (ref,)).fetchone()
        elif kind == 1:
            found = conn.execute("SELECT name, role, email FROM contacts WHERE id = ?",
                                 (ref,)).fetchone()
            match, at = " · ".join(v for v in found if v), None
        else:
            company, email, own = conn.execute("SELECT company, email, name FROM clients "
                                               "WHERE id = ?", (ref,)).fetchone()
            match, at = " · ".join(v for v in (company, email) if v) or own, None
        rows.append((("client", "contact", "interaction")[kind], ref, cid, name, match, at))
    table(["kind", "id", "client_id", "client", "match", "at"], rows, right={1, 2})
elif operation == "show":
    from decimal import ROUND_HALF_EVEN, Decimal

    conn.row_factory = sqlite3.Row
    c = conn.execute("SELECT * FROM clients WHERE external_id = ?", (arg,)).fetchone()
    cid = c["id"]
    one = conn.execute
    # Revenue, CLV: the client's won deals, summed exactly.
    revenue = exact(*one(f"SELECT {EXACT} FROM deals WHERE client_id = ? AND status = 'won'",
                         (cid,)).fetchone())
    h = one(f"SELECT count(*), {EXACT} FROM deals WHERE client_id = ? AND status = 'won' "
            "AND currency = 'USD' AND at < ?", (cid, END)).fetchone()
    historical = exact(*h[1:])
    predicted = None
    cent = Decimal("0.01")
    if h[0]:
        aov = (historical / h[0]).quantize(cent, rounding=ROUND_HALF_EVEN)
        year = one("SELECT count(*) FROM deals WHERE client_id = ? AND status = 'won' AND "
                   "currency = 'USD' AND at >= ? AND at < ?", (cid, TRAILING, END)).fetchone()[0]
        first, both = one(
            f"""SELECT sum(a), sum(a AND b) FROM (SELECT client_id, max(at < :mid) AS a,
                       max(at >= :mid) AS b FROM deals WHERE status = 'won' AND at >= :lo
                       AND at < :hi AND {LIVE} GROUP BY client_id)""",
            {"lo": PREVIOUS, "mid": TRAILING, "hi": END}).fetchone()
        churn = round(1 - both / first, 4) if first else None
        life = None if churn is None else 10.0 if churn <= 0 else round(min(1 / churn, 10), 4)
        if life is not None:
            predicted = (aov * Decimal(repr(float(year))) * Decimal(repr(life))
                         * Decimal("1.0")).quantize(cent, rounding=ROUND_HALF_EVEN)
    # Tier: the client's place in the live book by won revenue (ties by id), exactly.
    tier = "C"
    if not c["archived_at"]:
        units = [(k, m * 10 ** 12 + (f or 0)) for k, m, f, _ in one(
            f"SELECT client_id, {EXACT} FROM deals WHERE status = 'won' AND currency = 'USD' "
            f"AND {LIVE} GROUP BY client_id")]
        mine = next((u for k, u in units if k == cid), 0)
        total = sum(u for _, u in units)
        ahead = sum(u for k, u in units if u > mine or (u == mine and k < cid))
        if mine > 0:  # A while the share ahead is under 80 %, B under 95 %
            tier = "A" if ahead * 5 < 4 * total else "B" if ahead * 20 < 19 * total else "C"
    # Lifecycle: days since the last day with a won deal, against the usual gap.
    days = [d for (d,) in one("SELECT DISTINCT date(at) FROM deals WHERE client_id = ? AND "
                              "status = 'won' ORDER BY 1", (cid,))]
    lifecycle = {"status": "never"}
    if days:
        ords = [date.fromisoformat(d).toordinal() for d in days]
        gaps = sorted(b - a for a, b in zip(ords, ords[1:], strict=False))
        gap = (gaps[(len(gaps) - 1) // 2] + gaps[len(gaps) // 2]) / 2 if gaps else None
        since = max(0, date.fromisoformat(TODAY).toordinal() - ords[-1])
        after = min(90.0, 2 * gap) if gap is not None else 90.0
        lifecycle = {"status": "churned" if since > 180 else "at-risk" if since > after
                     else "active", "last_active": days[-1], "days_since": since,
                     "usual_gap_days": None if gap is None else round(gap, 1)}
    last = one("SELECT max(at) FROM interactions WHERE client_id = ?", (cid,)).fetchone()[0]
    contact_day = (last or c["created_at"])[:10]
    cadence = {"last_contact": last, "days_since": date.fromisoformat(TODAY).toordinal()
               - date.fromisoformat(contact_day).toordinal()}
    tags = [t for (t,) in one("SELECT tag FROM tags WHERE client_id = ? ORDER BY tag", (cid,))]

    title = f"{c['name']} (#{cid})"
    out.write(title + "\n" + "=" * width(title) + "\n")
    fields = [(k, c[k]) for k in ("company", "email", "phone", "industry", "size", "owner",
                                  "source", "stage", "external_id") if c[k]]
    fields.append(("status", "archived" if c["archived_at"] else "active"))
    clv = {"historical": historical, "predicted": predicted}
    for key, value in (("tier", tier), ("lifecycle", lifecycle), ("revenue", revenue),
                       ("clv", clv), ("cadence", cadence)):
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items() if v is not None)
        fields.append((key, value))
    if tags:
        fields.append(("tags", ", ".join(tags)))
    fields.append(("created", local(c["created_at"])))
    pad = max(len(k) for k, _ in fields)
    out.write("".join(f"  {k.ljust(pad)}  {v}\n" for k, v in fields))
    if c["notes"]:
        out.write("\nNotes\n  " + c["notes"].replace("\n", "\n  ") + "\n")
    contacts = one("SELECT id, name, role, email, phone, decision_level, "
                   "CASE is_primary WHEN 1 THEN 'yes' ELSE 'no' END FROM contacts "
                   "WHERE client_id = ? ORDER BY is_primary DESC, name COLLATE NOCASE, id",
                   (cid,)).fetchall()
    if contacts:
        out.write("\nContacts\n")
        table(["id", "name", "role", "email", "phone", "decision_level", "is_primary"],
              contacts, right={0})
    stages = [(local(r[0]), *r[1:]) for r in one(
        "SELECT at, from_stage, to_stage, note FROM stage_changes WHERE client_id = ? "
        "ORDER BY at, id", (cid,))]
    if stages:
        out.write("\nStage history\n")
        table(["at", "from_stage", "to_stage", "note"], stages)
    open_rows = [(r[0], r[1], r[2], r[3], None,
                  "overdue" if r[1] < TODAY else "due" if r[1] == TODAY else "upcoming")
                 for r in one("SELECT id, due, strftime('%H:%M', due_at), note FROM followups "
                              "WHERE client_id = ? AND done_at IS NULL "
                              "ORDER BY due, coalesce(due_at, ''), id", (cid,))]
    if open_rows:
        out.write("\nOpen follow-ups\n")
        table(["id", "due", "time", "note", "repeats", "status"], open_rows, right={0})
    recent = one(
        """SELECT at, type, id, detail, summary FROM (
             SELECT * FROM (SELECT at, 'interaction' AS type, id, channel || ' ' || direction
                 || CASE WHEN kind != 'note' THEN ' ' || kind ELSE '' END
                 || coalesce(' score ' || score, '')
                 || CASE WHEN kind = 'complaint' THEN CASE WHEN resolved_at IS NULL
                         THEN ' (open)' ELSE ' (resolved)' END ELSE '' END AS detail,
                 summary FROM interactions WHERE client_id = :c
                 ORDER BY at DESC, id DESC LIMIT 15)
             UNION ALL SELECT * FROM (SELECT at, 'deal', id, status || ' ' || amount || ' '
                 || currency, coalesce(title, '') FROM deals WHERE client_id = :c
                 ORDER BY at DESC, id DESC LIMIT 15)
             UNION ALL SELECT * FROM (SELECT at, 'stage', id, coalesce(from_stage, '(none)')
                 || ' → ' || to_stage, coalesce(note, '') FROM stage_changes
                 WHERE client_id = :c ORDER BY at DESC, id DESC LIMIT 15)
             UNION ALL SELECT * FROM (SELECT done_at, 'followup', id, 'done (due ' || due
                 || ')' || CASE WHEN every IS NOT NULL THEN ' recurring' ELSE '' END, note
                 FROM followups WHERE client_id = :c AND done_at IS NOT NULL
                 ORDER BY done_at DESC, id DESC LIMIT 15))
           ORDER BY at DESC, type DESC, id DESC LIMIT 15""", {"c": cid}).fetchall()
    if recent:
        out.write("\nRecent timeline\n")
        table(["at", "type", "id", "detail", "summary"],
              [(local(r[0]), *r[1:]) for r in recent], right={2})
else:
    sys.exit(f"unknown operation {operation}")
