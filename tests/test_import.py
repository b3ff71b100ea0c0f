"""crm import: formats, encodings, mapping, upserts, validation, rejects, dry runs, stdin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "import"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="")
    return path


def clients(store) -> list[dict]:
    return store.query("SELECT * FROM clients ORDER BY id")


def change_count(store) -> int:
    return store.scalar("SELECT count(*) FROM changes")


@pytest.fixture
def acme(crm, tmp_path):
    """Two clients to hang child records on: 1 Acme (A1), 2 Globex (G2)."""
    src = write(tmp_path / "base.csv", "name,email,external_id\nAcme,ops@acme.com,A1\n"
                                        "Globex,info@globex.com,G2\n")
    crm("import", "clients", src)


# --- reading ---------------------------------------------------------------------------

def test_quoted_csv_fields_keep_commas_newlines_and_quotes(crm, store):
    result = crm("import", "clients", FIXTURES / "quoted.csv")
    assert "2 inserted, 0 updated, 0 unchanged, 0 rejected" in result.stderr
    rows = clients(store)
    assert rows[0]["name"] == "Acme, Inc"
    assert rows[0]["company"] == 'Acme "Rockets" Ltd'
    assert rows[0]["notes"] == "first line\nsecond line, with comma"
    assert rows[1]["company"] is None  # an empty cell is no value


def test_gb18030_file_imports_with_encoding_and_unknown_columns_become_custom_fields(
        crm, store):
    crm("import", "clients", FIXTURES / "clients_gb18030.csv", "--encoding", "gb18030",
        "--map", "名称=name", "--map", "邮箱=email", "--map", "公司=company",
        "--map", "地区=region")
    rows = clients(store)
    assert [r["name"] for r in rows] == ["王伟", "李娜"]
    assert rows[0]["company"] == "北京科技有限公司"
    assert json.loads(rows[1]["custom"]) == {"region": "华东"}
    assert store.client_tags(rows[0]["id"]) == ["vip"]


def test_gb18030_without_encoding_fails_with_a_hint_and_writes_nothing(crm, store, db_path,
                                                                       snapshot):
    before = snapshot(db_path)
    result = crm("import", "clients", FIXTURES / "clients_gb18030.csv", "--map", "名称=name",
                 ok=False)
    assert result.exit_code == 1
    assert "cannot decode the input as utf-8-sig" in result.stderr
    assert "--encoding gb18030" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(db_path) == before


def test_utf8_bom_is_not_part_of_the_first_column_name(crm, store):
    crm("import", "clients", FIXTURES / "clients_bom.csv")
    rows = clients(store)
    assert [(r["name"], r["email"]) for r in rows] == [("Café Zürich", "hello@cafe.ch"),
                                                      ("Müller GmbH", "info@mueller.de")]
    assert json.loads(rows[0]["custom"]) == {}


def test_ndjson_with_unmapped_column_goes_to_custom_and_tags_list_and_stage(crm, store):
    crm("import", "clients", FIXTURES / "leads.ndjson")
    ada, bob = clients(store)
    assert json.loads(ada["custom"]) == {"Lead Source": "fair"}
    assert store.client_tags(ada["id"]) == ["b2b", "vip"]
    assert bob["stage"] == "qualified"
    [move] = store.stage_history(bob["id"])
    assert (move["from_stage"], move["to_stage"]) == (None, "qualified")


def test_map_renames_and_drops_columns(crm, store, tmp_path):
    src = write(tmp_path / "x.csv", "Company Name,Mail,Junk,Region\nInitech,a@initech.com,zz,W\n")
    crm("import", "clients", src, "--map", "Company Name=name", "--map", "Mail=email",
        "--map", "Junk=")
    [row] = clients(store)
    assert (row["name"], row["email"]) == ("Initech", "a@initech.com")
    assert json.loads(row["custom"]) == {"Region": "W"}


def test_map_to_an_unknown_field_of_a_child_kind_is_a_usage_error(crm, acme, tmp_path):
    src = write(tmp_path / "i.csv", "client,when\nA1,2026-01-01\n")
    result = crm("import", "interactions", src, "--map", "when=time", ok=False)
    assert result.exit_code == 2
    assert "'time' is not a field of interactions" in result.stderr


def test_unknown_column_of_a_child_kind_names_the_column(crm, acme, tmp_path, db_path,
                                                         snapshot):
    before = snapshot(db_path)
    src = write(tmp_path / "i.csv", "client,at,mood\nA1,2026-01-01T10:00:00Z,happy\n")
    result = crm("import", "interactions", src, ok=False)
    assert result.exit_code == 1
    assert "i.csv:1: column 'mood': is not a field of interactions" in result.stderr
    assert snapshot(db_path) == before


def test_json_array_import_reports_line_numbers(crm, acme, store, tmp_path):
    src = write(tmp_path / "d.json", '[\n {"client": "A1", "at": "2026-01-01T00:00:00Z",\n'
                                     '  "amount": 1000.10},\n'
                                     ' {"client": "A1", "at": "2026-01-02T00:00:00Z",\n'
                                     '  "amount": -5}\n]\n')
    result = crm("import", "deals", src, ok=False)
    assert "d.json:4: field 'amount': value '-5': must not be negative" in result.stderr
    crm("import", "deals", src, "--skip-invalid")
    [deal] = store.query("SELECT amount FROM deals")
    assert deal["amount"] == "1000.10"  # JSON numbers keep their exact decimal text


# --- clients of child records ----------------------------------------------------------

def test_child_records_find_their_client_by_id_email_or_external_id(crm, acme, store,
                                                                    tmp_path):
    src = write(tmp_path / "i.csv",
                "client,at,channel,summary,score\n"
                "1,2026-01-01T10:00:00Z,call,by id,9\n"
                "info@globex.com,2026-01-02T10:00:00+08:00,email,by email,\n"
                "G2,2026-01-03,meeting,by external id,0\n")
    crm("import", "interactions", src)
    rows = store.query("SELECT client_id, at, channel, summary, score FROM interactions "
                       "ORDER BY id")
    assert rows == [
        {"client_id": 1, "at": "2026-01-01T10:00:00Z", "channel": "call", "summary": "by id",
         "score": 9},
        {"client_id": 2, "at": "2026-01-02T02:00:00Z", "channel": "email",
         "summary": "by email", "score": None},
        # a date alone means noon local time (UTC in the tests), as for crm log --at
        {"client_id": 2, "at": "2026-01-03T12:00:00Z", "channel": "meeting",
         "summary": "by external id", "score": 0}]


def test_client_email_and_client_external_id_columns(crm, acme, store, tmp_path):
    src = write(tmp_path / "f.csv", "client_email,client_external_id,due,note\n"
                                    "ops@acme.com,,2026-12-01,call back\n"
                                    ",G2,2026-12-02,send quote\n")
    crm("import", "followups", src)
    rows = store.query("SELECT client_id, due, note FROM followups ORDER BY id")
    assert rows == [{"client_id": 1, "due": "2026-12-01", "note": "call back"},
                    {"client_id": 2, "due": "2026-12-02", "note": "send quote"}]


def test_reference_to_a_missing_client_fails_the_import(crm, acme, tmp_path, db_path,
                                                        snapshot):
    before = snapshot(db_path)
    src = write(tmp_path / "d.csv", "client,at,amount\nA1,2026-01-01T00:00:00Z,10\n"
                                    "nobody@example.com,2026-01-01T00:00:00Z,20\n")
    result = crm("import", "deals", src, ok=False)
    assert result.exit_code == 1
    assert ("d.csv:3: field 'client': value 'nobody@example.com': no client has this id, "
            "email or external id") in result.stderr
    assert snapshot(db_path) == before


# --- all or nothing ----------------------------------------------------------------------

def test_a_bad_row_at_line_9999_of_10000_leaves_the_database_untouched(crm, acme, tmp_path,
                                                                       db_path, snapshot):
    lines = ["client,at,channel,summary"]
    for i in range(2, 10_001):
        score_at = "yesterday-ish" if i == 9_999 else f"2026-01-01T10:{i % 60:02d}:00Z"
        lines.append(f"A1,{score_at},call,touch {i}")
    src = write(tmp_path / "big.csv", "\n".join(lines) + "\n")
    before = snapshot(db_path)
    result = crm("import", "interactions", src, ok=False)
    assert result.exit_code == 1
    assert "1 invalid row in" in result.stderr
    assert "big.csv:9999: field 'at': value 'yesterday-ish': is not a date and time" \
        in result.stderr
    assert snapshot(db_path) == before


def test_error_list_shows_the_first_ten_then_how_many_more(crm, acme, tmp_path):
    rows = "".join(f"A1,2026-01-01T00:00:00Z,-{i}\n" for i in range(1, 14))
    src = write(tmp_path / "d.csv", "client,at,amount\n" + rows)
    result = crm("import", "deals", src, ok=False)
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"crm: error: 13 invalid rows in {src}; nothing was imported"
    assert lines[1] == f"{src}:2: field 'amount': value '-1': must not be negative"
    assert len(lines) == 12 and lines[-1] == "and 3 more"


def test_duplicate_keys_in_one_file_name_both_lines(crm, store, tmp_path, db_path, snapshot):
    src = write(tmp_path / "c.csv", "name,email\nAda,ada@example.com\nBob,bob@example.com\n"
                                    "Ada Again,ADA@example.com\n")
    before = snapshot(db_path)
    result = crm("import", "clients", src, ok=False)
    assert (f"{src}:4: field 'email': value 'ADA@example.com': duplicate key: also on line 2"
            in result.stderr)
    assert snapshot(db_path) == before
    crm("import", "clients", src, "--skip-invalid")
    assert [r["name"] for r in clients(store)] == ["Ada", "Bob"]


def test_skip_invalid_writes_rejects_that_reimport_after_fixing(crm, acme, store, tmp_path):
    src = write(tmp_path / "d.csv", "client,at,amount,title\n"
                                    "A1,2026-01-01T00:00:00Z,19.99,good\n"
                                    "A1,2026-01-02T00:00:00Z,-5,negative\n"
                                    "G2,2026-01-03T00:00:00Z,=1+1,formula\n")
    rejects = tmp_path / "rejects.csv"
    result = crm("import", "deals", src, "--skip-invalid", "--rejects", rejects)
    assert "1 inserted, 0 updated, 0 unchanged, 2 rejected" in result.stderr
    assert rejects.read_text().splitlines() == [
        "client,at,amount,title,error",
        "A1,2026-01-02T00:00:00Z,-5,negative,field 'amount': value '-5': must not be negative",
        "G2,2026-01-03T00:00:00Z,=1+1,formula,field 'amount': value '=1+1': is not an amount "
        "(expected digits such as 1200 or 19.99)"]
    fixed = rejects.read_text().replace(",-5,", ",5,").replace(",=1+1,", ",2,")
    rejects.write_text(fixed)
    result = crm("import", "deals", rejects)
    assert "2 inserted, 0 updated, 0 unchanged, 0 rejected" in result.stderr
    assert [(r["amount"], r["title"]) for r in store.query(
        "SELECT amount, title FROM deals ORDER BY id")] == [
        ("19.99", "good"), ("5", "negative"), ("2", "formula")]


def test_ndjson_rejects_are_objects_with_an_error_field(crm, acme, tmp_path):
    src = write(tmp_path / "d.ndjson", '{"client": "A1", "at": "2026-01-01T00:00:00Z", '
                                       '"amount": "abc"}\n')
    rejects = tmp_path / "r.ndjson"
    crm("import", "deals", src, "--skip-invalid", "--rejects", rejects)
    [obj] = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert obj == {"client": "A1", "at": "2026-01-01T00:00:00Z", "amount": "abc",
                   "error": "field 'amount': value 'abc': is not an amount (expected digits "
                            "such as 1200 or 19.99)"}


def test_rejects_without_skip_invalid_is_a_usage_error(crm, acme, tmp_path):
    src = write(tmp_path / "d.csv", "client,at,amount\nA1,2026-01-01T00:00:00Z,1\n")
    result = crm("import", "deals", src, "--rejects", tmp_path / "r.csv", ok=False)
    assert result.exit_code == 2


# --- upserts -----------------------------------------------------------------------------

def test_second_import_of_the_same_file_is_unchanged_and_logs_no_change(crm, store, tmp_path):
    src = write(tmp_path / "c.csv", "name,email,tags,stage,Region\n"
                                    "Ada,ada@example.com,vip;b2b,lead,North\n"
                                    "Bob,bob@example.com,,,\n")
    crm("import", "clients", src)
    changes = change_count(store)
    result = crm("import", "clients", src, "--json")
    assert json.loads(result.stdout) == {
        "kind": "clients", "file": str(src), "format": "csv", "key": "email", "inserted": 0,
        "updated": 0, "unchanged": 2, "rejected": 0, "dry_run": False, "change_id": None}
    assert "0 inserted, 0 updated, 2 unchanged, 0 rejected" in result.stderr
    assert change_count(store) == changes


def test_key_email_updates_fields_tags_custom_and_stage(crm, store, tmp_path):
    crm("import", "clients", write(tmp_path / "a.csv", "name,email,tags,Region,stage\n"
                                                       "Ada,ada@example.com,vip,North,lead\n"))
    result = crm("import", "clients", write(tmp_path / "b.csv",
                                            "email,phone,tags,Region,stage\n"
                                            "ADA@example.com,+44 20 7946 0000,b2b,,qualified\n"),
                 "--key", "email")
    assert "0 inserted, 1 updated, 0 unchanged" in result.stderr
    [row] = clients(store)
    assert (row["name"], row["phone"], row["stage"]) == ("Ada", "+44 20 7946 0000", "qualified")
    assert json.loads(row["custom"]) == {}  # an empty cell removes the custom field
    assert store.client_tags(row["id"]) == ["b2b"]  # the tags column is the whole set
    assert [(m["from_stage"], m["to_stage"]) for m in store.stage_history(row["id"])] == [
        (None, "lead"), ("lead", "qualified")]
    # and the update is one undoable change
    crm("undo")
    [row] = clients(store)
    assert (row["phone"], row["stage"]) == (None, "lead")
    assert store.client_tags(row["id"]) == ["vip"]


def test_key_must_name_a_column_of_the_input(crm, tmp_path):
    result = crm("import", "clients", write(tmp_path / "c.csv", "name\nAda\n"), "--key",
                 "email", ok=False)
    assert result.exit_code == 2
    assert "no 'email' column" in result.stderr


def test_existing_email_without_a_key_column_match_is_an_error(crm, store, tmp_path):
    crm("import", "clients", write(tmp_path / "a.csv", "name,email\nAda,ada@example.com\n"))
    result = crm("import", "clients", write(tmp_path / "b.csv", "name,email,external_id\n"
                                                                "Ada 2,ada@example.com,X9\n"),
                 ok=False)
    assert "field 'email': value 'ada@example.com': already belongs to client 1 (Ada)" \
        in result.stderr


def test_import_is_one_change_that_undo_reverts(crm, acme, store, tmp_path):
    src = write(tmp_path / "i.csv", "client,at\nA1,2026-01-01T00:00:00Z\nG2,2026-01-02T00:00:00Z\n")
    crm("import", "interactions", src)
    [change] = store.query("SELECT command, summary FROM changes ORDER BY id DESC LIMIT 1")
    assert change == {"command": "import",
                      "summary": f"imported interactions from {src}: 2 inserted, 0 updated"}
    crm("undo")
    assert store.scalar("SELECT count(*) FROM interactions") == 0


def test_dry_run_reports_counts_and_writes_nothing(crm, acme, tmp_path, db_path, snapshot):
    before = snapshot(db_path)
    src = write(tmp_path / "i.csv", "client,at\nA1,2026-01-01T00:00:00Z\n")
    result = crm("import", "interactions", src, "--dry-run")
    assert result.stderr.strip() == (f"would import interactions from {src}: 1 inserted, "
                                     "0 updated, 0 unchanged, 0 rejected (dry run: nothing "
                                     "written)")
    assert snapshot(db_path) == before


def test_interactions_with_ids_upsert_by_id(crm, acme, store, tmp_path):
    src = write(tmp_path / "i.csv", "id,client,at,summary\n7,A1,2026-01-01T00:00:00Z,first\n")
    crm("import", "interactions", src)
    assert store.query("SELECT id, summary FROM interactions") == [{"id": 7, "summary": "first"}]
    result = crm("import", "interactions", src)
    assert "0 inserted, 0 updated, 1 unchanged" in result.stderr
    write(src, "id,client,at,summary\n7,A1,2026-01-01T00:00:00Z,edited\n")
    result = crm("import", "interactions", src)
    assert "0 inserted, 1 updated, 0 unchanged" in result.stderr
    assert store.query("SELECT id, summary FROM interactions") == [{"id": 7, "summary": "edited"}]


# --- stdin -------------------------------------------------------------------------------

def test_stdin_through_a_real_pipe(tmp_path, store):
    src = FIXTURES / "quoted.csv"
    env = {**os.environ, "CRM_DB": os.environ["CRM_DB"], "CRM_CONFIG": os.environ["CRM_CONFIG"],
           "CRM_NOW": os.environ["CRM_NOW"]}
    cmd = f"cat {src} | {sys.executable} -m crmcli import clients - --json"
    proc = subprocess.run(cmd, shell=True, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["inserted"] == 2
    assert "imported clients from <stdin>: 2 inserted" in proc.stderr
    assert [r["name"] for r in clients(store)] == ["Acme, Inc", "Plain"]


def test_stdin_ndjson_is_sniffed(crm, store):
    crm("import", "clients", "-", input='{"name": "Zed", "email": "zed@example.com"}\n')
    assert [r["name"] for r in clients(store)] == ["Zed"]
