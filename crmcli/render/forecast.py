"""The deal forecast (`crm report forecast`) in every format."""

from __future__ import annotations

from crmcli.metrics.forecast import CLOSED_FIELDS, MONTH_FIELDS, TOTAL_FIELDS

MONEY = ("pipeline", "best", "commit", "weighted", "won_amount")


def emit_forecast(report: dict, fmt: str, window: str = "all time") -> None:
    """report: {"months", "totals", "closed"} (crmcli.metrics.forecast). Tables and
    markdown show money with thousands separators and the currency's decimals, the current
    month marked '*', percentages and days with one decimal; the machine formats get the
    exact values."""
    from crmcli.render.output import for_people
    from crmcli.render.reports import emit_sections

    sections = report
    notes = {}
    months = report["months"]
    if for_people(fmt):
        sections = {"months": [_shown(r, month=True) for r in months],
                    "totals": [_shown(r) for r in report["totals"]],
                    "closed": [_shown(r) for r in report["closed"]]}
        current = next((r["month"] for r in months if r["partial"]), None)
        if current:
            notes["months"] = (f"* {current} is under way: it holds the deals expected from "
                               "today to its end")
    emit_sections(sections, fmt,
                  columns={"months": [c for c in MONTH_FIELDS
                                      if c != "partial" or not for_people(fmt)],
                           "totals": TOTAL_FIELDS, "closed": CLOSED_FIELDS},
                  titles={"months": "Open pipeline by expected close month",
                          "totals": "Open pipeline",
                          "closed": f"Closed deals ({window}): win rate and cycle"},
                  notes=notes)


def _shown(row: dict, month: bool = False) -> dict:
    from crmcli.render.output import money_text
    from crmcli.render.reports import percent

    out = dict(row)
    for key in MONEY:
        if key in out:
            out[key] = money_text(out[key], row["currency"])
    if "win_rate" in out:
        out["win_rate"] = percent(out["win_rate"])
    if out.get("avg_cycle_days") is not None:
        out["avg_cycle_days"] = f"{out['avg_cycle_days']:.1f}"
    if month and row["partial"]:
        out["month"] = row["month"] + "*"
    return out
