"""crm config get KEY / crm config set KEY VALUE: checked as loading checks, the file
written owner-only with the user's other lines and comments kept."""

from __future__ import annotations

import os
import stat

import yaml

USER_FILE = """\
# my crm settings
timezone: UTC   # where I work

due:
  within: 7d  # a week ahead
  stale: true
pipeline:
  - lead
  - won
  - lost
smtp:
  host: mail.example.com
"""


def _config(tmp_path, text=USER_FILE):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    os.chmod(path, 0o644)
    return path


def test_set_changes_one_line_and_keeps_the_rest(crm, tmp_path):
    path = _config(tmp_path)
    result = crm("config", "set", "due.within", "14d")
    assert "due.within = 14d" in result.stderr and result.stdout == ""
    assert path.read_text() == USER_FILE.replace("within: 7d  # a week ahead",
                                                 "within: 14d  # a week ahead")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert crm("config", "get", "due.within").stdout == "14d\n"


def test_set_adds_missing_keys_under_their_section_or_at_the_end(crm, tmp_path):
    path = _config(tmp_path)
    crm("config", "set", "smtp.port", "465")
    crm("config", "set", "lifecycle.at_risk_days", "60")
    crm("config", "set", "owner", "ana")
    text = path.read_text()
    assert text.startswith(USER_FILE.split("smtp:")[0])
    assert "smtp:\n  host: mail.example.com\n  port: 465\n" in text
    assert text.endswith("lifecycle:\n  at_risk_days: 60\nowner: ana\n")
    assert yaml.safe_load(text)["smtp"] == {"host": "mail.example.com", "port": 465}
    assert crm("config", "get", "smtp.port").stdout == "465\n"
    assert crm("config", "get", "lifecycle.at_risk_days").stdout == "60\n"


def test_set_replaces_a_block_value(crm, tmp_path, store):
    path = _config(tmp_path)
    crm("config", "set", "pipeline", "[lead, proposal, won, lost]")
    assert "pipeline: [lead, proposal, won, lost]\nsmtp:" in path.read_text()
    assert crm("config", "get", "pipeline").stdout == '["lead", "proposal", "won", "lost"]\n'
    crm("stage", "--json")  # the new pipeline is in effect


def test_a_bad_value_is_refused_as_loading_refuses_it_and_the_file_is_untouched(crm, tmp_path):
    path = _config(tmp_path)
    for args, expected, code in [
        (("due.stale", "maybe"), "key 'due.stale' must be true or false, not 'maybe'", 1),
        (("retention.period", "week"), "key 'retention.period' must be one of", 1),
        (("pipeline", "[lead, lost]"), "key 'won_stages' names 'won'", 1),
        (("nope", "1"), "unknown config key 'nope'", 2),
        (("smtp", "1"), "'smtp' is a section; set one of its keys: smtp.host", 2),
    ]:
        result = crm("config", "set", *args, ok=False)
        assert result.exit_code == code, args
        assert expected in result.stderr and len(result.stderr.splitlines()) == 1, args
        assert path.read_text() == USER_FILE
        assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_set_creates_a_missing_config_file_owner_only(crm, tmp_path):
    path = tmp_path / "new" / "crm.yaml"
    crm("config", "set", "currency", "EUR", "--config", str(path))
    assert path.read_text() == "currency: EUR\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_get_prints_defaults_and_nothing_for_an_unset_key(crm, tmp_path):
    _config(tmp_path)
    assert crm("config", "get", "currency").stdout == "USD\n"
    assert crm("config", "get", "due.stale").stdout == "true\n"
    assert crm("config", "get", "smtp.username").stdout == ""
    result = crm("config", "get", "smtp.hots", ok=False)
    assert result.exit_code == 2 and "unknown config key 'smtp.hots'" in result.stderr
