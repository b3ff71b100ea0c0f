"""The global options (--db, --config, --debug) are taken anywhere on the line."""

from __future__ import annotations

import subprocess
import sys


def test_db_after_the_command_is_the_global_db(crm, tmp_path):
    other = tmp_path / "other.db"
    crm("add", "Acme", "--db", str(other))
    crm("--db", str(other), "add", "Beta")
    assert [c["name"] for c in crm.json("ls", "--db", str(other))] == ["Acme", "Beta"]
    assert [c["name"] for c in crm.json("--db", str(other), "ls")] == ["Acme", "Beta"]
    assert [c["name"] for c in crm.json("ls", f"--db={other}")] == ["Acme", "Beta"]
    assert not (tmp_path / "crm.db").exists()  # $CRM_DB was not touched


def test_global_options_after_a_subcommand_of_a_group(crm, tmp_path):
    config = tmp_path / "other.yaml"
    config.write_text("timezone: UTC\noutput:\n  format: csv\n")
    assert crm("config", "path", "--config", str(config)).stdout.strip() == str(config)
    crm("add", "Acme", "--db", str(tmp_path / "x.db"))
    result = crm("ls", "--config", str(config), "--db", str(tmp_path / "x.db"))
    assert result.stdout.splitlines()[0].startswith("id,")


def test_a_double_dash_ends_the_options(crm, tmp_path):
    crm("add", "Acme")
    crm("log", "Acme", "--", "--db")
    entries = crm.json("history", "--limit", "1")
    assert entries and entries[0]["command"] == "log"
    assert not (tmp_path / "--db").exists()


def test_a_global_option_without_its_value_is_a_usage_error(crm):
    result = crm("ls", "--db", ok=False)
    assert result.exit_code == 2
    assert "--db" in result.stderr and "requires an argument" in result.stderr


def test_debug_after_the_command_reaches_the_real_binary(tmp_path):
    # The installed entry point (main) as well as the in-process app.
    result = subprocess.run([sys.executable, "-m", "crmcli", "show", "Nobody", "--debug",
                             "--db", str(tmp_path / "crm.db")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "No such option" not in result.stderr
