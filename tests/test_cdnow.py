"""The CDNOW 1/10 sample (2,357 customers, 1997-1998) as won deals: the monthly cohort matrix
and quarterly retention agree with an independent pandas computation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crmcli.config import Config
from crmcli.metrics.cohorts import cohort_rows
from crmcli.metrics.retention import retention_rows

FIXTURE = Path(__file__).parent / "fixtures" / "cdnow_sample.csv"


@pytest.fixture(scope="module")
def cdnow():
    return pd.read_csv(FIXTURE, dtype={"amount": str})


@pytest.fixture
def loaded(store, cdnow):
    ts = "1997-01-01T00:00:00Z"
    with store.change("test", "cdnow"):
        store.insert_many("clients", ["id", "name", "custom", "created_at", "updated_at"],
                           [(int(c), f"cdnow {c}", "{}", ts, ts)
                            for c in sorted(cdnow.customer_id.unique())])
        store.insert_many("deals", ["client_id", "amount", "currency", "at", "status",
                                     "created_at"],
                           [(int(r.customer_id), r.amount, "USD", f"{r.date}T12:00:00Z", "won",
                             ts) for r in cdnow.itertuples()])
    return store


def test_sample_size(cdnow):
    assert cdnow.customer_id.nunique() == 2357


def test_monthly_cohort_matrix_matches_pandas(loaded, cdnow):
    df = cdnow.assign(month=pd.to_datetime(cdnow.date).dt.to_period("M"))
    pairs = df[["customer_id", "month"]].drop_duplicates()
    first = pairs.groupby("customer_id").month.min().rename("cohort")
    pairs = pairs.join(first, on="customer_id")
    pairs["k"] = (pairs.month - pairs.cohort).apply(lambda off: off.n)
    counts = pairs.groupby(["cohort", "k"]).customer_id.nunique().unstack(fill_value=0)
    rows = cohort_rows(loaded, Config(), "month", "1997-01-01", "1998-06-30")
    assert len(rows) == 18
    for row in rows:
        period = pd.Period(row["cohort"], "M")
        expected = counts.loc[period] if period in counts.index else None
        size = int(expected[0]) if expected is not None else 0
        assert row["size"] == size, row["cohort"]
        for k, n in enumerate(row["active"]):
            assert n == (int(expected.get(k, 0)) if expected is not None else 0), (row["cohort"], k)
            if size:
                assert row["retention"][k] == pytest.approx(n / size, abs=1e-12)
    # the well-known shape of CDNOW: every customer's first purchase is in Jan-Mar 1997
    assert sum(r["size"] for r in rows) == 2357
    assert all(r["size"] == 0 for r in rows[3:])


def test_quarterly_retention_matches_pandas(loaded, cdnow):
    df = cdnow.assign(q=pd.to_datetime(cdnow.date).dt.to_period("Q"))
    active = df.groupby("q").customer_id.apply(set)
    quarters = pd.period_range("1997Q1", "1998Q2", freq="Q")
    seen: set = set()
    expected = []
    for q in quarters:
        now, before = active.get(q, set()), active.get(q - 1, set())
        retained = len(now & before)
        expected.append((str(q).replace("Q", "-Q"), len(now), len(before), retained,
                         len(now - seen), len((now - before) & seen),
                         retained / len(before) if before else None))
        seen |= now
    rows = retention_rows(loaded, Config(), "quarter", "1997-01-01", "1998-06-30")
    assert [(r["period"], r["active"], r["previous_active"], r["retained"], r["new"],
             r["reactivated"], r["retention"]) for r in rows] == expected
