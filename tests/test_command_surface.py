"""The command surface as a whole: every command documented, helpful and consistent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Commands that print records must offer every output format; the others print a message,
# write a file or send mail.
NOT_RECORD_PRINTING = {
    "add", "edit", "rm", "merge", "tag", "log", "resolve", "deal", "followup", "done",
    "snooze", "cadence", "import", "undo", "demo", "contact add", "contact edit", "contact rm",
    "db path", "db backup", "db migrate", "config path", "config init", "stage",
}


def _commands():
    import typer.main

    from crmcli.cli import app

    root = typer.main.get_command(app)
    found = []

    def walk(group, prefix):
        for name, cmd in group.commands.items():
            path = f"{prefix}{name}"
            if hasattr(cmd, "commands"):
                walk(cmd, f"{path} ")
            else:
                found.append((path, cmd))

    walk(root, "")
    return found


COMMANDS = _commands()


def config_keys(mapping, prefix=""):
    """Every dotted key of the config defaults (the leaves)."""
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            yield from config_keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def test_the_surface_has_the_commands_of_the_spec():
    names = {name for name, _ in COMMANDS}
    for expected in ["add", "edit", "show", "ls", "search", "rm", "merge", "contact add",
                     "contact ls", "log", "tag", "tags", "stage", "deal", "deals", "followup",
                     "done", "snooze", "due", "cadence", "import", "export", "history", "undo",
                     "db path", "db check", "db backup", "db migrate", "config show",
                     "config path", "config init", "demo", "report summary",
                     "report retention", "report cohorts", "report churn", "report clv",
                     "report response", "report nps", "report funnel", "report segments"]:
        assert expected in names, expected


@pytest.mark.parametrize("name,cmd", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_command_has_help_text_and_a_working_help(crm, name, cmd):
    assert (cmd.help or "").strip(), f"crm {name} has no help text"
    result = crm(*name.split(), "--help")
    assert "Usage:" in result.stdout


@pytest.mark.parametrize("name,cmd", [(n, c) for n, c in COMMANDS if n not in NOT_RECORD_PRINTING],
                         ids=[n for n, _ in COMMANDS if n not in NOT_RECORD_PRINTING])
def test_every_record_printing_command_takes_the_output_formats(name, cmd):
    options = {opt for param in cmd.params for opt in getattr(param, "opts", [])}
    assert "--format" in options and "--json" in options, f"crm {name}: {sorted(options)}"


@pytest.mark.parametrize("name", [n for n, _ in COMMANDS])
def test_every_command_is_documented_in_the_readme_with_an_example(name):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(rf"(^|\n|`|\$ )crm {re.escape(name)}\b", readme), \
        f"README does not show `crm {name}`"


def test_config_example_lists_every_config_key():
    from crmcli.config import DEFAULTS

    text = (ROOT / "config.example.yaml").read_text(encoding="utf-8")
    for dotted in config_keys(DEFAULTS):
        leaf = dotted.rsplit(".", 1)[-1]
        assert re.search(rf"^\s*#?\s*{re.escape(leaf)}:", text, re.M), dotted


def test_readme_documents_every_config_key():
    from crmcli.config import DEFAULTS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration", 1)[1]
    missing = [dotted for dotted in config_keys(DEFAULTS) if f"`{dotted}`" not in section]
    assert missing == []
