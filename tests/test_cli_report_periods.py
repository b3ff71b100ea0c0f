"""Honest periods: an unfinished period is partial and never churn, quiet periods at the
edges of a window are left out, and an empty window says which --since would show data."""

from __future__ import annotations

import csv
import io
import json

import pytest


@pytest.fixture
def november(crm, monkeypatch):
    """Three clients who bought in November; today is 3 December."""
    for name in ("Ana", "Ben", "Cleo"):
        crm("add", name)
        crm("deal", name, "100", "--at", "2026-11-10")
    monkeypatch.setenv("CRM_NOW", "2026-12-03T10:00:00+00:00")


def test_the_current_month_is_partial_and_not_churn(crm, november):
    rows = crm.json("report", "retention", "--period", "month")
    assert [r["period"] for r in rows] == ["2026-11", "2026-12"]
    dec = rows[-1]
    assert (dec["partial"], dec["previous_active"], dec["active"]) == (True, 3, 0)
    assert (dec["lost"], dec["retention"], dec["churn"]) == (None, None, None)
    assert rows[0]["partial"] is False


def test_the_partial_period_is_marked_in_the_table(crm, november):
    out = crm("report", "retention", "--period", "month").stdout
    [dec] = [ln for ln in out.splitlines() if ln.startswith("2026-12")]
    assert dec.startswith("2026-12*") and "%" not in dec
    assert "2026-12 has not ended" in out
    churn = crm("report", "churn", "--period", "month").stdout
    [dec] = [ln for ln in churn.splitlines() if ln.startswith("2026-12")]
    assert "%" not in dec and "2026-12 has not ended" in churn


def test_partial_in_csv_and_ndjson(crm, november):
    out = crm("report", "retention", "-p", "month", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["period"], r["partial"], r["churn"]) for r in rows] == [
        ("2026-11", "false", ""), ("2026-12", "true", "")]
    lines = crm("report", "churn", "-p", "month", "--format", "ndjson").stdout.splitlines()
    periods = [json.loads(ln) for ln in lines if '"periods"' in ln]
    assert [p["partial"] for p in periods] == [False, True]


def test_cohort_cell_of_an_unfinished_period_is_marked(crm, november):
    [row] = crm.json("report", "cohorts", "-p", "month")
    assert row == {"cohort": "2026-11", "start": "2026-11-01", "partial": True, "size": 3,
                   "active": [3, 0], "retention": [1.0, 0.0]}
    out = crm("report", "cohorts", "-p", "month").stdout
    [line] = [ln for ln in out.splitlines() if ln.startswith("2026-11")]
    assert line.split()[-1] == "0%*"
    assert "2026-12 has not ended" in out


def test_summary_headline_churn_is_the_last_finished_period(crm, november):
    overview = crm.json("report", "summary")["overview"]
    # the default period is a quarter: 2026-Q3 had no buyers, so no churn to speak of
    assert (overview["churn_period"], overview["churn"]) == ("2026-Q3", None)
    overview = json.loads(crm("report", "summary", "--json").stdout)["overview"]
    assert overview["at_risk"] == 0


def test_headline_churn_counts_a_quarter_that_ended(crm, monkeypatch):
    for name in ("Ana", "Ben"):
        crm("add", name)
        crm("deal", name, "100", "--at", "2026-05-10")
    crm("deal", "Ana", "100", "--at", "2026-08-10")
    overview = crm.json("report", "summary")["overview"]
    assert (overview["churn_period"], overview["churn"], overview["lost"],
            overview["previous_active"]) == ("2026-Q3", 0.5, 1, 2)


def test_default_period_is_the_quarter(crm, november):
    rows = crm.json("report", "retention")
    assert [r["period"] for r in rows] == ["2026-Q4"]
    assert rows[0]["partial"] is True and rows[0]["churn"] is None


def test_quiet_periods_before_the_first_activity_are_left_out(crm):
    crm("add", "Old")
    crm("deal", "Old", "100", "--at", "2026-09-15")
    rows = crm.json("report", "cohorts", "-p", "month")
    assert [r["cohort"] for r in rows] == ["2026-09"]
    # October is not quiet (Old was lost then); November has nothing to say
    assert [r["period"] for r in crm.json("report", "retention", "-p", "month")] == [
        "2026-09", "2026-10"]


def test_a_window_with_no_data_says_which_since_would_show_it(crm):
    crm("add", "Old")
    crm("deal", "Old", "100", "--at", "2023-03-15")
    result = crm("report", "cohorts")
    assert result.stdout == ""
    assert result.stderr == ("crm: no won deals from 2025-Q1 to 2026-Q4; the first is on "
                             "2023-03-15: try --since 2023-03-15 (retention.activity: deals)\n")
    assert crm.json("report", "retention", "-p", "month") == []
    shown = crm.json("report", "cohorts", "--since", "2023-03-15")
    assert shown[0]["cohort"] == "2023-Q1" and shown[0]["size"] == 1


def test_an_empty_book_says_nothing_is_recorded(crm, store):
    result = crm("report", "retention")
    assert result.stdout == ""
    assert result.stderr.startswith("crm: no won deals recorded yet")


def test_the_card_headline_status_is_the_lifecycle_one(crm):
    crm("add", "Quiet")
    crm("deal", "Quiet", "100", "--at", "2026-05-01")
    crm("deal", "Quiet", "100", "--at", "2026-07-01")
    lines = crm("show", "Quiet").stdout.splitlines()
    [status] = [ln for ln in lines if ln.strip().startswith("status")]
    assert status.split(None, 1)[1] == ("at-risk: last active 2026-07-01, 144 days ago "
                                        "(usually every 61 days)")
    assert not any(ln.strip().startswith("lifecycle") for ln in lines)


def test_the_card_aligns_wide_labels_by_display_width(crm):
    from crmcli.render.output import display_width

    crm("add", "Wide", "--set", "担当=李")
    lines = crm("show", "Wide").stdout.splitlines()
    [wide] = [ln for ln in lines if "担当" in ln]
    [created] = [ln for ln in lines if ln.strip().startswith("created")]
    # both values start in the same terminal column
    assert display_width(wide[:wide.index("李")]) == created.index(created.split()[1])
