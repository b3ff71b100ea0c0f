"""Machine formats carry full precision; only table and markdown round."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal


def test_clv_mean_is_exact_in_json_and_csv_and_rounded_in_the_table(crm):
    for name, amount in (("A", "100.00"), ("B", "100.00"), ("C", "100.01")):
        crm("add", name)
        crm("deal", name, amount, "--at", "2026-10-01")
    data = json.loads(crm("report", "clv", "--json").stdout, parse_float=Decimal)
    # 300.01 / 3 = 100.0033..., not rounded to cents
    assert data["summary"]["mean"] == Decimal("300.01") / 3
    rows = list(csv.DictReader(io.StringIO(crm("report", "clv", "--format", "csv").stdout)))
    [mean] = [r["value"] for r in rows if r.get("field") == "mean"] or [
        r["mean"] for r in rows if r["section"] == "summary"]
    assert Decimal(mean) == Decimal("300.01") / 3
    table = crm("report", "clv").stdout
    [line] = [ln for ln in table.splitlines() if ln.startswith("mean")]
    assert line.split()[-1] == "100.00"
    md = crm("report", "clv", "--format", "markdown").stdout
    assert "| mean | 100.00 |" in md


def test_response_hours_are_unrounded_in_json_and_rounded_in_the_table(crm):
    crm("add", "Ana")
    crm("log", "Ana", "question", "--in", "--at", "2026-11-20T10:00:00Z")
    crm("log", "Ana", "answer", "--out", "--at", "2026-11-20T12:25:24Z")  # 2.4233.. h
    [row] = crm.json("report", "response")
    assert row["p90_hours"] == (2 * 3600 + 25 * 60 + 24) / 3600
    out = crm("report", "response", "--format", "tsv").stdout
    assert str((2 * 3600 + 25 * 60 + 24) / 3600) in out
    table = crm("report", "response").stdout
    assert "2.42" in table and "2.4233" not in table
