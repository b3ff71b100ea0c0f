"""Open follow-ups as an iCalendar feed: parsed back with the icalendar library."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from crmcli import dates
from crmcli.config import Config
from crmcli.interchange.ics import followups_calendar
from crmcli.store import CrmStore


@pytest.fixture
def book(crm, tmp_path):
    (tmp_path / "config.yaml").write_text("timezone: Europe/Paris\n")
    crm("add", "Acme", "--owner", "alex")
    crm("add", "陈静")
    crm("add", "Gone")
    crm("followup", "Acme", "2026-11-20", "send the quote")                    # 1 all-day
    crm("followup", "陈静", "2026-11-24T15:30", "报价")                        # 2 timed
    crm("followup", "Acme", "2026-11-30", "monthly review", "--every", "monthly")  # 3
    crm("followup", "Acme", "2026-11-21", "done already")                      # 4
    crm("done", "4")
    crm("followup", "Gone", "2026-11-23", "archived client")                   # 5
    crm("rm", "Gone")
    return crm


def feed(db_path, **kwargs) -> tuple[bytes, Calendar, str]:
    dates.set_timezone("Europe/Paris")
    with CrmStore(db_path, Config()) as store:
        data = followups_calendar(store, **kwargs)
        identity = store.digests.database_identity()
    return data, Calendar.from_ical(data), identity


def by_uid(cal: Calendar, name: str = "VEVENT") -> dict:
    return {str(c["UID"]): c for c in cal.walk(name)}


def test_one_event_per_open_follow_up_with_stable_uids(book, db_path):
    data, cal, identity = feed(db_path)
    events = by_uid(cal)
    assert sorted(events) == [f"followup-{i}@{identity}" for i in (1, 2, 3)]
    assert str(cal["PRODID"]) == "-//crmcli//crm export followups//EN"
    assert str(cal["VERSION"]) == "2.0"
    again, _, _ = feed(db_path)
    assert again == data        # same database, same moment: the very same bytes


def test_all_day_and_timed_entries(book, db_path):
    _, cal, identity = feed(db_path)
    events = by_uid(cal)
    quote = events[f"followup-1@{identity}"]
    assert str(quote["SUMMARY"]) == "Acme: send the quote"
    assert quote["DTSTART"].dt == date(2026, 11, 20)
    assert quote["DTEND"].dt == date(2026, 11, 21)
    assert "owner alex" in str(quote["DESCRIPTION"])
    timed = events[f"followup-2@{identity}"]
    assert str(timed["SUMMARY"]) == "陈静: 报价"
    start = timed["DTSTART"].dt
    assert isinstance(start, datetime)
    assert start == datetime(2026, 11, 24, 15, 30, tzinfo=ZoneInfo("Europe/Paris"))
    assert timed["DTSTART"].params["TZID"] == "Europe/Paris"
    assert timed["DTEND"].dt - start == timedelta(minutes=30)
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Paris"]


def test_recurring_follow_up_carries_its_rule(book, db_path):
    _, cal, identity = feed(db_path)
    events = by_uid(cal)
    review = events[f"followup-3@{identity}"]
    assert review["RRULE"]["FREQ"] == ["MONTHLY"]
    assert "RRULE" not in events[f"followup-1@{identity}"]


def test_snoozed_follow_up_keeps_its_uid_with_the_new_date(book, db_path):
    _, _, identity = feed(db_path)
    book("snooze", "1", "2026-12-02")
    _, cal, same_identity = feed(db_path)
    assert same_identity == identity
    assert by_uid(cal)[f"followup-1@{identity}"]["DTSTART"].dt == date(2026, 12, 2)


def test_todo_components_have_a_due_date(book, db_path):
    _, cal, identity = feed(db_path, component="todo")
    assert cal.walk("VEVENT") == []
    todos = by_uid(cal, "VTODO")
    assert todos[f"followup-1@{identity}"]["DUE"].dt == date(2026, 11, 20)
    assert str(todos[f"followup-1@{identity}"]["STATUS"]) == "NEEDS-ACTION"


def test_empty_book_gives_a_valid_empty_calendar(db_path):
    _, cal, _ = feed(db_path)
    assert cal.walk("VEVENT") == [] and str(cal["VERSION"]) == "2.0"


def test_crm_export_followups_ics_round_trips_with_stable_uids(book):
    first = book("export", "followups", "--format", "ics").stdout
    second = book("export", "followups", "--format", "ics").stdout
    cal = Calendar.from_ical(first)
    uids = sorted(str(e["UID"]) for e in cal.walk("VEVENT"))
    assert [u.split("@")[0] for u in uids] == ["followup-1", "followup-2", "followup-3"]
    assert sorted(str(e["UID"]) for e in Calendar.from_ical(second).walk("VEVENT")) == uids


def test_the_time_zone_definition_covers_timed_entries_beyond_2037(book, db_path):
    book("followup", "Acme", "2046-07-01T09:00", "far-future check-in")       # summer time
    _, cal, identity = feed(db_path)
    [zone] = cal.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Paris"
    # the summer-time switch of 2046 (last Sunday of March, 02:00 -> 03:00) is defined
    text = zone.to_ical().decode().replace("\r\n ", "")  # unfolded
    assert "20460325T030000" in text
    # and the entry itself is at 09:00 Paris summer time
    event = by_uid(cal)[f"followup-6@{identity}"]
    assert event["DTSTART"].dt == datetime(2046, 7, 1, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert event["DTSTART"].dt.utcoffset() == timedelta(hours=2)
