"""Hooks: real executables in the test's XDG config folder, run by the real CLI."""

from __future__ import annotations

import json
import stat
import sys
import time
from pathlib import Path

import pytest
from helpers import crm_env, crm_run


@pytest.fixture(autouse=True)
def hooks_on(monkeypatch):
    monkeypatch.delenv("CRM_NO_HOOKS", raising=False)


@pytest.fixture
def hooks(tmp_path) -> Path:
    folder = tmp_path / "xdg-config" / "crmcli" / "hooks"
    folder.mkdir(parents=True)
    return folder


def write_hook(path: Path, text: str, executable: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if executable:
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


# A hook that appends what it was given to a file: {"hook": its name, "file": its file
# name, "lines": [the records on its stdin]}.
RECORDER = """#!PYTHON
import json, os, sys
lines = [json.loads(line) for line in sys.stdin.read().splitlines()]
with open(OUT, "a") as f:
    f.write(json.dumps({"hook": os.environ["CRM_HOOK"], "file": NAME, "lines": lines}) + "\\n")
"""


def recorder(folder: Path, name: str, out: Path, executable: bool = True) -> Path:
    text = (RECORDER.replace("PYTHON", sys.executable).replace("OUT", repr(str(out)))
            .replace("NAME", repr(name)))
    return write_hook(folder / name, text, executable)


def recorded(out: Path) -> list[dict]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines()]


def failing(folder: Path, name: str, status: int, stderr: str) -> Path:
    return write_hook(folder / name, f"#!/bin/sh\ncat >/dev/null\nprintf '%b' '{stderr}' >&2\n"
                                     f"exit {status}\n")


def test_after_hooks_get_each_event_as_one_json_line(crm, hooks, tmp_path):
    out = tmp_path / "events.ndjson"
    for name in ("after-add-client", "after-stage", "after-log", "after-deal-won"):
        recorder(hooks, name, out)
    crm("add", "Acme", "--email", "ops@acme.example", "--stage", "lead", "--tag", "vip")
    crm("log", "Acme", "called about the renewal", "--channel", "call")
    crm("deal", "Acme", "19.99", "--status", "open")
    crm("edit-deal", "1", "--status", "won")
    crm("deal", "Acme", "5", "--status", "lost")
    got = recorded(out)
    assert [e["hook"] for e in got] == ["after-add-client", "after-stage", "after-log",
                                        "after-deal-won"]
    client = got[0]["lines"][0]
    assert (client["id"], client["name"], client["email"], client["stage"], client["tags"],
            client["custom"]) == (1, "Acme", "ops@acme.example", "lead", ["vip"], {})
    assert client == crm.json("ls")[0]  # the record as `crm ls --format json` writes it
    assert got[1]["lines"] == [{"id": 1, "client_id": 1, "client": "Acme", "from_stage": None,
                                "to_stage": "lead", "at": "2026-11-22T10:00:00Z",
                                "note": None}]
    log = got[2]["lines"][0]
    assert (log["client"], log["summary"], log["channel"]) == (
        "Acme", "called about the renewal", "call")
    deal = got[3]["lines"][0]
    assert (deal["id"], deal["client"], deal["amount"], deal["status"], deal["custom"]) == (
        1, "Acme", 19.99, "won", {})


def test_modify_hook_gets_the_client_before_and_after(crm, hooks, tmp_path):
    out = tmp_path / "events.ndjson"
    crm("add", "Acme", "--tag", "vip", "--set", "region=EMEA")
    recorder(hooks, "before-modify-client", out)
    recorder(hooks, "after-modify-client.py", out)
    crm("edit", "Acme", "--phone", "+1 555 0100", "--set", "region=APAC")
    crm("tag", "Acme", "gold")
    crm("stage", "Acme", "qualified")
    crm("edit", "Acme", "--phone", "+1 555 0100")  # unchanged: no event
    got = recorded(out)
    assert [e["hook"] for e in got] == ["before-modify-client", "after-modify-client"] * 3
    assert got[0]["lines"] == got[1]["lines"]
    (old, new), (old2, new2), (old3, new3) = (got[i]["lines"] for i in (0, 2, 4))
    assert (old["phone"], old["custom"], new["phone"], new["custom"]) == (
        None, {"region": "EMEA"}, "+1 555 0100", {"region": "APAC"})
    assert (old2["tags"], new2["tags"]) == (["vip"], ["gold", "vip"])
    assert (old3["stage"], new3["stage"]) == (None, "qualified")
    assert new3 == crm.json("ls")[0]


def test_a_failing_before_hook_refuses_the_change_and_writes_nothing(crm, hooks, tmp_path,
                                                                     db_path, snapshot):
    crm("add", "Acme")
    out = tmp_path / "events.ndjson"
    recorder(hooks, "after-add-client", out)
    failing(hooks, "before-add-client-needs-email", 3,
            r"\n  every client needs an email \033[31maddress\n second line\n")
    failing(hooks, "before-modify-client", 1, "")
    before = snapshot(db_path)
    result = crm("add", "Beta", ok=False)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == ("crm: error: hook before-add-client-needs-email refused the "
                             "change: every client needs an email \\x1b[31maddress (exited "
                             "with status 3); nothing was written\n")
    result = crm("edit", "Acme", "--email", "a@acme.example", ok=False)
    assert result.stderr == ("crm: error: hook before-modify-client refused the change: "
                             "exited with status 1; nothing was written\n")
    assert snapshot(db_path) == before
    failing(hooks, "before-deal-won", 1, "a won deal needs a title")
    result = crm("deal", "Acme", "100", ok=False)
    assert "refused the change: a won deal needs a title" in result.stderr
    # not won: no event (its id is not 1 on PostgreSQL, whose refused insert took that one)
    deal_id = crm("deal", "Acme", "100", "--status", "open").stdout.strip()
    before = snapshot(db_path)
    result = crm("edit-deal", deal_id, "--status", "won", ok=False)
    assert "refused the change: a won deal needs a title" in result.stderr
    assert snapshot(db_path) == before
    assert recorded(out) == []  # nor did an after-hook run


def test_a_failing_after_hook_is_a_warning_and_the_change_stays(crm, hooks):
    failing(hooks, "after-log", 2, r"chat server down\nretrying later")
    crm("add", "Acme")
    result = crm("log", "Acme", "called")
    assert result.stderr.splitlines() == [
        "crm: warning: hook after-log failed: chat server down (exited with status 2); the "
        "change was kept",
        "logged other (out) with client 1 Acme at 2026-11-22 10:00"]
    assert [row["summary"] for row in crm.json("show", "Acme")["timeline"]] == ["called"]


def _gone(pid: int) -> bool:
    """Whether the process has ended (a zombie waiting for its parent's wait has too)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_before_hook_past_the_time_limit_is_killed_with_its_children_and_refuses(
        crm, hooks, tmp_path, db_path, snapshot):
    (tmp_path / "config.yaml").write_text("timezone: UTC\nhooks:\n  timeout: 0.5\n")
    crm("add", "Acme")
    pids = tmp_path / "pids"
    write_hook(hooks / "before-add-client", f"#!/bin/sh\nsleep 60 &\necho $$ $! > {pids}\n"
                                            "wait\n")
    before = snapshot(db_path)
    result = crm("add", "Slow", ok=False)
    assert result.exit_code == 1
    assert result.stderr == ("crm: error: hook before-add-client refused the change: did not "
                             "finish within 0.5 s (hooks.timeout) and was stopped; nothing was "
                             "written\n")
    assert snapshot(db_path) == before
    hook_pid, sleep_pid = map(int, pids.read_text().split())
    deadline = time.monotonic() + 30  # SIGKILL is delivered at once; this is a bound, no wait
    while not (_gone(hook_pid) and _gone(sleep_pid)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _gone(hook_pid) and _gone(sleep_pid)


def test_only_executable_files_with_a_hook_name_run(crm, hooks, tmp_path):
    out = tmp_path / "events.ndjson"
    recorder(hooks, "after-add-client-off", out, executable=False)
    recorder(hooks, "notify-after-add-client", out)
    recorder(hooks, "after-added", out)
    (hooks / "after-add-client.d").mkdir()
    crm("add", "Acme")
    assert recorded(out) == []
    recorder(hooks, "after-add-client-on", out)
    crm("add", "Beta")
    assert [e["file"] for e in recorded(out)] == ["after-add-client-on"]


def test_hooks_run_in_lexical_order_from_the_folder_and_hooks_paths(crm, hooks, tmp_path):
    out = tmp_path / "events.ndjson"
    extra = tmp_path / "team-hooks"
    recorder(hooks, "after-add-client-20", out)
    recorder(extra, "after-add-client-10", out)
    recorder(extra, "after-add-client-30", out)
    single = recorder(tmp_path / "one", "after-add-client-15", out)
    (tmp_path / "config.yaml").write_text(
        f"timezone: UTC\nhooks:\n  paths: [team-hooks, {single}, missing]\n")
    crm("add", "Acme")
    assert [e["file"] for e in recorded(out)] == [
        "after-add-client-10", "after-add-client-15", "after-add-client-20",
        "after-add-client-30"]


def test_no_hooks_option_and_environment_skip_them(crm, hooks, tmp_path, monkeypatch):
    out = tmp_path / "events.ndjson"
    recorder(hooks, "after-add-client", out)
    failing(hooks, "before-add-client", 1, "refused")
    crm("--no-hooks", "add", "Acme")
    crm("add", "Beta", "--no-hooks")
    monkeypatch.setenv("CRM_NO_HOOKS", "1")
    crm("add", "Gamma")
    assert recorded(out) == []
    assert [c["name"] for c in crm.json("ls")] == ["Acme", "Beta", "Gamma"]


def test_a_hook_runs_with_its_name_the_book_and_no_hooks_of_its_own(crm, hooks, tmp_path,
                                                                     db_path):
    out = tmp_path / "env.json"
    write_hook(hooks / "after-log", f"#!{sys.executable}\nimport json, os\n"
               f"json.dump({{k: os.environ.get(k) for k in ('CRM_HOOK', 'CRM_DB', "
               f"'CRM_NO_HOOKS')}}, open({str(out)!r}, 'w'))\n")
    crm("add", "Acme")
    crm("log", "Acme", "hello")
    assert json.loads(out.read_text()) == {"CRM_HOOK": "after-log", "CRM_DB": str(db_path),
                                           "CRM_NO_HOOKS": "1"}


# crm import and crm undo do not run on a PostgreSQL book yet (their SQLite PRAGMAs).
@pytest.mark.sqlite_only
def test_import_runs_hooks_per_record_only_with_hooks(crm, hooks, tmp_path, db_path,
                                                      snapshot):
    out = tmp_path / "events.ndjson"
    recorder(hooks, "after-add-client", out)
    crm("add", "Acme", "--email", "ops@acme.example")
    csv_file = tmp_path / "clients.csv"
    csv_file.write_text("name,email,phone\nBeta,b@beta.example,\nGamma,g@gamma.example,\n"
                        "Acme,ops@acme.example,+1 555 0100\n")
    out.unlink()
    crm("import", "clients", str(csv_file))
    assert recorded(out) == []
    recorder(hooks, "after-modify-client", out)
    crm("rm", "--purge", "--yes", "Beta")
    crm("rm", "--purge", "--yes", "Gamma")
    crm("edit", "Acme", "--phone", "")
    out.unlink()
    crm("import", "clients", str(csv_file), "--hooks")
    got = recorded(out)
    assert [(e["hook"], [line["name"] for line in e["lines"]]) for e in got] == [
        ("after-add-client", ["Beta"]), ("after-add-client", ["Gamma"]),
        ("after-modify-client", ["Acme", "Acme"])]
    assert [line["phone"] for line in got[2]["lines"]] == [None, "+1 555 0100"]
    # A before-hook refuses the whole import, as a bad row would.
    failing(hooks, "before-add-client", 1, "no new clients today")
    csv_file.write_text("name\nDelta\n")
    before = snapshot(db_path)
    result = crm("import", "clients", str(csv_file), "--hooks", ok=False)
    assert "no new clients today" in result.stderr
    assert snapshot(db_path) == before


@pytest.mark.sqlite_only
def test_undo_runs_no_hooks(crm, hooks, tmp_path):
    crm("add", "Acme")
    crm("rm", "--purge", "--yes", "Acme")
    failing(hooks, "before-add-client", 1, "refused")
    crm("undo")
    assert [c["name"] for c in crm.json("ls")] == ["Acme"]


def test_hooks_timeout_must_be_positive(crm, tmp_path):
    (tmp_path / "config.yaml").write_text("hooks:\n  timeout: 0\n")
    result = crm("add", "Acme", ok=False)
    assert "'hooks.timeout' must be more than 0 seconds" in result.stderr


def test_the_real_binary_refuses_with_a_before_hook(tmp_path, hooks, db_path, snapshot):
    env = crm_env(tmp_path, db=db_path)
    env.pop("CRM_NO_HOOKS", None)
    assert crm_run(env, "add", "Acme").returncode == 0
    failing(hooks, "before-modify-client", 4, "owner must be set")
    before = snapshot(db_path)
    result = crm_run(env, "edit", "Acme", "--phone", "+1 555 0100")
    assert (result.returncode, result.stderr) == (1, "crm: error: hook before-modify-client "
                                                     "refused the change: owner must be set "
                                                     "(exited with status 4); nothing was "
                                                     "written\n")
    assert snapshot(db_path) == before


def test_a_hook_that_cannot_be_run_refuses_and_one_that_reads_nothing_is_fine(crm, hooks):
    write_hook(hooks / "before-add-client", "no interpreter line\n")
    result = crm("add", "Acme", ok=False)
    assert result.stderr.splitlines()[-1] == ("crm: error: hook before-add-client refused the "
                                              "change: cannot be run: Exec format error; "
                                              "nothing was written")
    # Exits at once without reading its stdin: a record larger than a pipe holds is no matter.
    write_hook(hooks / "before-add-client", "#!/bin/sh\nexit 0\n")
    crm("add", "Acme", "--note", "x" * 100_000)  # (more than the 64 KiB of a pipe)


def test_deal_stage_moves_run_deal_stage_hooks_and_the_won_one_deal_won_too(crm, hooks,
                                                                           tmp_path):
    out = tmp_path / "events.ndjson"
    recorder(hooks, "after-deal-stage", out)
    recorder(hooks, "after-deal-won", out)
    crm("add", "Acme")
    deal_id = crm("deal", "Acme", "12000", "--stage", "qualify", "--title", "Annual plan"
                  ).stdout.strip()
    crm("stage-deal", deal_id, "propose")
    crm("stage-deal", deal_id, "won")
    got = recorded(out)
    assert [e["hook"] for e in got] == ["after-deal-stage"] * 3 + ["after-deal-won"]
    assert [(e["lines"][0]["from_stage"], e["lines"][0]["to_stage"]) for e in got[:3]] == [
        (None, "qualify"), ("qualify", "propose"), ("propose", "won")]
    move = got[1]["lines"][0]
    assert (move["deal_id"], move["title"], move["client_id"], move["client"]) == (
        int(deal_id), "Annual plan", 1, "Acme")
    deal = got[3]["lines"][0]
    assert (deal["id"], deal["status"], deal["stage"], deal["amount"]) == (
        int(deal_id), "won", "won", 12000)
