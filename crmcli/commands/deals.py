"""Deals: crm deal CLIENT AMOUNT, crm deals [CLIENT]."""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands._context import get_store
from crmcli.commands._errors import command
from crmcli.commands._options import (
    FormatOption,
    JsonOption,
    LimitOption,
    QuietOption,
    output_format,
)
from crmcli.output import emit, message

DEAL_FIELDS = ["id", "client_id", "client", "at", "title", "amount", "currency", "status"]
TABLE_COLUMNS = ["id", "client", "date", "title", "amount", "currency", "status"]


def add_deal(
    client: Annotated[str, typer.Argument(metavar="CLIENT",
                                          help="Id, email, external id, name or part of a name.")],
    amount: Annotated[str, typer.Argument(metavar="AMOUNT",
                                          help="Exact decimal amount, e.g. 1200 or 19.99.")],
    at: Annotated[str | None, typer.Option("--at", help="When (WHEN; default now).")] = None,
    title: Annotated[str | None, typer.Option("--title", help="What was sold.")] = None,
    status: Annotated[str, typer.Option("--status", help="won, open or lost.")] = "won",
    currency: Annotated[str | None, typer.Option("--currency",
                                                 help="Three-letter code (default: currency in "
                                                      "the config).")] = None,
    quiet: QuietOption = False,
) -> None:
    """Record a deal (won deals are the revenue behind retention and CLV); prints its id."""
    from crmcli import dates

    store = get_store()
    record = store.resolve_client(client)
    when = dates.parse_at(at) if at else None
    deal_id = store.add_deal(record["id"], amount, at=when, title=title, status=status,
                             currency=currency)
    typer.echo(deal_id)
    if not quiet:
        deal = store.get_deal(deal_id)
        message(f"recorded {deal['status']} deal {deal_id}: {deal['amount']} {deal['currency']} "
                f"for client {record['id']} {record['name']}")


def list_deals(
    client: Annotated[str | None, typer.Argument(metavar="[CLIENT]",
                                                 help="Only this client's deals.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only won, open or lost.")
                      ] = None,
    limit: LimitOption = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """List deals, newest first (amounts exactly as entered)."""
    from crmcli import dates

    store = get_store()
    client_id = store.resolve_client(client, include_archived=True)["id"] if client else None
    rows = store.list_deals(client_id, status, limit=limit)
    fmt_name = output_format(fmt, as_json)
    if fmt_name in ("table", "markdown"):
        for row in rows:
            row["date"] = dates.format_local(row["at"])[:10]
        emit(rows, fmt_name, columns=TABLE_COLUMNS)
    else:
        emit([{k: r[k] for k in DEAL_FIELDS} for r in rows], fmt_name, columns=DEAL_FIELDS)


def register(app: typer.Typer) -> None:
    # Unknown options pass through as arguments so that `crm deal X -5` reaches the amount
    # check ("must not be negative") instead of "no such option -5".
    command(app, "deal", context_settings={"ignore_unknown_options": True})(add_deal)
    command(app, "deals")(list_deals)
