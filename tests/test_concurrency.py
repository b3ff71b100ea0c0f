"""Several real `crm` processes writing to one database at once lose nothing.

Eight processes each make 200 writes through the real CLI (`crm log` and `crm add`). Each
process runs the CLI's own entry point 200 times in a loop, so that every write opens the
database, takes the write lock, commits and closes it exactly as a separate `crm`
invocation does, without paying 1,600 Python start-ups on a two-core machine. Like
`crm`'s own `main()`, a worker builds only the command it runs.

The second test is the cron case: a cron job that spawns real `crm import` and
`crm due --email --sendmail` processes over and over while people log calls, schedule
follow-ups, record deals and edit the same client at the same time."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest
from helpers import ROOT, crm_env, crm_run

pytestmark = pytest.mark.stress  # thousands of writes from real processes at once

PROCESSES = 8
WRITES = 200

WORKER = r"""
import json, sys
from crmcli.cli import for_argv

worker, kind, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
# what `crm`'s main() does before running a command (with the start-up speed-ups on)
app = for_argv(["log" if kind == "log" else "add"])
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


def test_eight_processes_writing_200_times_each_land_exactly_1600_rows(tmp_path):
    env = crm_env(tmp_path)
    assert crm_run(env, "add", "Acme", "-q").stdout.strip() == "1"
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

    check = crm_run(env, "db", "check", "--format", "json")
    assert check.returncode == 0, check.stderr
    report = json.loads(check.stdout)
    assert report["ok"] is True and report["problems"] == []
    assert report["interactions"] == 800 and report["clients"] == 801


# --- the cron case: imports and the digest while people work ---------------------------------

# A person at the keyboard: writes of one kind, one `crm` invocation each, until the cron job
# is over (the stop file appears) and at least `n` writes were made.
INTERACTIVE = r"""
import json, os, sys
from crmcli.cli import for_argv

worker, kind, n, stop = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
app = for_argv([kind])
codes, i = {}, 0
while i < n or not os.path.exists(stop):
    args = {"log": ["log", "Acme", f"u{worker} call {i}", "--channel", "call"],
            "followup": ["followup", "Globex", "today", f"u{worker} follow-up {i}"],
            "deal": ["deal", "Globex", f"{i}.99", "--title", f"u{worker} deal {i}"],
            "edit": ["edit", "Globex", "--note", f"u{worker} note {i}"]}[kind]
    try:
        app(args=args, prog_name="crm")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    codes[code] = codes.get(code, 0) + 1
    i += 1
sys.stdout.write(json.dumps({"attempted": i, "codes": codes}) + "\n")
"""

# A cron job: every "hour" a real `crm import` process loads a spreadsheet of calls, then a
# real `crm due --email --sendmail` process mails what is new.
CRON = r"""
import json, subprocess, sys

folder, runs, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
results = []
for k in range(runs):
    path = f"{folder}/cron{k}.csv"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("client,at,channel,summary\n")
        fh.writelines(f"{'ops@acme.test' if i % 2 else 'hi@globex.test'},2026-11-0{1 + i % 9},"
                      f"email,cron{k} mail {i}\n" for i in range(rows))
    for args in (["import", "interactions", path], ["due", "--email", "--sendmail"]):
        done = subprocess.run([sys.executable, "-m", "crmcli", *args], capture_output=True,
                              text=True, timeout=300)
        results.append((args[0], done.returncode, done.stderr))
sys.stdout.write(json.dumps(results) + "\n")
"""

CRON_RUNS, CRON_ROWS, USER_WRITES = 6, 2000, 100
USERS = ["log", "log", "followup", "deal", "edit"]


def test_a_cron_import_and_digest_running_while_people_work_lose_no_write(tmp_path):
    env = crm_env(tmp_path)
    outbox, stop = tmp_path / "outbox", tmp_path / "stop"
    (tmp_path / "config.yaml").write_text(
        "timezone: UTC\nsmtp:\n  to: [me@example.com]\n  html: false\n"
        f"sendmail:\n  command: sh -c 'cat >> {outbox}'\n")
    assert crm_run(env, "add", "Acme", "--email", "ops@acme.test", "-q").stdout.strip() == "1"
    assert crm_run(env, "add", "Globex", "--email", "hi@globex.test", "-q").stdout.strip() == "2"
    (tmp_path / "user.py").write_text(INTERACTIVE)
    (tmp_path / "cron.py").write_text(CRON)

    users = [subprocess.Popen(
        [sys.executable, str(tmp_path / "user.py"), str(w), kind, str(USER_WRITES), str(stop)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w, kind in enumerate(USERS)]
    cron = subprocess.Popen([sys.executable, str(tmp_path / "cron.py"), str(tmp_path),
                             str(CRON_RUNS), str(CRON_ROWS)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cron_out, cron_err = cron.communicate(timeout=900)
    stop.touch()
    outputs = [proc.communicate(timeout=300) for proc in users]
    assert cron.returncode == 0, cron_err
    assert [p.returncode for p in users] == [0] * len(users), [e for _, e in outputs]

    runs = json.loads(cron_out.splitlines()[-1])
    assert [(what, code) for what, code, _ in runs] == [("import", 0), ("due", 0)] * CRON_RUNS, \
        runs
    assert all("error" not in err and "Traceback" not in err for _, _, err in runs), runs
    made = []
    for out, err in outputs:
        report = json.loads(out.splitlines()[-1])
        assert report["codes"] == {"0": report["attempted"]}, err  # every write succeeded
        assert report["attempted"] >= USER_WRITES
        assert "error" not in err and "Traceback" not in err, err
        made.append(report["attempted"])

    conn = sqlite3.connect(tmp_path / "crm.db")
    try:
        rows = conn.execute("SELECT id, summary FROM interactions").fetchall()
        followups = conn.execute("SELECT count(*) FROM followups").fetchone()[0]
        deals = conn.execute("SELECT count(*) FROM deals").fetchone()[0]
        notes = conn.execute("SELECT notes FROM clients WHERE id = 2").fetchone()[0]
        changes = dict(conn.execute("SELECT command, count(*) FROM changes GROUP BY command"))
        digests = conn.execute("SELECT count(*) FROM digests").fetchone()[0]
    finally:
        conn.close()
    summaries = [s for _, s in rows]
    by_kind = dict(zip(range(len(USERS)), made, strict=True))
    logs = [f"u{w} call {i}" for w, k in enumerate(USERS) if k == "log"
            for i in range(by_kind[w])]
    imported = [f"cron{k} mail {i}" for k in range(CRON_RUNS) for i in range(CRON_ROWS)]
    # every write landed exactly once: no duplicates, none missing
    assert sorted(summaries) == sorted(logs + imported)
    assert followups == by_kind[USERS.index("followup")]
    assert deals == by_kind[USERS.index("deal")]
    edits = by_kind[USERS.index("edit")]
    assert notes == f"u4 note {edits - 1}"  # the last edit is the one that stuck
    assert changes == {"add": 2, "import": CRON_RUNS, "log": len(logs), "followup": followups,
                       "deal": deals, "edit": edits, "due --email": digests}
    # the people really wrote while the imports ran: calls logged between the imports
    first_import = min(i for i, s in rows if s.startswith("cron0 "))
    last_import = max(i for i, s in rows if s.startswith(f"cron{CRON_RUNS - 1} "))
    between = sum(first_import < i < last_import for i, s in rows if s.startswith("u"))
    assert between > 0
    # each digest that was recorded was delivered, and none was recorded twice
    assert 1 <= digests <= CRON_RUNS
    mailed = outbox.read_text()
    assert mailed.count("\nSubject: ") + mailed.startswith("Subject: ") == digests
    attempted = sum(made) + CRON_RUNS * CRON_ROWS
    landed = len(summaries) + followups + deals + changes["edit"]
    assert landed == attempted
    print(f"cron mix: {attempted} writes attempted ({CRON_RUNS} imports of {CRON_ROWS} rows, "
          f"{sum(made)} interactive by {len(USERS)} processes: {made}), {landed} landed, "
          f"{between} calls logged between the first and the last import, {digests} digests")

    # after the storm the ledger is exact: one more run mails only what is new, then nothing
    crm_run(env, "due", "--email", "--sendmail")
    again = crm_run(env, "due", "--email", "--sendmail")
    assert again.returncode == 0 and again.stdout == again.stderr == ""
    sent = outbox.read_text()
    assert crm_run(env, "due", "--email", "--sendmail").returncode == 0
    assert outbox.read_text() == sent
    check = crm_run(env, "db", "check", "--format", "json")
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout)["ok"] is True
