"""Pipeline stages: crm stage CLIENT STAGE, and crm stage alone for the board."""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands._context import get_store
from crmcli.commands._errors import command, fail
from crmcli.commands._options import FormatOption, JsonOption, output_format
from crmcli.render.output import emit, is_terminal, message


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
    store = get_store()
    if client is None:
        render_board(store.pipeline_board(), output_format(fmt, as_json))
        return
    if stage is None:
        fail("give the STAGE to move the client to, one of: " + ", ".join(store.pipeline), code=2)
    record = store.resolve_client(client)
    when = None
    if at:
        from crmcli import dates

        when = dates.to_utc_iso(dates.parse_at(at))
    moved = store.set_stage(record["id"], stage, at=when, note=note)
    if moved is None:
        message(f"client {record['id']} {record['name']} is already in stage "
                f"{store.check_stage(stage)}")
    else:
        message(f"client {record['id']} {record['name']}: {moved['from_stage'] or '(none)'} → "
                f"{moved['to_stage']}")


def render_board(board: list[dict], fmt: str) -> None:
    if fmt != "table":
        emit([{"stage": b["stage"], "clients": b["clients"], "names": b["names"]} for b in board],
             fmt, columns=["stage", "clients", "names"])
        return
    if is_terminal():
        from rich.columns import Columns
        from rich.panel import Panel

        from crmcli.render.output import rich_console

        panels = []
        for column in board:
            names = column["names"][:8]
            body = "\n".join(names) + (f"\n… {len(column['names']) - 8} more"
                                       if len(column["names"]) > 8 else "")
            panels.append(Panel(body or "[dim]—[/dim]", width=24,
                                title=f"{column['stage'] or '(no stage)'} · {column['clients']}"))
        rich_console().print(Columns(panels))
        return
    rows = []
    for column in board:
        names = column["names"][:5]
        more = f" +{len(column['names']) - 5}" if len(column["names"]) > 5 else ""
        rows.append({"stage": column["stage"] or "(no stage)", "clients": column["clients"],
                     "bar": "#" * min(column["clients"], 40),
                     "names": ", ".join(names) + more})
    emit(rows, "table", columns=["stage", "clients", "bar", "names"])


def register(app: typer.Typer) -> None:
    command(app, "stage")(set_stage)
