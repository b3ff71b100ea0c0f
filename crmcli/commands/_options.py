"""Shared option types, so every command spells them the same way."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from crmcli.render.formats import FORMATS

Format = Enum("Format", {name: name for name in FORMATS}, type=str)


FormatOption = Annotated[
    Format | None,
    typer.Option("--format", "-f", help="Output format (default: table, or output.format in the "
                                        "config).", case_sensitive=False, show_default=False),
]
# The largest id or count SQLite stores (a signed 64-bit integer): larger numbers are refused
# by the argument parser, naming the argument, before they reach the database.
MAX_INT = 2**63 - 1


def within_int64(value: int | None) -> int | None:
    if value is not None and abs(value) > MAX_INT:
        raise typer.BadParameter(f"{value} is too large (ids and counts go up to {MAX_INT})")
    return value


JsonOption = Annotated[bool, typer.Option("--json", help="Same as --format json.")]
LimitOption = Annotated[int | None, typer.Option("--limit", "-n", min=1, callback=within_int64,
                                                 help="Show at most this many rows.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the id.")]
WhereOption = Annotated[list[str] | None, typer.Option(
    "--where", "-w", metavar="CONDITION",
    help="FIELD OP VALUE with OP = != < <= > >= ~ (contains) !~, or 'FIELD is [not] empty', on "
         "a column or a declared custom field (custom.KEY: any custom key); repeatable: all "
         "must hold.")]
SetOption = Annotated[list[str] | None, typer.Option(
    "--set", metavar="KEY=VALUE", help="A custom field (repeatable; KEY= removes it). Declared "
                                       "fields are checked against their type.")]


def output_format(fmt: Format | None, as_json: bool = False) -> str:
    if as_json:
        return "json"
    if fmt is not None:
        return fmt.value
    from crmcli.commands._context import get_config

    return get_config()["output.format"]
