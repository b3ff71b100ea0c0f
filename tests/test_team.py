"""A team on one PostgreSQL book: crm team init/add/ls/rm through the CLI, then what each
role may do probed as that role through psycopg directly (the database refuses, not crm),
and through crm (one clear line). Needs a PostgreSQL server whatever CRM_TEST_ENGINE says:
skips with the reason without one, fails under CRM_REQUIRE_POSTGRES (tests/conftest.py)."""

from __future__ import annotations

import itertools
import json
import os
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

_ROLES = itertools.count(1)


def as_role(url: str, role: str) -> str:
    """The book's URL, connecting as role."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if "user" in query or not parts.hostname:
        query["user"] = role
        # postgresql:///db?host=/socket&user=...: urlunsplit would drop the empty host.
        return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}"
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


class Team:
    """A team book: its URL, its people's role names (unique in the cluster: roles are
    shared by every database of it, and tests run side by side), and crm as each."""

    def __init__(self, crm, monkeypatch, url):
        self.crm, self.monkeypatch, self.url = crm, monkeypatch, url
        tag = f"{os.getpid()}_{next(_ROLES)}"
        self.names = {who: f"{who}_{tag}" for who in ("alice", "bob", "carol", "dave")}
        self.groups: list[str] = []

    def __getattr__(self, who):
        try:
            return self.__dict__["names"][who]
        except KeyError:
            raise AttributeError(who) from None

    def run(self, who: str | None, *args, ok: bool = True, input: str | None = None):
        url = self.url if who is None else as_role(self.url, self.names[who])
        self.monkeypatch.setenv("CRM_DB", url)
        return self.crm(*args, ok=ok, input=input)

    def json(self, who, *args):
        return json.loads(self.run(who, *args, "--format", "json").stdout)

    def connect(self, who: str | None):
        import psycopg

        url = self.url if who is None else as_role(self.url, self.names[who])
        return psycopg.connect(url, autocommit=True)


@pytest.fixture
def team(crm, monkeypatch, pg_book):
    t = Team(crm, monkeypatch, pg_book)
    yield t
    import psycopg

    with psycopg.connect(pg_book, autocommit=True) as conn:
        prefix = conn.execute("SELECT prefix FROM crm_team").fetchone() if conn.execute(
            "SELECT to_regclass('crm_team')").fetchone()[0] else None
        groups = [f"{prefix[0]}_{s}" for s in ("admin", "member", "readonly")] if prefix else []
        roles = [r for (r,) in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = "
                                            "ANY(%s)", ([*t.names.values(), *groups],))]
        # The groups own the book's tables: dropped with what they own, then the roles.
        for role in roles:
            conn.execute(f'DROP OWNED BY "{role}" CASCADE')
        for role in roles:
            conn.execute(f'DROP ROLE "{role}"')


@pytest.fixture
def book(team):
    """A team book: bob and alice members, carol read-only, dave admin; alice owns a
    public client and a private one, and there is a client nobody owns."""
    team.run(None, "team", "init")
    team.run(None, "team", "add", team.alice, "--role", "member")
    team.run(None, "team", "add", team.bob, "--role", "member")
    team.run(None, "team", "add", team.carol, "--role", "read-only")
    team.run(None, "team", "add", team.dave, "--role", "admin")
    team.ids = {
        "shared": int(team.run("alice", "add", "Alice Shared", "--owner", team.alice,
                               "-q").stdout),
        "secret": int(team.run("alice", "add", "Alice Secret", "--private", "-q").stdout),
        "open": int(team.run("bob", "add", "Nobody's", "-q").stdout)}
    team.run("alice", "log", f"#{team.ids['secret']}", "a private call")
    return team


def _one_line_error(result, text):
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert text in result.stderr, result.stderr


# --- the commands ----------------------------------------------------------------------------


def test_team_commands_on_an_sqlite_book_say_they_need_postgresql(crm, tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_DB", str(tmp_path / "solo.db"))
    crm("add", "Acme")
    for args in (["team", "init"], ["team", "add", "bob"], ["team", "ls"], ["team", "rm", "bob"]):
        _one_line_error(crm(*args, ok=False), "crm team needs a book on PostgreSQL")


def test_init_is_idempotent_and_people_are_added_moved_listed_and_removed(team):
    first = team.run(None, "team", "init")
    assert "created" in first.stderr
    again = team.run(None, "team", "init")
    assert "roles existed" in again.stderr
    team.run(None, "team", "add", team.alice, "--role", "admin")
    team.run(None, "team", "add", team.bob, "--role", "member", "--password-stdin",
             input="s3cret pass\n")
    team.run(None, "team", "add", team.carol, "--role", "read-only")
    listed = {r["name"]: r for r in team.json(None, "team", "ls")}
    assert {n: (r["role"], r["login"]) for n, r in listed.items()} == {
        team.alice: ("admin", True), team.bob: ("member", True), team.carol: ("read-only", True)}
    with team.connect(None) as conn:
        assert conn.execute("SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = %s",
                            (team.bob,)).fetchone()[0]
    # Added again with another role: moved, in one group only.
    assert "moved" in team.run(None, "team", "add", team.bob, "--role", "read-only").stderr
    assert {r["name"]: r["role"] for r in team.json(None, "team", "ls")}[team.bob] == "read-only"
    team.run(None, "team", "rm", team.carol)
    assert team.carol not in {r["name"] for r in team.json(None, "team", "ls")}
    _one_line_error(team.run(None, "team", "rm", team.carol, ok=False), "is not in this book's team")
    bad = team.run(None, "team", "add", team.dave, "--role", "boss", ok=False)
    assert bad.exit_code == 1 and "must be admin, member or read-only" in bad.stderr
    # A new member can use crm at once.
    team.run(None, "team", "add", team.dave, "--role", "member")
    assert team.run("dave", "add", "Dave's client", "-q").stdout.strip() == "1"


def test_a_member_may_not_set_up_the_team_or_add_people(book):
    _one_line_error(book.run("bob", "team", "add", "mallory_x", "--role", "admin", ok=False),
                    "cannot add mallory_x")


# --- the database refuses: probes as each role through psycopg -----------------------------


def test_a_member_cannot_change_or_take_another_members_client_in_psql(book):
    shared = book.ids["shared"]
    with book.connect("bob") as bob:
        assert bob.execute("UPDATE clients SET name = 'hijacked' WHERE id = %s",
                           (shared,)).rowcount == 0
        assert bob.execute("UPDATE clients SET owner = %s WHERE id = %s",
                           (book.bob, shared)).rowcount == 0
        assert bob.execute("DELETE FROM clients WHERE id = %s", (shared,)).rowcount == 0
        import psycopg

        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            bob.execute("INSERT INTO interactions (client_id, at, created_at) "
                        "VALUES (%s, '2026-01-01', '2026-01-01')", (shared,))
    with book.connect("dave") as admin:
        assert admin.execute("SELECT name, owner FROM clients WHERE id = %s",
                             (shared,)).fetchone() == ("Alice Shared", book.alice)


def test_a_member_cannot_see_another_members_private_client_or_its_records(book):
    secret = book.ids["secret"]
    with book.connect("bob") as bob:
        seen = {r[0] for r in bob.execute("SELECT id FROM clients")}
        assert seen == {book.ids["shared"], book.ids["open"]}
        assert bob.execute("SELECT count(*) FROM interactions WHERE client_id = %s",
                           (secret,)).fetchone()[0] == 0
        assert bob.execute("SELECT count(*) FROM search_index WHERE client_id = %s",
                           (secret,)).fetchone()[0] == 0
    with book.connect("carol") as carol:
        assert secret not in {r[0] for r in carol.execute("SELECT id FROM clients")}
    with book.connect("alice") as alice:
        assert alice.execute("SELECT owner, private FROM clients WHERE id = %s",
                             (secret,)).fetchone() == (book.alice, 1)
    with book.connect("dave") as admin:
        assert admin.execute("SELECT count(*) FROM interactions WHERE client_id = %s",
                             (secret,)).fetchone()[0] == 1


def test_nobody_but_an_admin_rewrites_the_audit_trail(book):
    import psycopg

    with book.connect("dave") as admin:
        before = admin.execute("SELECT count(*), (SELECT count(*) FROM change_rows) "
                               "FROM changes").fetchone()
        alices = admin.execute("SELECT min(id) FROM changes WHERE role = %s",
                               (book.alice,)).fetchone()[0]
    for who in ("bob", "alice", "carol"):
        with book.connect(who) as conn:
            try:
                assert conn.execute("DELETE FROM change_rows").rowcount == 0
                assert conn.execute("DELETE FROM changes WHERE role <> current_user").rowcount == 0
                assert conn.execute("UPDATE changes SET summary = 'x', undone_by = NULL WHERE "
                                    "role <> current_user").rowcount == 0
            except psycopg.errors.InsufficientPrivilege:
                assert who == "carol"  # read-only: no DELETE or UPDATE at all
    with book.connect("alice") as alice:
        # Not even one's own changes that recorded rows.
        assert alice.execute("DELETE FROM changes WHERE id = %s", (alices,)).rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            alice.execute("INSERT INTO changes (at, command, role) VALUES ('x', 'forged', %s)",
                          (book.bob,))
    with book.connect("dave") as admin:
        assert admin.execute("SELECT count(*), (SELECT count(*) FROM change_rows) "
                             "FROM changes").fetchone() == before


def test_a_read_only_member_inserts_nothing(book):
    import psycopg

    with book.connect("carol") as carol:
        assert carol.execute("SELECT count(*) FROM clients").fetchone()[0] == 2
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            carol.execute("INSERT INTO clients (name, created_at, updated_at) "
                          "VALUES ('x', 'y', 'z')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            carol.execute("UPDATE clients SET name = 'x'")


def test_a_member_changes_own_and_unowned_clients_and_hands_over_only_to_the_team(book):
    import psycopg

    with book.connect("bob") as bob:
        assert bob.execute("UPDATE clients SET notes = 'mine now' WHERE id = %s",
                           (book.ids["open"],)).rowcount == 1
        bob.execute("INSERT INTO interactions (client_id, at, created_at) VALUES "
                    "(%s, '2026-01-01', '2026-01-01')", (book.ids["open"],))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            bob.execute("UPDATE clients SET owner = 'someone_outside' WHERE id = %s",
                        (book.ids["open"],))
        assert bob.execute("UPDATE clients SET owner = %s WHERE id = %s",
                           (book.alice, book.ids["open"])).rowcount == 1
        assert bob.execute("UPDATE clients SET notes = 'too late' WHERE id = %s",
                           (book.ids["open"],)).rowcount == 0


def test_an_admin_does_everything(book):
    with book.connect("dave") as admin:
        assert admin.execute("SELECT count(*) FROM clients").fetchone()[0] == 3
        assert admin.execute("UPDATE clients SET owner = %s WHERE id = %s",
                             (book.bob, book.ids["secret"])).rowcount == 1
        assert admin.execute("UPDATE changes SET summary = summary").rowcount > 0
    book.run("dave", "edit", f"#{book.ids['shared']}", "--email", "a@shared.test")
    book.run("dave", "log", f"#{book.ids['shared']}", "an admin's call")


# --- crm's own refusals: one line, nothing written ------------------------------------------


def test_a_members_refused_write_is_one_line_naming_the_owner(book, snapshot):
    before = snapshot(book.url)
    shared = f"#{book.ids['shared']}"
    expected = f"permission denied: client {book.ids['shared']} belongs to {book.alice}; ask " \
               f"{book.alice} or an admin"
    for args in (["edit", shared, "--email", "x@bob.test"], ["log", shared, "hello"],
                 ["tag", shared, "vip"], ["stage", shared, "lead"], ["rm", shared],
                 ["edit", shared, "--owner", book.bob],
                 ["deal", shared, "100", "--status", "won"]):
        _one_line_error(book.run("bob", *args, ok=False), expected)
    _one_line_error(book.run("carol", "log", f"#{book.ids['open']}", "hi", ok=False),
                    f"permission denied: {book.carol} is a read-only member of this book")
    assert snapshot(book.url) == before
    # What they may not see does not exist for them.
    result = book.run("bob", "show", f"#{book.ids['secret']}", ok=False)
    assert result.exit_code == 1 and "no client matches" in result.stderr
    assert {r["name"] for r in book.json("bob", "ls")} == {"Alice Shared", "Nobody's"}
    assert {r["name"] for r in book.json("carol", "ls")} == {"Alice Shared", "Nobody's"}
    assert book.json("bob", "search", "private") == []


def test_hand_over_by_the_owner_then_the_new_owner_has_it(book):
    shared = f"#{book.ids['shared']}"
    book.run("alice", "edit", shared, "--owner", book.bob)
    book.run("bob", "log", shared, "took it over")
    _one_line_error(book.run("alice", "edit", shared, "--email", "a@b.test", ok=False),
                    f"belongs to {book.bob}")
    card = book.json("bob", "show", shared)
    assert card["client"]["owner"] == book.bob


def test_private_and_public_on_the_card_and_in_export(book):
    secret = f"#{book.ids['secret']}"
    assert "private" in book.run("alice", "show", secret).stdout
    book.run("alice", "edit", secret, "--public")
    assert book.ids["secret"] in {r["id"] for r in book.json("bob", "ls")}
    rows = {r["id"]: r for r in book.json("dave", "export", "clients")}
    assert rows[book.ids["secret"]]["private"] == 0
    book.run("alice", "edit", secret, "--private")
    assert book.ids["secret"] not in {r["id"] for r in book.json("bob", "ls")}


# --- who did what ---------------------------------------------------------------------------


def test_history_shows_the_role_of_each_change(book):
    records = book.json("dave", "history")
    by = {(r["command"], r["summary"].split(" ", 3)[-1]): r["by"] for r in records}
    assert by[("add", "Alice Shared")] == book.alice
    assert by[("add", "Nobody's")] == book.bob
    table = book.run("dave", "history", "--limit", "2").stdout
    assert table.splitlines()[0].split()[:3] == ["change", "at", "by"]
    assert book.alice in table


def test_undo_is_your_own_unless_you_are_an_admin(book):
    bobs = book.json("bob", "undo", "--list")
    assert {r["by"] for r in bobs} == {book.bob}
    # alice's first change: adding the client bob sees (her others are to her private one)
    alices_last = min(r["change_id"] for r in book.json("alice", "undo", "--list"))
    _one_line_error(book.run("bob", "undo", str(alices_last), ok=False),
                    f"permission denied: change {alices_last} was made by {book.alice}; only "
                    f"{book.alice} or an admin can undo it")
    # bob's `crm undo` is his own last change, though alice's is newer.
    assert "undid change" in book.run("bob", "undo").stderr
    names = {r["name"] for r in book.json("dave", "ls")}
    assert "Nobody's" not in names
    # The database refuses it too: bob cannot mark alice's change undone.
    with book.connect("bob") as bob:
        assert bob.execute("UPDATE changes SET undone_by = id WHERE id = %s",
                           (alices_last,)).rowcount == 0
    # An admin may undo anyone's.
    done = book.run("dave", "undo", str(alices_last))
    assert f"undid change {alices_last}" in done.stderr
    [undo] = [r for r in book.json("dave", "history", "--limit", "1")]
    assert undo["by"] == book.dave and undo["undo_of"] == alices_last


@pytest.mark.sqlite_only
def test_history_on_sqlite_has_no_by_column(crm):
    crm("add", "Acme")
    assert [r["by"] for r in crm.json("history")] == [None]
    assert crm("history").stdout.splitlines()[0].split()[:3] == ["change", "at", "command"]
