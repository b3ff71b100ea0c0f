"""crm export: formats, files, formula defusing and its exact undoing."""

from __future__ import annotations

import csv
import io
import json

import pytest

from crmcli.interchange.exporter import defuse
from crmcli.interchange.importer import undefuse


@pytest.fixture
def book(store):
    acme = store.clients.add("Acme", email="ops@acme.com", tags=["vip", "b2b"], stage="lead",
                             custom={"region": "North"})
    store.clients.add("=cmd|' /C calc'!A0", notes="+1 call")
    store.deals.add(acme, "1000.10", at="2026-02-02T00:00:00Z", title="first", currency="EUR")
    return store


def test_csv_export_of_clients_has_every_column(crm, book):
    rows = list(csv.DictReader(io.StringIO(crm("export", "clients").stdout)))
    assert list(rows[0]) == ["id", "name", "company", "email", "phone", "industry", "size",
                             "owner", "private", "source", "stage", "external_id", "tags", "custom",
                             "notes", "cadence_ideal", "cadence_max", "stage_history",
                             "created_at", "updated_at", "archived_at"]
    acme = rows[0]
    assert (acme["id"], acme["name"], acme["tags"], acme["stage"]) == ("1", "Acme", "b2b,vip",
                                                                       "lead")
    assert json.loads(acme["custom"]) == {"region": "North"}
    assert json.loads(acme["stage_history"]) == [
        {"at": "2026-11-22T10:00:00Z", "from": None, "to": "lead", "note": None}]


def test_csv_cells_that_look_like_formulas_are_defused(crm, book):
    rows = list(csv.DictReader(io.StringIO(crm("export", "clients").stdout)))
    assert rows[1]["name"] == "'=cmd|' /C calc'!A0"
    assert rows[1]["notes"] == "'+1 call"
    # JSON is not for spreadsheets: values stay as they are
    assert crm.json("export", "clients")[1]["name"] == "=cmd|' /C calc'!A0"


@pytest.mark.parametrize("value", ["=1+1", "+1", "+x", "-x", "@sum", "\tx", "'=1", "''+2", "'plain",
                                   "-5", "-1.5e3", "'-5", "plain", "", "'", "=", "中文"])
def test_defuse_is_undone_exactly_by_the_import(value):
    assert undefuse(defuse(value)) == value
    if value in ("=1+1", "+x", "-x", "@sum", "\tx", "="):
        assert defuse(value) == "'" + value


def test_json_export_writes_money_as_exact_numbers(crm, book):
    out = crm("export", "deals", "--format", "json").stdout
    assert '"amount": 1000.10' in out
    assert json.loads(out)[0]["currency"] == "EUR"


def test_json_flag_is_the_json_format(crm, book):
    assert crm("export", "deals", "--json").stdout == crm("export", "deals", "-f", "json").stdout
    result = crm("export", "deals", "--json", "--format", "csv", ok=False)
    assert result.exit_code == 2
    assert result.stderr == "crm: error: --json and --format csv disagree: give one of them\n"


def test_ndjson_and_tsv_exports(crm, book):
    lines = crm("export", "clients", "--format", "ndjson").stdout.splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["Acme", "=cmd|' /C calc'!A0"]
    tsv = crm("export", "deals", "--format", "tsv").stdout.splitlines()
    assert tsv[0].split("\t")[:5] == ["id", "client_id", "at", "title", "amount"]
    assert tsv[1].split("\t")[4] == "1000.10"


def test_output_file_takes_its_format_from_the_extension(crm, book, tmp_path):
    target = tmp_path / "deals.ndjson"
    result = crm("export", "deals", "-o", target)
    assert result.stdout == ""
    assert result.stderr.strip() == f"exported 1 deals to {target}"
    assert json.loads(target.read_text())["amount"] == 1000.10


def test_export_all_writes_one_file_per_kind(crm, book, tmp_path):
    result = crm("export", "all", "-o", tmp_path / "out", "--format", "json")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "clients.json", "contacts.json", "deals.json", "followups.json", "interactions.json",
        "invoices.json", "payments.json"]
    assert json.loads((tmp_path / "out" / "contacts.json").read_text()) == []
    assert "exported 2 clients to" in result.stderr


def test_export_all_needs_a_directory(crm, book):
    result = crm("export", "all", ok=False)
    assert result.exit_code == 2
    assert "-o DIR" in result.stderr


def test_bad_export_requests_are_usage_errors(crm, book):
    assert crm("export", "deals", "--format", "xml", ok=False).exit_code == 2
    result = crm("export", "deals", "--format", "vcf", ok=False)
    assert result.exit_code == 2 and "vCard export is for contacts" in result.stderr
    assert crm("export", "widgets", ok=False).exit_code == 2


def test_empty_database_exports_a_header_only(crm, store):  # store: an empty book
    assert crm("export", "interactions").stdout == (
        "id,client_id,at,channel,direction,kind,summary,score,contact_id,resolved_at,"
        "created_at\n")
    assert crm("export", "interactions", "--format", "json").stdout == "[]\n"
