"""Pipeline stages: crm stage CLIENT STAGE, and crm stage alone for the board."""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands._context import get_store
from crmcli.commands._errors import command, fail
from crmcli.commands._options import FormatOption, JsonOption, output_format
from crmcli.render.output import message


def set_stage(
    client: Annotated[str | None, typer.Argument(metavar="[CLIENT]",
                                                 help="The client to move (omit for the board).")
                      ] = None,
    stage: Annotated[str | None, typer.Argument(metavar="[STAGE]",
                                                help="A stage of the configured pipeline.")
                     ] = None,
    at: Annotated[str | None, typer.Option("--at", help="When the move happened (WHEN).")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why.")] = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move a client to a pipeline stage; with no arguments, show the pipeline board."""
    store = get_store(create=client is not None)
    if client is None:
        from crmcli.render.board import emit_board

        emit_board(store.clients.pipeline_board(), output_format(fmt, as_json))
        return
    if stage is None:
        fail("give the STAGE to move the client to, one of: "
             + ", ".join(store.config.pipeline), code=2)
    record = store.clients.resolve(client)
    when = None
    if at:
        from crmcli import dates

        when = dates.to_utc_iso(dates.parse_at(at))
    moved = store.clients.set_stage(record["id"], stage, at=when, note=note)
    if moved is None:
        message(f"client {record['id']} {record['name']} is already in stage "
                f"{store.clients.check_stage(stage)}")
    else:
        message(f"client {record['id']} {record['name']}: {moved['from_stage'] or '(none)'} → "
                f"{moved['to_stage']}")


def register(app: typer.Typer) -> None:
    command(app, "stage")(set_stage)
