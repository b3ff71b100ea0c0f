"""--fields picks and orders the fields of any record-printing command; --no-headers leaves
the header line out of table, csv and tsv."""

from __future__ import annotations

import csv
import io
import json


def _book(crm):
    crm("add", "Acme", "--email", "ops@acme.test", "--tag", "vip", "--owner", "ana")
    crm("add", "Beta", "--email", "hi@beta.test", "--owner", "bo")


def test_fields_pick_and_order_in_every_format(crm):
    _book(crm)
    args = ("ls", "--fields", "email,id")
    assert json.loads(crm(*args, "--json").stdout) == [
        {"email": "ops@acme.test", "id": 1}, {"email": "hi@beta.test", "id": 2}]
    assert [json.loads(line) for line in crm(*args, "-f", "ndjson").stdout.splitlines()] == [
        {"email": "ops@acme.test", "id": 1}, {"email": "hi@beta.test", "id": 2}]
    assert crm(*args, "-f", "csv").stdout == "email,id\nops@acme.test,1\nhi@beta.test,2\n"
    assert crm(*args, "-f", "tsv").stdout == "email\tid\nops@acme.test\t1\nhi@beta.test\t2\n"
    table = crm(*args, "-f", "table").stdout.splitlines()
    assert table[0].split() == ["email", "id"] and table[2].split() == ["ops@acme.test", "1"]
    markdown = crm(*args, "-f", "markdown").stdout.splitlines()
    assert markdown[0] == "| email | id |"


def test_fields_reach_fields_the_table_does_not_show(crm):
    _book(crm)
    table = crm("ls", "--fields", "name,created_at").stdout.splitlines()
    assert table[0].split() == ["name", "created_at"]
    assert "2026-11-22" in table[2]


def test_an_unknown_field_is_a_usage_error_listing_the_valid_ones(crm, db_path, snapshot):
    _book(crm)
    before = snapshot(db_path)
    for fmt in ("table", "json", "csv"):
        result = crm("ls", "--fields", "id,nmae", "-f", fmt, ok=False)
        assert result.exit_code == 2
        assert result.stdout == ""
        line = result.stderr.strip()
        assert len(result.stderr.splitlines()) == 1
        assert "unknown field 'nmae'" in line and "valid: " in line
        assert "name" in line.split("valid: ")[1].split(", ")
    assert snapshot(db_path) == before


def test_no_headers_in_table_csv_and_tsv(crm):
    _book(crm)
    assert crm("ls", "--fields", "id,name", "-f", "csv", "--no-headers").stdout == \
        "1,Acme\n2,Beta\n"
    assert crm("ls", "--fields", "id,name", "-f", "tsv", "--no-headers").stdout == \
        "1\tAcme\n2\tBeta\n"
    assert crm("ls", "--fields", "id,name", "--no-headers").stdout == "1  Acme\n2  Beta\n"
    # No --fields: the command's own columns, still without the header.
    rows = list(csv.reader(io.StringIO(crm("tags", "-f", "csv", "--no-headers").stdout)))
    assert rows == [["vip", "1"]]


def test_fields_on_a_card_and_a_single_record(crm):
    _book(crm)
    assert crm.json("show", "Acme", "--fields", "name,owner,tags") == {
        "name": "Acme", "owner": "ana", "tags": ["vip"]}
    out = crm("show", "Acme", "--fields", "name,email", "--no-headers").stdout
    assert out.split() == ["name", "Acme", "email", "ops@acme.test"]
    check = crm.json("db", "check", "--fields", "ok,clients")
    assert check == {"ok": True, "clients": 2}


def test_fields_on_a_report_of_several_parts(crm):
    _book(crm)
    crm("deal", "Acme", "100", "--at", "2026-11-01")
    data = crm.json("report", "summary", "--fields", "clients,revenue_12m")
    # Each part keeps the chosen fields it has; parts with none of them are left out.
    assert data["overview"] == {"clients": 2, "revenue_12m": 100}
    assert "lifecycle" not in data
    assert all(set(row) == {"clients"} for row in data["revenue_by_month"])
    text = crm("report", "summary", "--fields", "section,clients", "-f", "csv").stdout
    assert text.splitlines()[:2] == ["section,clients", "overview,2"]
    result = crm("report", "summary", "--fields", "nope", ok=False)
    assert result.exit_code == 2 and "valid: section, " in result.stderr


def test_export_takes_fields_and_no_headers(crm):
    _book(crm)
    assert crm("export", "clients", "--fields", "name,email", "--no-headers").stdout == \
        "Acme,ops@acme.test\nBeta,hi@beta.test\n"
    assert crm("export", "clients", "--fields", "name", "--json").stdout == \
        '[\n  {"name": "Acme"},\n  {"name": "Beta"}\n]\n'
    result = crm("export", "clients", "--fields", "client", ok=False)
    assert result.exit_code == 2 and "valid: id, " in result.stderr


def test_an_empty_fields_list_is_a_usage_error(crm):
    result = crm("ls", "--fields", ",", ok=False)
    assert result.exit_code == 2 and "--fields needs at least one field" in result.stderr
