"""crm contact, crm tag / tags, crm stage through the real CLI."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def acme(crm):
    crm("add", "Acme", "-q")
    return "Acme"


def test_contact_add_ls_edit_rm(crm, acme):
    assert crm("contact", "add", acme, "Jane Doe", "--role", "CTO", "--email", "jane@acme.test",
               "--level", "decision-maker", "--primary", "-q").stdout == "1\n"
    crm("contact", "add", acme, "Bob", "--level", "user")
    rows = crm.json("contact", "ls", acme)
    assert [(r["name"], r["is_primary"], r["decision_level"]) for r in rows] == [
        ("Jane Doe", True, "decision-maker"), ("Bob", False, "user")]
    crm("contact", "edit", "2", "--primary", "--role", "Buyer")
    rows = crm.json("contact", "ls")
    assert [(r["name"], r["is_primary"], r["role"]) for r in rows] == [
        ("Bob", True, "Buyer"), ("Jane Doe", False, "CTO")]
    crm("contact", "rm", "1")
    assert [r["name"] for r in crm.json("contact", "ls")] == ["Bob"]


def test_contact_rejects_unknown_level_and_id(crm, acme, db_path, snapshot):
    before = snapshot(db_path)
    result = crm("contact", "add", acme, "Jane", "--level", "boss", ok=False)
    assert result.exit_code == 1
    assert "decision level 'boss': must be one of decision-maker, influencer, user" in result.stderr
    result = crm("contact", "rm", "99", ok=False)
    assert result.exit_code == 1 and "no contact with id 99" in result.stderr
    assert snapshot(db_path) == before


def test_tag_add_remove_and_counts(crm, acme):
    crm("add", "Globex", "-q")
    crm("tag", acme, "VIP", "eu")
    crm("tag", "Globex", "vip")
    assert crm.json("tags") == [{"tag": "vip", "clients": 2}, {"tag": "eu", "clients": 1}]
    result = crm("tag", acme, "eu", "--remove")
    assert "tags now: vip" in result.stderr
    assert crm.json("tags") == [{"tag": "vip", "clients": 2}]


def test_tagging_twice_changes_nothing(crm, acme):
    crm("tag", acme, "vip")
    result = crm("tag", acme, "vip")
    assert "added nothing" in result.stderr


def test_stage_moves_are_validated_and_recorded(crm, acme, db_path, snapshot):
    crm("stage", acme, "lead")
    crm("stage", acme, "proposal", "--at", "2026-11-01", "--note", "sent quote")
    before = snapshot(db_path)
    result = crm("stage", acme, "party", ok=False)
    assert result.exit_code == 1
    assert ("unknown stage 'party': the pipeline is lead → qualified → proposal → negotiation → "
            "won → lost") in result.stderr
    assert snapshot(db_path) == before
    history = crm.json("show", acme)["stage_history"]
    assert [(h["from_stage"], h["to_stage"], h["note"]) for h in history] == [
        ("lead", "proposal", "sent quote"), (None, "lead", None)] or [
        (h["from_stage"], h["to_stage"]) for h in history] == [(None, "lead"), ("lead", "proposal")]
    assert {h["at"][:10] for h in history} == {"2026-11-01", "2026-11-22"}


def test_stage_follows_a_configured_pipeline(crm, acme, tmp_path):
    (tmp_path / "config.yaml").write_text("timezone: UTC\npipeline: [cold, warm, hot, won, lost]\n")
    crm("stage", acme, "WARM")
    assert crm.json("ls")[0]["stage"] == "warm"
    assert "the pipeline is cold → warm" in crm("stage", acme, "lead", ok=False).stderr


def test_stage_alone_draws_the_board(crm, acme):
    crm("add", "Globex", "--stage", "proposal", "-q")
    crm("stage", acme, "proposal")
    crm("add", "Initech", "--stage", "won", "-q")
    board = crm.json("stage")
    assert [(b["stage"], b["clients"]) for b in board] == [
        ("lead", 0), ("qualified", 0), ("proposal", 2), ("negotiation", 0), ("won", 1),
        ("lost", 0)]
    text = crm("stage").stdout
    assert "proposal" in text and "##" in text and "Initech" in text


def test_stage_with_client_but_no_stage_is_a_usage_error(crm, acme):
    result = crm("stage", acme, ok=False)
    assert result.exit_code == 2 and "give the STAGE" in result.stderr


def test_board_in_machine_formats(crm, acme):
    crm("stage", acme, "won")
    line = [json.loads(x) for x in crm("stage", "--format", "ndjson").stdout.splitlines()]
    assert {"stage": "won", "clients": 1, "names": ["Acme"]} in line


def test_adding_a_contact_with_the_same_name_or_email_at_the_client_warns(crm):
    crm("add", "Acme")
    crm("add", "Beta")
    crm("contact", "add", "Acme", "Jane Roe", "--email", "jane@acme.test")
    result = crm("contact", "add", "Acme", "jane roe")
    assert "crm: warning: contact 1 Jane Roe at Acme has the same name" in result.stderr
    result = crm("contact", "add", "Acme", "J. Roe", "--email", "JANE@acme.test")
    assert "has the same email" in result.stderr
    result = crm("contact", "add", "Beta", "Jane Roe", "--email", "jane@acme.test")
    assert "warning" not in result.stderr  # another client: a different person
    assert len(crm.json("contact", "ls", "Acme")) == 3  # added all the same


def test_primary_says_whom_it_demoted(crm):
    crm("add", "Acme")
    crm("contact", "add", "Acme", "Jane Roe", "--primary")
    result = crm("contact", "add", "Acme", "John Doe", "--primary")
    assert "contact 1 Jane Roe is no longer the primary contact" in result.stderr
    result = crm("contact", "edit", "1", "--primary")
    assert "contact 2 John Doe is no longer the primary contact" in result.stderr
    result = crm("contact", "edit", "1", "--primary")
    assert "no longer" not in result.stderr  # already the primary: nobody demoted
