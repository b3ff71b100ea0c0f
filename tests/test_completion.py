"""Shell completion: `crm completion SHELL` prints the script; the script asks the real
binary for candidates (commands, options, values from the book)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest


def _complete(tmp_path, *words: str, shell: str = "bash", env=None) -> list[str]:
    """What crm answers for the last word of words (the one under the cursor)."""
    environment = {**os.environ, "_CRM_COMPLETE": shell, "COMP_CWORD": str(len(words) - 1),
                   **(env or {})}
    result = subprocess.run([sys.executable, "-m", "crmcli", *words], env=environment,
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return result.stdout.splitlines()


@pytest.fixture
def book(crm, tmp_path):
    crm("add", "Amelia Hart", "--tag", "vip", "--tag", "retainer", "--owner", "sam")
    crm("add", "Aisha Bello", "--tag", "smb", "--owner", "alex")
    crm("add", "Benjamin Cohen")
    (tmp_path / "config.yaml").write_text(
        "timezone: UTC\npipeline: [lead, pitch, won, lost]\n")
    return tmp_path


def test_completion_prints_a_script_for_each_shell(crm):
    assert "complete -o default -F _crm_completion crm" in crm("completion", "bash").stdout
    assert "compdef _crm crm" in crm("completion", "zsh").stdout
    assert "complete -c crm -f -a '(__crm_complete)'" in crm("completion", "fish").stdout
    result = crm("completion", "tcsh", ok=False)
    assert result.exit_code == 2 and "use bash, zsh or fish" in result.stderr


def test_commands_subcommands_and_options(book):
    assert {"add", "ls", "show", "report", "completion"} <= set(_complete(book, ""))
    assert _complete(book, "re") == ["resolve", "report"]
    assert "churn" in _complete(book, "report", "") and "cohorts" in _complete(book, "report", "c")
    options = _complete(book, "ls", "--")
    assert {"--tag", "--format", "--fields", "--no-headers", "--db"} <= set(options)
    assert _complete(book, "report", "churn", "--period", "q") == ["quarter"]
    assert _complete(book, "ls", "-f", "n") == ["ndjson"]


def test_values_from_the_book(book):
    assert _complete(book, "show", "a") == ["Aisha Bello", "Amelia Hart"]
    assert _complete(book, "show", "1") == ["1"]
    assert _complete(book, "ls", "--tag", "") == ["retainer", "smb", "vip"]
    assert _complete(book, "tag", "Amelia Hart", "v") == ["vip"]
    assert _complete(book, "ls", "--owner", "") == ["alex", "sam"]
    assert _complete(book, "stage", "Amelia Hart", "") == ["lead", "pitch", "won", "lost"]
    assert _complete(book, "ls", "--stage", "p") == ["pitch"]
    assert _complete(book, "config", "get", "due.") == ["due.within", "due.stale"]
    assert _complete(book, "export", "") == ["clients", "contacts", "interactions", "deals",
                                             "followups", "invoices", "payments", "all"]


def test_global_options_pick_the_book_and_files_complete(book):
    other = book / "other.db"
    subprocess.run([sys.executable, "-m", "crmcli", "--db", str(other), "add", "Zed Zone"],
                   check=True, capture_output=True, timeout=60)
    assert _complete(book, "show", "--db", str(other), "") == ["Zed Zone"]
    assert _complete(book, "--db", str(other), "show", "Z") == ["Zed Zone"]
    assert _complete(book, "ls", "--db", str(book / "oth")) == [str(other)]


def test_a_missing_book_completes_nothing_and_is_not_created(tmp_path):
    missing = tmp_path / "missing.db"
    assert _complete(tmp_path, "show", "", env={"CRM_DB": str(missing)}) == []
    assert not missing.exists()


def test_bash_completes_a_name_with_a_space_through_the_script(crm, book, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "crm"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m crmcli "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    script = tmp_path / "crm.bash"
    script.write_text(crm("completion", "bash").stdout)
    run = f"""
source {script}
COMP_WORDS=(crm show Am); COMP_CWORD=2; _crm_completion; printf '%s\\n' "${{COMPREPLY[@]}}"
COMP_WORDS=(crm report ch); COMP_CWORD=2; _crm_completion; printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(["bash", "--norc", "-c", run], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["Amelia\\ Hart", "churn"]
