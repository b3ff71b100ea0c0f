"""The hot queries use their indexes: checked with EXPLAIN QUERY PLAN on the very SQL the
store runs (captured with the connection's trace callback, bound values inlined), so a
change to a query or to the schema that loses an index fails here, not in production on
a million interactions."""

from __future__ import annotations

import re

import pytest

from crmcli.config import Config
from crmcli.services.due import compute_due

_NOT_ALIASES = {"where", "join", "on", "left", "inner", "cross", "order", "group", "limit",
                "natural", "using", "as", "indexed", "not", "union", "window"}


def traced(store, action) -> list[str]:
    """The SELECT statements run by action(), as executed."""
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    try:
        action()
    finally:
        store.conn.set_trace_callback(None)
    return [s for s in seen if s.lstrip().upper().startswith(("SELECT", "WITH"))]


def plan(store, sql: str) -> list[str]:
    return [row[3] for row in store.conn.execute("EXPLAIN QUERY PLAN " + sql)]


def names_of(sql: str, table: str) -> set[str]:
    """The table's name and every alias it has in sql."""
    names = {table}
    for alias in re.findall(rf"\b{table}\s+(?:AS\s+)?([A-Za-z_]\w*)", sql, re.IGNORECASE):
        if alias.lower() not in _NOT_ALIASES:
            names.add(alias)
    return names


def full_scans(store, sql: str, table: str) -> list[str]:
    """Plan steps that read the whole of table (or the whole of one of its indexes)."""
    names = names_of(sql, table)
    return [step for step in plan(store, sql)
            if step.startswith("SCAN ") and step.split()[1] in names]


def uses(store, statements: list[str], index: str) -> bool:
    return any(index in step for sql in statements for step in plan(store, sql))


def fill(store) -> list[int]:
    """A few clients with interactions, deals, tags and open and done follow-ups; the
    last one archived."""
    ids = []
    for i in range(1, 7):
        cid = store.clients.add(f"Client {i}", email=f"c{i}@example.com",
                                external_id=f"X{i}", tags=["vip"] if i % 2 else ["smb"])
        ids.append(cid)
        for day in range(1, 4):
            store.interactions.log(cid, f"call number {day} with 王伟 {i}",
                                   at=f"2026-11-{day:02d}T09:00:00Z",
                                   direction="in" if day % 2 else "out", channel="call")
        store.deals.add(cid, "100.50", at="2026-10-01T10:00:00Z", title="Licence")
        fid = store.followups.add(cid, f"2026-11-{10 + i:02d}", "call back")
        if i == 1:
            store.followups.complete(fid, at="2026-11-12T10:00:00Z")
    store.clients.archive(ids[-1])
    return ids


@pytest.fixture
def book(store):
    ids = fill(store)
    store.conn.execute("ANALYZE")  # the plans must also hold with statistics present
    return ids


@pytest.fixture
def plain_book(store):
    """The same book without statistics: the planner's plans on a file as crm leaves it
    (crm never runs ANALYZE), where it cannot know that six clients are cheap to scan."""
    return fill(store)


def test_helper_flags_a_full_scan_of_interactions(store):
    # The checker itself: a query without a usable index is reported, an indexed one is not.
    assert full_scans(store, "SELECT * FROM interactions i WHERE i.summary = 'x'",
                      "interactions") == ["SCAN i"]
    assert full_scans(store, "SELECT * FROM interactions WHERE client_id = 3",
                      "interactions") == []
    assert full_scans(store, "SELECT client_id, max(at) FROM interactions GROUP BY client_id",
                      "interactions")  # a full scan of a covering index is still a full scan


def test_due_reads_open_followups_through_the_partial_index(store, book):
    statements = traced(store, lambda: compute_due(store, Config()))
    on_followups = [s for s in statements if "followups" in s]
    assert on_followups, statements
    assert uses(store, on_followups, "followups_open_due")
    for sql in statements:
        assert full_scans(store, sql, "followups") == [], sql
        assert full_scans(store, sql, "interactions") == [], sql


def test_due_with_a_tag_or_owner_filter_still_uses_the_partial_index(store, book):
    for kwargs in ({"tag": "vip"}, {"owner": "alex"}):
        statements = traced(store, lambda kw=kwargs: compute_due(store, Config(), **kw))
        assert uses(store, [s for s in statements if "followups" in s], "followups_open_due")
        for sql in statements:
            assert full_scans(store, sql, "interactions") == [], sql


def test_show_reads_one_clients_rows_by_index(store, book):
    from crmcli.services.card import build_card

    def show():
        for ref in ("c3@example.com", "X3", "Client 3", str(book[2])):
            build_card(store, store.clients.resolve(ref, include_archived=True))

    statements = traced(store, show)
    assert any("interactions" in s for s in statements)
    assert uses(store, [s for s in statements if "interactions" in s],
                "interactions_client_at")
    # Everything about the client itself goes through an index on its id. The book-wide
    # parts of the card -- the revenue tier ranks the client against every live client,
    # the predicted CLV uses the book's churn -- read the won deals from covering indexes
    # (no table rows, no full scan of the deals table).
    for sql in statements:
        for table in ("interactions", "followups", "stage_changes", "tags", "contacts",
                      "deals"):
            assert full_scans(store, sql, table) == [], (table, sql)
    on_deals = [s for s in statements if "FROM deals" in s]
    assert uses(store, on_deals, "COVERING INDEX deals_status_client")


def test_the_timeline_reads_only_the_newest_rows_of_each_kind(store, book):
    statements = traced(store, lambda: store.interactions.timeline(book[0], limit=15))
    assert statements and all("LIMIT" in s for s in statements), statements


def test_timeline_query_searches_interactions_by_client(store, book):
    statements = traced(store, lambda: store.interactions.timeline(book[0]))
    interaction_sql = [s for s in statements if "FROM interactions" in s]
    assert interaction_sql
    assert all(full_scans(store, s, "interactions") == [] for s in interaction_sql)
    assert any("USING INDEX interactions_client_at (client_id=?)" in step
               for s in interaction_sql for step in plan(store, s))


def test_ls_by_tag_looks_tags_up_by_index(store, book):
    statements = traced(store, lambda: store.clients.list(tags=["vip"]))
    assert len(statements) == 1
    steps = plan(store, statements[0])
    assert full_scans(store, statements[0], "tags") == []
    assert any("INDEX tags_tag (tag=?)" in step for step in steps), steps
    assert [r["name"] for r in store.clients.list(tags=["vip"])] == [
        "Client 1", "Client 3", "Client 5"]


def test_ls_by_tag_reads_only_the_tagged_clients(store, plain_book):
    # The clients come from the (tag, client_id) index, one primary-key look-up each: not
    # a walk of every client in name order testing each for the tag (5,000 vip clients of
    # 100,000 took 210 ms that way, 25 ms this way).
    for tags in (["vip"], ["vip", "smb"]):
        statements = traced(store, lambda t=tags: store.clients.list(tags=t))
        assert full_scans(store, statements[0], "clients") == [], plan(store, statements[0])
        assert uses(store, statements, "tags_tag (tag=?)")


def test_search_goes_through_the_full_text_index(store, book):
    statements = traced(store, lambda: store.search.matches("王伟"))
    match = [s for s in statements if "MATCH" in s]
    assert len(match) == 1
    steps = plan(store, match[0])
    assert any(step.startswith("SCAN s VIRTUAL TABLE INDEX") for step in steps), steps
    assert full_scans(store, match[0], "clients") == []
    for sql in statements:
        assert full_scans(store, sql, "interactions") == [], sql
    # one archived
    assert {r["client_id"] for r in store.search.matches("王伟")} == set(book[:-1])


def test_response_time_pairs_each_inbound_with_an_index_seek(store, book):
    """The response-time join: for each inbound interaction, its client's next outbound one
    is one seek of the (client_id, at, direction) index -- never a scan of interactions per
    row. The report reads the period's inbound interactions once (one pass, of that same
    index, which holds what the pass needs); the only other scan is the one pass that lists
    the inbound interactions expecting no reply (response.no_reply_kinds, scores), run once
    for the query, not per row."""
    from crmcli.metrics.response import response_report

    statements = traced(store, lambda: response_report(store, Config()))
    pairing = [s for s in statements if "o.direction = 'out'" in s]
    assert pairing, statements
    for sql in pairing:
        steps = plan(store, sql)
        assert any(step.startswith("SEARCH o USING COVERING INDEX interactions_client_at "
                                   "(client_id=? AND at>?)") for step in steps), steps
        assert len(full_scans(store, sql, "interactions")) <= 2, steps
        assert any(step.startswith("LIST SUBQUERY") for step in steps), steps
        assert not any(step.startswith("SCAN o") for step in steps), steps


def test_due_asks_for_client_cadences_through_a_partial_index(store, book):
    statements = traced(store, store.clients.any_own_cadence)
    assert uses(store, statements, "clients_cadence")
    assert full_scans(store, statements[0], "clients") == []


@pytest.mark.parametrize("stats", [True, False], ids=["with statistics", "without"])
def test_report_aggregates_read_deals_from_covering_indexes(store, stats):
    fill(store)
    if stats:
        store.conn.execute("ANALYZE")
    windows = ("2024-11-23T00:00:00Z", "2025-11-23T00:00:00Z", "2026-11-23T00:00:00Z")
    calls = {
        "client_revenue": lambda: store.reports.client_revenue("USD"),
        "client_revenue since": lambda: store.reports.client_revenue("USD", since=windows[1]),
        "revenue_rank": lambda: store.reports.revenue_rank("USD", 1),
        "revenue_total": lambda: store.reports.revenue_total("USD", since=windows[1],
                                                             until=windows[2]),
        "revenue_total one": lambda: store.reports.revenue_total("USD", client_id=1),
        "active_in_windows": lambda: store.reports.active_in_windows("deals", *windows),
        "activity_days": lambda: store.reports.activity_days("deals"),
        "activity_days one": lambda: store.reports.activity_days("any", client_id=1),
    }
    for name, call in calls.items():
        statements = [s for s in traced(store, call) if "deals" in s or "interactions" in s]
        assert statements, name
        for sql in statements:
            steps = plan(store, sql)
            for table in ("deals", "interactions"):
                assert full_scans(store, sql, table) == [], (name, steps)
            touched = [step for step in steps if " deals " in f" {step} "
                       or "interactions" in step]
            assert touched and all("COVERING INDEX" in step for step in touched), (name, steps)
            # archived clients are found through their partial index, not a scan
            assert full_scans(store, sql, "clients") == [], (name, steps)
    # per client, in client order straight from the index: no sort of the book
    for name in ("client_revenue", "revenue_rank", "activity_days"):
        for sql in traced(store, calls[name]):
            if "FROM deals" in sql:
                assert not any("TEMP B-TREE" in step for step in plan(store, sql)), name
