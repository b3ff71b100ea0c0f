"""Hostile input: control characters and bidi overrides are refused on every path that
writes text, naming the field; inputs that once printed tracebacks (deep JSON, numbers past
Python's int limit, codecs that are not text encodings, UTF-16 without a BOM, ids past 64
bits, a header of 200,000 columns) are one line each."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import db_snapshot

# One of each family: C0 (ESC of an OSC title and an OSC 52 clipboard write, BEL, BS), DEL,
# C1 (CSI, NEL), and the bidi embeddings, overrides and isolates.
CONTROLS = ["\x1b]0;pwned\x07", "\x1b]52;c;ZXZpbA==\x07", "\x1b[2J", "\x08\x08", "\x07", "\x7f",
            "\x9b31m", "\x85", "\u202e", "\u202a", "\u2066", "\u2069", "\x0b", "\x0c", "\x1f"]


def one_line_error(result, field: str) -> None:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith("crm: error: ") and len(result.stderr.splitlines()) == 1
    assert field in result.stderr
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr
    assert "control character" in result.stderr or "bidi control" in result.stderr


@pytest.fixture
def acme(crm):
    crm("add", "Acme")
    crm("log", "Acme", "first call")
    crm("deal", "Acme", "100")
    crm("contact", "add", "Acme", "Ann")
    crm("followup", "Acme", "tomorrow", "call back")
    return crm


@pytest.mark.parametrize("bad", CONTROLS)
def test_every_command_that_writes_text_refuses_control_characters(acme, db_path, bad):
    before = db_snapshot(db_path)
    evil = f"Ev{bad}il"
    for args, field in [
            (["add", evil], "name"),
            (["add", "Beta", "--company", evil], "company"),
            (["add", "Beta", "--note", evil], "notes"),
            (["add", "Beta", "--set", f"region={evil}"], "region"),
            (["add", "Beta", "--tag", evil], "tag"),
            (["edit", "Acme", "--name", evil], "name"),
            (["edit", "Acme", "--owner", evil], "owner"),
            (["log", "Acme", evil], "summary"),
            (["edit-log", "1", "--summary", evil], "summary"),
            (["deal", "Acme", "5", "--title", evil], "title"),
            (["edit-deal", "1", "--title", evil], "title"),
            (["followup", "Acme", "tomorrow", evil], "note"),
            (["contact", "add", "Acme", evil], "name"),
            (["contact", "edit", "1", "--role", evil], "role"),
            (["tag", "Acme", evil], "tag"),
            (["stage", "Acme", "lead", "--note", evil], "note")]:
        one_line_error(acme(*args, ok=False), field)
    assert db_snapshot(db_path) == before


IMPORT_ROWS = {
    "clients": ({"name": "Beta", "company": "B", "notes": "n", "region": "r"},
                ["name", "company", "notes", "region"]),
    "contacts": ({"client": "1", "name": "Bob", "role": "r", "notes": "n"},
                 ["name", "role", "notes"]),
    "interactions": ({"client": "1", "summary": "s", "kind": "note", "at": "2026-11-01"},
                     ["summary", "kind"]),
    "deals": ({"client": "1", "amount": "5", "title": "t", "at": "2026-11-01"}, ["title"]),
    "followups": ({"client": "1", "due": "2026-12-01", "note": "n"}, ["note"]),
}


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
@pytest.mark.parametrize("kind", IMPORT_ROWS)
def test_every_import_refuses_control_characters_naming_line_and_field(acme, tmp_path, db_path,
                                                                         kind, fmt):
    row, fields = IMPORT_ROWS[kind]
    rows = [dict(row, **{field: f"a{bad}b"}) for field in fields for bad in CONTROLS]
    source = tmp_path / f"in.{fmt}"
    if fmt == "csv":
        import csv

        with open(source, "w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=list(row))
            writer.writeheader()
            writer.writerows(rows)
    elif fmt == "json":
        source.write_text(json.dumps(rows, ensure_ascii=False))
    else:
        source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    before = db_snapshot(db_path)
    result = acme("import", kind, str(source), ok=False)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == f"crm: error: {len(rows)} invalid rows in {source}; nothing was imported"
    assert len(lines) == 12 and lines[-1] == f"and {len(rows) - 10} more"
    for line in lines[1:-1]:
        assert "control character" in line or "bidi control" in line, line
        assert "\x1b" not in line and "\u202e" not in line
    assert db_snapshot(db_path) == before


def test_fields_of_several_lines_keep_tabs_and_line_breaks(acme):
    acme("add", "Beta", "--note", "first line\r\nsecond\tline\nthird")
    acme("log", "Beta", "line one\nline two")
    assert acme.json("show", "Beta")["client"]["notes"] == "first line\r\nsecond\tline\nthird"
    one = acme("add", "Gamma", "--company", "a\nb", ok=False)
    assert one.stderr == "crm: error: company 'a\\nb': must be on one line\n"
    acme("add", "Gamma", "--note", "old\rMac\rlines")
    assert acme.json("show", "Gamma")["client"]["notes"] == "old\rMac\rlines"
    assert "old\\x0dMac" in acme("show", "Gamma").stdout  # a table never emits a bare CR


def test_text_that_is_only_unusual_is_kept(acme):
    for name in ["Zoë 中文 ☕", "Line\u2028Sep", "Ra\u200dmen 👩\u200d💻", "عربي", "שלום"]:
        acme("add", name)
        assert acme.json("show", name)["client"]["name"] == name


# --- never a traceback ------------------------------------------------------------------


def one_line(result, code: int = 1) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    return result.stderr


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_json_nested_past_the_recursion_limit_is_one_line(crm, tmp_path, db_path, fmt):
    deep = "[" * 100_000 + "]" * 100_000
    source = tmp_path / f"deep.{fmt}"
    source.write_text(f"[{deep}]" if fmt == "json" else deep + "\n")
    crm("add", "Acme")
    before = db_snapshot(db_path)
    assert "nested too deeply" in one_line(crm("import", "clients", str(source), ok=False))
    assert db_snapshot(db_path) == before


@pytest.mark.parametrize("value,expected", [
    ("[" * 200 + "]" * 200, "nested more than 32 levels"),
    ("9" * 5000, "at most 40 digits"), ("1e5000", "at most 40 digits"),
    ("-" + "9" * 4400, "at most 40 digits"), ('"\\u001b[31m"', "control character")],
    ids=["deep", "int past the limit", "1e5000", "negative past the limit", "escape"])
@pytest.mark.parametrize("where", ["custom", "column"])
def test_custom_values_that_could_not_be_shown_are_refused(crm, tmp_path, db_path, value,
                                                          expected, where):
    text = (f'[{{"name": "X", "custom": {{"n": {value}}}}}]' if where == "custom"
            else f'[{{"name": "X", "region": {value}}}]')
    source = tmp_path / "c.json"
    source.write_text(text)
    crm("add", "Acme")
    before = db_snapshot(db_path)
    result = crm("import", "clients", str(source), ok=False)
    assert result.exit_code == 1 and expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert db_snapshot(db_path) == before


@pytest.mark.parametrize("amount", ["1e5000", "9" * 5000, "1" + "0" * 4400 + ".5"],
                         ids=["1e5000", "5000 digits", "4400 digits and a fraction"])
def test_huge_amounts_are_one_line_on_the_command_line_and_in_an_import(crm, tmp_path, amount):
    crm("add", "Acme")
    assert "amount" in one_line(crm("deal", "Acme", amount, ok=False))
    source = tmp_path / "d.json"
    source.write_text(f'[{{"client": "1", "amount": {amount}, "at": "2026-11-01"}}]')
    assert "amount" in crm("import", "deals", str(source), ok=False).stderr
    source = tmp_path / "d.csv"
    source.write_text(f"client,amount,at\n1,{amount},2026-11-01\n")
    assert "amount" in crm("import", "deals", str(source), ok=False).stderr


@pytest.mark.parametrize("encoding,expected", [
    ("rot13", "'rot13' is not a text encoding"), ("base64", "is not a text encoding"),
    ("zlib", "is not a text encoding"), ("hex", "is not a text encoding"),
    ("no-such-codec", "unknown encoding 'no-such-codec'")])
def test_a_codec_that_is_not_a_text_encoding_is_a_usage_error(crm, tmp_path, encoding, expected):
    crm("add", "Acme")
    source = tmp_path / "a.csv"
    source.write_text("name\nA\n")
    assert expected in one_line(crm("import", "clients", str(source), "--encoding", encoding,
                                     ok=False), code=2)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_utf16_without_a_byte_order_mark_names_the_fix(crm, tmp_path, encoding):
    crm("add", "Acme")
    source = tmp_path / "a.csv"
    source.write_bytes("name\nA\n".encode(encoding + "-le"))
    assert "give the byte order" in one_line(crm("import", "clients", str(source),
                                                 "--encoding", encoding, ok=False))


HUGE = "9" * 30


@pytest.mark.parametrize("args", [
    ["snooze", HUGE, "tomorrow"], ["done", HUGE], ["edit-deal", HUGE, "--amount", "3"],
    ["edit-log", HUGE, "--summary", "x"], ["resolve", HUGE], ["contact", "edit", HUGE,
                                                              "--role", "x"],
    ["contact", "rm", HUGE], ["undo", HUGE], ["followups", "-n", HUGE], ["ls", "-n", HUGE],
    ["history", "-n", HUGE], ["report", "churn", "-n", HUGE], ["report", "clv", "-n", HUGE],
    ["snooze", "-" + HUGE, "tomorrow"]])
def test_an_id_or_count_past_64_bits_is_a_usage_error(crm, args):
    crm("add", "Acme")
    assert "is too large" in one_line(crm(*args, ok=False), code=2)


def test_a_header_of_50000_columns_is_read_in_linear_time(crm, tmp_path):
    # (names.count per column made 200,000 columns take minutes; 50,000 keep the test quick)
    crm("add", "Acme")
    source = tmp_path / "wide.csv"
    source.write_text("name," + ",".join(f"c{i}" for i in range(50_000)) + "\n")
    result = crm("import", "clients", str(source), "--dry-run", ok=False)
    assert result.exit_code == 0 and "0 inserted" in result.stderr, result.stderr


SCRIPT = """
import sys
import crmcli.services.due as due

def broken(*args, **kwargs):
    raise ZeroDivisionError("a bug\\x1b]0;title\\x07 in crm")

due.compute_due = broken
from crmcli.cli import main
sys.argv = ["crm", *sys.argv[1:]]
main()
"""


def test_an_unexpected_exception_is_one_line_with_its_own_exit_code(crm, tmp_path):
    crm("add", "Acme")
    script = tmp_path / "broken.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script), "due"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 70
    assert done.stdout == ""
    assert done.stderr.startswith("crm: internal error: ZeroDivisionError: a bug")
    assert done.stderr.endswith("; run with --debug for details\n")
    assert len(done.stderr.splitlines()) == 1
    debug = subprocess.run([sys.executable, str(script), "--debug", "due"], capture_output=True,
                           text=True, timeout=120)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


# --- neutralised on the way out (rows stored before the rule) ---------------------------


RAW = "\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\x9b2J\u202eevil\x7f\r"


def plant(db_path) -> None:
    """Control characters written straight into the file, as an older crm could have."""
    import sqlite3

    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE clients SET name = ?, company = ?, notes = ? WHERE id = 1",
                      ("Acme" + RAW, "Co" + RAW, "notes" + RAW))
        conn.execute("UPDATE interactions SET summary = ?", ("call" + RAW,))
        conn.execute("UPDATE deals SET title = ?", ("deal" + RAW,))
        conn.execute("UPDATE contacts SET name = ?, role = ?, notes = ?",
                     ("Ann" + RAW, "role" + RAW, "n" + RAW))
        conn.execute("UPDATE followups SET note = ?", ("note" + RAW,))
    conn.close()


def no_raw_controls(text: str) -> None:
    for ch in "\x1b\x07\x9b\u202e\x7f\r":
        assert ch not in text, (ch, text[:300])


def test_tables_messages_and_errors_never_emit_stored_control_characters(acme, db_path,
                                                                         tmp_path):
    acme("add", "Acme Two")
    plant(db_path)
    for args in (["ls"], ["ls", "--format", "markdown"], ["show", "1"], ["search", "Acme"],
                 ["followups"], ["due"], ["deals"], ["history"], ["contact", "ls", "1"],
                 ["log", "1", "again"], ["done", "1"], ["undo"], ["report", "summary"],
                 ["export", "followups", "--format", "ics"],
                 ["export", "contacts", "--format", "vcf"], ["show", "Acme"]):
        result = acme(*args, ok=False)
        no_raw_controls(result.stdout)
        no_raw_controls(result.stderr)
    assert "Acme\\x1b]0;pwned\\x07" in acme("ls").stdout


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_json_escapes_every_control_character_and_keeps_the_data(acme, db_path, fmt):
    plant(db_path)
    result = acme("export", "clients", "--format", fmt)
    no_raw_controls(result.stdout)
    first = json.loads(result.stdout.splitlines()[0] if fmt == "ndjson" else result.stdout)
    first = first if fmt == "ndjson" else first[0]
    assert first["name"] == "Acme" + RAW


def test_csv_is_data_and_carries_every_character_as_stored(acme, db_path, tmp_path):
    plant(db_path)
    out = tmp_path / "clients.csv"
    acme("export", "clients", "-o", str(out))
    import csv

    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["name"] == "Acme" + RAW
