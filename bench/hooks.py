"""What hooks cost a writing command, whole process, medians.

    python bench/hooks.py [--repeat N]

In a scratch folder: `crm log` on a one-client book with hooks off (`--no-hooks`), with
no hook in the folder (the default: the events are not even worked out), with one
`after-log` hook in sh, and with one in Python; prints a table of medians and each
case's ratio to `--no-hooks` (the cases taken in turn).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

args = sys.argv[1:]
repeat = 11
if "--repeat" in args:
    repeat = int(args[args.index("--repeat") + 1])
root = Path(tempfile.mkdtemp(prefix="crm-bench-hooks-"))
folder = root / "config" / "crmcli" / "hooks"
folder.mkdir(parents=True)
env = {**os.environ, "CRM_DB": str(root / "crm.db"), "XDG_CONFIG_HOME": str(root / "config"),
       "CRM_NOW": "2026-11-22T10:00:00+00:00"}
for name in ("CRM_NO_HOOKS", "CRM_CONFIG"):
    env.pop(name, None)
crm = [sys.executable, "-m", "crmcli"]
subprocess.run([*crm, "add", "Acme"], env=env, check=True, capture_output=True)

HOOKS = {
    "sh": "#!/bin/sh\ncat > /dev/null\n",
    "python": f"#!{sys.executable}\nimport json, sys\njson.loads(sys.stdin.readline())\n",
}


CASES = {"--no-hooks": (["--no-hooks"], None), "no hook in the folder": ([], None),
         "one after-log hook in sh": ([], "sh"), "one after-log hook in python": ([], "python")}


def run(extra: list[str], hook: str | None) -> float:
    path = folder / "after-log"
    if hook is not None:
        path.write_text(HOOKS[hook])
        path.chmod(0o755)
    start = time.perf_counter()
    subprocess.run([*crm, *extra, "log", "Acme", "called"], env=env, check=True,
                   capture_output=True)
    took = time.perf_counter() - start
    path.unlink(missing_ok=True)
    return took


# Round-robin, so that a busy machine slows every case alike.
times: dict[str, list[float]] = {name: [] for name in CASES}
for round_ in range(repeat + 1):
    for name, (extra, hook) in CASES.items():
        took = run(extra, hook)
        if round_:  # the first round warms the file cache
            times[name].append(took)
medians = {name: statistics.median(values) for name, values in times.items()}
base = medians["--no-hooks"]
print("| crm log | median s | ÷ --no-hooks |\n|---|---:|---:|")
for name, value in medians.items():
    print(f"| {name} | {value:.3f} | {value / base:.2f} |")
