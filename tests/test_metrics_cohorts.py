"""The cohort matrix, worked out by hand."""

from __future__ import annotations

from crmcli.config import Config
from crmcli.metrics.cohorts import cohort_rows


def won(store, cid, at):
    store.deals.add(cid, "10", at=at)


def test_monthly_cohorts_by_hand(store):
    a, b, c, d = (store.clients.add(n) for n in "ABCD")
    # A: Jan, Feb, Apr; B: Jan, Feb; C: Feb (twice, same instant); D: Dec 2025 and Mar.
    for cid, at in [(a, "2026-01-10T12:00:00Z"), (a, "2026-02-05T12:00:00Z"),
                    (a, "2026-04-20T12:00:00Z"), (b, "2026-01-31T23:59:59Z"),
                    (b, "2026-02-01T00:00:00Z"), (c, "2026-02-15T09:00:00Z"),
                    (c, "2026-02-15T09:00:00Z"), (d, "2025-12-01T12:00:00Z"),
                    (d, "2026-03-03T12:00:00Z")]:
        won(store, cid, at)
    rows = cohort_rows(store, Config(), "month", "2026-01-01", "2026-04-30")
    assert [(r["cohort"], r["size"], r["active"], r["retention"]) for r in rows] == [
        # Jan cohort {A, B}: Feb both, Mar none, Apr A
        ("2026-01", 2, [2, 2, 0, 1], [1.0, 1.0, 0.0, 0.5]),
        # Feb cohort {C}: never again
        ("2026-02", 1, [1, 0, 0], [1.0, 0.0, 0.0]),
        # D's first activity is Dec 2025: not a March cohort
        ("2026-03", 0, [0, 0], [None, None]),
        ("2026-04", 0, [0], [None]),
    ]


def test_quarterly_cohorts_and_the_window_start(store):
    a, b = store.clients.add("A"), store.clients.add("B")
    won(store, a, "2025-11-15T12:00:00Z")   # cohort 2025-Q4, before the window
    won(store, a, "2026-02-15T12:00:00Z")
    won(store, b, "2026-02-20T12:00:00Z")   # cohort 2026-Q1
    won(store, b, "2026-08-20T12:00:00Z")   # Q3
    rows = cohort_rows(store, Config(), "quarter", "2026-01-01", "2026-09-30")
    assert [(r["cohort"], r["size"], r["active"]) for r in rows] == [
        ("2026-Q1", 1, [1, 0, 1]), ("2026-Q2", 0, [0, 0]), ("2026-Q3", 0, [0])]


def test_empty_database_and_default_window(store):
    rows = cohort_rows(store, Config(), "month")
    assert len(rows) == 12
    assert rows[0]["cohort"] == "2025-12" and len(rows[0]["active"]) == 12
    assert rows[-1] == {"cohort": "2026-11", "start": "2026-11-01", "partial": True, "size": 0,
                        "active": [0], "retention": [None]}
