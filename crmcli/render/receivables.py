"""The receivables report (`crm report receivables`) in every format: per currency the
open balance by age, what was invoiced and collected in the window and the DSO; per
client the open balance by age."""

from __future__ import annotations

from crmcli.metrics.receivables import BUCKET_LABELS, BUCKETS

CURRENCY_COLUMNS = ["currency", "open", *BUCKETS, "overdue", "open_invoices", "invoiced",
                    "collected", "dso"]
CLIENT_COLUMNS = ["client_id", "client", "currency", "open", *BUCKETS, "open_invoices",
                  "oldest_due"]


def emit_receivables(report: dict, fmt: str) -> None:
    """The report (crmcli.metrics.receivables.receivables) as two titled parts."""
    from crmcli.render.reports import emit_sections

    window = f"{report['since']} to {report['as_of']}, {report['days']} days"
    sections = {"currencies": report["currencies"], "clients": report["clients"]}
    headers = {"currencies": CURRENCY_COLUMNS, "clients": CLIENT_COLUMNS}
    if fmt in ("table", "markdown"):
        def people(row: dict) -> dict:
            shown = {BUCKET_LABELS.get(k, k): v for k, v in row.items()}
            if "dso" in shown:
                shown["dso"] = "n/a" if row["dso"] is None else f"{row['dso']} d"
            return shown

        sections = {name: [people(r) for r in rows] for name, rows in sections.items()}
        headers = {name: [BUCKET_LABELS.get(c, c) for c in cols]
                   for name, cols in headers.items()}
    emit_sections(sections, fmt, columns=headers,
                  titles={"currencies": f"Receivables as of {report['as_of']} "
                                        f"(invoiced and collected: {window})",
                          "clients": "Open balance by client"},
                  notes={"currencies": "DSO = open receivables ÷ invoiced in the window × "
                                       "its days; amounts are never converted between "
                                       "currencies"})
