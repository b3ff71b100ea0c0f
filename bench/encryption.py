"""crm on an encrypted book against crm on the plain one: imports and reads.

    python bench/encryption.py [--scale 0.05] [--seed 42] [--repeat 5]

Whole `crm` processes (start-up included, as a user or cron sees them), interleaved
(plain, raw key, passphrase, plain, ...) and reported as the median of --repeat runs, wall
and CPU seconds, with the ratio of each encrypted run to the plain one (goal: ≤ 1.3).

- import: `crm import clients` then `crm import interactions` (CSV) into a new book: plain,
  encrypted with a raw 256-bit key (64 hex digits in CRM_DB_KEY: no key derivation), and
  encrypted with a passphrase (SQLCipher's PBKDF2 on every open).
- read: `crm due`, `crm ls --tag vip`, `crm show C0000001`, `crm search TEXT`
  on the imported books.

The generated files are bench/generate.py's (bench/data/sSCALE-seedSEED); the table goes to
stdout and to bench/out/encryption-sSCALE.md. bench/encryption_drivers.py compares the two
encryption builds themselves (SQLCipher and SQLite3 Multiple Ciphers).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import Runner, interleave, median  # noqa: E402

RAW_KEY = "2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe"
PASSPHRASE = "correct horse battery staple"
BOOKS = {"plain": None, "raw key": RAW_KEY, "passphrase": PASSPHRASE}


def with_key(r: Runner, key: str | None) -> Runner:
    keyed = Runner.__new__(Runner)
    keyed.__dict__.update(r.__dict__)
    keyed.env = dict(r.env)
    keyed.env.pop("CRM_DB_KEY", None)
    if key is not None:
        keyed.env["CRM_DB_KEY"] = key
    return keyed


def import_book(r: Runner, data: Path, book: Path) -> tuple[float, float]:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{book}{suffix}").unlink(missing_ok=True)
    wall = cpu = 0.0
    for kind in ("clients", "interactions"):
        (w, c), _, _ = r.run([*r.crm, "--db", str(book), "import", kind,
                              str(data / f"{kind}.csv")])
        wall, cpu = wall + w, cpu + c
    return wall, cpu


def row(label: str, results: dict[str, list]) -> str:
    base = median([w for w, _ in results["plain"]])
    base_cpu = median([c for _, c in results["plain"]])
    cells = []
    for name in BOOKS:
        wall = median([w for w, _ in results[name]])
        cpu = median([c for _, c in results[name]])
        ratio = "" if name == "plain" else f" ({wall / base:.2f}× wall, {cpu / base_cpu:.2f}× cpu)"
        cells.append(f"{wall:.3f} s / {cpu:.3f} s{ratio}")
    return f"| {label} | " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    data = HERE / "data" / f"s{args.scale}-seed{args.seed}"
    if not (data / "followups.csv").exists():
        from generate import generate

        generate(data, args.scale, args.seed)
    out = HERE / "out"
    base = Runner(out, out / "work" / f"encryption-{data.name}")
    runners = {name: with_key(base, key) for name, key in BOOKS.items()}
    books = {name: base.work / f"{name.replace(' ', '-')}.db" for name in BOOKS}
    base.run([*base.crm, "--help"])  # warm the bytecode cache

    lines = ["| what | plain (wall / cpu) | raw key | passphrase |", "|---|---:|---:|---:|"]
    sys.stderr.write("import\n")
    results = interleave({name: lambda n=name: import_book(runners[n], data, books[n])
                          for name in BOOKS}, args.repeat)
    lines.append(row("import clients + interactions (CSV)", results))

    busiest = "C0000001"  # an external id of the generated book
    for label, args_ in (("crm due", ["due"]), ("crm ls --tag vip", ["ls", "--tag", "vip"]),
                         (f"crm show {busiest}", ["show", busiest]),
                         ("crm search 'unpaid invoice'", ["search", "unpaid invoice"])):
        sys.stderr.write(f"read {label}\n")
        results = interleave({name: lambda n=name, a=args_: runners[n].run(
            [*runners[n].crm, "--db", str(books[n]), *a])[0] for name in BOOKS}, args.repeat)
        lines.append(row(label, results))
    counts = {kind: sum(1 for _ in open(data / f"{kind}.csv", encoding="utf-8")) - 1
              for kind in ("clients", "interactions")}
    text = (f"Scale {args.scale} ({counts['clients']:,} clients, {counts['interactions']:,} "
            f"interactions), median of {args.repeat}, whole processes.\n\n" + "\n".join(lines))
    print(text)
    (out / f"encryption-s{args.scale}.md").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
