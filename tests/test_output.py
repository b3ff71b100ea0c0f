"""The one rendering path: formats, JSON numbers, CSV safety, terminal detection."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest

from crmcli.render.output import defuse_formula, emit, emit_record, to_json


class TTY(io.StringIO):
    def isatty(self):
        return True


ROWS = [{"id": 1, "name": "Acme", "amount": Decimal("19.99"), "tags": ["a", "b"]},
        {"id": 2, "name": "王伟", "amount": Decimal("1000.10"), "tags": []}]


def render(fmt, rows=ROWS, **kw):
    out = io.StringIO()
    emit(rows, fmt, out=out, **kw)
    return out.getvalue()


def test_json_writes_money_exactly_as_stored():
    assert render("json") == (
        '[\n  {"id": 1, "name": "Acme", "amount": 19.99, "tags": ["a", "b"]},\n'
        '  {"id": 2, "name": "王伟", "amount": 1000.10, "tags": []}\n]\n')
    assert json.loads(render("json"))[1]["amount"] == 1000.1


def test_json_of_nothing_is_an_empty_array():
    assert render("json", []) == "[]\n"
    assert render("ndjson", []) == ""
    assert render("table", []) == ""


def test_csv_of_nothing_is_the_header_when_the_columns_are_known_else_nothing():
    assert render("csv", [], columns=["id", "name"]) == "id,name\n"
    assert render("tsv", [], columns=["id", "name"]) == "id\tname\n"
    assert render("csv", []) == ""   # not a blank line, which cron would mail
    assert render("tsv", []) == ""


def test_ndjson_is_one_object_per_line():
    lines = render("ndjson").splitlines()
    assert [json.loads(line)["id"] for line in lines] == [1, 2]


def test_csv_and_tsv_have_a_header_and_json_lists():
    assert render("csv") == 'id,name,amount,tags\n1,Acme,19.99,"[""a"", ""b""]"\n2,王伟,1000.10,\n'
    assert render("tsv").splitlines()[0] == "id\tname\tamount\ttags"


def test_csv_defuses_formula_injection():
    out = render("csv", [{"name": "=cmd|' /C calc'!A0"}, {"name": "+1+1"}, {"name": "-5"},
                         {"name": "@SUM(A1)"}])
    assert out.splitlines()[1:] == ["'=cmd|' /C calc'!A0", "'+1+1", "-5", "'@SUM(A1)"]
    assert defuse_formula("-12.5") == "-12.5"


def test_plain_table_aligns_wide_characters_and_numbers():
    out = render("table", columns=["id", "name", "amount"])
    assert out == ("id  name    amount\n"
                   "--  ----  --------\n"
                   " 1  Acme     19.99\n"
                   " 2  王伟  1,000.10\n")


def test_tables_show_a_column_of_amounts_with_one_number_of_decimals():
    rows = [{"month": "2026-05", "revenue": Decimal("51300")},
            {"month": "2026-06", "revenue": Decimal("117049.5")},
            {"month": "2026-07", "revenue": Decimal("19.99")},
            {"month": "2026-08", "revenue": None}]
    # with thousands separators, as people read amounts
    assert render("table", rows) == ("month       revenue\n"
                                     "-------  ----------\n"
                                     "2026-05   51,300.00\n"
                                     "2026-06  117,049.50\n"
                                     "2026-07       19.99\n"
                                     "2026-08\n")
    assert render("markdown", rows).splitlines()[2] == "| 2026-05 | 51,300.00 |"
    # the machine formats keep every amount exactly as stored
    assert [r["revenue"] for r in json.loads(render("json", rows))] == [51300, 117049.5, 19.99,
                                                                         None]
    assert render("csv", rows).splitlines()[1:3] == ["2026-05,51300", "2026-06,117049.5"]


def test_markdown_table():
    out = render("markdown", columns=["name", "amount"])
    assert out.splitlines() == ["| name | amount |", "| --- | ---: |", "| Acme | 19.99 |",
                                "| 王伟 | 1,000.10 |"]


def test_rich_table_on_a_terminal_and_no_colour_with_no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    out = TTY()
    emit(ROWS, "table", out=out, columns=["id", "name"])
    text = out.getvalue()
    assert "Acme" in text and "王伟" in text
    assert "\x1b[" not in text


@pytest.mark.parametrize("fmt", ["json", "ndjson", "table", "csv", "markdown"])
def test_emit_record_in_every_format(fmt):
    out = io.StringIO()
    emit_record({"path": "/x.db", "ok": True}, fmt, out=out)
    assert "/x.db" in out.getvalue()


def test_to_json_handles_nan_and_dates():
    from datetime import date

    assert to_json({"x": float("nan"), "d": date(2026, 1, 2)}) == '{"x": null, "d": "2026-01-02"}'
