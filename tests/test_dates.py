"""crmcli.dates: the WHEN grammar, durations, recurrence rules, zones and DST.

conftest pins CRM_NOW to 2026-11-22T10:00:00+00:00, a Sunday, with the zone UTC, so
"today" is Sunday 2026-11-22 unless a test says otherwise.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcli import dates
from crmcli.errors import DateError


@pytest.fixture
def berlin():
    dates.set_timezone("Europe/Berlin")
    yield
    dates.set_timezone("UTC")


def utc(value) -> str:
    return dates.to_utc_iso(value)


# --- clock and zone --------------------------------------------------------------------

def test_now_honours_crm_now_and_today_is_the_pinned_sunday():
    assert dates.now() == datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    assert dates.now().tzinfo is not None
    assert dates.today() == date(2026, 11, 22)
    assert dates.today().weekday() == 6


def test_today_is_the_local_date_in_the_configured_zone(monkeypatch, berlin):
    monkeypatch.setenv("CRM_NOW", "2026-11-22T23:30:00+00:00")  # 00:30 on the 23rd in Berlin
    assert dates.today() == date(2026, 11, 23)
    assert dates.parse_when("tomorrow") == date(2026, 11, 24)


def test_naive_crm_now_is_wall_clock_time_in_the_configured_zone(monkeypatch, berlin):
    monkeypatch.setenv("CRM_NOW", "2026-11-22T10:00:00")
    assert utc(dates.now()) == "2026-11-22T09:00:00Z"  # Berlin is UTC+1 in November


def test_a_bad_crm_now_or_zone_is_a_date_error(monkeypatch):
    monkeypatch.setenv("CRM_NOW", "last christmas")
    with pytest.raises(DateError, match="CRM_NOW"):
        dates.now()
    with pytest.raises(DateError, match="unknown time zone 'Mars/Olympus'"):
        dates.set_timezone("Mars/Olympus")
    assert dates.zone().key == "UTC"  # the failed call left the zone alone


def test_utc_text_round_trips_and_displays_in_the_local_zone(berlin):
    moment = dates.from_utc_iso("2026-11-22T23:30:00Z")
    assert moment == datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    assert utc(moment) == "2026-11-22T23:30:00Z"
    assert dates.format_local("2026-11-22T23:30:00Z") == "2026-11-23 00:30"
    assert dates.format_local(moment) == "2026-11-23 00:30"
    assert dates.local_date_of("2026-11-22T23:30:00Z") == date(2026, 11, 23)
    assert dates.local(moment).utcoffset() == timedelta(hours=1)
    # summer time: UTC+2
    assert dates.format_local("2026-07-01T10:00:00Z") == "2026-07-01 12:00"
    with pytest.raises(DateError, match="not a timestamp"):
        dates.from_utc_iso("yesterday-ish")


# --- the WHEN grammar: words -----------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("today", date(2026, 11, 22)),
    ("tomorrow", date(2026, 11, 23)),
    ("yesterday", date(2026, 11, 21)),
    ("  TOMORROW ", date(2026, 11, 23)),
    # weekdays: the next occurrence strictly after today (a Sunday)
    ("monday", date(2026, 11, 23)),
    ("mon", date(2026, 11, 23)),
    ("Tue", date(2026, 11, 24)),
    ("wednesday", date(2026, 11, 25)),
    ("thurs", date(2026, 11, 26)),
    ("next friday", date(2026, 11, 27)),
    ("sat", date(2026, 11, 28)),
    ("sunday", date(2026, 11, 29)),
    ("last monday", date(2026, 11, 16)),
    ("last sun", date(2026, 11, 15)),
    # relative
    ("+3d", date(2026, 11, 25)),
    ("3d", date(2026, 11, 25)),
    ("2w", date(2026, 12, 6)),
    ("1m", date(2026, 12, 22)),
    ("1y", date(2027, 11, 22)),
    ("-2d", date(2026, 11, 20)),
    ("in 3 days", date(2026, 11, 25)),
    ("3 days ago", date(2026, 11, 19)),
    ("in 2 weeks", date(2026, 12, 6)),
    ("1 month", date(2026, 12, 22)),
    # ends and starts
    ("eow", date(2026, 11, 22)),  # today is the Sunday that ends the ISO week
    ("eom", date(2026, 11, 30)),
    ("eoy", date(2026, 12, 31)),
    ("sow", date(2026, 11, 16)),
    ("som", date(2026, 11, 1)),
])
def test_word_and_relative_forms_give_hand_worked_dates(text, expected):
    result = dates.parse_when(text)
    assert type(result) is date
    assert result == expected


def test_eow_midweek_is_the_coming_sunday(monkeypatch):
    monkeypatch.setenv("CRM_NOW", "2026-11-25T10:00:00+00:00")  # a Wednesday
    assert dates.parse_when("eow") == date(2026, 11, 29)
    assert dates.parse_when("wed") == date(2026, 12, 2)  # strictly after today


def test_one_month_from_the_31st_clamps_to_the_month_end(monkeypatch):
    monkeypatch.setenv("CRM_NOW", "2027-01-31T10:00:00+00:00")
    assert dates.parse_when("1m") == date(2027, 2, 28)
    assert dates.parse_when("eom") == date(2027, 1, 31)


@pytest.mark.parametrize("text, expected", [
    ("now", "2026-11-22T10:00:00Z"),
    ("tomorrow 14:00", "2026-11-23T14:00:00Z"),
    ("tomorrow at 2:30 pm", "2026-11-23T14:30:00Z"),
    ("mon 9am", "2026-11-23T09:00:00Z"),
    ("+3d 08:15", "2026-11-25T08:15:00Z"),
    ("14:00", "2026-11-22T14:00:00Z"),
    ("12am", "2026-11-22T00:00:00Z"),
    ("12pm", "2026-11-22T12:00:00Z"),
    ("in 2 hours", "2026-11-22T12:00:00Z"),
])
def test_a_time_after_a_word_gives_an_aware_datetime(text, expected):
    result = dates.parse_when(text)
    assert isinstance(result, datetime) and result.tzinfo is not None
    assert utc(result) == expected


def test_a_time_is_local_wall_clock_time_in_the_configured_zone(berlin):
    assert utc(dates.parse_when("tomorrow 14:00")) == "2026-11-23T13:00:00Z"


# --- ISO and other unambiguous dates ---------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("2026-12-05", date(2026, 12, 5)),
    ("2028-02-29", date(2028, 2, 29)),
    ("2026/12/05", date(2026, 12, 5)),
    ("20261205", date(2026, 12, 5)),
    ("12/25/2026", date(2026, 12, 25)),  # only month/day can be valid
    ("25.12.2026", date(2026, 12, 25)),  # only day/month can be valid
    ("05/05/2026", date(2026, 5, 5)),    # both readings are the same day
    ("12/25", date(2026, 12, 25)),       # no year: this year
    ("5 Dec 2026", date(2026, 12, 5)),
    ("Dec 5", date(2026, 12, 5)),
    ("December 5th, 2026", date(2026, 12, 5)),
    ("Dec 5", date(2026, 12, 5)),
    ("Jan 3", date(2026, 1, 3)),         # this year's, even when already past
    ("Sat 5 Dec 2026", date(2026, 12, 5)),
])
def test_iso_and_unambiguous_dates(text, expected):
    result = dates.parse_when(text)
    assert type(result) is date
    assert result == expected


@pytest.mark.parametrize("text, expected", [
    ("2026-12-05T14:00:00", "2026-12-05T14:00:00Z"),
    ("2026-12-05 14:00", "2026-12-05T14:00:00Z"),
    ("2026-12-05T14:00:00Z", "2026-12-05T14:00:00Z"),
    ("2026-12-05t14:00z", "2026-12-05T14:00:00Z"),
    ("2026-12-05T14:00:00+01:00", "2026-12-05T13:00:00Z"),
    ("2026-12-05T14:00:00-0500", "2026-12-05T19:00:00Z"),
    ("2026-12-05 9am", "2026-12-05T09:00:00Z"),
    ("12/25/2026 18:30", "2026-12-25T18:30:00Z"),
    ("Dec 5 2026 3pm", "2026-12-05T15:00:00Z"),
    ("5 Dec 2026 14:00 +0100", "2026-12-05T13:00:00Z"),
])
def test_iso_and_unambiguous_datetimes(text, expected):
    result = dates.parse_when(text)
    assert isinstance(result, datetime) and result.tzinfo is not None
    assert utc(result) == expected


def test_naive_iso_datetimes_are_local_and_offsets_are_respected(berlin):
    assert utc(dates.parse_when("2026-11-25T00:30:00")) == "2026-11-24T23:30:00Z"
    assert utc(dates.parse_when("2026-07-01T09:00")) == "2026-07-01T07:00:00Z"
    assert utc(dates.parse_when("2026-07-01T09:00Z")) == "2026-07-01T09:00:00Z"


def test_a_time_inside_the_spring_gap_moves_forward(berlin):
    # 2027-03-28 02:30 does not exist in Berlin (clocks jump from 02:00 to 03:00)
    result = dates.parse_when("2027-03-28T02:30")
    assert utc(result) == "2027-03-28T01:30:00Z"
    assert dates.format_local(result) == "2027-03-28 03:30"


def test_date_and_datetime_objects_pass_through():
    assert dates.parse_when(date(2026, 1, 2)) == date(2026, 1, 2)
    moment = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert dates.parse_when(moment) == moment


# --- errors ----------------------------------------------------------------------------

def test_unrecognised_text_is_one_line_naming_the_accepted_forms():
    with pytest.raises(DateError) as err:
        dates.parse_when("fooday")
    assert str(err.value) == (
        "cannot read 'fooday' as a date; use YYYY-MM-DD[ HH:MM], today, tomorrow, yesterday, "
        "a weekday, +3d, 2w, 1m, 1y, -2d, eow or eom")


@pytest.mark.parametrize("text, message", [
    ("01/02/2026", "'01/02/2026' is ambiguous (2026-01-02 or 2026-02-01); use YYYY-MM-DD"),
    ("03.04.2026", "is ambiguous (2026-03-04 or 2026-04-03)"),
    ("1/2", "is ambiguous (2026-01-02 or 2026-02-01)"),
    ("01/02/26", "two-digit year, which is ambiguous"),
    ("2026-02-30", "'2026-02-30' is not a real date: February 2026 has 28 days"),
    ("2026-13-01", "there is no month 13"),
    ("2026-04-31", "April 2026 has 30 days"),
    ("13/13/2026", "is not a real date"),
    ("02/30/2026", "is not a real date"),
    ("Feb 29", "is not a real date or time (no year given: 2026)"),
    ("30 Feb 2026", "is not a real date"),
    ("20260230", "February 2026 has 28 days"),
    ("1800-01-01", "'1800-01-01' is out of range: use a year from 1900 to 2200"),
    ("2201-01-01", "out of range"),
    ("5 Dec 1850", "out of range"),
    ("+99999y", "out of range"),
    ("-999999d", "out of range"),
    ("today 25:00", "impossible time of day"),
    ("13pm", "impossible time"),
    ("2026-12-05T24:00", "impossible time of day"),
    ("Mon 5 Dec 2026", "2026-12-05 is a Saturday, not a Monday"),
    ("December 2026", "has no day"),
    ("2026/12", "has no day"),
    ("5 Dec 2026 14:00 XYZ", "time zone that is not understood"),
    ("", "empty date; use YYYY-MM-DD"),
    ("   ", "empty date"),
    ("to\x00day", "NUL byte"),
    ("t" * 101, "too long (101 characters; at most 100)"),
    ("someday", "cannot read 'someday' as a date"),
    ("now 14:00", "cannot read 'now 14:00'"),
    ("2026", "cannot read '2026'"),
    ("5", "cannot read '5'"),
    ("in 3 days ago", "cannot read"),
    ("next", "cannot read"),
])
def test_bad_dates_raise_date_error_with_one_clear_line(text, message):
    with pytest.raises(DateError) as err:
        dates.parse_when(text)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_non_text_is_a_date_error():
    with pytest.raises(DateError, match="must be text"):
        dates.parse_when(20261205)


def test_date_error_is_a_value_error():
    assert issubclass(DateError, ValueError)


VOCABULARY = ["today", "tomorrow", "now", "mon", "next", "last", "in", "ago", "3", "12", "31",
              "2026", "1899", "99999", "d", "w", "m", "y", "days", "Dec", "February", "+",
              "-", "/", ".", ":", "14:00", "9am", "pm", "T", "Z", "+01:00", "eow", "eom",
              "at", "of", "the", "5th", "EST", "UTC", "\x00", "\u00e9", "\u4e2d", "\u0663",
              "01/02/2026", "2026-02-30", "2026-12-05", " "]


@pytest.mark.stress
@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=120),
                 st.lists(st.sampled_from(VOCABULARY), max_size=6).map(" ".join),
                 st.lists(st.sampled_from(VOCABULARY), max_size=6).map("".join)))
def test_parse_when_returns_a_date_or_raises_date_error(text):
    try:
        result = dates.parse_when(text)
    except DateError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(result, date)
    if isinstance(result, datetime):
        assert result.tzinfo is not None
    assert 1900 <= result.year <= 2200


@pytest.mark.stress
@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=60),
                 st.lists(st.sampled_from(["every", "2", "weeks", "on", "mon", "thu", "monthly",
                                           "the", "15th", "FREQ=WEEKLY", ";", "BYDAY=MO",
                                           "INTERVAL=0", "d", "w", "last", "day", ","]),
                          max_size=5).map(" ".join)))
def test_parse_every_returns_a_rule_or_raises_date_error(text):
    try:
        rule = dates.parse_every(text)
    except DateError:
        return
    assert rule.startswith("FREQ=")


# --- parse_at --------------------------------------------------------------------------

def test_parse_at_today_is_now_another_day_is_noon_and_times_are_kept(berlin):
    assert utc(dates.parse_at("today")) == "2026-11-22T10:00:00Z"
    assert utc(dates.parse_at("2026-11-20")) == "2026-11-20T11:00:00Z"  # 12:00 Berlin
    assert utc(dates.parse_at("yesterday")) == "2026-11-21T11:00:00Z"
    assert utc(dates.parse_at("2026-11-20 08:15")) == "2026-11-20T07:15:00Z"


# --- durations -------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected, days", [
    ("3d", relativedelta(days=3), 3),
    ("+3d", relativedelta(days=3), 3),
    ("-2d", relativedelta(days=-2), -2),
    ("2w", relativedelta(weeks=2), 14),
    ("1m", relativedelta(months=1), 31),   # counted from 2000-01-01
    ("1y", relativedelta(years=1), 366),   # 2000 is a leap year
    ("3 days", relativedelta(days=3), 3),
    ("2 weeks", relativedelta(weeks=2), 14),
    ("1 month", relativedelta(months=1), 31),
    ("2 Years", relativedelta(years=2), 731),
])
def test_parse_duration_and_duration_days(text, expected, days):
    rd = dates.parse_duration(text)
    assert rd == expected
    assert dates.duration_days(rd) == days


@pytest.mark.parametrize("text", ["", "3", "3x", "d", "three days", "3d 2w", "in 3 days", "1\x00d"])
def test_bad_durations_are_date_errors(text):
    with pytest.raises(DateError):
        dates.parse_duration(text)


def test_duration_error_names_the_forms():
    with pytest.raises(DateError, match=r"cannot read 'soon' as a duration; use 3d, 2w, 1m"):
        dates.parse_duration("soon")


# --- recurrence: parse_every and describe_every -----------------------------------------

@pytest.mark.parametrize("text, rule, described", [
    ("daily", "FREQ=DAILY", "daily"),
    ("weekly", "FREQ=WEEKLY", "weekly"),
    ("Monthly", "FREQ=MONTHLY", "monthly"),
    ("yearly", "FREQ=YEARLY", "yearly"),
    ("annually", "FREQ=YEARLY", "yearly"),
    ("quarterly", "FREQ=MONTHLY;INTERVAL=3", "quarterly"),
    ("2w", "FREQ=WEEKLY;INTERVAL=2", "every 2 weeks"),
    ("every 2 weeks", "FREQ=WEEKLY;INTERVAL=2", "every 2 weeks"),
    ("3d", "FREQ=DAILY;INTERVAL=3", "every 3 days"),
    ("1m", "FREQ=MONTHLY", "monthly"),
    ("every 6 months", "FREQ=MONTHLY;INTERVAL=6", "every 6 months"),
    ("2y", "FREQ=YEARLY;INTERVAL=2", "every 2 years"),
    ("weekdays", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "every weekday"),
    ("weekly on mon", "FREQ=WEEKLY;BYDAY=MO", "weekly on Monday"),
    ("weekly on thu,mon", "FREQ=WEEKLY;BYDAY=MO,TH", "weekly on Monday and Thursday"),
    ("weekly on mon, wed and fri", "FREQ=WEEKLY;BYDAY=MO,WE,FR",
     "weekly on Monday, Wednesday and Friday"),
    ("every 2 weeks on fri", "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR", "every 2 weeks on Friday"),
    ("every monday", "FREQ=WEEKLY;BYDAY=MO", "weekly on Monday"),
    ("monthly on 15", "FREQ=MONTHLY;BYMONTHDAY=15", "every month on day 15"),
    ("monthly on the 15th", "FREQ=MONTHLY;BYMONTHDAY=15", "every month on day 15"),
    ("monthly on the 31st", "FREQ=MONTHLY;BYMONTHDAY=31", "every month on day 31"),
    ("monthly on the last day", "FREQ=MONTHLY;BYMONTHDAY=-1", "every month on the last day"),
    ("FREQ=WEEKLY;BYDAY=TU", "FREQ=WEEKLY;BYDAY=TU", "weekly on Tuesday"),
    ("RRULE:freq=daily;interval=2", "FREQ=DAILY;INTERVAL=2", "every 2 days"),
    ("FREQ=WEEKLY;COUNT=3", "FREQ=WEEKLY;COUNT=3", "weekly, 3 times"),
    ("FREQ=DAILY;UNTIL=20270101T000000Z", "FREQ=DAILY;UNTIL=20270101T000000",
     "daily until 2027-01-01"),
    ("FREQ=MONTHLY;BYDAY=1MO", "FREQ=MONTHLY;BYDAY=1MO", "FREQ=MONTHLY;BYDAY=1MO"),
])
def test_parse_every_and_describe_every(text, rule, described):
    assert dates.parse_every(text) == rule
    assert dates.describe_every(rule) == described


@pytest.mark.parametrize("text, message", [
    ("whenever", "cannot read 'whenever' as a recurrence; use daily, weekly, monthly"),
    ("", "empty recurrence"),
    ("0d", "interval of at least 1"),
    ("monthly on 32", "must be 1 to 31"),
    ("weekly on funday", "cannot read"),
    ("FREQ=HOURLY", "repeat daily, weekly, monthly or yearly"),
    ("FREQ=WEEKLY;BYDAY=XX", "is not a valid recurrence rule"),
    ("FREQ=WEEKLY;FOO=1", "is not a valid recurrence rule"),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "never happens"),
    ("every\x00day", "NUL byte"),
])
def test_bad_recurrences_are_date_errors(text, message):
    with pytest.raises(DateError) as err:
        dates.parse_every(text)
    assert message in str(err.value)


# --- recurrence: next_occurrence -------------------------------------------------------

def test_monthly_clamps_to_month_end_and_returns_to_the_31st():
    anchor = date(2027, 1, 31)
    feb = dates.next_occurrence("FREQ=MONTHLY", anchor)
    mar = dates.next_occurrence("FREQ=MONTHLY", feb, anchor)
    apr = dates.next_occurrence("FREQ=MONTHLY", mar, anchor)
    assert (feb, mar, apr) == (date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30))
    # without the anchor the series would drift to the 28th
    assert dates.next_occurrence("FREQ=MONTHLY", feb) == date(2027, 3, 28)


def test_monthly_on_a_day_and_on_the_last_day_clamp_too():
    assert dates.next_occurrence("FREQ=MONTHLY;BYMONTHDAY=31", date(2027, 1, 31)) == date(
        2027, 2, 28)
    assert dates.next_occurrence("FREQ=MONTHLY;BYMONTHDAY=15", date(2026, 11, 10)) == date(
        2026, 11, 15)
    assert dates.next_occurrence("FREQ=MONTHLY;BYMONTHDAY=-1", date(2026, 11, 30)) == date(
        2026, 12, 31)
    assert dates.next_occurrence("FREQ=MONTHLY;INTERVAL=3", date(2026, 11, 30)) == date(
        2027, 2, 28)


def test_yearly_from_february_29th():
    anchor = date(2028, 2, 29)
    first = dates.next_occurrence("FREQ=YEARLY", anchor)
    assert first == date(2029, 2, 28)
    assert dates.next_occurrence("FREQ=YEARLY", date(2031, 2, 28), anchor) == date(2032, 2, 29)


def test_weekly_daily_and_weekday_rules():
    assert dates.next_occurrence("FREQ=WEEKLY;INTERVAL=2", date(2026, 11, 23)) == date(
        2026, 12, 7)
    assert dates.next_occurrence("FREQ=DAILY", date(2026, 12, 31)) == date(2027, 1, 1)
    # Friday 2026-11-27 -> Monday 2026-11-30
    weekdays = dates.parse_every("weekdays")
    assert dates.next_occurrence(weekdays, date(2026, 11, 27)) == date(2026, 11, 30)
    # Monday and Thursday, from a Monday
    assert dates.next_occurrence("FREQ=WEEKLY;BYDAY=MO,TH", date(2026, 11, 23)) == date(
        2026, 11, 26)


def test_a_series_that_has_ended_has_no_next_occurrence():
    assert dates.next_occurrence("FREQ=MONTHLY;COUNT=2", date(2027, 2, 28),
                                 date(2027, 1, 31)) is None
    assert dates.next_occurrence("FREQ=DAILY;UNTIL=20261201", date(2026, 12, 1)) is None
    assert dates.next_occurrence("FREQ=DAILY;UNTIL=20261201", date(2026, 11, 30)) == date(
        2026, 12, 1)


def test_timed_weekly_keeps_the_local_time_across_the_autumn_dst_change(berlin):
    # Monday 2026-10-19 09:00 CEST (UTC+2); Berlin goes back to CET on Sunday 2026-10-25.
    first = dates.parse_when("2026-10-19T09:00")
    assert utc(first) == "2026-10-19T07:00:00Z"
    nxt = dates.next_occurrence("FREQ=WEEKLY", first)
    assert isinstance(nxt, datetime)
    assert dates.format_local(nxt) == "2026-10-26 09:00"
    assert utc(nxt) == "2026-10-26T08:00:00Z"  # still 09:00 local, now UTC+1


def test_timed_daily_across_the_dst_night_and_the_spring_change(berlin):
    saturday = dates.parse_when("2026-10-24T09:00")
    assert utc(dates.next_occurrence("FREQ=DAILY", saturday)) == "2026-10-25T08:00:00Z"
    spring = dates.parse_when("2027-03-27T09:00")
    assert utc(dates.next_occurrence("FREQ=DAILY", spring)) == "2027-03-28T07:00:00Z"


def test_timed_monthly_with_anchor_keeps_day_and_time(berlin):
    anchor = dates.parse_when("2027-01-31T18:00")
    feb = dates.next_occurrence("FREQ=MONTHLY", anchor, anchor)
    mar = dates.next_occurrence("FREQ=MONTHLY", feb, anchor)
    assert [dates.format_local(x) for x in (feb, mar)] == ["2027-02-28 18:00", "2027-03-31 18:00"]
    assert utc(mar) == "2027-03-31T16:00:00Z"  # CEST from 2027-03-28


def test_next_occurrence_keeps_the_type_of_the_previous_due():
    assert type(dates.next_occurrence("FREQ=WEEKLY", date(2026, 11, 22))) is date
    timed = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    result = dates.next_occurrence("FREQ=WEEKLY", timed)
    assert isinstance(result, datetime) and utc(result) == "2026-11-29T09:00:00Z"


# --- through the CLI -------------------------------------------------------------------

def test_an_ambiguous_date_on_the_command_line_is_one_line_and_writes_nothing(
        crm, db_path, snapshot):
    crm("add", "Acme")
    before = snapshot(db_path)
    result = crm("followup", "Acme", "01/02/2026", "Call", ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "crm: error: '01/02/2026' is ambiguous (2026-01-02 or 2026-02-01); use YYYY-MM-DD")
    assert snapshot(db_path) == before


def test_word_forms_schedule_follow_ups_on_the_expected_day(crm):
    crm("add", "Acme")
    crm("followup", "Acme", "fri", "Send quote")
    result = crm("followup", "Acme", "eom", "Invoice", "--every", "monthly on the last day")
    assert result.stderr.strip() == ("follow-up 2 for client 1 Acme due 2026-11-30, "
                                     "repeats every month on the last day")
    rows = crm.json("followups")
    assert [(r["note"], r["due"]) for r in rows] == [("Send quote", "2026-11-27"),
                                                     ("Invoice", "2026-11-30")]
    crm("done", "2")
    assert [r["due"] for r in crm.json("followups")] == ["2026-11-27", "2026-12-31"]
