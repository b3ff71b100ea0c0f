"""crm deal and crm deals: money round-trips exactly as typed."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from helpers import connect_book


def _amounts(db_path):
    conn = connect_book(db_path)
    try:
        return [r[0] for r in conn.execute("SELECT amount FROM deals ORDER BY id")]
    finally:
        conn.close()


def test_money_round_trips_exactly_in_json_and_table(crm, db_path):
    crm("add", "Acme")
    crm("deal", "Acme", "19.99", "--title", "Widget")
    assert _amounts(db_path) == ["19.99"]
    result = crm("deals", "--format", "json")
    assert '"amount": 19.99,' in result.stdout
    assert json.loads(result.stdout, parse_float=Decimal)[0]["amount"] == Decimal("19.99")
    table = crm("deals").stdout
    assert "19.99" in table.splitlines()[2]
    assert "19.990" not in table


def test_amounts_keep_every_digit(crm, db_path):
    crm("add", "Acme")
    for amount in ("0.10", "1200", "123456789012.345", "1,250.50"):
        crm("deal", "Acme", amount)
    assert _amounts(db_path) == ["0.10", "1200", "123456789012.345", "1250.50"]
    out = crm("deals", "--format", "csv").stdout
    for text in ("0.10", "1200", "123456789012.345", "1250.50"):
        assert f",{text}," in out
    data = json.loads(crm("deals", "--json").stdout, parse_float=Decimal)
    assert sorted(d["amount"] for d in data) == sorted(
        Decimal(t) for t in ("0.10", "1200", "123456789012.345", "1250.50"))


def test_deal_defaults_status_won_and_config_currency_and_prints_id(crm, db_path, tmp_path):
    (tmp_path / "config.yaml").write_text("timezone: UTC\ncurrency: EUR\n")
    crm("add", "Acme")
    result = crm("deal", "Acme", "500")
    assert result.stdout.strip() == "1"
    assert "recorded won deal 1: 500 EUR for client 1 Acme" in result.stderr
    [deal] = crm.json("deals")
    assert (deal["status"], deal["currency"], deal["at"]) == ("won", "EUR",
                                                             "2026-11-22T10:00:00Z")


def test_deal_options_and_filters(crm):
    crm("add", "Acme")
    crm("add", "Beta")
    crm("deal", "Acme", "100", "--status", "open", "--title", "Pilot", "--at", "2026-10-01")
    crm("deal", "Beta", "250.5", "--status", "lost", "--currency", "jpy")
    crm("deal", "Acme", "300", "--at", "2026-11-01")
    assert [d["amount"] for d in crm.json("deals", "Acme")] == [300, 100]
    [open_deal] = crm.json("deals", "--status", "open")
    assert (open_deal["title"], open_deal["client"]) == ("Pilot", "Acme")
    [lost] = crm.json("deals", "Beta")
    assert (lost["status"], lost["currency"], lost["amount"]) == ("lost", "JPY", 250.5)


def test_negative_amount_is_rejected_with_or_without_double_dash(crm, db_path, snapshot):
    crm("add", "Acme")
    before = snapshot(db_path)
    for args in (("deal", "Acme", "-5"), ("deal", "Acme", "--", "-19.99")):
        result = crm(*args, ok=False)
        assert result.exit_code == 1
        assert "must not be negative" in result.stderr
        assert snapshot(db_path) == before


def test_non_numeric_amounts_are_rejected(crm, db_path, snapshot):
    crm("add", "Acme")
    before = snapshot(db_path)
    for bad in ("abc", "12.3.4", "1e5", "NaN", ""):
        result = crm("deal", "Acme", bad, ok=False)
        assert result.exit_code == 1, bad
        assert result.stderr.startswith("crm: error: amount"), result.stderr
        assert snapshot(db_path) == before
    result = crm("deal", "Acme", "abc", ok=False)
    assert result.stderr.strip() == ("crm: error: amount 'abc': is not an amount (expected "
                                     "digits such as 1200 or 19.99)")


def test_a_decimal_comma_is_refused_not_read_as_thousands(crm, db_path, snapshot):
    crm("add", "Acme")
    before = snapshot(db_path)
    for bad in ("19,99", "1,2", "12,34,567", "1,000_000", ",5"):
        result = crm("deal", "Acme", bad, ok=False)
        assert result.exit_code == 1, bad
        assert result.stderr == (f"crm: error: amount '{bad}': is not an amount (a comma only "
                                 "separates thousands, as in 1,200.50; decimals take a point: "
                                 "19.99)\n")
        assert snapshot(db_path) == before
    crm("deal", "Acme", "1,200,000")
    crm("deal", "Acme", "1_000.5")
    assert _amounts(db_path) == ["1200000", "1000.5"]


def test_bad_status_and_currency_are_rejected(crm, db_path, snapshot):
    crm("add", "Acme")
    before = snapshot(db_path)
    result = crm("deal", "Acme", "10", "--status", "maybe", ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip() == "crm: error: status 'maybe': must be one of won, open, lost"
    result = crm("deal", "Acme", "10", "--currency", "dollars", ok=False)
    assert result.exit_code == 1
    assert "must be a three-letter code" in result.stderr
    assert snapshot(db_path) == before


def test_won_deals_are_the_revenue_on_the_card(crm):
    crm("add", "Acme")
    crm("deal", "Acme", "19.99")
    crm("deal", "Acme", "0.01")
    crm("deal", "Acme", "1000", "--status", "open")
    crm("deal", "Acme", "7", "--status", "lost")
    card = json.loads(crm("show", "Acme", "--format", "json").stdout, parse_float=Decimal)
    assert card["revenue"] == Decimal("20.00")
    crm("deal", "Acme", "5", "--currency", "EUR")
    card = json.loads(crm("show", "Acme", "--json").stdout, parse_float=Decimal)
    # one shape whatever the data: revenue in the book's currency, and every currency's
    assert (card["currency"], card["revenue"]) == ("USD", Decimal("20.00"))
    assert card["revenue_by_currency"] == {"EUR": Decimal("5"), "USD": Decimal("20.00")}


def test_no_deals_prints_nothing_in_table_and_empty_array_in_json(crm):
    crm("add", "Acme")
    assert crm("deals").stdout == ""
    assert crm.json("deals") == []


def test_deal_is_recorded_in_history_for_undo(crm, db_path):
    crm("add", "Acme")
    crm("deal", "Acme", "42.50", "--title", "Widget")
    conn = connect_book(db_path)
    try:
        summary = conn.execute("SELECT summary FROM changes WHERE command = 'deal'").fetchone()[0]
    finally:
        conn.close()
    assert summary == "recorded won deal 42.50 USD for client 1 Acme"


def test_an_open_deal_that_is_won_becomes_revenue_on_the_day_it_was_won(crm, db_path):
    crm("add", "Acme")
    crm("deal", "Acme", "1200", "--status", "open", "--title", "Pilot", "--at", "2026-09-01")
    assert crm.json("show", "Acme")["revenue"] == 0
    result = crm("edit-deal", "1", "--status", "won", "--at", "2026-11-20")
    assert result.stderr == "deal 1: at 2026-11-20 12:00, status won\n"
    [deal] = crm.json("deals")
    assert (deal["status"], deal["at"], deal["title"]) == ("won", "2026-11-20T12:00:00Z", "Pilot")
    assert crm.json("show", "Acme")["revenue"] == 1200
    [nov] = [r for r in crm.json("report", "retention", "--period", "month")
             if r["period"] == "2026-11"]
    assert nov["active"] == 1
    assert crm("edit-deal", "1", "--status", "won").stderr == "deal 1 unchanged\n"


def deals_table(db_path):
    conn = connect_book(db_path)
    try:
        return conn.execute("SELECT * FROM deals ORDER BY id").fetchall()
    finally:
        conn.close()


def test_edit_deal_moves_it_clears_the_title_and_is_one_change_that_undo_reverts(crm, db_path):
    crm("add", "Acme")
    crm("add", "Beta")
    crm("deal", "Acme", "19.99", "--title", "Widget")
    before = deals_table(db_path)
    result = crm("edit-deal", "1", "--client", "Beta", "--amount", "1000.10", "--title", "",
                 "--currency", "eur")
    assert result.stderr == ("deal 1: client 2 Beta, amount 1000.10, title cleared, "
                             "currency EUR\n")
    assert _amounts(db_path) == ["1000.10"]
    [deal] = crm.json("deals", "Beta")
    assert (deal["client"], deal["title"], deal["currency"]) == ("Beta", None, "EUR")
    [change] = crm.json("history", "--limit", "1")
    assert (change["command"], change["old"], change["new"]) == (
        "edit-deal", {"client_id": 1, "amount": "19.99", "title": "Widget", "currency": "USD"},
        {"client_id": 2, "amount": "1000.10", "title": None, "currency": "EUR"})
    changed = deals_table(db_path)
    assert crm("undo").stderr.startswith("undid change 4: edited deal 1 of client 2 Beta")
    assert deals_table(db_path) == before
    crm("undo")
    assert deals_table(db_path) == changed


def test_edit_deal_refuses_bad_values_in_one_line_and_changes_nothing(crm, db_path, snapshot):
    crm("add", "Acme")
    crm("deal", "Acme", "50")
    before = snapshot(db_path)
    for args, code, line in (
            (("1", "--amount", "-5"), 1, "crm: error: amount '-5': must not be negative\n"),
            (("1", "--status", "maybe"), 1,
             "crm: error: status 'maybe': must be one of won, open, lost\n"),
            (("1", "--currency", "EURO"), 1,
             "crm: error: currency 'EURO': must be a three-letter code such as USD\n"),
            (("1", "--client", "nobody"), 1, "crm: error: no client matches 'nobody'\n"),
            (("9", "--status", "won"), 1, "crm: error: no deal with id 9\n"),
            (("1",), 2, "crm: error: nothing to change: give --status, --amount, --at, "
                        "--title, --currency, --client, --set, --probability or --close\n")):
        result = crm("edit-deal", *args, ok=False)
        assert (result.exit_code, result.stderr, result.stdout) == (code, line, ""), args
    assert snapshot(db_path) == before
