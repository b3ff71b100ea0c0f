"""Deals as a pipeline of their own: stages, probabilities, expected close dates, the stage
history, the board of open deals (crm deal --stage, crm stage-deal, crm edit-deal, crm deals
--open / --history)."""

from __future__ import annotations

import pytest

from crmcli.config import Config
from crmcli.store import CrmStore
from crmcli.store.migrations import STEPS


def _moves(crm) -> list[tuple]:
    """Every stage move of a deal of a live client, in the order they happened."""
    return [(m["deal_id"], m["from_stage"], m["to_stage"], m["at"], m["note"])
            for m in crm.json("deals", "--history")]


def test_a_deal_gets_a_stage_its_default_probability_and_a_first_move(crm, db_path):
    crm("add", "Acme")
    result = crm("deal", "Acme", "1200", "--status", "open", "--at", "2026-10-01")
    assert result.stderr == ("recorded open deal 1: 1200 USD for client 1 Acme in stage "
                             "qualify (10%)\n")
    crm("deal", "Acme", "500", "--stage", "negotiate", "--close", "2026-12-15")
    crm("deal", "Acme", "90", "--stage", "Propose", "--probability", "45%", "--close", "eom")
    crm("deal", "Acme", "70")
    deals = {d["id"]: d for d in crm.json("deals")}
    assert [(deals[i]["status"], deals[i]["stage"], deals[i]["probability"],
             deals[i]["close_date"]) for i in (1, 2, 3, 4)] == [
        ("open", "qualify", 10, None), ("open", "negotiate", 60, "2026-12-15"),
        ("open", "propose", 45, "2026-11-30"), ("won", "won", 100, None)]
    assert [(m[0], m[1], m[2], m[3]) for m in _moves(crm)] == [
        (1, None, "qualify", "2026-10-01T12:00:00Z"),
        (2, None, "negotiate", "2026-11-22T10:00:00Z"),
        (3, None, "propose", "2026-11-22T10:00:00Z"), (4, None, "won", "2026-11-22T10:00:00Z")]


def test_stage_deal_moves_records_the_move_resets_the_probability_and_undo_reverts_it(
        crm, db_path):
    crm("add", "Acme")
    crm("deal", "Acme", "1200", "--stage", "propose", "--probability", "35",
        "--at", "2026-09-01", "--title", "Pilot")
    result = crm("stage-deal", "1", "negotiate", "--at", "2026-10-05", "--note", "asked for terms")
    assert result.stderr == "deal 1: propose → negotiate (60%)\n"
    [deal] = crm.json("deals")
    assert (deal["stage"], deal["probability"], deal["at"]) == ("negotiate", 60,
                                                                "2026-09-01T12:00:00Z")
    assert crm("stage-deal", "1", "negotiate").stderr == "deal 1 is already in stage negotiate\n"
    # won: the status follows, and the deal's date is the day it was won (revenue from then)
    result = crm("stage-deal", "1", "won", "--at", "2026-11-20")
    assert result.stderr == "deal 1: negotiate → won, at 2026-11-20 12:00\n"
    [deal] = crm.json("deals")
    assert (deal["status"], deal["stage"], deal["probability"], deal["at"]) == (
        "won", "won", 100, "2026-11-20T12:00:00Z")
    assert crm.json("show", "Acme")["revenue"] == 1200
    history = crm.json("deals", "--history")
    assert [(h["deal_id"], h["from_stage"], h["to_stage"], h["at"], h["note"], h["title"])
            for h in history] == [
        (1, None, "propose", "2026-09-01T12:00:00Z", None, "Pilot"),
        (1, "propose", "negotiate", "2026-10-05T12:00:00Z", "asked for terms", "Pilot"),
        (1, "negotiate", "won", "2026-11-20T12:00:00Z", None, "Pilot")]
    assert {c["command"] for c in crm.json("history", "--limit", "1")} == {"stage-deal"}


# Undo of an inserted row asks SQLite's PRAGMAs for the tables' foreign keys (store/audit.py):
# not yet on PostgreSQL.
@pytest.mark.sqlite_only
def test_undo_of_a_move_to_won_restores_the_open_deal_and_its_history(crm):
    crm("add", "Acme")
    crm("deal", "Acme", "1200", "--stage", "propose", "--at", "2026-09-01")
    crm("stage-deal", "1", "negotiate", "--at", "2026-10-05")
    crm("stage-deal", "1", "won", "--at", "2026-11-20")
    crm("undo")
    [deal] = crm.json("deals")
    assert (deal["status"], deal["stage"], deal["at"]) == ("open", "negotiate",
                                                          "2026-09-01T12:00:00Z")
    assert len(_moves(crm)) == 2
    assert crm.json("show", "Acme")["revenue"] == 0


def test_edit_deal_sets_probability_and_close_date_and_status_moves_the_stage(crm, db_path):
    crm("add", "Acme")
    crm("deal", "Acme", "100", "--status", "open")
    result = crm("edit-deal", "1", "--probability", "25", "--close", "2027-01-31")
    assert result.stderr == "deal 1: probability 25%, close_date 2027-01-31\n"
    assert crm("edit-deal", "1", "--probability", "").stderr == (
        "deal 1: probability 10% (the stage's default)\n")
    assert crm("edit-deal", "1", "--close", "").stderr == "deal 1: close_date cleared\n"
    result = crm("edit-deal", "1", "--status", "lost")
    assert result.stderr == "deal 1: status lost\n"
    [deal] = crm.json("deals")
    assert (deal["stage"], deal["probability"]) == ("lost", 0)
    # reopened: back to the first stage, its date kept
    assert crm("edit-deal", "1", "--status", "open").stderr == (
        "deal 1: stage qualify, status open\n")
    assert [m[1:3] for m in _moves(crm)] == [(None, "qualify"), ("qualify", "lost"),
                                                  ("lost", "qualify")]


def test_bad_stages_probabilities_and_close_dates_are_one_line_and_change_nothing(
        crm, db_path, snapshot):
    crm("add", "Acme")
    crm("deal", "Acme", "100", "--status", "open")
    crm("deal", "Acme", "200")
    before = snapshot(db_path)
    stages = "deals.stages: qualify, propose, negotiate, commit, won, lost"
    for args, line in (
            (("stage-deal", "1", "maybe"), f"stage 'maybe': is not a deal stage ({stages})"),
            (("stage-deal", "9", "won"), "no deal with id 9"),
            (("stage-deal", "1", "propose", "--probability", "101"),
             "probability '101': must be from 0 to 100"),
            (("edit-deal", "1", "--probability", "half"),
             "probability 'half': must be a whole percent from 0 to 100"),
            (("edit-deal", "1", "--probability", "-5"), "probability '-5': must be from 0 to 100"),
            (("edit-deal", "2", "--probability", "50"),
             "probability '50': a won deal's probability is 100"),
            (("stage-deal", "1", "lost", "--probability", "20"),
             "probability '20': a lost deal's probability is 0"),
            (("deal", "Acme", "5", "--status", "won", "--stage", "qualify"),
             "status 'won': disagrees with stage qualify (a deal's status follows its stage: "
             "give one of them)"),
            (("deal", "Acme", "5", "--stage", "dreaming"),
             f"stage 'dreaming': is not a deal stage ({stages})"),
            (("stage-deal", "1", "propose", "--at", "2026-11-01"),
             "at '2026-11-01 12:00': is before the deal's last stage move (2026-11-22 10:00)"),
            (("edit-deal", "1", "--close", "someday"), None),
            (("deal", "Acme", "5", "--status", "open", "--close", "2999-01-01"), None)):
        result = crm(*args, ok=False)
        assert result.exit_code == 1, args
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("crm: error: "), args
        if line:
            assert result.stderr == f"crm: error: {line}\n", args
        assert result.stdout == ""
    assert snapshot(db_path) == before


def test_configured_deal_stages_are_the_pipeline(crm, tmp_path):
    (tmp_path / "config.yaml").write_text(
        "timezone: UTC\ndeals:\n  stages: {discovery: 20, demo: 40, contract: 90}\n")
    crm("add", "Acme")
    crm("deal", "Acme", "100", "--status", "open")
    crm("deal", "Acme", "100", "--stage", "contract")
    assert [(d["stage"], d["probability"]) for d in crm.json("deals")] == [
        ("contract", 90), ("discovery", 20)]
    result = crm("stage-deal", "1", "qualify", ok=False)
    assert "is not a deal stage (deals.stages: discovery, demo, contract, won, lost)" in \
        result.stderr


def test_deal_stage_config_is_checked(crm, tmp_path):
    config = tmp_path / "config.yaml"
    for text, said in (
            ("deals:\n  stages: {qualify: 10, won: 100}\n", "won and lost are the terminal"),
            ("deals:\n  stages: {qualify: 110}\n", "a whole percent from 0 to 100"),
            ("deals:\n  stages: {qualify: ten}\n", "a whole percent from 0 to 100"),
            ("deals:\n  stages: {}\n", "must map at least one stage name"),
            ("deals:\n  stages: [qualify, commit]\n", "must be a mapping"),
            ("deals:\n  commit_probability: 120\n", "must be a percent from 0 to 100")):
        config.write_text(text)
        result = crm("deals", ok=False)
        assert result.exit_code == 1 and said in result.stderr, text
        assert result.stderr.count("\n") == 1


def test_deals_open_is_a_board_by_stage_and_records_in_other_formats(crm):
    crm("add", "Acme")
    crm("add", "Beta")
    crm("deal", "Acme", "1000", "--stage", "negotiate", "--title", "Pilot", "--close", "2026-12-10")
    crm("deal", "Beta", "300", "--stage", "qualify")
    crm("deal", "Beta", "200", "--stage", "negotiate", "--currency", "EUR", "--probability", "50")
    crm("deal", "Acme", "999")  # won: not on the board
    table = crm("deals", "--open").stdout.splitlines()
    assert table[0].split() == ["stage", "probability", "deals", "amount", "weighted", "biggest"]
    rows = {line.split()[0]: line for line in table[2:]}
    assert list(rows) == ["qualify", "propose", "negotiate", "commit"]
    assert rows["qualify"].split()[:5] == ["qualify", "10%", "1", "300.00", "USD"]
    assert "200.00 EUR + 1,000.00 USD" in rows["negotiate"]
    assert "100.00 EUR + 600.00 USD" in rows["negotiate"]  # weighted: 60 % and 50 %
    assert "#1 Acme: 1,000.00 USD; #3 Beta: 200.00 EUR" in rows["negotiate"]
    assert rows["propose"].split()[:3] == ["propose", "30%", "0"]
    records = crm.json("deals", "--open")
    assert [(r["id"], r["stage"], r["probability"]) for r in records] == [
        (2, "qualify", 10), (1, "negotiate", 60), (3, "negotiate", 50)]
    assert [r["id"] for r in crm.json("deals", "Beta", "--open")] == [2, 3]
    csv = crm("deals", "--open", "--format", "csv").stdout.splitlines()
    assert csv[0] == ("id,client_id,client,at,title,amount,currency,status,stage,probability,"
                      "close_date,custom")
    result = crm("deals", "--open", "--status", "won", ok=False)
    assert result.exit_code == 2


@pytest.mark.sqlite_only  # undo of deleted rows: see above
def test_purging_a_client_removes_its_deal_moves_and_undo_brings_them_back(crm, db_path):
    crm("add", "Acme")
    crm("deal", "Acme", "100", "--status", "open")
    crm("stage-deal", "1", "commit")
    before = _moves(crm)
    crm("rm", "Acme", "--purge", "--yes")
    assert _moves(crm) == []
    crm("undo")
    assert _moves(crm) == before


@pytest.mark.sqlite_only
def test_an_older_book_gets_deal_stages_and_a_first_move_per_deal(db_path):
    store = CrmStore(db_path, Config(), migrate=False)
    try:
        store.migrate(stop_before="m015_deal_stages")
        cid = store.clients.add("Acme")
        for status, at in (("open", "2026-10-01T12:00:00Z"), ("won", "2026-09-01T12:00:00Z"),
                           ("lost", "2026-08-01T12:00:00Z")):
            store.conn.execute("INSERT INTO deals (client_id, amount, currency, at, status, "
                               "created_at) VALUES (?, '10', 'USD', ?, ?, ?)",
                               (cid, at, status, at))
        store.conn.commit()
    finally:
        store.close()
    assert "m015_deal_stages" in [name for name, _ in STEPS]
    with CrmStore(db_path, Config()) as store:
        deals = {d["id"]: d for d in store.deals.list()}
        assert [(deals[i]["status"], deals[i]["stage"], deals[i]["probability"])
                for i in (1, 2, 3)] == [("open", "qualify", 10), ("won", "won", 100),
                                        ("lost", "lost", 0)]
        assert [(h["deal_id"], h["from_stage"], h["to_stage"], h["at"])
                for h in store.deals.stage_history()] == [
            (3, None, "lost", "2026-08-01T12:00:00Z"), (2, None, "won", "2026-09-01T12:00:00Z"),
            (1, None, "qualify", "2026-10-01T12:00:00Z")]


def test_deals_import_and_export_their_stage_probability_and_close_date(crm, tmp_path,
                                                                         db_path, snapshot):
    crm("add", "Acme", "--email", "ops@acme.test")
    (tmp_path / "deals.csv").write_text(
        "client,amount,at,stage,probability,close_date\n"
        "ops@acme.test,100,2026-10-01,Negotiate,70%,2026-12-01\n"
        "ops@acme.test,50,2026-10-02,,,\n"
        "ops@acme.test,20,2026-10-03,propose,,\n")
    crm("import", "deals", tmp_path / "deals.csv")
    deals = {d["id"]: d for d in crm.json("deals")}
    assert [(deals[i]["status"], deals[i]["stage"], deals[i]["probability"],
             deals[i]["close_date"]) for i in (1, 2, 3)] == [
        ("open", "negotiate", 70, "2026-12-01"), ("won", "won", 100, None),
        ("open", "propose", 30, None)]
    exported = crm("export", "deals").stdout.splitlines()
    assert exported[0] == ("id,client_id,at,title,amount,currency,status,stage,probability,"
                           "close_date,created_at,custom")
    assert exported[1].startswith("1,1,2026-10-01T12:00:00Z,,100,USD,open,negotiate,70,"
                                  "2026-12-01,")
    # an update that gives the status moves the stage with it, at the stage's probability
    (tmp_path / "up.csv").write_text("id,client,amount,at,status\n1,1,100,2026-10-01,lost\n")
    crm("import", "deals", tmp_path / "up.csv", "--key", "id")
    [lost] = [d for d in crm.json("deals") if d["id"] == 1]
    assert (lost["status"], lost["stage"], lost["probability"]) == ("lost", "lost", 0)
    before = snapshot(db_path)
    (tmp_path / "bad.csv").write_text(
        "client,amount,at,status,stage,probability,close_date\n"
        "1,1,2026-10-01,,dream,,\n"
        "1,1,2026-10-01,,qualify,150,\n"
        "1,1,2026-10-01,won,,40,\n"
        "1,1,2026-10-01,won,qualify,,\n"
        "1,1,2026-10-01,,qualify,,31/12/2026\n")
    result = crm("import", "deals", tmp_path / "bad.csv", ok=False)
    assert result.exit_code == 1
    lines = result.stderr.replace(f"{tmp_path}/", "").splitlines()
    assert lines[0] == "crm: error: 5 invalid rows in bad.csv; nothing was imported"
    assert lines[1].startswith("bad.csv:2: field 'stage': value 'dream': is not a deal stage")
    assert lines[2] == "bad.csv:3: field 'probability': value '150': must be from 0 to 100"
    assert lines[3] == ("bad.csv:4: field 'probability': value '40': a won deal's probability "
                        "is 100")
    assert lines[4].startswith("bad.csv:5: field 'status': value 'won': disagrees with stage "
                               "qualify")
    assert lines[5].startswith("bad.csv:6: field 'close_date': value '31/12/2026': is not a "
                               "date")
    assert snapshot(db_path) == before
