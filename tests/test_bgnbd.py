"""BG/NBD + Gamma-Gamma reproduce the published CDNOW results.

Fixture tests/fixtures/cdnow_sample.csv: the CDNOW 1/10th sample used by Fader, Hardie
& Lee (2005), taken from ``lifetimes/datasets/CDNOW_sample.txt`` in the lifetimes 0.11.3
wheel (columns there: original customer id, sample customer id, YYYYMMDD, number of CDs,
dollar amount). Kept: the sample customer id (1..2357), the date as ISO, and the dollar
amount, one row per raw transaction (6,919 rows, same-day purchases not yet merged), for
the 2,357 customers who first bought in Q1 1997; purchases run to 1998-06-30.

Published values: "Counting Your Customers the Easy Way" (Marketing Science 2005):
r=0.243, alpha=4.414, a=0.793, b=2.426, LL=-9582.4, and E[Y(39)|x=2, t_x=30.43,
T=38.86]=1.226; Fader & Hardie, "The Gamma-Gamma Model of Monetary Value" (2013):
p=6.25, q=3.74, gamma=15.44 on the 946 calibration-period repeat buyers.
"""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

from crmcli.metrics import bgnbd

FIXTURE = Path(__file__).parent / "fixtures" / "cdnow_sample.csv"
CALIBRATION_END = date(1997, 9, 30)  # end of week 39
OBSERVATION_END = date(1998, 6, 30)  # end of week 78


@pytest.fixture(scope="module")
def transactions():
    with FIXTURE.open(newline="") as fh:
        return [
            (int(row["customer_id"]), date.fromisoformat(row["date"]), float(row["amount"]))
            for row in csv.DictReader(fh)
        ]


@pytest.fixture(scope="module")
def rows(transactions):
    return bgnbd.rfm_from_transactions(transactions, CALIBRATION_END)


@pytest.fixture(scope="module")
def arrays(rows):
    return bgnbd.rfm_arrays(rows)


@pytest.fixture(scope="module")
def bg(arrays):
    x, t_x, T, _ = arrays
    return bgnbd.fit_bgnbd(x, t_x, T)


@pytest.fixture(scope="module")
def gg(arrays):
    x, _, _, m = arrays
    return bgnbd.fit_gamma_gamma(x, m)


# --- data preparation ------------------------------------------------------------


def test_cdnow_summary_matches_the_papers_data(transactions, rows, arrays):
    x, t_x, T, m = arrays
    assert len(transactions) == 6919
    assert len(rows) == 2357
    assert x.sum() == 2457  # repeat transactions in the calibration period
    assert int(np.count_nonzero(x)) == 946  # repeat buyers
    assert round(T.max(), 2) == 38.86
    assert T.min() == 27.0  # last first-purchase: 1997-03-25
    assert np.all((t_x >= 0) & (t_x <= T))
    assert np.all(t_x[x == 0] == 0) and np.all(m[x == 0] == 0)


def test_first_customer_is_the_papers_worked_example(rows):
    first = rows[0]
    assert first.customer_id == 1
    assert first.frequency == 2
    assert round(first.recency, 2) == 30.43
    assert round(first.T, 2) == 38.86
    assert first.monetary_value == pytest.approx((29.73 + 14.96) / 2)  # repeats only


def test_same_day_purchases_collapse_and_first_purchase_is_not_spend():
    tx = [
        ("a", date(2024, 1, 1), 100),
        ("a", datetime(2024, 1, 8, 9, 30), 10),
        ("a", datetime(2024, 1, 8, 17, 0), 5),  # same day: one transaction of 15
        ("a", date(2024, 1, 15), 25),
        ("a", date(2024, 2, 1), 999),  # after calibration: holdout
        ("b", date(2024, 1, 29), 40),
        ("c", date(2024, 2, 2), 7),  # first purchase after calibration: left out
    ]
    rows = bgnbd.rfm_from_transactions(tx, date(2024, 1, 29), observation_end=date(2024, 2, 5))
    assert [row.customer_id for row in rows] == ["a", "b"]
    a, b = rows
    assert (a.frequency, a.recency, a.T, a.monetary_value) == (2, 2.0, 4.0, 20.0)
    assert (a.holdout_frequency, a.holdout_duration) == (1, 1.0)
    assert (b.frequency, b.recency, b.T, b.monetary_value) == (0, 0.0, 0.0, 0.0)
    days = bgnbd.rfm_from_transactions(tx, date(2024, 1, 29), time_unit="days")
    assert (days[0].recency, days[0].T) == (14.0, 28.0)
    assert days[0].holdout_frequency is None


# --- published estimates ---------------------------------------------------------


def test_bgnbd_reproduces_fader_hardie_lee_2005(bg):
    assert bg.converged
    assert round(bg.r, 3) == 0.243
    assert round(bg.alpha, 3) == 4.414
    assert round(bg.a, 3) == 0.793
    assert round(bg.b, 3) == 2.426
    assert round(bg.log_likelihood, 1) == -9582.4
    assert (bg.n_customers, bg.n_repeat_buyers) == (2357, 946)


def test_gamma_gamma_reproduces_fader_hardie_2013(gg):
    assert gg.converged
    assert gg.n_customers == 946
    assert round(gg.p, 2) == 6.25
    assert round(gg.q, 2) == 3.74
    assert round(gg.gamma, 2) == 15.44


def test_conditional_expectation_worked_example(bg):
    assert round(bgnbd.expected_purchases(bg, 39, 2, 30.43, 38.86), 3) == 1.226


def test_expected_purchases_vectorised_and_zero_at_t0(bg, arrays):
    x, t_x, T, _ = arrays
    now = bgnbd.expected_purchases(bg, 0, x, t_x, T)
    later = bgnbd.expected_purchases(bg, 39, x, t_x, T)
    assert now.shape == later.shape == x.shape
    assert np.all(now == 0)
    assert np.all(np.isfinite(later)) and np.all(later > 0)
    # heavy buyers stay finite (the untransformed 2F1 overflows here)
    assert np.isfinite(bgnbd.expected_purchases(bg, 52, 1000, 10, 10))


def test_probability_alive_is_a_probability(bg, arrays):
    x, t_x, T, _ = arrays
    alive = bgnbd.probability_alive(bg, x, t_x, T)
    assert np.all((alive >= 0) & (alive <= 1))
    assert np.all(alive[x == 0] == 1)
    # a customer who bought often but long ago is less likely alive than a recent one
    assert bgnbd.probability_alive(bg, 5, 5, 38) < bgnbd.probability_alive(bg, 5, 37, 38)


def test_expected_average_spend_shrinks_towards_population_mean(gg):
    population = gg.p * gg.gamma / (gg.q - 1)
    assert bgnbd.expected_average_spend(gg, 0, 0) == pytest.approx(population)
    one = bgnbd.expected_average_spend(gg, 1, 100.0)
    many = bgnbd.expected_average_spend(gg, 20, 100.0)
    assert population < one < many < 100.0


def test_discounted_clv_positive_and_monotone_in_horizon(bg, gg, arrays):
    x, t_x, T, m = arrays
    clvs = [
        bgnbd.discounted_clv(bg, gg, x, t_x, T, horizon_months=h, monetary_value=m)
        for h in (1, 3, 6, 12, 24)
    ]
    for shorter, longer in zip(clvs, clvs[1:], strict=False):
        assert np.all(longer > shorter)
    assert np.all(clvs[0] > 0)
    assert bgnbd.discounted_clv(bg, gg, 2, 30.43, 38.86, horizon_months=0) == 0.0
    # margin scales linearly; discounting lowers the value
    base = bgnbd.discounted_clv(bg, gg, 2, 30.43, 38.86)
    assert bgnbd.discounted_clv(bg, gg, 2, 30.43, 38.86, margin=0.3) == pytest.approx(0.3 * base)
    assert bgnbd.discounted_clv(bg, gg, 2, 30.43, 38.86, discount_monthly=0.0) > base


# --- data that cannot support a fit --------------------------------------------------


def test_no_repeat_buyers_is_a_model_fit_error():
    with pytest.raises(bgnbd.ModelFitError, match="repeat purchase"):
        bgnbd.fit_bgnbd([0, 0, 0], [0, 0, 0], [5.0, 6.0, 7.0])
    with pytest.raises(bgnbd.ModelFitError):
        bgnbd.fit_gamma_gamma([0, 0, 0], [0, 0, 0])


def test_unidentifiable_data_is_a_model_fit_error():
    with pytest.raises(bgnbd.ModelFitError):
        bgnbd.fit_bgnbd([1] * 10, [1.0] * 10, [10.0] * 10)
    with pytest.raises(bgnbd.ModelFitError):
        bgnbd.fit_gamma_gamma([1, 2, 3, 1, 1], [10.0] * 5)


def test_malformed_input_is_a_value_error():
    with pytest.raises(ValueError):
        bgnbd.fit_bgnbd([1, 2], [5.0, 9.0], [4.0, 10.0])  # recency > T
    with pytest.raises(ValueError):
        bgnbd.rfm_from_transactions([], date(2024, 1, 1), time_unit="fortnights")
