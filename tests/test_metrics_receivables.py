"""crmcli.metrics.receivables against an independent computation, and `crm report
receivables` through the CLI."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from decimal import Decimal

from crmcli.metrics.receivables import BUCKETS, Window, receivables


def _oracle(invoices, payments, first: date, last: date) -> dict:
    """The same figures the plain way: every invoice's balance as of `last` by walking its
    payments, its age bucket by the date ranges of each bucket, DSO in floats."""
    edges = [("current", None, 0), ("days_1_30", 1, 30), ("days_31_60", 31, 60),
             ("days_61_90", 61, 90), ("days_90_plus", 91, None)]
    out: dict[str, dict] = {}
    for inv in invoices:
        issued = date.fromisoformat(inv["issued"])
        if issued > last:
            continue
        cur = out.setdefault(inv["currency"], {"open": Decimal(0), "invoiced": Decimal(0),
                                               "collected": Decimal(0),
                                               **{b: Decimal(0) for b in BUCKETS}})
        if first <= issued:
            cur["invoiced"] += inv["amount"]
        balance = inv["amount"]
        for p in payments:
            if p["invoice_id"] == inv["id"] and date.fromisoformat(p["day"]) <= last:
                balance -= p["amount"]
        if balance > 0:
            cur["open"] += balance
            due = date.fromisoformat(inv["due"])
            for name, lo, hi in edges:
                start = due + timedelta(days=lo) if lo is not None else date.min
                end = due + timedelta(days=hi) if hi is not None else date.max
                if start <= last <= end:
                    cur[name] += balance
    for p in payments:
        day = date.fromisoformat(p["day"])
        inv = next(i for i in invoices if i["id"] == p["invoice_id"])
        if first <= day <= last:
            cur = out.setdefault(inv["currency"], {"open": Decimal(0), "invoiced": Decimal(0),
                                                   "collected": Decimal(0),
                                                   **{b: Decimal(0) for b in BUCKETS}})
            cur["collected"] += p["amount"]
    days = (last - first).days + 1
    for cur in out.values():
        cur["dso"] = (float(cur["open"]) / float(cur["invoiced"]) * days
                      if cur["invoiced"] else None)
    return out


def test_receivables_match_an_independent_computation_on_random_books():
    for seed in range(40):
        rng = random.Random(seed)
        invoices, payments = [], []
        base = date(2026, 1, 1)
        for i in range(1, rng.randint(1, 30)):
            issued = base + timedelta(days=rng.randint(0, 300))
            amount = Decimal(rng.randint(1, 500000)) / 100
            invoices.append({"id": i, "client_id": rng.randint(1, 4), "client": "c",
                             "currency": rng.choice(["USD", "EUR", "JPY"]), "amount": amount,
                             "issued": issued.isoformat(),
                             "due": (issued + timedelta(days=rng.choice([0, 14, 30, 60]))
                                     ).isoformat()})
            left = amount
            for _ in range(rng.randint(0, 3)):
                part = min(left, Decimal(rng.randint(1, 300000)) / 100)
                if part <= 0:
                    break
                left -= part
                payments.append({"invoice_id": i, "amount": part, "day": (
                    issued + timedelta(days=rng.randint(0, 120))).isoformat()})
        last = base + timedelta(days=rng.randint(0, 400))
        first = last - timedelta(days=rng.choice([0, 29, 89, 364]))
        got = receivables(invoices, payments, Window(first, last))
        want = _oracle(invoices, payments, first, last)
        assert {r["currency"] for r in got["currencies"]} == set(want), seed
        for row in got["currencies"]:
            w = want[row["currency"]]
            for key in ("open", "invoiced", "collected", *BUCKETS):
                assert row[key] == w[key], (seed, row["currency"], key)
            assert row["overdue"] == row["open"] - row["current"]
            if w["dso"] is None:
                assert row["dso"] is None
            else:
                assert abs(float(row["dso"]) - w["dso"]) <= 0.05 + 1e-9, seed
        for cur in want:
            by_client = sum((r["open"] for r in got["clients"] if r["currency"] == cur),
                            Decimal(0))
            assert by_client == want[cur]["open"], seed


def test_bucket_edges_are_inclusive_as_documented():
    day = date(2026, 11, 22)
    invoices = [{"id": n, "client_id": 1, "client": "A", "currency": "USD",
                 "amount": Decimal(1), "issued": "2026-01-01",
                 "due": (day - timedelta(days=late)).isoformat()}
                for n, late in enumerate([0, 1, 30, 31, 60, 61, 90, 91], 1)]
    [row] = receivables(invoices, [], Window(day, day))["currencies"]
    assert [row[b] for b in BUCKETS] == [1, 2, 2, 2, 1]


def test_report_receivables_ages_per_client_and_currency_and_computes_dso(crm):
    crm("add", "Acme")
    crm("add", "Beta")
    # as of 2026-11-22 (CRM_NOW): 1000 USD 52 days late, 300 USD not yet due, 500 EUR 100
    # days late; in the 90 days from 2026-08-25: 1300 USD invoiced, 200 USD collected
    crm("invoice", "add", "Acme", "1200", "--issued", "2026-09-01", "--terms", "30")
    crm("invoice", "pay", "INV-0001", "200", "--at", "2026-10-05")
    crm("invoice", "add", "Acme", "100", "--issued", "2026-11-20", "--terms", "14")
    crm("invoice", "add", "Beta", "300", "--issued", "2026-11-20", "--terms", "14")
    crm("invoice", "add", "Beta", "500", "--currency", "EUR", "--issued", "2026-07-15",
        "--due", "2026-08-14")
    data = json.loads(crm("report", "receivables", "--json").stdout, parse_float=Decimal)
    usd, = [r for r in data["currencies"] if r["currency"] == "USD"]
    eur, = [r for r in data["currencies"] if r["currency"] == "EUR"]
    assert (usd["open"], usd["current"], usd["days_31_60"], usd["overdue"]) == (
        Decimal(1400), Decimal(400), Decimal(1000), Decimal(1000))
    assert (usd["invoiced"], usd["collected"]) == (Decimal(1600), Decimal(200))
    assert usd["dso"] == Decimal("78.8")  # 1400 / 1600 × 90
    assert (eur["open"], eur["days_90_plus"], eur["invoiced"], eur["dso"]) == (
        Decimal(500), Decimal(500), Decimal(0), None)
    assert [(c["client"], c["currency"], c["open"]) for c in data["clients"]] == [
        ("Beta", "EUR", Decimal(500)), ("Acme", "USD", Decimal(1100)),
        ("Beta", "USD", Decimal(300))]
    # as of the end of September: the October payment is not there yet
    past = json.loads(crm("report", "receivables", "--until", "2026-09-30", "--json").stdout,
                      parse_float=Decimal)
    usd, = [r for r in past["currencies"] if r["currency"] == "USD"]
    assert (usd["open"], usd["current"], usd["collected"]) == (
        Decimal(1200), Decimal(1200), Decimal(0))
    table = crm("report", "receivables").stdout
    assert "1–30" in table and "78.8 d" in table and "n/a" in table
    result = crm("report", "receivables", "--since", "2026-12-01", "--until", "2026-11-01",
                 ok=False)
    assert result.exit_code == 1 and "is after --until" in result.stderr


def test_summary_shows_open_and_overdue_receivables(crm):
    crm("add", "Acme")
    crm("invoice", "add", "Acme", "1200", "--issued", "2026-09-01")
    crm("invoice", "add", "Acme", "80", "--issued", "2026-11-20")
    crm("invoice", "add", "Acme", "70", "--currency", "EUR")
    overview = json.loads(crm("report", "summary", "--json").stdout,
                          parse_float=Decimal)["overview"]
    assert overview["open_receivables"] == Decimal(1280)
    assert overview["overdue_receivables"] == Decimal(1200)
    assert overview["open_receivables_other"] == {"EUR": Decimal(70)}
