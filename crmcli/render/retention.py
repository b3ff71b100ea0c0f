"""Retention, cohorts and churn (`crm report retention|cohorts|churn`) in every format: the
table adds % signs, bars and a * on an unfinished period, with a footer that says so."""

from __future__ import annotations

import sys

from crmcli.render.output import emit, selection
from crmcli.render.reports import bar, cohort_heatmap, emit_sections, pct

RETENTION_COLUMNS = ["period", "active", "previous_active", "retained", "new", "reactivated",
                     "lost", "retention", "churn"]
CHURN_COLUMNS = ["period", "start", "partial", "previous_active", "lost", "churn"]
AT_RISK_COLUMNS = ["client_id", "client", "owner", "last_active", "days_since",
                   "usual_gap_days", "at_risk_after_days", "revenue_at_stake"]


def partial_note(label: str) -> str:
    return (f"* {label} has not ended: its figures are so far, and no churn is reported "
            "for it until it ends")


def emit_retention(rows: list[dict], fmt: str, *, unit: str, activity: str,
                   columns: list[str]) -> None:
    """rows: crmcli.metrics.retention.retention_rows; columns: theirs (ROW_KEYS)."""
    if fmt != "table":
        emit(rows, fmt, columns=columns)
        return
    shown = [{**r, "retention": pct(r["retention"]), "churn": pct(r["churn"]),
              "trend": bar(r["retention"], 1.0, 20),
              "period": r["period"] + ("*" if r["partial"] else "")} for r in rows]
    emit(shown, "table", columns=RETENTION_COLUMNS + ["trend"],
         title=f"Retention by {unit} ({activity})")
    unfinished = [r["period"] for r in rows if r.get("partial")]
    if unfinished:
        sys.stdout.write(partial_note(unfinished[0]) + "\n")


def emit_cohorts(rows: list[dict], fmt: str, *, unit: str, last: str) -> None:
    """rows: crmcli.metrics.cohorts.cohort_rows; last: the label of the window's last
    period (named when it has not ended)."""
    if fmt == "table" and not rows:
        return
    if fmt == "table" and selection().fields is None:
        cohort_heatmap(rows, f"Cohort retention by {unit} (share of cohort active k {unit}s "
                             "later)")
        if rows and rows[-1]["partial"]:
            sys.stdout.write(f"* {last} has not ended: the last cell of each row counts the "
                             "clients active in it so far\n")
    elif fmt in ("json", "ndjson"):
        emit(rows, fmt, columns=["cohort", "start", "partial", "size", "active", "retention"])
    else:
        width = max((len(r["retention"]) for r in rows), default=0)
        flat = [{"cohort": r["cohort"], "start": r["start"], "partial": r["partial"],
                 "size": r["size"],
                 **{f"+{k}": (r["retention"][k] if k < len(r["retention"]) else None)
                    for k in range(width)}} for r in rows]
        emit(flat, fmt, columns=["cohort", "start", "partial", "size"]
             + [f"+{k}" for k in range(width)])


def emit_churn(rows: list[dict], lifecycle: dict, at_risk: list[dict], fmt: str, *,
               unit: str) -> None:
    """rows: retention_rows; lifecycle: status counts; at_risk: the at-risk clients."""
    periods = [{k: r[k] for k in CHURN_COLUMNS} for r in rows]
    risky = [{k: r[k] for k in AT_RISK_COLUMNS} for r in at_risk]
    if fmt == "table":
        top = max((r["churn"] or 0 for r in periods), default=0)
        periods = [{**p, "period": p["period"] + ("*" if p["partial"] else ""),
                    "churn": pct(p["churn"]), "trend": bar(p["churn"], top, 20)}
                   for p in periods]
    emit_sections({"periods": periods, "lifecycle": lifecycle, "at_risk": risky}, fmt,
                  columns={"periods": ["period", "start", "previous_active", "lost", "churn",
                                       "trend"] if fmt == "table" else CHURN_COLUMNS,
                           "at_risk": AT_RISK_COLUMNS},
                  titles={"periods": f"Churn by {unit}", "lifecycle": "Lifecycle status",
                          "at_risk": "At-risk clients (revenue at stake: won revenue, "
                                     "last 12 months)"},
                  notes={"periods": next((partial_note(r["period"]) for r in rows
                                          if r["partial"]), None)})
