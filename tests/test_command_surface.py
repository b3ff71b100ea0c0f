"""The command surface as a whole: every command documented, helpful and consistent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Commands that print records must offer every output format; the others print a message,
# write a file or send mail.
NOT_RECORD_PRINTING = {
    "add", "edit", "rm", "unarchive", "merge", "tag", "log", "resolve", "deal", "followup", "done",
    "snooze", "cadence", "import", "undo", "demo", "contact add", "contact edit", "contact rm",
    "edit-deal", "edit-log", "invoice add", "invoice pay", "stage-deal",
    "db path", "db backup", "db migrate", "db encrypt", "db decrypt", "db copy",
    "config path", "config init", "config get", "config set", "stage", "completion",
    "team init", "team add", "team rm",
}
# Record-printing commands that need a book on PostgreSQL (tests/test_team.py prints them).
NEEDS_POSTGRES = {"team ls"}


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
    """Every dotted key of the config defaults (the leaves; a free mapping is one key)."""
    from crmcli.config import FREE_MAPPINGS

    for key, value in mapping.items():
        if isinstance(value, dict) and value and f"{prefix}{key}" not in FREE_MAPPINGS:
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
    assert {"--fields", "--no-headers", "--raw"} <= options, f"crm {name}: {sorted(options)}"


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


# Arguments that make each record-printing command print something on the demo book.
RECORD_ARGS = {
    "show": ["王伟"], "ls": [], "search": ["报价"], "tags": [], "deals": [], "followups": [],
    "due": ["--within", "14d"], "export": ["clients"], "history": ["--limit", "3"],
    "contact ls": ["王伟"], "db check": [], "config show": [], "invoices": [],
    "invoice payments": [],
    **{f"report {name}": [] for name in ("summary", "retention", "cohorts", "churn", "clv",
                                          "response", "nps", "funnel", "segments",
                                          "receivables", "forecast")},
}
RECORD_COMMANDS = [n for n, _ in COMMANDS
                   if n not in NOT_RECORD_PRINTING and n not in NEEDS_POSTGRES]


@pytest.fixture(scope="module")
def demo_book(tmp_path_factory):
    import os
    import subprocess
    import sys

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    env = {**os.environ, "CRM_NOW": "2026-11-22T10:00:00+00:00", "TZ": "UTC"}
    env.pop("CRM_CONFIG", None)
    subprocess.run([sys.executable, "-m", "crmcli", "demo", str(path), "-q"], env=env,
                   check=True, capture_output=True, timeout=120)
    return path


def test_every_record_printing_command_has_its_arguments_here():
    assert sorted(RECORD_ARGS) == sorted(RECORD_COMMANDS)


@pytest.mark.parametrize("name", RECORD_COMMANDS)
def test_every_record_printing_command_prints_every_format_well_formed(crm, demo_book, name):
    import csv
    import io
    import json

    formats = (["csv", "tsv", "json", "ndjson"] if name == "export"
               else ["table", "json", "ndjson", "csv", "tsv", "markdown"])
    outputs = {}
    for fmt in formats:
        result = crm("--db", demo_book, *name.split(), *RECORD_ARGS[name], "--format", fmt)
        assert result.stdout.strip(), (name, fmt)
        assert "\x1b[" not in result.stdout, (name, fmt)  # piped: never a colour code
        outputs[fmt] = result.stdout
    as_json = json.loads(outputs["json"])
    lines = [json.loads(line) for line in outputs["ndjson"].splitlines()]
    if isinstance(as_json, list):
        assert lines == as_json, name
    for fmt, delimiter in (("csv", ","), ("tsv", "\t")):
        rows = list(csv.reader(io.StringIO(outputs[fmt]), delimiter=delimiter))
        assert len(rows) >= 2 and all(len(r) == len(rows[0]) for r in rows), (name, fmt)
    if "markdown" in outputs:
        assert any(line.startswith("| ") for line in outputs["markdown"].splitlines()), name
    assert crm("--db", demo_book, *name.split(), *RECORD_ARGS[name], "--json").stdout == \
        outputs["json"]


def _a_field_of(data):
    """The first field of a command's JSON output: a record's, a list's first row's, or a
    part's of a report of several parts."""
    if isinstance(data, list):
        return next(iter(data[0]))
    first = next(iter(data.values()))
    if isinstance(first, list):
        return next(iter(first[0]))
    return next(iter(first)) if isinstance(first, dict) else next(iter(data))


@pytest.mark.parametrize("name", RECORD_COMMANDS)
def test_every_record_printing_command_takes_fields_in_every_format(crm, demo_book, name):
    import json

    args = ("--db", demo_book, *name.split(), *RECORD_ARGS[name])
    # config show's JSON is the config itself; its records are its key/value lines.
    field = "key" if name == "config show" else _a_field_of(json.loads(crm(*args, "--json").stdout))
    formats = (["csv", "tsv", "json", "ndjson"] if name == "export"
               else ["table", "json", "ndjson", "csv", "tsv", "markdown"])
    for fmt in formats:
        result = crm(*args, "--fields", field, "--format", fmt)
        assert field in result.stdout or fmt in ("table", "csv", "tsv"), (name, fmt)
        assert result.stdout.strip(), (name, fmt)
    result = crm(*args, "--fields", "no_such_field", ok=False)
    assert result.exit_code == 2, name
    assert "unknown field 'no_such_field'" in result.stderr and field in result.stderr, name
    headless = crm(*args, "--fields", field, "--format", "csv", "--no-headers").stdout
    assert headless != crm(*args, "--fields", field, "--format", "csv").stdout, name


@pytest.mark.parametrize("name", [n for n, _ in COMMANDS])
def test_every_command_help_has_examples_that_run_on_the_demo_book(crm, demo_book, tmp_path,
                                                                   monkeypatch, name):
    import shlex
    import shutil

    text = crm(*name.split(), "--help").stdout
    assert "Examples:" in text, f"crm {name} --help has no examples"
    examples = [line.strip() for line in text.split("Examples:", 1)[1].splitlines()
                if line.strip().startswith(f"crm {name} ") or line.strip() == f"crm {name}"]
    assert examples, f"crm {name}: no example of crm {name} itself"
    book = tmp_path / "book.db"
    shutil.copy(demo_book, book)
    monkeypatch.setenv("CRM_DB", str(book))
    monkeypatch.chdir(tmp_path)
    if name == "import":
        crm("export", "clients", "-o", "clients.csv")
        crm("export", "deals", "-o", "deals.csv")
    for example in examples:
        words = shlex.split(example.split(" | ")[0].split(" < ")[0])
        result = crm(*words[1:], ok=False, input="pw\n")
        if name.startswith("team "):
            # The team's commands need PostgreSQL: on the demo book they say so (they run
            # on a server in tests/test_team.py).
            assert result.exit_code == 1 and "needs a book on PostgreSQL" in result.stderr, \
                (example, result.stderr)
            continue
        assert result.exit_code == 0, (example, result.stderr)


@pytest.mark.parametrize("markup", [None, "rich"], ids=["plain", "rich"])
def test_usage_lines_and_summaries_are_plain(monkeypatch, markup):
    import re

    from typer.testing import CliRunner

    from crmcli.cli import app

    monkeypatch.setattr(app, "rich_markup_mode", markup)
    runner = CliRunner()
    listing = runner.invoke(app, ["--help"]).stdout
    assert "..." not in listing.split("Commands", 1)[1], "a summary is cut short"
    for name, _ in COMMANDS:
        text = runner.invoke(app, [*name.split(), "--help"]).stdout
        noise = re.findall(r"\{[A-Za-z_|.-]+\}|\[\[|<list\[|<int|<float|<str>|<bool>", text)
        assert not noise, (name, noise)
