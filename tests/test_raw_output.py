"""CSV/TSV output defuses formulas by default; --raw writes values as stored, for scripts."""

from __future__ import annotations


def test_raw_turns_formula_protection_off_in_csv_and_tsv(crm):
    crm("add", "=HYPERLINK(x)", "--phone", "+1 555 0199")
    assert crm("ls", "--fields", "name,phone", "-f", "csv").stdout.splitlines()[1] == \
        "'=HYPERLINK(x),'+1 555 0199"
    assert crm("ls", "--fields", "name,phone", "-f", "csv", "--raw").stdout.splitlines()[1] == \
        "=HYPERLINK(x),+1 555 0199"
    assert crm("ls", "--fields", "phone", "-f", "tsv", "--raw", "--no-headers").stdout == \
        "+1 555 0199\n"
    assert crm("show", "1", "--fields", "phone", "-f", "csv", "--raw").stdout == \
        "phone\n+1 555 0199\n"


def test_raw_export(crm):
    crm("add", "Acme", "--phone", "+1 555 0199", "--tag", "vip")
    defused = crm("export", "clients", "--fields", "name,phone").stdout
    assert defused == "name,phone\nAcme,'+1 555 0199\n"
    raw = crm("export", "clients", "--fields", "name,phone", "--raw").stdout
    assert raw == "name,phone\nAcme,+1 555 0199\n"


def test_raw_leaves_the_other_formats_alone(crm):
    crm("add", "=cmd", "--phone", "+1 555 0199")
    assert crm.json("ls", "--fields", "name,phone") == [{"name": "=cmd", "phone": "+1 555 0199"}]
    assert crm("ls", "--fields", "name", "--raw", "--json").stdout == '[\n  {"name": "=cmd"}\n]\n'
