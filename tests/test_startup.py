"""Start-up stays light: what `crm` imports, checked in a fresh interpreter.

A cron job or a script calls `crm` thousands of times, so the read path must not load
modules it does not use (the metrics, mail and model code, numpy, scipy, sqlite_utils,
pydantic, and rich or PyYAML when nothing needs them). Timings live in bench/; these
tests look at sys.modules only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import crm_env

import crmcli.cli as cli
from crmcli import _typer_speedups

# Never wanted on the read path.
HEAVY = ("crmcli.metrics", "crmcli.metrics.bgnbd", "crmcli.metrics.segments", "crmcli.mail",
         "crmcli.services.prediction", "numpy", "scipy", "sqlite_utils", "smtplib", "pandas",
         "dateutil.parser", "tabulate", "crmcli.services.hooks", "sqlcipher3")
# Loaded only when they have something to do (a terminal to draw on, a config file to read,
# a value that needs Pydantic's coercion). Pydantic is Typer's: with the start-up speed-ups
# off (CRM_TYPER_SPEEDUPS=0, crmcli/_typer_speedups.py) Typer loads it for every command.
ON_DEMAND = ("rich", "yaml", "pydantic") if _typer_speedups.enabled() else ("rich", "yaml")

PROBE = """
import atexit, json, sys
_path = sys.argv[1]
def _dump():
    with open(_path, "w") as f:
        json.dump(sorted(sys.modules), f)
atexit.register(_dump)
sys.argv = ["crm"] + sys.argv[2:]
from crmcli.cli import main
main()
"""


def _env(tmp_path: Path) -> dict[str, str]:
    """crm's own environment, less CRM_CONFIG: the config is found (or not) under XDG."""
    env = crm_env(tmp_path)
    env.pop("CRM_CONFIG")
    return env


def run_crm(tmp_path: Path, *args: str, env: dict[str, str] | None = None):
    """Run crm in a fresh interpreter (stdout a pipe); returns (result, modules loaded)."""
    dump = tmp_path / "modules.json"
    result = subprocess.run([sys.executable, "-c", PROBE, str(dump), *args],
                            capture_output=True, text=True, env=env or _env(tmp_path),
                            timeout=60)
    return result, set(json.loads(dump.read_text()))


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_importing_the_cli_loads_nothing_heavy(tmp_path):
    code = "import crmcli.cli, json, sys; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_env(tmp_path), check=True, timeout=60).stdout
    modules = set(json.loads(out))
    assert loaded(modules, HEAVY + ON_DEMAND) == []
    # The store (and its SQL) is loaded by the commands that open it, not by the command list.
    assert "crmcli.store.store" not in modules


def test_due_on_an_empty_database_loads_nothing_heavy(tmp_path, store):
    # `store` has created tmp_path/crm.db (creating a file runs the migrations, which
    # use sqlite_utils; that happens once per file, not on every call).
    result, modules = run_crm(tmp_path, "due")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert loaded(modules, HEAVY + ON_DEMAND) == []
    assert "crmcli.store.store" in modules  # it really did open the database


def test_read_commands_with_options_load_nothing_heavy(tmp_path):
    env = _env(tmp_path)
    for args in (("add", "王伟", "--email", "wang@example.cn", "--tag", "vip"),
                 ("log", "王伟", "确认合同细节")):
        subprocess.run([sys.executable, "-m", "crmcli", *args], env=env, check=True,
                       capture_output=True, timeout=60)
    # The card shows the client's tier, lifecycle status and CLV, from the small, pure
    # metrics modules that compute them (no numpy, no model code).
    card_needs = ["crmcli.metrics", "crmcli.metrics.clv", "crmcli.metrics.lifecycle",
                  "crmcli.metrics.periods", "crmcli.metrics.retention", "crmcli.metrics.segments"]
    for args, needed in ((("ls", "--tag", "vip", "-n", "5", "-f", "json"), []),
                         (("show", "王伟"), card_needs),
                         (("search", "合同"), []),
                         (("due", "--within", "2w", "--json"), [])):
        result, modules = run_crm(tmp_path, *args, env=env)
        assert result.returncode == 0, (args, result.stderr)
        assert result.stdout, args
        assert loaded(modules, HEAVY + ON_DEMAND) == needed, args


def test_help_on_a_pipe_is_plain_and_lists_every_command(tmp_path):
    result, modules = run_crm(tmp_path, "--help")
    assert result.returncode == 0
    assert loaded(modules, HEAVY + ON_DEMAND) == []
    assert "╭" not in result.stdout  # no rich panels when stdout is not a terminal
    listed = result.stdout.split("Commands:", 1)[1]
    # One line per command, its summary whole (wrapped onto indented lines, never cut).
    names = {line.split()[0] for line in listed.splitlines()
             if line.startswith("  ") and not line.startswith("   ")}
    assert "..." not in listed
    expected = {c.name for c in cli.app.registered_commands if not c.hidden}
    expected |= {g.name for g in cli.app.registered_groups if not g.hidden}
    assert names == expected


def test_help_of_a_subcommand_and_an_unknown_command(tmp_path):
    result, _ = run_crm(tmp_path, "ls", "--help")
    assert result.returncode == 0
    assert "--tag" in result.stdout and "Usage: crm ls" in result.stdout
    result, _ = run_crm(tmp_path, "--db", str(tmp_path / "x.db"), "lss")
    assert result.returncode == 2
    assert result.stderr == ("crm: error: No such command 'lss'. Did you mean 'ls'? "
                             "(see 'crm --help')\n")
    assert not (tmp_path / "x.db").exists()


def test_bad_option_values_are_one_line_with_typers_own_words(tmp_path):
    result, _ = run_crm(tmp_path, "ls", "-n", "0")
    assert result.returncode == 2
    assert result.stderr == ("crm: error: Invalid value for '--limit' / '-n': Input should be "
                             "greater than or equal to 1 (see 'crm ls --help')\n")
    result, _ = run_crm(tmp_path, "ls", "-f", "xml")
    assert result.returncode == 2
    assert result.stderr == ("crm: error: Invalid value for '--format' / '-f': 'xml' is not one "
                             "of 'table', 'json', 'ndjson', 'csv', 'tsv', 'markdown'. "
                             "(see 'crm ls --help')\n")


@pytest.mark.parametrize("args,text", [
    (("add",), "crm: error: Missing argument 'NAME'. (see 'crm add --help')"),
    (("ls", "--bogus"), "crm: error: No such option: --bogus (see 'crm ls --help')"),
    (("report", "bogus"), "crm: error: No such command 'bogus'. (see 'crm report --help')"),
    (("report", "clv", "--top", "x"), "crm: error: Invalid value for '--top' / '-n': Input "
     "should be a valid integer, unable to parse string as an integer "
     "(see 'crm report clv --help')"),
])
def test_usage_errors_are_one_line_and_exit_2_in_process_too(crm, db_path, args, text):
    result = crm(*args, ok=False)
    assert (result.exit_code, result.stderr, result.stdout) == (2, text + "\n", "")
    assert not db_path.exists()


def test_a_group_or_crm_alone_shows_its_help_and_exits_2(crm):
    result = crm(ok=False)
    assert result.exit_code == 2 and "Usage: crm [OPTIONS] COMMAND" in result.output
    result = crm("contact", ok=False)
    assert result.exit_code == 2 and "Usage: crm contact" in result.output


def test_yaml_is_read_when_a_config_file_exists(tmp_path, store):  # store: an empty book
    env = _env(tmp_path)
    config = tmp_path / "xdg-config" / "crmcli" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("output:\n  format: json\n")
    result, modules = run_crm(tmp_path, "due", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"  # the config was honoured
    assert "yaml" in modules


def test_whole_process_output_matches_in_process_output(tmp_path, crm):
    crm("add", "Amelia Hart", "--email", "amelia@example.com", "--tag", "vip", "--tag", "smb")
    crm("add", "佐藤 花子", "--tag", "vip")
    crm("add", "Lucas Moreau", "--tag", "smb")
    env = _env(tmp_path)
    env["CRM_CONFIG"] = str(tmp_path / "config.yaml")
    for args in (("ls", "--tag", "vip", "--tag", "smb", "-f", "csv"),
                 ("ls", "--tag", "vip", "--sort", "id", "--desc", "-n", "1", "--json"),
                 ("ls", "-f", "MARKDOWN", "--limit", "2")):
        result, _ = run_crm(tmp_path, *args, env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout == crm(*args).stdout, args
