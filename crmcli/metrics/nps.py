"""Net Promoter Score.

Over each live client's latest score (0-10, any interaction kind) in the period: the
latest by time, then by the highest interaction id for scores logged at the same second.
Promoters score 9-10, passives 7-8, detractors 0-6;
NPS = % promoters - % detractors, from -100 to 100 (None without responses).
"""

from __future__ import annotations

from crmcli import dates

FIELDS = ["period", "responses", "promoters", "passives", "detractors", "promoters_pct",
          "passives_pct", "detractors_pct", "nps"]


def _pct(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


def nps_row(responses: int, promoters: int, passives: int, detractors: int) -> dict:
    """Counts, shares (percent) and the NPS, unrounded (tables round them for the eye)."""
    return {"responses": responses, "promoters": promoters, "passives": passives,
            "detractors": detractors, "promoters_pct": _pct(promoters, responses),
            "passives_pct": _pct(passives, responses),
            "detractors_pct": _pct(detractors, responses),
            "nps": 100 * (promoters - detractors) / responses if responses else None}


def _counts(row: dict | None) -> tuple[int, int, int, int]:
    row = row or {}
    return tuple(row.get(k) or 0 for k in ("responses", "promoters", "passives", "detractors"))


def nps_report(store, *, period: str | None = None, since: str | None = None,
               until: str | None = None) -> list[dict]:
    """Without period: one row over [since, until] (all time by default; period 'all').
    With period (month, quarter, year): one row per period of periods.window (the last
    12 months / 8 quarters / 5 years up to --until or today, or from --since), periods
    without scores included with zero responses."""
    from crmcli.metrics import periods
    from crmcli.metrics.response import time_window

    if period is None:
        lo, hi = time_window(since, until)
        [row] = store.events.nps_counts(since=lo, until=hi) or [None]
        label = "all" if not (since or until) else f"{since or ''}..{until or ''}"
        return [{"period": label, **nps_row(*_counts(row))}]
    unit = periods.check_unit(period)
    if since and until:
        time_window(since, until)  # --since after --until is an error, even in one period
    win = periods.window(unit, since, until)
    months = periods.MONTHS[unit]
    first_m, last_m = win.first * months, (win.last + 1) * months - 1
    mm = periods.month_map(first_m, last_m)
    [(_, lo, _), *_] = periods.bounds(win.first, win.first, unit)
    by_idx = {r["idx"]: r for r in store.events.nps_counts(since=lo, until=mm.end_utc, mm=mm,
                                                           months=months)}
    return [{"period": periods.label(i, unit), **nps_row(*_counts(by_idx.get(i)))}
            for i in win.indexes]


def nps_summary(store, config=None) -> dict:
    """For the summary report: NPS over the twelve months up to now (scores since the same
    local date a year ago): nps, promoters, passives, detractors (counts) and responses."""
    today = dates.today()
    try:
        start = today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        start = today.replace(year=today.year - 1, day=28)
    [row] = nps_report(store, since=start.isoformat())
    return {k: row[k] for k in ("nps", "promoters", "passives", "detractors", "responses")}

