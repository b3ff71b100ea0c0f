"""Deals: crm deal CLIENT AMOUNT, crm edit-deal ID, crm deals [CLIENT]."""

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
    SetOption,
    WhereOption,
    output_format,
    within_int64,
)
from crmcli.render.output import emit_rows, message

DEAL_FIELDS = ["id", "client_id", "client", "at", "title", "amount", "currency", "status",
               "custom"]
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
    set_: SetOption = None,
    quiet: QuietOption = False,
) -> None:
    """Record a deal (won deals are the revenue behind retention and CLV); prints its id."""
    from crmcli import dates
    from crmcli.commands.clients import parse_sets

    store = get_store()
    record = store.clients.resolve(client)
    when = dates.parse_at(at) if at else None
    deal_id = store.deals.add(record["id"], amount, at=when, title=title, status=status,
                             currency=currency, custom=parse_sets(set_))
    typer.echo(deal_id)
    if not quiet:
        deal = store.deals.get(deal_id)
        message(f"recorded {deal['status']} deal {deal_id}: {deal['amount']} {deal['currency']} "
                f"for client {record['id']} {record['name']}")


def edit_deal(
    deal_id: Annotated[int, typer.Argument(metavar="ID", callback=within_int64,
                                           help="The deal's id (crm deals).",
                                           show_default=False)],
    status: Annotated[str | None, typer.Option(
        "--status", help="won, open or lost (an open deal that was won: --status won, and "
                         "--at for the day it was won).")] = None,
    amount: Annotated[str | None, typer.Option("--amount", help="Exact decimal amount.")
                      ] = None,
    at: Annotated[str | None, typer.Option("--at", help="When (WHEN).")] = None,
    title: Annotated[str | None, typer.Option("--title", help="What was sold ('' clears it).")
                     ] = None,
    currency: Annotated[str | None, typer.Option("--currency", help="Three-letter code.")
                        ] = None,
    client: Annotated[str | None, typer.Option(
        "--client", help="Move the deal to this client (id, email, external id or name).")
    ] = None,
    set_: SetOption = None,
) -> None:
    """Change a deal: its status (open to won), amount, date, title, currency or client."""
    from crmcli import dates

    store = get_store()
    fields: dict = {}
    if client is not None:
        fields["client_id"] = store.clients.resolve(client)["id"]
    if amount is not None:
        fields["amount"] = amount
    if at is not None:
        fields["at"] = dates.parse_at(at)
    if title is not None:
        fields["title"] = title
    if status is not None:
        fields["status"] = status
    if currency is not None:
        fields["currency"] = currency
    if set_:
        from crmcli.commands.clients import parse_sets

        fields["custom"] = parse_sets(set_)
    if not fields:
        from crmcli.errors import UsageError

        raise UsageError("nothing to change: give --status, --amount, --at, --title, "
                         "--currency, --client or --set")
    changed = store.deals.edit(deal_id, **fields)
    deal = store.deals.get(deal_id)
    if not changed:
        message(f"deal {deal_id} unchanged")
        return
    def now(field: str) -> str:
        value = deal[field]
        if field == "client_id":
            return f"client {value} {store.clients.get(value)['name']}"
        if field == "custom":
            return "custom fields " + (", ".join(f"{k}={v}" for k, v in fields["custom"].items())
                                       if fields["custom"] else "set")
        if value is None:
            return f"{field} cleared"
        return f"{field} {dates.format_local(value) if field == 'at' else value}"

    message(f"deal {deal_id}: " + ", ".join(now(k) for k in changed))


def list_deals(
    client: Annotated[str | None, typer.Argument(metavar="[CLIENT]",
                                                 help="Only this client's deals.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only won, open or lost.")
                      ] = None,
    where: WhereOption = None,
    limit: LimitOption = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """List deals, newest first (amounts exactly as entered)."""
    from crmcli import dates

    store = get_store(create=False)
    client_id = store.clients.resolve(client, include_archived=True)["id"] if client else None
    rows = store.deals.list(client_id, status, limit=limit, conditions=where or ())
    emit_rows(rows, output_format(fmt, as_json), fields=DEAL_FIELDS, columns=TABLE_COLUMNS,
              shown=lambda rows: [{**r, "date": dates.local_date_of(r["at"]).isoformat()}
                                  for r in rows])


def register(app: typer.Typer) -> None:
    # Unknown options pass through as arguments so that `crm deal X -5` reaches the amount
    # check ("must not be negative") instead of "no such option -5".
    command(app, "deal", context_settings={"ignore_unknown_options": True})(add_deal)
    command(app, "edit-deal", context_settings={"ignore_unknown_options": True})(edit_deal)
    command(app, "deals")(list_deals)
