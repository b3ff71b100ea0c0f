"""-e opens $VISUAL / $EDITOR (a real program, here a script) on an owner-only temporary
file; what it leaves there is the text; an empty text or a failing editor changes nothing."""

from __future__ import annotations

import json
import sys

import pytest

EDITOR = '''#!{python}
import json, os, stat, sys
path = sys.argv[-1]
with open(path, encoding="utf-8") as fh:
    before = fh.read()
log = os.environ["EDITOR_LOG"]
with open(log, "a", encoding="utf-8") as fh:
    fh.write(json.dumps({{"argv": sys.argv[1:-1], "mode": stat.S_IMODE(os.stat(path).st_mode),
                         "path": path, "before": before}}) + "\\n")
with open(path, "w", encoding="utf-8") as fh:
    fh.write(os.environ.get("EDITOR_WRITES", "").replace("{{before}}", before))
sys.exit(int(os.environ.get("EDITOR_EXIT", "0")))
'''


@pytest.fixture
def editor(tmp_path, monkeypatch):
    script = tmp_path / "fake-editor"
    script.write_text(EDITOR.format(python=sys.executable))
    script.chmod(0o700)
    log = tmp_path / "editor.log"
    monkeypatch.setenv("EDITOR_LOG", str(log))
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", f"{script} --wait")

    def calls():
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return calls


def test_log_e_takes_the_summary_from_the_editor(crm, editor, monkeypatch):
    crm("add", "Acme")
    monkeypatch.setenv("EDITOR_WRITES", "Long call about the renewal.\nThey want a discount.\n"
                                        "# crm: this hint line is left out\n")
    crm("log", "Acme", "-e", "-c", "call")
    assert crm.json("history", "--limit", "1")[0]["command"] == "log"
    row = crm.json("search", "discount")[0]
    assert row["kind"] == "interaction"
    [call] = editor()
    assert call["argv"] == ["--wait"]  # the editor command's own arguments are kept
    assert call["mode"] == 0o600
    assert "summary of the interaction with Acme" in call["before"]
    from pathlib import Path

    assert not Path(call["path"]).exists()  # the temporary file is gone


def test_an_empty_text_aborts_and_changes_nothing(crm, editor, monkeypatch, db_path, snapshot):
    crm("add", "Acme")
    before = snapshot(db_path)
    monkeypatch.setenv("EDITOR_WRITES", "\n# crm: only the hint\n\n")
    result = crm("log", "Acme", "-e", ok=False)
    assert result.exit_code == 1 and "empty text; aborted, nothing changed" in result.stderr
    assert snapshot(db_path) == before


def test_a_failing_editor_changes_nothing(crm, editor, monkeypatch, db_path, snapshot):
    crm("add", "Acme")
    before = snapshot(db_path)
    monkeypatch.setenv("EDITOR_WRITES", "text")
    monkeypatch.setenv("EDITOR_EXIT", "3")
    result = crm("log", "Acme", "-e", ok=False)
    assert result.exit_code == 1 and "exited with 3; nothing changed" in result.stderr
    assert snapshot(db_path) == before


def test_visual_comes_before_editor(crm, editor, monkeypatch, tmp_path):
    crm("add", "Acme")
    monkeypatch.setenv("VISUAL", f"{tmp_path / 'fake-editor'} --visual")
    monkeypatch.setenv("EDITOR", "false")
    monkeypatch.setenv("EDITOR_WRITES", "via visual")
    crm("log", "Acme", "-e")
    assert editor()[0]["argv"] == ["--visual"]


def test_edit_log_and_edit_notes_start_from_the_current_text(crm, editor, monkeypatch):
    crm("add", "Acme", "--note", "Met at the fair.")
    crm("log", "Acme", "First call")
    monkeypatch.setenv("EDITOR_WRITES", "{before}Second line.")
    crm("edit-log", "1", "-e")
    crm("edit", "Acme", "-e")
    first, second = editor()
    assert first["before"].startswith("First call\n")
    assert second["before"].startswith("Met at the fair.\n")
    card = crm.json("show", "Acme", "--fields", "notes")
    assert card["notes"] == "Met at the fair.\nSecond line."
    assert crm.json("search", "Second")[0]["kind"] in ("interaction", "client")


def test_summary_and_e_together_or_neither_are_usage_errors(crm, editor):
    crm("add", "Acme")
    assert crm("log", "Acme", ok=False).exit_code == 2
    assert crm("log", "Acme", "text", "-e", ok=False).exit_code == 2
    assert editor() == []


def test_no_editor_without_a_terminal_is_a_usage_error(crm, monkeypatch):
    crm("add", "Acme")
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    result = crm("log", "Acme", "-e", ok=False)
    assert result.exit_code == 2 and "set $VISUAL or $EDITOR" in result.stderr
