"""CLV: historical distribution and the predictive formula, worked out by hand.

Today is 2026-11-22 (UTC): the trailing year is [2025-11-23, 2026-11-23), the year before
[2024-11-23, 2025-11-23)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from crmcli.config import Config
from crmcli.metrics.clv import client_clv, clv_report, percentile


@pytest.fixture
def book(store):
    ids = {n: store.clients.add(n) for n in "ABCDE"}
    for name, amount, at, currency in [
        ("A", "100", "2025-01-10T12:00:00Z", None), ("A", "200", "2026-03-01T12:00:00Z", None),
        ("B", "50.25", "2026-05-05T12:00:00Z", None),
        ("C", "1000", "2025-06-01T12:00:00Z", None),
        ("D", "10.10", "2026-10-10T12:00:00Z", None), ("D", "20.20", "2026-10-11T12:00:00Z", None),
        ("D", "30.30", "2026-11-01T12:00:00Z", None),
        ("E", "999", "2026-02-01T12:00:00Z", "EUR"),
    ]:
        store.deals.add(ids[name], amount, at=at, currency=currency)
    store.deals.add(ids["B"], "5000", at="2026-05-06T12:00:00Z", status="lost")
    return ids


def test_historical_distribution_and_predictive_value(store, book):
    report = clv_report(store, Config(), top=2)
    s = report["summary"]
    # customers (USD): A 300, B 50.25, C 1000, D 60.60 -> total 1410.85; E's EUR deal is apart
    assert (s["customers"], s["revenue"], s["deals"], s["other_currency_deals"]) == (
        4, Decimal("1410.85"), 7, 1)
    # mean 1410.85 / 4 = 352.7125; median (60.60 + 300) / 2; p90 at rank 2.7: 300 + .7 * 700
    assert (s["mean"], s["median"], s["p90"]) == (Decimal("352.7125"), Decimal("180.30"),
                                                  Decimal("790.00"))
    # trailing year: 200 + 50.25 + 10.10 + 20.20 + 30.30 = 310.85 over 5 deals and 3 clients
    assert s["aov"] == Decimal("62.17")
    assert s["purchases_per_year"] == 5 / 3
    # year before: A and C active; trailing year: A (and B, D, E): retention 1/2, churn 0.5
    assert (s["annual_churn"], s["expected_lifetime_years"]) == (0.5, 2.0)
    # 62.17 x 5/3 x 2 x 1.0 = 207.2333..., unrounded (tables show 207.23)
    assert s["predictive_clv"] == Decimal("62.17") * Decimal(repr(5 / 3)) * 2
    survival = 0.5 ** (1 / 12)
    factor = sum((survival / 1.01) ** m for m in range(1, 13))
    assert s["horizon_clv"] == Decimal("62.17") * Decimal(repr(1.0 * (5 / 3) / 12 * factor))
    assert [(r["client"], r["clv"], r["deals"], r["aov"]) for r in report["top"]] == [
        ("C", Decimal("1000"), 1, Decimal("1000.00")), ("A", Decimal("300"), 2,
                                                        Decimal("150.00"))]


def test_margin_and_lifetime_cap_from_config(store, book):
    config = Config()
    config.data["clv"].update({"margin": 0.5, "lifetime_cap_years": 1.5})
    s = clv_report(store, config)["summary"]
    # lifetime min(1 / 0.5, 1.5) = 1.5; 62.17 x 5/3 x 1.5 x 0.5 = 77.7125 (floats: 5/3)
    assert (s["expected_lifetime_years"], s["predictive_clv"]) == (
        1.5, Decimal("62.17") * Decimal(repr(5 / 3)) * Decimal("1.5") * Decimal("0.5"))


def test_until_moves_the_windows(store, book):
    s = clv_report(store, Config(), until="2025-12-31")["summary"]
    # up to 2025-12-31: A 100, C 1000 -> trailing year [2025-01-01, 2026-01-01) has both;
    # the year before has nobody, so churn (and the lifetime) are unknown
    assert (s["customers"], s["revenue"], s["aov"], s["purchases_per_year"]) == (
        2, Decimal("1100"), Decimal("550.00"), 1.0)
    assert (s["annual_churn"], s["expected_lifetime_years"], s["predictive_clv"]) == (
        None, None, None)


def test_no_churn_means_the_cap(store):
    cid = store.clients.add("Loyal")
    store.deals.add(cid, "10", at="2025-06-01T12:00:00Z")
    store.deals.add(cid, "10", at="2026-06-01T12:00:00Z")
    s = clv_report(store, Config())["summary"]
    assert (s["annual_churn"], s["expected_lifetime_years"]) == (0.0, 10.0)
    # 10 x 1 x 10 x 1
    assert s["predictive_clv"] == Decimal("100.00")


def test_empty_book(store):
    report = clv_report(store, Config())
    s = report["summary"]
    assert (s["customers"], s["revenue"], s["mean"], s["median"], s["p90"], s["aov"],
            s["predictive_clv"]) == (0, Decimal(0), None, None, None, None, None)
    assert report["top"] == []


def test_client_clv_for_the_card(store, book):
    # D: 60.60 over 3 deals (AOV 20.20), 3 deals in the trailing year, book lifetime 2 years
    assert client_clv(store, Config(), book["D"]) == {"historical": Decimal("60.60"),
                                                      "predicted": Decimal("121.20")}
    assert client_clv(store, Config(), book["E"]) == {"historical": Decimal(0),
                                                      "predicted": None}


@pytest.mark.parametrize("values", [[5], [1, 2], [3, 1, 2, 10], list(range(17))])
@pytest.mark.parametrize("q", ["0.5", "0.9", "0.0", "1"])
def test_percentile_matches_numpy_linear(values, q):
    assert float(percentile([Decimal(v) for v in values], q)) == pytest.approx(
        float(np.percentile(values, float(q) * 100)))


def test_exact_sums_of_any_number_of_decimals(store):
    # Revenue is summed in SQL from integer pieces; the result is the exact Decimal sum,
    # written with as many decimals as the most precise amount.
    import random

    from crmcli.store.reports import exact_sum

    rng = random.Random(3)
    cid = store.clients.add("Acme")
    amounts = []
    for _ in range(60):
        whole = str(rng.randint(0, 10 ** rng.randint(0, 9)))
        amount = whole if rng.random() < 0.3 else (
            whole + "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 6))))
        amounts.append(Decimal(amount))
        store.deals.add(cid, amount, at="2026-10-01T10:00:00Z")
    total = store.reports.revenue_total("USD", client_id=cid)["revenue"]
    assert total == sum(amounts)
    assert -total.as_tuple().exponent == max(-a.as_tuple().exponent for a in amounts)
    assert store.reports.client_revenue("USD")[cid]["revenue"] == total
    assert exact_sum(None, None, None) == Decimal(0)
    assert str(exact_sum(12, 340000000000, 2)) == "12.34"
    assert str(exact_sum(5, 0, 0)) == "5"
