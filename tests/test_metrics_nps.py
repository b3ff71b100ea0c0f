"""NPS (crmcli.metrics.nps) on small books built by hand in a real store; expected numbers
are worked out in the comments. Now is 2026-11-22T10:00:00Z (UTC)."""

from __future__ import annotations

import pytest

from crmcli.errors import UsageError
from crmcli.metrics.nps import nps_report, nps_row, nps_summary


def score(store, cid, at, value, kind="feedback"):
    return store.interactions.log(cid, f"score {value}", at=at, direction="in", kind=kind,
                                  score=value)["interaction_id"]


def nps(period, responses, promoters, passives, detractors, p_pct, pa_pct, d_pct, value):
    return {"period": period, "responses": responses, "promoters": promoters,
            "passives": passives, "detractors": detractors, "promoters_pct": p_pct,
            "passives_pct": pa_pct, "detractors_pct": d_pct, "nps": value}


@pytest.fixture
def book(store):
    a, b, c, d = (store.clients.add(n) for n in ("A", "B", "C", "D"))
    gone, quiet = store.clients.add("Gone"), store.clients.add("Quiet")
    score(store, a, "2026-03-01T10:00:00Z", 3)           # A: detractor in Q1 ...
    score(store, a, "2026-10-01T10:00:00Z", 10)          # ... promoter since: latest counts
    score(store, b, "2026-10-05T10:00:00Z", 8)           # B: two scores at the same second:
    score(store, b, "2026-10-05T10:00:00Z", 6, "note")   # the later logged (6) counts
    score(store, c, "2026-11-10T10:00:00Z", 9)           # C: promoter
    score(store, d, "2026-02-01T10:00:00Z", 7)           # D: passive
    score(store, gone, "2026-10-01T10:00:00Z", 0)        # archived: left out
    store.clients.archive(gone)
    store.interactions.log(quiet, "no score", at="2026-10-01T10:00:00Z")
    return store


def test_all_time_uses_each_clients_latest_score(book):
    # A 10 (P), B 6 (D), C 9 (P), D 7 (passive): 4 responses
    # % promoters 2/4 = 50, % detractors 1/4 = 25 -> NPS 25
    assert nps_report(book) == [nps("all", 4, 2, 1, 1, 50.0, 25.0, 25.0, 25.0)]


def test_by_quarter_uses_the_latest_score_within_each_quarter(book):
    # Q1: A 3 (D), D 7 (passive) -> 0 - 50 = -50.  Q2, Q3: no scores.
    # Q4: A 10, B 6, C 9 -> 2 P, 1 D of 3: 66.7 - 33.3 = 33.3 (unrounded: 200/3, 100/3)
    assert nps_report(book, period="quarter", since="2026-01-01") == [
        nps("2026-Q1", 2, 0, 1, 1, 0.0, 50.0, 50.0, -50.0),
        nps("2026-Q2", 0, 0, 0, 0, None, None, None, None),
        nps("2026-Q3", 0, 0, 0, 0, None, None, None, None),
        nps("2026-Q4", 3, 2, 0, 1, 200 / 3, 0.0, 100 / 3, 100 / 3),
    ]


def test_by_month_between_since_and_until(book):
    # 2026-10: A 10, B 6 -> 50 - 50 = 0.  2026-11: C 9 -> 100
    assert nps_report(book, period="month", since="2026-10-01", until="2026-11-30") == [
        nps("2026-10", 2, 1, 0, 1, 50.0, 0.0, 50.0, 0.0),
        nps("2026-11", 1, 1, 0, 0, 100.0, 0.0, 0.0, 100.0),
    ]


def test_default_window_is_the_last_twelve_months(book):
    rows = nps_report(book, period="month")
    assert [r["period"] for r in rows][:1] + [r["period"] for r in rows][-1:] == [
        "2025-12", "2026-11"]
    assert len(rows) == 12 and sum(r["responses"] for r in rows) == 5  # 2 + 2 + 1 above


def test_since_until_without_period(book):
    # scores on 2026-10-01 .. today: A 10, B 6, C 9 -> (2 - 1) / 3 = 33.3
    assert nps_report(book, since="2026-10-01") == [
        nps("2026-10-01..", 3, 2, 0, 1, 200 / 3, 0.0, 100 / 3, 100 / 3)]
    # --until includes its whole day: 2026-10-05 still holds B's 6
    assert nps_report(book, since="2026-10-02", until="2026-10-05") == [
        nps("2026-10-02..2026-10-05", 1, 0, 0, 1, 0.0, 0.0, 100.0, -100.0)]


def test_a_period_with_no_scores(book):
    assert nps_report(book, since="2026-06-01", until="2026-06-30") == [
        nps("2026-06-01..2026-06-30", 0, 0, 0, 0, None, None, None, None)]


def test_empty_database(store):
    assert nps_report(store) == [nps("all", 0, 0, 0, 0, None, None, None, None)]
    assert all(r["responses"] == 0 for r in nps_report(store, period="year"))
    assert nps_summary(store) == {"nps": None, "promoters": 0, "passives": 0,
                                  "detractors": 0, "responses": 0}


def test_a_single_client(store):
    cid = store.clients.add("Solo")
    score(store, cid, "2026-11-01T10:00:00Z", 9)
    assert nps_report(store) == [nps("all", 1, 1, 0, 0, 100.0, 0.0, 0.0, 100.0)]


def test_band_edges():
    # 0-6 detractors, 7-8 passives, 9-10 promoters; NPS is computed from the counts, not
    # from shares: (1 - 2) / 3 = -33.3, unrounded
    assert nps_row(3, 1, 0, 2)["nps"] == 100 * (1 - 2) / 3
    assert nps_row(7, 3, 2, 2)["nps"] == 100 * (3 - 2) / 7   # 14.29


def test_scores_on_the_band_edges_land_in_the_right_band(store):
    for value in (0, 6, 7, 8, 9, 10):
        score(store, store.clients.add(f"S{value}"), "2026-11-01T10:00:00Z", value)
    # promoters 9, 10; passives 7, 8; detractors 0, 6 -> 0
    assert nps_report(store) == [nps("all", 6, 2, 2, 2, 100 * 2 / 6, 100 * 2 / 6, 100 * 2 / 6,
                                     0.0)]


def test_bad_period(store):
    with pytest.raises(UsageError, match="--period 'week'"):
        nps_report(store, period="week")
