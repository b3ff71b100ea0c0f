"""crm report summary|retention|cohorts|churn|clv|response|nps|funnel|segments and
crm ls --tier through the CLI, in every format."""

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
    rows = crm.json("report", "retention", "--period", "month", "--since", "2026-07-01",
                    "--until", "2026-10-31")
    assert [(r["period"], r["active"], r["new"], r["retained"], r["reactivated"], r["lost"])
            for r in rows] == [("2026-07", 1, 1, 0, 0, 0), ("2026-08", 0, 0, 0, 0, 1),
                               ("2026-09", 1, 1, 0, 0, 0), ("2026-10", 1, 0, 1, 0, 0)]
    assert (rows[1]["retention"], rows[1]["churn"], rows[3]["retention"]) == (0.0, 1.0, 1.0)
    assert list(rows[0]) == ["period", "start", "partial", "active", "previous_active",
                             "retained", "new", "reactivated", "lost", "retention", "churn"]
    assert not any(r["partial"] for r in rows)


def test_retention_table_has_percentages_and_bars(crm, book):
    out = crm("report", "retention", "-p", "month", "--since", "2026-09-01",
              "--until", "2026-10-31").stdout
    line = [ln for ln in out.splitlines() if ln.startswith("2026-10")][0]
    assert "100.0%" in line and "█" * 20 in line


def test_cohorts_csv_is_flat_and_json_has_lists(crm, book):
    out = crm("report", "cohorts", "-p", "month", "--since", "2026-07-01", "--until",
              "2026-10-31", "--format", "csv").stdout
    assert out.splitlines()[:2] == ["cohort,start,partial,size,+0,+1,+2,+3",
                                    "2026-07,2026-07-01,false,1,1.0,0.0,0.0,0.0"]
    rows = crm.json("report", "cohorts", "-p", "month", "--since", "2026-09-01", "--until",
                    "2026-10-31")
    assert rows[0] == {"cohort": "2026-09", "start": "2026-09-01", "partial": False, "size": 1,
                       "active": [1, 1], "retention": [1.0, 1.0]}


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


def test_reports_on_an_empty_database(crm, store):  # store: an empty book
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
    (tmp_path / "config.yaml").write_text("timezone: UTC\nretention:\n  period: month\n")
    rows = crm.json("report", "retention")
    # the default window is 12 months; the quiet months before the first deal are left out
    assert [r["period"] for r in rows] == ["2026-07", "2026-08", "2026-09", "2026-10",
                                           "2026-11"]
    assert [r["period"] for r in crm.json("report", "retention", "-p", "quarter")] == [
        "2026-Q3", "2026-Q4"]


def test_card_shows_lifecycle_and_clv(crm, book):
    card = json.loads(crm("show", "Beta", "--json").stdout, parse_float=Decimal)
    assert card["lifecycle"] == {"status": "at-risk", "last_active": "2026-07-01",
                                 "days_since": 144, "usual_gap_days": None}
    assert card["clv"]["historical"] == 300
    assert crm.json("show", "Gamma")["lifecycle"] == {"status": "never"}
    assert "at-risk: last active 2026-07-01" in crm("show", "Beta").stdout


def test_heat_map_is_coloured_only_on_a_terminal(monkeypatch):
    from crmcli.render.reports import bar, cohort_heatmap, sparkline

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


def test_clv_reads_horizon_as_the_bgnbd_model_does(crm, book):
    assert crm.json("report", "clv", "--horizon", "18 months")["summary"]["horizon_months"] == 18
    assert crm.json("report", "clv", "--horizon", "1 year")["summary"]["horizon_months"] == 12
    result = crm("report", "clv", "--horizon", "30d", ok=False)
    assert (result.exit_code, result.stderr) == (
        2, "crm: error: --horizon '30d': give whole months or years, e.g. 12m, 18m or 2y\n")


# --- response, nps, funnel, segments ------------------------------------------------------
#
# Now is 2026-11-22T10:00:00Z (UTC); the SLA is the default 24 hours. The expected numbers
# are worked out in tests/test_metrics_*.py on the same data; here they are checked through
# the CLI, every field of every row.

EVENT_REPORTS = [["response"], ["response", "--by", "channel"], ["response", "--by", "owner"],
                 ["response", "--by", "month"], ["response", "--kind", "complaint"],
                 ["response", "--awaiting"], ["response", "--kind", "complaint", "--awaiting"],
                 ["nps"], ["nps", "--period", "quarter"], ["funnel"], ["segments"],
                 ["segments", "--tiers"], ["segments", "--clients"]]


def log(crm, client, when, direction, channel="email", kind="note", *extra):
    return crm("log", client, f"{direction} at {when}", "--at", when, f"--{direction}",
               "--channel", channel, "--kind", kind, *extra, "-q").stdout.strip()


@pytest.fixture
def replies(crm):
    """Inbound and outbound messages (see tests/test_metrics_response.py, `book`)."""
    crm("add", "Alpha", "--owner", "alex")
    crm("add", "Beta", "--owner", "sam")
    crm("add", "Gone")
    log(crm, "Alpha", "2026-11-01T09:00Z", "in", "email")   # 24 h
    log(crm, "Alpha", "2026-11-01T12:00Z", "in", "call")    # 21 h
    log(crm, "Alpha", "2026-11-02T09:00Z", "out", "email")
    log(crm, "Alpha", "2026-11-10T10:00Z", "out", "chat")
    log(crm, "Alpha", "2026-11-10T10:00Z", "in", "chat")    # same second: 0 h
    log(crm, "Alpha", "2026-11-20T10:00Z", "in", "email")   # awaiting, 48 h: late
    log(crm, "Beta", "2026-10-05T08:00Z", "out", "call")
    log(crm, "Beta", "2026-10-05T09:00Z", "in", "call")     # 72 h
    log(crm, "Beta", "2026-10-08T09:00Z", "out", "email")
    log(crm, "Beta", "2026-11-22T04:00Z", "in", "email")    # awaiting, 6 h
    log(crm, "Gone", "2026-11-01T00:00Z", "in", "email")
    crm("rm", "Gone")


def resp(count, pending, median, p90, within, key="awaiting"):
    return {"count": count, key: pending, "median_hours": median, "p90_hours": p90,
            "within_sla": within, "sla_hours": 24.0}


BY_EXPECTED = {
    "channel": [{"channel": "call", **resp(2, 0, 46.5, 66.9, 50.0)},
                {"channel": "chat", **resp(1, 0, 0.0, 0.0, 100.0)},
                {"channel": "email", **resp(1, 2, 24.0, 24.0, 50.0)}],
    "owner": [{"owner": "alex", **resp(3, 1, 21.0, 23.4, 75.0)},
              {"owner": "sam", **resp(1, 1, 72.0, 72.0, 0.0)}],
    "MONTH": [{"month": "2026-10", **resp(1, 0, 72.0, 72.0, 0.0)},
              {"month": "2026-11", **resp(3, 2, 21.0, 23.4, 75.0)}],
}


def test_response_json_by_and_window(crm, replies):
    # 0, 21, 24, 72 h: median 22.5, p90 57.6; within 3 of 4 + 1 late awaiting = 60 %
    assert crm.json("report", "response") == [resp(4, 2, 22.5, 57.6, 60.0)]
    for by, expected in BY_EXPECTED.items():
        assert crm.json("report", "response", "--by", by) == expected, by
    assert crm.json("report", "response", "--since", "2026-11-01", "--until", "2026-11-10") == [
        resp(3, 0, 21.0, 23.4, 100.0)]
    assert crm.json("report", "response", "--since", "2026-06-01", "--until", "2026-06-30") == [
        resp(0, 0, None, None, None)]
    assert crm.json("report", "response", "--by", "owner", "--since", "2026-06-01",
                    "--until", "2026-06-30") == []


def test_response_awaiting_list_and_table(crm, replies):
    rows = crm.json("report", "response", "--awaiting")
    assert rows == [
        {"id": 6, "client_id": 1, "client": "Alpha", "owner": "alex", "channel": "email",
         "kind": "note", "at": "2026-11-20T10:00:00Z", "age_hours": 48.0, "age_days": 2.0,
         "summary": "in at 2026-11-20T10:00Z"},
        {"id": 10, "client_id": 2, "client": "Beta", "owner": "sam", "channel": "email",
         "kind": "note", "at": "2026-11-22T04:00:00Z", "age_hours": 6.0, "age_days": 0.25,
         "summary": "in at 2026-11-22T04:00Z"}]
    assert crm.json("report", "response", "--awaiting", "-n", "1") == rows[:1]
    assert crm.json("report", "response", "--awaiting", "--since", "2026-11-21") == rows[1:]
    out = crm("report", "response").stdout
    lines = out.splitlines()
    assert lines[0] == "Response time (inbound to the next outbound reply; SLA 24 h)"
    assert lines[1].split() == ["count", "awaiting", "median_hours", "p90_hours", "within_sla",
                                "sla_hours"]
    assert lines[3].split() == ["4", "2", "22.5", "57.6", "60.0%", "24"]
    assert "awaiting reply: oldest 2 of 2 (--awaiting lists all)" in out
    assert "Alpha" in out and "in at 2026-11-22T04:00Z" in out


@pytest.fixture
def complaints(crm):
    crm("add", "Alpha", "--owner", "alex")
    crm("add", "Beta", "--owner", "sam")
    c1 = log(crm, "Alpha", "2026-11-03T10:00Z", "in", "call", "complaint")
    crm("resolve", c1, "--at", "2026-11-04T16:00Z")           # 30 h
    c2 = log(crm, "Beta", "2026-11-05T10:00Z", "out", "email", "complaint")
    crm("resolve", c2, "--at", "2026-11-05T22:00Z")           # 12 h
    log(crm, "Beta", "2026-11-21T10:00Z", "in", "email", "complaint")  # open 24 h
    log(crm, "Alpha", "2026-11-15T10:00Z", "in", "call", "complaint")  # open 168 h: late


def test_complaint_handling_time_json(crm, complaints):
    # 12, 30 h: median 21, p90 28.2; within 1 of 2 resolved + 1 late = 33.3 %, unrounded
    assert crm.json("report", "response", "--kind", "complaint") == [
        resp(2, 2, 21.0, pytest.approx(28.2, abs=1e-12), 100 / 3, key="unresolved")]
    assert crm.json("report", "response", "--kind", "Complaint", "--by", "owner") == [
        {"owner": "alex", **resp(1, 1, 30.0, 30.0, 0.0, key="unresolved")},
        {"owner": "sam", **resp(1, 1, 12.0, 12.0, 100.0, key="unresolved")}]
    out = crm("report", "response", "--kind", "complaint", "--by", "owner").stdout
    assert out.startswith("Complaint handling time (complaint to resolution; SLA 24 h) by owner\n")
    assert "unresolved complaints: oldest 2 of 2 (--awaiting lists all)" in out
    rows = crm.json("report", "response", "--kind", "complaint", "--awaiting")
    assert [(r["id"], r["client"], r["kind"], r["age_hours"], r["age_days"]) for r in rows] == [
        (4, "Alpha", "complaint", 168.0, 7.0), (3, "Beta", "complaint", 24.0, 1.0)]
    # the complaints are inbound messages too: 11-03 and 11-15 (Alpha) and 11-21 (Beta)
    # have no outbound after them, except Beta's outbound complaint on 11-05 ... which
    # is before 11-21: all three await a reply
    assert crm.json("report", "response") == [resp(0, 3, None, None, 0.0)]


@pytest.fixture
def scores(crm):
    for name in ("A", "B", "C", "D", "Gone"):
        crm("add", name)
    crm("log", "A", "meh", "--kind", "feedback", "--at", "2026-03-01T10:00Z", "--score", "3")
    crm("log", "A", "great", "--kind", "feedback", "--at", "2026-10-01T10:00Z", "--score", "10")
    crm("log", "B", "ok", "--kind", "feedback", "--at", "2026-10-05T10:00Z", "--score", "8")
    crm("log", "B", "bad", "--at", "2026-10-05T10:00Z", "--score", "6")
    crm("log", "C", "good", "--at", "2026-11-10T10:00Z", "--score", "9")
    crm("log", "D", "fine", "--at", "2026-02-01T10:00Z", "--score", "7")
    crm("log", "Gone", "awful", "--at", "2026-10-01T10:00Z", "--score", "0")
    crm("rm", "Gone")


def nps_row(period, n, p, pa, d, p_pct, pa_pct, d_pct, value):
    return {"period": period, "responses": n, "promoters": p, "passives": pa,
            "detractors": d, "promoters_pct": p_pct, "passives_pct": pa_pct,
            "detractors_pct": d_pct, "nps": value}


def test_nps_json(crm, scores):
    # latest per client: A 10, B 6 (the later of two at the same second), C 9, D 7
    assert crm.json("report", "nps") == [nps_row("all", 4, 2, 1, 1, 50.0, 25.0, 25.0, 25.0)]
    assert crm.json("report", "nps", "--period", "quarter", "--since", "2026-01-01") == [
        nps_row("2026-Q1", 2, 0, 1, 1, 0.0, 50.0, 50.0, -50.0),
        nps_row("2026-Q2", 0, 0, 0, 0, None, None, None, None),
        nps_row("2026-Q3", 0, 0, 0, 0, None, None, None, None),
        nps_row("2026-Q4", 3, 2, 0, 1, 200 / 3, 0.0, 100 / 3, 100 / 3)]
    assert crm.json("report", "nps", "--period", "month", "--since", "2026-10-01",
                    "--until", "2026-11-30") == [
        nps_row("2026-10", 2, 1, 0, 1, 50.0, 0.0, 50.0, 0.0),
        nps_row("2026-11", 1, 1, 0, 0, 100.0, 0.0, 0.0, 100.0)]
    assert crm.json("report", "nps", "--since", "2026-10-02", "--until", "2026-10-05") == [
        nps_row("2026-10-02..2026-10-05", 1, 0, 0, 1, 0.0, 0.0, 100.0, -100.0)]
    assert len(crm.json("report", "nps", "--period", "year")) == 5


def test_nps_table_draws_a_trend(crm, scores):
    out = crm("report", "nps", "--period", "quarter", "--since", "2026-01-01").stdout
    q1 = [ln for ln in out.splitlines() if ln.startswith("2026-Q1")][0]
    q4 = [ln for ln in out.splitlines() if ln.startswith("2026-Q4")][0]
    assert q1.endswith("-" + "█" * 10) and q4.endswith("█" * 7)   # -50 and 33.3 of 100


@pytest.fixture
def pipeline(crm, monkeypatch):
    """Stage moves at their own times (CRM_NOW moved along), as in test_metrics_funnel."""
    def at(when):
        monkeypatch.setenv("CRM_NOW", f"2026-{when}T09:00:00+00:00")

    at("01-01")
    for name, stage in (("A", "lead"), ("B", "lead"), ("C", "lead"), ("D", "lead"),
                        ("G", "lost"), ("F", "lead")):
        crm("add", name, "--stage", stage)
    crm("add", "E")
    for when, name, stage in (("01-02", "F", "won"), ("01-05", "B", "qualified"),
                              ("01-09", "B", "lost"), ("01-11", "A", "qualified"),
                              ("01-21", "C", "proposal"), ("01-31", "A", "proposal"),
                              ("02-10", "A", "won")):
        at(when)
        crm("stage", name, stage)
    crm("rm", "F")
    monkeypatch.setenv("CRM_NOW", "2026-11-22T10:00:00+00:00")


def test_funnel_json(crm, pipeline):
    keys = ["stage", "reached", "conversion", "in_stage", "median_days", "won", "lost",
            "win_rate"]
    assert crm.json("report", "funnel") == [dict(zip(keys, row, strict=True)) for row in [
        ("lead", 4, 75.0, 1, 10.0, 1, 1, 50.0),
        ("qualified", 3, 200 / 3, 0, 12.0, 1, 1, 50.0),
        ("proposal", 2, 50.0, 1, 10.0, 1, 0, 100.0),
        ("negotiation", 1, 100.0, 0, None, 1, 0, 100.0),
        ("won", 1, None, 1, None, 1, 0, 100.0),
        ("lost", 2, None, 2, None, None, None, None)]]


def test_funnel_table_draws_bars(crm, pipeline):
    lines = crm("report", "funnel").stdout.splitlines()
    assert lines[0] == "Pipeline funnel"
    assert lines[3].startswith("lead") and lines[3].endswith("█" * 20)
    assert lines[7].startswith("won") and lines[7].endswith("█" * 5)   # 1 of 4


def test_funnel_until_is_the_funnel_as_it_stood_then(crm, pipeline):
    # at the end of 01-10: A, C, D leads, B lost on 01-09 (after qualified on 01-05), G lost
    # from the start, F (archived) left out; B's lead stay (4 days) is the only one complete
    rows = crm.json("report", "funnel", "--until", "2026-01-10")
    assert rows[0] == {"stage": "lead", "reached": 4, "conversion": 25.0, "in_stage": 3,
                       "median_days": 4.0, "won": 0, "lost": 1, "win_rate": 0.0}
    assert rows[-1]["stage"] == "lost" and (rows[-1]["reached"], rows[-1]["in_stage"]) == (2, 2)
    title = crm("report", "funnel", "--until", "2026-01-10").stdout.splitlines()[0]
    assert title == ("Pipeline funnel of the clients who entered it ever..2026-01-10, as at "
                     "the end of 2026-01-10")


def test_funnel_window_the_wrong_way_round_is_a_usage_error(crm, pipeline):
    result = crm("report", "funnel", "--since", "2026-03-01", "--until", "2026-02-01", ok=False)
    assert result.exit_code == 2
    assert result.stderr == "crm: error: --since '2026-03-01' is not before --until '2026-02-01'\n"
    assert result.stdout == ""


@pytest.fixture
def revenue(crm):
    """As tests/test_metrics_segments.py, `book`: clients 1-8 are A..H."""
    for name in "ABCDEFGH":
        crm("add", f"Client {name}", "--owner", "alex" if name < "D" else "sam")
    for name, amount, when, *extra in (
            ("A", "100", "2026-11-21T23:00Z"), ("A", "200", "2026-10-01"),
            ("A", "300", "2026-06-01"), ("B", "1000", "2026-11-01"),
            ("C", "50", "2026-04-01"), ("C", "50.00", "2026-05-01"),
            ("D", "250", "2026-09-01"), ("D", "250", "2026-09-15"), ("D", "100", "2026-10-22"),
            ("E", "40", "2025-12-01"), ("E", "9999", "2026-11-01", "--status", "open"),
            ("F", "700", "2026-11-01", "--status", "open"), ("G", "5000", "2026-11-01"),
            ("H", "700", "2026-11-01", "--currency", "EUR")):
        crm("deal", f"Client {name}", amount, "--at", when, *extra)
    crm("rm", "Client G")


def dec_json(result):
    return json.loads(result.stdout, parse_float=Decimal)



def test_segments_window_takes_its_deals_and_says_so(crm, revenue):
    rows = crm.json("report", "segments", "--clients", "--since", "2026-06-01", "--until",
                    "2026-10-31")
    # as tests/test_metrics_segments.py: A (300 + 200, 30 days) and D (600, 9 days)
    assert [(r["name"], r["recency_days"], r["frequency"], r["rfm"], r["segment"], r["tier"])
            for r in rows] == [("Client D", 9, 3, "444", "Loyal", "A"),
                               ("Client A", 30, 2, "222", "Hibernating", "A")]
    title = crm("report", "segments", "--until", "2026-10-31").stdout.splitlines()[0]
    assert title == "RFM segments (clients with won deals in USD, deals ever..2026-10-31)"


def test_segments_clients_and_tiers_json(crm, revenue):
    result = crm("report", "segments", "--json")
    assert result.stderr == ("crm: note: RFM and tiers in USD only; not counted: 1 won deal "
                             "(700.00 EUR) (amounts are not converted between currencies; "
                             "crm show CLIENT lists a client's revenue in each)\n")
    rows = {r["segment"]: r for r in dec_json(result)}
    assert [(s, r["clients"], r["share"], r["revenue"]) for s, r in rows.items()] == [
        ("Champions", 1, 20, 600), ("Loyal", 1, 20, 600), ("Potential loyalists", 1, 20, 1000),
        ("New customers", 0, 0, 0), ("Promising", 0, 0, 0), ("Need attention", 0, 0, 0),
        ("About to sleep", 0, 0, 0), ("Can't lose them", 0, 0, 0),
        ("At risk", 1, 20, Decimal("100.00")), ("Hibernating", 1, 20, 40)]
    assert rows["Loyal"] == {"segment": "Loyal", "clients": 1, "share": 20, "revenue": 600,
                             "avg_recency_days": 31, "avg_frequency": 3,
                             "avg_monetary": Decimal("600.00")}
    assert rows["Promising"]["avg_recency_days"] is None
    rows = dec_json(crm("report", "segments", "--clients", "--json"))
    # by revenue, then id
    assert [(r["client_id"], r["name"], r["owner"], r["recency_days"], r["frequency"],
             r["monetary"], r["r"], r["f"], r["m"], r["rfm"], r["segment"], r["tier"])
            for r in rows] == [
        (2, "Client B", "alex", 21, 1, 1000, 4, 2, 5, "425", "Potential loyalists", "A"),
        (1, "Client A", "alex", 1, 3, 600, 5, 5, 4, "554", "Champions", "A"),
        (4, "Client D", "sam", 31, 3, 600, 3, 5, 4, "354", "Loyal", "A"),
        (3, "Client C", "alex", 205, 2, Decimal("100.00"), 2, 3, 2, "232", "At risk", "B"),
        (5, "Client E", "sam", 356, 1, 40, 1, 2, 1, "121", "Hibernating", "C")]
    assert [r["client_id"] for r in crm.json("report", "segments", "--clients", "--tier", "a")
            ] == [2, 1, 4]
    assert [r["client_id"] for r in crm.json("report", "segments", "--clients", "--segment",
                                             "at risk")] == [3]
    assert [r["client_id"] for r in crm.json("report", "segments", "--clients", "-n", "2")
            ] == [2, 1]
    # shares unrounded in JSON: 3/7, 2200/2340, ...
    assert crm.json("report", "segments", "--tiers") == [
        {"tier": "A", "clients": 3, "client_share": 300 / 7, "revenue": 2200,
         "revenue_share": float(100 * Decimal(2200) / Decimal(2340))},
        {"tier": "B", "clients": 1, "client_share": 100 / 7, "revenue": 100.00,
         "revenue_share": float(100 * Decimal(100) / Decimal(2340))},
        {"tier": "C", "clients": 3, "client_share": 300 / 7, "revenue": 40,
         "revenue_share": float(100 * Decimal(40) / Decimal(2340))}]


def test_ls_tier_and_the_card_use_the_tier(crm, revenue):
    assert [c["name"] for c in crm.json("ls", "--tier", "A")] == ["Client A", "Client B",
                                                                  "Client D"]
    assert [c["name"] for c in crm.json("ls", "--tier", "b")] == ["Client C"]
    assert [c["name"] for c in crm.json("ls", "--tier", "C", "--sort", "id")] == [
        "Client E", "Client F", "Client H"]
    assert [c["name"] for c in crm.json("ls", "--tier", "A", "--owner", "sam")] == ["Client D"]
    assert crm.json("show", "Client C")["tier"] == "B"
    assert crm.json("show", "Client F")["tier"] == "C"


def test_event_reports_on_an_empty_database(crm, store):  # store: an empty book
    assert crm.json("report", "response") == [resp(0, 0, None, None, None)]
    assert crm.json("report", "response", "--kind", "complaint") == [
        resp(0, 0, None, None, None, key="unresolved")]
    for args in (["--by", "month"], ["--by", "channel"], ["--awaiting"]):
        assert crm.json("report", "response", *args) == []
    assert crm.json("report", "nps") == [nps_row("all", 0, 0, 0, 0, None, None, None, None)]
    assert [r["reached"] for r in crm.json("report", "funnel")] == [0] * 6
    assert [r["clients"] for r in crm.json("report", "segments")] == [0] * 10
    assert crm.json("report", "segments", "--tiers") == [
        {"tier": t, "clients": 0, "client_share": None, "revenue": 0, "revenue_share": None}
        for t in "ABC"]
    assert crm.json("report", "segments", "--clients") == []
    assert crm.json("ls", "--tier", "A") == []


@pytest.fixture
def everything(db_path):
    """A bit of everything, written through the store (quicker than a CLI call each)."""
    from crmcli.config import Config
    from crmcli.store import CrmStore

    with CrmStore(db_path, Config()) as s:
        a = s.clients.add("Alpha", owner="alex", stage="lead")
        b = s.clients.add("Beta", owner="sam")
        for cid, at, direction, channel in (
                (a, "2026-11-01T09:00:00Z", "in", "email"), (a, "2026-11-02T09:00:00Z", "out",
                                                             "email"),
                (a, "2026-11-20T10:00:00Z", "in", "call"), (b, "2026-10-05T09:00:00Z", "in",
                                                            "chat"),
                (b, "2026-10-08T09:00:00Z", "out", "email")):
            s.interactions.log(cid, f"{direction} {at}", at=at, direction=direction,
                               channel=channel)
        s.interactions.log(a, "nice", at="2026-11-03T10:00:00Z", score=9)
        s.interactions.log(b, "meh", at="2026-11-03T10:00:00Z", score=5, direction="in")
        done = s.interactions.log(b, "late", at="2026-11-03T10:00:00Z", kind="complaint",
                                  direction="in")["interaction_id"]
        s.interactions.resolve(done, "2026-11-03T12:00:00Z")
        s.interactions.log(b, "wrong", at="2026-11-04T10:00:00Z", kind="complaint",
                           direction="in")
        s.clients.set_stage(a, "qualified", at="2026-11-22T10:00:00Z")
        s.deals.add(a, "1200.50", at="2026-09-10T00:00:00Z")
        s.deals.add(b, "300", at="2026-07-01T00:00:00Z")


@pytest.mark.parametrize("args", EVENT_REPORTS, ids=[" ".join(a) for a in EVENT_REPORTS])
def test_every_event_report_in_every_format(crm, everything, args):
    rows = crm.json("report", *args)
    assert rows and all(isinstance(r, dict) for r in rows)
    for fmt in FORMATS:   # one book, every format (a book per format is slow to build)
        out = crm("report", *args, "--format", fmt).stdout
        assert out.strip() and "\x1b[" not in out, fmt
        if fmt == "json":
            assert json.loads(out) == rows
        elif fmt == "ndjson":
            assert [json.loads(line) for line in out.splitlines()] == rows
        elif fmt in ("csv", "tsv"):
            table = list(csv.reader(io.StringIO(out), delimiter="\t" if fmt == "tsv" else ","))
            assert table[0] == list(rows[0]) and len(table) == len(rows) + 1
        elif fmt == "markdown":
            assert "| ---" in out
        else:
            assert str(rows[0][next(iter(rows[0]))]) in out


@pytest.mark.parametrize("args,code,text", [
    (["response", "--by", "day"], 2, "--by 'day': must be one of channel, owner, month"),
    (["response", "--kind", "complaints"], 2, "--kind 'complaints': must be complaint"),
    (["response", "--since", "someday"], 1, "cannot read 'someday' as a date"),
    (["response", "--since", "2026-05-02", "--until", "2026-05-01"], 2,
     "--since '2026-05-02' is not before --until '2026-05-01'"),
    (["response", "--awaiting", "--by", "owner"], 2, "--by groups the report, --awaiting"),
    (["nps", "--period", "week"], 2, "--period 'week': must be one of month, quarter, year"),
    (["nps", "--period", "month", "--since", "2026-05-02", "--until", "2026-05-01"], 2,
     "is not before --until"),
    (["nps", "--until", "eventually"], 1, "cannot read 'eventually' as a date"),
    (["segments", "--clients", "--segment", "VIPs"], 2, "--segment 'VIPs': must be one of "
                                                        "Champions, Loyal"),
    (["segments", "--clients", "--tier", "D"], 2, "--tier 'D': must be A, B or C"),
    (["segments", "--tier", "A"], 2, "add --clients"),
    (["segments", "--tiers", "--clients"], 2, "--tiers and --clients: choose one"),
])
def test_bad_event_report_options_fail_with_one_line(crm, everything, db_path, snapshot, args,
                                                     code, text):
    before = snapshot(db_path)
    result = crm("report", *args, ok=False)
    assert result.exit_code == code
    assert text in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("crm: error: ") and result.stdout == ""
    assert snapshot(db_path) == before


def test_ls_bad_tier(crm, everything, db_path, snapshot):
    before = snapshot(db_path)
    result = crm("ls", "--tier", "S", ok=False)
    assert (result.exit_code, result.stderr) == (2, "crm: error: --tier 'S': must be A, B or C\n")
    assert snapshot(db_path) == before
