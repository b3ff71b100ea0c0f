"""Lifecycle status: active, at-risk or churned, and the revenue at stake.

For each live client with at least one activity (retention.activity):

- days_since: local calendar days from the last active day to today;
- usual_gap: the median gap in days between the client's consecutive distinct active
  days (None with fewer than two active days; several events on one day count once);
- at_risk_after = lifecycle.at_risk_days, or gap_factor x usual_gap when that is
  smaller (a client that buys weekly is at risk long before a quarterly one);
  gap_factor 0 switches the personal gap off;
- status: "active" while days_since <= at_risk_after, "churned" once
  days_since > lifecycle.churned_days, "at-risk" in between.

Clients with no activity at all are "never" (counted, not listed).
Revenue at stake: the client's won revenue (config currency) over the trailing 12
months, i.e. deals at or after local midnight of today minus 12 months.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from crmcli import dates

STATUSES = ("active", "at-risk", "churned", "never")


def thresholds(config) -> tuple[float, float, float]:
    return (float(config["lifecycle.at_risk_days"]),
            float(config["lifecycle.churned_days"]),
            float(config["lifecycle.gap_factor"]))


def classify(days_since: int, usual_gap: float | None, at_risk_days: float, churned_days: float,
             gap_factor: float) -> tuple[str, float]:
    """(status, at_risk_after) for a client quiet for days_since days."""
    at_risk_after = at_risk_days
    if usual_gap is not None and gap_factor > 0:
        at_risk_after = min(at_risk_days, gap_factor * usual_gap)
    at_risk_after = min(at_risk_after, churned_days)
    if days_since > churned_days:
        return "churned", at_risk_after
    if days_since > at_risk_after:
        return "at-risk", at_risk_after
    return "active", at_risk_after


def day_shift() -> str:
    """SQLite modifier from UTC to local time at the zone's current offset."""
    offset = dates.now().astimezone(dates.zone()).utcoffset()
    return f"{int(offset.total_seconds() // 60):+d} minutes"


def trailing_year_start(today: date) -> str:
    """UTC time of local midnight at today minus 12 months (start of revenue at stake)."""
    from dateutil.relativedelta import relativedelta

    from crmcli.metrics.periods import local_midnight_utc

    return local_midnight_utc(today - relativedelta(months=12))


def lifecycle_rows(store, config, client_id: int | None = None) -> list[dict]:
    """Per live client with activity: status and the facts behind it, by client id."""
    from crmcli.metrics.retention import activity_setting

    today = dates.today()
    at_risk_days, churned_days, gap_factor = thresholds(config)
    facts = store.reports.activity_days(activity_setting(config), day_shift(), client_id=client_id)
    if not facts:
        return []
    currency = config["currency"]
    if client_id is None:
        stake = store.reports.client_revenue(currency, since=trailing_year_start(today))
    else:
        stake = {client_id: store.reports.revenue_total(currency, since=trailing_year_start(today),
                                                        client_id=client_id)}
    rows = []
    for f in facts:
        last = date.fromisoformat(f["last_day"])
        days_since = max(0, (today - last).days)
        gap = f["median_gap"]
        status, after = classify(days_since, gap, at_risk_days, churned_days, gap_factor)
        rows.append({
            "client_id": f["client_id"], "client": f["name"], "owner": f["owner"],
            "stage": f["stage"], "status": status,
            "first_active": f["first_day"], "last_active": f["last_day"],
            "days_since": days_since, "active_days": f["days"],
            "usual_gap_days": gap,
            "at_risk_after_days": after,
            "revenue_at_stake": stake.get(f["client_id"], {}).get("revenue", Decimal(0)),
        })
    return rows


def status_counts(rows: list[dict], live_clients: int) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for row in rows:
        counts[row["status"]] += 1
    counts["never"] = max(0, live_clients - len(rows))
    return counts


def at_risk(rows: list[dict]) -> list[dict]:
    """At-risk clients, most revenue at stake first (then longest silent, then id)."""
    found = [r for r in rows if r["status"] == "at-risk"]
    found.sort(key=lambda r: (-r["revenue_at_stake"], -r["days_since"], r["client_id"]))
    return found


