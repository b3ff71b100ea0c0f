"""Audit trail and undo: crm history, crm undo, crm undo --list, and the store underneath."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import ENGINE
from helpers import connect_book

from crmcli.errors import CrmError

DATA_TABLES = ("clients", "contacts", "interactions", "followups", "deals", "tags",
               "stage_changes", "invoices", "payments")
FORMATS = ["table", "json", "ndjson", "csv", "tsv", "markdown"]


def data(db_path) -> dict:
    """Every row of the data tables (not the change log), for before/after comparisons."""
    conn = connect_book(db_path)
    try:
        out = {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in DATA_TABLES}
        out["search"] = conn.execute(
            "SELECT rowid, body, client_id FROM search_index ORDER BY rowid").fetchall()
        return out
    finally:
        conn.close()


def add(crm, *args) -> int:
    return int(crm("add", *args, "-q").stdout.strip())


def check_ok(crm):
    assert crm.json("db", "check")["ok"] is True


# --- undo through the CLI -------------------------------------------------------------

def test_undo_of_add_removes_the_client_with_its_tags_and_says_so(crm, db_path):
    empty = data(db_path) if isinstance(db_path, Path) and db_path.exists() else None
    add(crm, "Acme", "--tag", "vip", "--tag", "eu", "--stage", "lead")
    result = crm("undo")
    assert result.stdout == ""
    assert result.stderr.startswith("undid change 1: added client 1 Acme (as change 2;")
    assert crm.json("ls", "--all") == []
    after = data(db_path)
    assert all(after[t] == [] for t in DATA_TABLES) and after["search"] == []
    if empty is not None:
        assert after == empty
    check_ok(crm)


def test_undo_of_an_undo_redoes_the_change_with_the_same_ids(crm, db_path):
    add(crm, "Acme", "--tag", "vip", "--email", "a@acme.test")
    before = data(db_path)
    crm("undo")
    result = crm("undo")
    assert result.stderr.startswith("redid change 1: added client 1 Acme (as change 3;")
    assert data(db_path) == before
    assert crm.json("search", "Acme")[0]["client_id"] == 1
    # and once more: undoing the redo removes it again
    assert crm("undo").stderr.startswith("undid change 1: added client 1 Acme (as change 4;")
    assert crm.json("ls", "--all") == []


@pytest.mark.parametrize("steps", [
    [("edit", "Acme", "--email", "new@acme.test", "--set", "region=EU", "--note", "x")],
    [("tag", "Acme", "hot", "cold")],
    [("tag", "Acme", "vip", "--remove")],
    [("stage", "Acme", "qualified", "--note", "call went well")],
    [("contact", "add", "Acme", "Jane", "--email", "jane@acme.test", "--primary")],
    [("rm", "Acme")],
    [("rm", "Acme", "--purge", "--yes")],
    [("merge", "Acme", "Globex")],
    [("merge", "Globex", "Acme")],
])
def test_each_client_command_is_undone_exactly_and_redone_exactly(crm, db_path, steps):
    acme = add(crm, "Acme", "--email", "old@acme.test", "--tag", "vip", "--stage", "lead",
               "--set", "tier=gold")
    crm("contact", "add", "Acme", "Bob", "--role", "CTO")
    globex = add(crm, "Globex", "--phone", "+1 555 0100", "--tag", "vip", "--tag", "eu",
                 "--note", "from the fair")
    crm("contact", "add", str(globex), "Gina")
    assert (acme, globex) == (1, 2)
    before = data(db_path)
    for step in steps:
        crm(*step)
    changed = data(db_path)
    assert changed != before
    result = crm("undo")
    assert result.stderr.startswith("undid change ")
    assert data(db_path) == before
    check_ok(crm)
    result = crm("undo")
    assert result.stderr.startswith("redid change ")
    assert data(db_path) == changed
    check_ok(crm)


@pytest.mark.parametrize("steps", [
    [("log", "Acme", "Call about the renewal", "--channel", "call", "--score", "9")],
    [("log", "Acme", "Demo booked", "--next", "2026-12-01", "--note", "send the deck")],
    [("deal", "Acme", "1200.50", "--title", "Renewal")],
    [("deal", "Acme", "19.99", "--status", "open")],
    [("followup", "Acme", "2026-12-24", "Christmas call", "--every", "yearly")],
    [("done", "1")],
    [("snooze", "1", "2026-12-15")],
])
def test_each_activity_command_is_undone_exactly_and_redone_exactly(crm, db_path, steps):
    add(crm, "Acme", "--tag", "vip")
    crm("followup", "Acme", "2026-12-01", "quarterly review", "--every", "monthly")
    before = data(db_path)
    for step in steps:
        crm(*step)
    changed = data(db_path)
    assert changed != before
    result = crm("undo")
    assert result.stderr.startswith("undid change 3: ")
    assert data(db_path) == before
    check_ok(crm)
    assert crm("undo").stderr.startswith("redid change 3: ")
    assert data(db_path) == changed
    check_ok(crm)


def test_undo_restores_a_purged_client_with_all_records_and_search(crm, db_path, store):
    client = store.clients.add("Zhang Wei 张伟", email="zw@example.cn", tags=["vip"])
    with store.change("seed", "records of Zhang", client_id=client):
        for i in range(80):  # enough rows to take the set-based (bulk) path
            store.insert("contacts", {"client_id": client, "name": f"Person {i}",
                                       "is_primary": 0, "created_at": "2026-01-01T00:00:00Z",
                                       "updated_at": "2026-01-01T00:00:00Z"})
        store.insert("deals", {"client_id": client, "amount": "19.99", "currency": "USD",
                                "at": "2026-02-01T00:00:00Z", "status": "won",
                                "created_at": "2026-02-01T00:00:00Z"})
    before = data(db_path)
    crm("rm", "张伟", "--purge", "--yes")
    purged = data(db_path)
    assert purged["clients"] == [] and purged["contacts"] == [] and purged["search"] == []
    crm("undo")
    assert data(db_path) == before
    assert [r["id"] for r in crm.json("search", "张伟")] == [client]
    assert crm.json("show", "张伟")["revenue"] == 19.99
    check_ok(crm)
    crm("undo")  # redo the purge: the bulk inverse of the bulk inverse
    assert data(db_path) == purged
    check_ok(crm)


def test_undo_list_shows_what_can_be_undone_newest_first(crm):
    add(crm, "Acme")
    add(crm, "Globex")
    crm("tag", "Acme", "vip")
    crm("undo")
    rows = crm.json("undo", "--list")
    assert [(r["change_id"], r["command"], r["summary"], r["undo_of"], r["original"])
            for r in rows] == [
        (4, "undo", "undid change 3: tagged client 1 Acme: vip", 3, 3),
        (2, "add", "added client 2 Globex", None, 2),
        (1, "add", "added client 1 Acme", None, 1)]
    assert set(rows[0]) == {"change_id", "at", "by", "command", "summary", "client_id", "rows",
                            "undo_of", "original"}
    assert rows[0]["rows"] == 1 and rows[0]["at"] == "2026-11-22T10:00:00Z"
    table = crm("undo", "--list").stdout
    assert "undoing it redoes change 3" in table
    assert crm.json("undo", "--list", "--limit", "1")[0]["change_id"] == 4
    crm("undo")  # redo change 3 as change 5
    [redo] = crm.json("undo", "--list", "--limit", "1")
    assert (redo["change_id"], redo["command"], redo["undo_of"], redo["original"]) == (
        5, "redo", 4, 3)
    assert "undoing it undoes change 3 again" in crm("undo", "--list").stdout


def test_undo_with_nothing_to_undo_fails_cleanly(crm, db_path, snapshot, store):  # a book
    result = crm("undo", ok=False)
    assert result.exit_code == 1
    assert result.stderr == "crm: error: nothing to undo\n"
    add(crm, "Acme")
    crm("undo")
    crm("undo")
    before = snapshot(db_path)
    result = crm("undo", "1", ok=False)
    assert result.exit_code == 1
    assert result.stderr == ("crm: error: change 1 was undone by change 2 and redone by change 3;"
                             " undo change 3 instead\n")
    assert crm("undo", "99", ok=False).stderr == (
        "crm: error: no change with id 99 (see crm history)\n")
    assert snapshot(db_path) == before


def test_undo_of_an_older_change_is_refused_when_a_later_change_edited_the_row(
        crm, db_path, snapshot):
    add(crm, "Acme")
    crm("edit", "Acme", "--email", "a@acme.test")
    before = snapshot(db_path)
    result = crm("undo", "1", ok=False)
    assert result.exit_code == 1
    assert result.stderr == ("crm: error: cannot undo change 1: client 1 was changed since by "
                             "change 2\n")
    assert snapshot(db_path) == before


def test_undo_refuses_to_cascade_into_records_added_by_later_changes(crm, db_path, snapshot):
    add(crm, "Acme")
    add(crm, "Globex")
    crm("contact", "add", "Acme", "Jane")
    before = snapshot(db_path)
    result = crm("undo", "1", ok=False)
    assert result.stderr == ("crm: error: cannot undo change 1: client 1 has 1 contact added "
                             "since by change 3; undo or remove those first\n")
    assert snapshot(db_path) == before
    # an unrelated older change is still undoable out of order
    assert crm("undo", "2").stderr.startswith("undid change 2: added client 2 Globex")
    assert [c["name"] for c in crm.json("ls")] == ["Acme"]


def test_undo_refuses_to_restore_a_row_whose_id_was_taken_since(crm, db_path, snapshot):
    add(crm, "Acme")
    crm("rm", "Acme", "--purge", "--yes")
    assert add(crm, "Globex") == 1  # SQLite hands out the freed id again
    before = snapshot(db_path)
    result = crm("undo", "2", ok=False)
    assert result.stderr == ("crm: error: cannot undo change 2: client 1 exists again (its id was"
                             " taken since by change 3)\n")
    assert snapshot(db_path) == before


def test_undo_refuses_to_restore_a_row_whose_parent_is_gone(crm, db_path, snapshot):
    add(crm, "Acme", "--tag", "vip")
    crm("tag", "Acme", "vip", "--remove")
    crm("rm", "Acme", "--purge", "--yes")
    before = snapshot(db_path)
    result = crm("undo", "2", ok=False)
    assert result.stderr == ("crm: error: cannot undo change 2: client 1 no longer exists "
                             "(deleted by change 3)\n")
    assert snapshot(db_path) == before


def test_an_undone_change_that_was_redone_can_be_undone_again_by_id_of_the_redo(crm, db_path):
    add(crm, "Acme")
    crm("edit", "Acme", "--company", "Acme Inc")
    crm("undo")       # 3 undoes 2
    crm("undo")       # 4 redoes 2
    assert crm.json("ls")[0]["company"] == "Acme Inc"
    assert crm("undo", "4").stderr.startswith(
        "undid change 2: edited client 1 Acme: company (as change 5; crm undo again to redo it)")
    assert crm.json("ls")[0]["company"] is None


# --- the store: bulk imports (insert_range) -------------------------------------------

def _bulk_interactions(store, client_id: int, n: int, word: str = "meeting") -> int:
    with store.change("import interactions", f"imported {n} interactions") as ch:
        store.insert_many(
            "interactions", ["client_id", "at", "channel", "direction", "kind", "summary",
                             "created_at"],
            ((client_id, f"2026-01-01T00:{i % 60:02d}:00Z", "call", "out", "note",
              f"{word} number {i}", "2026-11-22T10:00:00Z") for i in range(n)))
        return ch.id


def test_undo_of_a_bulk_import_deletes_the_range_and_redo_puts_every_row_back(store, db_path):
    acme = store.clients.add("Acme")
    before = data(db_path)
    change = _bulk_interactions(store, acme, 3000)
    imported = data(db_path)
    assert len(imported["interactions"]) == 3000
    [logged] = store.query("SELECT op, row_id, new FROM change_rows WHERE change_id = ?",
                           (change,))
    assert logged["op"] == "insert_range" and json.loads(logged["new"]) == {"first": 1,
                                                                            "last": 3000}
    result = store.audit.undo_last()
    assert result == {"change_id": change + 1, "undid": change, "redo": False,
                      "original": change, "summary": "undid change 2: imported 3000 interactions",
                      "client_id": None, "rows": 3000}
    assert data(db_path) == before
    assert store.search.matches("meeting") == []
    assert store.integrity_check() == []
    store.audit.undo_last()  # redo
    assert data(db_path) == imported
    assert len(store.search.matches("meeting", limit=5000)) == 3000
    assert store.integrity_check() == []
    store.audit.undo_last()  # and undo the redo
    assert data(db_path) == before
    assert store.integrity_check() == []


def test_undo_of_a_bulk_import_is_refused_when_an_imported_row_was_edited_since(store, db_path):
    acme = store.clients.add("Acme")
    change = _bulk_interactions(store, acme, 100)
    with store.change("edit", "fix a summary"):
        store.update("interactions", 50, {"summary": "fixed"})
    with pytest.raises(CrmError, match=f"cannot undo change {change}: interaction 50 was "
                                       f"changed since by change {change + 1}"):
        store.audit.undo(change)
    assert store.get("interactions", 50)["summary"] == "fixed"


def test_bulk_insert_with_caller_chosen_ids_is_logged_row_by_row(store, db_path):
    acme = store.clients.add("Acme")
    with store.change("import", "ids given"):
        store.insert_many("tags", ["id", "client_id", "tag"], [(10, acme, "a"), (7, acme, "b")])
    ops = store.query("SELECT op, row_id FROM change_rows WHERE tbl = 'tags' ORDER BY id")
    assert ops == [{"op": "insert", "row_id": 7}, {"op": "insert", "row_id": 10}]
    store.audit.undo_last()
    assert store.clients.tags(acme) == []


def test_changes_logged_with_stored_values_so_undo_compares_like_with_like(store):
    acme = store.clients.add("Acme")
    with store.change("seed", "x"):
        store.update("clients", acme, {"size": 42})  # TEXT column: stored as '42'
    [row] = store.query("SELECT new FROM change_rows WHERE op = 'update'")
    assert json.loads(row["new"]) == {"size": "42"}
    store.audit.undo_last()
    assert store.clients.get(acme)["size"] is None


# --- history --------------------------------------------------------------------------

def test_history_json_has_the_documented_fields_with_old_and_new_values(crm):
    add(crm, "Acme", "--email", "old@acme.test")
    crm("edit", "Acme", "--email", "new@acme.test")
    records = crm.json("history")
    assert [set(r) for r in records] == [
        {"change_id", "at", "by", "command", "summary", "client_id", "undo_of", "undone_by",
         "table", "row_id", "op", "old", "new"}] * len(records)
    edit = [r for r in records if r["change_id"] == 2]
    assert [(r["table"], r["row_id"], r["op"], r["old"], r["new"]) for r in edit] == [
        ("clients", 1, "update", {"email": "old@acme.test"}, {"email": "new@acme.test"})]
    assert edit[0]["summary"] == "edited client 1 Acme: email"
    assert edit[0]["at"] == "2026-11-22T10:00:00Z" and edit[0]["command"] == "edit"
    [added] = [r for r in records if r["change_id"] == 1]
    assert added["op"] == "insert" and added["old"] is None
    assert added["new"]["name"] == "Acme" and added["new"]["email"] == "old@acme.test"
    assert records[0]["change_id"] == 2  # newest first


@pytest.mark.parametrize("fmt", FORMATS)
def test_history_prints_in_every_format(crm, fmt):
    add(crm, "Acme", "--tag", "vip")
    crm("edit", "Acme", "--email", "a@acme.test")
    out = crm("history", "--format", fmt).stdout
    if fmt == "json":
        assert len(json.loads(out)) == 3
    elif fmt == "ndjson":
        assert [json.loads(line)["op"] for line in out.splitlines()] == ["update", "insert",
                                                                         "insert"]
    elif fmt in ("csv", "tsv"):
        rows = list(csv.DictReader(io.StringIO(out), delimiter="," if fmt == "csv" else "\t"))
        assert [r["change_id"] for r in rows] == ["2", "1", "1"]
        assert json.loads(rows[0]["new"]) == {"email": "a@acme.test"}
    elif fmt == "markdown":
        # A book on PostgreSQL records who made each change (the database role): "by".
        by = "by | " if ENGINE == "postgres" else ""
        assert out.startswith(f"| change | at | {by}command | summary | table | row | op | "
                              "values |")
        assert "email: ∅ → a@acme.test" in out
    else:
        assert "email: ∅ → a@acme.test" in out
        assert "2026-11-22 10:00" in out and "\x1b[" not in out


def test_history_filters_by_client_since_and_limit(crm):
    add(crm, "Acme")
    add(crm, "Globex")
    crm("tag", "Globex", "vip")
    crm("merge", "Acme", "Globex")
    assert {r["change_id"] for r in crm.json("history", "Acme")} == {1, 4}
    # Globex is gone after the merge; its id still finds its history, the merge included
    assert {r["change_id"] for r in crm.json("history", "2")} == {2, 3, 4}
    assert {r["change_id"] for r in crm.json("history", "--limit", "1")} == {4}
    assert crm.json("history", "--since", "2026-11-23") == []
    assert len({r["change_id"] for r in crm.json("history", "--since", "2026-11-22")}) == 4


def test_history_since_a_weekday_or_a_bare_offset_looks_back(crm, monkeypatch):
    # today is Sunday 2026-11-22; history has no future, so `--since monday` is last Monday
    for at, name in (("2026-11-16T09:00:00+00:00", "Monday Co"),
                     ("2026-11-20T09:00:00+00:00", "Friday Co"),
                     ("2026-11-22T09:00:00+00:00", "Sunday Co")):
        monkeypatch.setenv("CRM_NOW", at)
        add(crm, name)
    monkeypatch.setenv("CRM_NOW", "2026-11-22T10:00:00+00:00")

    def since(text: str) -> list[int]:
        return [r["change_id"] for r in crm.json("history", "--since", text)]

    assert since("monday") == since("Mon") == [3, 2, 1]
    assert since("friday") == [3, 2]
    assert since("sunday") == since("today") == [3]  # the latest Sunday is today
    assert since("1w") == since("7 days") == since("-1w") == [3, 2, 1]
    assert since("3d") == [3, 2]
    assert since("2h") == [3]
    # explicit forms keep their meaning
    assert since("next monday") == since("+1d") == since("in 2w") == []
    assert since("last monday") == [3, 2, 1]


def test_history_since_a_date_starts_at_local_midnight_of_that_day_across_dst(
        crm, tmp_path, monkeypatch):
    (tmp_path / "config.yaml").write_text("timezone: Europe/Berlin\n")
    monkeypatch.setenv("CRM_NOW", "2026-06-30T21:30:00+00:00")  # 23:30 on 30 June in Berlin
    add(crm, "June Co")
    monkeypatch.setenv("CRM_NOW", "2026-06-30T22:30:00+00:00")  # 00:30 on 1 July (CEST)
    add(crm, "July Co")
    monkeypatch.setenv("CRM_NOW", "2026-11-22T10:00:00+00:00")  # now it is winter time (CET)
    assert [r["summary"] for r in crm.json("history", "--since", "2026-07-01")] == [
        "added client 2 July Co"]
    assert len(crm.json("history", "--since", "2026-06-30")) == 2


def test_history_of_an_unknown_client_or_a_bad_since_fails_cleanly(crm, db_path, snapshot):
    add(crm, "Acme")
    before = snapshot(db_path)
    result = crm("history", "Nobody", ok=False)
    assert result.exit_code == 1 and result.stderr == "crm: error: no client matches 'Nobody'\n"
    result = crm("history", "--since", "the day after never", ok=False)
    assert result.exit_code == 1 and result.stderr.startswith("crm: error: ")
    assert result.stderr.count("\n") == 1
    assert snapshot(db_path) == before


@pytest.mark.parametrize("ref", ["²", "١٢٣", "٣"])
def test_history_of_a_client_named_by_non_ascii_digits_fails_cleanly(crm, ref):
    add(crm, "Acme")
    result = crm("history", ref, ok=False)
    assert (result.exit_code, result.stderr) == (1, f"crm: error: no client matches '{ref}'\n")


def test_history_marks_undone_changes_in_the_table(crm):
    add(crm, "Acme")
    crm("undo")
    out = crm("history").stdout
    assert "added client 1 Acme [undone by 2]" in out
    assert "undid change 1: added client 1 Acme" in out


def test_a_whole_crm_import_is_one_change_that_undo_reverts_and_redo_restores(crm, db_path,
                                                                                tmp_path):
    add(crm, "Acme", "--email", "ops@acme.test")
    before = data(db_path)
    source = tmp_path / "calls.csv"
    source.write_text("client,at,channel,summary\n" + "".join(
        f"ops@acme.test,2026-01-{d:02d}T09:00:00Z,call,import call {d}\n" for d in range(1, 29)))
    crm("import", "interactions", str(source))
    imported = data(db_path)
    assert len(imported["interactions"]) == 28
    [change] = crm.json("undo", "--list", "--limit", "1")
    assert change["command"] == "import" and change["change_id"] == 2
    result = crm("undo")
    assert result.stderr.startswith(f"undid change 2: imported interactions from {source}")
    assert data(db_path) == before
    assert crm("undo").stderr.startswith("redid change 2: ")
    assert data(db_path) == imported
    check_ok(crm)


# --- every mutating command: exactly one change, undone fully, redone fully ------------------

def _leaf_commands() -> set[str]:
    """Every command of the Typer app, as typed after `crm` ('contact add', 'db check' ...)."""
    import typer.main

    from crmcli.cli import app

    found: set[str] = set()

    def walk(group, prefix: str) -> None:
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                walk(cmd, f"{prefix}{name} ")
            else:
                found.add(f"{prefix}{name}")

    walk(typer.main.get_command(app), "")
    return found


# Commands that never write the book.
READ_ONLY = {"show", "ls", "search", "tags", "deals", "followups", "export", "history",
             "contact ls", "db path", "db check", "db migrate", "db backup", "config show",
             "config path", "config init", "config get", "config set", "completion", "demo",
             "report summary", "report retention",
             "report cohorts", "report churn", "report response", "report nps",
             "report funnel", "report segments", "invoices", "invoice payments",
             "report receivables", "report forecast",
             "db copy"}  # writes another book whole, the one in use not at all
# Commands that write something that is not the book itself: the digest ledger
# (`due --email`) or a saved model fit (`report clv --model bgnbd`). Both show in history
# (test_mail.py, test_predict_cli.py) and undo passes over them.
NOT_UNDOABLE = {"due", "report clv"}
# Commands that rewrite the file but no row of it: nothing for undo (crm db decrypt reverses
# crm db encrypt).
FILE_ONLY = {"db encrypt", "db decrypt"}
# The team's roles and grants live in the server's catalog, not in the book's audited
# tables (and need PostgreSQL: tests/test_team.py).
NOT_AUDITED = {"team init", "team add", "team ls", "team rm"}

VCARD = ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Vera Vcard\r\nEMAIL:vera@acme.test\r\n"
         "ORG:Acme\r\nEND:VCARD\r\n")

# (case id, command as typed after `crm`, files to write first {name: text}, stdin)
MUTATIONS = [
    ("add", ["add", "Initech", "--tag", "new", "--stage", "lead", "--set", "k=v", "--note", "n",
             "--email", "hi@initech.test", "--owner", "sam"], {}, None),
    ("edit", ["edit", "Acme", "--name", "Acme Ltd", "--email", "new@acme.test", "--set",
              "region=EU", "--set", "tier=", "--note", "renamed"], {}, None),
    ("rm", ["rm", "Globex"], {}, None),
    ("unarchive", ["unarchive", "Initrode"], {}, None),
    ("rm --purge", ["rm", "Acme", "--purge", "--yes"], {}, None),
    ("merge", ["merge", "Acme", "Globex"], {}, None),
    ("contact add", ["contact", "add", "Globex", "Gina", "--role", "CEO", "--primary"], {}, None),
    ("contact edit", ["contact", "edit", "1", "--role", "CFO", "--not-primary",
                      "--level", "influencer"], {}, None),
    ("contact rm", ["contact", "rm", "1"], {}, None),
    ("tag", ["tag", "Globex", "hot", "cold"], {}, None),
    ("tag --remove", ["tag", "Acme", "vip", "--remove"], {}, None),
    ("stage", ["stage", "Acme", "qualified", "--note", "went well"], {}, None),
    ("log", ["log", "Acme", "Call about the renewal", "--score", "9", "--contact", "Jane",
             "--next", "friday"], {}, None),
    ("log -", ["log", "Globex", "-", "--channel", "email", "--in"], {}, "read from stdin\n"),
    ("resolve", ["resolve", "1"], {}, None),
    ("deal", ["deal", "Globex", "19.99", "--status", "won", "--title", "Starter"], {}, None),
    ("edit-deal", ["edit-deal", "1", "--status", "open", "--amount", "99.50", "--client",
                   "Globex", "--title", ""], {}, None),
    ("invoice add", ["invoice", "add", "Globex", "250.50", "--terms", "10", "--note", "setup"],
     {}, None),
    ("invoice pay", ["invoice", "pay", "INV-0001", "40", "--note", "wire"], {}, None),
    ("stage-deal", ["stage-deal", "1", "lost", "--note", "went elsewhere"], {}, None),
    ("edit-deal stage fields", ["edit-deal", "1", "--status", "open", "--probability", "45",
                                "--close", "2027-01-15"], {}, None),
    ("edit-log", ["edit-log", "1", "--summary", "Invoice was wrong twice", "--score", "2",
                  "--channel", "email", "--contact", "Jane"], {}, None),
    ("followup", ["followup", "Globex", "tomorrow", "send the deck", "--every", "2w"], {}, None),
    ("done", ["done", "2"], {}, None),
    ("done recurring", ["done", "1"], {}, None),
    ("snooze", ["snooze", "2", "2026-12-15"], {}, None),
    ("cadence", ["cadence", "Acme", "2w", "--max", "4w"], {}, None),
    ("cadence --clear", ["cadence", "Globex", "--clear"], {}, None),
    ("import clients", ["import", "clients", "{tmp}/clients.csv", "--key", "email"],
     {"clients.csv": "name,email,company,tags,stage,region\n"
                     "Acme,ops@acme.test,Acme Corp,a;b,qualified,EU\n"
                     "NewCo,hi@newco.test,NewCo,x,lead,\n"}, None),
    ("import clients -", ["import", "clients", "-", "--format", "ndjson"], {},
     '{"name": "Piped", "email": "p@piped.test", "tags": "a;b"}\n'),
    ("import contacts", ["import", "contacts", "{tmp}/contacts.csv"],
     {"contacts.csv": "client,name,email\nops@acme.test,Carl,carl@acme.test\n"}, None),
    ("import contacts vcf", ["import", "contacts", "{tmp}/people.vcf"],
     {"people.vcf": VCARD}, None),
    ("import interactions", ["import", "interactions", "{tmp}/calls.csv"],
     {"calls.csv": "client,at,channel,summary\nops@acme.test,2026-11-01,call,imported call\n"
                   "hi@globex.test,2026-11-02,email,imported mail\n"}, None),
    ("import deals", ["import", "deals", "{tmp}/deals.json"],
     {"deals.json": '[{"client": "hi@globex.test", "amount": "1200.50", "at": "2026-10-01",'
                    ' "status": "won"}]'}, None),
    ("import followups", ["import", "followups", "{tmp}/fu.tsv"],
     {"fu.tsv": "client\tdue\tnote\nops@acme.test\t2026-12-24\tChristmas card\n"}, None),
    ("import all", ["import", "all", "{tmp}/dump"],
     {"dump/clients.csv": "name,email\nDumped,d@dump.test\n",
      "dump/interactions.csv": "client,at,channel,summary\nd@dump.test,2026-11-03,call,hi\n"},
     None),
    ("undo", ["undo"], {}, None),
]
COVERED = {args[0] if args[0] not in ("contact", "invoice") else " ".join(args[:2])
           for _, args, _, _ in MUTATIONS}


def test_every_command_of_the_app_is_read_only_or_has_an_undo_case_below():
    commands = _leaf_commands()
    unknown = commands - READ_ONLY - NOT_UNDOABLE - FILE_ONLY - NOT_AUDITED - COVERED
    assert not unknown, f"commands with no case in MUTATIONS (or READ_ONLY): {sorted(unknown)}"
    assert COVERED <= commands


FULL_BOOK = [
    ("add", "Acme", "--email", "ops@acme.test", "--tag", "vip", "--stage", "lead",
     "--owner", "alex", "--set", "tier=gold", "-q"),                              # client 1
    ("add", "Globex", "--email", "hi@globex.test", "--tag", "eu", "-q"),           # client 2
    ("contact", "add", "Acme", "Jane", "--email", "jane@acme.test", "--primary"),  # contact 1
    ("log", "Acme", "Invoice was wrong", "--kind", "complaint", "--in"),          # interaction 1
    ("followup", "Acme", "2026-12-01", "quarterly review", "--every", "monthly"),  # follow-up 1
    ("followup", "Globex", "2026-11-25", "call back"),                             # follow-up 2
    ("deal", "Acme", "100", "--title", "Pilot"),
    ("cadence", "Globex", "1m"),
    ("invoice", "add", "Acme", "100", "--deal", "1", "--issued", "2026-11-01"),   # INV-0001
    ("invoice", "pay", "INV-0001", "10"),
    ("add", "Initrode", "-q"),                                                    # client 3
    ("rm", "Initrode"),                                                            # archived
    ("tag", "Globex", "later"),  # the last change: what `crm undo` as a case reverts
]


@pytest.fixture(scope="module")
def full_book_file(tmp_path_factory):
    """The book of FULL_BOOK built once through the CLI; each test gets a copy."""
    from conftest import ENCRYPTED, NOW, TEST_KEY, Crm

    folder = tmp_path_factory.mktemp("full-book")
    (folder / "config.yaml").write_text("timezone: UTC\n")
    with pytest.MonkeyPatch.context() as mp:
        for var, value in (("CRM_DB", folder / "crm.db"), ("CRM_CONFIG", folder / "config.yaml"),
                           ("CRM_NOW", NOW), ("TZ", "UTC"),
                           ("XDG_CONFIG_HOME", folder / "xdg-config"),
                           ("XDG_DATA_HOME", folder / "xdg-data")):
            mp.setenv(var, str(value))
        mp.delenv("CRM_DEBUG", raising=False)
        if ENCRYPTED:
            mp.setenv("CRM_DB_KEY", TEST_KEY)
        crm = Crm()
        for step in FULL_BOOK:
            crm(*step)
    return folder / "crm.db"


@pytest.fixture
def full_book(crm, db_path, request):
    """Two clients with one of every kind of record; the last change is an undoable tag."""
    if isinstance(db_path, str):  # a PostgreSQL book: built in its own database
        for step in FULL_BOOK:
            crm(*step)
        return crm
    src = connect_book(request.getfixturevalue("full_book_file"))
    dest = connect_book(db_path)
    try:
        src.backup(dest)
    finally:
        src.close()
        dest.close()
    db_path.chmod(0o600)
    return crm


def _changes(db_path) -> list[tuple]:
    conn = connect_book(db_path)
    try:
        return conn.execute("SELECT id, command, undo_of, undone_by FROM changes ORDER BY id"
                            ).fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("case, args, files, stdin", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_every_mutating_command_is_one_change_in_history_that_undo_reverts_and_redo_restores(
        full_book, db_path, tmp_path, case, args, files, stdin):
    crm = full_book
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    before, log_before = data(db_path), _changes(db_path)

    crm(*args, input=stdin)
    after, log_after = data(db_path), _changes(db_path)
    assert after != before, f"crm {case} changed nothing"
    # exactly one new change, named after the command, visible in history in every format
    assert log_after[:len(log_before) - 1] == log_before[:-1]
    assert len(log_after) == len(log_before) + 1, log_after[len(log_before):]
    change_id, command = log_after[-1][0], log_after[-1][1]
    if case == "undo":
        assert command == "undo" and log_after[-1][2] == log_before[-1][0]
    else:  # named after the command: 'contact add', 'rm' or 'rm --purge', 'import' ...
        assert command.startswith(" ".join(args[:2]) if args[0] == "contact" else args[0])
    records = crm.json("history", "--limit", "1")
    assert {r["change_id"] for r in records} == {change_id}
    assert all(r["op"] in ("insert", "update", "delete", "insert_range") for r in records)
    for r in records:
        if r["op"] == "update":
            assert r["old"] and r["new"] and set(r["old"]) == set(r["new"])
        elif r["op"] == "delete":
            assert r["old"] and r["new"] is None
        else:
            assert r["new"] and r["old"] is None
    for fmt in ("table", "csv", "ndjson", "markdown"):
        out = crm("history", "--limit", "1", "--format", fmt).stdout
        assert str(change_id) in out and records[0]["summary"][:20] in out

    # undo puts back every row of every table and the search index, and says what it undid
    result = crm("undo")
    assert data(db_path) == before, f"crm undo did not fully revert crm {case}"
    verb = "redid" if case == "undo" else "undid"
    assert result.stderr.startswith(f"{verb} change ")
    assert result.stderr.count("\n") == 1
    check_ok(crm)
    # and undo of that undo redoes it, with the same ids
    crm("undo")
    assert data(db_path) == after
    check_ok(crm)
