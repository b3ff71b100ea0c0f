"""A process killed with SIGKILL in the middle of a large import (or of undoing one) leaves a
database that passes `crm db check`, with the import either wholly present or wholly absent.

Every kill point is an event the process reports, never a moment: the process is held still
at that event (tests/helpers.py counts SQL statements through SQLite's trace callback) and
killed there, so each run kills where it says on any machine, at any speed.

One test runs the real `crm import interactions big.csv` and kills it at statements spread
over its run (counted first, on the same database), and once just after its COMMIT (while
the process closes the store and checkpoints the write-ahead log). In another the importer
is a real subprocess doing what an import of interactions does: one `store.change()` holding
one `insert_many` of 100,000 rows (the store's bulk path, with the change log and the search
index kept in the same transaction). It reports its progress on stdout, and the test kills
it at chosen points: early in the insert, half-way, while the search index is written, at
COMMIT, racing COMMIT, and right after the commit while the store closes and checkpoints the
write-ahead log. The third kills `crm undo` of a 100,000-row import midway."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, crm_env, crm_held_at, crm_statements
from helpers import crm_run as crm

pytestmark = pytest.mark.stress  # minutes of real imports killed and checked

ROWS = 100_000

IMPORTER = r"""
import sys, threading
from crmcli.store import CrmStore

db, n, tag, hold = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

def reached(event):
    # says where the import is, and stays there when it is the kill point (held)
    print(event, flush=True)
    if event == hold:
        threading.Event().wait()

store = CrmStore(db)
indexed = 0

def traced(sql):
    global indexed
    if sql.startswith("INSERT") and "INTO search_index " in sql:
        indexed += 1
        if indexed == n // 2:
            reached(f"indexed {indexed}")
    elif sql == "COMMIT":
        reached("COMMIT")

store.conn.set_trace_callback(traced)

def rows():
    for i in range(n):
        if i % 10000 == 0:
            reached(f"rows {i}")
        yield (1, "2026-01-01T00:00:00Z", "call", "out", "note", f"{tag} call {i}",
               "2026-11-22T10:00:00Z")
    reached("inserted")

with store.change("import interactions", f"imported {n} interactions ({tag})"):
    store.insert_many("interactions", ["client_id", "at", "channel", "direction", "kind",
                                        "summary", "created_at"], rows())
reached("committed")
store.close()
reached("closed")
"""


def import_counts(db: Path) -> dict:
    """Rows per import tag, and the import changes recorded in the audit trail."""
    conn = sqlite3.connect(db)
    try:
        per_tag = dict(conn.execute(
            "SELECT substr(summary, 1, instr(summary, ' ') - 1), count(*) FROM interactions "
            "GROUP BY 1").fetchall())
        changes = conn.execute("SELECT id, summary FROM changes WHERE command = "
                               "'import interactions' AND undone_by IS NULL").fetchall()
        searchable = conn.execute(
            "SELECT count(*) FROM search_index WHERE rowid % 4 = 2").fetchone()[0]
    finally:
        conn.close()
    return {"rows": per_tag, "changes": [s for _, s in changes], "searchable": searchable}


def assert_check_passes(env: dict) -> dict:
    result = crm(env, "db", "check", "--format", "json")
    assert result.returncode == 0, (result.stdout, result.stderr)
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["problems"] == []
    return report


def run_and_kill(tmp_path: Path, env: dict, tag: str, trigger: str | None, held: bool = True
                 ) -> bool:
    """Start an import; SIGKILL it when it reports `trigger` (None: let it finish): held
    still there, or (held False) racing on from there. Returns True when the kill hit a
    running process."""
    script = tmp_path / "importer.py"
    script.write_text(IMPORTER)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "crm.db"), str(ROWS),
                             tag, trigger if held and trigger else ""], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.strip() == trigger:
                break
        if trigger is not None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stderr = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    assert "Traceback" not in stderr, stderr
    assert proc.returncode in (0, -signal.SIGKILL), (proc.returncode, stderr)
    return proc.returncode == -signal.SIGKILL


# (event, held): from early in the insert to the WAL checkpoint after the commit; one kill
# races COMMIT instead of waiting at its start
KILL_POINTS = [("rows 10000", True), ("rows 50000", True), ("rows 90000", True),
               ("inserted", True), (f"indexed {ROWS // 2}", True), ("COMMIT", True),
               ("COMMIT", False), ("committed", True)]


def test_an_import_killed_at_any_point_is_wholly_present_or_wholly_absent(tmp_path):
    env = crm_env(tmp_path)
    (tmp_path / "config.yaml").write_text("timezone: UTC\n")
    assert crm(env, "add", "Acme", "-q").stdout.strip() == "1"
    assert crm(env, "log", "Acme", "base call before any import").returncode == 0

    kills, outcomes, present = 0, [], set()
    for n, (trigger, held) in enumerate(KILL_POINTS):
        tag = f"imp{n}"
        killed = run_and_kill(tmp_path, env, tag, trigger, held)
        kills += killed
        assert_check_passes(env)
        counts = import_counts(tmp_path / "crm.db")
        assert counts["rows"].get("base") == 1  # what was there before is untouched
        got = counts["rows"].get(tag, 0)
        assert got in (0, ROWS), (trigger, held, got)  # whole or absent, never a part
        if got:
            present.add(tag)
        outcomes.append((trigger, held, killed, got))
        # the audit trail agrees with the data: one change per import that landed
        assert sorted(counts["changes"]) == sorted(
            f"imported {ROWS} interactions ({t})" for t in present)
        assert counts["searchable"] == 1 + ROWS * len(present)
        assert set(counts["rows"]) == {"base"} | present
    # the kills during the insert hit a running import, which left nothing; the kill after
    # COMMIT left the import whole, whether it hit the closing process or came too late
    assert [o[2:] for o in outcomes[:4]] == [(True, 0)] * 4, outcomes
    assert outcomes[-1][3] == ROWS, outcomes
    assert kills >= 5, outcomes
    print(f"kills survived: {kills} of {len(KILL_POINTS)} runs; outcomes {outcomes}")

    # the database is fully usable afterwards: a new import, then undo of it, both whole
    assert not run_and_kill(tmp_path, env, "final", None)
    assert import_counts(tmp_path / "crm.db")["rows"]["final"] == ROWS
    result = crm(env, "undo")
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("undid change ")
    assert f": imported {ROWS} interactions (final) (as change " in result.stderr
    assert "final" not in import_counts(tmp_path / "crm.db")["rows"]
    assert_check_passes(env)


CLI_ROWS = 60_000


def _big_csv(path: Path, tag: str) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("client,at,channel,summary\n")
        # one call a second, as a phone system's export would have them
        fh.writelines(f"ops@acme.test,2026-01-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:"
                      f"{i % 60:02d}Z,call,{tag} call {i}\n" for i in range(CLI_ROWS))
    return path


def test_crm_import_killed_at_any_point_is_wholly_present_or_wholly_absent(tmp_path):
    env = crm_env(tmp_path)
    (tmp_path / "config.yaml").write_text("timezone: UTC\n")
    db = tmp_path / "crm.db"
    assert crm(env, "add", "Acme", "--email", "ops@acme.test", "-q").stdout.strip() == "1"
    assert crm(env, "log", "Acme", "base call before any import").returncode == 0
    # how many SQL statements a whole import runs here, on this database
    result, whole = crm_statements(env, "import", "interactions",
                                   str(_big_csv(tmp_path / "whole.csv", "whole")))
    assert result.returncode == 0, result.stderr
    present = {"whole"}

    # kills spread over its statements, then one just after its COMMIT (while the process
    # closes the store and checkpoints the write-ahead log)
    points: list[float | str] = [0.1, 0.25, 0.4, 0.55, 0.7, 0.85, "committed"]
    kills, outcomes = 0, []
    for n, point in enumerate(points):
        tag = f"cli{n}"
        source = _big_csv(tmp_path / f"{tag}.csv", tag)
        at = "after-commit" if point == "committed" else int(whole * point)
        proc = crm_held_at(env, at, "import", "interactions", str(source))
        proc.send_signal(signal.SIGKILL)
        _, stderr = proc.communicate(timeout=120)
        stderr = proc.stderr_before_hold + stderr
        assert "Traceback" not in stderr, stderr
        killed = proc.returncode == -signal.SIGKILL
        assert killed or proc.returncode == 0, stderr
        kills += killed
        assert_check_passes(env)
        counts = import_counts(db)
        got = counts["rows"].get(tag, 0)
        assert got in (0, CLI_ROWS), (point, got)
        if got:
            present.add(tag)
        assert counts["rows"]["base"] == 1
        assert set(counts["rows"]) == {"base"} | present
        outcomes.append((point, killed, got))
    assert kills >= 4, outcomes
    assert outcomes[0] == (0.1, True, 0), outcomes          # killed early: nothing
    assert outcomes[-1][2] == CLI_ROWS, outcomes            # killed after COMMIT: all of it
    print(f"crm import kills survived: {kills} of {len(points)} (a whole import ran "
          f"{whole} statements); outcomes {outcomes}")
    # whatever landed is one change each, and the newest one undoes whole
    conn = sqlite3.connect(db)
    try:
        imports = conn.execute("SELECT count(*) FROM changes WHERE command = 'import'"
                               ).fetchone()[0]
    finally:
        conn.close()
    assert imports == len(present)
    result = crm(env, "undo")
    assert result.returncode == 0 and "imported interactions from" in result.stderr
    assert len(import_counts(db)["rows"]) == len(present)  # base stays, one import gone
    assert_check_passes(env)


def test_undo_of_a_large_import_killed_midway_is_wholly_done_or_not_at_all(tmp_path):
    env = crm_env(tmp_path)
    (tmp_path / "config.yaml").write_text("timezone: UTC\n")
    assert crm(env, "add", "Acme", "-q").returncode == 0
    assert not run_and_kill(tmp_path, env, "big", None)
    # how many SQL statements a whole undo runs; then redo, and kill undos along the way
    result, whole = crm_statements(env, "undo")
    assert result.returncode == 0 and result.stderr.startswith("undid change 2: ")
    assert crm(env, "undo").stderr.startswith("redid change 2: ")
    kills = 0
    for point in (0.3, 0.6, 0.9):
        proc = crm_held_at(env, int(whole * point), "undo")
        proc.send_signal(signal.SIGKILL)
        _, stderr = proc.communicate(timeout=60)
        assert "Traceback" not in proc.stderr_before_hold + stderr
        kills += proc.returncode == -signal.SIGKILL
        assert_check_passes(env)
        rows = import_counts(tmp_path / "crm.db")["rows"].get("big", 0)
        assert rows in (0, ROWS)
        if rows == 0:  # the undo got through before the kill: put the import back
            assert crm(env, "undo").stderr.startswith("redid change 2: ")
    assert kills >= 2
    print(f"undo kills survived: {kills} of 3")
    # and a clean run of the undo still removes the whole import
    result = crm(env, "undo")
    assert result.returncode == 0, result.stderr
    assert import_counts(tmp_path / "crm.db")["rows"].get("big", 0) == 0
    assert_check_passes(env)
