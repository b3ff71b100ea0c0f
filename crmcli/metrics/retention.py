"""Retention and churn per period (month, quarter or year in the configured zone).

Active in a period: at least one activity in it (config retention.activity: a won
deal, any interaction, or either). For each period P:

- active: clients active in P;
- previous_active: clients active in P-1;
- retained: active in both P-1 and P (also called returning);
- new: active in P for the first time ever;
- reactivated: active in P, not in P-1, but active at some earlier period;
- lost: active in P-1 but not in P (previous_active - retained);
- retention = retained / previous_active; churn = 1 - retention (both None when
  nobody was active in P-1);
- partial: P has not ended yet (it contains today, or lies after it). Its counts
  are those so far, and lost, retention and churn are None: a client who has not
  come back *yet* is not lost, so an unfinished period is never reported as churn.

active = new + retained + reactivated always holds.
"""

from __future__ import annotations

from crmcli import dates
from crmcli.metrics import periods

ROW_KEYS = ("period", "start", "partial", "active", "previous_active", "retained", "new",
            "reactivated", "lost", "retention", "churn")


def activity_setting(config) -> str:
    return config["retention.activity"]


def covered_map(store, activity: str, win: periods.Window) -> periods.MonthMap:
    """The month map from the earliest activity (or the window, if earlier) to the window's
    end, so that first activities and previous periods are seen."""
    months = periods.MONTHS[win.unit]
    first_month = win.first * months
    first = store.reports.first_activity(activity)
    if first:
        first_month = min(first_month, periods.index_of(dates.local_date_of(first), "month"))
    # one period before the window too, for previous_active of the first row
    first_month = min(first_month, (win.first - 1) * months)
    return periods.month_map(first_month, (win.last + 1) * months - 1)


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def first_unfinished(unit: str) -> int:
    """Index of the first period that has not ended: the one containing today."""
    return periods.index_of(dates.today(), unit)


def retention_rows(store, config, unit: str, since: str | None = None,
                   until: str | None = None) -> list[dict]:
    """One row per period of the window, oldest first (ROW_KEYS)."""
    activity = activity_setting(config)
    win = periods.window(unit, since, until)
    mm = covered_map(store, activity, win)
    found = {r["idx"]: r for r in store.reports.period_activity(mm, periods.MONTHS[unit], activity)}
    unfinished = first_unfinished(unit)
    rows = []
    for idx in win.indexes:
        now = found.get(idx, {})
        before = found.get(idx - 1, {})
        active = now.get("active", 0)
        previous = before.get("active", 0)
        retained = now.get("retained", 0)
        partial = idx >= unfinished
        retention = None if partial else rate(retained, previous)
        rows.append({
            "period": periods.label(idx, unit),
            "start": periods.start_of(idx, unit).isoformat(),
            "partial": partial,
            "active": active,
            "previous_active": previous,
            "retained": retained,
            "new": now.get("new", 0),
            "reactivated": now.get("reactivated", 0),
            "lost": None if partial else previous - retained,
            "retention": retention,
            "churn": None if retention is None else (previous - retained) / previous,
        })
    return rows
