"""Several real `crm` processes writing to one database at once lose nothing.

Eight processes each make 200 writes through the real CLI (`crm log` and `crm add`, the
cron-import-while-the-user-logs-calls case). Each process runs the CLI's own entry point
200 times in a loop, so that every write opens the database, takes the write lock, commits
and closes it exactly as a separate `crm` invocation does, without paying 1,600 Python
start-ups on a two-core machine."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-11-22T10:00:00+00:00"
PROCESSES = 8
WRITES = 200

WORKER = r"""
import json, sys
from crmcli.cli import app

worker, kind, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
codes = {}
for i in range(n):
    if kind == "log":
        args = ["log", "Acme", f"w{worker} call {i}", "--channel", "call"]
    else:
        args = ["add", f"W{worker} client {i}", "--tag", f"w{worker}", "-q"]
    try:
        app(args=args, prog_name="crm")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    codes[code] = codes.get(code, 0) + 1
sys.stdout.write(json.dumps(codes) + "\n")
"""


def env_for(tmp_path: Path) -> dict:
    env = {**os.environ, "CRM_DB": str(tmp_path / "crm.db"),
           "CRM_CONFIG": str(tmp_path / "config.yaml"), "CRM_NOW": NOW, "TZ": "UTC",
           "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
           "XDG_DATA_HOME": str(tmp_path / "xdg-data")}
    env.pop("CRM_DEBUG", None)
    return env


def run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crmcli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_eight_processes_writing_200_times_each_land_exactly_1600_rows(tmp_path):
    env = env_for(tmp_path)
    assert run(env, "add", "Acme", "-q").stdout.strip() == "1"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    kinds = ["log", "add"] * (PROCESSES // 2)
    procs = []
    for w, kind in enumerate(kinds):
        err = open(tmp_path / f"worker{w}.err", "w")  # noqa: SIM115 - closed below
        procs.append((subprocess.Popen(
            [sys.executable, str(script), str(w), kind, str(WRITES)], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=err, text=True), err))
    results = []
    for proc, err in procs:
        out, _ = proc.communicate(timeout=600)
        err.close()
        results.append((proc.returncode, json.loads(out.splitlines()[-1])))
    stderr = [(tmp_path / f"worker{w}.err").read_text() for w in range(PROCESSES)]

    # every process ran to the end and every one of its 200 writes succeeded: no busy errors
    assert [code for code, _ in results] == [0] * PROCESSES, stderr
    assert [codes for _, codes in results] == [{"0": WRITES}] * PROCESSES, stderr
    assert not any("error" in text or "Traceback" in text for text in stderr)
    attempted = PROCESSES * WRITES
    assert attempted == 1600

    conn = sqlite3.connect(tmp_path / "crm.db")
    try:
        calls = conn.execute("SELECT summary FROM interactions").fetchall()
        clients = conn.execute("SELECT name FROM clients WHERE id > 1").fetchall()
        tags = conn.execute("SELECT tag, count(*) FROM tags GROUP BY tag ORDER BY tag").fetchall()
        changes = conn.execute("SELECT command, count(*) FROM changes GROUP BY command "
                               "ORDER BY command").fetchall()
    finally:
        conn.close()
    landed = len(calls) + len(clients)
    assert landed == 1600
    # each write landed exactly once: no duplicates, none missing
    log_workers = [w for w, k in enumerate(kinds) if k == "log"]
    add_workers = [w for w, k in enumerate(kinds) if k == "add"]
    assert sorted(s for (s,) in calls) == sorted(
        f"w{w} call {i}" for w in log_workers for i in range(WRITES))
    assert sorted(n for (n,) in clients) == sorted(
        f"W{w} client {i}" for w in add_workers for i in range(WRITES))
    assert tags == [(f"w{w}", WRITES) for w in sorted(add_workers, key=str)]
    # one change per write in the audit trail, plus the seed
    assert changes == [("add", 1 + WRITES * len(add_workers)), ("log", WRITES * len(log_workers))]

    check = run(env, "db", "check", "--format", "json")
    assert check.returncode == 0, check.stderr
    report = json.loads(check.stdout)
    assert report["ok"] is True and report["problems"] == []
    assert report["interactions"] == 800 and report["clients"] == 801
