"""crm db copy: a whole book between any two databases, SQLite and PostgreSQL alike,
checked by exporting both sides."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import connect_book

EXACT = "999999999999999.123456"  # the largest amount crm takes, to the millionth


def fill(crm, book) -> None:
    """A book with what a copy must not lose: CJK text, emoji, exact decimals, tags,
    custom fields, follow-ups with recurrences, an interaction, a deal, an undone change."""
    crm("--db", book, "add", "北京科技有限公司", "--email", "li@example.cn", "--tag", "重要",
        "--tag", "vip", "--set", "区域=华北", "--set", "tier=gold")
    crm("--db", book, "add", "株式会社テスト 🎉", "--company", "한국 회사", "--stage", "lead")
    crm("--db", book, "add", "Scratch")
    crm("--db", book, "log", "1", "打电话讨论续约 ☎️ — 顺利", "-c", "call", "--next", "fri")
    crm("--db", book, "deal", "1", EXACT, "--title", "大单 💰", "--status", "won",
        "--at", "2026-10-01")
    crm("--db", book, "deal", "2", "0.1", "--title", "tiny", "--status", "open")
    crm("--db", book, "followup", "2", "mon", "週次チェック", "--every", "1w")
    crm("--db", book, "followup", "1", "tomorrow", "Send the proposal")
    crm("--db", book, "rm", "3", "--yes")
    crm("--db", book, "undo")


def exported(crm, book, folder) -> dict[str, str]:
    crm("--db", book, "export", "all", "-o", str(folder))
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())}


def everything(crm, book) -> dict:
    return {"ls": crm.json("--db", book, "ls", "--all"),
            "deals": crm.json("--db", book, "deals"),
            "history": crm.json("--db", book, "history"),
            "search": crm.json("--db", book, "search", "续约"),
            "search_ja": crm.json("--db", book, "search", "週次チェック")}


def same_book(crm, tmp_path, a, b) -> None:
    assert exported(crm, a, tmp_path / "a") == exported(crm, b, tmp_path / "b")
    assert everything(crm, a) == everything(crm, b)


@pytest.fixture
def sqlite_book(tmp_path):
    return tmp_path / "solo.db"


def test_sqlite_to_postgres_and_back_loses_nothing(crm, tmp_path, sqlite_book, pg_book):
    fill(crm, sqlite_book)
    result = crm("db", "copy", sqlite_book, pg_book)
    assert "copied" in result.stderr and "3 clients" in result.stderr
    same_book(crm, tmp_path, sqlite_book, pg_book)
    with connect_book(pg_book) as conn:
        assert conn.execute("SELECT amount FROM deals WHERE id = 1").fetchone()[0] == EXACT
    back = tmp_path / "back.db"
    crm("db", "copy", pg_book, back)
    (tmp_path / "a").rename(tmp_path / "first")
    (tmp_path / "b").rename(tmp_path / "second")
    same_book(crm, tmp_path, sqlite_book, back)


def test_the_copy_goes_on_being_written_with_new_ids(crm, sqlite_book, pg_book):
    fill(crm, sqlite_book)
    crm("db", "copy", sqlite_book, pg_book)
    copied = {c["change_id"] for c in crm.json("--db", pg_book, "history")}
    # The sequences moved past the copied ids: new rows get new ones, undo still works.
    assert crm("--db", pg_book, "add", "After", "-q").stdout.strip() == "4"
    crm("--db", pg_book, "log", "4", "new note")
    new = {c["change_id"] for c in crm.json("--db", pg_book, "history")} - copied
    assert len(new) == 2 and min(new) > max(copied)
    crm("--db", pg_book, "undo")
    assert "After" in [c["name"] for c in crm.json("--db", pg_book, "ls", "--all")]
    crm("--db", pg_book, "undo", str(min(new)))
    assert "After" not in [c["name"] for c in crm.json("--db", pg_book, "ls", "--all")]


def test_postgres_to_postgres_and_sqlite_to_sqlite(crm, tmp_path, sqlite_book, pg_server,
                                                   pg_book, request):
    fill(crm, pg_book)
    other = request.getfixturevalue("pg_book_2")
    crm("db", "copy", pg_book, other)
    same_book(crm, tmp_path, pg_book, other)
    fill(crm, sqlite_book)
    copy = tmp_path / "copy.db"
    crm("db", "copy", sqlite_book, copy)
    (tmp_path / "a").rename(tmp_path / "pg_a")
    (tmp_path / "b").rename(tmp_path / "pg_b")
    same_book(crm, tmp_path, sqlite_book, copy)


@pytest.fixture
def pg_book_2(pg_server):
    import os

    import psycopg
    from conftest import _database_url

    name = f"crm_t_{os.getpid()}_copy_target"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
    try:
        yield _database_url(pg_server, name)
    finally:
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_digests_ledger_and_model_fits_are_copied(crm, sqlite_book, pg_book, snapshot):
    fill(crm, sqlite_book)
    with connect_book(sqlite_book) as conn:
        conn.execute("INSERT INTO digests (sent_at, day, transport, recipients, subject, "
                     "item_count) VALUES ('2026-11-20T08:00:00+00:00', '2026-11-20', 'smtp', "
                     "'me@example.com', 'crm: 2 due', 2)")
        conn.execute("INSERT INTO digest_items (digest_id, day, recipient, item_key) "
                     "VALUES (1, '2026-11-20', 'me@example.com', 'followup:1')")
        conn.execute("INSERT INTO model_fits (model, fitted_at, calibration_end, time_unit, "
                     "customers, params) VALUES ('bgnbd', '2026-11-01', '2026-10-31', 'week', "
                     "2, '{\"r\": 0.25}')")
        conn.commit()
    crm("db", "copy", sqlite_book, pg_book)
    with connect_book(pg_book) as conn:
        for table in ("digests", "digest_items", "model_fits", "change_rows", "tags",
                      "stage_changes"):
            with connect_book(sqlite_book) as solo:
                mine = solo.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            assert conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall() == mine, table


def test_a_destination_holding_a_book_is_refused_unless_replace(crm, tmp_path, sqlite_book,
                                                                pg_book, snapshot):
    fill(crm, sqlite_book)
    crm("--db", pg_book, "add", "Already here")
    before = snapshot(pg_book)
    result = crm("db", "copy", sqlite_book, pg_book, ok=False)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "already holds a book" in result.stderr
    assert "--replace" in result.stderr
    assert snapshot(pg_book) == before
    crm("db", "copy", sqlite_book, pg_book, "--replace")
    same_book(crm, tmp_path, sqlite_book, pg_book)
    # and the same the other way, onto a file
    other = tmp_path / "other.db"
    crm("--db", other, "add", "Mine")
    before = snapshot(other)
    assert crm("db", "copy", pg_book, other, ok=False).exit_code == 1
    assert snapshot(other) == before


def test_errors_are_one_line_and_write_nothing(crm, tmp_path, sqlite_book, pg_server,
                                               pg_book, snapshot):
    missing = tmp_path / "nope.db"
    target = tmp_path / "target.db"
    result = crm("db", "copy", missing, target, ok=False)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert f"{missing}: no database here" in result.stderr
    assert not target.exists() and not missing.exists()

    fill(crm, sqlite_book)
    before = snapshot(sqlite_book)
    unreachable = f"postgresql:///crm?host={tmp_path}&user=postgres"
    result = crm("db", "copy", sqlite_book, unreachable, ok=False)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "cannot reach the database server" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(sqlite_book) == before

    result = crm("db", "copy", sqlite_book, sqlite_book, ok=False)
    assert result.exit_code == 2 and "the same book" in result.stderr

    # A failure half-way (a row the server refuses) leaves the destination as it was,
    # and a destination file made for the copy is removed again.
    with connect_book(sqlite_book) as conn:
        conn.execute("UPDATE clients SET name = ? WHERE id = 3", ("nul\x00byte",))
        conn.commit()
    crm("--db", pg_book, "db", "migrate")  # an empty book, as a first crm command leaves it
    empty = snapshot(pg_book)
    result = crm("db", "copy", sqlite_book, pg_book, ok=False)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.stderr
    assert snapshot(pg_book) == empty


def test_copy_runs_in_a_real_process(tmp_path, sqlite_book, pg_book, crm):
    fill(crm, sqlite_book)
    done = subprocess.run([sys.executable, "-m", "crmcli", "db", "copy", str(sqlite_book),
                           pg_book], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(subprocess.run(
        [sys.executable, "-m", "crmcli", "--db", pg_book, "db", "check", "--json"],
        capture_output=True, text=True, timeout=60).stdout)["ok"] is True
