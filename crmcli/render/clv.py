"""Historical CLV (`crm report clv`) in every format: a summary and the top clients; in the
tables for people, the other currencies' revenue as amounts with their currency."""

from __future__ import annotations

from crmcli.render.formats import HUMAN_FORMATS
from crmcli.render.output import money_text
from crmcli.render.reports import emit_sections


def emit_clv(report: dict, fmt: str) -> None:
    """report: crmcli.metrics.clv.clv_report."""
    if fmt in HUMAN_FORMATS:
        summary_shown = dict(report["summary"])
        summary_shown["other_currencies"] = ", ".join(
            money_text(v["revenue"], c) for c, v in summary_shown["other_currencies"].items()
        ) or "none"
        report = {**report, "summary": summary_shown}
    emit_sections(report, fmt,
                  columns={"top": ["client_id", "client", "clv", "deals", "aov",
                                   "first_purchase", "last_purchase"]},
                  titles={"summary": f"Customer lifetime value ({report['summary']['currency']})",
                          "top": "Top clients by historical CLV"})
