"""crm report summary|retention|cohorts|churn|clv through the CLI, in every format."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest

FORMATS = ["table", "json", "ndjson", "csv", "tsv", "markdown"]
REPORTS = [["summary"], ["retention"], ["cohorts"], ["churn"], ["clv"],
           ["retention", "--period", "quarter"], ["cohorts", "--period", "quarter"]]


@pytest.fixture
def book(crm):
    crm("add", "Acme", "--stage", "won")
    crm("add", "Beta", "--stage", "lead")
    crm("add", "Gamma")
    crm("deal", "Acme", "1200.50", "--at", "2026-09-10")
    crm("deal", "Acme", "99.50", "--at", "2026-10-10")
    crm("deal", "Beta", "300", "--at", "2026-07-01")
    crm("deal", "Beta", "10", "--at", "2026-08-01", "--status", "open")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("args", REPORTS, ids=[" ".join(a) for a in REPORTS])
def test_every_report_in_every_format(crm, book, args, fmt):
    out = crm("report", *args, "--format", fmt).stdout
    assert out.strip()
    assert "\x1b[" not in out  # piped: no colour codes
    if fmt == "json":
        json.loads(out)
    elif fmt == "ndjson":
        assert all(json.loads(line) for line in out.splitlines())
    elif fmt in ("csv", "tsv"):
        rows = list(csv.reader(io.StringIO(out), delimiter="\t" if fmt == "tsv" else ","))
        assert len({len(r) for r in rows}) == 1 and len(rows) > 1
    elif fmt == "markdown":
        assert "| --- |" in out or "| ---" in out


def test_retention_json_fields(crm, book):
    rows = crm.json("report", "retention", "--since", "2026-07-01", "--until", "2026-10-31")
    assert [(r["period"], r["active"], r["new"], r["retained"], r["reactivated"], r["lost"])
            for r in rows] == [("2026-07", 1, 1, 0, 0, 0), ("2026-08", 0, 0, 0, 0, 1),
                               ("2026-09", 1, 1, 0, 0, 0), ("2026-10", 1, 0, 1, 0, 0)]
    assert (rows[1]["retention"], rows[1]["churn"], rows[3]["retention"]) == (0.0, 1.0, 1.0)
    assert list(rows[0]) == ["period", "start", "active", "previous_active", "retained", "new",
                             "reactivated", "lost", "retention", "churn"]


def test_retention_table_has_percentages_and_bars(crm, book):
    out = crm("report", "retention", "--since", "2026-09-01", "--until", "2026-10-31").stdout
    line = [ln for ln in out.splitlines() if ln.startswith("2026-10")][0]
    assert "100%" in line and "█" * 20 in line


def test_cohorts_csv_is_flat_and_json_has_lists(crm, book):
    out = crm("report", "cohorts", "--since", "2026-07-01", "--until", "2026-10-31",
              "--format", "csv").stdout
    assert out.splitlines()[:2] == ["cohort,start,size,+0,+1,+2,+3",
                                    "2026-07,2026-07-01,1,1.0,0.0,0.0,0.0"]
    rows = crm.json("report", "cohorts", "--since", "2026-09-01", "--until", "2026-10-31")
    assert rows[0] == {"cohort": "2026-09", "start": "2026-09-01", "size": 1, "active": [1, 1],
                       "retention": [1.0, 1.0]}


def test_churn_json_sections(crm, book):
    data = json.loads(crm("report", "churn", "--json").stdout, parse_float=Decimal)
    assert set(data) == {"periods", "lifecycle", "at_risk"}
    # Beta's last won deal is Jul 1 (144 days): at-risk with 300 at stake
    assert data["at_risk"] == [{"client_id": 2, "client": "Beta", "owner": None,
                                "last_active": "2026-07-01", "days_since": 144,
                                "usual_gap_days": None, "at_risk_after_days": 90,
                                "revenue_at_stake": 300}]
    assert data["lifecycle"] == {"active": 1, "at-risk": 1, "churned": 0, "never": 1}


def test_churn_ndjson_has_a_section_field(crm, book):
    lines = [json.loads(x) for x in crm("report", "churn", "-f", "ndjson").stdout.splitlines()]
    assert {x["section"] for x in lines} == {"periods", "lifecycle", "at_risk"}


def test_clv_json_is_exact(crm, book):
    data = json.loads(crm("report", "clv", "--json").stdout, parse_float=Decimal)
    assert data["summary"]["revenue"] == Decimal("1600.00")
    assert data["top"][0]["client"] == "Acme" and data["top"][0]["clv"] == Decimal("1300.00")


def test_summary_json(crm, book):
    crm("followup", "Acme", "yesterday", "call back")
    crm("followup", "Beta", "today", "send offer")
    data = json.loads(crm("report", "summary", "--json").stdout, parse_float=Decimal)
    o = data["overview"]
    assert (o["clients"], o["overdue"], o["due_today"], o["at_risk"]) == (3, 1, 1, 1)
    assert o["revenue_12m"] == Decimal("1600.00") and o["revenue_at_stake"] == 300
    assert len(data["revenue_by_month"]) == 12
    assert data["revenue_by_month"][-3] == {"month": "2026-09", "revenue": Decimal("1200.50"),
                                            "deals": 1, "clients": 1}
    assert data["stages"] == [{"stage": "lead", "clients": 1}, {"stage": "won", "clients": 1},
                              {"stage": "(none)", "clients": 1}]
    assert "nps" in o and "response_median_hours" in o


def test_summary_table_draws_bars_and_a_sparkline(crm, book):
    out = crm("report", "summary").stdout
    assert "Won revenue by month" in out and "█" in out
    assert any(ch in out for ch in "▁▂▃▄▅▆▇")


def test_reports_on_an_empty_database(crm):
    for args in REPORTS:
        crm("report", *args)
        json.loads(crm("report", *args, "--json").stdout)


@pytest.mark.parametrize("args,code,text", [
    (["retention", "--period", "week"], 2, "--period 'week': must be one of month, quarter, year"),
    (["cohorts", "--period", "year"], 2, "--period 'year': must be one of month, quarter"),
    (["retention", "--since", "2026-05-01", "--until", "2026-01-01"], 2, "is after --until"),
    (["retention", "--since", "someday"], 1, "someday"),
    (["clv", "--model", "magic"], 2, "--model 'magic': must be historical or bgnbd"),
    (["clv", "--horizon", "soon"], 2, "--horizon 'soon'"),
])
def test_bad_options_fail_with_one_line(crm, book, db_path, snapshot, args, code, text):
    before = snapshot(db_path)
    result = crm("report", *args, ok=False)
    assert result.exit_code == code
    assert text in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert snapshot(db_path) == before


def test_config_period_is_the_default(crm, book, tmp_path):
    (tmp_path / "config.yaml").write_text("timezone: UTC\nretention:\n  period: quarter\n")
    rows = crm.json("report", "retention")
    assert rows[-1]["period"] == "2026-Q4" and len(rows) == 8


def test_card_shows_lifecycle_and_clv(crm, book):
    card = json.loads(crm("show", "Beta", "--json").stdout, parse_float=Decimal)
    assert card["lifecycle"] == {"status": "at-risk", "last_active": "2026-07-01",
                                 "days_since": 144, "usual_gap_days": None}
    assert card["clv"]["historical"] == 300
    assert crm.json("show", "Gamma")["lifecycle"] == {"status": "never"}
    assert "lifecycle" in crm("show", "Beta").stdout


def test_heat_map_is_coloured_only_on_a_terminal(monkeypatch):
    from crmcli.report_render import bar, cohort_heatmap, sparkline

    class Tty(io.StringIO):
        def isatty(self):
            return True

    rows = [{"cohort": "2026-01", "size": 2, "retention": [1.0, 0.5]},
            {"cohort": "2026-02", "size": 0, "retention": [None]}]
    plain = io.StringIO()
    cohort_heatmap(rows, "t", out=plain)
    assert "\x1b[" not in plain.getvalue() and "50%" in plain.getvalue()
    tty = Tty()
    cohort_heatmap(rows, "t", out=tty)
    assert "\x1b[" in tty.getvalue() and "50%" in tty.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    tty = Tty()
    cohort_heatmap(rows, "t", out=tty)
    assert "\x1b[" not in tty.getvalue() and "50%" in tty.getvalue()
    assert bar(1, 2, 10) == "█████" and bar(0, 2) == "" and sparkline([0, 1, None]) == "▁█ "


def test_clv_horizon_defaults_to_the_config_and_the_option_overrides_it(crm, book, tmp_path):
    assert crm.json("report", "clv")["summary"]["horizon_months"] == 12
    (tmp_path / "config.yaml").write_text("timezone: UTC\nclv:\n  horizon_months: 24\n")
    assert crm.json("report", "clv")["summary"]["horizon_months"] == 24
    assert crm.json("report", "clv", "--horizon", "2y")["summary"]["horizon_months"] == 24
    assert crm.json("report", "clv", "--horizon", "6m")["summary"]["horizon_months"] == 6
