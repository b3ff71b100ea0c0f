"""`crm report …`: the metrics, rendered.

The time-based reports (summary, retention, cohorts, churn, clv) live here; the
event-based ones (response, nps, funnel, segments) in `report_events`; the
probabilistic CLV model in `report_predict`, reached through `crm report clv --model bgnbd`.
"""

from __future__ import annotations

import typer

report_app = typer.Typer(help="Reports: retention, cohorts, churn, CLV, response time, NPS, "
                              "funnel, segments.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    from crmcli.commands import report_events

    report_events.register(report_app)
    app.add_typer(report_app, name="report")
