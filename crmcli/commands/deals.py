"""Deals: crm deal CLIENT AMOUNT, crm edit-deal ID, crm stage-deal ID STAGE, crm deals [CLIENT]
(--open: the board of open deals by stage; --history: their stage moves)."""

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
               "stage", "probability", "close_date", "custom"]
TABLE_COLUMNS = ["id", "client", "date", "title", "amount", "currency", "stage", "probability",
                 "close_date"]
HISTORY_FIELDS = ["id", "deal_id", "client_id", "client", "title", "from_stage", "to_stage",
                  "at", "note"]
HISTORY_COLUMNS = ["deal_id", "client", "title", "from_stage", "to_stage", "at", "note"]

StageOption = Annotated[str | None, typer.Option(
    "--stage", help="A deal stage (deals.stages in the config, then won or lost); the status "
                    "follows it.")]
ProbabilityOption = Annotated[str | None, typer.Option(
    "--probability", metavar="PERCENT",
    help="Chance of winning, 0-100, instead of the stage's default ('' restores it).")]
CloseOption = Annotated[str | None, typer.Option(
    "--close", metavar="WHEN", help="Expected close date (WHEN; '' clears it).")]


def _close_day(text: str | None):
    """--close WHEN as a date ('' clears it)."""
    if text is None or not text.strip():
        return text
    from crmcli import dates

    return dates.parse_when(text)


def add_deal(
    client: Annotated[str, typer.Argument(metavar="CLIENT",
                                          help="Id, email, external id, name or part of a name.")],
    amount: Annotated[str, typer.Argument(metavar="AMOUNT",
                                          help="Exact decimal amount, e.g. 1200 or 19.99.")],
    at: Annotated[str | None, typer.Option("--at", help="When (WHEN; default now).")] = None,
    title: Annotated[str | None, typer.Option("--title", help="What was sold.")] = None,
    status: Annotated[str | None, typer.Option(
        "--status", help="won, open or lost (default won, or what --stage says).")] = None,
    currency: Annotated[str | None, typer.Option("--currency",
                                                 help="Three-letter code (default: currency in "
                                                      "the config).")] = None,
    set_: SetOption = None,
    stage: StageOption = None,
    probability: ProbabilityOption = None,
    close: CloseOption = None,
    quiet: QuietOption = False,
) -> None:
    """Record a deal (won deals are the revenue behind retention and CLV); prints its id.
    An open deal starts in the first deal stage unless --stage says otherwise."""
    from crmcli import dates
    from crmcli.commands.clients import parse_sets

    store = get_store()
    record = store.clients.resolve(client)
    when = dates.parse_at(at) if at else None
    deal_id = store.deals.add(record["id"], amount, at=when, title=title, status=status,
                             currency=currency, custom=parse_sets(set_), stage=stage,
                             probability=probability, close_date=_close_day(close))
    typer.echo(deal_id)
    if not quiet:
        deal = store.deals.get(deal_id)
        where = (f" in stage {deal['stage']} ({store.deals.probability_of(deal)}%)"
                 if deal["status"] == "open" else "")
        message(f"recorded {deal['status']} deal {deal_id}: {deal['amount']} {deal['currency']} "
                f"for client {record['id']} {record['name']}{where}")


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
    probability: ProbabilityOption = None,
    close: CloseOption = None,
) -> None:
    """Change a deal: its status (open to won), amount, date, title, currency, client,
    probability or expected close date (crm stage-deal moves it through the stages)."""
    store = get_store()
    fields: dict = {}
    if probability is not None:
        fields["probability"] = probability
    if close is not None:
        fields["close_date"] = _close_day(close)
    if client is not None:
        fields["client_id"] = store.clients.resolve(client)["id"]
    if amount is not None:
        fields["amount"] = amount
    if at is not None:
        from crmcli import dates

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
                         "--currency, --client, --set, --probability or --close")
    _report_edit(store, deal_id, store.deals.edit(deal_id, **fields), fields.get("custom"))


def _report_edit(store, deal_id: int, changed: list[str], custom: dict | None = None
                 ) -> None:
    """Say on stderr what an edit changed."""
    deal = store.deals.get(deal_id)
    if not changed:
        message(f"deal {deal_id} unchanged")
        return
    if "status" in changed and deal["stage"] == deal["status"]:
        changed = [k for k in changed if k != "stage"]  # won is won: said once
    message(f"deal {deal_id}: " + ", ".join(_describe(store, deal, changed, custom)))


def _describe(store, deal: dict, changed: list[str], custom: dict | None = None) -> list[str]:
    from crmcli import dates

    said = []
    for field in changed:
        value = deal[field]
        if field == "client_id":
            said.append(f"client {value} {store.clients.get(value)['name']}")
        elif field == "custom":
            said.append("custom fields " + (", ".join(f"{k}={v}" for k, v in custom.items())
                                            if custom else "set"))
        elif field == "probability":
            own = "" if value is not None else " (the stage's default)"
            said.append(f"probability {store.deals.probability_of(deal)}%{own}")
        elif value is None:
            said.append(f"{field} cleared")
        else:
            said.append(f"{field} {dates.format_local(value) if field == 'at' else value}")
    return said


def stage_deal(
    deal_id: Annotated[int, typer.Argument(metavar="ID", callback=within_int64,
                                           help="The deal's id (crm deals).",
                                           show_default=False)],
    stage: Annotated[str, typer.Argument(
        metavar="STAGE", help="A deal stage: deals.stages in the config, then won or lost.",
        show_default=False)],
    at: Annotated[str | None, typer.Option(
        "--at", help="When the move happened (WHEN; default now); a move to won or lost "
                     "makes it the deal's date too.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why.")] = None,
    probability: ProbabilityOption = None,
    close: CloseOption = None,
) -> None:
    """Move a deal to a stage of the deal pipeline (won and lost close it); its probability
    becomes the stage's default unless --probability is given."""
    store = get_store()
    fields: dict = {}
    if at is not None:
        from crmcli import dates

        fields["at"] = dates.parse_at(at)
    if note is not None:
        fields["note"] = note
    if probability is not None:
        fields["probability"] = probability
    if close is not None:
        fields["close_date"] = _close_day(close)
    before = store.deals.get(deal_id)["stage"]
    changed = store.deals.move(deal_id, stage, **fields)
    deal = store.deals.get(deal_id)
    if "stage" in changed:
        chance = store.deals.probability_of(deal)
        rest = _describe(store, deal, [k for k in changed
                                       if k not in ("stage", "status", "probability")])
        message(f"deal {deal_id}: {before or '(none)'} → {deal['stage']}"
                + (f" ({chance}%)" if deal["status"] == "open" and chance is not None else "")
                + "".join(f", {r}" for r in rest))
    elif changed:
        _report_edit(store, deal_id, changed)
    else:
        message(f"deal {deal_id} is already in stage {deal['stage']}")


def list_deals(
    client: Annotated[str | None, typer.Argument(metavar="[CLIENT]",
                                                 help="Only this client's deals.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only won, open or lost.")
                      ] = None,
    where: WhereOption = None,
    board: Annotated[bool, typer.Option(
        "--open", help="The open deals as a board, a column per stage (other formats: the "
                       "open deals as records, in board order).")] = False,
    history: Annotated[bool, typer.Option(
        "--history", help="The deals' stage moves, oldest first (--limit: the latest N).")
    ] = False,
    limit: LimitOption = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """List deals, newest first (amounts exactly as entered); --open shows the open deals as
    a board by stage, --history their stage moves."""
    from crmcli import dates

    store = get_store(create=False)
    client_id = store.clients.resolve(client, include_archived=True)["id"] if client else None
    if board or history:
        from crmcli.errors import UsageError

        if board and history or status or where:
            raise UsageError("--open, --history and --status/--where each choose what is listed: "
                             "give one")
    if history:
        moves = store.deals.stage_history(client_id=client_id, limit=limit)
        emit_rows(moves, output_format(fmt, as_json), fields=HISTORY_FIELDS,
                  columns=HISTORY_COLUMNS)
        return
    if board:
        from crmcli.render.board import emit_deal_board

        columns = store.deals.board(client_id)
        emit_deal_board(columns, output_format(fmt, as_json), DEAL_FIELDS)
        return
    rows = store.deals.list(client_id, status, limit=limit, conditions=where or ())
    emit_rows(rows, output_format(fmt, as_json), fields=DEAL_FIELDS, columns=TABLE_COLUMNS,
              shown=lambda rows: [{**r, "date": dates.local_date_of(r["at"]).isoformat()}
                                  for r in rows])


def register(app: typer.Typer) -> None:
    # Unknown options pass through as arguments so that `crm deal X -5` reaches the amount
    # check ("must not be negative") instead of "no such option -5".
    command(app, "deal", context_settings={"ignore_unknown_options": True})(add_deal)
    command(app, "edit-deal", context_settings={"ignore_unknown_options": True})(edit_deal)
    command(app, "stage-deal")(stage_deal)
    command(app, "deals")(list_deals)
