"""Response time and complaint handling time.

Response time: for each inbound interaction (direction 'in') of a live client, the time to
the first outbound interaction ('out') with the same client at or after it; an outbound at
the very same second counts (response time 0). Several inbound messages before one reply
each wait for that reply. An inbound with no outbound at or after it is *awaiting reply*.

Not every inbound interaction expects a reply (reply_rule): those of a kind in
response.no_reply_kinds (default: feedback), on a channel in response.no_reply_channels
(default: meeting — the conversation happened there) and, unless response.reply_to_scores,
those carrying a score (a survey answer) are left out of response time, awaiting and SLA.

Complaint handling time (`kind='complaint'`): from a complaint interaction (kind
'complaint', either direction) to its `resolved_at` (`crm resolve`); a complaint without
one is *unresolved*.

Per group: count (answered / resolved), awaiting / unresolved, median and p90 in hours
(numpy's default linear interpolation between closest ranks) and within_sla: the percent
of handled items whose time was at most `response.sla_hours`, counting items still
pending for longer than the SLA as misses (pending items still inside the SLA are not yet
decided and left out): within / (count + pending past the SLA).

The aggregation runs in SQL (crmcli.store.reports_events); this module turns its rows
into report rows.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from fractions import Fraction

from crmcli import dates
from crmcli.errors import UsageError

BY = ("channel", "owner", "month")
KINDS = ("response", "complaint")
# The fields of a report row (after the `by` key when grouped), per kind.
FIELDS = {kind: ["count", pending, "median_hours", "p90_hours", "within_sla", "sla_hours"]
          for kind, pending in (("response", "awaiting"), ("complaint", "unresolved"))}
ALL_TIME = ("", "9999")  # UTC text bounds that hold every stored time


def interpolate(lo: float | None, hi: float | None, n: int, a: int, b: int) -> float | None:
    """The q = a/b quantile of n sorted values from the values at ranks floor((n-1)q) and
    the rank after it (numpy's default 'linear' method)."""
    if not n or lo is None:
        return None
    frac = Fraction(((n - 1) * a) % b, b)
    if not frac:
        return lo
    return float(lo + (hi - lo) * frac)


def quantile(values: list[float], q: Fraction | float) -> float | None:
    """numpy.quantile(values, q) with the default method, without numpy."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * Fraction(q)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))


def _start_utc(value: date | datetime) -> str:
    from crmcli.metrics.periods import local_midnight_utc

    if isinstance(value, datetime):
        return dates.to_utc_iso(value)
    return local_midnight_utc(value)


def time_window(since: str | None, until: str | None) -> tuple[str, str]:
    """UTC bounds [since, until) for --since/--until (WHEN values): a date given to --until
    includes that whole local day. Missing bounds are open."""
    lo, hi = ALL_TIME
    if since:
        lo = _start_utc(dates.parse_when(since))
    if until:
        end = dates.parse_when(until)
        hi = _start_utc(end if isinstance(end, datetime) else end + timedelta(days=1))
    if since and until and lo >= hi:
        raise UsageError(f"--since {since!r} is not before --until {until!r}")
    return lo, hi


def _check(kind: str, by: str | None) -> None:
    if kind not in KINDS:
        raise UsageError(f"--kind {kind!r}: must be complaint (or leave it out for response "
                         "time)")
    if by is not None and by not in BY:
        raise UsageError(f"--by {by!r}: must be one of {', '.join(BY)}")


def _month_map(store, kind: str, lo: str, hi: str):
    """The MonthMap covering the report's months and their labels (None for an empty
    book)."""
    from crmcli.metrics import periods

    first = lo or store.events.first_event_at(kind)
    if not first:
        return None
    last_day = dates.today() if hi == ALL_TIME[1] else (
        dates.local_date_of(hi) - timedelta(days=1))
    first_m = periods.index_of(dates.local_date_of(first), "month")
    last_m = max(first_m, periods.index_of(last_day, "month"))
    return (periods.month_map(first_m, last_m),
            [periods.label(m, "month") for m in range(first_m, last_m + 1)])


def reply_rule(config) -> dict:
    """Which inbound interactions expect no reply, from the config."""
    return {"no_reply_kinds": [str(k).strip().lower() for k in
                               config["response.no_reply_kinds"] or []],
            "no_reply_channels": [str(c).strip().lower() for c in
                                  config["response.no_reply_channels"] or []],
            "reply_to_scores": bool(config["response.reply_to_scores"])}


def _row(stats: dict, kind: str, sla_hours: float) -> dict:
    pending = "unresolved" if kind == "complaint" else "awaiting"
    n = stats["count"]
    decided = n + stats["late_pending"]
    med = quantile(stats["secs"], Fraction(1, 2))
    p90 = quantile(stats["secs"], Fraction(9, 10))
    return {"count": n, pending: stats["pending"],
            "median_hours": None if med is None else med / 3600,
            "p90_hours": None if p90 is None else p90 / 3600,
            "within_sla": 100 * stats["within"] / decided if decided else None,
            "sla_hours": sla_hours}


def _empty(group: str | None) -> dict:
    return {"grp": group, "count": 0, "pending": 0, "within": 0, "late_pending": 0, "secs": []}


def response_report(store, config, *, by: str | None = None, kind: str = "response",
                    since: str | None = None, until: str | None = None) -> list[dict]:
    """Report rows: one per group of `by` (its value under the key named by `by`), or one
    row for everything; groups with no items are absent, except that by month every
    month of the window has its row (a quiet month is a count of 0, not a gap); an empty
    book gives one row of zeros when not grouped."""
    _check(kind, by)
    lo, hi = time_window(since, until)
    sla_hours = config["response.sla_hours"]
    mm = months = None
    if by == "month":
        found = _month_map(store, kind, lo, hi)
        if found is None:
            return []
        mm, months = found
    stats = store.events.handling_stats(kind, since=lo, until=hi, now=dates.to_utc_iso(dates.now()),
                                 sla_seconds=round(float(sla_hours) * 3600), by=by, mm=mm,
                                 reply_rule=reply_rule(config))
    if months is not None:
        got = {s["grp"]: s for s in stats}
        stats = [got.get(m) or _empty(m) for m in months]
        stats += [s for s in got.values() if s["grp"] not in set(months)]
    if not stats and by is None:
        stats = [_empty(None)]
    rows = []
    for s in stats:
        row = _row(s, kind, sla_hours)
        rows.append({by: s["grp"], **row} if by else row)
    return rows


PENDING_FIELDS = ["id", "client_id", "client", "owner", "channel", "kind", "at", "age_hours",
                  "age_days", "summary"]


def pending_list(store, *, kind: str = "response", since: str | None = None,
                 until: str | None = None, limit: int | None = None,
                 config=None) -> list[dict]:
    """The inbound interactions awaiting a reply (or the unresolved complaints), oldest
    first, with their age in hours (and days) at now; config (default: the store's) says
    which inbound interactions expect a reply."""
    _check(kind, None)
    lo, hi = time_window(since, until)
    rows = []
    for r in store.events.pending_events(kind, since=lo, until=hi,
                                         now=dates.to_utc_iso(dates.now()), limit=limit,
                                         reply_rule=reply_rule(config or store.config)):
        age = r["age_secs"] / 3600
        rows.append({"id": r["id"], "client_id": r["client_id"], "client": r["client"],
                     "owner": r["owner"], "channel": r["channel"], "kind": r["kind"],
                     "at": r["at"], "age_hours": age, "age_days": age / 24,
                     "summary": r["summary"]})
    return rows


def response_summary(store, config) -> dict:
    """For the summary report: response time over the twelve months up to now (inbound
    interactions since the same local date a year ago): count, median_hours, p90_hours,
    within_sla (percent) and awaiting."""
    today = dates.today()
    try:
        start = today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        start = today.replace(year=today.year - 1, day=28)
    [row] = response_report(store, config, since=start.isoformat())
    return {k: row[k] for k in ("count", "median_hours", "p90_hours", "within_sla", "awaiting")}
