"""The store directly: file safety, transactions, the change log, resolution, search."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest
from helpers import connect_book

from crmcli.config import Config
from crmcli.store import (
    SCHEMA_VERSION,
    AmbiguousClient,
    ClientNotFound,
    CrmError,
    CrmStore,
    SchemaTooNew,
    StoreError,
    ValidationError,
)


def test_new_database_is_owner_only_wal_with_foreign_keys(db_path):
    with CrmStore(db_path) as store:
        assert os.stat(db_path).st_mode & 0o777 == 0o600
        assert store.scalar("PRAGMA journal_mode") == "wal"
        assert store.scalar("PRAGMA foreign_keys") == 1
        assert store.scalar("PRAGMA busy_timeout") >= 5000
        assert store.schema_version() == SCHEMA_VERSION


def test_opening_twice_is_idempotent(db_path):
    with CrmStore(db_path) as store:
        store.clients.add("Acme")
    with CrmStore(db_path) as store:
        assert store.backup_path is None
        assert [c["name"] for c in store.clients.list()] == ["Acme"]
        assert len(store.applied_migrations()) == SCHEMA_VERSION


def test_newer_schema_is_refused(db_path):
    with CrmStore(db_path):
        pass
    conn = connect_book(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(SchemaTooNew, match="written by a newer crmcli"):
        CrmStore(db_path)


def test_directory_and_non_sqlite_files_are_refused(tmp_path):
    with pytest.raises(StoreError, match="is a directory"):
        CrmStore(tmp_path)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="not a crm database"):
        CrmStore(junk)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(StoreError, match="an SQLite file but not a crm database"):
        CrmStore(other)


def test_failed_write_rolls_back_everything(store):
    client_id = store.clients.add("Acme", tags=["vip"])
    before = store.query("SELECT * FROM changes")
    with pytest.raises(RuntimeError):
        with store.change("test"):
            store.update("clients", client_id, {"notes": "half done"})
            raise RuntimeError("boom")
    assert store.clients.get(client_id)["notes"] is None
    assert store.query("SELECT * FROM changes") == before


def test_every_write_is_recorded_with_old_and_new_values(store):
    client_id = store.clients.add("Acme", email="a@acme.test", tags=["vip"])
    store.clients.edit(client_id, email="b@acme.test")
    changes = store.query("SELECT id, command, summary, client_id FROM changes ORDER BY id")
    assert [(c["command"], c["client_id"]) for c in changes] == [("add", 1), ("edit", 1)]
    rows = store.query("SELECT tbl, op, old, new FROM change_rows WHERE change_id = ? ORDER BY id",
                       (changes[1]["id"],))
    updates = [(r["tbl"], r["op"], json.loads(r["old"]), json.loads(r["new"])) for r in rows]
    assert updates[0] == ("clients", "update", {"email": "a@acme.test"}, {"email": "b@acme.test"})
    added = store.query("SELECT tbl, op FROM change_rows WHERE change_id = ?",
                        (changes[0]["id"],))
    assert [(r["tbl"], r["op"]) for r in added] == [("clients", "insert"), ("tags", "insert")]


def test_a_change_that_changes_nothing_leaves_no_record(store):
    client_id = store.clients.add("Acme", email="a@acme.test")
    count = store.scalar("SELECT count(*) FROM changes")
    assert store.clients.edit(client_id, email="a@acme.test") is False
    assert store.scalar("SELECT count(*) FROM changes") == count


def test_writes_outside_a_change_are_refused(store):
    with pytest.raises(RuntimeError, match="inside store.change"):
        store.insert("tags", {"client_id": 1, "tag": "x"})


def test_resolve_client_rules(store):
    store.clients.add("Acme East", email="east@acme.test", external_id="E-1")
    store.clients.add("Acme West")
    store.clients.add("王伟")
    assert store.clients.resolve("1")["name"] == "Acme East"
    assert store.clients.resolve("EAST@acme.test")["name"] == "Acme East"
    assert store.clients.resolve("E-1")["name"] == "Acme East"
    assert store.clients.resolve("acme west")["name"] == "Acme West"
    assert store.clients.resolve("West")["name"] == "Acme West"
    assert store.clients.resolve("王")["name"] == "王伟"
    with pytest.raises(AmbiguousClient) as err:
        store.clients.resolve("acme")
    assert [c["id"] for c in err.value.candidates] == [1, 2]
    for ref in ["nobody", "", "99", "%", "_", "a\x00b"]:
        with pytest.raises(ClientNotFound):
            store.clients.resolve(ref)


def test_archived_clients_resolve_only_when_asked_and_say_they_are_archived(store):
    from crmcli.errors import ClientArchived

    client_id = store.clients.add("Acme")
    store.clients.archive(client_id)
    for ref in ("Acme", str(client_id), f"#{client_id}"):
        with pytest.raises(ClientArchived, match="is archived; restore it with `crm unarchive"):
            store.clients.resolve(ref)
    assert store.clients.resolve("Acme", include_archived=True)["id"] == client_id
    assert store.clients.resolve(str(client_id), include_archived=True)["id"] == client_id


def test_purge_deletes_children_and_logs_each_row(store):
    client_id = store.clients.add("Acme", tags=["a", "b"], stage="lead")
    store.contacts.add(client_id, "Jane")
    counts = store.clients.purge(client_id)
    assert counts["tags"] == 2 and counts["contacts"] == 1 and counts["stage_changes"] == 1
    assert store.scalar("SELECT count(*) FROM clients") == 0
    last = store.scalar("SELECT max(id) FROM changes")
    ops = store.query("SELECT tbl, op FROM change_rows WHERE change_id = ?", (last,))
    assert {(r["tbl"], r["op"]) for r in ops} == {
        ("tags", "delete"), ("contacts", "delete"), ("stage_changes", "delete"),
        ("clients", "delete")}


def test_stage_must_be_in_the_configured_pipeline(tmp_path):
    config = Config()
    config.data["pipeline"] = ["cold", "hot"]
    with CrmStore(tmp_path / "p.db", config) as store:
        client_id = store.clients.add("Acme", stage="HOT")
        assert store.clients.get(client_id)["stage"] == "hot"
        with pytest.raises(Exception, match="unknown stage 'lead'"):
            store.clients.set_stage(client_id, "lead")


def test_validation_errors_name_field_and_value(store):
    with pytest.raises(ValidationError) as err:
        store.clients.add("Acme", email="nope")
    assert (err.value.field, err.value.value) == ("email", "nope")
    with pytest.raises(ValidationError, match="is 501 characters long"):
        store.clients.add("x" * 501)


def test_search_index_covers_clients_contacts_and_survives_integrity_check(store):
    client_id = store.clients.add("王伟", company="北京科技")
    store.contacts.add(client_id, "李娜", role="采购")
    assert [r["kind"] for r in store.search.matches("李娜")] == ["contact"]
    assert [r["kind"] for r in store.search.matches("北京")] == ["client"]
    assert store.integrity_check() == []
    assert store.search.rebuild() == 2
    assert [r["kind"] for r in store.search.matches("采购")] == ["contact"]


def test_backup_is_consistent_and_owner_only(store, tmp_path):
    store.clients.add("Acme")
    target = store.backup_to(tmp_path / "backups" / "copy.db")
    assert os.stat(target).st_mode & 0o777 == 0o600
    with CrmStore(target) as copy:
        assert [c["name"] for c in copy.clients.list()] == ["Acme"]
    with pytest.raises(CrmError, match="is the database .*refusing to write over it"):
        store.backup_to(store.path)
