"""crm report forecast: the open pipeline weighted by probability by expected close month
(best / commit / pipeline), win rate and cycle length from the deals' stage history; checked
on a book worked out by hand and against an independent computation on a random book."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime
from decimal import Decimal

import pytest


def _book(crm):
    crm("add", "Acme")
    crm("add", "Beta")
    # open deals (today is 2026-11-22)
    crm("deal", "Acme", "1000", "--stage", "qualify", "--close", "2026-11-30")      # 10 %
    crm("deal", "Acme", "2000.50", "--stage", "negotiate", "--close", "2026-12-05")  # 60 %
    crm("deal", "Beta", "400", "--stage", "propose", "--probability", "85",
        "--close", "2026-12-31")                                                     # commit
    crm("deal", "Beta", "300", "--stage", "commit", "--probability", "40",
        "--close", "2027-01-10")                                  # commit: the last stage
    crm("deal", "Beta", "700", "--stage", "propose", "--close", "2026-11-01")        # overdue
    crm("deal", "Beta", "5000", "--stage", "propose", "--currency", "JPY")           # undated
    # closed deals: tracked from an open stage, and one recorded already won
    crm("deal", "Acme", "900", "--stage", "qualify", "--at", "2026-09-01T00:00:00Z")
    crm("stage-deal", "7", "won", "--at", "2026-09-11T00:00:00Z")                    # 10 days
    crm("deal", "Beta", "100", "--stage", "propose", "--at", "2026-10-01T00:00:00Z")
    crm("stage-deal", "8", "lost", "--at", "2026-10-31T00:00:00Z")                   # 30 days
    crm("deal", "Acme", "50", "--at", "2026-11-02")                                  # no cycle


def test_forecast_by_month_category_and_currency_as_worked_out_by_hand(crm):
    _book(crm)
    report = crm.json("report", "forecast")
    months = [(r["month"], r["partial"], r["currency"], r["deals"], r["pipeline"], r["best"],
               r["commit"], r["weighted"]) for r in report["months"]]
    assert months == [
        ("overdue", False, "USD", 1, 700, 0, 0, 210),
        ("2026-11", True, "USD", 1, 1000, 0, 0, 100),
        ("2026-12", False, "USD", 2, 2400.5, 2400.5, 400, 1540.3),
        ("2027-01", False, "USD", 1, 300, 300, 300, 120),
        ("undated", False, "JPY", 1, 5000, 0, 0, 1500)]
    assert report["totals"] == [
        {"currency": "JPY", "deals": 1, "pipeline": 5000, "best": 0, "commit": 0,
         "weighted": 1500},
        {"currency": "USD", "deals": 5, "pipeline": 4400.5, "best": 2700.5, "commit": 700,
         "weighted": 1970.3}]
    assert report["closed"] == [
        {"currency": "USD", "closed": 3, "won": 2, "lost": 1, "win_rate": pytest.approx(200 / 3),
         "won_amount": 950, "avg_cycle_days": 20, "cycles": 2}]
    # the window counts the deals closed in it (by their move into won or lost)
    [oct_] = crm.json("report", "forecast", "--since", "2026-10-01", "--until",
                      "2026-10-31")["closed"]
    assert (oct_["won"], oct_["lost"], oct_["win_rate"], oct_["avg_cycle_days"]) == (0, 1, 0, 30)
    assert crm.json("report", "forecast", "--since", "2027-01-01")["closed"] == []


def test_forecast_thresholds_follow_the_config(crm, tmp_path):
    (tmp_path / "config.yaml").write_text(
        "timezone: UTC\ndeals:\n  commit_probability: 60\n  best_probability: 10\n")
    _book(crm)
    usd = crm.json("report", "forecast")["totals"][1]
    assert (usd["commit"], usd["best"]) == (Decimal("2700.5"), Decimal("4400.5"))


def test_forecast_table_marks_the_month_under_way_and_shows_money_for_people(crm):
    _book(crm)
    out = crm("report", "forecast").stdout
    assert out.startswith("Open pipeline by expected close month\n")
    assert "2026-11*  USD" in out
    assert "* 2026-11 is under way: it holds the deals expected from today to its end" in out
    assert "2,400.50 USD" in out and "5,000 JPY" in out
    assert "Closed deals (all time): win rate and cycle" in out
    assert "66.7%" in out and "20.0" in out
    csv = crm("report", "forecast", "--format", "csv").stdout.splitlines()
    assert csv[0].startswith("section,month,partial,currency,deals,pipeline,best,commit,"
                             "weighted")


def test_an_empty_book_has_an_empty_forecast(crm):
    crm("add", "Acme")
    assert crm.json("report", "forecast") == {"months": [], "totals": [], "closed": []}


def _independent(deals: list[dict], moves: list[dict], today: str, commit_at=80, best_at=50,
                 last_stage="commit"):
    """The forecast recomputed from `crm deals` and `crm deals --history` alone."""
    months: dict = defaultdict(lambda: [0, Decimal(0), Decimal(0), Decimal(0), Decimal(0)])
    for d in deals:
        if d["status"] != "open":
            continue
        p = d["probability"]
        month = ("undated" if d["close_date"] is None else "overdue"
                 if d["close_date"] < today else d["close_date"][:7])
        cell = months[(month, d["currency"])]
        amount = Decimal(str(d["amount"]))
        cell[0] += 1
        cell[1] += amount
        commit = p >= commit_at or d["stage"] == last_stage
        cell[2] += amount if commit or p >= best_at else 0
        cell[3] += amount if commit else 0
        cell[4] += amount * p / 100
    by_deal = defaultdict(list)
    for m in moves:
        by_deal[m["deal_id"]].append(m)
    closed: dict = defaultdict(lambda: [0, 0, []])
    for d in deals:
        if d["status"] == "open":
            continue
        history = by_deal[d["id"]]
        cell = closed[d["currency"]]
        cell[0 if d["status"] == "won" else 1] += 1
        if history and history[0]["to_stage"] not in ("won", "lost"):
            end = max(m["at"] for m in history if m["to_stage"] == d["status"])
            days = (datetime.fromisoformat(end.replace("Z", "+00:00"))
                    - datetime.fromisoformat(history[0]["at"].replace("Z", "+00:00")))
            cell[2].append(days.total_seconds() / 86400)
    return months, closed


def test_forecast_agrees_with_an_independent_computation_on_a_random_book(crm):
    rng = random.Random(16)
    stages = ["qualify", "propose", "negotiate", "commit"]
    for name in ("Acme", "Beta", "Gamma"):
        crm("add", name)
    day = 0
    for deal_id in range(1, 41):
        day += rng.randint(0, 3)
        opened = f"2026-0{1 + day // 28}-{1 + day % 28:02d}T09:00:00Z"
        amount = f"{rng.randint(1, 9999)}.{rng.randint(0, 99):02d}"
        args = ["deal", rng.choice(["Acme", "Beta", "Gamma"]), amount,
                "--stage", rng.choice(stages), "--at", opened,
                "--currency", rng.choice(["USD", "USD", "EUR"])]
        if rng.random() < 0.7:
            args += ["--close", f"2026-{rng.randint(10, 12)}-{rng.randint(1, 28):02d}"]
        if rng.random() < 0.3:
            args += ["--probability", str(rng.randint(0, 100))]
        crm(*args)
        if rng.random() < 0.5:
            crm("stage-deal", str(deal_id), rng.choice(["won", "lost"]),
                "--at", f"2026-{9 + rng.randint(0, 1):02d}-{rng.randint(1, 28):02d}T15:30:00Z")
    deals = crm.json("deals")
    moves = crm.json("deals", "--history")
    months, closed = _independent(deals, moves, "2026-11-22")
    report = crm.json("report", "forecast")
    got = {(r["month"], r["currency"]): [r["deals"], Decimal(str(r["pipeline"])),
                                        Decimal(str(r["best"])), Decimal(str(r["commit"])),
                                        Decimal(str(r["weighted"]))]
           for r in report["months"]}
    assert got == dict(months)
    for row in report["closed"]:
        won, lost, cycles = closed[row["currency"]]
        assert (row["won"], row["lost"], row["cycles"]) == (won, lost, len(cycles))
        assert row["win_rate"] == pytest.approx(100 * won / (won + lost))
        assert row["avg_cycle_days"] == pytest.approx(sum(cycles) / len(cycles))
    assert {r["currency"] for r in report["closed"]} == set(closed)
