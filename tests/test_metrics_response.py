"""Response time and complaint handling time (crmcli.metrics.response) on small books built
by hand in a real store; every expected number is worked out in a comment.

Now is pinned at 2026-11-22T10:00:00Z (UTC zone); the SLA is the default 24 hours."""

from __future__ import annotations

import random

import pytest

from crmcli.config import Config
from crmcli.errors import UsageError
from crmcli.metrics.response import interpolate, pending_list, quantile, response_report

CFG = Config()


@pytest.fixture(params=["reply index", "window pass"])
def ev_store(request, store):
    """The store with its (client_id, at, direction) index, and as a file that lost it
    (back to (client_id, at)): both SQL plans behind the report give the same numbers."""
    if request.param == "window pass":
        store.conn.execute("DROP INDEX interactions_client_at")
        store.conn.execute("CREATE INDEX interactions_client_at ON interactions(client_id, at)")
    store.events._reply_index = None
    assert store.events._has_reply_index() == (request.param == "reply index")
    return store


def log(store, cid, at, direction, channel="email", kind="note", **kw):
    return store.interactions.log(cid, f"{direction} {at}", at=at, channel=channel,
                                  direction=direction, kind=kind, **kw)["interaction_id"]


@pytest.fixture
def book(ev_store):
    s = ev_store
    a = s.clients.add("Alpha", owner="alex")
    b = s.clients.add("Beta", owner="sam")
    gone = s.clients.add("Gone", owner="alex")
    # Alpha: two inbound before one reply, a same-second reply, one never answered
    log(s, a, "2026-11-01T09:00:00Z", "in", "email")   # -> reply 11-02 09:00: 24 h
    log(s, a, "2026-11-01T12:00:00Z", "in", "call")    # -> same reply: 21 h
    log(s, a, "2026-11-02T09:00:00Z", "out", "email")
    log(s, a, "2026-11-10T10:00:00Z", "out", "chat")   # logged first, same second ...
    log(s, a, "2026-11-10T10:00:00Z", "in", "chat")    # ... still the reply: 0 h
    log(s, a, "2026-11-20T10:00:00Z", "in", "email")   # awaiting, age 48 h > SLA: a miss
    # Beta: an outbound before any inbound is nobody's reply
    log(s, b, "2026-10-05T08:00:00Z", "out", "call")
    log(s, b, "2026-10-05T09:00:00Z", "in", "call")    # -> reply 10-08 09:00: 72 h
    log(s, b, "2026-10-08T09:00:00Z", "out", "email")
    log(s, b, "2026-11-22T04:00:00Z", "in", "email")   # awaiting, age 6 h: not yet decided
    # an archived client's messages are left out
    log(s, gone, "2026-11-01T00:00:00Z", "in", "email")
    log(s, gone, "2026-11-05T00:00:00Z", "in", "email")
    s.clients.archive(gone)
    return s


def row(count, pending, median, p90, within, key="awaiting"):
    return {"count": count, key: pending, "median_hours": median, "p90_hours": p90,
            "within_sla": within, "sla_hours": 24.0}


def test_overall_response_time(book):
    # answered: 24, 21, 0, 72 h -> sorted 0, 21, 24, 72 (n = 4)
    # median: position 3 * 0.5 = 1.5 -> 21 + 0.5 * (24 - 21) = 22.5
    # p90: position 3 * 0.9 = 2.7 -> 24 + 0.7 * (72 - 24) = 57.6
    # within 24 h: 0, 21, 24 = 3; decided = 4 answered + 1 awaiting past the SLA -> 60.0 %
    assert response_report(book, CFG) == [row(4, 2, 22.5, 57.6, 60.0)]


def test_by_channel_uses_the_channel_of_the_inbound(book):
    # call: 21, 72 -> median 46.5, p90 21 + 0.9 * 51 = 66.9; within 1 of 2
    # chat: 0; email: 24 answered, 11-20 awaiting (late), 11-22 awaiting (6 h, undecided)
    #   -> within 1 / (1 + 1 late) = 50.0
    assert response_report(book, CFG, by="channel") == [
        {"channel": "call", **row(2, 0, 46.5, 66.9, 50.0)},
        {"channel": "chat", **row(1, 0, 0.0, 0.0, 100.0)},
        {"channel": "email", **row(1, 2, 24.0, 24.0, 50.0)},
    ]


def test_by_owner(book):
    # alex: 0, 21, 24 -> median 21, p90: position 1.8 -> 21 + 0.8 * 3 = 23.4;
    #   within 3 / (3 + 1 late) = 75.0.  sam: 72 h, 1 awaiting inside the SLA -> 0 of 1
    assert response_report(book, CFG, by="owner") == [
        {"owner": "alex", **row(3, 1, 21.0, 23.4, 75.0)},
        {"owner": "sam", **row(1, 1, 72.0, 72.0, 0.0)},
    ]


def test_by_month_of_the_inbound(book):
    # 2026-10: Beta's 72 h.  2026-11: 24, 21, 0 and both awaiting (one late): as alex above
    assert response_report(book, CFG, by="month") == [
        {"month": "2026-10", **row(1, 0, 72.0, 72.0, 0.0)},
        {"month": "2026-11", **row(3, 2, 21.0, 23.4, 75.0)},
    ]


def test_since_until_pick_the_inbound_by_its_time_and_until_includes_its_day(book):
    # inbound on 11-01 .. 11-10 (whole day): 24, 21, 0 -> median 21, p90 23.4, all within
    assert response_report(book, CFG, since="2026-11-01", until="2026-11-10") == [
        row(3, 0, 21.0, 23.4, 100.0)]
    # a reply after --until still answers an inbound inside the window: Beta's 72 h
    assert response_report(book, CFG, since="2026-10-01", until="2026-10-05") == [
        row(1, 0, 72.0, 72.0, 0.0)]


def test_a_window_without_inbound_gives_a_row_of_zeros(book):
    assert response_report(book, CFG, since="2026-06-01", until="2026-06-30") == [
        row(0, 0, None, None, None)]
    assert response_report(book, CFG, by="channel", since="2026-06-01",
                           until="2026-06-30") == []


def test_awaiting_list_oldest_first_with_ages(book):
    rows = pending_list(book)
    # 11-20 10:00 -> 48 h (2.0 days); 11-22 04:00 -> 6 h (0.25 days, unrounded)
    assert [(r["client"], r["owner"], r["channel"], r["at"], r["age_hours"], r["age_days"])
            for r in rows] == [("Alpha", "alex", "email", "2026-11-20T10:00:00Z", 48.0, 2.0),
                               ("Beta", "sam", "email", "2026-11-22T04:00:00Z", 6.0, 0.25)]
    assert pending_list(book, limit=1)[0]["client"] == "Alpha"
    assert pending_list(book, since="2026-11-21") == rows[1:]


def test_sla_is_read_from_the_config(book):
    cfg = Config()
    cfg.data["response"]["sla_hours"] = 0.0
    # only the same-second reply is within 0 h; both awaiting items are past it:
    # 1 / (4 + 2) = 16.67 %, unrounded
    [r] = response_report(book, cfg)
    assert (r["within_sla"], r["sla_hours"]) == (100 * 1 / 6, 0.0)


def test_empty_database(ev_store):
    assert response_report(ev_store, CFG) == [row(0, 0, None, None, None)]
    assert response_report(ev_store, CFG, by="month") == []
    assert response_report(ev_store, CFG, by="owner") == []
    assert pending_list(ev_store) == []


def test_a_single_inbound_never_answered(ev_store):
    cid = ev_store.clients.add("Solo")
    log(ev_store, cid, "2026-11-21T10:00:00Z", "in")       # 24 h old: not past the SLA
    assert response_report(ev_store, CFG) == [row(0, 1, None, None, None)]
    log(ev_store, cid, "2026-11-21T09:59:59Z", "out")      # one second too early
    assert response_report(ev_store, CFG)[0]["awaiting"] == 1
    assert pending_list(ev_store)[0]["age_hours"] == 24.0


def test_inbound_at_the_same_second_share_one_reply(ev_store):
    cid = ev_store.clients.add("Twins")
    log(ev_store, cid, "2026-11-01T10:00:00Z", "in")
    log(ev_store, cid, "2026-11-01T10:00:00Z", "in")
    log(ev_store, cid, "2026-11-01T16:30:00Z", "out")    # 6.5 h for both
    assert response_report(ev_store, CFG) == [row(2, 0, 6.5, 6.5, 100.0)]


def test_replies_are_per_client(ev_store):
    a, b = ev_store.clients.add("A"), ev_store.clients.add("B")
    log(ev_store, a, "2026-11-01T10:00:00Z", "in")
    log(ev_store, b, "2026-11-01T11:00:00Z", "out")      # another client's outbound
    assert response_report(ev_store, CFG)[0]["awaiting"] == 1


# --- complaints -----------------------------------------------------------------------


@pytest.fixture
def complaints(ev_store):
    s = ev_store
    a = s.clients.add("Alpha", owner="alex")
    b = s.clients.add("Beta", owner="sam")
    gone = s.clients.add("Gone")
    c1 = log(s, a, "2026-11-03T10:00:00Z", "in", "call", kind="complaint")
    s.interactions.resolve(c1, "2026-11-04T16:00:00Z")    # 30 h
    c2 = log(s, b, "2026-11-05T10:00:00Z", "out", "email", kind="complaint")
    s.interactions.resolve(c2, "2026-11-05T22:00:00Z")    # 12 h (either direction counts)
    log(s, b, "2026-11-21T10:00:00Z", "in", "email", kind="complaint")  # open, 24 h: undecided
    log(s, a, "2026-11-15T10:00:00Z", "in", "call", kind="complaint")   # open, 168 h: a miss
    log(s, a, "2026-11-15T11:00:00Z", "out", "call")     # a reply does not resolve it
    c5 = log(s, gone, "2026-11-01T10:00:00Z", "in", kind="complaint")
    s.interactions.resolve(c5, "2026-11-01T11:00:00Z")
    s.clients.archive(gone)
    return s


def test_complaint_handling_time(complaints):
    # resolved: 12, 30 h -> median 21, p90 12 + 0.9 * 18 = 28.2
    # within 24 h: 12 -> 1; decided = 2 resolved + 1 open past 24 h -> 33.3 %, unrounded
    assert response_report(complaints, CFG, kind="complaint") == [
        row(2, 2, 21.0, pytest.approx(28.2, abs=1e-12), 100 * 1 / 3, key="unresolved")]


def test_complaint_handling_by_owner_and_the_unresolved_list(complaints):
    # alex: 30 h resolved, 1 open and late -> within 0 / 2; sam: 12 h, 1 open (24 h, not late)
    assert response_report(complaints, CFG, kind="complaint", by="owner") == [
        {"owner": "alex", **row(1, 1, 30.0, 30.0, 0.0, key="unresolved")},
        {"owner": "sam", **row(1, 1, 12.0, 12.0, 100.0, key="unresolved")},
    ]
    assert [(r["client"], r["age_hours"]) for r in pending_list(complaints, kind="complaint")
            ] == [("Alpha", 168.0), ("Beta", 24.0)]


def test_a_complaint_never_resolved(ev_store):
    cid = ev_store.clients.add("Solo")
    log(ev_store, cid, "2026-11-01T10:00:00Z", "in", kind="complaint")
    # 21 days open: no handling time yet, and a miss of the SLA: 0 of 1
    assert response_report(ev_store, CFG, kind="complaint") == [
        row(0, 1, None, None, 0.0, key="unresolved")]


@pytest.mark.parametrize("kw,text", [({"by": "day"}, "--by 'day'"),
                                     ({"kind": "complaints"}, "--kind 'complaints'"),
                                     ({"since": "2026-05-02", "until": "2026-05-01"},
                                      "is not before --until")])
def test_bad_arguments(store, kw, text):
    with pytest.raises(UsageError, match=text):
        response_report(store, CFG, **kw)


# --- quantiles ----------------------------------------------------------------------------


def test_quantiles_match_numpy_default():
    import numpy as np  # the test extra has it: compare with the real thing
    rng = random.Random(5)
    for n in range(1, 40):
        values = sorted(rng.randrange(0, 10_000) for _ in range(n))
        for a, b in ((1, 2), (9, 10)):
            expected = float(np.quantile(values, a / b))
            assert quantile(values, a / b) == pytest.approx(expected)
            lo = (n - 1) * a // b
            hi = min(lo + 1, n - 1)
            assert interpolate(values[lo], values[hi], n, a, b) == pytest.approx(expected)


def test_sql_quantiles_match_numpy_on_a_random_book(ev_store):
    import numpy as np  # the test extra has it: compare with the real thing
    rng = random.Random(7)
    waits = []
    for c in range(12):
        cid = ev_store.clients.add(f"C{c}")
        for k in range(rng.randrange(1, 6)):
            day = 1 + 2 * k
            minute = rng.randrange(0, 600)
            wait = rng.randrange(0, 37 * 60) * 60              # whole minutes, < 37 h
            t_in = f"2026-10-{day:02d}T{minute // 60:02d}:{minute % 60:02d}:00Z"
            log(ev_store, cid, t_in, "in")  # replied before the next inbound (2 days on)
            total = minute * 60 + wait
            t_out_day, rest = divmod(total, 86400)
            log(ev_store, cid, f"2026-10-{day + t_out_day:02d}T{rest // 3600:02d}:"
                               f"{rest % 3600 // 60:02d}:00Z", "out")
            waits.append(wait / 3600)
    [r] = response_report(ev_store, CFG)
    assert r["count"] == len(waits)
    assert r["median_hours"] == pytest.approx(float(np.quantile(waits, 0.5)), abs=1e-9)
    assert r["p90_hours"] == pytest.approx(float(np.quantile(waits, 0.9)), abs=1e-9)


def test_by_month_is_the_local_month(store):
    from crmcli import dates

    cid = store.clients.add("Paris")
    # 23:30 UTC on 31 October is 00:30 on 1 November in Paris (CET, +1);
    # 22:30 UTC on 31 March is 00:30 on 1 April (CEST, +2); each answered an hour later
    for t_in, t_out in (("2026-10-31T23:30:00Z", "2026-11-01T00:30:00Z"),
                        ("2026-03-31T22:30:00Z", "2026-03-31T23:30:00Z"),
                        ("2026-03-31T21:30:00Z", "2026-03-31T21:30:00Z")):  # 23:30 local
        log(store, cid, t_in, "in")
        log(store, cid, t_out, "out")
    dates.set_timezone("Europe/Paris")
    try:
        rows = response_report(store, CFG, by="month")
    finally:
        dates.set_timezone("UTC")
    assert [(r["month"], r["count"], r["median_hours"]) for r in rows if r["count"]] == [
        ("2026-03", 1, 0.0), ("2026-04", 1, 1.0), ("2026-11", 1, 1.0)]
    # the quiet months between are rows of their own: a trend has no gaps
    assert [r["month"] for r in rows] == [f"2026-{m:02d}" for m in range(3, 12)]
    assert rows[2] == {"month": "2026-05", "count": 0, "awaiting": 0, "median_hours": None,
                       "p90_hours": None, "within_sla": None, "sla_hours": 24.0}


@pytest.mark.sqlite_only  # SQLite's query plan
def test_the_pairing_reads_only_the_index(store):
    # one pass over interactions_client_at (client_id, at, direction, channel) and one
    # seek into it per inbound: never a scan of the table, never a sort of the book
    store.clients.add("A")
    sql = store.events._event_base("response", "channel", None) + " SELECT count(*) FROM ev"
    steps = [row[3] for row in store.conn.execute(
        "EXPLAIN QUERY PLAN " + sql, {"since": "", "until": "9999", "no_kinds": '["feedback"]',
                                      "no_channels": '["meeting"]', "scores": 0})]
    assert "SCAN i USING COVERING INDEX interactions_client_at" in steps, steps
    assert any(s.startswith("SEARCH o USING COVERING INDEX interactions_client_at") for s in
               steps), steps
    assert not any("TEMP B-TREE" in s for s in steps), steps


def test_pending_rows_have_the_documented_fields_in_order(store):
    from crmcli.metrics.response import PENDING_FIELDS, pending_list

    cid = store.clients.add("Quiet")
    log(store, cid, "2026-11-20T10:00:00Z", "in")
    [row] = pending_list(store)
    assert list(row) == PENDING_FIELDS
