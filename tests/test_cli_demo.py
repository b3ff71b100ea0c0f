"""crm demo: a realistic sample book in a scratch database, never the user's own."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from helpers import connect_book

CJK = {"Chinese": re.compile(r"[\u4e00-\u9fff]"), "Japanese": re.compile(r"[\u3040-\u30ff]"),
       "Korean": re.compile(r"[\uac00-\ud7af]")}


def _scalar(db, sql):
    conn = connect_book(db)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def demo(crm, tmp_path):
    target = tmp_path / "demo.db"
    result = crm("demo", str(target))
    return target, result


def test_demo_builds_a_book_with_every_kind_of_record(demo):
    db, _ = demo
    count = lambda sql: _scalar(db, sql)  # noqa: E731
    assert 35 <= count("SELECT count(*) FROM clients") <= 50
    assert count("SELECT count(*) FROM contacts") > 30
    assert count("SELECT count(*) FROM interactions") > 200
    assert count("SELECT count(DISTINCT channel) FROM interactions") == 6
    assert count("SELECT count(DISTINCT direction) FROM interactions") == 2
    assert count("SELECT count(*) FROM interactions WHERE kind = 'complaint' "
                 "AND resolved_at IS NOT NULL") > 0
    assert count("SELECT count(*) FROM interactions WHERE kind = 'complaint' "
                 "AND resolved_at IS NULL") > 0
    assert count("SELECT count(*) FROM interactions WHERE score IS NOT NULL") > 5
    for status in ("won", "open", "lost"):
        assert count(f"SELECT count(*) FROM deals WHERE status = '{status}'") > 0
    assert count("SELECT count(*) FROM stage_changes") > 40
    assert count("SELECT count(DISTINCT tag) FROM tags") > 4
    assert count("SELECT count(*) FROM followups WHERE done_at IS NOT NULL") > 0
    assert count("SELECT count(*) FROM followups WHERE every IS NOT NULL") >= 2
    assert count("SELECT count(*) FROM clients WHERE archived_at IS NOT NULL") == 1
    assert count("SELECT count(*) FROM search_index") > 200
    # 18+ months of history, relative to CRM_NOW (2026-11-22).
    assert count("SELECT min(at) FROM interactions") < "2025-05-22"
    assert count("SELECT max(at) FROM interactions") <= "2026-11-22T10:00:00Z"
    # The whole build is one undoable change.
    assert count("SELECT count(*) FROM changes") == 1


def test_the_demo_consultant_answers_messages_and_complaints_like_a_real_one(crm, demo):
    """The response report on the demo should look like a business, not a neglected inbox."""
    db, _ = demo
    [reply] = crm.json("--db", db, "report", "response")
    assert reply["count"] > 100
    assert reply["median_hours"] < 24
    assert reply["awaiting"] <= reply["count"] * 0.05
    assert reply["within_sla"] > 50
    [complaints] = crm.json("--db", db, "report", "response", "--kind", "complaint")
    assert 0 < complaints["unresolved"] < complaints["count"] / 4
    open_ones = crm.json("--db", db, "report", "response", "--kind", "complaint", "--awaiting")
    assert open_ones and all(r["age_days"] <= 40 for r in open_ones)


def test_demo_has_chinese_japanese_and_korean_names(demo):
    db, _ = demo
    conn = connect_book(db)
    try:
        names = [r[0] for r in conn.execute("SELECT name || ' ' || company FROM clients")]
    finally:
        conn.close()
    for language, pattern in CJK.items():
        assert any(pattern.search(n) for n in names), language
    assert "佐藤 花子 株式会社さくらデザイン" in names


def test_demo_has_overdue_follow_ups_and_stale_clients(demo, crm):
    db, _ = demo
    rows = crm.json("--db", str(db), "due")
    kinds = {(r["kind"], r["status"]) for r in rows}
    assert ("followup", "overdue") in kinds
    assert ("followup", "due") in kinds
    assert ("followup", "upcoming") in kinds
    assert ("stale", "overdue") in kinds  # late cadence rows read overdue (issue 14)
    assert "Old Mill Furniture" not in {r["client"] for r in rows}  # archived


def test_demo_prints_the_due_list_a_card_the_board_and_the_summary(demo):
    db, result = demo
    out = result.stdout
    assert "crm due" in out and "overdue" in out and "no contact for" in out
    assert "crm show 王伟" in out and "Recent timeline" in out and "Open follow-ups" in out
    assert "crm stage" in out and "negotiation" in out
    summary = out.split("== crm report summary", 1)[1]
    assert "Overview" in summary and "revenue_12m" in summary
    assert "Won revenue by month" in summary and "At-risk clients" in summary
    assert str(db) in result.stderr
    assert "crm --db" in result.stderr


def test_demo_is_deterministic(crm, tmp_path):
    crm("demo", str(tmp_path / "a.db"), "-q")
    crm("demo", str(tmp_path / "b.db"), "-q")
    sql = ("SELECT group_concat(client_id || at || channel || summary, '|') FROM "
           "(SELECT * FROM interactions ORDER BY id)")
    assert _scalar(tmp_path / "a.db", sql) == _scalar(tmp_path / "b.db", sql)


def test_demo_never_touches_the_configured_database(crm, tmp_path, db_path, snapshot):
    result = crm("demo", "-q")
    assert snapshot(db_path) == []
    built = result.stdout.strip()
    assert built.endswith("crm-demo.db") and str(tmp_path / "crm.db") != built
    assert _scalar(built, "SELECT count(*) FROM clients") > 30


def test_demo_refuses_to_overwrite_a_database_without_force(crm, tmp_path, db_path, snapshot):
    crm("add", "Precious Client")
    before = snapshot(db_path)
    result = crm("demo", str(db_path), ok=False)
    assert result.exit_code == 1
    assert "not empty" in result.stderr and "never overwrites" in result.stderr
    assert snapshot(db_path) == before
    result = crm("demo", "--db", str(db_path), ok=False)
    assert result.exit_code == 1
    assert snapshot(db_path) == before


@pytest.mark.sqlite_only  # a file is replaced; a database on a server is not emptied
def test_demo_force_replaces_a_database_file(crm, db_path):
    crm("add", "Precious Client")
    result = crm("demo", str(db_path), ok=False)
    assert "--force" in result.stderr
    crm("demo", str(db_path), "--force", "-q")
    assert _scalar(db_path, "SELECT count(*) FROM clients WHERE name = 'Precious Client'") == 0


def test_demo_honours_the_global_db_option(crm, tmp_path):
    target = tmp_path / "global.db"
    crm("--db", str(target), "demo", "-q")
    assert _scalar(target, "SELECT count(*) FROM clients") > 30


def test_demo_quiet_prints_nothing_but_the_path(tmp_path):
    import subprocess
    import sys

    target = tmp_path / "q.db"
    result = subprocess.run([sys.executable, "-m", "crmcli", "demo", str(target), "-q"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert result.stdout == f"{target}\n" and result.stderr == ""


def test_the_demo_book_fits_the_probabilistic_clv_model(crm, tmp_path):
    crm("demo", str(tmp_path / "demo.db"), "-q")
    result = crm("--db", str(tmp_path / "demo.db"), "report", "clv", "--model", "bgnbd",
                 "--json")
    data = json.loads(result.stdout)
    assert data["customers"] >= 20 and data["repeat_buyers"] >= 20
    assert data["clients"] and all(0 < r["p_alive"] <= 1 for r in data["clients"])


def test_the_demo_summary_reads_like_a_working_business(crm, tmp_path):
    crm("demo", str(tmp_path / "demo.db"), "-q")
    overview = crm.json("--db", str(tmp_path / "demo.db"), "report", "summary")["overview"]
    # the last finished quarter lost some clients, not most of them; replies within hours
    assert 0 < overview["churn"] < 0.5
    assert overview["response_median_hours"] < 24 and overview["nps"] > 0
