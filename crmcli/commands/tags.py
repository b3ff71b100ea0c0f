"""Tags: crm tag CLIENT TAG... [--remove], crm tags."""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands._context import get_store
from crmcli.commands._errors import command
from crmcli.commands._options import FormatOption, JsonOption, output_format
from crmcli.commands.clients import ClientArg
from crmcli.render.output import emit, message


def tag_client(
    client: ClientArg,
    tags: Annotated[list[str], typer.Argument(metavar="TAG...", help="Tags to add.")],
    remove: Annotated[bool, typer.Option("--remove", "-r", help="Remove the tags instead.")
                      ] = False,
) -> None:
    """Add tags to a client (or remove them)."""
    store = get_store()
    record = store.clients.resolve(client)
    changed = store.clients.tag(record["id"], tags, remove=remove)
    now = store.clients.tags(record["id"])
    verb = "removed" if remove else "added"
    message(f"client {record['id']} {record['name']}: {verb} {', '.join(changed) or 'nothing'}; "
            f"tags now: {', '.join(now) or '(none)'}")


def list_tags(fmt: FormatOption = None, as_json: JsonOption = False) -> None:
    """Every tag with the number of clients carrying it."""
    emit(get_store(create=False).clients.tag_counts(), output_format(fmt, as_json), columns=["tag", "clients"])


def register(app: typer.Typer) -> None:
    command(app, "tag")(tag_client)
    command(app, "tags")(list_tags)
