"""crm due: ordering, windows, filters, formats and silence when nothing is due."""

from __future__ import annotations

import pytest

from crmcli.services.due import ROW_KEYS, compute_due


@pytest.fixture
def book(crm, tmp_path):
    """Two owners, follow-ups around today (2026-11-22) and two clients gone quiet."""
    (tmp_path / "config.yaml").write_text("timezone: UTC\n")
    crm("add", "Acme", "--owner", "alex", "--tag", "vip")
    crm("add", "Beta", "--owner", "sam")
    crm("add", "Gamma", "--owner", "alex")
    crm("add", "Delta", "--owner", "sam", "--tag", "vip")
    crm("followup", "Acme", "2026-11-20", "two days late")       # 1
    crm("followup", "Beta", "2026-11-12", "ten days late")       # 2
    crm("followup", "Gamma", "2026-11-22", "due today")          # 3
    crm("followup", "Acme", "2026-11-25", "in three days")       # 4
    crm("followup", "Beta", "2026-11-29", "in a week")           # 5
    crm("followup", "Gamma", "2026-12-15", "far away")           # 6
    crm("followup", "Acme", "2026-11-23", "tomorrow")            # 7
    crm("log", "Gamma", "old call", "--at", "2026-09-01")
    crm("log", "Delta", "recent-ish", "--at", "2026-11-05")
    crm("cadence", "Gamma", "30d")          # last 2026-09-01: past the 60d max → overdue
    crm("cadence", "Delta", "2w", "--max", "4w")   # last 2026-11-05: 17 days → 3 days late
    return crm


def test_due_orders_overdue_first_then_today_then_upcoming_then_stale(book):
    rows = book.json("due")
    assert [(r["kind"], r["id"], r["status"], r["days_late"]) for r in rows] == [
        ("followup", 2, "overdue", 10),
        ("followup", 1, "overdue", 2),
        ("followup", 3, "due", 0),
        ("followup", 7, "upcoming", -1),
        ("followup", 4, "upcoming", -3),
        ("followup", 5, "upcoming", -7),
        ("stale", None, "overdue", 52),
        # 3 days past its ideal (still inside its 4w max): late, so overdue as a follow-up
        # would be (issue 14); the card's cadence status still says due
        ("stale", None, "overdue", 3),
    ]
    gamma, delta = rows[-2:]
    assert (gamma["client"], gamma["due"]) == ("Gamma", "2026-10-01")
    assert gamma["last_contact"].startswith("2026-09-01T")
    assert gamma["what"] == "no contact for 82 days (cadence 30d, max 60d)"
    assert (delta["client"], delta["due"], delta["item_key"]) == (
        "Delta", "2026-11-19", "stale:4:2026-11-19")


def test_due_rows_have_exactly_the_agreed_keys(book):
    rows = book.json("due")
    assert all(list(r) == list(ROW_KEYS) for r in rows)
    first = rows[0]
    assert first == {"kind": "followup", "id": 2, "client_id": 2, "client": "Beta",
                     "owner": "sam", "due": "2026-11-12", "due_at": None,
                     "what": "ten days late", "status": "overdue", "days_late": 10,
                     "last_contact": None, "item_key": "followup:2:2026-11-12"}


def test_within_widens_and_narrows_the_window(book):
    ids = lambda rows: [r["id"] for r in rows if r["kind"] == "followup"]  # noqa: E731
    assert ids(book.json("due", "--within", "1d")) == [2, 1, 3, 7]
    assert ids(book.json("due", "--within", "0d")) == [2, 1, 3]
    assert ids(book.json("due", "--within", "4w")) == [2, 1, 3, 7, 4, 5, 6]


def test_within_default_comes_from_the_config(book, tmp_path):
    (tmp_path / "config.yaml").write_text("timezone: UTC\ndue:\n  within: 2d\n")
    assert [r["id"] for r in book.json("due", "--no-stale")] == [2, 1, 3, 7]


def test_overdue_only(book):
    rows = book.json("due", "--overdue")
    # Delta is 3 days past its cadence's ideal: late, so overdue (issue 14)
    assert [(r["kind"], r["client"]) for r in rows] == [
        ("followup", "Beta"), ("followup", "Acme"), ("stale", "Gamma"), ("stale", "Delta")]


def test_no_stale_and_config_stale_false(book, tmp_path):
    assert all(r["kind"] == "followup" for r in book.json("due", "--no-stale"))
    (tmp_path / "config.yaml").write_text("timezone: UTC\ndue:\n  stale: false\n")
    assert all(r["kind"] == "followup" for r in book.json("due"))
    assert any(r["kind"] == "stale" for r in book.json("due", "--stale"))


def test_owner_and_tag_filters(book):
    assert {r["client"] for r in book.json("due", "--owner", "sam")} == {"Beta", "Delta"}
    assert {r["client"] for r in book.json("due", "--owner", "ALEX")} == {"Acme", "Gamma"}
    assert {r["client"] for r in book.json("due", "--tag", "vip")} == {"Acme", "Delta"}
    assert book.json("due", "--owner", "nobody") == []


def test_done_and_archived_clients_drop_out(book):
    book("done", "2")
    book("rm", "Gamma")
    rows = book.json("due")
    assert 2 not in [r["id"] for r in rows]
    assert "Gamma" not in {r["client"] for r in rows}


def test_snoozed_follow_up_leaves_the_window(book):
    book("snooze", "2", "2027-01-10")
    assert 2 not in [r["id"] for r in book.json("due")]


def test_table_shows_client_what_lateness_last_contact_and_id(book):
    out = book("due").stdout
    lines = out.splitlines()
    assert lines[0].split() == ["id", "client", "status", "due", "late", "what", "last",
                                "contact"]
    assert lines[2].split()[:5] == ["2", "Beta", "overdue", "2026-11-12", "10d"]
    assert "never" in lines[2]
    assert any("today" in line and "due today" in line for line in lines)
    gamma = next(line for line in lines if "Gamma" in line and "no contact" in line)
    assert gamma.startswith("-") and "2026-09-01" in gamma and "52d late" in gamma


@pytest.mark.parametrize("fmt", ["table", "csv", "tsv", "markdown", "ndjson"])
def test_nothing_due_prints_nothing_and_exits_zero(crm, fmt):
    crm("add", "Acme")
    crm("followup", "Acme", "2027-06-01", "far away")
    result = crm("due", "--format", fmt)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == ""


def test_nothing_due_in_json_is_an_empty_array(crm, store):  # store: an empty book
    result = crm("due", "--json")
    assert result.stdout == "[]\n"


def test_due_on_a_fresh_database_prints_nothing(crm, store):  # store: an empty book
    assert crm("due").stdout == ""


def test_csv_output_has_the_row_keys_as_header(book):
    out = book("due", "--format", "csv").stdout.splitlines()
    assert out[0] == ",".join(ROW_KEYS)
    assert out[1].startswith("followup,2,2,Beta,sam,2026-11-12,")


def test_mail_options_without_email_are_usage_errors(crm, db_path, snapshot):
    crm("add", "Acme")
    before = snapshot(db_path)
    for flag in ("--dry-run", "--force", "--sendmail"):
        result = crm("due", flag, ok=False)
        assert result.exit_code == 2
        assert "go with --email" in result.stderr
    assert snapshot(db_path) == before


def test_bad_within_is_rejected(crm, db_path, snapshot):
    crm("add", "Acme")
    before = snapshot(db_path)
    result = crm("due", "--within", "soonish", ok=False)
    assert result.exit_code == 1
    assert "--within 'soonish'" in result.stderr
    assert snapshot(db_path) == before


def test_compute_due_directly_on_the_store(store):
    from crmcli.config import Config

    acme = store.clients.add("Acme", owner="alex")
    store.followups.add(acme, store_date("2026-11-21"), "call")
    store.interactions.log(acme, "talked", at="2026-11-01T09:00:00Z", channel="call",
                           direction="out")
    store.clients.set_cadence(acme, "1w", None)
    rows = compute_due(store, Config())
    assert [(r["kind"], r["status"], r["days_late"]) for r in rows] == [
        ("followup", "overdue", 1), ("stale", "overdue", 14)]
    assert rows[0]["last_contact"] == "2026-11-01T09:00:00Z"
    assert compute_due(store, Config(), stale=False, overdue_only=True)[0]["kind"] == "followup"


def store_date(text):
    from datetime import date

    return date.fromisoformat(text)


def test_summary_counts_agree_with_the_due_rows(store):
    from crmcli.config import Config
    from crmcli.services.due import due_counts

    a = store.clients.add("Acme")
    b = store.clients.add("Beta")
    gone = store.clients.add("Gone")
    for client, day in ((a, "2026-11-01"), (a, "2026-11-22"), (b, "2026-11-22"),
                        (b, "2026-11-26"), (b, "2026-12-20"), (gone, "2026-11-02")):
        store.followups.add(client, store_date(day), "call")
    store.followups.complete(store.followups.add(a, store_date("2026-11-03"), "done one"))
    store.clients.archive(gone)
    store.clients.set_cadence(b, "1w", None)  # never contacted, added today: not stale yet
    store.clients.set_cadence(a, "1d", None)
    for kwargs in ({}, {"within": "30d"}, {"within": "0"}, {"stale": False}):
        rows = compute_due(store, Config(), **kwargs)
        expected = {s: sum(1 for r in rows if r["status"] == s)
                    for s in ("overdue", "due", "upcoming")}
        assert due_counts(store, Config(), **kwargs) == expected, kwargs


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "America/New_York", "Asia/Kolkata",
                                  "Australia/Lord_Howe", "Pacific/Chatham"])
def test_the_due_list_shows_the_local_day_of_the_last_contact(zone, monkeypatch):
    # dates.local_date_of (one per row of the list) agrees with dates.format_local(iso)[:10].
    from datetime import UTC, datetime, timedelta

    from crmcli import dates

    def local_day(iso, tz=None):
        return dates.local_date_of(iso, tz).isoformat()

    monkeypatch.setattr(dates, "_tz", dates._tz)  # restored after the test
    dates.set_timezone(zone)
    moment = datetime(2026, 3, 7, 0, 0, tzinfo=UTC)
    for _ in range(24 * 4 * 70):  # every quarter hour for ten weeks, DST changes included
        iso = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert local_day(iso) == dates.format_local(iso)[:10], (zone, iso)
        assert local_day(iso, dates.zone()) == local_day(iso)
        moment += timedelta(minutes=15)
    assert local_day("2026-11-22T10:00:00") == dates.format_local("2026-11-22T10:00:00")[:10]
