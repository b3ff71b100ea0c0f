"""Config resolution, defaults, validation, and the crm config commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crmcli.config import DEFAULTS, ConfigError, load_config, parse_config_text, resolve_db_path


def test_example_config_lists_every_key_with_its_default():
    example = Path(__file__).parent.parent / "config.example.yaml"
    config = parse_config_text(example.read_text(), "config.example.yaml")
    assert config.data == DEFAULTS


def test_missing_default_config_is_fine(monkeypatch, tmp_path):
    monkeypatch.delenv("CRM_CONFIG")
    config = load_config(None)
    assert config.path is None and config.pipeline[0] == "lead"


def test_named_config_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_unknown_key_names_the_file_and_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("smtp:\n  hostname: mail\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: unknown key 'smtp.hostname'"


def test_malformed_yaml_names_the_file_and_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("timezone: UTC\npipeline: [a, b\n")
    with pytest.raises(ConfigError, match=r"c.yaml: line \d+, column \d+: malformed YAML"):
        load_config(path)


@pytest.mark.parametrize("text, message", [
    ("lifecycle:\n  at_risk_days: soon\n", "key 'lifecycle.at_risk_days' must be a number"),
    ("retention:\n  activity: vibes\n", "key 'retention.activity' must be one of any, deals"),
    ("pipeline: []\n", "key 'pipeline' must be a non-empty list"),
    ("won_stages: [done]\n", "key 'won_stages' names 'done', which is not in the pipeline"),
    ("cadence:\n  rules:\n    - {tag: vip}\n", "cadence.rules[1] needs an 'ideal' interval"),
    ("cadence:\n  rules:\n    - {tag: vip, colour: red, ideal: 2w}\n",
     "unknown key 'cadence.rules[1].colour'"),
    ("- just\n- a list\n", "the config must be a mapping"),
])
def test_bad_values_are_errors(text, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_config_text(text, "c.yaml")


def test_db_resolution_order(monkeypatch, tmp_path):
    config = parse_config_text("db: from-config.db\n", "c.yaml")
    config.path = tmp_path / "c.yaml"
    monkeypatch.setenv("CRM_DB", str(tmp_path / "env.db"))
    assert resolve_db_path(str(tmp_path / "opt.db"), config) == tmp_path / "opt.db"
    assert resolve_db_path(None, config) == tmp_path / "env.db"
    monkeypatch.delenv("CRM_DB")
    assert resolve_db_path(None, config) == tmp_path / "from-config.db"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert resolve_db_path(None, parse_config_text("", "c")) == tmp_path / "data/crmcli/crm.db"


def test_a_key_set_to_null_or_blank_text_has_its_default(crm, tmp_path):
    (tmp_path / "config.yaml").write_text("currency: null\ntimezone: UTC\noutput:\n  format: ~\n"
                                          "due:\n  within: ''\nclv:\n  margin: null\n")
    config = load_config(tmp_path / "config.yaml")
    assert (config["currency"], config["output.format"], config["due.within"],
            config["clv.margin"]) == ("USD", "table", "7d", 1.0)
    crm("add", "Acme")
    assert crm.json("report", "summary")["overview"]["currency"] == "USD"
    assert crm("ls").stdout.startswith("id  name")


def test_cli_reports_a_bad_config_in_one_line(crm, tmp_path):
    (tmp_path / "config.yaml").write_text("colour: blue\n")
    result = crm("ls", ok=False)
    assert result.exit_code == 1
    assert result.stderr == f"crm: error: {tmp_path / 'config.yaml'}: unknown key 'colour'\n"


def test_config_path_show_and_init(crm, tmp_path, monkeypatch):
    target = tmp_path / "new" / "config.yaml"
    monkeypatch.setenv("CRM_CONFIG", str(target))
    assert crm("config", "path").stdout == f"{target}\n"
    crm("config", "init")
    assert target.stat().st_mode & 0o777 == 0o600
    assert parse_config_text(target.read_text(), "x").data == DEFAULTS
    result = crm("config", "init", ok=False)
    assert result.exit_code == 1 and "already exists" in result.stderr
    shown = json.loads(crm("config", "show", "--json").stdout)
    assert shown["pipeline"] == DEFAULTS["pipeline"]
    table = crm("config", "show").stdout
    assert "lifecycle.at_risk_days" in table and "90" in table


def test_global_options_db_and_config(crm, tmp_path):
    other_db = tmp_path / "other.db"
    cfg = tmp_path / "other.yaml"
    cfg.write_text("owner: kim\n")
    crm("--db", str(other_db), "--config", str(cfg), "add", "Acme")
    assert other_db.exists()
    rows = json.loads(crm("--db", str(other_db), "ls", "--json").stdout)
    assert rows[0]["owner"] == "kim"
    assert not (tmp_path / "crm.db").exists()  # the default test database was not touched
