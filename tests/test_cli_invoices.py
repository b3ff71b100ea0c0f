"""crm invoice add|pay|payments and crm invoices: exact money, partial payments, overpayment
refused, numbers unique and unambiguous, undo, merge and purge."""

from __future__ import annotations

import json
from decimal import Decimal


def _invoices(crm, *args):
    return json.loads(crm("invoices", *args, "--json").stdout, parse_float=Decimal)


def test_invoice_with_terms_and_part_payments_shows_paid_and_balance(crm):
    crm("add", "Acme")
    assert crm("invoice", "add", "Acme", "1200.50", "--issued", "2026-10-01",
               "--terms", "14").stdout == "INV-0001\n"
    crm("invoice", "pay", "INV-0001", "200", "--at", "2026-10-10")
    result = crm("invoice", "pay", "INV-0001", "0.50")
    assert "1000.00 USD still open" in result.stderr
    [inv] = _invoices(crm)
    assert inv["issued"] == "2026-10-01" and inv["due"] == "2026-10-15"
    assert (inv["amount"], inv["paid"], inv["balance"]) == (
        Decimal("1200.50"), Decimal("200.50"), Decimal("1000.00"))
    assert inv["status"] == "overdue" and inv["days_late"] == 38  # now: 2026-11-22
    assert "paid in full" in crm("invoice", "pay", "1", "1000").stderr
    [inv] = _invoices(crm)
    assert inv["status"] == "paid" and inv["balance"] == 0
    payments = json.loads(crm("invoice", "payments", "--json").stdout, parse_float=Decimal)
    assert [p["amount"] for p in payments] == [Decimal("200"), Decimal("0.50"), Decimal("1000")]


def test_overpayment_is_refused_naming_the_open_balance_and_nothing_is_written(
        crm, db_path, snapshot):
    crm("add", "Acme")
    crm("invoice", "add", "Acme", "500", "--currency", "eur")
    crm("invoice", "pay", "INV-0001", "120")
    before = snapshot(db_path)
    result = crm("invoice", "pay", "INV-0001", "380.01", ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "crm: error: amount '380.01': is more than the open balance of invoice INV-0001 "
        "(380 EUR); crm keeps no credit, so record at most the balance"]
    assert snapshot(db_path) == before
    crm("invoice", "pay", "INV-0001", "380")
    result = crm("invoice", "pay", "INV-0001", "1", ok=False)
    assert "invoice INV-0001 is paid in full" in result.stderr
    assert snapshot(db_path) != before


def test_bad_invoices_and_payments_are_one_line_errors(crm, db_path, snapshot):
    crm("add", "Acme")
    crm("add", "Beta")
    crm("deal", "Beta", "100")
    crm("invoice", "add", "Acme", "100", "--number", "A-1", "--issued", "2026-11-01")
    before = snapshot(db_path)
    cases = [
        (["invoice", "add", "Acme", "0"], "must be more than zero"),
        (["invoice", "add", "Acme", "-5"], "must not be negative"),
        (["invoice", "add", "Acme", "19,99"], "is not an amount"),
        (["invoice", "add", "Acme", "10", "--currency", "EURO"], "three-letter code"),
        (["invoice", "add", "Acme", "10", "--number", "A-1"], "is the number of another"),
        (["invoice", "add", "Acme", "10", "--issued", "2026-11-10", "--due", "2026-11-01"],
         "is before the invoice's issue date 2026-11-10"),
        (["invoice", "add", "Acme", "10", "--due", "2026-12-01", "--terms", "5"],
         "not both"),
        (["invoice", "add", "Acme", "10", "--terms", "soon"], "whole number of days"),
        (["invoice", "add", "Acme", "10", "--deal", "1"], "is a deal of client 2"),
        (["invoice", "add", "Acme", "10", "--number", "bad\x1bnumber"], "control character"),
        (["invoice", "pay", "A-1", "10", "--at", "2026-10-01"], "before invoice A-1 was issued"),
        (["invoice", "pay", "A-1", "10", "--at", "2026-12-01"], "later than now"),
        (["invoice", "pay", "NOPE", "10"], "no invoice with number or id 'NOPE'"),
    ]
    for args, text in cases:
        result = crm(*args, ok=False)
        assert result.exit_code == 1, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and text in lines[0], (args, lines)
    assert snapshot(db_path) == before


def test_a_number_that_is_another_invoices_id_is_ambiguous(crm):
    crm("add", "Acme")
    crm("invoice", "add", "Acme", "10", "--number", "2")
    crm("invoice", "add", "Acme", "20", "--number", "X")
    result = crm("invoice", "pay", "2", "1", ok=False)
    assert "'2' is the id of invoice X and the number of invoice 1" in result.stderr
    crm("invoice", "pay", "#2", "1")
    assert [i["paid"] for i in _invoices(crm)] == [Decimal("1"), Decimal("0")]


def test_terms_default_comes_from_the_config(crm, tmp_path):
    (tmp_path / "config.yaml").write_text("timezone: UTC\ninvoices:\n  terms_days: 10\n")
    crm("add", "Acme")
    crm("invoice", "add", "Acme", "10", "--issued", "2026-11-01")
    assert _invoices(crm)[0]["due"] == "2026-11-11"
    (tmp_path / "config.yaml").write_text("invoices:\n  remind_days: [7, 0]\n")
    result = crm("invoices", ok=False)
    assert "invoices.remind_days" in result.stderr


def test_open_and_overdue_filters_and_the_deals_currency(crm):
    crm("add", "Acme")
    crm("deal", "Acme", "300", "--currency", "GBP")
    crm("invoice", "add", "Acme", "300", "--deal", "1", "--issued", "2026-10-01")
    crm("invoice", "add", "Acme", "50", "--issued", "2026-11-20")
    crm("invoice", "add", "Acme", "70", "--issued", "2026-11-20")
    crm("invoice", "pay", "INV-0003", "70")
    assert [i["number"] for i in _invoices(crm, "--open")] == ["INV-0002", "INV-0001"]
    [late] = _invoices(crm, "--overdue")
    assert (late["number"], late["currency"], late["deal_id"]) == ("INV-0001", "GBP", 1)
    csv = crm("invoices", "--overdue", "--fields", "number,balance", "-f", "csv").stdout
    assert csv == "number,balance\nINV-0001,300\n"


def test_undo_reverts_a_payment_and_an_invoice_with_payments_is_not_undone_alone(crm):
    crm("add", "Acme")
    crm("invoice", "add", "Acme", "100")
    crm("invoice", "pay", "INV-0001", "40")
    crm("undo")
    assert _invoices(crm)[0]["paid"] == 0
    crm("undo")  # redo the payment
    assert _invoices(crm)[0]["paid"] == 40
    result = crm("undo", "2", ok=False)  # change 2: the invoice
    assert "invoice 1 has 1 payment added since" in result.stderr


def test_merge_moves_invoices_and_payments_and_purge_removes_them_undoably(crm):
    crm("add", "Acme")
    crm("add", "Acme Dup")
    crm("invoice", "add", "Acme Dup", "100")
    crm("invoice", "pay", "INV-0001", "30")
    crm("merge", "Acme", "Acme Dup")
    [inv] = _invoices(crm, "Acme")
    assert inv["client_id"] == 1 and inv["paid"] == 30
    assert json.loads(crm("invoice", "payments", "Acme", "--json").stdout)[0]["client_id"] == 1
    crm("rm", "Acme", "--purge", "--yes")
    assert _invoices(crm) == []
    crm("undo")
    assert _invoices(crm)[0]["paid"] == 30
