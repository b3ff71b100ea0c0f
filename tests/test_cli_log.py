"""crm log and crm resolve: the interaction log."""

from __future__ import annotations

import sqlite3
from helpers import connect_book


def _rows(db_path, sql, params=()):
    conn = connect_book(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def test_log_records_channel_direction_kind_score_and_prints_the_id(crm, db_path):
    crm("add", "Acme Corp")
    result = crm("log", "Acme", "Asked for a quote", "--channel", "email", "--in",
                 "--kind", "feedback", "--score", "9")
    interaction_id = int(result.stdout.strip())
    [row] = _rows(db_path, "SELECT * FROM interactions")
    assert row["id"] == interaction_id
    assert (row["channel"], row["direction"], row["kind"], row["score"]) == (
        "email", "in", "feedback", 9)
    assert row["summary"] == "Asked for a quote"
    assert row["at"] == "2026-11-22T10:00:00Z"
    assert "logged email (in) with client 1 Acme Corp" in result.stderr


def test_log_defaults_to_outbound_note_and_complaints_to_inbound(crm, db_path):
    crm("add", "Acme")
    crm("log", "Acme", "Sent the deck")
    crm("log", "Acme", "Invoice was wrong", "--kind", "complaint")
    rows = _rows(db_path, "SELECT channel, direction, kind FROM interactions ORDER BY id")
    assert rows == [{"channel": "other", "direction": "out", "kind": "note"},
                    {"channel": "other", "direction": "in", "kind": "complaint"}]


def test_log_back_dated_with_at_is_stored_in_utc(crm, db_path):
    crm("add", "Acme")
    crm("log", "Acme", "Met at the fair", "--channel", "meeting", "--at", "2026-03-14T15:30:00")
    [row] = _rows(db_path, "SELECT at FROM interactions")
    assert row["at"] == "2026-03-14T15:30:00Z"
    timeline = crm.json("show", "Acme")["timeline"]
    assert timeline[0]["at"] == "2026-03-14T15:30:00Z"
    assert timeline[0]["detail"] == "meeting out"


def test_log_back_dated_in_another_zone_converts_to_utc(crm, db_path, tmp_path):
    (tmp_path / "config.yaml").write_text("timezone: Europe/Berlin\n")
    crm("add", "Acme")
    crm("log", "Acme", "Summer call", "--at", "2026-07-01T09:00:00")
    [row] = _rows(db_path, "SELECT at FROM interactions")
    assert row["at"] == "2026-07-01T07:00:00Z"


def test_log_summary_dash_reads_stdin(crm, db_path):
    crm("add", "Acme")
    crm("log", "Acme", "-", "--channel", "call", input="Long call notes\nsecond line\n")
    [row] = _rows(db_path, "SELECT summary FROM interactions")
    assert row["summary"] == "Long call notes\nsecond line"


def test_log_summary_dash_with_empty_stdin_is_a_usage_error(crm, db_path, snapshot):
    crm("add", "Acme")
    before = snapshot(db_path)
    result = crm("log", "Acme", "-", input="", ok=False)
    assert result.exit_code == 2
    assert "read nothing from stdin" in result.stderr
    assert snapshot(db_path) == before


def test_log_with_next_schedules_the_follow_up_in_the_same_change(crm, db_path):
    crm("add", "Acme")
    crm("log", "Acme", "Demo went well", "--next", "2026-11-29", "--note", "Send the quote")
    [fu] = _rows(db_path, "SELECT * FROM followups")
    [interaction] = _rows(db_path, "SELECT id FROM interactions")
    assert fu["due"] == "2026-11-29" and fu["note"] == "Send the quote"
    assert fu["interaction_id"] == interaction["id"]
    changes = _rows(db_path, "SELECT command FROM changes WHERE command = 'log'")
    assert len(changes) == 1
    tables = {r["tbl"] for r in _rows(db_path, "SELECT tbl FROM change_rows WHERE change_id = "
                                               "(SELECT max(id) FROM changes)")}
    assert tables == {"interactions", "followups"}


def test_log_with_invalid_next_writes_neither_interaction_nor_follow_up(crm, db_path, snapshot):
    crm("add", "Acme")
    before = snapshot(db_path)
    result = crm("log", "Acme", "Demo went well", "--next", "whenever-ish", ok=False)
    assert result.exit_code == 1
    assert "whenever-ish" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(db_path) == before
    assert _rows(db_path, "SELECT * FROM interactions") == []
    assert _rows(db_path, "SELECT * FROM followups") == []


def test_log_rejects_unknown_channel(crm, db_path, snapshot):
    crm("add", "Acme")
    before = snapshot(db_path)
    result = crm("log", "Acme", "Hello", "--channel", "fax", ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip() == ("crm: error: channel 'fax': must be one of call, email, "
                                     "meeting, chat, visit, other")
    assert snapshot(db_path) == before


def test_log_rejects_bad_scores(crm, db_path, snapshot):
    crm("add", "Acme")
    before = snapshot(db_path)
    for bad, reason in (("11", "must be from 0 to 10"), ("-1", "must be from 0 to 10"),
                        ("great", "must be a whole number from 0 to 10")):
        result = crm("log", "Acme", "Survey", "--score", bad, ok=False)
        assert result.exit_code == 1
        assert result.stderr.strip() == f"crm: error: score '{bad}': {reason}"
        assert snapshot(db_path) == before


def test_log_rejects_unknown_client_and_contact(crm, db_path, snapshot):
    crm("add", "Acme")
    before = snapshot(db_path)
    result = crm("log", "Nobody", "Hello", ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip() == "crm: error: no client matches 'Nobody'"
    result = crm("log", "Acme", "Hello", "--contact", "Zed", ok=False)
    assert result.exit_code == 1
    assert "has no contact matching 'Zed'" in result.stderr
    assert snapshot(db_path) == before


def test_log_note_without_next_is_a_usage_error(crm, db_path, snapshot):
    crm("add", "Acme")
    before = snapshot(db_path)
    result = crm("log", "Acme", "Hello", "--note", "orphan", ok=False)
    assert result.exit_code == 2
    assert "--next" in result.stderr
    assert snapshot(db_path) == before


def test_log_links_the_contact(crm, db_path):
    crm("add", "Acme")
    crm("contact", "add", "Acme", "Jane Roe")
    crm("log", "Acme", "Chat with Jane", "--channel", "chat", "--contact", "Jane")
    [row] = _rows(db_path, "SELECT contact_id FROM interactions")
    [contact] = _rows(db_path, "SELECT id FROM contacts")
    assert row["contact_id"] == contact["id"]


def test_logged_interaction_is_found_by_search(crm):
    crm("add", "Acme")
    crm("log", "Acme", "电话沟通下季度的采购计划")
    hits = crm.json("search", "采购")
    assert [h["kind"] for h in hits] == ["interaction"]


def test_resolve_marks_a_complaint_resolved(crm, db_path):
    crm("add", "Acme")
    complaint = crm("log", "Acme", "Charged twice", "--kind", "complaint", "--at",
                    "2026-11-20T09:00:00").stdout.strip()
    result = crm("resolve", complaint, "--at", "2026-11-21T09:30:00")
    assert "resolved at 2026-11-21 09:30" in result.stderr
    [row] = _rows(db_path, "SELECT resolved_at FROM interactions")
    assert row["resolved_at"] == "2026-11-21T09:30:00Z"


def test_resolve_rejects_twice_non_complaints_unknown_ids_and_times_before(crm, db_path,
                                                                            snapshot):
    crm("add", "Acme")
    note = crm("log", "Acme", "Just a note").stdout.strip()
    complaint = crm("log", "Acme", "Late", "--kind", "complaint", "--at",
                    "2026-11-20T09:00:00").stdout.strip()
    before = snapshot(db_path)
    result = crm("resolve", "99", ok=False)
    assert (result.exit_code, result.stderr.strip()) == (
        1, "crm: error: no interaction with id 99")
    result = crm("resolve", note, ok=False)
    assert result.stderr.strip() == f"crm: error: interaction {note} is not a complaint (kind note)"
    result = crm("resolve", complaint, "--at", "2026-11-19", ok=False)
    assert result.exit_code == 1 and "is before the complaint itself" in result.stderr
    assert snapshot(db_path) == before
    crm("resolve", complaint)
    after = snapshot(db_path)
    result = crm("resolve", complaint, ok=False)
    assert result.exit_code == 1
    assert f"interaction {complaint} is already resolved" in result.stderr
    assert snapshot(db_path) == after


def test_log_is_one_undoable_change_in_history(crm, db_path):
    crm("add", "Acme")
    crm("log", "Acme", "Called", "--channel", "call", "--next", "tomorrow")
    [change] = _rows(db_path, "SELECT command, summary, client_id FROM changes "
                              "WHERE command = 'log'")
    assert change == {"command": "log", "summary": "logged call out with client 1 Acme",
                      "client_id": 1}


def test_edit_log_corrects_an_interaction_in_one_undoable_change(crm, db_path):
    import sqlite3

    def row():
        conn = connect_book(db_path)
        try:
            return conn.execute("SELECT summary, at, channel, direction, kind, score, "
                                "contact_id FROM interactions WHERE id = 1").fetchone()
        finally:
            conn.close()

    crm("add", "Acme")
    crm("contact", "add", "Acme", "Jane")
    crm("log", "Acme", "Called re renwal", "--channel", "call")
    before = row()
    result = crm("edit-log", "1", "--summary", "Called about the renewal", "--score", "8",
                 "--contact", "Jane", "--at", "2026-11-21T15:00", "--in", "--channel", "email")
    assert result.stderr == ("interaction 1: summary Called about the renewal, at 2026-11-21 "
                             "15:00, channel email, direction in, score 8, contact 1 Jane\n")
    assert row() == ("Called about the renewal", "2026-11-21T15:00:00Z", "email", "in", "note",
                     8, 1)
    assert crm.json("search", "renewal")[0]["match"] == "Called about the renewal"
    assert crm("edit-log", "1", "--score", "8").stderr == "interaction 1 unchanged\n"
    changed = row()
    crm("undo")
    assert row() == before
    crm("undo")
    assert row() == changed
    assert crm("edit-log", "1", "--score", "", "--contact", "").stderr == (
        "interaction 1: score cleared, contact cleared\n")


def test_edit_log_refuses_bad_values_and_keeps_a_resolved_complaint_whole(
        crm, db_path, snapshot):
    crm("add", "Acme")
    crm("log", "Acme", "Invoice was wrong", "--kind", "complaint", "--at", "2026-11-20T09:00")
    crm("resolve", "1", "--at", "2026-11-21T09:00")
    before = snapshot(db_path)
    for args, code, line in (
            (("--kind", "note"), 1, "kind 'note': interaction 1 is a resolved complaint; it "
                                    "stays a complaint"),
            (("--at", "2026-11-21T10:00"), 1, "at '2026-11-21T10:00:00Z': is after the "
                                              "complaint's resolution (2026-11-21T09:00:00Z)"),
            (("--channel", "fax"), 1, "channel 'fax': must be one of call, email, meeting, "
                                      "chat, visit, other"),
            (("--score", "11"), 1, "score '11': must be from 0 to 10"),
            (("--summary", ""), 1, "summary '': must not be empty"),
            (("--contact", "Nobody"), 1, "client 1 has no contact matching 'Nobody'"),
            ((), 2, "nothing to change: give --summary (or -e), --channel, --in/--out, --kind, "
                    "--at, --score or --contact")):
        result = crm("edit-log", "1", *args, ok=False)
        assert (result.exit_code, result.stderr) == (code, f"crm: error: {line}\n"), args
    result = crm("edit-log", "7", "--score", "3", ok=False)
    assert (result.exit_code, result.stderr) == (1, "crm: error: no interaction with id 7\n")
    assert snapshot(db_path) == before
