"""Export a database, import the export into an empty one, export again: identical."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

FORMATS = ("csv", "tsv", "json", "ndjson")


@pytest.fixture
def book(store):
    """A small book with everything an export must carry."""
    wang = store.add_client("王伟", company="北京科技有限公司", email="wang@example.cn",
                            external_id="CN-1", stage="lead", tags=["vip", "asia"],
                            custom={"region": "华北", "Lead Source": "fair"},
                            notes="第一行\n第二行, with \"quotes\"")
    store.set_stage(wang, "proposal", at="2026-03-01T09:00:00Z", note="sent the deck")
    ada = store.add_client("=HYPERLINK(\"x\")", email="ada@example.com", phone="+1 555 0100",
                           owner="sam", industry="-tech", size="@11-50")
    gone = store.add_client("Gone Ltd", external_id="'=odd")
    store.archive_client(gone)
    store.set_cadence(ada, "2w", "4w")
    jane = store.add_contact(wang, "张伟", role="采购经理", email="zhang@example.cn",
                             decision_level="decision-maker", is_primary=True)
    store.add_contact(ada, "Bob", phone="+44 20 7946 0000", notes="likes +1 calls")
    store.log_interaction(wang, "首次会议：讨论报价", at="2026-01-05T02:30:00Z", channel="meeting",
                          direction="in", kind="complaint", score=7, contact_id=jane,
                          resolved_at="2026-01-06T08:00:00Z")
    store.log_interaction(ada, "=1+2 looks like a formula", at="2026-02-01T10:00:00Z",
                          channel="email", next_due=date(2026, 12, 1), next_note="chase")
    store.add_deal(wang, "1000.10", at="2026-02-02T00:00:00Z", title="首单", currency="CNY")
    store.add_deal(ada, "19.99", at="2026-02-03T00:00:00Z", status="open")
    store.add_deal(gone, "0.5", at="2026-02-04T00:00:00Z", status="lost")
    fid = store.add_followup(ada, datetime(2026, 12, 5, 15, 30, tzinfo=UTC), "weekly call",
                             every="FREQ=WEEKLY")
    store.complete_followup(fid, at="2026-11-20T10:00:00Z")
    return store


def export_all(crm, db, out, fmt):
    crm("--db", db, "export", "all", "-o", out, "--format", fmt)
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_import_export_is_identical(crm, book, db_path, tmp_path, fmt):
    first = export_all(crm, db_path, tmp_path / "one", fmt)
    assert len(first) == 5
    empty = tmp_path / "empty.db"
    result = crm("--db", empty, "import", "all", tmp_path / "one")
    assert "imported clients from" in result.stderr
    second = export_all(crm, empty, tmp_path / "two", fmt)
    assert second == first
    # importing the same export again changes nothing and records no change
    before = crm("--db", empty, "history", "--format", "json").stdout
    result = crm("--db", empty, "import", "all", tmp_path / "one", "--json")
    summaries = json.loads(result.stdout)
    assert [(s["kind"], s["inserted"], s["updated"]) for s in summaries] == [
        (k, 0, 0) for k in ("clients", "contacts", "interactions", "deals", "followups")]
    assert [s["unchanged"] for s in summaries] == [3, 2, 2, 3, 3]
    assert crm("--db", empty, "history", "--format", "json").stdout == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_kind_round_trips_on_its_own_through_stdout(crm, book, db_path, tmp_path, fmt):
    empty = tmp_path / "empty.db"
    for kind in ("clients", "contacts", "interactions", "deals", "followups"):
        out = crm("export", kind, "--format", fmt).stdout
        path = tmp_path / f"{kind}.{fmt}"
        path.write_text(out, encoding="utf-8", newline="")
        crm("--db", empty, "import", kind, path)
        assert crm("--db", empty, "export", kind, "--format", fmt).stdout == out


def test_round_trip_keeps_the_hard_values(crm, book, db_path, tmp_path):
    export_all(crm, db_path, tmp_path / "one", "csv")
    empty = tmp_path / "empty.db"
    crm("--db", empty, "import", "all", tmp_path / "one")
    clients = crm.json("--db", empty, "export", "clients")
    wang = clients[0]
    assert wang["name"] == "王伟" and wang["notes"] == "第一行\n第二行, with \"quotes\""
    assert wang["custom"] == {"Lead Source": "fair", "region": "华北"}
    assert wang["tags"] == ["asia", "vip"]
    assert [(h["from"], h["to"], h["note"]) for h in wang["stage_history"]] == [
        ("lead", "proposal", "sent the deck"), (None, "lead", None)]  # ordered by time
    assert clients[1]["name"] == '=HYPERLINK("x")'  # defused in CSV, restored on import
    assert clients[2]["external_id"] == "'=odd" and clients[2]["archived_at"]
    deals = crm.json("--db", empty, "export", "deals")
    assert [d["amount"] for d in deals] == [1000.10, 19.99, 0.5]
    raw = crm("--db", empty, "export", "deals", "--format", "json").stdout
    assert '"amount": 1000.10' in raw  # exact decimal text, not 1000.1
