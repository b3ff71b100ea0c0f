"""The same book on SQLite and on PostgreSQL gives the same answers: every report's JSON,
the read commands, and search (Latin, accented, Chinese, Japanese, Korean), on the demo
book (`crm demo`) and on a CDNOW sample brought in through `crm import`.

Needs a PostgreSQL server (the pg_book fixture) whatever CRM_TEST_ENGINE says."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

CDNOW = Path(__file__).parent / "fixtures" / "cdnow_sample.csv"
CDNOW_CLIENTS = 400

# Every `crm report` subcommand (test_every_report_subcommand_is_compared checks the list
# against the CLI), with the variants whose SQL differs.
REPORTS = [
    ["summary"], ["retention"], ["retention", "--period", "quarter"], ["cohorts"],
    ["cohorts", "--period", "quarter"], ["churn"], ["clv"], ["clv", "--top", "5"],
    ["receivables"], ["response"], ["response", "--awaiting"], ["response", "--by", "channel"],
    ["response", "--kind", "complaint", "--awaiting"], ["nps"], ["funnel"], ["segments"],
    ["segments", "--clients"], ["segments", "--tiers"],
    ["forecast"],
]
READS = [["due"], ["ls"], ["ls", "--all"], ["stage"], ["deals"], ["deals", "--status", "open"],
         ["followups"], ["invoices"], ["tags"], ["show", "1"], ["show", "5"]]
SEARCHES = ["review", "call", "review meeting", "Müller", "muller", "García", "chloe", "O'Connor",
            "报价", "王伟", "确认", "株式会社", "さくら", "佐藤", "계약", "서울", "김민준"]


def run(crm, db, *args):
    result = crm("--db", db, *args, ok=False)
    return result.exit_code, result.stdout, result.stderr


def differences(crm, sqlite_db, pg_db, commands):
    found = []
    for args in commands:
        a, b = run(crm, sqlite_db, *args), run(crm, pg_db, *args)
        assert a[0] == 0, (args, a)
        if a != b:
            found.append((args, a, b))
    return found


def test_every_report_subcommand_is_compared(crm):
    listed = crm("report", "--help").stdout.split("Commands")[1]
    names = set(re.findall(r"^(?:│ | {2})([a-z][a-z-]*) {2,}", listed, re.M))
    assert names == {r[0] for r in REPORTS}


@pytest.fixture
def demo_books(crm, tmp_path, pg_book):
    sqlite_db = str(tmp_path / "demo.db")
    crm("demo", sqlite_db, "-q")
    crm("demo", pg_book, "-q")
    return sqlite_db, pg_book


def test_reports_are_identical_on_the_demo_book(crm, demo_books):
    diffs = differences(crm, *demo_books, [["report", *r, "--format", "json"] for r in REPORTS])
    assert diffs == []


def test_read_commands_are_identical_on_the_demo_book(crm, demo_books):
    diffs = differences(crm, *demo_books, [[*r, "--format", "json"] for r in READS])
    assert diffs == []


@pytest.mark.parametrize("limit", ["3", "50"])
def test_search_finds_the_same_records_in_the_same_order(crm, demo_books, limit):
    sqlite_db, pg_db = demo_books
    for text in SEARCHES:
        code, out, err = run(crm, sqlite_db, "search", text, "--limit", limit, "--format", "json")
        assert code == 0 and json.loads(out), text  # every query finds something
        assert run(crm, pg_db, "search", text, "--limit", limit, "--format", "json") == (
            code, out, err), text


def test_a_search_that_finds_nothing_says_so_on_both(crm, demo_books):
    sqlite_db, pg_db = demo_books
    for text in ["zzzqqq", "报价报价", "株式会社会"]:
        assert run(crm, sqlite_db, "search", text) == run(crm, pg_db, "search", text)


def _cdnow_files(folder: Path) -> tuple[Path, Path]:
    with CDNOW.open() as f:
        rows = list(csv.DictReader(f))
    ids = sorted({int(r["customer_id"]) for r in rows})[:CDNOW_CLIENTS]
    keep = set(ids)
    clients, deals = folder / "cdnow_clients.csv", folder / "cdnow_deals.csv"
    with clients.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["external_id", "name", "created_at"])
        out.writerows([f"cdnow-{i}", f"cdnow {i}", "1997-01-01T00:00:00Z"] for i in ids)
    with deals.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["client", "amount", "currency", "at", "status"])
        out.writerows([f"cdnow-{r['customer_id']}", r["amount"], "USD",
                       f"{r['date']}T12:00:00Z", "won"]
                      for r in rows if int(r["customer_id"]) in keep)
    return clients, deals


def test_reports_are_identical_on_a_cdnow_sample_imported(crm, tmp_path, pg_book):
    clients, deals = _cdnow_files(tmp_path)
    sqlite_db = str(tmp_path / "cdnow.db")
    for db in (sqlite_db, pg_book):
        crm("--db", db, "import", "clients", clients)
        crm("--db", db, "import", "deals", deals)
    commands = [["report", *r, "--format", "json"] for r in REPORTS]
    commands += [["report", "cohorts", "--since", "1997-01-01", "--format", "json"],
                 ["report", "retention", "--since", "1997-01-01", "--format", "json"],
                 ["report", "segments", "--clients", "--format", "json"],
                 ["report", "segments", "--tiers", "--format", "json"]]
    diffs = differences(crm, sqlite_db, pg_book, commands)
    assert diffs == []
    assert json.loads(run(crm, pg_book, "report", "clv", "--format", "json")[1])


def test_demo_never_overwrites_a_book_on_the_server(crm, pg_book, snapshot):
    crm("--db", pg_book, "add", "Precious Client")
    before = snapshot(pg_book)
    for force in ([], ["--force"]):
        result = crm("demo", pg_book, *force, ok=False)
        assert result.exit_code == 1 and "is not empty" in result.stderr, result.stderr
        assert len(result.stderr.splitlines()) == 1
    assert "dropdb" in result.stderr
    assert snapshot(pg_book) == before
