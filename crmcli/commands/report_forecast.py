"""`crm report forecast`: the open deals weighted by probability, by expected close month,
and the win rate and cycle length of closed deals (crmcli.metrics.forecast)."""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands._context import get_config, get_store
from crmcli.commands._options import FormatOption, JsonOption, output_format


def report_forecast(
    since: Annotated[str | None, typer.Option(
        "--since", metavar="WHEN", help="Closed deals from this day (default: all time).")
    ] = None,
    until: Annotated[str | None, typer.Option(
        "--until", metavar="WHEN", help="Closed deals up to and including this day.")
    ] = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """The deal forecast: the open pipeline (amount, best, commit, weighted by probability)
    by expected close month and per currency; win rate and average cycle of closed deals."""
    from crmcli import dates
    from crmcli.metrics import forecast
    from crmcli.metrics.response import time_window
    from crmcli.render.forecast import emit_forecast

    store, config = get_store(create=False), get_config()
    lo, hi = time_window(since, until) if since or until else (None, None)
    stages = config["deals.stages"]
    months, totals = forecast.open_pipeline(
        store.deals.open_deals(), today=dates.today(), stages=stages,
        commit_at=config["deals.commit_probability"], best_at=config["deals.best_probability"])
    closed = forecast.closed_deals(store.deals.closed_deals(), lo=lo, hi=hi)
    window = ", ".join(p for p in (since and f"since {since}", until and f"until {until}")
                       if p) or "all time"
    emit_forecast({"months": months, "totals": totals, "closed": closed},
                  output_format(fmt, as_json), window=window)
