"""Benchmark crm against raw SQLite, the framework floor and the tools a user would reach for.

    python bench/run.py [--scale 1.0] [--seed 42] [--repeat 5] [--only import,read,help,report]

Everything is measured as a whole process (start-up included), in one run, interleaved
(A B A B ...: crm, then each baseline, repeated), and reported as the median of --repeat
runs. The table goes to stdout and to bench/out/results-SCALE-GROUPS.md (and .json).

- import: `crm import` of the clients and of the interactions, CSV and NDJSON, against
  the raw baseline (bench/raw_load.py: csv/json + executemany in one transaction into a
  database created by crmcli's store, so the same schema and indexes, search documents
  included; "rows only" leaves the search index out), `sqlite-utils insert` and the
  sqlite3 shell's `.import` (into a table shaped like the file with a (client, at) index,
  as a user would load it). Peak memory (ru_maxrss of the child) at half and full input.
- read: `crm due`, `crm ls --tag vip`, `crm show CLIENT`, `crm search TEXT` on the full
  book against bench/floor.py: the same answer hand-written, with `import typer` (the
  framework floor) and without (the physical floor: `import sqlite3` + the query).
- help: `crm --help` against `python -c 'import typer'`.
- report: every `crm report ...` on the full book, absolute seconds.

Child processes get bytecode caching on (PYTHONPYCACHEPREFIX under bench/out), as an
installed crm has, a fixed CRM_NOW (2026-11-22) and no config file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NOW = "2026-11-22T10:00:00+00:00"
REPORTS = ("summary", "retention", "cohorts", "churn", "clv", "response", "nps", "funnel",
           "segments")


class Runner:
    def __init__(self, out: Path):
        self.out = out
        self.work = out / "work"
        self.work.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ)
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        for var in ("CRM_CONFIG", "CRM_DB", "CRM_DEBUG"):
            self.env.pop(var, None)
        self.env.update({"PYTHONPYCACHEPREFIX": str(out / "pycache"), "CRM_NOW": NOW,
                         "XDG_CONFIG_HOME": str(self.work / "xdg-config"),
                         "XDG_DATA_HOME": str(self.work / "xdg-data"), "TZ": "UTC",
                         "NO_COLOR": "1", "PYTHONPATH": str(ROOT)})
        self.python = sys.executable
        script = Path(sys.executable).parent / "crm"
        self.crm = [str(script)] if script.exists() else [self.python, "-m", "crmcli"]

    def run(self, cmd: list[str], *, stdin=None, check: bool = True) -> tuple[float, int, int]:
        """(seconds, peak RSS in KiB, exit code) of one whole process.

        The peak is the child's VmHWM, polled from /proc while it runs (a high-water mark,
        so only growth in the last few milliseconds could be missed). ru_maxrss would also
        count the memory of this process, which the child shares until its exec.
        """
        err = tempfile.TemporaryFile()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=stdin or subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, env=self.env,
                                cwd=self.work)
        status_file = Path(f"/proc/{proc.pid}/status")
        peak, delay = 0, 0.002
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            try:
                for line in status_file.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
                        break
            except (OSError, ValueError):
                pass
            time.sleep(delay)
            delay = min(delay * 1.5, 0.02)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if not status_file.parent.parent.joinpath("self").exists():
            peak = usage.ru_maxrss  # no /proc: an upper bound
        err.seek(0)
        text = err.read().decode(errors="replace")
        err.close()
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {text[-500:]}")
        return elapsed, peak, proc.returncode

    def output(self, cmd: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, capture_output=True, text=True, env=self.env, cwd=self.work)


def median(values):
    return statistics.median(values) if values else None


def interleave(runner: Runner, variants: dict[str, callable], repeat: int):
    """Run each variant once per round, rounds repeated; returns {name: [(s, rss)...]}."""
    results = {name: [] for name in variants}
    for _ in range(repeat):
        for name, fn in variants.items():
            results[name].append(fn())
    return results


def fresh_copy(template: Path, target: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    shutil.copyfile(template, target)
    return target


def empty_database(path: Path) -> Path:
    """A new database created by crmcli's store (so the schema is crm's own), closed."""
    sys.path.insert(0, str(ROOT))
    from crmcli.config import Config
    from crmcli.store import CrmStore

    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    CrmStore(path, Config()).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


def checkpoint(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def first_lines(source: Path, target: Path, fraction: float) -> Path:
    """The header (for CSV) and the first fraction of the rows of source."""
    with open(source, encoding="utf-8") as f:
        lines = f.readlines()
    header = lines[:1] if source.suffix == ".csv" else []
    body = lines[len(header):]
    target.write_text("".join(header + body[: int(len(body) * fraction)]), encoding="utf-8")
    return target


def file_table_sql(kind: str, path: Path) -> str:
    """A table shaped like the file, plus the (client, at) index crm's table has."""
    with open(path, encoding="utf-8") as f:
        first = f.readline()
    cols = (first.strip().split(",") if path.suffix == ".csv" else list(json.loads(first)))
    table = f"{kind}_file"
    index = (f"CREATE INDEX {table}_client_at ON {table}(client, at);" if "client" in cols
             else f"CREATE UNIQUE INDEX {table}_ext ON {table}(external_id);")
    return (f"CREATE TABLE {table} ({', '.join(f'[{c}] TEXT' for c in cols)}); {index}")


# --- import -----------------------------------------------------------------------


def bench_import(r: Runner, data: Path, repeat: int, rows: list, notes: list) -> Path:
    """Imports; returns a database holding the imported clients (crm's own import)."""
    template = empty_database(r.work / "template-empty.db")
    sqlite3_bin = shutil.which("sqlite3")
    sqlite_utils_bin = shutil.which("sqlite-utils")
    if not sqlite3_bin:
        notes.append("sqlite3 shell not installed: its `.import` rows are missing "
                     "(apt-get install sqlite3).")
    if not sqlite_utils_bin:
        notes.append("sqlite-utils CLI not found: its rows are missing.")
    with_clients = r.work / "template-clients.db"
    with_clients.unlink(missing_ok=True)
    notes.append("sqlite3 `.import` reads CSV only: no NDJSON row. sqlite-utils and `.import` "
                 "load a table shaped like the file (client as text) with a (client, at) index; "
                 "they neither resolve clients nor fill the search index.")

    def crm_import(kind, path, base):
        def go():
            db = fresh_copy(base, r.work / "crm.db")
            return r.run([*r.crm, "--db", str(db), "import", kind, str(path)])[:2]
        return go

    def raw(kind, path, base, fts=True):
        def go():
            db = fresh_copy(base, r.work / "raw.db")
            cmd = [r.python, str(HERE / "raw_load.py"), kind, str(path), str(db)]
            return r.run(cmd + ([] if fts else ["--no-fts"]))[:2]
        return go

    def su(kind, path, base):
        def go():
            db = fresh_copy(base, r.work / "su.db")
            conn = sqlite3.connect(db)
            conn.executescript(file_table_sql(kind, path))
            conn.close()
            fmt = "--csv" if path.suffix == ".csv" else "--nl"
            return r.run([sqlite_utils_bin, "insert", str(db), f"{kind}_file", str(path),
                          fmt])[:2]
        return go

    def shell(kind, path, base):
        def go():
            db = fresh_copy(base, r.work / "shell.db")
            conn = sqlite3.connect(db)
            conn.executescript(file_table_sql(kind, path))
            conn.close()
            return r.run([sqlite3_bin, str(db), f".import --csv --skip 1 {path} {kind}_file"])[:2]
        return go

    # The clients first (into an empty database), then the interactions (into a database
    # that holds the clients, made once by crm's own import).
    for kind, base_of in (("clients", lambda: template), ("interactions", lambda: with_clients)):
        for fmt in ("csv", "ndjson"):
            path = data / f"{kind}.{fmt}"
            n = sum(1 for _ in open(path, encoding="utf-8")) - (fmt == "csv")
            if kind == "clients" and fmt == "csv" and not with_clients.exists():
                fresh_copy(template, with_clients)
                r.run([*r.crm, "--db", str(with_clients), "import", "clients", str(path)])
                checkpoint(with_clients)
            base = base_of()
            variants = {"crm import": crm_import(kind, path, base),
                        "raw executemany": raw(kind, path, base)}
            if kind == "interactions" and fmt == "csv":
                variants["raw, rows only (no search index)"] = raw(kind, path, base, fts=False)
            if sqlite_utils_bin:
                variants["sqlite-utils insert"] = su(kind, path, base)
            if sqlite3_bin and fmt == "csv":
                variants["sqlite3 .import"] = shell(kind, path, base)
            sys.stderr.write(f"import {kind} {fmt}: {len(variants)} variants x {repeat}\n")
            results = interleave(r, variants, repeat)
            crm_t = median([t for t, _ in results["crm import"]])
            raw_t = median([t for t, _ in results["raw executemany"]])
            for name, runs in results.items():
                t = median([x for x, _ in runs])
                rss = max(m for _, m in runs)
                rows.append({"group": "import", "operation": f"{kind} {fmt} ({n:,} rows)",
                             "variant": name, "seconds": t, "peak_mib": rss / 1024,
                             "ratio": (crm_t / t) if name != "crm import" else crm_t / raw_t,
                             "ratio_of": "crm ÷ this" if name != "crm import" else "crm ÷ raw"})
    # Memory: flat in the size of the input (half vs full interactions file).
    half = first_lines(data / "interactions.csv", r.work / "interactions-half.csv", 0.5)
    for label, path in (("half", half), ("full", data / "interactions.csv")):
        peaks = []
        for _ in range(2):
            db = fresh_copy(with_clients, r.work / "crm.db")
            peaks.append(r.run([*r.crm, "--db", str(db), "import", "interactions",
                                str(path)])[1])
        n = sum(1 for _ in open(path, encoding="utf-8")) - 1
        rows.append({"group": "memory", "operation": f"crm import interactions ({n:,} rows)",
                     "variant": label, "seconds": None, "peak_mib": max(peaks) / 1024,
                     "ratio": None, "ratio_of": ""})
    return with_clients


def build_book(r: Runner, data: Path, with_clients: Path | None, notes: list) -> Path:
    """The full book, imported with crm (the raw loader if crm import fails)."""
    book = r.work / "book.db"
    marker = r.work / "book.ok"
    if book.exists() and marker.exists() and marker.read_text() == str(data):
        return book
    if with_clients is None or not with_clients.exists():
        empty_database(r.work / "template-empty.db")
        with_clients = fresh_copy(r.work / "template-empty.db", r.work / "template-clients.db")
        r.run([*r.crm, "--db", str(with_clients), "import", "clients",
               str(data / "clients.csv")])
    fresh_copy(with_clients, book)
    for kind in ("interactions", "deals", "followups"):
        t, _, code = r.run([*r.crm, "--db", str(book), "import", kind,
                            str(data / f"{kind}.csv")], check=False)
        if code != 0:
            notes.append(f"crm import {kind} failed; the book was completed with "
                         "bench/raw_load.py")
            r.run([r.python, str(HERE / "raw_load.py"), kind, str(data / f"{kind}.csv"),
                   str(book)])
        sys.stderr.write(f"book: {kind} imported in {t:.1f} s\n")
    checkpoint(book)
    marker.write_text(str(data))
    return book


# --- read commands, help, reports --------------------------------------------------


def bench_read(r: Runner, book: Path, repeat: int, rows: list) -> None:
    conn = sqlite3.connect(book)
    busiest = conn.execute(
        "SELECT c.external_id FROM clients c JOIN (SELECT client_id, count(*) AS n "
        "FROM interactions GROUP BY client_id ORDER BY n DESC LIMIT 1) b ON b.client_id = c.id"
    ).fetchone()[0]
    conn.close()
    ops = (("due", "crm due", ["due"], "due", ""),
           ("ls-tag", "crm ls --tag vip", ["ls", "--tag", "vip"], "ls-tag", "vip"),
           ("show", f"crm show {busiest} (busiest client)", ["show", busiest], "show", busiest),
           ("search", "crm search 'unpaid invoice'", ["search", "unpaid invoice"], "search",
            "unpaid invoice"))
    for _, label, args, op, arg in ops:
        variants = {
            "crm": lambda a=args: r.run([*r.crm, "--db", str(book), *a])[:2],
            "framework floor (import typer + query)": lambda o=op, x=arg: r.run(
                [r.python, str(HERE / "floor.py"), "--typer", o, str(book), x])[:2],
            "physical floor (import sqlite3 + query)": lambda o=op, x=arg: r.run(
                [r.python, str(HERE / "floor.py"), o, str(book), x])[:2],
        }
        sys.stderr.write(f"read {label}\n")
        results = interleave(r, variants, repeat)
        crm_t = median([t for t, _ in results["crm"]])
        for name, runs in results.items():
            t = median([x for x, _ in runs])
            rows.append({"group": "read", "operation": label, "variant": name, "seconds": t,
                         "peak_mib": max(m for _, m in runs) / 1024,
                         "ratio": crm_t / t if name != "crm" else None,
                         "ratio_of": "crm ÷ this" if name != "crm" else ""})


def bench_help(r: Runner, repeat: int, rows: list) -> None:
    variants = {"crm --help": lambda: r.run([*r.crm, "--help"])[:2],
                "framework floor (python -c 'import typer')":
                    lambda: r.run([r.python, "-c", "import typer"])[:2],
                "python -c 'import sqlite3'": lambda: r.run([r.python, "-c", "import sqlite3"])[:2]}
    results = interleave(r, variants, repeat)
    crm_t = median([t for t, _ in results["crm --help"]])
    for name, runs in results.items():
        t = median([x for x, _ in runs])
        rows.append({"group": "help", "operation": "crm --help", "variant": name, "seconds": t,
                     "peak_mib": max(m for _, m in runs) / 1024,
                     "ratio": crm_t / t if name != "crm --help" else None,
                     "ratio_of": "crm ÷ this" if name != "crm --help" else ""})


def bench_reports(r: Runner, book: Path, repeat: int, rows: list) -> None:
    for name in REPORTS:
        probe = r.output([*r.crm, "--db", str(book), "report", name, "--help"])
        if probe.returncode != 0:
            rows.append({"group": "report", "operation": f"crm report {name}",
                         "variant": "not available", "seconds": None, "peak_mib": None,
                         "ratio": None, "ratio_of": ""})
            continue
        runs, failed = [], None
        for _ in range(repeat):
            t, rss, code = r.run([*r.crm, "--db", str(book), "report", name], check=False)
            if code != 0:
                failed = code
                break
            runs.append((t, rss))
        rows.append({"group": "report", "operation": f"crm report {name}",
                     "variant": f"failed (exit {failed})" if failed is not None else "crm",
                     "seconds": median([t for t, _ in runs]) if runs else None,
                     "peak_mib": max(m for _, m in runs) / 1024 if runs else None,
                     "ratio": None, "ratio_of": ""})


# --- output ------------------------------------------------------------------------


def table(rows: list[dict]) -> str:
    lines = ["| group | operation | variant | median s | peak MiB | ratio |",
             "|---|---|---|---:|---:|---|"]
    for row in rows:
        secs = "" if row["seconds"] is None else f"{row['seconds']:.3f}"
        mib = "" if row["peak_mib"] is None else f"{row['peak_mib']:.0f}"
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f} ({row['ratio_of']})"
        lines.append(f"| {row['group']} | {row['operation']} | {row['variant']} | {secs} | "
                     f"{mib} | {ratio} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=5, help="runs per variant (median)")
    parser.add_argument("--import-repeat", type=int, default=None,
                        help="runs per import variant (default: --repeat)")
    parser.add_argument("--only", default="import,read,help,report",
                        help="comma-separated groups: import, read, help, report")
    parser.add_argument("--data", type=Path, default=None,
                        help="generated files (default bench/data/sSCALE-seedSEED)")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args(argv)
    groups = set(args.only.split(","))
    data = (args.data or HERE / "data" / f"s{args.scale}-seed{args.seed}").resolve()
    args.out = args.out.resolve()
    if not (data / "interactions.csv").exists():
        sys.stderr.write(f"generating the book into {data}\n")
        sys.path.insert(0, str(HERE))
        from generate import generate

        generate(data, args.scale, args.seed)
    r = Runner(args.out)
    r.run([*r.crm, "--help"])  # warm the bytecode cache
    rows: list[dict] = []
    notes: list[str] = []
    started = time.time()
    with_clients = None
    if "import" in groups:
        with_clients = bench_import(r, data, args.import_repeat or args.repeat, rows, notes)
    if groups & {"read", "report"}:
        book = build_book(r, data, with_clients, notes)
        if "read" in groups:
            bench_read(r, book, args.repeat, rows)
        if "report" in groups:
            bench_reports(r, book, args.repeat, rows)
    if "help" in groups:
        bench_help(r, args.repeat, rows)
    header = (f"scale {args.scale} (seed {args.seed}), median of {args.repeat} interleaved runs; "
              f"{platform.python_implementation()} {platform.python_version()}, SQLite "
              f"{sqlite3.sqlite_version}, {os.cpu_count()} cores; "
              f"{time.time() - started:.0f} s in all\n\n")
    text = header + table(rows) + "".join(f"\n- {n}" for n in notes) + ("\n" if notes else "")
    sys.stdout.write(text)
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"results-{args.scale}-{'-'.join(sorted(groups))}"
    (args.out / f"{name}.md").write_text(text, encoding="utf-8")
    (args.out / f"{name}.json").write_text(
        json.dumps({"rows": rows, "notes": notes}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
