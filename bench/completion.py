"""Shell completion against a plain read command, whole process, medians.

    python bench/completion.py DB [--repeat N]

Runs, on the book DB (e.g. the demo book, or bench/generate.py's): completing a client
name (`crm show A<TAB>`), a tag (`crm ls --tag <TAB>`), a command (`crm <TAB>`), and the
plain read commands `crm tags` and `crm ls -n 1`; prints a table of medians and each
completion's ratio to `crm tags`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

args = sys.argv[1:]
repeat = 7
if "--repeat" in args:
    i = args.index("--repeat")
    repeat = int(args[i + 1])
    del args[i:i + 2]
db = args[0]
env = {**os.environ, "CRM_DB": db, "CRM_NOW": "2026-11-22T10:00:00+00:00"}
crm = [sys.executable, "-m", "crmcli"]
CASES = {
    "complete: crm show A<TAB>": (["show", "A"], "1"),
    "complete: crm ls --tag <TAB>": (["ls", "--tag", ""], "2"),
    "complete: crm <TAB>": ([""], "0"),
    "read: crm tags": (["tags"], None),
    "read: crm ls -n 1": (["ls", "-n", "1"], None),
}


def run(words, cword):
    extra = {"_CRM_COMPLETE": "bash", "COMP_CWORD": cword} if cword is not None else {}
    start = time.perf_counter()
    subprocess.run(crm + words, env={**env, **extra}, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


medians = {}
for name, (words, cword) in CASES.items():
    run(words, cword)  # warm the file cache
    medians[name] = statistics.median(run(words, cword) for _ in range(repeat))
base = medians["read: crm tags"]
print(f"| what | median s | ÷ crm tags |\n|---|---:|---:|")
for name, value in medians.items():
    print(f"| {name} | {value:.3f} | {value / base:.2f} |")
