"""Trust: nothing silently wrong on the command line. Interactions in the future are refused,
archived clients say so and can come back, a cut search says it was cut."""

from __future__ import annotations

import pytest


@pytest.fixture
def acme(crm):
    crm("add", "Acme", "--email", "a@acme.test", "--external-id", "A-1")
    return crm


# --- interactions are things that happened --------------------------------------------


@pytest.mark.parametrize("when", ["tomorrow", "2026-11-22 10:01", "+1h", "2099-01-01"])
def test_log_at_a_time_later_than_now_is_refused_with_a_hint(acme, snapshot, db_path, when):
    before = snapshot(db_path)
    result = acme("log", "Acme", "call", "--at", when, ok=False)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "is later than now" in result.stderr and "crm followup" in result.stderr
    assert snapshot(db_path) == before


def test_log_at_now_or_earlier_is_accepted(acme):
    acme("log", "Acme", "now", "--at", "2026-11-22 10:00")
    acme("log", "Acme", "before", "--at", "yesterday")


def test_edit_log_cannot_move_an_interaction_into_the_future(acme):
    log_id = acme("log", "Acme", "call").stdout.strip()
    result = acme("edit-log", log_id, "--at", "tomorrow", ok=False)
    assert result.exit_code == 1 and "is later than now" in result.stderr


@pytest.mark.parametrize("fmt,text", [
    ("csv", "client,at,summary\nA-1,2026-11-23T00:00:00Z,later\n"),
    ("ndjson", '{"client": "A-1", "at": "2099-01-01", "summary": "later"}\n'),
])
def test_an_import_of_interactions_in_the_future_is_refused(acme, tmp_path, snapshot, db_path,
                                                           fmt, text):
    path = tmp_path / f"i.{fmt}"
    path.write_text(text)
    before = snapshot(db_path)
    result = acme("import", "interactions", path, ok=False)
    assert result.exit_code == 1 and "is later than now" in result.stderr
    assert snapshot(db_path) == before


# --- archived clients ------------------------------------------------------------------


REFUSING = [("log", "{}", "hi"), ("followup", "{}", "tomorrow"), ("deal", "{}", "10"),
            ("tag", "{}", "vip"), ("stage", "{}", "lead"),
            ("contact", "add", "{}", "Ann"), ("cadence", "{}", "30d")]


@pytest.mark.parametrize("args", REFUSING, ids=lambda a: a[0])
@pytest.mark.parametrize("ref", ["Acme", "a@acme.test", "A-1", "1", "#1", "Ac"])
def test_a_command_that_refuses_an_archived_client_says_so_and_how_to_restore(acme, args, ref,
                                                                           snapshot, db_path):
    acme("rm", "Acme")
    before = snapshot(db_path)
    result = acme(*[a.format(ref) for a in args], ok=False)
    assert result.exit_code == 1
    assert result.stderr == ("crm: error: client 1 (Acme) is archived; restore it with "
                             "`crm unarchive '#1'` first\n")
    assert snapshot(db_path) == before


def test_unarchive_restores_the_client_and_is_one_undoable_change(acme):
    acme("rm", "Acme")
    assert acme.json("ls") == []
    result = acme("unarchive", "Acme")
    assert result.stderr == "restored client 1 Acme\n"
    assert [c["name"] for c in acme.json("ls")] == ["Acme"]
    acme("undo")
    assert acme.json("ls") == []


def test_unarchive_of_a_live_client_changes_nothing(acme, snapshot, db_path):
    before = snapshot(db_path)
    assert acme("unarchive", "Acme").stderr == "client 1 Acme is not archived\n"
    assert snapshot(db_path) == before


def test_unarchive_refuses_when_a_live_client_took_the_email_meanwhile(acme, snapshot, db_path):
    acme("rm", "Acme")
    acme("add", "Acme Two", "--email", "a@acme.test")
    before = snapshot(db_path)
    result = acme("unarchive", "#1", ok=False)
    assert result.exit_code == 1 and "already belongs to client 2" in result.stderr
    assert snapshot(db_path) == before


# --- a cut search says so ----------------------------------------------------------------


def test_a_search_cut_by_the_limit_says_how_many_and_how_to_see_more(crm, tmp_path):
    rows = "name,notes\n" + "".join(f"Client {i},widget buyer\n" for i in range(60))
    (tmp_path / "c.csv").write_text(rows)
    crm("import", "clients", tmp_path / "c.csv")
    result = crm("search", "widget", "--format", "json")
    assert result.stdout.count('"kind"') == 50
    assert result.stderr == ("crm: showing the best 50 of 60 matches; add --limit 60 to see them "
                             "all, or more words to narrow the search\n")
    result = crm("search", "widget", "--limit", "7", "--format", "json")
    assert result.stdout.count('"kind"') == 7 and "of 60 matches" in result.stderr
    result = crm("search", "widget", "--limit", "60", "--format", "json")
    assert result.stdout.count('"kind"') == 60 and result.stderr == ""


def test_a_search_that_fits_says_nothing(crm):
    crm("add", "Acme")
    assert crm("search", "acme").stderr == ""


# --- undo of an import after a change that was itself undone ---------------------------


@pytest.fixture
def imported(crm, tmp_path):
    rows = "name,email\n" + "".join(f"C{i},c{i}@x.test\n" for i in range(1, 31))
    (tmp_path / "c.csv").write_text(rows)
    crm("import", "clients", tmp_path / "c.csv")
    return crm


def test_an_undone_later_change_does_not_block_undoing_an_import(imported):
    imported("edit", "C5", "--phone", "+1 555 0100")
    imported("undo")  # reverts the edit: C5 is as imported again
    result = imported("undo", "1")
    assert result.stderr.startswith("undid change 1: imported clients")
    assert imported.json("ls") == []


def test_a_later_change_still_blocks_and_so_does_a_redone_one(imported):
    imported("edit", "C5", "--phone", "+1 555 0100")
    result = imported("undo", "1", ok=False)
    assert "client 5 was changed since by change 2" in result.stderr
    imported("undo")  # undoes the edit (change 3)
    imported("undo")  # redoes it (change 4)
    result = imported("undo", "1", ok=False)
    assert "was changed since by change 4" in result.stderr
