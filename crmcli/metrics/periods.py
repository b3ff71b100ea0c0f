"""Calendar periods (month, quarter, year) in the configured time zone.

A period is identified by an absolute index: the number of whole periods since
year 0 (month: year*12 + month-1; quarter: that // 3; year: the year). Indexes
make "the previous period" (idx - 1) and "k periods after the cohort"
(cohort + k) plain arithmetic, in Python and in SQL alike.

Periods start at local midnight on their first day; `bounds` turns a run of
periods into UTC instants (as stored in the database), so a deal at 23:30 on
31 January in Tokyo falls in January even though it is stored as a UTC time
on 31 January 14:30, and daylight-saving changes are respected.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from crmcli import dates
from crmcli.errors import UsageError

UNITS = ("month", "quarter", "year")
MONTHS = {"month": 1, "quarter": 3, "year": 12}
# How many periods a report shows when --since is not given.
DEFAULT_COUNT = {"month": 12, "quarter": 8, "year": 5}


def check_unit(value: str | None, allowed: tuple[str, ...] = UNITS, option: str = "--period"
               ) -> str:
    text = (value or "").strip().lower()
    if text not in allowed:
        raise UsageError(f"{option} {value!r}: must be one of {', '.join(allowed)}")
    return text


def index_of(day: date, unit: str) -> int:
    """The absolute index of the period that contains day."""
    return (day.year * 12 + day.month - 1) // MONTHS[unit]


def start_of(idx: int, unit: str) -> date:
    months = idx * MONTHS[unit]
    return date(months // 12, months % 12 + 1, 1)


def label(idx: int, unit: str) -> str:
    start = start_of(idx, unit)
    if unit == "month":
        return f"{start.year:04d}-{start.month:02d}"
    if unit == "quarter":
        return f"{start.year:04d}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year:04d}"


def local_midnight_utc(day: date) -> str:
    """The UTC instant (as stored) of local midnight at the start of day."""
    return dates.to_utc_iso(datetime.combine(day, time(0), tzinfo=dates.zone()))


def bounds(first_idx: int, last_idx: int, unit: str) -> list[tuple[int, str, str]]:
    """[(idx, start_utc, end_utc)] for each period first..last (end exclusive)."""
    edges = [local_midnight_utc(start_of(i, unit)) for i in range(first_idx, last_idx + 2)]
    return [(first_idx + n, edges[n], edges[n + 1]) for n in range(last_idx - first_idx + 1)]


@dataclass(frozen=True)
class Window:
    unit: str
    first: int  # index of the first period shown
    last: int   # index of the last period shown (the one containing --until)

    @property
    def indexes(self) -> range:
        return range(self.first, self.last + 1)


def _as_local_date(value, option: str) -> date:
    when = dates.parse_when(value)
    if isinstance(when, datetime):
        return dates.local(when).date()
    return when


def window(unit: str, since: str | None = None, until: str | None = None,
           count: int | None = None) -> Window:
    """The periods a report covers: those containing --since .. --until (WHEN values).

    Without --until the last period is the current one; without --since the
    window is the last `count` periods (DEFAULT_COUNT for the unit)."""
    last_day = _as_local_date(until, "--until") if until else dates.today()
    last = index_of(last_day, unit)
    if since:
        first = index_of(_as_local_date(since, "--since"), unit)
        if first > last:
            raise UsageError(f"--since {since!r} is after --until "
                             f"{until or 'today'!r}")
    else:
        first = last - (count or DEFAULT_COUNT[unit]) + 1
    return Window(unit, first, last)


@dataclass(frozen=True)
class MonthMap:
    """How to find the local month of a stored UTC time with plain SQL arithmetic.

    shift_minutes: a fixed offset that gives the right local month for every time
    except those in `fixes`, the short stretches around month starts where the zone's
    real offset (daylight saving) differs from the fixed one: [(lo_utc, hi_utc,
    'YYYY-MM')], each with the month its times really belong to."""

    shift_minutes: int
    fixes: tuple[tuple[str, str, str], ...]
    end_utc: str  # times at or after this are after the last month mapped


def _ym(month_idx: int) -> str:
    return label(month_idx, "month")


def month_map(first_month: int, last_month: int) -> MonthMap:
    """The MonthMap for months first..last (absolute month indexes), exact in the zone."""
    zone = dates.zone()
    starts = [start_of(i, "month") for i in range(first_month, last_month + 2)]
    offsets = [int(datetime.combine(d, time(0), tzinfo=zone).utcoffset().total_seconds() // 60)
               for d in starts]
    shift = Counter(offsets).most_common(1)[0][0]
    fixes = []
    for n, (day, off) in enumerate(zip(starts, offsets, strict=True)):
        if off == shift:
            continue
        exact = dates.to_utc_iso(datetime.combine(day, time(0), tzinfo=zone))
        approx = dates.to_utc_iso((datetime.combine(day, time(0)) - timedelta(minutes=shift))
                                  .replace(tzinfo=UTC))
        month = first_month + n
        if exact < approx:   # [exact, approx) already belongs to this month
            fixes.append((exact, approx, _ym(month)))
        else:                # [approx, exact) still belongs to the month before
            fixes.append((approx, exact, _ym(month - 1)))
    end = dates.to_utc_iso(datetime.combine(starts[-1], time(0), tzinfo=zone))
    return MonthMap(shift, tuple(fixes), end)


def month_index(ym: str) -> int:
    """'YYYY-MM' -> absolute month index."""
    return int(ym[:4]) * 12 + int(ym[5:7]) - 1


def trim_empty(rows: list[dict], empty) -> list[dict]:
    """rows without the leading and trailing ones for which empty(row) holds (the quiet
    stretch before a book's first activity, or after its last): a report shows the
    periods that have something to say, and the quiet ones between them."""
    lo, hi = 0, len(rows)
    while lo < hi and empty(rows[lo]):
        lo += 1
    while hi > lo and empty(rows[hi - 1]):
        hi -= 1
    return rows[lo:hi]
