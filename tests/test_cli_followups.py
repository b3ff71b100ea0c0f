"""crm followup, followups, done, snooze: scheduling and recurrence."""

from __future__ import annotations

import sqlite3
from helpers import connect_book


def _followups(db_path):
    conn = connect_book(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM followups ORDER BY id")]
    finally:
        conn.close()


def _open_dues(crm, client="Acme"):
    return [(f["due"], f["due_at"]) for f in crm.json("followups", client)]


def test_followup_schedules_and_prints_its_id(crm, db_path):
    crm("add", "Acme")
    result = crm("followup", "Acme", "2026-11-25", "Send the proposal")
    assert result.stdout.strip() == "1"
    assert "follow-up 1 for client 1 Acme due 2026-11-25" in result.stderr
    [row] = _followups(db_path)
    assert (row["due"], row["due_at"], row["note"], row["every"], row["done_at"]) == (
        "2026-11-25", None, "Send the proposal", None, None)


def test_followup_with_a_time_stores_the_local_date_and_utc_instant(crm, db_path, tmp_path):
    (tmp_path / "config.yaml").write_text("timezone: Europe/Berlin\n")
    crm("add", "Acme")
    crm("followup", "Acme", "2026-11-25T00:30:00", "Early call")
    [row] = _followups(db_path)
    assert row["due"] == "2026-11-25"
    assert row["due_at"] == "2026-11-24T23:30:00Z"
    [listed] = crm.json("followups")
    assert listed["due"] == "2026-11-25"
    table = crm("followups").stdout
    assert "00:30" in table


def test_followups_lists_open_ones_by_due_date_with_status(crm):
    crm("add", "Acme")
    crm("add", "Beta")
    crm("followup", "Acme", "2026-12-01", "later")
    crm("followup", "Beta", "2026-11-20", "late")
    crm("followup", "Acme", "2026-11-22", "today")
    done = crm("followup", "Acme", "2026-11-21", "finished").stdout.strip()
    crm("done", done)
    rows = crm.json("followups")
    assert [(r["note"], r["status"], r["days_late"]) for r in rows] == [
        ("late", "overdue", 2), ("today", "due", 0), ("later", "upcoming", -9)]
    assert [r["note"] for r in crm.json("followups", "Acme")] == ["today", "later"]


def test_done_marks_done_and_done_twice_is_an_error(crm, db_path, snapshot):
    crm("add", "Acme")
    crm("followup", "Acme", "2026-11-25", "Call back")
    result = crm("done", "1")
    assert "follow-up 1 done" in result.stderr
    assert _followups(db_path)[0]["done_at"] == "2026-11-22T10:00:00Z"
    before = snapshot(db_path)
    result = crm("done", "1", ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip() == "crm: error: follow-up 1 is already done"
    assert snapshot(db_path) == before
    timeline = crm.json("show", "Acme")["timeline"]
    assert timeline[0]["type"] == "followup" and timeline[0]["summary"] == "Call back"


def test_unknown_follow_up_id_is_an_error_for_done_and_snooze(crm, db_path, snapshot):
    crm("add", "Acme")
    before = snapshot(db_path)
    for args in (("done", "42"), ("snooze", "42", "tomorrow")):
        result = crm(*args, ok=False)
        assert result.exit_code == 1
        assert result.stderr.strip() == "crm: error: no follow-up with id 42"
        assert snapshot(db_path) == before


def test_snooze_moves_the_due_date(crm, db_path):
    crm("add", "Acme")
    crm("followup", "Acme", "2026-11-20", "Call back")
    result = crm("snooze", "1", "2026-11-30")
    assert "follow-up 1 now due 2026-11-30" in result.stderr
    assert _followups(db_path)[0]["due"] == "2026-11-30"
    crm("snooze", "1", "+3d")
    assert _followups(db_path)[0]["due"] == "2026-11-25"


def test_snoozing_a_timed_follow_up_to_a_day_keeps_its_time(crm, db_path):
    crm("add", "Acme")
    crm("followup", "Acme", "2026-11-25T14:30:00", "Call")
    crm("snooze", "1", "2026-11-28")
    row = _followups(db_path)[0]
    assert (row["due"], row["due_at"]) == ("2026-11-28", "2026-11-28T14:30:00Z")


def test_snooze_of_a_done_follow_up_is_refused(crm, db_path, snapshot):
    crm("add", "Acme")
    crm("followup", "Acme", "2026-11-20", "Call back")
    crm("done", "1")
    before = snapshot(db_path)
    result = crm("snooze", "1", "tomorrow", ok=False)
    assert result.exit_code == 1
    assert "follow-up 1 is already done" in result.stderr
    assert snapshot(db_path) == before


def test_bad_when_is_rejected_without_writing(crm, db_path, snapshot):
    crm("add", "Acme")
    before = snapshot(db_path)
    result = crm("followup", "Acme", "someday", "x", ok=False)
    assert result.exit_code == 1
    assert "someday" in result.stderr and "Traceback" not in result.stderr
    result = crm("followup", "Acme", "2026-12-01", "x", "--every", "whenever", ok=False)
    assert result.exit_code == 1
    assert "whenever" in result.stderr
    assert snapshot(db_path) == before


def test_monthly_recurrence_clamps_to_month_end_and_returns_to_the_31st(crm, db_path):
    crm("add", "Acme")
    crm("followup", "Acme", "2027-01-31", "Month-end report", "--every", "monthly")
    assert _followups(db_path)[0]["every"]
    result = crm("done", "1")
    assert "next one is 2 due 2027-02-28" in result.stderr
    crm("done", "2")
    crm("done", "3")
    rows = _followups(db_path)
    assert [r["due"] for r in rows] == ["2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30"]
    assert [bool(r["done_at"]) for r in rows] == [True, True, True, False]
    assert {r["note"] for r in rows} == {"Month-end report"}
    timeline = crm.json("show", "Acme")["timeline"]
    assert [t["type"] for t in timeline] == ["followup"] * 3


def test_every_two_weeks_rolls_forward_by_fourteen_days(crm, db_path):
    crm("add", "Acme")
    crm("followup", "Acme", "2026-11-23", "Sync", "--every", "2w")
    crm("done", "1")
    assert _open_dues(crm) == [("2026-12-07", None)]


def test_recurring_done_late_skips_missed_occurrences(crm, db_path):
    crm("add", "Acme")
    crm("followup", "Acme", "2026-10-26", "Weekly call", "--every", "weekly")
    crm("done", "1")
    # 2026-11-02, -09 and -16 are already past: the next one is the first after today.
    assert _open_dues(crm) == [("2026-11-23", None)]


def test_timed_weekly_recurrence_keeps_local_time_across_dst_change(crm, db_path, tmp_path):
    (tmp_path / "config.yaml").write_text("timezone: Europe/Berlin\n")
    crm("add", "Acme")
    # Friday 2027-10-29 09:00 CEST (UTC+2); Berlin goes back to CET on Sunday Oct 31.
    crm("followup", "Acme", "2027-10-29T09:00:00", "Weekly status", "--every", "weekly")
    assert _followups(db_path)[0]["due_at"] == "2027-10-29T07:00:00Z"
    crm("done", "1")
    nxt = _followups(db_path)[1]
    assert nxt["due"] == "2027-11-05"
    assert nxt["due_at"] == "2027-11-05T08:00:00Z"  # still 09:00 local, now UTC+1
    assert "09:00" in crm("followups").stdout


def test_daily_all_day_recurrence_across_spring_dst_change(crm, db_path, tmp_path):
    (tmp_path / "config.yaml").write_text("timezone: Europe/Berlin\n")
    crm("add", "Acme")
    crm("followup", "Acme", "2027-03-27", "Daily check", "--every", "daily")
    crm("done", "1")
    crm("done", "2")
    assert [r["due"] for r in _followups(db_path)] == ["2027-03-27", "2027-03-28", "2027-03-29"]


def test_followup_for_unknown_client_is_an_error(crm, db_path, snapshot):
    crm("add", "Acme")
    before = snapshot(db_path)
    result = crm("followup", "Nobody", "tomorrow", ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip() == "crm: error: no client matches 'Nobody'"
    assert snapshot(db_path) == before


def test_open_follow_ups_appear_on_the_card(crm):
    crm("add", "Acme")
    crm("followup", "Acme", "2026-11-20", "Late one")
    crm("followup", "Acme", "2026-12-20", "Monthly review", "--every", "monthly")
    card = crm.json("show", "Acme")
    assert [(f["note"], f["status"]) for f in card["open_followups"]] == [
        ("Late one", "overdue"), ("Monthly review", "upcoming")]
    assert card["open_followups"][1]["repeats"]
    text = crm("show", "Acme").stdout
    assert "Open follow-ups" in text and "Late one" in text
