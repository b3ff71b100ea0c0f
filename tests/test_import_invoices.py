"""crm import/export invoices and payments: the checks of crm invoice add and pay on every
row, all-or-nothing, a round trip to an identical export, and undo."""

from __future__ import annotations

import json
from decimal import Decimal


def _book(crm):
    crm("add", "Acme", "--email", "ops@acme.test")
    crm("add", "Beta")
    crm("deal", "Beta", "900")


def test_invoices_and_payments_import_by_number_with_terms_from_the_config(crm, tmp_path):
    _book(crm)
    (tmp_path / "inv.csv").write_text(
        "client,number,issued,due,amount,currency,deal_id\n"
        "ops@acme.test,A-1,2026-09-01,,1200.50,,\n"
        "2,B-1,2026-10-01,2026-10-15,900,eur,1\n")
    crm("import", "invoices", tmp_path / "inv.csv")
    (tmp_path / "pay.ndjson").write_text(
        '{"invoice": "A-1", "amount": 200.50, "at": "2026-10-01"}\n'
        '{"invoice_id": 1, "amount": "1000", "at": "2026-10-02T09:00:00Z", "note": "wire"}\n'
        '{"invoice": "B-1", "client": "2", "amount": "100", "at": "2026-10-20"}\n')
    result = crm("import", "payments", tmp_path / "pay.ndjson")
    assert "3 inserted" in result.stderr
    rows = {r["number"]: r for r in json.loads(crm("invoices", "--json").stdout,
                                               parse_float=Decimal)}
    assert rows["A-1"]["due"] == "2026-10-01"  # issued + invoices.terms_days (30)
    assert (rows["A-1"]["paid"], rows["A-1"]["status"]) == (Decimal("1200.50"), "paid")
    assert (rows["B-1"]["currency"], rows["B-1"]["deal_id"], rows["B-1"]["balance"]) == (
        "EUR", 1, Decimal(800))
    payments = json.loads(crm("invoice", "payments", "--json").stdout)
    assert [(p["client_id"], p["currency"]) for p in payments] == [
        (1, "USD"), (1, "USD"), (2, "EUR")]


def test_an_overpayment_across_the_rows_of_a_file_is_refused_and_nothing_written(
        crm, tmp_path, db_path, snapshot):
    _book(crm)
    crm("invoice", "add", "Acme", "100", "--number", "A-1", "--issued", "2026-09-01")
    crm("invoice", "pay", "A-1", "30", "--at", "2026-09-05")
    source = tmp_path / "pay.csv"
    source.write_text("invoice,amount,at\nA-1,50,2026-10-01\nA-1,20.01,2026-10-02\n"
                      "A-1,1,2026-08-01\nNOPE,1,2026-10-01\nA-1,1,2027-01-01\n")
    before = snapshot(db_path)
    result = crm("import", "payments", source, ok=False)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"crm: error: 4 invalid rows in {source}; nothing was imported"
    lines = lines[1:]
    assert lines[0] == (f"{source}:3: field 'amount': value '20.01': is more than "
                        "the open balance of invoice A-1 (20 USD); crm keeps no credit, so "
                        "record at most the balance")
    assert "before invoice A-1 was issued" in lines[1]
    assert "no invoice with number or id 'NOPE'" in lines[2]
    assert "later than now" in lines[3]
    assert snapshot(db_path) == before
    crm("import", "payments", source, "--skip-invalid", "--rejects", tmp_path / "bad.csv")
    assert json.loads(crm("invoices", "--json").stdout)[0]["paid"] == 80
    assert len((tmp_path / "bad.csv").read_text().splitlines()) == 5


def test_bad_invoice_rows_are_refused_with_their_line(crm, tmp_path):
    _book(crm)
    crm("invoice", "add", "Acme", "100", "--number", "A-1", "--issued", "2026-09-01")
    source = tmp_path / "inv.csv"
    source.write_text("client,number,issued,due,amount,deal_id\n"
                      "1,A-1,2026-09-02,,100,\n"        # another invoice's number
                      "1,N-1,2026-09-01,,100,\n"
                      "1,N-1,2026-09-01,,200,\n"        # twice in the file
                      "1,N-2,2026-09-10,2026-09-01,5,\n"
                      "1,N-3,2026-09-10,,0,\n"
                      "1,N-4,2026-09-10,,5,1\n"         # Beta's deal
                      "1,N-5,tomorrow,,5,\n")
    result = crm("import", "invoices", source, ok=False)
    lines = result.stderr.strip().splitlines()
    assert lines[0].endswith("6 invalid rows in " + str(source) + "; nothing was imported")
    lines = lines[1:]
    assert "field 'number': value 'A-1': is the number of invoice 1" in lines[0]
    assert ":4: field 'number'" in lines[1] and "in this input" in lines[1]
    assert "is before the invoice's issue date 2026-09-10" in lines[2]
    assert "must be more than zero" in lines[3]
    assert "belongs to client 2, not 1" in lines[4]
    assert "field 'issued'" in lines[5]
    assert json.loads(crm("invoices", "--json").stdout)[0]["number"] == "A-1"


def test_export_all_and_import_all_give_an_identical_export_and_import_is_undone_whole(
        crm, tmp_path, monkeypatch):
    _book(crm)
    crm("invoice", "add", "Acme", "1200", "--number", "=1+1", "--issued", "2026-09-01",
        "--note", "first, \"quoted\"")
    crm("invoice", "add", "Beta", "900", "--deal", "1", "--currency", "JPY")
    crm("invoice", "pay", "#1", "0.01", "--at", "2026-09-02")
    crm("invoice", "pay", "#2", "900")
    crm("export", "all", "-o", tmp_path / "out")
    assert "'=1+1" in (tmp_path / "out" / "invoices.csv").read_text()
    monkeypatch.setenv("CRM_DB", str(tmp_path / "copy.db"))
    crm("import", "all", tmp_path / "out")
    crm("export", "all", "-o", tmp_path / "again")
    for kind in ("invoices", "payments"):
        assert (tmp_path / "again" / f"{kind}.csv").read_text() == \
            (tmp_path / "out" / f"{kind}.csv").read_text()
    for fmt in ("json", "ndjson", "tsv"):
        text = crm("export", "payments", "--format", fmt).stdout
        assert "0.01" in text
    again = crm("import", "all", tmp_path / "out").stderr
    assert "imported invoices from" in again and "2 unchanged" in again
    crm("undo")  # the second import changed nothing: undo reverts the first
    assert json.loads(crm("invoices", "--json").stdout) == []
    assert json.loads(crm("invoice", "payments", "--json").stdout) == []
