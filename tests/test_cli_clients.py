"""crm add / edit / show / ls / rm / merge / search through the real CLI."""

from __future__ import annotations

import csv
import io
import json

import pytest

FORMATS = ["table", "json", "ndjson", "csv", "tsv", "markdown"]


def add(crm, *args):
    return int(crm("add", *args, "-q").stdout.strip())


def test_add_prints_the_new_id_and_quiet_prints_only_the_id(crm):
    result = crm("add", "Acme Corp", "--email", "ops@acme.test")
    assert result.stdout == "1\n"
    assert "added client 1: Acme Corp" in result.stderr
    assert crm("add", "Globex", "-q").stdout == "2\n"


def test_add_stores_every_profile_field_and_ls_json_shows_them(crm):
    add(crm, "Acme Corp", "--company", "Acme Inc", "--email", "ops@acme.test", "--phone",
        "+1 555 0100", "--industry", "Retail", "--size", "11-50", "--owner", "ann", "--source",
        "referral", "--stage", "lead", "--external-id", "HS-1", "--tag", "VIP", "--tag", "eu",
        "--set", "region=EMEA", "--note", "met at expo")
    [row] = crm.json("ls")
    assert row == {
        "id": 1, "name": "Acme Corp", "company": "Acme Inc", "email": "ops@acme.test",
        "phone": "+1 555 0100", "industry": "Retail", "size": "11-50", "owner": "ann",
        "private": 0, "source": "referral", "stage": "lead", "external_id": "HS-1", "tags": ["eu", "vip"],
        "custom": {"region": "EMEA"}, "notes": "met at expo", "cadence_ideal": None,
        "cadence_max": None, "created_at": "2026-11-22T10:00:00Z",
        "updated_at": "2026-11-22T10:00:00Z", "archived_at": None}


def test_add_uses_the_configured_owner_by_default(crm, tmp_path):
    (tmp_path / "config.yaml").write_text("timezone: UTC\nowner: zoe\n")
    add(crm, "Acme")
    assert crm.json("ls")[0]["owner"] == "zoe"


@pytest.mark.parametrize("args, message", [
    (["--email", "not-an-email"], "email 'not-an-email': is not an email address"),
    (["--phone", "call me"], "phone 'call me': is not a phone number"),
    (["--stage", "dreaming"], "unknown stage 'dreaming': the pipeline is lead"),
    (["--tag", "two words"], "tag 'two words': must be one word"),
    (["--set", "novalue"], "--set 'novalue': expected key=value"),
])
def test_add_rejects_bad_fields_with_one_line_and_no_write(crm, db_path, snapshot, args, message):
    add(crm, "Existing")
    before = snapshot(db_path)
    result = crm("add", "Acme", *args, ok=False)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("crm: error: ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert snapshot(db_path) == before


def test_add_rejects_empty_name_and_nul_bytes(crm):
    result = crm("add", "   ", ok=False)
    assert result.exit_code == 1 and "name '   ': must not be empty" in result.stderr
    result = crm("add", "Ac\x00me", ok=False)
    assert result.exit_code == 1 and "contains a NUL byte" in result.stderr


def test_add_rejects_duplicate_email_and_external_id(crm, db_path, snapshot):
    add(crm, "Acme", "--email", "a@acme.test", "--external-id", "X1")
    before = snapshot(db_path)
    result = crm("add", "Other", "--email", "A@ACME.test", ok=False)
    assert "email 'A@ACME.test': already belongs to client 1 (Acme)" in result.stderr
    result = crm("add", "Other", "--external-id", "X1", ok=False)
    assert "external_id 'X1': already belongs to client 1 (Acme)" in result.stderr
    assert snapshot(db_path) == before


def test_client_reference_by_id_email_external_id_name_and_part(crm):
    add(crm, "Acme Corp", "--email", "ops@acme.test", "--external-id", "HS-9")
    add(crm, "Globex")
    for ref in ["1", "ops@acme.test", "OPS@ACME.TEST", "HS-9", "acme corp", "Acm"]:
        assert crm.json("show", ref)["client"]["id"] == 1, ref


def test_ambiguous_client_lists_the_candidates(crm, db_path, snapshot):
    add(crm, "Acme East")
    add(crm, "Acme West")
    before = snapshot(db_path)
    result = crm("tag", "Acme", "vip", ok=False)
    assert result.exit_code == 1
    assert ("'Acme' matches 2 clients: 1: Acme East; 2: Acme West; use the id or a longer part "
            "of the name") in result.stderr
    assert snapshot(db_path) == before


def test_unknown_client_is_an_error(crm, store):  # store: an empty book
    result = crm("show", "Nobody", ok=False)
    assert result.exit_code == 1
    assert result.stderr == "crm: error: no client matches 'Nobody'\n"


def test_edit_changes_fields_and_custom_fields(crm):
    add(crm, "Acme", "--set", "region=EU", "--set", "tier=gold", "--phone", "555 0100")
    crm("edit", "Acme", "--email", "new@acme.test", "--set", "region=APAC", "--set", "tier=",
        "--phone", "")
    row = crm.json("ls")[0]
    assert row["email"] == "new@acme.test"
    assert row["custom"] == {"region": "APAC"}
    assert row["phone"] is None


def test_edit_without_changes_is_a_usage_error(crm):
    add(crm, "Acme")
    result = crm("edit", "Acme", ok=False)
    assert result.exit_code == 2
    assert "nothing to change" in result.stderr


def test_edit_rejects_bad_email_and_leaves_the_client(crm, db_path, snapshot):
    add(crm, "Acme", "--email", "a@acme.test")
    before = snapshot(db_path)
    result = crm("edit", "Acme", "--email", "broken@", ok=False)
    assert result.exit_code == 1 and "email 'broken@'" in result.stderr
    assert snapshot(db_path) == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_ls_in_every_format(crm, fmt):
    add(crm, "Acme", "--stage", "lead", "--tag", "vip", "--email", "a@acme.test")
    add(crm, "王伟", "--company", "北京科技")
    out = crm("ls", "--format", fmt).stdout
    if fmt == "json":
        assert [r["name"] for r in json.loads(out)] == ["Acme", "王伟"]
    elif fmt == "ndjson":
        assert [json.loads(line)["name"] for line in out.splitlines()] == ["Acme", "王伟"]
    elif fmt in ("csv", "tsv"):
        rows = list(csv.DictReader(io.StringIO(out), delimiter="," if fmt == "csv" else "\t"))
        assert [(r["name"], r["tags"]) for r in rows] == [("Acme", '["vip"]'), ("王伟", "")]
    elif fmt == "markdown":
        lines = out.splitlines()
        assert lines[0] == "| id | name | company | stage | owner | tags | email |"
        assert lines[2] == "| 1 | Acme |  | lead |  | vip | a@acme.test |"
    else:
        lines = out.splitlines()
        assert lines[0].split() == ["id", "name", "company", "stage", "owner", "tags", "email"]
        assert "\x1b[" not in out  # no colour codes when piped
        assert lines[2].split() == ["1", "Acme", "lead", "vip", "a@acme.test"]
        assert lines[3].split() == ["2", "王伟", "北京科技"]


def test_ls_json_flag_equals_format_json(crm):
    add(crm, "Acme")
    assert crm("ls", "--json").stdout == crm("ls", "--format", "json").stdout


def test_ls_filters_sort_and_limit(crm):
    add(crm, "Charlie", "--stage", "lead", "--tag", "vip", "--owner", "ann", "--industry", "Retail")
    add(crm, "Alpha", "--stage", "proposal", "--tag", "vip", "--owner", "bob")
    add(crm, "Bravo", "--stage", "lead", "--owner", "ann", "--note", "loves golf")
    names = lambda *a: [r["name"] for r in crm.json("ls", *a)]  # noqa: E731
    assert names() == ["Alpha", "Bravo", "Charlie"]
    assert names("--stage", "lead") == ["Bravo", "Charlie"]
    assert names("--tag", "vip") == ["Alpha", "Charlie"]
    assert names("--tag", "vip", "--stage", "lead") == ["Charlie"]
    assert names("--owner", "ANN") == ["Bravo", "Charlie"]
    assert names("--industry", "retail") == ["Charlie"]
    assert names("--text", "golf") == ["Bravo"]
    assert names("--sort", "id", "--desc") == ["Bravo", "Alpha", "Charlie"]
    assert names("--limit", "2") == ["Alpha", "Bravo"]


def test_ls_rejects_unknown_sort(crm, store):  # store: an empty book
    result = crm("ls", "--sort", "colour", ok=False)
    assert result.exit_code == 2 and "--sort 'colour': must be one of" in result.stderr


def test_empty_ls_prints_nothing_in_table_and_empty_array_in_json(crm, store):  # store: an empty book
    assert crm("ls").stdout == ""
    assert crm.json("ls") == []


def test_rm_archives_and_ls_all_shows_archived(crm):
    add(crm, "Acme")
    add(crm, "Globex")
    result = crm("rm", "Acme")
    assert "archived client 1 Acme" in result.stderr
    assert [r["name"] for r in crm.json("ls")] == ["Globex"]
    assert [r["name"] for r in crm.json("ls", "--archived")] == ["Acme"]
    assert [r["name"] for r in crm.json("ls", "--all")] == ["Acme", "Globex"]
    assert crm.json("show", "1")["client"]["status"] == "archived"


def test_rm_purge_requires_yes_then_deletes_everything(crm, db_path, snapshot):
    add(crm, "Acme", "--tag", "vip", "--stage", "lead")
    crm("contact", "add", "Acme", "Jane")
    before = snapshot(db_path)
    result = crm("rm", "Acme", "--purge", ok=False)
    assert result.exit_code == 2 and "add --yes to confirm" in result.stderr
    assert snapshot(db_path) == before
    crm("rm", "Acme", "--purge", "--yes")
    assert crm.json("ls", "--all") == []
    assert crm.json("contact", "ls") == []
    assert crm.json("tags") == []


def test_merge_moves_everything_onto_the_kept_client(crm):
    add(crm, "Acme Corp", "--tag", "vip")
    add(crm, "ACME Corporation", "--email", "ops@acme.test", "--tag", "eu", "--tag", "vip",
        "--set", "region=EU", "--external-id", "HS-3")
    crm("contact", "add", "2", "Jane")
    result = crm("merge", "1", "2")
    assert "merged client 2 ACME Corporation into 1 Acme Corp" in result.stderr
    [row] = crm.json("ls", "--all")
    assert row["id"] == 1
    assert row["email"] == "ops@acme.test"
    assert row["external_id"] == "HS-3"
    assert row["tags"] == ["eu", "vip"]
    assert row["custom"] == {"region": "EU"}
    assert [c["name"] for c in crm.json("contact", "ls", "1")] == ["Jane"]


def test_merge_into_itself_is_refused(crm):
    add(crm, "Acme")
    result = crm("merge", "1", "1", ok=False)
    assert result.exit_code == 1 and "cannot merge a client into itself" in result.stderr


@pytest.mark.parametrize("fmt", FORMATS)
def test_show_in_every_format(crm, fmt):
    add(crm, "Acme", "--email", "a@acme.test", "--stage", "lead", "--tag", "vip", "--set",
        "region=EU")
    crm("contact", "add", "Acme", "Jane Doe", "--role", "CTO", "--primary")
    out = crm("show", "Acme", "--format", fmt).stdout
    if fmt in ("json", "ndjson"):
        card = json.loads(out)
        assert card["client"]["name"] == "Acme"
        assert card["tags"] == ["vip"]
        assert card["stage_history"][0]["to_stage"] == "lead"
        assert card["contacts"][0]["name"] == "Jane Doe"
        assert card["tier"] == "C"
    elif fmt in ("csv", "tsv"):
        [row] = list(csv.DictReader(io.StringIO(out), delimiter="," if fmt == "csv" else "\t"))
        assert row["name"] == "Acme" and row["email"] == "a@acme.test"
    else:
        assert "Acme (#1)" in out
        assert "a@acme.test" in out
        assert "region" in out and "EU" in out
        assert "Jane Doe" in out and "Stage history" in out


def test_card_title_is_underlined_to_its_width_on_screen(crm):
    add(crm, "王伟")
    lines = crm("show", "王伟").stdout.splitlines()
    # "王伟 (#1)": two wide characters (2 columns each) and five narrow ones.
    assert lines[:2] == ["王伟 (#1)", "=" * 9]


def test_search_finds_latin_and_cjk_text(crm):
    add(crm, "王伟", "--company", "北京科技有限公司")
    add(crm, "山田太郎", "--note", "東京の顧客")
    add(crm, "김민준", "--company", "서울상사")
    add(crm, "Zoë Müller", "--company", "Café Nord")
    crm("contact", "add", "Zoë", "Li Na", "--role", "buyer")
    found = lambda text: [(r["kind"], r["client"]) for r in crm.json("search", text)]  # noqa
    assert found("王伟") == [("client", "王伟")]
    assert found("北京") == [("client", "王伟")]
    assert found("東京") == [("client", "山田太郎")]
    assert found("서울") == [("client", "김민준")]
    assert found("cafe") == [("client", "Zoë Müller")]
    assert found("mull") == [("client", "Zoë Müller")]
    assert found("buyer") == [("contact", "Zoë Müller")]
    assert found("nothing-here") == []


def test_search_treats_query_syntax_as_text(crm):
    add(crm, "Acme", "--note", "said: DROP TABLE clients")
    assert [r["client"] for r in crm.json("search", "'); DROP TABLE clients; --")] == ["Acme"]
    assert crm.json("search", '" OR *') == []
    assert crm.json("ls")[0]["name"] == "Acme"


def test_search_follows_edits_and_hides_archived(crm):
    add(crm, "Acme", "--note", "blue widgets")
    assert len(crm.json("search", "blue")) == 1
    crm("edit", "Acme", "--note", "red gadgets")
    assert crm.json("search", "blue") == []
    assert len(crm.json("search", "red")) == 1
    crm("rm", "Acme")
    assert crm.json("search", "red") == []
    assert len(crm.json("search", "red", "--all")) == 1


def test_the_card_tier_is_the_book_tier_of_every_client(store):
    # The card ranks one client without ranking the whole book in Python; it must agree
    # with crmcli.services.tiers (which `crm ls --tier` and the segments report use) for everyone,
    # ties of revenue and archived clients included.
    import random

    from crmcli.services.tiers import client_tier, tiers_by_client

    rng = random.Random(7)
    ids = [store.clients.add(f"Client {i}") for i in range(40)]
    for cid in ids:
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            amount = rng.choice(("100", "100.00", "250.5", "19.99", "1000", "0.001", "7"))
            store.deals.add(cid, amount, at="2026-10-01T10:00:00Z",
                           status=rng.choice(("won", "won", "won", "lost")),
                           currency=rng.choice(("USD", "USD", "USD", "EUR")))
    for cid in rng.sample(ids, 4):
        store.clients.archive(cid)
    book = tiers_by_client(store)
    for cid in ids:
        client = store.clients.get(cid)
        assert client_tier(store, client) == book.get(cid, "C"), cid
    assert set(book.values()) >= {"A", "C"}


def test_bytes_that_are_not_utf8_are_refused_naming_the_field(tmp_path, db_path, snapshot):
    """A shell passes arguments as bytes; Python keeps undecodable ones as surrogates."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "CRM_DEBUG"}

    def crm(*args):
        return subprocess.run([sys.executable, "-m", "crmcli", *args], env=env,
                              capture_output=True, timeout=60)

    assert crm("add", "Acme", "-q").returncode == 0
    before = snapshot(db_path)
    for args, line in (
            ((b"add", b"Bad\xffName"), b"name 'Bad\\xffName'"),
            ((b"log", b"Acme", b"called \xfe back"), b"summary 'called \\xfe back'"),
            ((b"tag", b"Acme", b"t\xff"), b"tag 't\\xff'"),
            ((b"followup", b"Acme", b"tomorrow", b"n\xff"), b"note 'n\\xff'")):
        done = crm(*args)
        assert done.returncode == 1, done.stderr
        byte = line.split(b"\\x")[1][:2]
        assert done.stderr == (b"crm: error: " + line + b": is not valid UTF-8 text (byte 0x"
                               + byte + b")\n")
    assert snapshot(db_path) == before


def test_ls_of_an_empty_book_in_csv_is_the_header_a_spreadsheet_or_import_can_read(crm, store):  # store: a book
    JSON_FIELDS = ["id", "name", "company", "email", "phone", "industry", "size", "owner",  # noqa: N806
                   "private", "source", "stage", "external_id", "tags", "custom", "notes", "cadence_ideal",
                   "cadence_max", "created_at", "updated_at", "archived_at"]
    assert crm("ls", "-f", "csv").stdout == ",".join(JSON_FIELDS) + "\n"
    assert crm("ls", "-f", "tsv").stdout == "\t".join(JSON_FIELDS) + "\n"
    assert crm("ls", "--json").stdout == "[]\n"
    result = crm("import", "clients", "-", "--key", "id", input=crm("ls", "-f", "csv").stdout)
    assert "0 inserted, 0 updated, 0 unchanged" in result.stderr
