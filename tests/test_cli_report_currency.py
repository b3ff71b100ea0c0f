"""Money always with its currency, one JSON shape whatever the data, and deals in another
currency named, never dropped silently."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest


@pytest.fixture
def gbp_book(crm, tmp_path):
    (tmp_path / "config.yaml").write_text("timezone: UTC\ncurrency: GBP\n")
    crm("add", "Li Wei")
    crm("deal", "Li Wei", "88000", "--currency", "CNY", "--at", "2026-10-01")
    crm("add", "Ann")
    crm("deal", "Ann", "1200.5", "--at", "2026-10-01")


def test_the_card_shows_revenue_with_its_currency(crm, gbp_book):
    out = crm("show", "Li Wei").stdout
    [line] = [ln for ln in out.splitlines() if ln.strip().startswith("revenue")]
    assert line.split(None, 1)[1] == ("88,000.00 CNY (none in GBP, the currency of the "
                                      "reports and CLV)")
    [clv] = [ln for ln in out.splitlines() if ln.strip().startswith("clv")]
    assert "historical 0.00 GBP" in clv


def test_the_card_json_has_one_shape_whatever_the_currencies(crm, gbp_book):
    one = json.loads(crm("show", "Ann", "--json").stdout, parse_float=Decimal)
    crm("deal", "Ann", "5", "--currency", "EUR", "--at", "2026-10-02")
    two = json.loads(crm("show", "Ann", "--json").stdout, parse_float=Decimal)
    none = json.loads(crm("show", "Li Wei", "--json").stdout, parse_float=Decimal)
    for card in (one, two, none):
        assert card["currency"] == "GBP"
        assert isinstance(card["revenue"], Decimal | int)
        assert isinstance(card["revenue_by_currency"], dict)
    assert one["revenue_by_currency"] == {"GBP": Decimal("1200.5")}
    assert two["revenue_by_currency"] == {"EUR": 5, "GBP": Decimal("1200.5")}
    assert (none["revenue"], none["revenue_by_currency"]) == (0, {"CNY": 88000})


def test_reports_name_the_deals_they_leave_out(crm, gbp_book):
    result = crm("report", "clv", "--json")
    data = json.loads(result.stdout, parse_float=Decimal)
    assert data["summary"]["other_currencies"] == {"CNY": {"revenue": 88000, "deals": 1}}
    assert result.stderr == ("crm: note: CLV in GBP only; not counted: 1 won deal "
                             "(88,000.00 CNY) (amounts are not converted between currencies; "
                             "crm show CLIENT lists a client's revenue in each)\n")
    summary = crm("report", "summary", "--json")
    overview = json.loads(summary.stdout, parse_float=Decimal)["overview"]
    assert overview["other_currencies_12m"] == {"CNY": {"revenue": 88000, "deals": 1}}
    assert "not counted: 1 won deal (88,000.00 CNY)" in summary.stderr
    table = crm("report", "summary").stdout
    assert "1,200.50 GBP" in table and "88,000.00 CNY" in table
    assert "not counted" in crm("report", "segments").stderr
    [other] = [ln for ln in crm("report", "clv").stdout.splitlines()
               if ln.startswith("other_currencies")]
    assert other.split(None, 1)[1] == "88,000.00 CNY"


def test_a_one_currency_book_has_the_same_fields_and_no_note(crm):
    crm("add", "Ann")
    crm("deal", "Ann", "10", "--at", "2026-10-01")
    result = crm("report", "summary", "--json")
    assert json.loads(result.stdout)["overview"]["other_currencies_12m"] == {}
    assert result.stderr == ""


def test_amounts_follow_the_currency_decimals(crm, tmp_path):
    (tmp_path / "config.yaml").write_text("timezone: UTC\ncurrency: JPY\n")
    crm("add", "Sato")
    crm("deal", "Sato", "1250000", "--at", "2026-10-01")
    [line] = [ln for ln in crm("show", "Sato").stdout.splitlines()
              if ln.strip().startswith("revenue")]
    assert line.split(None, 1)[1] == "1,250,000 JPY"
