"""Dates and times: the WHEN grammar, durations, recurrence rules, "now" and the local zone.

- ``now()`` honours ``$CRM_NOW`` (an ISO date or datetime; naive = the configured zone) and
  is returned in the configured zone (``set_timezone``; default: the system zone).
- Instants are stored as UTC ``YYYY-MM-DDTHH:MM:SSZ`` (``to_utc_iso`` / ``from_utc_iso``) and
  shown as local ``YYYY-MM-DD HH:MM`` (``format_local``).
- ``parse_when`` reads the WHEN grammar (see ``WHEN_FORMS`` and the README's Dates section) and
  returns a ``date``, or an aware ``datetime`` when the text includes a time of day.
- ``parse_every`` turns ``--every`` text into an RRULE string (no ``RRULE:`` prefix);
  ``next_occurrence`` steps a series, clamping monthly/yearly rules to the month end through
  the series' anchor (Jan 31 -> Feb 28 -> Mar 31) and keeping the local wall-clock time of
  timed series across DST changes.

Every user mistake raises ``DateError`` (a ``ValueError``) with a one-line message.
``dateutil.parser`` is slow to import and is only imported for texts that the built-in
grammar does not cover.
"""

from __future__ import annotations

import calendar
import os
import re
import warnings
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from crmcli.errors import DateError

WHEN_FORMS = ("YYYY-MM-DD[ HH:MM], today, tomorrow, yesterday, a weekday, "
              "+3d, 2w, 1m, 1y, -2d, eow or eom")
EVERY_FORMS = ("daily, weekly, monthly, yearly, quarterly, weekdays, 2w, every 2 weeks, "
               "weekly on mon,thu, monthly on the 15th, every monday, "
               "or an RRULE such as FREQ=WEEKLY;BYDAY=MO")
DURATION_FORMS = "3d, 2w, 1m, 1y, +3d, -2d, 3 days, 2 weeks, 1 month"

MAX_TEXT = 100
MIN_YEAR, MAX_YEAR = 1900, 2200

# --- zone and clock ------------------------------------------------------------------

_tz: tzinfo | None = None
_system: tuple[str | None, tzinfo] | None = None


def set_timezone(name: str | None) -> None:
    """Use the IANA zone `name` for "today" and displayed times (None/"": the system zone)."""
    global _tz
    if name is None or str(name).strip() == "":
        _tz = None
        return
    text = str(name).strip()
    try:
        _tz = ZoneInfo(text)
    except (ValueError, KeyError, OSError):
        raise DateError(f"unknown time zone {text!r}; use an IANA name such as "
                        "Europe/Berlin or UTC") from None


def _system_zone() -> tzinfo:
    """The machine's zone: $TZ if it names an IANA zone, /etc/localtime, else dateutil's."""
    global _system
    env = os.environ.get("TZ")
    if _system is not None and _system[0] == env:
        return _system[1]
    found: tzinfo | None = None
    for candidate in (env.lstrip(":") if env else None, _localtime_name()):
        if candidate:
            try:
                found = ZoneInfo(candidate)
                break
            except (ValueError, KeyError, OSError):
                continue
    if found is None:
        from dateutil.tz import tzlocal

        found = tzlocal()
    _system = (env, found)
    return found


def _localtime_name() -> str | None:
    try:
        target = os.path.realpath("/etc/localtime")
    except OSError:
        return None
    marker = "zoneinfo/"
    i = target.find(marker)
    return target[i + len(marker):] if i >= 0 else None


def zone() -> tzinfo:
    """The configured zone (the system zone when none is configured)."""
    return _tz if _tz is not None else _system_zone()


def now() -> datetime:
    """The current instant, aware, in the configured zone; $CRM_NOW overrides the clock."""
    pinned = os.environ.get("CRM_NOW", "").strip()
    if pinned:
        try:
            moment = datetime.fromisoformat(pinned)
        except ValueError:
            raise DateError(f"CRM_NOW is not an ISO date or datetime: {pinned!r}") from None
        if moment.tzinfo is None:
            return _wall(moment)
        return moment.astimezone(zone())
    return datetime.now(UTC).astimezone(zone())


def today() -> date:
    """Today's date in the configured zone."""
    return now().date()


def local(dt: datetime) -> datetime:
    """`dt` in the configured zone (a naive datetime is taken as local wall-clock time).

    An instant at the very edge of the calendar (year 1 or 9999, stored before every path
    checked years) that the zone's offset would push off it stays in UTC, so that reading
    it never fails."""
    try:
        if dt.tzinfo is None:
            return _wall(dt)
        return dt.astimezone(zone())
    except OverflowError:
        return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _wall(naive: datetime) -> datetime:
    """A naive local wall-clock time made aware in the configured zone.

    A time that does not exist (inside a spring-forward gap) moves forward by the gap,
    so that the result converts to UTC and back unchanged.
    """
    aware = naive.replace(tzinfo=zone())
    try:
        return aware.astimezone(UTC).astimezone(zone())
    except OverflowError:
        return aware


def to_utc_iso(dt: datetime) -> str:
    """'YYYY-MM-DDTHH:MM:SSZ' for an instant (a naive datetime is local wall-clock time)."""
    if not isinstance(dt, datetime):
        raise TypeError(f"to_utc_iso needs a datetime, not {type(dt).__name__}")
    return local(dt).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_utc_iso(s: str | datetime) -> datetime:
    """An aware UTC datetime from stored text ('...Z', or any ISO datetime; naive = UTC)."""
    if isinstance(s, datetime):
        return (s if s.tzinfo else s.replace(tzinfo=UTC)).astimezone(UTC)
    text = str(s).strip()
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DateError(f"not a timestamp: {text!r} (expected YYYY-MM-DDTHH:MM:SSZ)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_local(value: datetime | str | date | None) -> str:
    """'YYYY-MM-DD HH:MM' in the configured zone for an instant or stored UTC text.

    A plain date gives 'YYYY-MM-DD'; None gives ''.
    """
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = from_utc_iso(value)
    elif not isinstance(value, datetime):
        return value.isoformat()
    return local(value).strftime("%Y-%m-%d %H:%M")


def local_date_of(iso: str, tz: tzinfo | None = None) -> date:
    """The local calendar date of a stored UTC timestamp ('YYYY-MM-DD' is taken as is).

    Called once per row by `crm due` and the metrics on large books: pass tz=zone() to look
    the zone up once."""
    text = str(iso).strip()
    if len(text) == 10:
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = from_utc_iso(text)  # the error names what was expected
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz or zone()).date()


# --- durations -----------------------------------------------------------------------

_UNITS = {
    "d": "d", "day": "d", "days": "d",
    "w": "w", "wk": "w", "wks": "w", "week": "w", "weeks": "w",
    "m": "m", "mo": "m", "mos": "m", "month": "m", "months": "m",
    "y": "y", "yr": "y", "yrs": "y", "year": "y", "years": "y",
}
_CLOCK_UNITS = {
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "min": "min", "mins": "min", "minute": "min", "minutes": "min",
}
_DURATION = re.compile(r"([+-])?\s*(\d{1,6})\s*([a-z]+)", re.ASCII)


def _delta(n: int, unit: str) -> relativedelta:
    return {"d": relativedelta(days=n), "w": relativedelta(weeks=n),
            "m": relativedelta(months=n), "y": relativedelta(years=n),
            "h": relativedelta(hours=n), "min": relativedelta(minutes=n)}[unit]


def parse_duration(text: str) -> relativedelta:
    """A calendar interval: '3d', '2w', '1m', '1y', '+3d', '-2d', '3 days', '2 weeks'..."""
    shown = _clean(text, "duration")
    m = _DURATION.fullmatch(shown.lower())
    unit = _UNITS.get(m.group(3)) if m else None
    if not m or unit is None:
        raise DateError(f"cannot read {shown!r} as a duration; use {DURATION_FORMS}")
    n = int(m.group(2))
    return _delta(-n if m.group(1) == "-" else n, unit)


def duration_days(rd: relativedelta) -> int:
    """Days an interval spans from 2000-01-01 (so 1m = 31, 1y = 366, 2w = 14)."""
    start = date(2000, 1, 1)
    return ((start + rd) - start).days


# --- WHEN ----------------------------------------------------------------------------

_WEEKDAYS = {
    "monday": 0, "mon": 0,
    "tuesday": 1, "tues": 1, "tue": 1,
    "wednesday": 2, "wed": 2,
    "thursday": 3, "thurs": 3, "thur": 3, "thu": 3,
    "friday": 4, "fri": 4,
    "saturday": 5, "sat": 5,
    "sunday": 6, "sun": 6,
}


def weekday_number(word: str) -> int | None:
    """0 (Monday) to 6 for a weekday's name or abbreviation in lower case; None otherwise."""
    return _WEEKDAYS.get(word)


_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKDAY_WORD = re.compile(r"\b(" + "|".join(sorted(_WEEKDAYS, key=len, reverse=True))
                           + r")\b", re.ASCII)
_TIME = (r"(?P<h>\d{1,2})(?::(?P<mi>\d{2})(?::(?P<s>\d{2}))?)?"
         r"\s*(?P<ap>am|pm|a\.m\.|p\.m\.)?")
_TIME_ONLY = re.compile(_TIME, re.ASCII)
_WITH_TIME = re.compile(r"(?P<head>.+?)\s+(?:at\s+)?" + _TIME, re.ASCII)
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[t ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?"
                           r"(z|[+-]\d{2}(:?\d{2})?)?", re.ASCII)
_NUMERIC_DATE = re.compile(r"(\d{1,4})([/.-])(\d{1,2})(?:\2(\d{1,4}))?", re.ASCII)
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})", re.ASCII)
_RELATIVE = re.compile(r"(?:(in)\s+)?([+-])?\s*(\d{1,6})\s*([a-z]+)(?:\s+(ago))?", re.ASCII)
_WEEKDAY_FORM = re.compile(r"(?:(next|last)\s+)?([a-z]+)", re.ASCII)


def _clean(text, what: str = "date") -> str:
    """Stripped text with runs of white space collapsed; DateError for unusable input."""
    if not isinstance(text, str):
        raise DateError(f"a {what} must be text, not {type(text).__name__}")
    if "\x00" in text:
        raise DateError(f"the {what} contains a NUL byte")
    shown = " ".join(text.split())
    if not shown:
        raise DateError(f"empty {what}; use {WHEN_FORMS if what == 'date' else _forms(what)}")
    if len(shown) > MAX_TEXT:
        raise DateError(f"the {what} is too long ({len(shown)} characters; "
                        f"at most {MAX_TEXT}): {shown[:30]!r}...")
    return shown


def _forms(what: str) -> str:
    return {"duration": DURATION_FORMS, "recurrence": EVERY_FORMS}.get(what, WHEN_FORMS)


def _unreadable(shown: str) -> DateError:
    return DateError(f"cannot read {shown!r} as a date; use {WHEN_FORMS}")


def _out_of_range(shown: str) -> DateError:
    return DateError(f"{shown!r} is out of range: use a year from {MIN_YEAR} to {MAX_YEAR}")


def is_day(text: str) -> bool:
    """Whether `text` is a real 'YYYY-MM-DD' of a year crm accepts (MIN_YEAR to MAX_YEAR):
    the one check of a stored date, on every path that writes one."""
    if len(text) != 10 or not text[:4].isdigit() or not MIN_YEAR <= int(text[:4]) <= MAX_YEAR:
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return text[4] == "-" and text[7] == "-"


def _make_date(shown: str, y: int, m: int, d: int) -> date:
    if not MIN_YEAR <= y <= MAX_YEAR:
        raise _out_of_range(shown)
    if not 1 <= m <= 12:
        raise DateError(f"{shown!r} is not a real date: there is no month {m}")
    last = calendar.monthrange(y, m)[1]
    if not 1 <= d <= last:
        raise DateError(f"{shown!r} is not a real date: {calendar.month_name[m]} {y} "
                        f"has {last} days")
    return date(y, m, d)


def _time_of(shown: str, m: re.Match) -> time | None:
    """The time of a _TIME match; None when it is a bare number (no ':' and no am/pm)."""
    h, mi, s, ap = m.group("h"), m.group("mi"), m.group("s"), m.group("ap")
    if mi is None and ap is None:
        return None
    hour, minute, second = int(h), int(mi or 0), int(s or 0)
    if ap:
        if not 1 <= hour <= 12:
            raise DateError(f"{shown!r} has an impossible time: {hour} {ap}")
        hour = hour % 12 + (12 if ap.startswith("p") else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise DateError(f"{shown!r} has an impossible time of day")
    return time(hour, minute, second)


def parse_when(text: str | date) -> date | datetime:
    """A due date or moment: a `date`, or an aware `datetime` when the text has a time."""
    if isinstance(text, datetime):
        return local(text)
    if isinstance(text, date):
        return text
    shown = _clean(text)
    try:
        result = _parse_when(shown)
    except DateError:
        raise
    except (OverflowError, ValueError):
        raise _out_of_range(shown) from None
    if not MIN_YEAR <= result.year <= MAX_YEAR:
        raise _out_of_range(shown)
    return result


def _parse_when(shown: str) -> date | datetime:
    t = shown.lower()
    found = _builtin(shown, t)
    if found is not None:
        return found
    m = _TIME_ONLY.fullmatch(t)
    if m:
        clock = _time_of(shown, m)
        if clock is not None:
            return _wall(datetime.combine(today(), clock))
    m = _WITH_TIME.fullmatch(t)
    if m:
        clock = _time_of(shown, m)
        head = _builtin(shown, m.group("head")) if clock is not None else None
        if isinstance(head, datetime):
            raise _unreadable(shown)
        if head is not None:
            return _wall(datetime.combine(head, clock))
    if not re.search(r"[a-z]", t):
        raise _unreadable(shown)
    return _fallback(shown)


def _builtin(shown: str, t: str) -> date | datetime | None:
    """The built-in grammar (no time suffix); None when `t` is not one of its forms."""
    day = today()
    words = {
        "today": lambda: day,
        "tomorrow": lambda: day + timedelta(days=1),
        "yesterday": lambda: day - timedelta(days=1),
        "now": lambda: now(),
        "eow": lambda: day + timedelta(days=6 - day.weekday()),
        "sow": lambda: day - timedelta(days=day.weekday()),
        "eom": lambda: day.replace(day=calendar.monthrange(day.year, day.month)[1]),
        "som": lambda: day.replace(day=1),
        "eoy": lambda: day.replace(month=12, day=31),
        "soy": lambda: day.replace(month=1, day=1),
    }
    if t in words:
        return words[t]()
    m = _WEEKDAY_FORM.fullmatch(t)
    if m and m.group(2) in _WEEKDAYS:
        target = _WEEKDAYS[m.group(2)]
        if m.group(1) == "last":
            return day - timedelta(days=(day.weekday() - target - 1) % 7 + 1)
        return day + timedelta(days=(target - day.weekday() - 1) % 7 + 1)
    m = _RELATIVE.fullmatch(t)
    if m:
        into, sign, n, unit, ago = m.groups()
        if (into and ago) or (sign and (into or ago)):
            return None
        if unit in _CLOCK_UNITS:
            amount = int(n) * (-1 if sign == "-" or ago else 1)
            return now() + _delta(amount, _CLOCK_UNITS[unit])
        if unit in _UNITS:
            amount = int(n) * (-1 if sign == "-" or ago else 1)
            return day + _delta(amount, _UNITS[unit])
        return None
    m = _ISO_DATE.fullmatch(t)
    if m:
        return _make_date(shown, *map(int, m.groups()))
    if _ISO_DATETIME.fullmatch(t):
        _make_date(shown, int(t[:4]), int(t[5:7]), int(t[8:10]))
        try:
            moment = datetime.fromisoformat(t.upper())
        except ValueError:
            raise DateError(f"{shown!r} has an impossible time of day") from None
        if moment.tzinfo is None:
            return _wall(moment)
        return moment.astimezone(zone())
    m = _COMPACT_DATE.fullmatch(t)
    if m:
        return _make_date(shown, *map(int, m.groups()))
    m = _NUMERIC_DATE.fullmatch(t)
    if m:
        return _numeric_date(shown, m)
    return None


def _numeric_date(shown: str, m: re.Match) -> date:
    """2026/12/05 (year first), 12/25/2026 or 25.12.2026 (one valid reading), 12/25."""
    a, _, b, c = m.groups()
    if len(a) >= 3:
        if c is None or len(c) > 2:
            raise DateError(f"{shown!r} has no day; use YYYY-MM-DD")
        return _make_date(shown, int(a), int(b), int(c))
    if c is not None and len(c) <= 2:
        raise DateError(f"{shown!r} has a two-digit year, which is ambiguous; use YYYY-MM-DD")
    year = int(c) if c is not None else today().year
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise _out_of_range(shown)
    readings = []
    for month, day in ((int(a), int(b)), (int(b), int(a))):
        try:
            readings.append(_make_date(shown, year, month, day))
        except DateError:
            continue
    readings = sorted(set(readings))
    if not readings:
        raise DateError(f"{shown!r} is not a real date (neither day/month nor month/day)")
    if len(readings) > 1:
        raise DateError(f"{shown!r} is ambiguous ({readings[0]} or {readings[1]}); "
                        "use YYYY-MM-DD")
    return readings[0]


def _fallback(shown: str) -> date | datetime:
    """Unambiguous dateutil forms such as '5 Dec 2026', 'Dec 5', 'December 5th 2026 9am'.

    A missing year is the current year (of `today()`); a missing month or day, an unknown
    zone name, or two different readings (day-first or month-first) are errors.
    """
    from dateutil import parser

    year = today().year
    first, second = datetime(year, 1, 1, 0, 0, 0), datetime(year, 2, 2, 1, 0, 0)
    readings: list[tuple[datetime, datetime]] = []
    problem: DateError | None = None
    for dayfirst in (False, True):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                readings.append((parser.parse(shown, default=first, dayfirst=dayfirst),
                                 parser.parse(shown, default=second, dayfirst=dayfirst)))
        except parser.UnknownTimezoneWarning:
            problem = problem or DateError(f"{shown!r} names a time zone that is not "
                                           "understood; use an offset such as +01:00")
        except Exception as exc:  # noqa: BLE001 - any failure of the parser means unreadable
            message = str(exc)
            if "out of range for month" in message or "must be in" in message:
                assumed = "" if re.search(r"\d{4}", shown) else f" (no year given: {year})"
                problem = problem or DateError(f"{shown!r} is not a real date or time{assumed}")
            elif re.search(r"year \d+ is out of range", message):
                problem = problem or _out_of_range(shown)
            else:
                problem = problem or _unreadable(shown)
    if not readings:
        raise problem or _unreadable(shown)
    distinct = sorted({a for a, _ in readings}, key=lambda d: d.replace(tzinfo=None))
    if len(distinct) > 1:
        raise DateError(f"{shown!r} is ambiguous ({distinct[0].date()} or "
                        f"{distinct[1].date()}); use YYYY-MM-DD")
    a, b = readings[0]
    if a.month != b.month:
        raise DateError(f"{shown!r} has no month; use YYYY-MM-DD")
    if a.day != b.day:
        raise DateError(f"{shown!r} has no day; use YYYY-MM-DD")
    if not MIN_YEAR <= a.year <= MAX_YEAR:
        raise _out_of_range(shown)
    named = _WEEKDAY_WORD.search(shown.lower())
    if named and _WEEKDAYS[named.group(1)] != a.weekday():
        raise DateError(f"{shown!r} does not agree with itself: {a.date()} is a "
                        f"{_DAY_NAMES[a.weekday()]}, not a {_DAY_NAMES[_WEEKDAYS[named.group(1)]]}")
    if a.hour != b.hour:
        return a.date()
    if a.tzinfo is None:
        return _wall(a)
    return a.astimezone(zone())


def parse_at(text: str) -> datetime:
    """An instant for --at: a date alone means now when it is today, else 12:00 local."""
    when = parse_when(text)
    if isinstance(when, datetime):
        return when
    if when == today():
        return now()
    return _wall(datetime.combine(when, time(12, 0)))


# --- recurrence ----------------------------------------------------------------------

_FREQ_OF = {"d": "DAILY", "w": "WEEKLY", "m": "MONTHLY", "y": "YEARLY"}
_BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_WORKDAYS = "MO,TU,WE,TH,FR"
_SIMPLE_EVERY = {
    "daily": "FREQ=DAILY", "every day": "FREQ=DAILY",
    "weekly": "FREQ=WEEKLY", "every week": "FREQ=WEEKLY",
    "fortnightly": "FREQ=WEEKLY;INTERVAL=2",
    "monthly": "FREQ=MONTHLY", "every month": "FREQ=MONTHLY",
    "quarterly": "FREQ=MONTHLY;INTERVAL=3",
    "yearly": "FREQ=YEARLY", "annually": "FREQ=YEARLY", "every year": "FREQ=YEARLY",
    "weekdays": f"FREQ=WEEKLY;BYDAY={_WORKDAYS}",
    "every weekday": f"FREQ=WEEKLY;BYDAY={_WORKDAYS}",
}
_EVERY_N = re.compile(r"(?:every\s+)?(\d{1,4})\s*([a-z]+)", re.ASCII)
_EVERY_WEEKLY_ON = re.compile(
    r"(?:weekly|every\s+week|every\s+(\d{1,4})\s+weeks|(\d{1,4})\s*w)\s+on\s+(.+)", re.ASCII)
_EVERY_DAYS = re.compile(r"every\s+(.+)", re.ASCII)
_EVERY_MONTHLY_ON = re.compile(
    r"(?:monthly|every\s+month|every\s+(\d{1,4})\s+months|(\d{1,4})\s*m)\s+on\s+(?:the\s+)?"
    r"(?:(last)(?:\s+day)?|(?:day\s+)?(\d{1,2})(?:st|nd|rd|th)?)", re.ASCII)


def _day_list(text: str) -> list[str] | None:
    """'mon,thu' / 'monday and thursday' -> ['MO', 'TH'] (week order); None if not days."""
    names = [w for w in re.split(r"\s*(?:,|/|&|\band\b|\s)\s*", text) if w]
    if not names or any(w not in _WEEKDAYS for w in names):
        return None
    return [_BYDAY[i] for i in sorted({_WEEKDAYS[w] for w in names})]


def _rule(freq: str, interval: int = 1, **extra: str) -> str:
    parts = [f"FREQ={freq}"]
    if interval != 1:
        parts.append(f"INTERVAL={interval}")
    parts += [f"{k}={v}" for k, v in extra.items()]
    return ";".join(parts)


def parse_every(text: str) -> str:
    """An --every RULE as an RRULE string without the 'RRULE:' prefix."""
    shown = _clean(text, "recurrence")
    t = shown.lower()
    rule = _every_rule(shown, t)
    if rule is None:
        raise DateError(f"cannot read {shown!r} as a recurrence; use {EVERY_FORMS}")
    _validate_rule(shown, rule)
    return rule


def _every_rule(shown: str, t: str) -> str | None:
    if t in _SIMPLE_EVERY:
        return _SIMPLE_EVERY[t]
    upper = shown.upper().replace(" ", "")
    if upper.startswith("RRULE:"):
        upper = upper[len("RRULE:"):]
    if upper.startswith("FREQ="):
        return re.sub(r"(UNTIL=\d{8}(?:T\d{6})?)Z", r"\1", upper)
    m = _EVERY_N.fullmatch(t)
    if m and m.group(2) in _UNITS:
        n = int(m.group(1))
        if n < 1:
            raise DateError(f"{shown!r}: a recurrence needs an interval of at least 1")
        return _rule(_FREQ_OF[_UNITS[m.group(2)]], n)
    m = _EVERY_WEEKLY_ON.fullmatch(t)
    if m:
        days = _day_list(m.group(3))
        n = int(m.group(1) or m.group(2) or 1)
        if days is None or n < 1:
            return None
        return _rule("WEEKLY", n, BYDAY=",".join(days))
    m = _EVERY_MONTHLY_ON.fullmatch(t)
    if m:
        n = int(m.group(1) or m.group(2) or 1)
        day = -1 if m.group(3) else int(m.group(4))
        if n < 1 or not (day == -1 or 1 <= day <= 31):
            raise DateError(f"{shown!r}: the day of the month must be 1 to 31 or 'last'")
        return _rule("MONTHLY", n, BYMONTHDAY=str(day))
    m = _EVERY_DAYS.fullmatch(t)
    if m:
        days = _day_list(m.group(1))
        if days is not None:
            return _rule("WEEKLY", BYDAY=",".join(days))
    return None


# The parts a stored rule may have, each with the values it may take. Anything else (a
# time of day, BYEASTER, an ATTACH smuggled in after a line break, WKST=ZZ, BYSETPOS=400)
# is refused on every path, so that no stored rule can make `crm done`, `crm show`, the ICS
# export or the cron digest fail later.
_WEEKDAY = "(?:MO|TU|WE|TH|FR|SA|SU)"
_RULE_PARTS = {
    "FREQ": re.compile(r"DAILY|WEEKLY|MONTHLY|YEARLY"),
    "INTERVAL": re.compile(r"[1-9]\d{0,2}|1000"),
    "COUNT": re.compile(r"[1-9]\d{0,3}"),
    "UNTIL": re.compile(r"\d{8}(?:T\d{6})?"),
    "WKST": re.compile(_WEEKDAY),
    "BYDAY": re.compile(rf"(?:[+-]?(?:[1-9]|[1-4]\d|5[0-3]))?{_WEEKDAY}"),
    "BYMONTHDAY": re.compile(r"-?(?:[1-9]|[12]\d|3[01])"),
    "BYMONTH": re.compile(r"[1-9]|1[0-2]"),
    "BYWEEKNO": re.compile(r"-?(?:[1-9]|[1-4]\d|5[0-3])"),
    "BYYEARDAY": re.compile(r"-?(?:[1-9]\d{0,1}|[12]\d\d|3[0-5]\d|36[0-6])"),
    "BYSETPOS": re.compile(r"-?(?:[1-9]\d{0,1}|[12]\d\d|3[0-5]\d|36[0-6])"),
}
_LIST_PARTS = {"BYDAY", "BYMONTHDAY", "BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYSETPOS"}
_RULE_LIMITS = {
    "FREQ": "DAILY, WEEKLY, MONTHLY or YEARLY", "INTERVAL": "a whole number from 1 to 1000",
    "COUNT": "a whole number from 1 to 9999", "UNTIL": "a date YYYYMMDD[THHMMSS]",
    "WKST": "a weekday MO to SU", "BYDAY": "weekdays MO to SU, optionally numbered (2MO, -1FR)",
    "BYMONTHDAY": "days 1 to 31 or -31 to -1", "BYMONTH": "months 1 to 12",
    "BYWEEKNO": "weeks 1 to 53 or -53 to -1", "BYYEARDAY": "days 1 to 366 or -366 to -1",
    "BYSETPOS": "positions 1 to 366 or -366 to -1"}


def _validate_rule(shown: str, rule: str) -> None:
    from dateutil.rrule import rrulestr

    parts = _parts(rule)
    if parts is None or "DTSTART" in parts:
        raise DateError(f"{shown!r} is not a valid recurrence rule; use {EVERY_FORMS}")
    if parts.get("FREQ") not in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY"):
        raise DateError(f"{shown!r}: follow-ups repeat daily, weekly, monthly or yearly "
                        "(FREQ=DAILY|WEEKLY|MONTHLY|YEARLY)")
    for key, value in parts.items():
        pattern = _RULE_PARTS.get(key)
        if pattern is None:
            raise DateError(f"{shown!r} is not a valid recurrence rule: {key} is not "
                            f"supported in a follow-up's rule (use "
                            f"{', '.join(_RULE_PARTS)})")
        values = value.split(",") if key in _LIST_PARTS else [value]
        if not all(pattern.fullmatch(v) for v in values):
            raise DateError(f"{shown!r} is not a valid recurrence rule: {key}={value} is out "
                            f"of range ({key} takes "
                            f"{_RULE_LIMITS[key]})")
    if "COUNT" in parts and "UNTIL" in parts:
        raise DateError(f"{shown!r}: a rule has COUNT or UNTIL, not both")
    until = parts.get("UNTIL")
    if until is not None:
        try:
            moment = _until(parts)
        except ValueError:
            raise DateError(f"{shown!r}: UNTIL={until} is not a real date") from None
        if not MIN_YEAR <= moment.year <= MAX_YEAR:
            raise DateError(f"{shown!r}: UNTIL={until} is out of range: use a year from "
                            f"{MIN_YEAR} to {MAX_YEAR}")
    start = datetime(2000, 1, 1)
    try:
        series = rrulestr("RRULE:" + rule, dtstart=start)
        probe = series.replace(count=None, until=start + relativedelta(years=8))
        first = probe.after(start, inc=True)
    except Exception as exc:  # noqa: BLE001 - dateutil raises several types for bad rules
        raise DateError(f"{shown!r} is not a valid recurrence rule ({exc})") from None
    if first is None:
        raise DateError(f"{shown!r} never happens")


def usable_rule(rule: object) -> str | None:
    """A stored rule as `parse_every` would have stored it, or None when it is not one that
    `parse_every` accepts (a row written before every path checked its rule): readers then
    treat the follow-up as not repeating instead of failing."""
    if not isinstance(rule, str) or not rule.strip():
        return None
    try:
        return parse_every(rule)
    except DateError:
        return None


def _parts(rule: str) -> dict[str, str] | None:
    text = str(rule).strip().upper()
    if text.startswith("RRULE:"):
        text = text[len("RRULE:"):]
    if not text or any(c in text for c in "\r\n"):
        return None
    parts: dict[str, str] = {}
    for piece in text.split(";"):
        key, sep, value = piece.partition("=")
        if not sep or not key or not value or key in parts:
            return None
        parts[key] = value
    return parts


def _interval(parts: dict[str, str]) -> int:
    try:
        return max(1, int(parts.get("INTERVAL", "1")))
    except ValueError:
        return 1


def describe_every(rule: str) -> str:
    """Human text for a rule: 'weekly', 'every 2 weeks', 'weekly on Monday', ...

    Rules this module does not produce come back as they are.
    """
    parts = _parts(rule) if rule else None
    if not parts:
        return str(rule)
    limits = ""
    if "COUNT" in parts:
        limits += f", {parts.pop('COUNT')} times"
    if "UNTIL" in parts:
        until = parts.pop("UNTIL")
        if not re.fullmatch(r"\d{8}(T\d{6}Z?)?", until):
            return str(rule)
        limits += f" until {until[:4]}-{until[4:6]}-{until[6:8]}"
    text = _describe(parts)
    return str(rule) if text is None else text + limits


def _describe(parts: dict[str, str]) -> str | None:
    if not set(parts) <= {"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "WKST"}:
        return None
    freq, n = parts.get("FREQ"), _interval(parts)
    units = {"DAILY": ("daily", "day"), "WEEKLY": ("weekly", "week"),
             "MONTHLY": ("monthly", "month"), "YEARLY": ("yearly", "year")}
    if freq not in units:
        return None
    adverb, unit = units[freq]
    byday, bymonthday = parts.get("BYDAY"), parts.get("BYMONTHDAY")
    if byday:
        days = byday.split(",")
        if freq != "WEEKLY" or bymonthday or any(d not in _BYDAY for d in days):
            return None
        if n == 1 and sorted(days, key=_BYDAY.index) == _WORKDAYS.split(","):
            return "every weekday"
        names = [_DAY_NAMES[_BYDAY.index(d)] for d in sorted(set(days), key=_BYDAY.index)]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"{adverb if n == 1 else f'every {n} weeks'} on {listed}"
    if bymonthday:
        if freq != "MONTHLY" or not re.fullmatch(r"-1|\d{1,2}", bymonthday):
            return None
        which = "the last day" if bymonthday == "-1" else f"day {int(bymonthday)}"
        return f"every {'month' if n == 1 else f'{n} months'} on {which}"
    if n == 1:
        return adverb
    if freq == "MONTHLY" and n == 3:
        return "quarterly"
    return f"every {n} {unit}s"


def _naive_local(value: date | datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        return local(value).replace(tzinfo=None)
    return datetime.combine(value, time(0, 0))


def _clampable(parts: dict[str, str]) -> bool:
    """Plain monthly/yearly series (optionally monthly on one day) that clamp to month end."""
    freq = parts.get("FREQ")
    rest = set(parts) - {"FREQ", "INTERVAL", "WKST", "UNTIL", "COUNT"}
    if freq == "YEARLY":
        return not rest
    if freq == "MONTHLY":
        return not rest or (rest == {"BYMONTHDAY"}
                            and re.fullmatch(r"-1|[1-9]|[12]\d|3[01]", parts["BYMONTHDAY"]))
    return False


def _until(parts: dict[str, str]) -> datetime | None:
    value = parts.get("UNTIL")
    if not value:
        return None
    value = value.rstrip("Z")
    return datetime.strptime(value, "%Y%m%dT%H%M%S" if "T" in value else "%Y%m%d")


def _clamped_next(parts: dict[str, str], anchor: datetime, previous: datetime
                  ) -> datetime | None:
    step = _interval(parts) * (1 if parts["FREQ"] == "MONTHLY" else 12)
    wanted = int(parts.get("BYMONTHDAY", anchor.day))
    until = _until(parts)
    count = int(parts["COUNT"]) if "COUNT" in parts else None
    base = anchor.year * 12 + anchor.month - 1

    def candidate(n: int) -> datetime | None:
        y, m0 = divmod(base + n * step, 12)
        if y > 9999:
            return None
        last = calendar.monthrange(y, m0 + 1)[1]
        day = last if wanted == -1 else min(wanted, last)
        return anchor.replace(year=y, month=m0 + 1, day=day)

    skipped_first = candidate(0) < anchor
    behind = (previous.year * 12 + previous.month - 1) - base
    n = max(0, behind // step - 1)
    while True:
        c = candidate(n)
        if c is None:
            return None
        if c > previous and c >= anchor:
            if until is not None and c > until:
                return None
            if count is not None and n + 1 - skipped_first > count:
                return None
            return c
        n += 1


def next_occurrence(rule: str, previous_due: date | datetime,
                    anchor: date | datetime | str | None = None) -> date | datetime | None:
    """The first occurrence of `rule` after `previous_due`, of the same type.

    The series starts at `anchor` (its first due; default `previous_due`). Monthly and
    yearly series keep the anchor's day and clamp it to the month end (Jan 31, Feb 28,
    Mar 31); a timed series keeps its local wall-clock time across DST changes.
    None when the rule has no further dates (UNTIL/COUNT).
    """
    parts = _parts(rule)
    if parts is None or "FREQ" not in parts:
        raise DateError(f"not a recurrence rule: {rule!r}")
    timed = isinstance(previous_due, datetime)
    previous = _naive_local(previous_due)
    if anchor is None:
        anchor = previous_due
    start = _naive_local(anchor)
    anchor_has_time = isinstance(anchor, datetime) or (isinstance(anchor, str) and "T" in anchor)
    if not timed:
        start = datetime.combine(start.date(), time(0, 0))
    elif not anchor_has_time:
        start = datetime.combine(start.date(), previous.time())
    try:
        if _clampable(parts):
            found = _clamped_next(parts, start, previous)
        else:
            from dateutil.rrule import rrulestr

            body = ";".join(f"{k}={v}" for k, v in parts.items())
            found = rrulestr("RRULE:" + body, dtstart=start).after(previous)
    except (ValueError, OverflowError, TypeError) as exc:
        raise DateError(f"cannot step the recurrence {rule!r} ({exc})") from None
    if found is None or found.year > MAX_YEAR:
        return None  # a series ends where the dates crm accepts end
    try:
        return _wall(found) if timed else found.date()
    except OverflowError:
        return None
