"""Retention, churn, new/retained/reactivated per period, worked out by hand."""

from __future__ import annotations

import pytest

from crmcli import dates
from crmcli.config import Config
from crmcli.metrics.periods import index_of, label, month_map
from crmcli.metrics.retention import retention_rows


def won(store, client_id, at, amount="100", status="won", currency=None):
    store.deals.add(client_id, amount, at=at, status=status, currency=currency)


@pytest.fixture
def book(store):
    """A: Jan 10, Feb 5, Apr 20; B: Jan 31 23:59:59 and Feb 1 00:00 (UTC); C: two deals at the
    same instant in Feb; D: 2025-12-01 then Mar 3 (reactivated); E: only open/lost deals;
    F: archived, Feb deal (left out)."""
    ids = {n: store.clients.add(n) for n in "ABCDEF"}
    won(store, ids["A"], "2026-01-10T12:00:00Z")
    won(store, ids["A"], "2026-02-05T12:00:00Z")
    won(store, ids["A"], "2026-04-20T12:00:00Z")
    won(store, ids["B"], "2026-01-31T23:59:59Z")
    won(store, ids["B"], "2026-02-01T00:00:00Z")
    won(store, ids["C"], "2026-02-15T09:00:00Z")
    won(store, ids["C"], "2026-02-15T09:00:00Z")
    won(store, ids["D"], "2025-12-01T12:00:00Z")
    won(store, ids["D"], "2026-03-03T12:00:00Z")
    won(store, ids["E"], "2026-02-10T12:00:00Z", status="open")
    won(store, ids["E"], "2026-03-10T12:00:00Z", status="lost")
    won(store, ids["F"], "2026-02-10T12:00:00Z")
    store.clients.archive(ids["F"])
    return ids


def pick(rows, *keys):
    return [tuple(r[k] for k in keys) for r in rows]


KEYS = ("period", "active", "previous_active", "retained", "new", "reactivated", "lost",
        "retention", "churn")


def test_monthly_retention_worked_by_hand(store, book):
    rows = retention_rows(store, Config(), "month", "2026-01-01", "2026-05-31")
    assert pick(rows, *KEYS) == [
        # Jan: A, B new; Dec had D, who is not back in Jan -> 0 / 1 retained
        ("2026-01", 2, 1, 0, 2, 0, 1, 0.0, 1.0),
        # Feb: A, B retained; C new (two deals at one instant count once); F archived
        ("2026-02", 3, 2, 2, 1, 0, 0, 1.0, 0.0),
        # Mar: D back after a gap -> reactivated; E's lost deal is not activity
        ("2026-03", 1, 3, 0, 0, 1, 3, 0.0, 1.0),
        # Apr: A back -> reactivated
        ("2026-04", 1, 1, 0, 0, 1, 1, 0.0, 1.0),
        # May: a period with no activity at all
        ("2026-05", 0, 1, 0, 0, 0, 1, 0.0, 1.0),
    ]
    assert all(r["active"] == r["new"] + r["retained"] + r["reactivated"] for r in rows)
    assert rows[0]["start"] == "2026-01-01"


def test_quarterly_retention(store, book):
    rows = retention_rows(store, Config(), "quarter", "2026-01-01", "2026-09-30")
    assert pick(rows, *KEYS) == [
        # Q1: A, B, C new, D retained from Q4 2025 (1 / 1)
        ("2026-Q1", 4, 1, 1, 3, 0, 0, 1.0, 0.0),
        # Q2: only A: 1 of 4 retained
        ("2026-Q2", 1, 4, 1, 0, 0, 3, 0.25, 0.75),
        # Q3: nobody
        ("2026-Q3", 0, 1, 0, 0, 0, 1, 0.0, 1.0),
    ]


def test_yearly_retention_and_rates_undefined_without_a_previous_period(store, book):
    rows = retention_rows(store, Config(), "year", "2024-01-01", "2026-12-31")
    # 2024: nobody before, nobody now; 2025: D new; 2026: A, B, C new, D retained so far --
    # 2026 has not ended (today is 2026-11-22), so no lost, retention or churn for it yet
    assert pick(rows, *KEYS) == [
        ("2024", 0, 0, 0, 0, 0, 0, None, None),
        ("2025", 1, 0, 0, 1, 0, 0, None, None),
        ("2026", 4, 1, 1, 3, 0, None, None, None),
    ]
    assert [r["partial"] for r in rows] == [False, False, True]


def test_empty_database_gives_zero_rows_for_the_default_window(store):
    rows = retention_rows(store, Config(), "month")
    assert len(rows) == 12
    assert rows[-1]["period"] == "2026-11" and rows[0]["period"] == "2025-12"
    assert all(r["active"] == 0 and r["retention"] is None for r in rows)


def test_single_client_single_purchase(store, monkeypatch):
    cid = store.clients.add("Solo")
    won(store, cid, "2026-10-05T08:00:00Z")
    rows = retention_rows(store, Config(), "month", "2026-10-01", "2026-11-30")
    # November has not ended on 2026-11-22: Solo is not lost yet, and no churn is reported
    assert pick(rows, *KEYS) == [("2026-10", 1, 0, 0, 1, 0, 0, None, None),
                                 ("2026-11", 0, 1, 0, 0, 0, None, None, None)]
    monkeypatch.setenv("CRM_NOW", "2026-12-01T00:00:00+00:00")
    rows = retention_rows(store, Config(), "month", "2026-10-01", "2026-11-30")
    assert pick(rows, *KEYS)[1] == ("2026-11", 0, 1, 0, 0, 0, 1, 0.0, 1.0)


def test_interactions_and_any_activity(store, tmp_path):
    a, b = store.clients.add("A"), store.clients.add("B")
    won(store, a, "2026-01-10T12:00:00Z")
    store.interactions.log(b, "call", at="2026-01-12T12:00:00Z")
    store.interactions.log(a, "call", at="2026-02-12T12:00:00Z")

    def cfg(activity):
        c = Config()
        c.data["retention"]["activity"] = activity
        return c

    def actives(activity):
        return [r["active"] for r in retention_rows(store, cfg(activity), "month", "2026-01-01",
                                                      "2026-02-28")]

    assert actives("deals") == [1, 0]
    assert actives("interactions") == [1, 1]
    assert actives("any") == [2, 1]


def test_periods_follow_the_configured_zone(store):
    """A deal at 2026-01-31 20:00 UTC is in January in UTC and in February in Tokyo (05:00)."""
    cid = store.clients.add("Zoned")
    won(store, cid, "2026-01-31T20:00:00Z")
    assert [r["active"] for r in retention_rows(store, Config(), "month", "2026-01-01",
                                                  "2026-02-28")] == [1, 0]
    dates.set_timezone("Asia/Tokyo")
    assert [r["active"] for r in retention_rows(store, Config(), "month", "2026-01-01",
                                                  "2026-02-28")] == [0, 1]


@pytest.mark.parametrize("at,expected", [
    ("2026-01-31T22:59:59Z", "2026-01"),  # 23:59:59 CET
    ("2026-01-31T23:00:00Z", "2026-02"),  # 00:00 CET on Feb 1
    ("2026-03-31T21:59:59Z", "2026-03"),  # 23:59:59 CEST (summer time since Mar 29)
    ("2026-03-31T22:00:00Z", "2026-04"),  # 00:00 CEST on Apr 1
    ("2026-10-31T22:59:59Z", "2026-10"),  # 23:59:59 CET (winter time since Oct 25)
    ("2026-10-31T23:00:00Z", "2026-11"),
])
def test_month_boundaries_respect_daylight_saving(store, at, expected):
    dates.set_timezone("Europe/Berlin")
    cid = store.clients.add("Berlin")
    won(store, cid, at)
    rows = retention_rows(store, Config(), "month", "2026-01-01", "2026-11-30")
    assert [r["period"] for r in rows if r["active"]] == [expected]


def test_month_map_needs_no_fixes_for_fixed_offset_zones():
    dates.set_timezone("Asia/Tokyo")
    mm = month_map(index_of(dates.date(2025, 1, 1), "month"), index_of(dates.date(2026, 12, 1),
                                                                      "month"))
    assert (mm.shift_minutes, mm.fixes) == (540, ())
    assert label(index_of(dates.date(2026, 5, 9), "quarter"), "quarter") == "2026-Q2"
