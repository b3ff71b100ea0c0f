"""The cohort retention matrix.

A client's cohort is the period of its first activity ever (same notion of
activity as retention). Cell k of a cohort is the share of the cohort's clients
active in period cohort + k (cell 0 is always 1.0). Cells run up to the window's
last period, so younger cohorts have fewer cells.

A cell whose period has not ended yet (it contains today) holds the clients active
so far; `partial` on the row says its last cell is such a period (only the last cell
of a row can be), so a reader never takes a month just begun for a lost cohort.
"""

from __future__ import annotations

from crmcli.metrics import periods
from crmcli.metrics.retention import activity_setting, covered_map, first_unfinished, rate

UNITS = ("month", "quarter")


def cohort_rows(store, config, unit: str, since: str | None = None,
                until: str | None = None) -> list[dict]:
    """One row per cohort in the window: period, start, partial (the last cell's period has
    not ended), size, active (clients per k) and retention (share per k, None for an empty
    cohort)."""
    activity = activity_setting(config)
    win = periods.window(unit, since, until)
    mm = covered_map(store, activity, win)
    cells: dict[int, dict[int, int]] = {}
    for r in store.reports.cohort_activity(mm, periods.MONTHS[unit], activity):
        cells.setdefault(r["cohort"], {})[r["k"]] = r["clients"]
    unfinished = first_unfinished(unit)
    rows = []
    for idx in win.indexes:
        found = cells.get(idx, {})
        size = found.get(0, 0)
        active = [found.get(k, 0) for k in range(win.last - idx + 1)]
        rows.append({
            "cohort": periods.label(idx, unit),
            "start": periods.start_of(idx, unit).isoformat(),
            "partial": win.last >= unfinished,
            "size": size,
            "active": active,
            "retention": [rate(n, size) for n in active],
        })
    return rows
