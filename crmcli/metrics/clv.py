"""Customer lifetime value: historical and the simple predictive formula.

Money is in the configured currency (won deals in other currencies are left out
and counted in `other_currency_deals`). "Until" is the end of the --until day
(default today) in the configured zone; the trailing year is the 12 months
before it and the year before that is the 12 months before the trailing year.

- historical CLV of a client: its total won revenue up to until; the
  distribution (mean, median, p90) is over customers, i.e. live clients with at
  least one won deal. Percentiles interpolate linearly between closest ranks
  (numpy's default).
- average order value (AOV): won revenue / won deals, over the trailing year;
- purchases per year: won deals / paying clients, over the trailing year;
- annual churn: 1 - (clients active in both the year before and the trailing
  year / clients active in the year before) -- retention over two rolling years,
  activity as in retention.activity;
- expected lifetime (years) = 1 / annual churn, capped at clv.lifetime_cap_years
  (the cap also when churn is 0);
- predictive CLV = AOV x purchases per year x expected lifetime x clv.margin;
- horizon CLV = margin x AOV x purchases per year / 12 x sum over months
  m = 1..horizon of s**m / (1 + d)**m, with s = (1 - annual churn) ** (1/12) the
  monthly survival and d = clv.discount_monthly: the discounted value of the
  next clv.horizon_months months.

Nothing is rounded here: money stays Decimal (a mean or an AOV to the 28 significant
digits of Decimal division), ratios stay floats. Tables round for the eye; the machine
formats carry the full value.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from crmcli import dates

CENT = Decimal("0.01")


def money(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def percentile(values: list[Decimal], q: Decimal | str) -> Decimal | None:
    """The q-quantile (0..1) of values, linear between closest ranks (numpy default), exact."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * Decimal(q)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _times(until: str | None) -> tuple[str, str, str, str]:
    """UTC (until_end, trailing_start, previous_start) and the until day."""
    from dateutil.relativedelta import relativedelta

    from crmcli.metrics.periods import local_midnight_utc

    if until:
        when = dates.parse_when(until)
        day = dates.local(when).date() if isinstance(when, datetime) else when
    else:
        day = dates.today()
    end_day = day + timedelta(days=1)
    return (local_midnight_utc(end_day), local_midnight_utc(end_day - relativedelta(months=12)),
            local_midnight_utc(end_day - relativedelta(months=24)), day.isoformat())


def book_rates(store, config, until: str | None = None) -> dict:
    """AOV, purchases per year, annual churn and expected lifetime of the book."""
    end, trailing, previous, day = _times(until)
    currency = config["currency"]
    year = store.reports.revenue_total(currency, since=trailing, until=end)
    aov = year["revenue"] / year["deals"] if year["deals"] else None
    per_year = year["deals"] / year["clients"] if year["clients"] else None
    life = book_lifetime(store, config, previous, trailing, end)
    return {"until": day, "trailing_year_start": trailing, "trailing_year_end": end,
            "currency": currency, "aov": aov, "purchases_per_year": per_year,
            "paying_clients_trailing_year": year["clients"],
            "deals_trailing_year": year["deals"], **life}


def book_lifetime(store, config, previous: str, trailing: str, end: str) -> dict:
    """Annual churn of the book (active in [previous, trailing) and again in [trailing,
    end)) and the expected lifetime in years it gives, capped at clv.lifetime_cap_years."""
    from crmcli.metrics.retention import activity_setting

    both = store.reports.active_in_windows(activity_setting(config), previous, trailing, end)
    churn = ((both["in_first"] - both["in_both"]) / both["in_first"] if both["in_first"]
             else None)
    cap = float(config["clv.lifetime_cap_years"])
    if churn is None:
        lifetime = None
    elif churn <= 0:
        lifetime = cap
    else:
        lifetime = min(1 / churn, cap)
    return {"active_previous_year": both["in_first"], "retained_trailing_year": both["in_both"],
            "annual_churn": churn, "expected_lifetime_years": lifetime}


def predictive(aov: Decimal | None, per_year: float | None, lifetime: float | None,
               margin: float) -> Decimal | None:
    if aov is None or per_year is None or lifetime is None:
        return None
    return aov * Decimal(repr(per_year)) * Decimal(repr(lifetime)) * Decimal(repr(margin))


def horizon_value(aov: Decimal | None, per_year: float | None, churn: float | None,
                  margin: float, months: int, discount: float) -> Decimal | None:
    if aov is None or per_year is None or churn is None:
        return None
    survival = max(0.0, 1 - churn) ** (1 / 12)
    factor = sum((survival / (1 + discount)) ** m for m in range(1, months + 1))
    return aov * Decimal(repr(margin * per_year / 12 * factor))


def clv_report(store, config, *, top: int = 10, until: str | None = None,
               horizon_months: int | None = None, discount: float | None = None) -> dict:
    """{'summary': {...}, 'top': [...]} (see the module docstring for each figure)."""
    end, _, _, _ = _times(until)
    currency = config["currency"]
    per_client = store.reports.client_revenue(currency, until=end)
    values = [v["revenue"] for v in per_client.values()]
    total = sum(values, Decimal(0))
    deals = sum(v["deals"] for v in per_client.values())
    rates = book_rates(store, config, until)
    margin = float(config["clv.margin"])
    months = int(horizon_months if horizon_months is not None
                 else config["clv.horizon_months"])
    disc = float(discount if discount is not None else config["clv.discount_monthly"])
    summary = {
        "currency": currency,
        "customers": len(values),
        "revenue": total,
        "deals": deals,
        "mean": total / len(values) if values else None,
        "median": percentile(values, "0.5"),
        "p90": percentile(values, "0.9"),
        "aov": rates["aov"],
        "purchases_per_year": rates["purchases_per_year"],
        "annual_churn": rates["annual_churn"],
        "expected_lifetime_years": rates["expected_lifetime_years"],
        "margin": margin,
        "predictive_clv": predictive(rates["aov"], rates["purchases_per_year"],
                                     rates["expected_lifetime_years"], margin),
        "horizon_months": months,
        "discount_monthly": disc,
        "horizon_clv": horizon_value(rates["aov"], rates["purchases_per_year"],
                                     rates["annual_churn"], margin, months, disc),
        "until": rates["until"],
        "trailing_year_start": rates["trailing_year_start"],
        "other_currency_deals": store.reports.other_currency_deals(currency),
        "other_currencies": store.reports.other_currency_revenue(currency, until=end),
    }
    ranked = sorted(per_client.items(), key=lambda kv: (-kv[1]["revenue"], kv[0]))[:top]
    names = store.reports.client_names([cid for cid, _ in ranked]) if ranked else {}
    top_rows = [{"client_id": cid, "client": names.get(cid), "clv": v["revenue"],
                 "deals": v["deals"], "aov": v["revenue"] / v["deals"],
                 "first_purchase": v["first_at"], "last_purchase": v["last_at"]}
                for cid, v in ranked]
    return {"summary": summary, "top": top_rows}


def client_clv(store, config, client_id: int) -> dict:
    """A client's historical CLV and its predicted value: the client's own AOV x its won
    deals over the trailing year x the book's expected lifetime x margin."""
    end, trailing, previous, _ = _times(None)
    currency = config["currency"]
    history = store.reports.revenue_total(currency, until=end, client_id=client_id)
    aov = history["revenue"] / history["deals"] if history["deals"] else None
    predicted = None
    if aov is not None:
        # Only the book's expected lifetime is needed from the book (not its AOV).
        year = store.reports.revenue_total(currency, since=trailing, until=end, client_id=client_id)
        lifetime = book_lifetime(store, config, previous, trailing, end)
        predicted = predictive(aov, float(year["deals"]), lifetime["expected_lifetime_years"],
                               float(config["clv.margin"]))
    return {"historical": history["revenue"], "predicted": predicted}
