"""crmcli's own plain and markdown tables against tabulate's, on the rows `crm due` prints.

    python bench/tables.py [--rows 20000] [--repeat 5]

Renders the same rows (ints, exact Decimal amounts, names with CJK characters) with
crmcli.render.output.emit (table, markdown) and with tabulate's "simple" and "pipe"
formats (numbers not re-parsed), and prints the median time of each and whether the text is
the same. Why crmcli does not use tabulate: README.md, "Why these libraries".
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crmcli.render.output import emit  # noqa: E402

COLUMNS = ["id", "client", "status", "amount", "what"]


def rows_of(n: int) -> list[dict]:
    names = ["Acme Ltd", "東京商事", "Globex", "Müller GmbH", "株式会社サンプル"]
    return [{"id": i, "client": names[i % len(names)], "status": "overdue" if i % 3 else "due",
             "amount": Decimal(f"{i * 7 % 10000}.{i % 100:02d}"), "what": "call back"}
            for i in range(1, n + 1)]


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    from tabulate import tabulate

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = rows_of(args.rows)

    def tab(fmt):
        return tabulate([[r[c] for c in COLUMNS] for r in rows], headers=COLUMNS, tablefmt=fmt,
                        disable_numparse=True) + "\n"

    def ours(fmt):
        out = io.StringIO()  # not a terminal: the plain table, as in a pipe or cron
        emit(rows, fmt, columns=COLUMNS, out=out)
        return out.getvalue()

    pairs = [("table", lambda: ours("table"), lambda: tab("simple")),
             ("markdown", lambda: ours("markdown"), lambda: tab("pipe"))]
    print(f"{args.rows:,} rows, median of {args.repeat}\n")
    print("| format | crmcli (s) | tabulate (s) | tabulate ÷ crmcli | same text |")
    print("|---|---:|---:|---:|---|")
    for name, own, theirs in pairs:
        a, b = timed(own, args.repeat), timed(theirs, args.repeat)
        print(f"| {name} | {a:.3f} | {b:.3f} | {b / a:.1f} | {own() == theirs()} |")


if __name__ == "__main__":
    main()
