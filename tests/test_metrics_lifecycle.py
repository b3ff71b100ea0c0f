"""Lifecycle status (active / at-risk / churned / never) and revenue at stake; today is
2026-11-22 (conftest), thresholds 90 / 180 days, gap factor 2."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crmcli.config import Config
from crmcli.metrics.lifecycle import at_risk, classify, lifecycle_rows, status_counts


@pytest.mark.parametrize("days,gap,expected", [
    (0, None, ("active", 90)),
    (90, None, ("active", 90)),        # the threshold itself is still active
    (91, None, ("at-risk", 90)),
    (180, None, ("at-risk", 90)),
    (181, None, ("churned", 90)),
    (21, 10.0, ("at-risk", 20)),       # weekly-ish buyer: 2 x 10 days
    (20, 10.0, ("active", 20)),
    (100, 365.0, ("at-risk", 90)),     # the configured threshold caps a long own gap
    (200, 365.0, ("churned", 90)),
])
def test_classify(days, gap, expected):
    assert classify(days, gap, 90, 180, 2.0) == expected


def test_gap_factor_zero_switches_the_own_gap_off_and_thresholds_never_cross():
    assert classify(30, 5.0, 90, 180, 0) == ("active", 90)
    assert classify(60, None, 90, 50, 2.0) == ("churned", 50)


def test_lifecycle_rows_by_hand(store):
    ids = {n: store.clients.add(n) for n in ("P", "Q", "R", "Old", "S", "T", "U")}
    deals = [
        # P: monthly buyer; gaps 30 and 31 days -> usual 30.5, at risk after 61; quiet 21 days
        ("P", "2026-09-01T12:00:00Z", "10"), ("P", "2026-10-01T12:00:00Z", "10"),
        ("P", "2026-11-01T12:00:00Z", "10"),
        # Q: gaps 10, 10 -> at risk after 20 days; quiet since Jun 21 = 154 days -> at-risk
        ("Q", "2026-06-01T12:00:00Z", "100"), ("Q", "2026-06-11T12:00:00Z", "200"),
        ("Q", "2026-06-21T12:00:00Z", "300.50"),
        # R: one purchase 113 days ago -> at-risk (no own gap)
        ("R", "2026-08-01T12:00:00Z", "50"),
        # Old: one purchase 690 days ago -> churned
        ("Old", "2025-01-01T12:00:00Z", "5000"),
        # S: two deals at the same instant two days ago: one active day, no gap, active
        ("S", "2026-11-20T10:00:00Z", "1"), ("S", "2026-11-20T10:00:00Z", "1"),
        # U: 2025-10-01 (outside the trailing year) and 2026-07-01 -> 144 days quiet, at-risk;
        #    revenue at stake only counts the 2026 deal
        ("U", "2025-10-01T12:00:00Z", "7000"), ("U", "2026-07-01T12:00:00Z", "1000"),
    ]
    for name, at, amount in deals:
        store.deals.add(ids[name], amount, at=at)
    store.deals.add(ids["T"], "999", at="2026-11-01T12:00:00Z", status="open")  # T: never
    rows = {r["client"]: r for r in lifecycle_rows(store, Config())}
    assert set(rows) == {"P", "Q", "R", "Old", "S", "U"}
    got = {n: (r["status"], r["days_since"], r["usual_gap_days"], r["at_risk_after_days"],
               r["revenue_at_stake"]) for n, r in rows.items()}
    assert got == {
        "P": ("active", 21, 30.5, 61.0, Decimal("30")),
        "Q": ("at-risk", 154, 10.0, 20.0, Decimal("600.50")),
        "R": ("at-risk", 113, None, 90.0, Decimal("50")),
        "Old": ("churned", 690, None, 90.0, Decimal("0")),
        "S": ("active", 2, None, 90.0, Decimal("2")),
        "U": ("at-risk", 144, 273.0, 90.0, Decimal("1000")),
    }
    assert rows["S"]["active_days"] == 1
    assert [r["client"] for r in at_risk(list(rows.values()))] == ["U", "Q", "R"]
    assert status_counts(list(rows.values()), 7) == {"active": 2, "at-risk": 3, "churned": 1,
                                                     "never": 1}


def test_thresholds_come_from_the_config(store):
    cid = store.clients.add("R")
    store.deals.add(cid, "50", at="2026-08-01T12:00:00Z")   # 113 days ago
    config = Config()
    config.data["lifecycle"].update({"at_risk_days": 120, "churned_days": 200})
    assert lifecycle_rows(store, config)[0]["status"] == "active"
    config.data["lifecycle"].update({"at_risk_days": 30, "churned_days": 100})
    assert lifecycle_rows(store, config)[0]["status"] == "churned"


def test_empty_book(store):
    assert lifecycle_rows(store, Config()) == []
    assert status_counts([], 0) == {"active": 0, "at-risk": 0, "churned": 0, "never": 0}


def _days_by_hand(events):
    """first, last, distinct days and median gap of (UTC ISO) times, the slow obvious way."""
    from datetime import date

    days = sorted({at[:10] for at in events})
    gaps = sorted((date.fromisoformat(b) - date.fromisoformat(a)).days
                  for a, b in zip(days, days[1:], strict=False))
    n = len(gaps)
    median = None if not gaps else (gaps[(n - 1) // 2] + gaps[n // 2]) / 2
    return days[0], days[-1], len(days), median


@pytest.mark.parametrize("activity", ["deals", "interactions", "any"])
def test_activity_days_match_a_by_hand_count(store, activity):
    import random

    rng = random.Random(activity)
    ids = [store.clients.add(f"C{i}") for i in range(12)]
    events: dict[int, list[str]] = {cid: [] for cid in ids}
    for cid in ids[:-1]:  # the last one never does anything
        for _ in range(rng.randint(1, 9)):
            # January to October: before the pinned now (an interaction cannot be later).
            at = (f"2026-{rng.randint(1, 10):02d}-{rng.randint(1, 28):02d}"
                  f"T{rng.randint(0, 23):02d}:00:00Z")
            if rng.random() < 0.5:
                status = rng.choice(("won", "won", "lost"))
                store.deals.add(cid, "10", at=at, status=status)
                if status == "won" and activity in ("deals", "any"):
                    events[cid].append(at)
            else:
                store.interactions.log(cid, "x", at=at)
                if activity in ("interactions", "any"):
                    events[cid].append(at)
    store.clients.archive(ids[0])
    rows = store.reports.activity_days(activity)
    expected = {cid: _days_by_hand(ev) for cid, ev in events.items() if ev and cid != ids[0]}
    assert [r["client_id"] for r in rows] == sorted(expected)
    for r in rows:
        assert (r["first_day"], r["last_day"], r["days"], r["median_gap"]) == \
            expected[r["client_id"]], r
        assert r["name"] == f"C{ids.index(r['client_id'])}"
    # one client: archived or not, the same figures
    if events[ids[0]]:
        (one,) = store.reports.activity_days(activity, client_id=ids[0])
        assert (one["first_day"], one["last_day"], one["days"], one["median_gap"]) == \
            _days_by_hand(events[ids[0]])
    assert store.reports.activity_days(activity, client_id=ids[-1]) == []
