"""The dashboard behind `crm report summary` (and `crm demo`): every figure of the book in
one dict of sections, rendered by the command."""

from __future__ import annotations

from decimal import Decimal

from crmcli import dates


def _event_figures(path, config) -> tuple[dict, dict]:
    """NPS and response time of the book, on a connection of their own (see summary_data)."""
    from crmcli.metrics.nps import nps_summary
    from crmcli.metrics.response import response_summary
    from crmcli.store import CrmStore

    with CrmStore(path, config, migrate=False, create=False) as events:
        return nps_summary(events, config), response_summary(events, config)


def summary_data(store, config) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    # NPS and response time are two long SQL passes over the interactions, which SQLite
    # runs without holding Python's lock: on a second connection in a thread they overlap
    # with the rest (the lifecycle pass is mostly Python) on a second core.
    pool = ThreadPoolExecutor(max_workers=1)
    events = pool.submit(_event_figures, store.path, config)
    try:
        data = _summary_rest(store, config, dates.today())
        nps, response = events.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    data["overview"].update({
        "nps": nps.get("nps"), "nps_responses": nps.get("responses"),
        "response_median_hours": response.get("median_hours"),
        "awaiting_reply": response.get("awaiting")})
    return data


def last_churn(store, config) -> dict:
    """The headline churn: that of the last period that has ended (retention.period), so
    that it counts as lost only clients whose whole period passed without activity — the
    same kind of silence that makes the lifecycle call a client at risk."""
    from crmcli.metrics import periods
    from crmcli.metrics.retention import retention_rows

    unit = periods.check_unit(config["retention.period"])
    previous = periods.start_of(periods.index_of(dates.today(), unit) - 1, unit).isoformat()
    [row] = retention_rows(store, config, unit, previous, previous)
    return {"churn_period": row["period"], "churn": row["churn"], "lost": row["lost"],
            "previous_active": row["previous_active"]}


def _receivables(store, currency: str) -> dict:
    """Open and overdue receivables today in the book's currency; other currencies' open
    balances apart ({currency: amount}), never converted."""
    from crmcli.services.receivables import receivables_report

    rows = receivables_report(store)["currencies"] if store.invoices.exists() else []
    mine = next((r for r in rows if r["currency"] == currency), None)
    return {"open_receivables": mine["open"] if mine else Decimal(0),
            "overdue_receivables": mine["overdue"] if mine else Decimal(0),
            "open_receivables_other": {r["currency"]: r["open"] for r in rows
                                       if r["currency"] != currency and r["open"]}}


def _summary_rest(store, config, today) -> dict:
    from crmcli.metrics import lifecycle, periods
    from crmcli.services.due import due_counts

    currency = config["currency"]
    last = periods.index_of(today, "month")
    mm = periods.month_map(last - 11, last)
    found = {r["idx"]: r for r in store.reports.period_revenue(
        mm, 1, currency, since=periods.local_midnight_utc(periods.start_of(last - 11, "month")))}
    months = [{"month": periods.label(i, "month"),
               "revenue": found.get(i, {}).get("revenue", Decimal(0)),
               "deals": found.get(i, {}).get("deals", 0),
               "clients": found.get(i, {}).get("clients", 0)} for i in range(last - 11, last + 1)]
    life = lifecycle.lifecycle_rows(store, config)
    live = store.reports.live_client_count()
    risky = lifecycle.at_risk(life)
    due = due_counts(store, config)
    order = {s: n for n, s in enumerate(config.pipeline)}
    stages = sorted(store.reports.clients_by_stage(),
                    key=lambda r: (r["stage"] is None, order.get(r["stage"], len(order)),
                                   r["stage"] or ""))
    owed = _receivables(store, currency)
    overview = {
        "today": today.isoformat(), "currency": currency, "clients": live,
        "revenue_12m": sum((m["revenue"] for m in months), Decimal(0)),
        "other_currencies_12m": store.reports.other_currency_revenue(
            currency, since=periods.local_midnight_utc(periods.start_of(last - 11, "month"))),
        "deals_12m": sum(m["deals"] for m in months),
        "overdue": due["overdue"],
        "due_today": due["due"],
        "upcoming": due["upcoming"],
        "nps": None, "nps_responses": None, "response_median_hours": None,
        "awaiting_reply": None,  # filled in by summary_data
        "at_risk": len(risky),
        "revenue_at_stake": sum((r["revenue_at_stake"] for r in risky), Decimal(0)),
        **owed,
        **last_churn(store, config),
    }
    return {
        "overview": overview,
        "stages": [{"stage": r["stage"] or "(none)", "clients": r["clients"]} for r in stages],
        "lifecycle": lifecycle.status_counts(life, live),
        "revenue_by_month": months,
        "at_risk": [{k: r[k] for k in ("client_id", "client", "days_since", "revenue_at_stake")}
                    for r in risky[:10]],
    }
