"""revenue.source: payments makes CLV, retention, lifecycle and the card count what was
collected, on the day it was received, instead of won deals."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest


@pytest.fixture
def book(crm):
    """A won 1000 on 2026-03-01, collected as 400 on 2026-05-10 and 600 on 2026-08-01;
    B won 500 on 2026-05-01 and has paid nothing."""
    crm("add", "A")
    crm("add", "B")
    crm("deal", "A", "1000", "--at", "2026-03-01")
    crm("deal", "B", "500", "--at", "2026-05-01")
    crm("invoice", "add", "A", "1000", "--issued", "2026-03-01")
    crm("invoice", "pay", "INV-0001", "400", "--at", "2026-05-10")
    crm("invoice", "pay", "INV-0001", "600", "--at", "2026-08-01")
    crm("invoice", "add", "B", "500", "--issued", "2026-05-01")
    return crm


def _use(tmp_path, source: str) -> None:
    (tmp_path / "config.yaml").write_text(f"timezone: UTC\nrevenue:\n  source: {source}\n")


def _clv(crm) -> dict:
    return json.loads(crm("report", "clv", "--json").stdout, parse_float=Decimal)["summary"]


def _retention(crm) -> list[tuple]:
    rows = json.loads(crm("report", "retention", "--period", "quarter", "--since",
                          "2026-01-01", "--until", "2026-09-30", "--json").stdout)
    return [(r["period"], r["active"], r["retained"], r["retention"]) for r in rows]


def test_won_deals_are_the_revenue_by_default(book, tmp_path):
    _use(tmp_path, "deals")
    clv = _clv(book)
    assert (clv["customers"], clv["revenue"], clv["deals"]) == (2, Decimal(1500), 2)
    assert _retention(book) == [("2026-Q1", 1, 0, None), ("2026-Q2", 1, 0, 0),
                                ("2026-Q3", 0, 0, 0)]
    card = json.loads(book("show", "B", "--json").stdout, parse_float=Decimal)
    assert card["revenue_by_currency"] == {"USD": Decimal(500)}


def test_payments_are_the_revenue_when_configured(book, tmp_path):
    _use(tmp_path, "payments")
    clv = _clv(book)
    # A is the one customer: 1000 collected in two payments; B has paid nothing
    assert (clv["customers"], clv["revenue"], clv["deals"], clv["aov"]) == (
        1, Decimal(1000), 2, Decimal(500))
    # A is active in the quarters it paid in: Q2 and Q3, so Q3 retains it
    assert _retention(book) == [("2026-Q2", 1, 0, None), ("2026-Q3", 1, 1, 1)]
    card = json.loads(book("show", "B", "--json").stdout, parse_float=Decimal)
    assert card["revenue_by_currency"] == {} and card["lifecycle"] == {"status": "never"}
    card = json.loads(book("show", "A", "--json").stdout, parse_float=Decimal)
    assert card["revenue_by_currency"] == {"USD": Decimal(1000)}
    assert card["lifecycle"]["last_active"] == "2026-08-01"


def test_an_unknown_revenue_source_is_a_config_error(crm, tmp_path):
    _use(tmp_path, "invoices")
    result = crm("report", "clv", ok=False)
    assert result.exit_code == 1
    assert "key 'revenue.source' must be one of deals, payments, not 'invoices'" in result.stderr
