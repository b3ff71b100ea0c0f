"""Export a database, import the export into an empty one, export again: identical."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

FORMATS = ("csv", "tsv", "json", "ndjson")


@pytest.fixture
def book(store):
    """A small book with everything an export must carry."""
    wang = store.clients.add("王伟", company="北京科技有限公司", email="wang@example.cn",
                             external_id="CN-1", stage="lead", tags=["vip", "asia"],
                             custom={"region": "华北", "Lead Source": "fair",
                                    "budget": "1000.10"},
                             notes="第一行\n第二行, with \"quotes\"")
    store.clients.set_stage(wang, "proposal", at="2026-03-01T09:00:00Z", note="sent the deck")
    ada = store.clients.add("=HYPERLINK(\"x\")", email="ada@example.com", phone="+1 555 0100",
                            owner="sam", industry="-tech", size="@11-50")
    gone = store.clients.add("Gone Ltd", external_id="'=odd")
    store.clients.archive(gone)
    store.clients.set_cadence(ada, "2w", "4w")
    jane = store.contacts.add(wang, "张伟", role="采购经理", email="zhang@example.cn",
                              decision_level="decision-maker", is_primary=True)
    store.contacts.add(ada, "Bob", phone="+44 20 7946 0000", notes="likes +1 calls")
    store.interactions.log(wang, "首次会议：讨论报价", at="2026-01-05T02:30:00Z", channel="meeting",
                           direction="in", kind="complaint", score=7, contact_id=jane,
                           resolved_at="2026-01-06T08:00:00Z")
    store.interactions.log(ada, "=1+2 looks like a formula", at="2026-02-01T10:00:00Z",
                           channel="email", next_due=date(2026, 12, 1), next_note="chase")
    store.deals.add(wang, "1000.10", at="2026-02-02T00:00:00Z", title="首单", currency="CNY")
    store.deals.add(ada, "19.99", at="2026-02-03T00:00:00Z", status="open")
    store.deals.add(gone, "0.5", at="2026-02-04T00:00:00Z", status="lost")
    store.interactions.log(wang, "电话回访", at=datetime(2026, 3, 2, 9, 15,
                                                     tzinfo=timezone(timedelta(hours=8))),
                           channel="call", kind="feedback", direction="in", score=10)
    fid = store.followups.add(ada, datetime(2026, 12, 5, 15, 30, tzinfo=UTC), "weekly call",
                              every="FREQ=WEEKLY")
    store.followups.complete(fid, at="2026-11-20T10:00:00Z")
    inv = store.invoices.add(wang, "1000.10", currency="CNY", issued="2026-02-02",
                             number="=2026-001", note="首单, \"quoted\"")
    store.invoices.pay(inv, "0.10", at="2026-03-01T00:00:00Z", note="@bank")
    return store


def export_all(crm, db, out, fmt):
    crm("--db", db, "export", "all", "-o", out, "--format", fmt)
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_import_export_is_identical(crm, book, db_path, tmp_path, fmt):
    first = export_all(crm, db_path, tmp_path / "one", fmt)
    assert len(first) == 7
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
        (k, 0, 0) for k in ("clients", "contacts", "interactions", "deals", "followups",
                                   "invoices", "payments")]
    assert [s["unchanged"] for s in summaries] == [3, 2, 3, 3, 3, 1, 1]
    assert [s["change_id"] for s in summaries] == [None] * 7  # nothing changed: no change
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
    assert wang["custom"] == {"Lead Source": "fair", "budget": "1000.10", "region": "华北"}
    assert wang["tags"] == ["asia", "vip"]
    assert [(h["from"], h["to"], h["note"]) for h in wang["stage_history"]] == [
        ("lead", "proposal", "sent the deck"), (None, "lead", None)]  # ordered by time
    assert clients[1]["name"] == '=HYPERLINK("x")'  # defused in CSV, restored on import
    assert clients[2]["external_id"] == "'=odd" and clients[2]["archived_at"]
    deals = crm.json("--db", empty, "export", "deals")
    assert [d["amount"] for d in deals] == [1000.10, 19.99, 0.5]
    raw = crm("--db", empty, "export", "deals", "--format", "json").stdout
    assert '"amount": 1000.10' in raw  # exact decimal text, not 1000.1
    calls = crm.json("--db", empty, "export", "interactions")
    assert [(c["at"], c["kind"], c["score"], c["resolved_at"]) for c in calls] == [
        ("2026-01-05T02:30:00Z", "complaint", 7, "2026-01-06T08:00:00Z"),
        ("2026-02-01T10:00:00Z", "note", None, None),
        ("2026-03-02T01:15:00Z", "feedback", 10, None)]  # +08:00 stored as UTC
    followups = crm.json("--db", empty, "export", "followups")
    assert [(f["due"], f["due_at"], f["every"], f["done_at"] is not None) for f in followups
            ] == [("2026-12-01", None, None, False),
                  ("2026-12-05", "2026-12-05T15:30:00Z", "FREQ=WEEKLY", True),
                  ("2026-12-12", "2026-12-12T15:30:00Z", "FREQ=WEEKLY", False)]


# A book as another system would write it: offsets, CJK, money, names of columns of our own.
FOREIGN = {
    "clients.ndjson": [
        {"external_id": "CN-1", "name": "王伟", "company": "北京科技有限公司",
         "email": "wang@example.cn", "tags": ["vip", "asia"], "stage": "proposal",
         "地区": "华北", "created_at": "2026-01-02T09:00:00+08:00"},
        {"external_id": "US-2", "name": "Ada", "email": "ada@example.com", "budget": 19.99}],
    "contacts.ndjson": [
        {"client": "CN-1", "name": "张伟", "role": "采购经理", "decision_level":
         "decision-maker", "is_primary": True},
        {"client": "ada@example.com", "name": "Bob", "phone": "+1 555 0100"}],
    "interactions.ndjson": [
        {"client": "CN-1", "at": "2026-01-05T10:30:00+08:00", "channel": "meeting",
         "kind": "complaint", "summary": "发票错误", "resolved_at": "2026-01-06T09:00:00-05:00"},
        {"client": "US-2", "at": "2026-02-01T10:00:00-05:00", "channel": "email",
         "kind": "feedback", "score": 9, "summary": "Likes it, \"a lot\", really"}],
    "deals.ndjson": [
        {"client": "CN-1", "at": "2026-02-02T00:00:00+08:00", "amount": "1000.10",
         "currency": "cny", "title": "首单"},
        {"client": "US-2", "at": "2026-02-03", "amount": 19.99, "status": "open"}],
    "followups.ndjson": [
        {"client": "US-2", "due": "2026-12-05T15:30:00+01:00", "note": "weekly call",
         "every": "weekly"},
        {"client": "CN-1", "due": "2026-12-01", "note": "月底报告", "every": "monthly"}],
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_foreign_book_imports_and_then_round_trips_in_every_format(crm, tmp_path, fmt):
    source = tmp_path / "foreign"
    source.mkdir()
    for name, rows in FOREIGN.items():
        (source / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n"
                                           for r in rows), encoding="utf-8")
    one, two = tmp_path / "one.db", tmp_path / "two.db"
    result = crm("--db", one, "import", "all", source, "--json")
    assert [s["inserted"] for s in json.loads(result.stdout)] == [2, 2, 2, 2, 2]
    first = export_all(crm, one, tmp_path / "out1", fmt)
    crm("--db", two, "import", "all", tmp_path / "out1")
    assert export_all(crm, two, tmp_path / "out2", fmt) == first
    clients = crm.json("--db", two, "export", "clients")
    assert clients[0]["custom"] == {"地区": "华北"} and clients[1]["custom"] == {"budget": 19.99}
    assert clients[0]["created_at"] == "2026-01-02T01:00:00Z"
    assert clients[0]["tags"] == ["asia", "vip"]
    assert [h["to"] for h in clients[0]["stage_history"]] == ["proposal"]
    calls = crm.json("--db", two, "export", "interactions")
    assert [(c["at"], c["direction"], c["resolved_at"], c["score"]) for c in calls] == [
        ("2026-01-05T02:30:00Z", "in", "2026-01-06T14:00:00Z", None),
        ("2026-02-01T15:00:00Z", "in", None, 9)]
    deals = crm("--db", two, "export", "deals", "-f", "json").stdout
    assert '"amount": 1000.10' in deals and '"amount": 19.99' in deals and '"CNY"' in deals
    followups = crm.json("--db", two, "export", "followups")
    assert [(f["due"], f["due_at"], f["every"]) for f in followups] == [
        ("2026-12-05", "2026-12-05T14:30:00Z", "FREQ=WEEKLY"),
        ("2026-12-01", None, "FREQ=MONTHLY")]


def test_a_restore_in_small_batches_is_identical_searchable_and_one_undo(crm, book, db_path,
                                                                       tmp_path, monkeypatch):
    import crmcli.store.bulk as bulk

    monkeypatch.setattr(bulk, "CLIENT_CHUNK", 2)
    monkeypatch.setattr(bulk, "CHUNK", 10)  # rows with ids are written CHUNK // 10 at a time
    first = export_all(crm, db_path, tmp_path / "one", "csv")
    empty = tmp_path / "empty.db"
    crm("--db", empty, "import", "all", tmp_path / "one")
    assert export_all(crm, empty, tmp_path / "two", "csv") == first
    assert "王伟" in crm("--db", empty, "search", "北京").stdout
    assert "张伟" in crm("--db", empty, "search", "采购经理").stdout
    assert "首次会议" in crm("--db", empty, "search", "报价").stdout
    assert "ok" in crm("--db", empty, "db", "check").stdout
    crm("--db", empty, "undo")
    assert all(len(data.splitlines()) == 1 for data in
               export_all(crm, empty, tmp_path / "three", "csv").values())
    crm("--db", empty, "undo")  # redo
    assert export_all(crm, empty, tmp_path / "four", "csv") == first
