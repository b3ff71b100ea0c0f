"""Invoices and payments: crm invoice add|pay|payments, crm invoices [CLIENT]."""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands._context import get_store
from crmcli.commands._errors import command
from crmcli.commands._help import CrmGroup
from crmcli.commands._options import (
    FormatOption,
    JsonOption,
    LimitOption,
    QuietOption,
    output_format,
)
from crmcli.render.output import emit_rows, message

invoice_app = typer.Typer(cls=CrmGroup, help="Invoices and payments: add, pay, payments.",
                          no_args_is_help=True)

INVOICE_TABLE = ["number", "client", "issued", "due", "amount", "paid", "balance", "currency",
                 "status", "late"]
PAYMENT_FIELDS = ["id", "invoice_id", "number", "client_id", "client", "at", "amount",
                  "currency", "note"]
PAYMENT_TABLE = ["id", "number", "client", "date", "amount", "currency", "note"]
InvoiceArg = Annotated[str, typer.Argument(metavar="NUMBER|ID",
                                           help="The invoice's number (or its id, '#12').")]


def add_invoice(
    client: Annotated[str, typer.Argument(metavar="CLIENT",
                                          help="Id, email, external id, name or part of a name.")],
    amount: Annotated[str, typer.Argument(metavar="AMOUNT",
                                          help="Exact decimal amount, e.g. 1200 or 19.99.")],
    currency: Annotated[str | None, typer.Option(
        "--currency", help="Three-letter code (default: the deal's, else currency in the "
                           "config).")] = None,
    deal: Annotated[int | None, typer.Option("--deal", metavar="ID",
                                             help="The client's deal it bills (crm deals).")
                    ] = None,
    issued: Annotated[str | None, typer.Option("--issued", metavar="WHEN",
                                               help="Issue date (default today).")] = None,
    due: Annotated[str | None, typer.Option("--due", metavar="WHEN", help="Due date.")] = None,
    terms: Annotated[str | None, typer.Option(
        "--terms", metavar="DAYS", help="Due this many days after issue (default: "
                                        "invoices.terms_days in the config, 30).")] = None,
    number: Annotated[str | None, typer.Option(
        "--number", help="Its number, unique in the book (default: the next INV-0001).")
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="What it is for.")] = None,
    quiet: QuietOption = False,
) -> None:
    """Record an invoice to a client; prints its number."""
    from crmcli import dates

    store = get_store()
    record = store.clients.resolve(client)
    invoice_id = store.invoices.add(
        record["id"], amount, currency=currency, deal_id=deal,
        issued=dates.parse_when(issued) if issued else None,
        due=dates.parse_when(due) if due else None, terms=terms, number=number, note=note)
    invoice = store.invoices.get(invoice_id)
    typer.echo(invoice["number"])
    if not quiet:
        message(f"invoice {invoice['number']} (id {invoice_id}): {invoice['amount']} "
                f"{invoice['currency']} to client {record['id']} {record['name']}, issued "
                f"{invoice['issued']}, due {invoice['due']}")


def pay_invoice(
    invoice: InvoiceArg,
    amount: Annotated[str, typer.Argument(metavar="AMOUNT",
                                          help="Exact decimal amount received.")],
    at: Annotated[str | None, typer.Option("--at", metavar="WHEN",
                                           help="When it was received (default now).")] = None,
    note: Annotated[str | None, typer.Option("--note", help="A reference, e.g. the bank's.")
                    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Record a payment against an invoice (part or all of its open balance); prints its id.

    A payment of more than the open balance is refused: crm keeps no credit balances."""
    from crmcli import dates

    store = get_store()
    found = store.invoices.resolve(invoice)
    payment_id = store.invoices.pay(found["id"], amount, at=dates.parse_at(at) if at else None,
                                    note=note)
    typer.echo(payment_id)
    if not quiet:
        balance = store.invoices.list(found["client_id"])
        left = next(r["balance"] for r in balance if r["id"] == found["id"])
        paid = store.invoices.payments(invoice_id=found["id"])[-1]["amount"]
        state = "paid in full" if left <= 0 else f"{left} {found['currency']} still open"
        message(f"payment {payment_id}: {paid} {found['currency']} on invoice "
                f"{found['number']}; {state}")


def list_payments(
    client: Annotated[str | None, typer.Argument(metavar="[CLIENT]",
                                                 help="Only this client's payments.")] = None,
    invoice: Annotated[str | None, typer.Option("--invoice", metavar="NUMBER|ID",
                                                help="Only the payments of this invoice.")
                       ] = None,
    limit: LimitOption = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """List payments received, oldest first."""
    from crmcli import dates

    store = get_store(create=False)
    client_id = store.clients.resolve(client, include_archived=True)["id"] if client else None
    invoice_id = store.invoices.resolve(invoice)["id"] if invoice else None
    rows = store.invoices.payments(invoice_id=invoice_id, client_id=client_id)
    if limit:
        rows = rows[-limit:]
    emit_rows(rows, output_format(fmt, as_json), fields=PAYMENT_FIELDS, columns=PAYMENT_TABLE,
              shown=lambda rows: [{**r, "date": dates.local_date_of(r["at"]).isoformat()}
                                  for r in rows])


def list_invoices(
    client: Annotated[str | None, typer.Argument(metavar="[CLIENT]",
                                                 help="Only this client's invoices.")] = None,
    open_: Annotated[bool, typer.Option("--open", help="Only invoices with an open balance.")
                     ] = False,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only open invoices past due.")
                       ] = False,
    limit: LimitOption = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """List invoices, latest issued first, with what is paid and what is open."""
    from crmcli.render.due import late_text
    from crmcli.services.receivables import INVOICE_FIELDS, invoice_rows

    store = get_store(create=False)
    client_id = store.clients.resolve(client, include_archived=True)["id"] if client else None
    rows = invoice_rows(store, client_id, open_only=open_, overdue_only=overdue)
    if limit:
        rows = rows[:limit]
    emit_rows(rows, output_format(fmt, as_json), fields=INVOICE_FIELDS, columns=INVOICE_TABLE,
              shown=lambda rows: [{**r, "late": late_text(r["days_late"])
                                   if r["status"] == "overdue" else ""} for r in rows])


command(invoice_app, "add", context_settings={"ignore_unknown_options": True})(add_invoice)
command(invoice_app, "pay", context_settings={"ignore_unknown_options": True})(pay_invoice)
command(invoice_app, "payments")(list_payments)


def register(app: typer.Typer) -> None:
    app.add_typer(invoice_app, name="invoice")
    command(app, "invoices")(list_invoices)
