"""One validator per field on every path: what the command line refuses an import refuses
too (recurrence rules, years), and no value stored before the rule (written straight into
the file here) makes a later command fail, under any zone."""

from __future__ import annotations

import sqlite3

import pytest

from tests.conftest import db_snapshot

# Rules that once went in through an import and later broke `crm done` (spinning forever
# on INTERVAL=0), the ICS export, `crm show` and the cron digest.
BAD_RULES = [
    "FREQ=DAILY;COUNT=3\nATTACH:http://evil",
    "FREQ=DAILY;WKST=ZZ",
    "FREQ=MONTHLY;BYSETPOS=400",
    "FREQ=DAILY;INTERVAL=0",
    "FREQ=DAILY;INTERVAL=-2",
    "FREQ=DAILY;INTERVAL=99999999999999999999999",
    "FREQ=WEEKLY;BYDAY=XX",
    "FREQ=DAILY;BYHOUR=9",
    "FREQ=DAILY;UNTIL=99991231",
    "FREQ=DAILY;UNTIL=00010101",
    "FREQ=DAILY;COUNT=0",
    "FREQ=DAILY;COUNT=2;UNTIL=20270101",
    "FREQ=HOURLY",
    "FREQ=DAILY;X-EVIL=1",
    "FREQ=YEARLY;BYMONTH=13",
    "FREQ=DAILY\x1b]0;pwned\x07",
]
FAR_DAYS = ["0001-01-01", "9999-12-31", "1899-12-31", "2201-01-01"]
FAR_INSTANTS = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]
ZONES = ["UTC", "Pacific/Kiritimati", "Etc/GMT-14", "Etc/GMT+12"]


@pytest.fixture
def acme(crm):
    crm("add", "Acme")
    return crm


@pytest.mark.parametrize("rule", BAD_RULES)
def test_the_command_line_and_the_import_refuse_the_same_rules(acme, tmp_path, db_path, rule):
    result = acme("followup", "Acme", "today", "x", "--every", rule, ok=False)
    assert result.exit_code == 1 and result.stderr.startswith("crm: error: ")
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    before = db_snapshot(db_path)
    source = tmp_path / "f.json"
    import json

    source.write_text(json.dumps([{"client": "1", "due": "2026-11-30", "every": rule}]))
    result = acme("import", "followups", str(source), ok=False)
    assert result.exit_code == 1
    assert "field 'every'" in result.stderr
    assert db_snapshot(db_path) == before


@pytest.mark.parametrize("value", FAR_DAYS)
@pytest.mark.parametrize("column", ["due", "anchor"])
def test_an_import_refuses_years_the_command_line_refuses(acme, tmp_path, db_path, value,
                                                         column):
    assert acme("followup", "Acme", value, "x", ok=False).exit_code == 1
    before = db_snapshot(db_path)
    row = {"client": "1", "due": "2026-11-30", "every": "weekly", column: value}
    source = tmp_path / "f.csv"
    source.write_text(",".join(row) + "\n" + ",".join(row.values()) + "\n")
    result = acme("import", "followups", str(source), ok=False)
    assert f"field '{column}'" in result.stderr and "year from 1900 to 2200" in result.stderr
    assert db_snapshot(db_path) == before


@pytest.mark.parametrize("value", FAR_INSTANTS)
@pytest.mark.parametrize("kind,column", [("followups", "due_at"), ("interactions", "at"),
                                         ("deals", "at"), ("clients", "created_at")])
def test_an_import_refuses_instants_out_of_the_year_range(acme, tmp_path, db_path, value, kind,
                                                          column):
    rows = {"followups": {"client": "1", "due": "2026-11-30"},
            "interactions": {"client": "1", "summary": "x", "at": "2026-11-01"},
            "deals": {"client": "1", "amount": "5", "at": "2026-11-01"},
            "clients": {"name": "Beta"}}[kind]
    rows[column] = value
    source = tmp_path / "f.csv"
    source.write_text(",".join(rows) + "\n" + ",".join(rows.values()) + "\n")
    before = db_snapshot(db_path)
    result = acme("import", kind, str(source), ok=False)
    assert f"field '{column}'" in result.stderr and "year from 1900 to 2200" in result.stderr
    assert db_snapshot(db_path) == before


def store_raw(db_path, due: str, due_at: str | None = None, every: str | None = None,
              anchor: str | None = None) -> int:
    """A follow-up written as an older crm (or any other tool) may have left it."""
    conn = sqlite3.connect(db_path)
    try:
        with conn:
            cursor = conn.execute(
                "INSERT INTO followups (client_id, due, due_at, note, every, anchor, done_at,"
                " created_at) VALUES (1, ?, ?, 'stored before the rule', ?, ?, NULL,"
                " '2026-11-01T10:00:00Z')", (due, due_at, every, anchor))
            return cursor.lastrowid
    finally:
        conn.close()


STORED = ([("2026-11-20", None, rule, None) for rule in BAD_RULES]
          + [(day, None, None, None) for day in FAR_DAYS]
          + [(day, None, "FREQ=WEEKLY", day) for day in FAR_DAYS]
          + [(instant[:10], instant, None, None) for instant in FAR_INSTANTS]
          + [(instant[:10], instant, "FREQ=DAILY", instant[:16]) for instant in FAR_INSTANTS]
          + [("2026-11-20", None, "FREQ=DAILY", "not a date")])


@pytest.mark.parametrize("zone", ZONES)
def test_no_stored_value_makes_a_later_command_fail(acme, tmp_path, db_path, zone):
    (tmp_path / "config.yaml").write_text(f"timezone: {zone}\nsmtp:\n  to: [me@example.com]\n")
    ids = [store_raw(db_path, *row) for row in STORED]
    for args in (["followups"], ["followups", "--format", "json"], ["show", "Acme"],
                 ["due"], ["due", "--within", "999999d"], ["export", "followups", "--format", "ics"],
                 ["export", "followups"],
                 ["export", "all", "-o", str(tmp_path / "all")],
                 ["due", "--email", "--dry-run", "--sendmail"], ["history"], ["report", "summary"],
                 *[["done", str(fid)] for fid in ids]):
        result = acme(*args, ok=False)
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        assert "internal error" not in result.stderr
    assert acme("undo").exit_code == 0


def test_done_on_a_rule_stored_before_the_check_completes_it_and_says_it_does_not_repeat(
        acme, db_path):
    fid = store_raw(db_path, "2026-11-20", None, "FREQ=DAILY;INTERVAL=0", "2026-11-20")
    result = acme("done", str(fid))
    assert result.stderr == (f"follow-up {fid} done; its stored repeat rule "
                             "'FREQ=DAILY;INTERVAL=0' is not one crm accepts, so it does not "
                             "repeat\n")
    assert acme.json("followups") == []


@pytest.mark.parametrize("rule", ["FREQ=DAILY;COUNT=3", "FREQ=DAILY;UNTIL=20261124"])
def test_the_last_occurrence_of_a_limited_series_can_be_completed(acme, rule):
    acme("followup", "Acme", "2026-11-22", "x", "--every", rule)
    assert acme("done", "1").stderr.startswith("follow-up 1 done; next one is 2 due 2026-11-23")
    acme("done", "2")
    result = acme("done", "3")
    assert result.stderr == "follow-up 3 done; it was the last of its series\n"
    assert acme.json("followups") == []
    acme("undo")
    assert [f["id"] for f in acme.json("followups")] == [3]


def test_a_daily_series_begun_long_ago_rolls_forward_in_one_step(acme, db_path):
    fid = store_raw(db_path, "1901-01-01", None, "FREQ=DAILY", "1901-01-01")
    assert acme("done", str(fid)).stderr.endswith("due 2026-11-23\n")


def test_a_timed_series_keeps_its_time_when_completed_late(acme):
    acme("followup", "Acme", "2026-11-02 09:30", "standup", "--every", "weekly")
    assert acme("done", "1").stderr == ("follow-up 1 done; next one is 2 due 2026-11-23 "
                                        "09:30\n")
