"""The hot queries use their indexes: checked with EXPLAIN QUERY PLAN on the very SQL the
store runs (captured with the connection's trace callback, bound values inlined), so a
change to a query or to the schema that loses an index fails here, not in production on
a million interactions."""

from __future__ import annotations

import re

import pytest

from crmcli.config import Config
from crmcli.due import compute_due

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


@pytest.fixture
def book(store):
    """A few clients with interactions, deals, tags and open and done follow-ups."""
    ids = []
    for i in range(1, 7):
        cid = store.add_client(f"Client {i}", email=f"c{i}@example.com",
                               external_id=f"X{i}", tags=["vip"] if i % 2 else ["smb"])
        ids.append(cid)
        for day in range(1, 4):
            store.log_interaction(cid, f"call number {day} with 王伟 {i}",
                                  at=f"2026-11-{day:02d}T09:00:00Z",
                                  direction="in" if day % 2 else "out", channel="call")
        store.add_deal(cid, "100.50", at="2026-10-01T10:00:00Z", title="Licence")
        fid = store.add_followup(cid, f"2026-11-{10 + i:02d}", "call back")
        if i == 1:
            store.complete_followup(fid, at="2026-11-12T10:00:00Z")
    store.conn.execute("ANALYZE")  # also hold with statistics present, as after `crm db check`
    return ids


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
    from crmcli.card import build_card

    def show():
        for ref in ("c3@example.com", "X3", "Client 3", str(book[2])):
            build_card(store, store.resolve_client(ref, include_archived=True))

    statements = traced(store, show)
    assert any("interactions" in s for s in statements)
    assert uses(store, [s for s in statements if "interactions" in s],
                "interactions_client_at")
    # (Deals are read whole once, on purpose: the revenue tier A/B/C ranks the client
    # against the whole book. Everything about the client itself goes through an index.)
    for sql in statements:
        for table in ("interactions", "followups", "stage_changes", "tags", "contacts"):
            assert full_scans(store, sql, table) == [], (table, sql)


def test_timeline_query_searches_interactions_by_client(store, book):
    statements = traced(store, lambda: store.timeline(book[0]))
    interaction_sql = [s for s in statements if "FROM interactions" in s]
    assert interaction_sql
    assert all(full_scans(store, s, "interactions") == [] for s in interaction_sql)
    assert any("USING INDEX interactions_client_at (client_id=?)" in step
               for s in interaction_sql for step in plan(store, s))


def test_ls_by_tag_looks_tags_up_by_index(store, book):
    statements = traced(store, lambda: store.list_clients(tags=["vip"]))
    assert len(statements) == 1
    steps = plan(store, statements[0])
    assert full_scans(store, statements[0], "tags") == []
    assert any("INDEX" in step and ("tags" in step) for step in steps), steps
    assert [r["name"] for r in store.list_clients(tags=["vip"])] == [
        "Client 1", "Client 3", "Client 5"]


def test_search_goes_through_the_full_text_index(store, book):
    statements = traced(store, lambda: store.search("王伟"))
    match = [s for s in statements if "MATCH" in s]
    assert len(match) == 1
    steps = plan(store, match[0])
    assert any(step.startswith("SCAN s VIRTUAL TABLE INDEX") for step in steps), steps
    assert full_scans(store, match[0], "clients") == []
    for sql in statements:
        assert full_scans(store, sql, "interactions") == [], sql
    assert {r["client_id"] for r in store.search("王伟")} == set(book)
