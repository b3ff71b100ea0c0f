"""Cadence: rule resolution, crm cadence, and the clock that any interaction restarts."""

from __future__ import annotations

from datetime import date

import pytest
from dateutil.relativedelta import relativedelta

from crmcli.config import parse_config_text
from crmcli.services.cadence import cadence_for, cadence_status, resolve_cadence

D0 = date(2026, 1, 1)


def _config(text: str):
    return parse_config_text(text, "test.yaml")


def _days(rd):
    return (D0 + rd - D0).days


RULES = """
cadence:
  default_ideal: 60d
  rules:
    - {tag: vip, ideal: 2w, max: 3w}
    - {stage: proposal, ideal: 1w}
    - {tier: A, ideal: 1m, max: 2m}
"""


def test_first_matching_rule_wins_and_max_defaults_to_twice_ideal():
    cfg = _config(RULES)
    vip_in_proposal = {"id": 1, "stage": "proposal", "cadence_ideal": None, "cadence_max": None}
    ideal, maximum, source = cadence_for(vip_in_proposal, ["VIP"], "A", cfg)
    assert (_days(ideal), _days(maximum), source) == (14, 21, "tag vip")
    ideal, maximum, source = cadence_for({**vip_in_proposal}, [], "A", cfg)
    assert (_days(ideal), _days(maximum), source) == (7, 14, "stage proposal")
    ideal, maximum, source = cadence_for({"id": 2, "stage": "lead"}, [], "A", cfg)
    assert (ideal, maximum, source) == (relativedelta(months=1), relativedelta(months=2),
                                        "tier A")
    ideal, maximum, source = cadence_for({"id": 3, "stage": "lead"}, ["smb"], "C", cfg)
    assert (_days(ideal), _days(maximum), source) == (60, 120, "default")


def test_per_client_cadence_overrides_rules():
    cfg = _config(RULES)
    client = {"id": 1, "stage": "proposal", "cadence_ideal": "3d", "cadence_max": None}
    ideal, maximum, source = cadence_for(client, ["vip"], "A", cfg)
    assert (_days(ideal), _days(maximum), source) == (3, 6, "client")


def test_no_rule_and_no_default_means_no_cadence():
    assert cadence_for({"id": 1, "stage": None}, [], "C", _config("")) == (None, None, "none")


def test_status_is_due_from_the_ideal_and_overdue_past_the_max():
    found = resolve_cadence({"id": 1, "cadence_ideal": "10d", "cadence_max": "20d"}, [], None,
                            _config(""))
    since = date(2026, 11, 1)
    assert cadence_status(found, since, date(2026, 11, 10))[0] == "ok"
    assert cadence_status(found, since, date(2026, 11, 11)) == ("due", date(2026, 11, 11), 10)
    assert cadence_status(found, since, date(2026, 11, 21))[0] == "due"
    assert cadence_status(found, since, date(2026, 11, 22))[0] == "overdue"


def test_bad_interval_in_config_names_the_rule():
    from crmcli.errors import ValidationError

    cfg = _config("cadence:\n  rules:\n    - {tag: vip, ideal: often}\n")
    with pytest.raises(ValidationError, match=r"cadence.rules\[1\] ideal 'often'"):
        cadence_for({"id": 1}, ["vip"], None, cfg)


# --- through the CLI ---------------------------------------------------------


def test_cadence_command_sets_shows_and_clears(crm, db_path):
    crm("add", "Acme")
    result = crm("cadence", "Acme", "2w", "--max", "4w", "--json")
    assert "cadence of client 1 Acme: every 2w, at most 4w" in result.stderr
    import json

    shown = json.loads(result.stdout)
    assert (shown["ideal"], shown["max"], shown["source"], shown["status"]) == (
        "2w", "4w", "client", "ok")
    assert crm.json("cadence", "Acme")["ideal"] == "2w"
    crm("cadence", "Acme", "--clear")
    cleared = crm.json("cadence", "Acme")
    assert (cleared["ideal"], cleared["status"]) == (None, None)


@pytest.mark.parametrize("ideal, maximum, message", [
    ("sometimes", None, "cadence 'sometimes': is not an interval"),
    ("0d", None, "cadence '0d': must be a positive interval"),
    ("4w", "1w", "cadence max '1w': is shorter than the ideal interval 4w"),
    ("2w", "banana", "cadence max 'banana': is not an interval"),
])
def test_the_store_refuses_a_bad_cadence_whoever_writes_it(store, db_path, snapshot, ideal,
                                                           maximum, message):
    from crmcli.errors import ValidationError

    client_id = store.clients.add(name="Acme")
    before = snapshot(db_path)
    with pytest.raises(ValidationError, match=message):
        store.clients.set_cadence(client_id, ideal, maximum)
    assert snapshot(db_path) == before
    store.clients.set_cadence(client_id, " 2w ", "4w")
    assert (store.clients.get(client_id)["cadence_ideal"],
            store.clients.get(client_id)["cadence_max"]) == ("2w", "4w")


def test_cadence_command_rejects_bad_intervals(crm, db_path, snapshot):
    crm("add", "Acme")
    before = snapshot(db_path)
    result = crm("cadence", "Acme", "sometimes", ok=False)
    assert result.exit_code == 1
    assert "cadence 'sometimes'" in result.stderr
    result = crm("cadence", "Acme", "4w", "--max", "1w", ok=False)
    assert result.exit_code == 1
    assert "is shorter than the ideal interval 4w" in result.stderr
    result = crm("cadence", "Acme", "--max", "4w", ok=False)
    assert result.exit_code == 2
    result = crm("cadence", "Acme", "2w", "--clear", ok=False)
    assert result.exit_code == 2
    assert snapshot(db_path) == before


@pytest.mark.parametrize("channel,direction", [("call", "--out"), ("email", "--in"),
                                               ("meeting", "--out"), ("chat", "--in"),
                                               ("visit", "--out"), ("other", "--in")])
def test_any_interaction_restarts_the_cadence_clock(crm, channel, direction):
    crm("add", "Acme")
    crm("cadence", "Acme", "2w")
    crm("log", "Acme", "old touch", "--at", "2026-10-01")
    assert [r["client"] for r in crm.json("due")] == ["Acme"]
    crm("log", "Acme", "fresh touch", "--channel", channel, direction)
    assert crm.json("due") == []
    assert crm.json("show", "Acme")["cadence"]["status"] == "ok"


def test_a_complaint_also_restarts_the_clock(crm):
    crm("add", "Acme")
    crm("cadence", "Acme", "1w")
    crm("log", "Acme", "old", "--at", "2026-10-01")
    crm("log", "Acme", "Product broke", "--kind", "complaint", "--at", "2026-11-20")
    assert crm.json("due") == []


def test_never_contacted_client_counts_from_creation(crm, tmp_path):
    (tmp_path / "config.yaml").write_text("timezone: UTC\ncadence:\n  default_ideal: 30d\n")
    crm("add", "Fresh")
    assert crm.json("due") == []
    from crmcli.store import CrmStore

    with CrmStore(tmp_path / "crm.db") as store, store.change("test", "backdate"):
        store.update("clients", 1, {"created_at": "2026-10-01T10:00:00Z"})
    [row] = crm.json("due")
    assert row["kind"] == "stale" and row["last_contact"] is None
    assert row["what"] == "never contacted, added 52 days ago (cadence 30d, max 60d)"
    # 22 days late reads "overdue" in the due list (issue 14), as a late follow-up does
    assert (row["due"], row["status"], row["days_late"]) == ("2026-10-31", "overdue", 22)


def test_card_shows_cadence_status_and_days_since(crm):
    crm("add", "Acme")
    crm("cadence", "Acme", "1w", "--max", "2w")
    crm("log", "Acme", "touch", "--at", "2026-11-01T10:00:00")
    cadence = crm.json("show", "Acme")["cadence"]
    assert cadence == {"ideal": "1w", "max": "2w", "last_contact": "2026-11-01T10:00:00Z",
                       "status": "overdue", "days_since": 21, "source": "client"}
    assert "cadence" in crm("show", "Acme").stdout


def test_config_rules_apply_by_tag_in_due(crm, tmp_path):
    (tmp_path / "config.yaml").write_text(
        "timezone: UTC\ncadence:\n  rules:\n    - {tag: vip, ideal: 2w}\n")
    crm("add", "Vip Co", "--tag", "vip")
    crm("add", "Plain Co")
    crm("log", "Vip Co", "old", "--at", "2026-11-01")
    crm("log", "Plain Co", "old", "--at", "2026-01-01")
    [row] = crm.json("due")
    assert row["client"] == "Vip Co"
    assert row["what"] == "no contact for 21 days (cadence 2w, max 4w)"
    assert (row["status"], row["due"], row["days_late"]) == ("overdue", "2026-11-15", 7)


def test_a_shared_bad_interval_is_reported_where_each_use_is():
    # Parsed intervals are cached for the whole book; an error must still name its place.
    from crmcli.errors import ValidationError

    config = _config("cadence:\n  default_ideal: 2w\n")
    for cid in (7, 8):
        with pytest.raises(ValidationError, match=rf"client {cid} cadence ideal 'often'"):
            resolve_cadence({"id": cid, "cadence_ideal": "often"}, [], None, config)
        with pytest.raises(ValidationError, match=rf"client {cid} cadence max '1w'"):
            resolve_cadence({"id": cid, "cadence_ideal": "2w", "cadence_max": "1w"}, [], None,
                            config)
    a = resolve_cadence({"id": 1}, [], None, config)
    b = resolve_cadence({"id": 2}, [], None, config)
    assert a == b and (a.ideal_text, a.max_text, a.source) == ("2w", "4w", "default")
