"""The dashboard (`crm report summary`, and the demo) in every format."""

from __future__ import annotations


def emit_summary(data: dict, fmt_name: str) -> None:
    """The dashboard (crmcli.services.summary.summary_data) as titled sections; the table
    adds bars and a sparkline of the revenue."""
    from crmcli.render.reports import emit_sections

    if fmt_name == "table":
        from crmcli.render.reports import bar, sparkline

        top = max((r["revenue"] for r in data["revenue_by_month"]), default=0)
        trend = sparkline([r["revenue"] for r in data["revenue_by_month"]])
        data["revenue_by_month"] = [{**r, "bar": bar(r["revenue"], top, 30)}
                                    for r in data["revenue_by_month"]]
        data["overview"]["revenue_trend"] = trend
    if fmt_name in ("table", "markdown"):
        from crmcli.render.output import money_text

        overview = data["overview"] = dict(data["overview"])
        currency = overview["currency"]
        for key in ("revenue_12m", "revenue_at_stake", "open_receivables",
                    "overdue_receivables"):
            overview[key] = money_text(overview[key], currency)
        overview["open_receivables_other"] = ", ".join(
            money_text(v, c) for c, v in overview["open_receivables_other"].items()) or "none"
        overview["other_currencies_12m"] = ", ".join(
            money_text(v["revenue"], c) for c, v in overview["other_currencies_12m"].items()
        ) or "none"
    emit_sections(data, fmt_name,
                  columns={"stages": ["stage", "clients"],
                           "revenue_by_month": ["month", "revenue", "deals", "clients"]
                           + (["bar"] if fmt_name == "table" else []),
                           "at_risk": ["client_id", "client", "days_since",
                                       "revenue_at_stake"]},
                  titles={"overview": "Overview", "stages": "Clients by stage",
                          "lifecycle": "Clients by lifecycle status",
                          "revenue_by_month": f"Won revenue by month "
                                              f"({data['overview']['currency']})",
                          "at_risk": "At-risk clients (revenue at stake)"})
