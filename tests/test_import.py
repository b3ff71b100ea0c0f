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
    assert store.clients.tags(rows[0]["id"]) == ["vip"]


def test_gb18030_without_encoding_is_detected_and_said(crm, store):
    result = crm("import", "clients", FIXTURES / "clients_gb18030.csv", "--map", "名称=name")
    assert (f"crm: {FIXTURES / 'clients_gb18030.csv'} is not UTF-8; reading it as gb18030 "
            "(detected; --encoding ENC to choose another)") in result.stderr
    assert [r["name"] for r in clients(store)] == ["王伟", "李娜"]


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
    assert store.clients.tags(ada["id"]) == ["b2b", "vip"]
    assert bob["stage"] == "qualified"
    [move] = store.clients.stage_history(bob["id"])
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
    assert store.clients.tags(row["id"]) == ["b2b"]  # the tags column is the whole set
    assert [(m["from_stage"], m["to_stage"]) for m in store.clients.stage_history(row["id"])] == [
        (None, "lead"), ("lead", "qualified")]
    # and the update is one undoable change
    crm("undo")
    [row] = clients(store)
    assert (row["phone"], row["stage"]) == (None, "lead")
    assert store.clients.tags(row["id"]) == ["vip"]


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


def test_resolved_complaints_import_and_bad_resolutions_are_refused_like_crm_resolve(
        crm, acme, store, tmp_path, db_path, snapshot):
    good = write(tmp_path / "ok.csv", "client,at,kind,resolved_at\n"
                 "A1,2026-01-01T10:00:00Z,complaint,2026-01-01T10:00:00Z\n"
                 "A1,2026-01-02T10:00:00Z,complaint,2026-01-03T09:30:00+01:00\n")
    crm("import", "interactions", good)
    assert [r["resolved_at"] for r in store.query(
        "SELECT resolved_at FROM interactions ORDER BY id")] == [
        "2026-01-01T10:00:00Z", "2026-01-03T08:30:00Z"]
    before = snapshot(db_path)
    early = write(tmp_path / "early.csv", "client,at,kind,resolved_at\n"
                  "A1,2026-01-05T10:00:00Z,complaint,2026-01-05T09:59:59Z\n")
    result = crm("import", "interactions", early, ok=False)
    assert result.exit_code == 1
    assert (f"{early}:2: field 'resolved_at': value '2026-01-05T09:59:59Z': is before the "
            "complaint itself (2026-01-05T10:00:00Z)") in result.stderr
    note = write(tmp_path / "note.csv", "client,at,kind,resolved_at\n"
                 "A1,2026-01-05T10:00:00Z,note,2026-01-06T10:00:00Z\n")
    result = crm("import", "interactions", note, ok=False)
    assert (f"{note}:2: field 'resolved_at': value '2026-01-06T10:00:00Z': only a complaint "
            "can be resolved (this row's kind is note)") in result.stderr
    assert snapshot(db_path) == before


def primaries(store) -> list[tuple]:
    return [(r["client_id"], r["name"]) for r in store.query(
        "SELECT client_id, name FROM contacts WHERE is_primary = 1 ORDER BY client_id")]


def test_an_imported_primary_contact_takes_over_as_crm_contact_add_primary_does(
        crm, acme, store, tmp_path):
    crm("contact", "add", "Acme", "Old Boss", "--primary")
    src = write(tmp_path / "k.csv", "client,name,is_primary\nA1,New Boss,yes\n"
                                    "A1,Clerk,no\nG2,Gail,true\n")
    crm("import", "contacts", src)
    assert primaries(store) == [(1, "New Boss"), (2, "Gail")]
    result = crm("import", "contacts", src)  # the same file again changes nothing
    assert "0 inserted, 0 updated, 3 unchanged" in result.stderr
    assert primaries(store) == [(1, "New Boss"), (2, "Gail")]
    crm("undo")  # the first import, demotion included
    crm("undo", "--list")
    assert primaries(store) == [(1, "Old Boss")]


def test_an_update_by_id_making_a_contact_primary_demotes_the_other(crm, acme, store, tmp_path):
    crm("contact", "add", "Acme", "Ann", "--primary")
    crm("contact", "add", "Acme", "Bob")
    src = write(tmp_path / "k.csv", "id,client,name,is_primary\n2,A1,Bob,1\n")
    result = crm("import", "contacts", src, "--key", "id")
    assert "0 inserted, 1 updated" in result.stderr
    assert primaries(store) == [(1, "Bob")]


def test_two_primary_contacts_of_one_client_in_one_file_are_refused(
        crm, acme, store, tmp_path, db_path, snapshot):
    before = snapshot(db_path)
    src = write(tmp_path / "k.csv", "client,name,is_primary\nA1,Ann,yes\nG2,Gail,yes\n"
                                    "ops@acme.com,Bob,yes\n")
    result = crm("import", "contacts", src, ok=False)
    assert result.exit_code == 1
    assert (f"{src}:4: field 'is_primary': value 'yes': client 1 already has its primary "
            "contact on line 2 (one per client)") in result.stderr
    assert snapshot(db_path) == before
    rejects = tmp_path / "bad.csv"
    crm("import", "contacts", src, "--skip-invalid", "--rejects", rejects)
    assert primaries(store) == [(1, "Ann"), (2, "Gail")]
    assert rejects.read_text().splitlines()[1].startswith("ops@acme.com,Bob,yes,")


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


# --- field errors name the field, the value and the reason ------------------------------

def test_unknown_stage_and_bad_tag_name_their_column_and_value(crm, store, tmp_path, db_path,
                                                               snapshot):
    src = write(tmp_path / "c.csv", "name,stage,tags\nAda,flying,\nBob,,two words\n")
    before = snapshot(db_path)
    result = crm("import", "clients", src, ok=False)
    assert result.stderr.splitlines()[1:] == [
        f"{src}:2: field 'stage': value 'flying': is not a stage of the pipeline (lead → "
        "qualified → proposal → negotiation → won → lost)",
        f"{src}:3: field 'tags': value 'two words': must be one word (no spaces or commas), "
        "at most 64 characters"]
    assert snapshot(db_path) == before


def test_an_undecodable_byte_is_reported_with_its_line_and_column(crm, store, tmp_path,
                                                                  db_path, snapshot):
    src = tmp_path / "latin.csv"
    src.write_bytes(b"name,email\nAda,ada@example.com\nB\xe9b,bob@example.com\n")
    before = snapshot(db_path)
    result = crm("import", "clients", src, ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"crm: error: {src}:3: column 2: cannot read byte 0xe9 as "
                                    "UTF-8; it looks like ")
    assert "give the file's encoding, e.g. --encoding " in result.stderr
    assert snapshot(db_path) == before
    result = crm("import", "clients", "-", input=src.read_bytes(), ok=False)
    assert result.stderr.startswith("crm: error: <stdin>:3: column 2: cannot read byte 0xe9 as "
                                    "UTF-8; it looks like ")
    crm("import", "clients", src, "--encoding", "latin-1")
    assert [r["name"] for r in clients(store)] == ["Ada", "Béb"]


def test_json_syntax_error_names_line_and_column(crm, tmp_path, store):  # store: a book
    src = write(tmp_path / "c.json", '[{"name": "Ada"},\n {"name": }]\n')
    result = crm("import", "clients", src, ok=False)
    assert result.stderr == f"crm: error: {src}:2: column 11: not valid JSON: Expecting value\n"


def test_lists_and_objects_in_plain_json_fields_are_errors_not_text(crm, acme, tmp_path,
                                                                    db_path, snapshot):
    src = write(tmp_path / "i.ndjson", '{"client": ["A1"], "at": "2026-01-01T00:00:00Z"}\n'
                                       '{"client": "A1", "at": {"when": "today"}}\n')
    before = snapshot(db_path)
    result = crm("import", "interactions", src, ok=False)
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[1:] == [
        f"{src}:1: field 'client': value '[\"A1\"]': must be a single value, not a list",
        f"{src}:2: field 'at': value '{{\"when\": \"today\"}}': must be a single value, not a "
        "JSON object"]
    assert snapshot(db_path) == before
    result = crm("import", "clients", "-", input='{"name": ["Ada"]}\n', ok=False)
    assert "field 'name': value '[\"Ada\"]': must be a single value, not a list" in result.stderr


def test_custom_columns_keep_their_json_values_and_exact_numbers(crm, store):
    crm("import", "clients", "-",
        input='{"name": "Ada", "rate": 1.50, "langs": ["en", "fr"], "vip": true}\n')
    [row] = crm.json("export", "clients")
    assert row["custom"] == {"langs": ["en", "fr"], "rate": 1.5, "vip": True}
    out = crm("export", "clients", "--format", "ndjson").stdout
    assert '"custom": {"langs": ["en", "fr"], "rate": 1.50, "vip": true}' in out
    result = crm("import", "clients", "-", input=out)  # the export re-imports unchanged
    assert "0 inserted, 0 updated, 1 unchanged" in result.stderr


def test_custom_columns_may_be_named_in_chinese(crm, store, tmp_path):
    src = write(tmp_path / "c.csv", "name,地区,Lead Source\n王伟,华北,fair\n")
    crm("import", "clients", src)
    [row] = clients(store)
    assert json.loads(row["custom"]) == {"地区": "华北", "Lead Source": "fair"}
    crm("edit", "王伟", "--set", "地区=华东")
    assert json.loads(clients(store)[0]["custom"])["地区"] == "华东"


# --- --map and --key are checked against the input ----------------------------------------

def test_a_map_for_a_column_the_input_lacks_is_a_usage_error(crm, store, tmp_path, db_path,
                                                             snapshot):
    src = write(tmp_path / "c.csv", "Name,Mail\nAda,ada@example.com\n")
    before = snapshot(db_path)
    result = crm("import", "clients", src, "--map", "Name=name", "--map", "Email=email",
                 ok=False)
    assert result.exit_code == 2
    assert result.stderr == (f"crm: error: --map 'Email=email': {src} has no column 'Email' "
                             "(its columns: Name, Mail)\n")
    src = write(tmp_path / "c.ndjson", '{"Name": "Ada"}\n{"Name": "Bob"}\n')
    result = crm("import", "clients", src, "--map", "Name=name", "--map", "Mail=", ok=False)
    assert result.exit_code == 2
    assert result.stderr == f"crm: error: --map 'Mail=': {src} has no column 'Mail'\n"
    assert snapshot(db_path) == before
    # a column that only some objects have is used
    src = write(tmp_path / "d.ndjson", '{"Name": "Ada"}\n{"Name": "Bob", "Mail": "b@x.com"}\n')
    crm("import", "clients", src, "--map", "Name=name", "--map", "Mail=email")
    assert [r["email"] for r in crm.json("export", "clients")] == [None, "b@x.com"]


def test_key_is_checked_even_when_the_input_has_no_rows(crm, tmp_path, store):  # a book
    header = write(tmp_path / "c.csv", "name,email\n")
    result = crm("import", "clients", header, "--key", "phone", ok=False)
    assert result.exit_code == 2
    assert result.stderr == ("crm: error: --key phone: clients can be matched by id or "
                             "external_id or email\n")
    result = crm("import", "clients", header, "--key", "external_id", ok=False)
    assert result.exit_code == 2 and "the input has no 'external_id' column" in result.stderr
    result = crm("import", "contacts", header, "--key", "email", ok=False)
    assert result.exit_code == 2
    assert "--key email: contacts can be matched by id" in result.stderr
    result = crm("import", "clients", write(tmp_path / "e.csv", ""), "--key", "phone", ok=False)
    assert result.exit_code == 2


# --- child records ------------------------------------------------------------------------

CHILD_ROWS = {
    "contacts": ("client,name,email", "{ref},Jane {n},jane{n}@example.com"),
    "interactions": ("client,at,summary", "{ref},2026-01-0{n}T10:00:00Z,call {n}"),
    "deals": ("client,at,amount", "{ref},2026-01-0{n}T00:00:00Z,19.9{n}"),
    "followups": ("client,due,note", "{ref},2026-12-0{n},chase {n}"),
}


@pytest.mark.parametrize("kind", CHILD_ROWS)
def test_every_child_kind_finds_its_client_by_id_email_or_external_id(crm, acme, store,
                                                                      tmp_path, kind):
    header, row = CHILD_ROWS[kind]
    refs = ["2", "ops@acme.com", "G2", "OPS@ACME.COM"]
    src = write(tmp_path / f"{kind}.csv", header + "\n" + "".join(
        row.format(ref=ref, n=n) + "\n" for n, ref in enumerate(refs, 1)))
    crm("import", kind, src)
    assert [r["client_id"] for r in store.query(f"SELECT client_id FROM {kind} ORDER BY id")
            ] == [2, 1, 2, 1]


@pytest.mark.parametrize("kind", CHILD_ROWS)
def test_second_import_of_child_rows_without_ids_changes_nothing(crm, acme, store, tmp_path,
                                                                 kind):
    header, row = CHILD_ROWS[kind]
    # two identical rows are two records: both go in the first time, neither the second
    lines = [row.format(ref="A1", n=1), row.format(ref="A1", n=1), row.format(ref="G2", n=2)]
    src = write(tmp_path / f"{kind}.csv", header + "\n" + "\n".join(lines) + "\n")
    crm("import", kind, src)
    changes = change_count(store)
    result = crm("import", kind, src, "--json")
    assert "0 inserted, 0 updated, 3 unchanged, 0 rejected" in result.stderr
    assert json.loads(result.stdout)["change_id"] is None
    assert change_count(store) == changes
    assert store.scalar(f"SELECT count(*) FROM {kind}") == 3
    # a file with one new row adds just that row
    write(src, header + "\n" + "\n".join([*lines, row.format(ref="G2", n=3)]) + "\n")
    result = crm("import", kind, src)
    assert "1 inserted, 0 updated, 3 unchanged, 0 rejected" in result.stderr
    assert store.scalar(f"SELECT count(*) FROM {kind}") == 4


def test_duplicate_ids_of_child_rows_in_one_file(crm, acme, tmp_path, db_path, snapshot):
    src = write(tmp_path / "d.csv", "id,client,at,amount\n5,A1,2026-01-01T00:00:00Z,1\n"
                                    "6,A1,2026-01-02T00:00:00Z,2\n5,G2,2026-01-03T00:00:00Z,3\n")
    before = snapshot(db_path)
    result = crm("import", "deals", src, ok=False)
    assert f"{src}:4: field 'id': value '5': duplicate key: also on line 2" in result.stderr
    assert snapshot(db_path) == before


def test_complaints_and_feedback_without_direction_come_in_as_with_crm_log(crm, acme, store,
                                                                           tmp_path):
    src = write(tmp_path / "i.csv", "client,at,kind,direction\n"
                                    "A1,2026-01-01T00:00:00Z,complaint,\n"
                                    "A1,2026-01-02T00:00:00Z,Feedback,\n"
                                    "A1,2026-01-03T00:00:00Z,note,\n"
                                    "A1,2026-01-04T00:00:00Z,complaint,out\n")
    crm("import", "interactions", src)
    assert [(r["kind"], r["direction"]) for r in store.query(
        "SELECT kind, direction FROM interactions ORDER BY id")] == [
        ("complaint", "in"), ("feedback", "in"), ("note", "out"), ("complaint", "out")]


def test_inbound_kinds_match_crm_log(crm, acme, store, tmp_path):
    kinds = ["complaint", "feedback", "inquiry", "request", "note", "call-back"]
    src = write(tmp_path / "i.csv", "client,at,kind\n" + "".join(
        f"A1,2026-01-0{n}T00:00:00Z,{kind}\n" for n, kind in enumerate(kinds, 1)))
    crm("import", "interactions", src)
    for kind in kinds:
        crm("log", "A1", "logged by hand", "--kind", kind)
    directions = [(r["kind"], r["direction"]) for r in store.query(
        "SELECT kind, direction FROM interactions ORDER BY id")]
    expected = [(k, "in" if n < 4 else "out") for n, k in enumerate(kinds)]
    assert directions == expected + expected


# --- new clients in batches ------------------------------------------------------------------

def test_new_clients_in_batches_keep_their_tags_stages_and_one_undo(crm, store, tmp_path,
                                                                     monkeypatch, db_path,
                                                                     snapshot):
    import crmcli.store.bulk as bulk

    monkeypatch.setattr(bulk, "CLIENT_CHUNK", 2)
    crm("add", "Existing", "--email", "old@example.com")
    before = snapshot(db_path)
    src = write(tmp_path / "c.csv", "name,email,tags,stage\n"
                                    "Ada,ada@example.com,vip,lead\n"
                                    "Bob,bob@example.com,,\n"
                                    "Cy,not-an-email,x,\n"
                                    "Dee,dee@example.com,b2b;vip,won\n"
                                    "Eve,eve@example.com,,flying\n"
                                    "Fay,fay@example.com,smb,\n")
    result = crm("import", "clients", src, "--skip-invalid")
    assert "4 inserted, 0 updated, 0 unchanged, 2 rejected" in result.stderr
    assert "field 'stage': value 'flying'" in result.stderr
    rows = {r["name"]: r for r in clients(store)}
    assert sorted(rows) == ["Ada", "Bob", "Dee", "Existing", "Fay"]
    assert store.clients.tags(rows["Dee"]["id"]) == ["b2b", "vip"]
    assert store.clients.tags(rows["Fay"]["id"]) == ["smb"]
    assert [m["to_stage"] for m in store.clients.stage_history(rows["Ada"]["id"])] == ["lead"]
    assert [m["to_stage"] for m in store.clients.stage_history(rows["Dee"]["id"])] == ["won"]
    assert crm("search", "dee@example.com", "--format", "csv").stdout.count("\n") == 2
    crm("undo")
    assert snapshot(db_path) != before  # the audit log has the undo ...
    assert [r["name"] for r in clients(store)] == ["Existing"]  # ... and the data is back
    assert store.scalar("SELECT count(*) FROM tags") == 0
    crm("undo")  # redo
    assert sorted(r["name"] for r in clients(store)) == ["Ada", "Bob", "Dee", "Existing", "Fay"]


def test_a_row_with_an_id_after_new_rows_without_one(crm, store, tmp_path):
    src = write(tmp_path / "c.csv", "id,name\n,Ada\n1,Ada Lovelace\n7,Bob\n")
    result = crm("import", "clients", src)
    assert "2 inserted, 1 updated, 0 unchanged" in result.stderr
    assert [(r["id"], r["name"]) for r in clients(store)] == [(1, "Ada Lovelace"), (7, "Bob")]


# --- progress ---------------------------------------------------------------------------------

def test_a_large_file_on_a_terminal_gets_a_progress_bar_and_stdout_stays_json(
        crm, acme, tmp_path, monkeypatch):
    import crmcli.commands.io as io_cmd
    import crmcli.render.output

    calls = []
    real = io_cmd._progress

    def spy(source):
        bar, update = real(source)
        if update is None:
            return bar, None

        def counted(rows, done):
            calls.append(rows)
            update(rows, done)

        return bar, counted

    monkeypatch.setattr(crmcli.render.output, "is_terminal", lambda stream=None: True)
    monkeypatch.setattr(io_cmd, "PROGRESS_BYTES", 100)
    monkeypatch.setattr(io_cmd, "_progress", spy)
    src = write(tmp_path / "i.csv", "client,at\n" + "A1,2026-01-01T00:00:00Z\n" * 300)
    result = crm("import", "interactions", src, "--json")
    assert json.loads(result.stdout)["inserted"] == 300
    assert calls and calls[-1] == 300


# --- import all -------------------------------------------------------------------------------

def test_import_all_with_skip_invalid_writes_one_rejects_file_per_kind_with_bad_rows(
        crm, store, tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    write(book / "clients.csv", "name,email,external_id\nAcme,ops@acme.com,A1\n,x@y.com,B2\n")
    write(book / "deals.csv", "client,at,amount\nA1,2026-01-01T00:00:00Z,10\nB2,2026-01-01,5\n")
    write(book / "followups.csv", "client,due\nA1,2026-12-01\n")
    out = tmp_path / "rejects"
    result = crm("import", "all", book, "--skip-invalid", "--rejects", out)
    assert "wrote 2 rejected rows to" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["clients.csv", "deals.csv"]
    assert (out / "deals.csv").read_text().splitlines() == [
        "client,at,amount,error",
        "B2,2026-01-01,5,\"field 'client': value 'B2': no client has this id, email or "
        "external id\""]
    assert store.scalar("SELECT count(*) FROM deals") == 1
    result = crm("import", "all", book, "--skip-invalid", "--rejects", book / "deals.csv",
                 ok=False)
    assert result.exit_code == 2 and "--rejects names a directory" in result.stderr


def test_import_all_checks_the_key_before_reading(crm, tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    write(book / "clients.csv", "name\nAcme\n")
    result = crm("import", "all", book, "--key", "phone", ok=False)
    assert result.exit_code == 2 and "--key phone: clients can be matched by" in result.stderr


def test_cadence_columns_are_checked_as_crm_cadence_checks_them(crm, store, tmp_path, db_path,
                                                                snapshot):
    src = write(tmp_path / "c.csv", "name,cadence_ideal,cadence_max\nAda,banana,\n"
                                    "Bob,2w,1w\nCy,1m,6w\n")
    before = snapshot(db_path)
    result = crm("import", "clients", src, ok=False)
    assert result.stderr.splitlines()[1:] == [
        f"{src}:2: field 'cadence_ideal': value 'banana': is not an interval (cannot read "
        "'banana' as a duration; use 3d, 2w, 1m, 1y, +3d, -2d, 3 days, 2 weeks, 1 month)",
        f"{src}:3: field 'cadence_max': value '1w': is shorter than the ideal interval 2w"]
    assert snapshot(db_path) == before
    crm("import", "clients", src, "--skip-invalid")
    crm("due")  # a bad cadence never reaches the database, so due keeps working
    assert [(r["name"], r["cadence_ideal"], r["cadence_max"]) for r in clients(store)] == [
        ("Cy", "1m", "6w")]


def test_a_followup_anchor_must_be_a_local_date_or_time_so_done_keeps_working(crm, acme,
                                                                              store, tmp_path):
    src = write(tmp_path / "f.csv", "client,due,every,anchor\nA1,2026-12-01,monthly,banana\n"
                                    "A1,2026-12-01,weekly,2026-13-45\n"
                                    "A1,2026-12-01,weekly,2026-12-01T09:30\n")
    result = crm("import", "followups", src, "--skip-invalid")
    assert result.stderr.splitlines()[:2] == [
        f"crm: rejected: {src}:2: field 'anchor': value 'banana': is not a local date or date "
        "and time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)",
        f"crm: rejected: {src}:3: field 'anchor': value '2026-13-45': is not a real date"]
    [fid] = [r["id"] for r in store.query("SELECT id FROM followups")]
    assert "next one is" in crm("done", fid).stderr


def test_dates_relative_to_today_and_decimal_commas_are_refused(crm, acme, store, tmp_path):
    src = write(tmp_path / "d.csv", "client,at,amount\n"
                                    "A1,yesterday,10\n"
                                    "A1,friday,10\n"
                                    "A1,+3d,10\n"
                                    "A1,2026-01-02,\"19,99\"\n"
                                    "A1,2 Jan 2026,\"1,200.50\"\n"
                                    "A1,2026-11-22,5\n")
    result = crm("import", "deals", src, "--skip-invalid")
    reason = "is not a date and time (expected ISO 8601 such as 2026-11-22T10:00:00Z)"
    assert result.stderr.splitlines()[:4] == [
        f"crm: rejected: {src}:2: field 'at': value 'yesterday': {reason}",
        f"crm: rejected: {src}:3: field 'at': value 'friday': {reason}",
        f"crm: rejected: {src}:4: field 'at': value '+3d': {reason}",
        f"crm: rejected: {src}:5: field 'amount': value '19,99': is not an amount (a comma "
        "only separates thousands, as in 1,200.50; decimals take a point: 19.99)"]
    # a date alone is noon local time, today included (not the time of the import)
    assert store.query("SELECT at, amount FROM deals ORDER BY id") == [
        {"at": "2026-01-02T12:00:00Z", "amount": "1200.50"},
        {"at": "2026-11-22T12:00:00Z", "amount": "5"}]
    src = write(tmp_path / "f.csv", "client,due\nA1,tomorrow\n")
    result = crm("import", "followups", src, ok=False)
    assert "field 'due': value 'tomorrow': is not a date" in result.stderr


def test_key_email_matches_ignoring_case_and_keeps_the_stored_spelling(crm, store, tmp_path):
    crm("add", "Ada", "--email", "ada@example.com")
    src = write(tmp_path / "c.csv", "email,phone\nADA@Example.com,+1 555 0100\n")
    assert "0 inserted, 1 updated" in crm("import", "clients", src, "--key", "email").stderr
    [row] = clients(store)
    assert (row["email"], row["phone"]) == ("ada@example.com", "+1 555 0100")
    assert "0 inserted, 0 updated, 1 unchanged" in crm("import", "clients", src).stderr


def test_search_documents_of_imported_clients_are_those_the_store_makes():
    from crmcli.store.bulk import CLIENT_COLUMNS, _client_document
    from crmcli.store.search import document_for

    record = dict.fromkeys(CLIENT_COLUMNS)
    record.update(name="王伟", company="北京科技有限公司", email="wang@example.cn",
                  phone="+86 10 1234", industry="software", notes="第一行\nline two",
                  external_id="CN-1", owner="sam", stage="lead",
                  custom='{"region": "华北", "budget": 12000.50, "vip": true}')
    row = tuple(record[c] for c in CLIENT_COLUMNS)
    assert _client_document(row) == (document_for("clients", {**record, "id": 7})[0], None)


# --- new clients written in batches ------------------------------------------------------------

AWKWARD_CSV = (
    "external_id,name,company,email,phone,industry,size,owner,source,stage,tags,notes,"
    "created_at\n"
    'C1,Ada Lovelace,Acme Ltd,ada@example.com,+44 20 7946 0001,software,1-10,sam,web,lead,'
    '"[""vip"", ""smb""]",,2026-01-02T03:04:05Z\n'
    "C2,Bob,,bob@example.com,+1 555 0100,,,,,won,vip;smb,Second line,2026-01-02T03:04:05Z\n"
    "C3,  Spaced Name  , Spaced Co ,  cy@example.com , +1 555 0101 ,,,,, lead ,,,\n"
    "C4,,Nameless,nameless@example.com,,,,,,,,,\n"
    'C5,"Two\nLines",,two@example.com,,,,,,,,,\n'
    "C6,Dup Email,,ADA@EXAMPLE.COM,,,,,,,,,\n"
    "C1,Dup External,,dupext@example.com,,,,,,,,,\n"
    "C8,Bad Email,,not-an-email,,,,,,,,,\n"
    "C9,Ext Phone,,ext@example.com,+1 555 0102 ext 12,,,,,,,,\n"
    "C10,Short Phone,,short@example.com,1-2,,,,,,,,\n"
    "C11,Few Digits,,few@example.com,(1) 2,,,,,,,,\n"
    "C12,Case Stage,,case@example.com,,,,,,Won,,,\n"
    "C13,Unknown Stage,,unknown@example.com,,,,,,flying,,,\n"
    'C14,Bad Tag,,badtag@example.com,,,,,,,"[""two words""]",,\n'
    "C15,Bad Day,,badday@example.com,,,,,,,,,2026-02-30T10:00:00Z\n"
    "C16,Date Only,,dateonly@example.com,,,,,,,,,2026-03-01\n"
    "C17,Offset,,offset@example.com,,,,,,,,,2026-03-01T10:00:00+02:00\n"
    "C18,Formula,'=1+1,formula@example.com,,,,,,,,'+notes,\n"
    "C19,Sinéad O'Connor,Ö Co,oconnor@example.com,,,,,,,,,\n"
    "C20,王伟,北京科技有限公司,wang@example.cn,+86 10 1234 5678,,,,,proposal,asia,第一行,\n"
    f"C21,Long Company,{'x' * 501},long@example.com,,,,,,,,,\n"
    f"C22,Long Notes,,longnotes@example.com,,,,,,,,{'n' * 600},\n"
    "C23,Nul\x00Name,,nul@example.com,,,,,,,,,\n"
    "C24,Tab\tInside,,tab@example.com,,,,,,lead,newsletter,,2026-01-02T03:04:05Z\n"
    ",No External,,noext@example.com,,,,,,,,,\n"
    ",No External Either,,,,,,,,,,,\n"
    "C27,Last,,last@example.com,+1 555 0199,,,,,lead,\"[\"\"vip\"\", \"\"smb\"\"]\",,"
    "2026-01-02T03:04:05Z\n")

AWKWARD_NDJSON = "\n".join([
    '{"external_id": "C1", "name": "Ada", "email": "ada@example.com", "tags": ["vip", "smb"], '
    '"stage": "lead", "created_at": "2026-01-02T03:04:05Z"}',
    '{"name": "Bob", "email": "bob@example.com", "tags": "vip;smb", "stage": "won", '
    '"notes": null, "company": ""}',
    '{"name": "Int Size", "size": 50}',
    '{"name": "Zero Company", "company": 0}',
    '{"name": "False Notes", "notes": false}',
    '{"name": "List Tags Again", "tags": ["vip", "smb"], "stage": "lead"}',
    '{"name": "Dict Tags", "tags": {"vip": 1}}',
    '{"name": "Zero Tags", "tags": 0}',
    '{"name": "Empty Tags", "tags": []}',
    '{"name": "Empty Dict Tags", "tags": {}}',
    '{"name": "Nested Tags", "tags": [["vip"]]}',
    '{"name": "Number Tags", "tags": [1, 2]}',
    '{"name": 5}',
    '{"name": null, "email": "noname@example.com"}',
    '{"email": "absent@example.com"}',
    '{"name": "Nul\\u0000", "email": "nul@example.com"}',
    '{"name": " Spaced ", "phone": " +1 555 0100 "}',
    '{"name": "Custom", "地区": "华北"}',
    '{"name": "With Id", "id": 40}',
    '{"name": "Mapped", "Company Name": "Mapped Co"}',
    '{"name": "List Name", "company": ["a"]}',
    '{"name": "Decimal", "owner": 1.5}',
    '  {"name": "Leading Space"}',
    '{"name": "Trailing Space"}  ',
    '',
    '{"name": "After Blank", "email": "BOB@example.com"}',
    '{not json',
    '{"name": "Archived", "archived_at": "2026-01-01T00:00:00Z", '
    '"updated_at": "2026-01-03T00:00:00Z", "created_at": "2026-01-02T00:00:00Z"}',
    '{"name": "Last", "email": "last@example.com", "tags": ["vip", "smb"], "stage": "lead", '
    '"created_at": "2026-01-02T03:04:05Z"}',
]) + "\n"


def rows_by_batch_free(snapshot):
    """A database snapshot in which the change log's insert_range rows (one per batch) are
    merged into the ids each change inserted into each table: what undo reverts, whatever
    the batch size."""
    import json as jsonmod

    out = []
    for table, rows in snapshot:
        if table == "change_rows":
            inserted, others = {}, []
            for _id, change, tbl, row_id, op, old, new in rows:
                if op == "insert_range":
                    span = jsonmod.loads(new)
                    inserted.setdefault((change, tbl), set()).update(
                        range(span["first"], span["last"] + 1))
                else:
                    others.append((change, tbl, row_id, op, old, new))
            rows = [sorted(inserted.items()), others]
        out.append((table, rows))
    return out


def _import_both_ways(crm, tmp_path, monkeypatch, name, text, small, *args):
    """Import text into two empty databases, new clients written in batches of 5,000 (one
    batch here) and in batches of small (the first one full: indexes deferred); returns the
    two (snapshot, stderr, rejects)."""
    import crmcli.store.bulk as bulk
    from tests.conftest import db_snapshot

    src = write(tmp_path / name, text)
    outcomes = []
    for chunk in (5000, small):
        monkeypatch.setattr(bulk, "CLIENT_CHUNK", chunk)
        db = tmp_path / f"chunk-{chunk}.db"
        rejects = tmp_path / f"rejects-{chunk}{Path(name).suffix}"
        result = crm("--db", db, "import", "clients", src, "--skip-invalid", "--rejects",
                     rejects, *args)
        rows = rows_by_batch_free([(t, r) for t, r in db_snapshot(db)
                                   if t != "_sqlite_migrations"])  # (when)
        outcomes.append((rows, result.stderr.replace(str(rejects), "REJECTS").replace(
            str(db), "DB"),
                         rejects.read_text(encoding="utf-8") if rejects.exists() else None))
    return outcomes[0], outcomes[1]


@pytest.mark.parametrize("small", [3, 1])
def test_new_clients_in_batches_are_written_as_one_by_one_csv(crm, tmp_path, monkeypatch,
                                                              small):
    batched, small_batches = _import_both_ways(crm, tmp_path, monkeypatch, "c.csv",
                                               AWKWARD_CSV, small)
    assert batched == small_batches
    assert "rejected" in batched[1]
    assert "imported clients from" in batched[1]


@pytest.mark.parametrize("small", [2, 1])
def test_new_clients_in_batches_are_written_as_one_by_one_ndjson(crm, tmp_path, monkeypatch,
                                                                 small):
    batched, small_batches = _import_both_ways(crm, tmp_path, monkeypatch, "c.ndjson",
                                               AWKWARD_NDJSON, small, "--map",
                                               "Company Name=company")
    assert batched == small_batches


def test_new_clients_in_batches_with_a_map_and_a_dropped_column(crm, tmp_path, monkeypatch):
    text = ("Full Name,EMAIL,junk,Tags\nAda,ada@example.com,x,vip\nBob,bob@example.com,,\n"
            "Cy,CY@example.com , ,smb;vip\nDee,dee@example.com,,vip\nEve,ada@EXAMPLE.com,,\n")
    batched, small_batches = _import_both_ways(crm, tmp_path, monkeypatch, "c.csv", text, 1,
                                               "--map", "Full Name=name", "--map", "junk=")
    assert batched == small_batches


def test_a_big_import_into_an_empty_book_keeps_every_index_and_its_definition(
        crm, store, tmp_path, monkeypatch, db_path):
    import crmcli.store.bulk as bulk

    monkeypatch.setattr(bulk, "CLIENT_CHUNK", 2)  # the first chunk is full: indexes deferred
    before = store.index_definitions()
    src = write(tmp_path / "c.csv", "name,email,stage,tags\nAda,ada@example.com,lead,vip\n"
                                    "Bob,bob@example.com,won,\nCy,cy@example.com,,smb\n")
    assert "3 inserted" in crm("import", "clients", src).stderr
    assert store.index_definitions() == before
    assert store.integrity_check() == []
    assert [r["name"] for r in store.query(
        "SELECT name FROM clients WHERE email = ? COLLATE NOCASE", ("BOB@example.com",))
            ] == ["Bob"]
    assert "Cy" in crm("ls", "--tag", "smb").stdout


def test_a_failed_big_import_leaves_the_indexes_as_they_were(crm, store, tmp_path,
                                                             monkeypatch, db_path, snapshot):
    import crmcli.store.bulk as bulk

    monkeypatch.setattr(bulk, "CLIENT_CHUNK", 2)
    before, rows_before = store.index_definitions(), snapshot(db_path)
    src = write(tmp_path / "c.csv", "name,email\nAda,ada@example.com\nBob,bob@example.com\n"
                                    "Cy,cy@example.com\nDee,not-an-email\n")
    crm("import", "clients", src, ok=False)
    assert store.index_definitions() == before
    assert snapshot(db_path) == rows_before


def test_a_big_import_of_interactions_builds_their_indexes_at_the_end(crm, store, tmp_path,
                                                                       monkeypatch):
    import crmcli.store.bulk as bulk

    crm("add", "Acme", "--email", "ops@acme.test")
    monkeypatch.setattr(bulk, "CHUNK", 2)  # the first chunk is full: indexes deferred
    before = store.index_definitions()
    src = write(tmp_path / "i.csv", "client,at,kind,summary\n"
                                    "ops@acme.test,2026-01-02T10:00:00Z,complaint,late parcel\n"
                                    "ops@acme.test,2026-01-01T10:00:00Z,note,renewal call\n"
                                    "ops@acme.test,2026-01-03T10:00:00Z,note,invoice sent\n")
    assert "3 inserted" in crm("import", "interactions", src).stderr
    assert store.index_definitions() == before
    assert store.integrity_check() == []
    assert "late parcel" in crm("search", "parcel").stdout
    # a second import of the same file finds the rows through the indexes: nothing new
    assert "0 inserted" in crm("import", "interactions", src).stderr


def test_a_failed_big_import_of_deals_leaves_the_indexes_as_they_were(
        crm, store, tmp_path, monkeypatch, db_path, snapshot):
    import crmcli.store.bulk as bulk

    crm("add", "Acme", "--email", "ops@acme.test")
    monkeypatch.setattr(bulk, "CHUNK", 2)
    before, rows_before = store.index_definitions(), snapshot(db_path)
    src = write(tmp_path / "d.csv", "client,at,amount\nops@acme.test,2026-01-02,10\n"
                                    "ops@acme.test,2026-01-03,20\nops@acme.test,2026-01-04,30\n"
                                    "ops@acme.test,2026-01-05,19,99\n")
    crm("import", "deals", src, ok=False)
    assert store.index_definitions() == before
    assert snapshot(db_path) == rows_before


def test_rows_with_ids_after_a_full_first_chunk_are_looked_up_with_the_indexes_back(
        crm, store, tmp_path, monkeypatch):
    import crmcli.store.bulk as bulk

    monkeypatch.setattr(bulk, "CLIENT_CHUNK", 1)
    before = store.index_definitions()
    src = write(tmp_path / "c.csv", "id,name,email\n,Ada,ada@example.com\n"
                                    "1,Ada Lovelace,lovelace@example.com\n7,Bob,bob@example.com\n")
    assert "2 inserted, 1 updated, 0 unchanged" in crm("import", "clients", src).stderr
    assert [(r["id"], r["name"]) for r in clients(store)] == [(1, "Ada Lovelace"), (7, "Bob")]
    assert store.index_definitions() == before
