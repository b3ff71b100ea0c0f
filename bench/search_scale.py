"""Search at scale: `crm search WORD --limit 20` when every interaction matches.

    python bench/search_scale.py [--interactions 200000] [--clients 2000] [--repeat 7]

Builds (once per size, in bench/out/work/search-N/) a book whose interactions all contain
the word "renewal", then times, interleaved, the median of --repeat whole processes:

- crm: `crm --db BOOK search renewal --limit 20`;
- floor: `import typer` (the framework's start-up, which crm pays too) and the raw FTS5
  query `MATCH ... ORDER BY bm25 LIMIT 20` over the index, nothing else (no join, no
  rendering): the least any search of that book can cost.

Prints a table with crm ÷ floor (the target is ≤ 1.5), of wall time and of CPU time (user +
system of the child: what the work costs when other processes share the machine).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import Runner, checkpoint, empty_database, interleave, median  # noqa: E402

WORD = "renewal"
FLOOR = ("import typer, sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
         "print(c.execute(\"SELECT rowid, bm25(search_index) FROM search_index WHERE "
         "search_index MATCH ? ORDER BY bm25(search_index) LIMIT 20\", "
         "('\"renewal\"*',)).fetchall())")
SUMMARIES = ("Discussed renewal terms", "Renewal call with the buyer about the renewal",
             "Sent the renewal quote", "Renewal: waiting on legal",
             "Asked about the renewal date and the invoice for the last quarter")


def build(path: Path, interactions: int, clients: int) -> Path:
    marker = path.with_suffix(".ok")
    stamp = f"{interactions}:{clients}"
    if path.exists() and marker.exists() and marker.read_text() == stamp:
        return path
    sys.stderr.write(f"building {path}\n")
    empty_database(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO clients (id, name, custom, created_at, updated_at) "
        "VALUES (?, ?, '{}', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
        ((i, f"Client {i:05d}") for i in range(1, clients + 1)))
    conn.executemany("INSERT INTO search_index (rowid, body, client_id) VALUES (?, ?, ?)",
                     ((i * 4, f"Client {i:05d}", i) for i in range(1, clients + 1)))
    rows = [(i, i % clients + 1, f"2026-{i % 12 + 1:02d}-{i % 28 + 1:02d}T10:00:00Z",
             SUMMARIES[i % len(SUMMARIES)] + f" #{i}") for i in range(1, interactions + 1)]
    conn.executemany(
        "INSERT INTO interactions (id, client_id, at, channel, direction, kind, summary, "
        "created_at) VALUES (?, ?, ?, 'email', 'out', 'note', ?, '2026-01-01T00:00:00Z')", rows)
    conn.executemany("INSERT INTO search_index (rowid, body, client_id) VALUES (?, ?, ?)",
                     ((iid * 4 + 2, summary, cid) for iid, cid, _, summary in rows))
    conn.execute("COMMIT")
    conn.close()
    checkpoint(path)
    marker.write_text(stamp)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    out = HERE / "out"
    r = Runner(out, out / "work" / f"search-{args.interactions}")
    book = build(r.work / "book.db", args.interactions, args.clients)
    crm = [*r.crm, "--db", str(book), "search", WORD, "--limit", "20"]
    floor = [r.python, "-c", FLOOR, str(book)]
    r.run(crm)  # warm the bytecode cache
    results = interleave({"crm": lambda: r.run(crm)[:2], "floor": lambda: r.run(floor)[:2]},
                         args.repeat)
    wall = {name: median([w for (w, _), _ in runs]) for name, runs in results.items()}
    cpu = {name: median([c for (_, c), _ in runs]) for name, runs in results.items()}
    print(f"`crm search {WORD} --limit 20`, {args.interactions:,} matching interactions, "
          f"median of {args.repeat} interleaved runs; SQLite {sqlite3.sqlite_version}\n")
    print("| variant | median s | CPU s | crm ÷ this | CPU crm ÷ this | target | met |")
    print("|---|---:|---:|---:|---:|---|---|")
    print(f"| crm | {wall['crm']:.3f} | {cpu['crm']:.3f} |  |  |  |  |")
    ratio = wall["crm"] / wall["floor"]
    print(f"| floor (import typer + raw FTS5 MATCH ORDER BY bm25 LIMIT 20) | "
          f"{wall['floor']:.3f} | {cpu['floor']:.3f} | {ratio:.2f} | "
          f"{cpu['crm'] / cpu['floor']:.2f} | ≤ 1.5 | {'yes' if ratio <= 1.5 else '**no**'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
