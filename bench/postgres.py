"""The same book on PostgreSQL beside SQLite: the read commands and every report.

    python bench/postgres.py [--scale 1.0] [--seed 42] [--repeat 3] [--url URL]

The book is bench/run.py's (generated, imported with `crm import` into SQLite), copied to
PostgreSQL with `crm db copy --replace` into a database of its own (`crm_bench`, made on
the server of --url, default CRM_TEST_PG_URL; without either a throwaway cluster is
started with tests/pg_server.py and stopped at the end). Each command runs as a whole
process on each engine, interleaved, median of --repeat runs; the table gives both times
and PostgreSQL ÷ SQLite. Goals: every report under 2 s, reads within 1.5× of SQLite.
Written to stdout and bench/out/postgres-SCALE.md.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from run import REPORTS, Runner, build_book, median  # noqa: E402


def database_url(server: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(server)
    if parts.netloc:
        return urlunsplit(parts._replace(path="/" + name))
    return f"{parts.scheme}:///{name}" + (f"?{parts.query}" if parts.query else "")


def fresh_database(server: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' "
                      "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'")
    return database_url(server, name)


def operations(book: Path) -> list[tuple[str, list[str]]]:
    conn = sqlite3.connect(book)
    busiest = conn.execute(
        "SELECT c.external_id FROM clients c JOIN (SELECT client_id, count(*) AS n "
        "FROM interactions GROUP BY client_id ORDER BY n DESC LIMIT 1) b ON b.client_id = c.id"
    ).fetchone()[0]
    conn.close()
    reads = [("crm due", ["due"]), ("crm ls --tag vip", ["ls", "--tag", "vip"]),
             (f"crm show {busiest} (busiest client)", ["show", busiest]),
             ("crm search 'unpaid invoice'", ["search", "unpaid invoice"])]
    return [*[("read", label, args) for label, args in reads],
            *[("report", f"crm report {name}", ["report", name]) for name in REPORTS]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--url", default=os.environ.get("CRM_TEST_PG_URL"),
                        help="a PostgreSQL server's URL (its crm_bench database is made anew)")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args(argv)

    data = (HERE / "data" / f"s{args.scale}-seed{args.seed}").resolve()
    if not (data / "clients.csv").exists():
        from generate import generate

        sys.stderr.write(f"generating {data}\n")
        generate(data, args.scale, args.seed)
    r = Runner(args.out.resolve(), args.out.resolve() / "work" / data.name)
    notes: list[str] = []
    book = build_book(r, data, notes)

    cluster = None
    server = args.url
    if not server:
        import pg_server

        cluster = tempfile.mkdtemp(prefix="crm-bench-pg-")
        server = pg_server.start(cluster)
    try:
        url = fresh_database(server, "crm_bench")
        (secs, _), _, _ = r.run([*r.crm, "db", "copy", str(book), url, "--replace"])
        notes.append(f"`crm db copy` of the book to PostgreSQL: {secs:.1f} s")
        conn = sqlite3.connect(book)
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("clients", "interactions", "deals", "followups")}
        conn.close()
        rows = []
        for group, label, cmd in operations(book):
            times = {"sqlite": [], "postgres": []}
            codes = {}
            for _ in range(args.repeat):
                for engine, db in (("sqlite", str(book)), ("postgres", url)):
                    (wall, _), _, code = r.run([*r.crm, "--db", db, *cmd], check=False)
                    codes[engine] = code
                    times[engine].append(wall)
            sq, pg = median(times["sqlite"]), median(times["postgres"])
            if group == "report":
                goal, met = "PostgreSQL < 2 s", pg < 2.0
            else:
                goal, met = "≤ 1.5× SQLite", pg / sq <= 1.5
            failed = [e for e, c in codes.items() if c != 0]
            rows.append((group, label, sq, pg, pg / sq, goal,
                         f"failed on {', '.join(failed)}" if failed else
                         ("yes" if met else "**no**")))
            sys.stderr.write(f"{label}: sqlite {sq:.3f} s, postgres {pg:.3f} s\n")
    finally:
        if cluster:
            import pg_server

            pg_server.stop(cluster)

    lines = [f"Book: {counts['clients']:,} clients, {counts['interactions']:,} interactions, "
             f"{counts['deals']:,} deals, {counts['followups']:,} follow-ups (--scale "
             f"{args.scale}); median of {args.repeat} whole-process runs each.", "",
             "| group | command | SQLite s | PostgreSQL s | PG ÷ SQLite | goal | met |",
             "|---|---|---:|---:|---:|---|---|"]
    lines += [f"| {g} | {label} | {sq:.3f} | {pg:.3f} | {ratio:.2f} | {goal} | {met} |"
              for g, label, sq, pg, ratio, goal, met in rows]
    lines += ["", *notes]
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    (args.out / f"postgres-{args.scale}.md").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
