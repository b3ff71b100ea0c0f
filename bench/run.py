"""Benchmark crm against raw SQLite, the framework floor and the tools a user would reach for.

    python bench/run.py [--scale 1.0] [--seed 42] [--repeat 5] [--import-repeat N]
                        [--only import,memory,read,help,report]

Everything is measured as a whole process (start-up included), in one run, interleaved
(A B C A B C ...: crm, then each baseline, round after round), and reported as the median
of --repeat runs. The table goes to stdout and to bench/out/results-SCALE-GROUPS.md (and
.json). The generated files are made once per scale and seed (bench/data/), the databases
live in bench/out/work/<data set>/.

- import: `crm import` of the clients and of the interactions, CSV and NDJSON, against
  the raw baseline (bench/raw_load.py: csv/json + executemany in one transaction into a
  database created by crmcli's store, so the same schema and indexes, search documents
  included; "rows only" leaves the search index out; for the interactions, the "floor"
  is the least a store of them must write: the rows, one (client, at) index and an FTS5
  index of the summaries, in tables of its own), `sqlite-utils insert` and the
  sqlite3 shell's `.import` (into a table shaped like the file with a (client, at) index,
  as a user would load it).
- memory: the peak RSS of `crm import interactions` on the first half of the file and on
  all of it (flat when the import streams).
- read: `crm due`, `crm ls --tag vip`, `crm show CLIENT`, `crm search TEXT` on the full
  book against bench/floor.py: the same output, hand-written, with `import typer` (the
  framework floor) and without (the physical floor: `import sqlite3` + the query). The
  outputs are compared once before the timing: a floor that printed less would flatter
  crm's ratio, one that printed more would hide its cost.
- help: `crm --help` against `python -c 'import typer'`.
- report: every `crm report ...` on the full book (round-robin), absolute seconds.

Ratios are crm ÷ the baseline on that row; each row with a target says whether it is met.
Child processes get bytecode caching on (PYTHONPYCACHEPREFIX under bench/out), as an
installed crm has, a fixed CRM_NOW (2026-11-22), TZ=UTC and no config file.
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
GROUPS = ("import", "memory", "read", "help", "report")
# (target text, test of the ratio or of the seconds)
TARGETS = {
    "raw executemany": ("≤ 1.3", lambda x: x <= 1.3),
    "floor: rows, (client, at) index, FTS5": ("≤ 1.3", lambda x: x <= 1.3),
    "sqlite-utils insert": ("< 1 (faster)", lambda x: x < 1.0),
    "framework floor (import typer + query)": ("≤ 1.5", lambda x: x <= 1.5),
    "framework floor (python -c 'import typer')": ("≤ 1.3", lambda x: x <= 1.3),
    "report": ("< 2 s", lambda s: s < 2.0),
    "memory": ("≤ 1.1 (flat)", lambda x: x <= 1.1),
}


class Runner:
    def __init__(self, out: Path, work: Path):
        self.out = out
        self.work = work
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

    def run(self, cmd: list[str], *, stdin=None, check: bool = True
            ) -> tuple[tuple[float, float], int, int]:
        """((wall seconds, CPU seconds), peak RSS in KiB, exit code) of one whole process.

        CPU seconds (user + system of the child) say what the work costs when other
        processes share the machine and stretch the wall time.

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
        if not Path("/proc/self").exists():
            peak = usage.ru_maxrss  # no /proc: an upper bound
        err.seek(0)
        text = err.read().decode(errors="replace")
        err.close()
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {text[-500:]}")
        return (elapsed, usage.ru_utime + usage.ru_stime), peak, proc.returncode

    def output(self, cmd: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, capture_output=True, text=True, env=self.env, cwd=self.work)


def median(values):
    return statistics.median(values) if values else None


def interleave(variants: dict[str, callable], repeat: int):
    """Run each variant once per round, rounds repeated; returns {name: [(s, rss)...]}."""
    results = {name: [] for name in variants}
    for _ in range(repeat):
        for name, fn in variants.items():
            results[name].append(fn())
    return results


def add_rows(rows: list, group: str, operation: str, results: dict, main: str) -> None:
    """One row per variant: median wall and CPU seconds, peak memory, crm ÷ this (wall),
    target, met."""
    main_t = median([t for (t, _), _ in results[main]])
    for name, runs in results.items():
        t = median([w for (w, _), _ in runs])
        ratio = None if name == main else main_t / t
        target, check = TARGETS.get(name, ("", None))
        rows.append({"group": group, "operation": operation, "variant": name, "seconds": t,
                     "cpu": median([c for (_, c), _ in runs]),
                     "peak_mib": max(m for _, m in runs) / 1024, "ratio": ratio,
                     "target": target, "met": None if check is None else check(ratio)})


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
    checkpoint(path)
    return path


def schema_stamp() -> str:
    """The schema crm creates today: its version and a digest of every migration's SQL (a
    book made before a migration changed is rebuilt, not reused)."""
    import hashlib

    sys.path.insert(0, str(ROOT))
    from crmcli.store.migrations import SCHEMA_VERSION, STEPS

    digest = hashlib.sha256("".join(name + sql for name, sql in STEPS).encode()).hexdigest()
    return f"{SCHEMA_VERSION}:{digest[:16]}"


def checkpoint(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def first_lines(source: Path, target: Path, fraction: float) -> Path:
    """The header (for CSV) and the first fraction of the rows of source, streamed."""
    total = sum(1 for _ in open(source, encoding="utf-8"))
    header = 1 if source.suffix == ".csv" else 0
    keep = header + int((total - header) * fraction)
    with open(source, encoding="utf-8") as f, open(target, "w", encoding="utf-8") as t:
        for i, line in enumerate(f):
            if i >= keep:
                break
            t.write(line)
    return target


def count_rows(path: Path) -> int:
    return sum(1 for _ in open(path, encoding="utf-8")) - (path.suffix == ".csv")


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


def clients_template(r: Runner, data: Path) -> Path:
    """An empty database, and one holding the clients (made once by crm's own import)."""
    template = r.work / "template-empty.db"
    with_clients = r.work / "template-clients.db"
    marker = r.work / "template.ok"
    stamp = json.dumps({"data": str(data), "schema": schema_stamp()})
    if with_clients.exists() and marker.exists() and marker.read_text() == stamp:
        return with_clients
    empty_database(template)
    fresh_copy(template, with_clients)
    r.run([*r.crm, "--db", str(with_clients), "import", "clients", str(data / "clients.csv")])
    checkpoint(with_clients)
    marker.write_text(stamp)
    return with_clients


def bench_import(r: Runner, data: Path, repeat: int, rows: list, notes: list,
                 peaks: dict) -> None:
    """Imports of the clients (into an empty database) and of the interactions (into one
    holding the clients); peaks gets the crm import's peak RSS per file."""
    with_clients = clients_template(r, data)
    template = r.work / "template-empty.db"
    sqlite3_bin = shutil.which("sqlite3")
    sqlite_utils_bin = shutil.which("sqlite-utils")
    if not sqlite3_bin:
        notes.append("sqlite3 shell not installed: its `.import` rows are missing "
                     "(apt-get install sqlite3).")
    if not sqlite_utils_bin:
        notes.append("sqlite-utils CLI not found: its rows are missing.")
    notes.append("sqlite3 `.import` reads CSV only: no NDJSON row. sqlite-utils and `.import` "
                 "load a table shaped like the file (client as text) with a (client, at) "
                 "index; they neither validate, resolve clients, record the change for undo "
                 "nor fill the search index.")

    def crm_import(kind, path, base):
        def go():
            db = fresh_copy(base, r.work / "crm.db")
            return r.run([*r.crm, "--db", str(db), "import", kind, str(path)])[:2]
        return go

    def raw(kind, path, base, fts=True, floor=False):
        def go():
            db = fresh_copy(base, r.work / "raw.db")
            cmd = [r.python, str(HERE / "raw_load.py"), kind, str(path), str(db)]
            return r.run(cmd + (["--floor"] if floor else [] if fts else ["--no-fts"]))[:2]
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

    for kind, base in (("clients", template), ("interactions", with_clients)):
        for fmt in ("csv", "ndjson"):
            path = data / f"{kind}.{fmt}"
            variants = {"crm import": crm_import(kind, path, base),
                        "raw executemany": raw(kind, path, base)}
            if kind == "interactions":
                variants["floor: rows, (client, at) index, FTS5"] = raw(kind, path, base,
                                                                        floor=True)
            if kind == "interactions" and fmt == "csv":
                variants["raw, rows only (no search index)"] = raw(kind, path, base, fts=False)
            if sqlite_utils_bin:
                variants["sqlite-utils insert"] = su(kind, path, base)
            if sqlite3_bin and fmt == "csv":
                variants["sqlite3 .import"] = shell(kind, path, base)
            sys.stderr.write(f"import {kind} {fmt}: {len(variants)} variants x {repeat}\n")
            results = interleave(variants, repeat)
            add_rows(rows, "import", f"{kind} {fmt} ({count_rows(path):,} rows)", results,
                     "crm import")
            peaks[path] = max(m for _, m in results["crm import"])


def bench_memory(r: Runner, data: Path, rows: list, peaks: dict) -> None:
    """Peak RSS of crm import interactions on half the file and on all of it."""
    with_clients = clients_template(r, data)
    full = data / "interactions.csv"
    half = first_lines(full, r.work / "interactions-half.csv", 0.5)
    found = {}
    for label, path in (("half", half), ("full", full)):
        runs = [peaks[path]] if path in peaks else []
        while len(runs) < 2:
            sys.stderr.write(f"memory: crm import interactions ({label})\n")
            db = fresh_copy(with_clients, r.work / "crm.db")
            runs.append(r.run([*r.crm, "--db", str(db), "import", "interactions",
                               str(path)])[1])
        found[label] = max(runs) / 1024
    for label, path in (("half", half), ("full", full)):
        ratio = found["full"] / found["half"] if label == "full" else None
        target, check = TARGETS["memory"] if label == "full" else ("", None)
        rows.append({"group": "memory", "operation": "crm import interactions csv, peak RSS",
                     "variant": f"{label} ({count_rows(path):,} rows)", "seconds": None,
                     "cpu": None, "peak_mib": found[label], "ratio": ratio, "target": target,
                     "met": None if check is None else check(ratio)})


def build_book(r: Runner, data: Path, notes: list) -> Path:
    """The full book, imported with crm (the raw loader if crm import fails); made again
    when the data or the schema changed."""
    book = r.work / "book.db"
    marker = r.work / "book.ok"
    stamp = json.dumps({"data": str(data), "schema": schema_stamp()})
    if book.exists() and marker.exists() and marker.read_text() == stamp:
        return book
    sys.stderr.write(f"book: building {book}\n")
    with_clients = clients_template(r, data)
    fresh_copy(with_clients, book)
    for kind in ("interactions", "deals", "followups"):
        (t, _), _, code = r.run([*r.crm, "--db", str(book), "import", kind,
                                 str(data / f"{kind}.csv")], check=False)
        if code != 0:
            notes.append(f"crm import {kind} failed; the book was completed with "
                         "bench/raw_load.py")
            r.run([r.python, str(HERE / "raw_load.py"), kind, str(data / f"{kind}.csv"),
                   str(book)])
        sys.stderr.write(f"book: {kind} imported in {t:.1f} s\n")
    checkpoint(book)
    marker.write_text(stamp)
    return book


# --- read commands, help, reports --------------------------------------------------


def same_output(r: Runner, crm_cmd: list[str], floor_cmd: list[str]) -> str:
    a, b = r.output(crm_cmd), r.output(floor_cmd)
    if a.returncode or b.returncode:
        return f"failed (crm exit {a.returncode}, floor exit {b.returncode}: {b.stderr[-200:]})"
    lines = a.stdout.count("\n")
    if a.stdout == b.stdout:
        return f"identical ({lines:,} lines, {len(a.stdout.encode()):,} bytes)"
    return (f"DIFFERENT: crm {lines:,} lines / {len(a.stdout.encode()):,} bytes, floor "
            f"{b.stdout.count(chr(10)):,} lines / {len(b.stdout.encode()):,} bytes")


def bench_read(r: Runner, book: Path, repeat: int, rows: list, notes: list) -> None:
    conn = sqlite3.connect(book)
    busiest = conn.execute(
        "SELECT c.external_id FROM clients c JOIN (SELECT client_id, count(*) AS n "
        "FROM interactions GROUP BY client_id ORDER BY n DESC LIMIT 1) b ON b.client_id = c.id"
    ).fetchone()[0]
    conn.close()
    ops = (("crm due", ["due"], "due", ""),
           ("crm ls --tag vip", ["ls", "--tag", "vip"], "ls-tag", "vip"),
           (f"crm show {busiest} (busiest client)", ["show", busiest], "show", busiest),
           ("crm search 'unpaid invoice'", ["search", "unpaid invoice"], "search",
            "unpaid invoice"))
    for label, args, op, arg in ops:
        crm_cmd = [*r.crm, "--db", str(book), *args]
        floor = [r.python, str(HERE / "floor.py"), op, str(book), arg]
        typer_floor = [r.python, str(HERE / "floor.py"), "--typer", op, str(book), arg]
        notes.append(f"`{label}` and its floor: output {same_output(r, crm_cmd, floor)}.")
        variants = {
            "crm": lambda c=crm_cmd: r.run(c)[:2],
            "framework floor (import typer + query)": lambda c=typer_floor: r.run(c)[:2],
            "physical floor (import sqlite3 + query)": lambda c=floor: r.run(c)[:2],
        }
        sys.stderr.write(f"read {label}\n")
        add_rows(rows, "read", label, interleave(variants, repeat), "crm")


def bench_help(r: Runner, repeat: int, rows: list) -> None:
    variants = {"crm --help": lambda: r.run([*r.crm, "--help"])[:2],
                "framework floor (python -c 'import typer')":
                    lambda: r.run([r.python, "-c", "import typer"])[:2],
                "python -c 'import sqlite3'": lambda: r.run([r.python, "-c", "import sqlite3"])[:2]}
    sys.stderr.write("help\n")
    add_rows(rows, "help", "crm --help", interleave(variants, repeat), "crm --help")


def bench_reports(r: Runner, book: Path, repeat: int, rows: list) -> None:
    available = []
    for name in REPORTS:
        probe = r.output([*r.crm, "--db", str(book), "report", name, "--help"])
        if probe.returncode != 0:
            rows.append({"group": "report", "operation": f"crm report {name}",
                         "variant": "not available", "seconds": None, "cpu": None,
                         "peak_mib": None,
                         "ratio": None, "target": "", "met": None})
        else:
            available.append(name)
    runs: dict[str, list] = {name: [] for name in available}
    failed: dict[str, int] = {}
    for round_ in range(repeat):
        sys.stderr.write(f"reports: round {round_ + 1} of {repeat}\n")
        for name in available:
            if name in failed:
                continue
            t, rss, code = r.run([*r.crm, "--db", str(book), "report", name], check=False)
            if code != 0:
                failed[name] = code
            else:
                runs[name].append((t, rss))
    target, check = TARGETS["report"]
    for name in available:
        t = median([w for (w, _), _ in runs[name]])
        rows.append({"group": "report", "operation": f"crm report {name}",
                     "variant": f"failed (exit {failed[name]})" if name in failed else "crm",
                     "seconds": t, "cpu": median([c for (_, c), _ in runs[name]]),
                     "peak_mib": max(m for _, m in runs[name]) / 1024 if runs[name] else None,
                     "ratio": None, "target": target,
                     "met": None if t is None or name in failed else check(t)})


# --- output ------------------------------------------------------------------------


def table(rows: list[dict]) -> str:
    lines = ["| group | operation | variant | median s | CPU s | peak MiB | crm ÷ this | target "
             "| met |", "|---|---|---|---:|---:|---:|---:|---|---|"]
    for row in rows:
        secs = "" if row["seconds"] is None else f"{row['seconds']:.3f}"
        cpu = "" if row.get("cpu") is None else f"{row['cpu']:.3f}"
        mib = "" if row["peak_mib"] is None else f"{row['peak_mib']:.0f}"
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}"
        met = {None: "", True: "yes", False: "**no**"}[row["met"]]
        lines.append(f"| {row['group']} | {row['operation']} | {row['variant']} | {secs} | "
                     f"{cpu} | {mib} | {ratio} | {row['target']} | {met} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=5, help="runs per variant (median)")
    parser.add_argument("--import-repeat", type=int, default=None,
                        help="runs per import variant (default: --repeat)")
    parser.add_argument("--only", default=",".join(GROUPS),
                        help="comma-separated groups: " + ", ".join(GROUPS))
    parser.add_argument("--data", type=Path, default=None,
                        help="generated files (default bench/data/sSCALE-seedSEED)")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args(argv)
    groups = set(args.only.split(","))
    if groups - set(GROUPS):
        parser.error(f"--only: unknown group(s) {', '.join(sorted(groups - set(GROUPS)))}")
    data = (args.data or HERE / "data" / f"s{args.scale}-seed{args.seed}").resolve()
    args.out = args.out.resolve()
    if not (data / "followups.csv").exists():
        sys.stderr.write(f"generating the book into {data}\n")
        sys.path.insert(0, str(HERE))
        from generate import generate

        generate(data, args.scale, args.seed)
    r = Runner(args.out, args.out / "work" / data.name)
    r.run([*r.crm, "--help"])  # warm the bytecode cache
    rows: list[dict] = []
    notes: list[str] = []
    peaks: dict[Path, int] = {}
    started = time.time()
    if "import" in groups:
        bench_import(r, data, args.import_repeat or args.repeat, rows, notes, peaks)
    if "memory" in groups:
        bench_memory(r, data, rows, peaks)
    if groups & {"read", "report"}:
        book = build_book(r, data, notes)
        if "read" in groups:
            bench_read(r, book, args.repeat, rows, notes)
        if "report" in groups:
            bench_reports(r, book, args.repeat, rows)
    if "help" in groups:
        bench_help(r, args.repeat, rows)
    header = (f"scale {args.scale} (seed {args.seed}), median of {args.repeat} interleaved runs"
              + (f" ({args.import_repeat} for imports)" if args.import_repeat else "")
              + f"; {platform.python_implementation()} {platform.python_version()}, SQLite "
              f"{sqlite3.sqlite_version}, {os.cpu_count()} cores; "
              f"{time.time() - started:.0f} s in all\n\n")
    text = header + table(rows) + "".join(f"\n- {n}" for n in notes) + ("\n" if notes else "")
    sys.stdout.write(text)
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"results-{args.scale}-{'-'.join(g for g in GROUPS if g in groups)}"
    (args.out / f"{name}.md").write_text(text, encoding="utf-8")
    (args.out / f"{name}.json").write_text(
        json.dumps({"rows": rows, "notes": notes}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
