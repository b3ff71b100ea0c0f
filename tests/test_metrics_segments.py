"""RFM segments and A/B/C tiers (crmcli.metrics.segments, crmcli.services.tiers) on small books built
by hand in a real store; expected numbers are worked out in the comments.
Now is 2026-11-22T10:00:00Z (UTC), currency USD, tiers a_share 0.8, b_share 0.95."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from crmcli import dates
from crmcli.config import Config
from crmcli.metrics.segments import (
    SEGMENT_NAMES,
    abc_tiers,
    book_segments,
    quintile_scores,
    rfm_scores,
    segment_of,
    segment_summary,
    tier_of_client,
    tier_totals,
)
from crmcli.services.tiers import client_ids_in_tier, tiers_by_client

CFG = Config()


@pytest.fixture
def book(store):
    ids = {}
    for name in "ABCDEFGH":
        ids[name] = store.clients.add(f"Client {name}", owner="alex" if name < "D" else "sam")
    deal = store.deals.add
    deal(ids["A"], "100", at="2026-11-21T23:00:00Z")  # 11 h ago, but yesterday: 1 day
    deal(ids["A"], "200", at="2026-10-01T00:00:00Z")
    deal(ids["A"], "300", at="2026-06-01T00:00:00Z")
    deal(ids["B"], "1000", at="2026-11-01T00:00:00Z")  # one purchase, 21 days ago
    deal(ids["C"], "50", at="2026-04-01T00:00:00Z")
    deal(ids["C"], "50.00", at="2026-05-01T00:00:00Z")  # 205 days ago
    deal(ids["D"], "250", at="2026-09-01T00:00:00Z")
    deal(ids["D"], "250", at="2026-09-15T00:00:00Z")
    deal(ids["D"], "100", at="2026-10-22T00:00:00Z")  # 31 days ago
    deal(ids["E"], "40", at="2025-12-01T00:00:00Z")   # 356 days ago
    deal(ids["E"], "9999", at="2026-11-01T00:00:00Z", status="open")   # not revenue
    deal(ids["E"], "5000", at="2026-11-02T00:00:00Z", status="lost")
    deal(ids["F"], "700", at="2026-11-01T00:00:00Z", status="open")    # F: no won deal
    deal(ids["G"], "5000", at="2026-11-01T00:00:00Z")
    store.clients.archive(ids["G"])                                      # archived
    deal(ids["H"], "700", at="2026-11-01T00:00:00Z", currency="EUR")   # other currency
    return ids


def test_rfm_scores_segments_and_ties(store, book):
    rfm, _ = book_segments(store, CFG)
    # five clients with won USD deals (A B C D E), n = 5; score = 1 + 5(2w + s) // 2n
    # recency days A 1, B 21, C 205, D 31, E 356 (fewer is better): E 1, C 2, D 3, B 4, A 5
    # frequency A 3, B 1, C 2, D 3, E 1: value 1 (B, E: w 0, s 2) -> 1 + 10 // 10 = 2;
    #   2 (C: w 2, s 1) -> 1 + 25 // 10 = 3; 3 (A, D: w 3, s 2) -> 1 + 40 // 10 = 5
    # monetary A 600, B 1000, C 100, D 600, E 40: E 1; C 1 + 15 // 10 = 2;
    #   A, D (w 2, s 2) 1 + 30 // 10 = 4; B (w 4, s 1) 1 + 45 // 10 = 5
    # segments (R, F): A (5, 5) Champions; B (4, 2) Potential loyalists; C (2, 3) At risk;
    #   D (3, 5) Loyal; E (1, 2) Hibernating
    got = [(r.name, r.recency_days, r.frequency, r.monetary, r.rfm, r.segment) for r in rfm]
    assert got == [
        ("Client A", 1, 3, Decimal("600"), "554", "Champions"),
        ("Client B", 21, 1, Decimal("1000"), "425", "Potential loyalists"),
        ("Client C", 205, 2, Decimal("100.00"), "232", "At risk"),
        ("Client D", 31, 3, Decimal("600"), "354", "Loyal"),
        ("Client E", 356, 1, Decimal("40"), "121", "Hibernating"),
    ]


def test_segment_summary(store, book):
    rfm, _ = book_segments(store, CFG)
    rows = {r["segment"]: r for r in segment_summary(rfm)}
    assert list(rows) == SEGMENT_NAMES
    # one client of five in each non-empty segment: share 20.0
    assert rows["Champions"] == {"segment": "Champions", "clients": 1, "share": 20.0,
                                 "revenue": Decimal("600"), "avg_recency_days": 1.0,
                                 "avg_frequency": 3.0, "avg_monetary": Decimal("600.00")}
    assert rows["At risk"]["revenue"] == Decimal("100.00")
    assert rows["New customers"] == {"segment": "New customers", "clients": 0, "share": 0.0,
                                     "revenue": Decimal(0), "avg_recency_days": None,
                                     "avg_frequency": None, "avg_monetary": None}
    assert sum(r["clients"] for r in rows.values()) == 5


def test_abc_tiers(store, book):
    _, tiers = book_segments(store, CFG)
    # live clients A B C D E F H (G archived); USD revenue B 1000, A 600, D 600, C 100,
    # E 40 = 2340. Ranked (ties by id: A before D), share before each:
    # B 0 -> A; A 1000/2340 = .427 -> A; D 1600/2340 = .684 -> A;
    # C 2200/2340 = .940 (< .95) -> B; E 2300/2340 = .983 -> C; F, H no revenue -> C
    n = {v: k for k, v in book.items()}
    assert {n[cid]: t for cid, t in tiers.items()} == {
        "A": "A", "B": "A", "C": "B", "D": "A", "E": "C", "F": "C", "H": "C"}
    assert tiers_by_client(store) == tiers
    assert sorted(n[c] for c in client_ids_in_tier(store, "a")) == ["A", "B", "D"]
    # 7 clients: A 3 (42.9 %) with 2200 of 2340 (94.0 %); B 1 (14.3 %) 100 (4.3 %);
    # C 3 (42.9 %) 40 (1.7 %)
    rfm, _ = book_segments(store, CFG)
    assert tier_totals(tiers, {r.client_id: r.monetary for r in rfm}) == [
        {"tier": "A", "clients": 3, "client_share": 100 * 3 / 7, "revenue": Decimal("2200"),
         "revenue_share": float(100 * Decimal(2200) / Decimal(2340))},
        {"tier": "B", "clients": 1, "client_share": 100 * 1 / 7, "revenue": Decimal("100.00"),
         "revenue_share": float(100 * Decimal(100) / Decimal(2340))},
        {"tier": "C", "clients": 3, "client_share": 100 * 3 / 7, "revenue": Decimal("40"),
         "revenue_share": float(100 * Decimal(40) / Decimal(2340))},
    ]


def test_a_window_takes_its_deals_and_counts_recency_to_its_end(store, book):
    rfm, tiers = book_segments(store, CFG, since="2026-06-01", until="2026-10-31")
    # won USD deals in [06-01 00:00, 11-01 00:00): A 300 (06-01, on the edge: in) and 200
    # (10-01); D 250, 250, 100 (last 10-22). B's deal at 11-01 00:00 is just past the end,
    # C's and E's are before the start. Today is 10-31: recency A 30, D 9 days.
    # n = 2, score = 1 + 5(2w + s) // 4: the worse one 1 + 5 // 4 = 2, the better 1 + 15 // 4 = 4
    # A: R 2, F 2, M 2 -> Hibernating; D: R 4, F 4, M 4 -> Loyal
    got = [(r.name, r.recency_days, r.frequency, r.monetary, r.rfm, r.segment) for r in rfm]
    assert got == [("Client A", 30, 2, Decimal("500"), "222", "Hibernating"),
                   ("Client D", 9, 3, Decimal("600"), "444", "Loyal")]
    # tiers on the window's revenue: D 600 (share before 0) and A 500 (600/1100 < .8) are A
    n = {v: k for k, v in book.items()}
    assert {n[cid]: t for cid, t in tiers.items()} == {
        "A": "A", "B": "C", "C": "C", "D": "A", "E": "C", "F": "C", "H": "C"}


def test_since_alone_keeps_recency_to_today(store, book):
    rfm, _ = book_segments(store, CFG, since="2026-10-01")
    # deals from 10-01: A 100 (11-21 23:00, yesterday) and 200; B 1000; D 100 (10-22)
    assert [(r.name, r.recency_days, r.frequency) for r in rfm] == [
        ("Client A", 1, 2), ("Client B", 21, 1), ("Client D", 31, 1)]


def test_tier_lines_are_exact():
    # 80 of 100 before the third client: not under 0.8, so it is B (a float 0.8 test
    # would depend on rounding); the one that crosses the line (50 -> 80) is still A
    revenues = {1: Decimal("50"), 2: Decimal("30"), 3: Decimal("15"), 4: Decimal("5")}
    assert tier_of_client(revenues, [1, 2, 3, 4]) == {1: "A", 2: "A", 3: "B", 4: "C"}
    # before 3: 95 of 100 = b_share exactly: C
    revenues = {1: Decimal("80"), 2: Decimal("15"), 3: Decimal("5")}
    assert tier_of_client(revenues, [1, 2, 3]) == {1: "A", 2: "B", 3: "C"}
    rows = abc_tiers(revenues, [1, 2, 3, 9])
    assert [(r.client_id, r.tier, r.share, r.cumulative_share) for r in rows] == [
        (1, "A", 0.8, 0.8), (2, "B", 0.15, 0.95), (3, "C", 0.05, 1.0), (9, "C", 0.0, 1.0)]


def test_quintile_ties_share_a_score():
    assert quintile_scores([10, 20, 30, 40, 50]) == [1, 2, 3, 4, 5]
    # ten distinct values: two per quintile
    assert quintile_scores(list(range(10))) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # everyone alike: the middle score
    assert quintile_scores([7, 7, 7]) == [3, 3, 3]
    # four 1s and a 2: 1 -> 1 + 5 * 4 // 10 = 3; 2 -> 1 + 5 * 9 // 10 = 5
    assert quintile_scores([1, 1, 2, 1, 1]) == [3, 3, 5, 3, 3]


def test_every_rf_pair_has_exactly_one_segment():
    names = [segment_of(r, f) for r in range(1, 6) for f in range(1, 6)]
    assert len(names) == 25 and set(names) == set(SEGMENT_NAMES)


def test_recency_counts_local_calendar_days(monkeypatch):
    # 23:30 UTC on the 21st is 08:30 on the 22nd in Tokyo: today there, 0 days
    inputs = [{"client_id": 1, "deals": 1, "revenue": Decimal(1),
               "last_at": "2026-11-21T23:30:00Z"}]
    now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    assert rfm_scores(inputs, now)[0].recency_days == 1
    dates.set_timezone("Asia/Tokyo")
    try:
        assert rfm_scores(inputs, now)[0].recency_days == 0
    finally:
        dates.set_timezone("UTC")


def test_a_single_client(store):
    cid = store.clients.add("Solo")
    store.deals.add(cid, "10", at="2026-11-01T00:00:00Z")
    rfm, tiers = book_segments(store, CFG)
    # a lone client scores 3 on each: (R 3, F 3) is Need attention; all the revenue: A
    assert [(r.rfm, r.segment) for r in rfm] == [("333", "Need attention")]
    assert tiers == {cid: "A"}


def test_empty_database(store):
    rfm, tiers = book_segments(store, CFG)
    assert rfm == [] and tiers == {}
    assert all(r["clients"] == 0 and r["share"] is None for r in segment_summary(rfm))
    assert tier_totals(tiers, {}) == [
        {"tier": t, "clients": 0, "client_share": None, "revenue": Decimal(0),
         "revenue_share": None} for t in "ABC"]


def test_clients_without_revenue_are_all_c(store):
    ids = [store.clients.add(n) for n in ("X", "Y")]
    store.deals.add(ids[0], "10", status="open")
    assert tiers_by_client(store) == {ids[0]: "C", ids[1]: "C"}
