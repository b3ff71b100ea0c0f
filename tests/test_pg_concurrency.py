"""Several real `crm` processes writing to one PostgreSQL book at once lose nothing: the
eight writers of test_concurrency.py, 200 writes each, against a server."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import ROOT, connect_book, crm_env, crm_run
from test_concurrency import PROCESSES, WORKER, WRITES

pytestmark = pytest.mark.stress  # 1,600 writes from real processes at once


def test_eight_processes_writing_200_times_each_to_postgres_all_land(tmp_path, pg_book):
    env = crm_env(tmp_path, CRM_DB=pg_book)
    assert crm_run(env, "add", "Acme", "-q").stdout.strip() == "1"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    kinds = ["log", "add"] * (PROCESSES // 2)
    procs = [subprocess.Popen([sys.executable, str(script), str(w), kind, str(WRITES)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for w, kind in enumerate(kinds)]
    results = [(proc.wait(timeout=900), *proc.communicate()) for proc in procs]
    stderr = [err for _, _, err in results]
    assert [code for code, _, _ in results] == [0] * PROCESSES, stderr
    assert [json.loads(out.splitlines()[-1]) for _, out, _ in results] == \
        [{"0": WRITES}] * PROCESSES, stderr
    assert not any("error" in text or "Traceback" in text for text in stderr)

    with connect_book(pg_book) as conn:
        calls = [s for (s,) in conn.execute("SELECT summary FROM interactions")]
        clients = [n for (n,) in conn.execute("SELECT name FROM clients WHERE id > 1")]
        tags = conn.execute("SELECT tag, count(*) FROM tags GROUP BY tag ORDER BY tag").fetchall()
        changes = conn.execute("SELECT command, count(*) FROM changes GROUP BY command "
                               "ORDER BY command").fetchall()
        change_ids = [i for (i,) in conn.execute("SELECT id FROM changes ORDER BY id")]
    log_workers = [w for w, k in enumerate(kinds) if k == "log"]
    add_workers = [w for w, k in enumerate(kinds) if k == "add"]
    assert len(calls) + len(clients) == PROCESSES * WRITES == 1600
    assert sorted(calls) == sorted(f"w{w} call {i}" for w in log_workers for i in range(WRITES))
    assert sorted(clients) == sorted(
        f"W{w} client {i}" for w in add_workers for i in range(WRITES))
    assert tags == [(f"w{w}", WRITES) for w in sorted(add_workers, key=str)]
    assert changes == [("add", 1 + WRITES * len(add_workers)), ("log", WRITES * len(log_workers))]
    # writers are serialised: the change log's ids are one run, as on SQLite
    assert change_ids == list(range(1, 1602))

    check = crm_run(env, "db", "check", "--format", "json")
    assert check.returncode == 0, check.stderr
    report = json.loads(check.stdout)
    assert report["ok"] is True and report["interactions"] == 800 and report["clients"] == 801
