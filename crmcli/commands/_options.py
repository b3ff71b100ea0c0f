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
JsonOption = Annotated[bool, typer.Option("--json", help="Same as --format json.")]
LimitOption = Annotated[int | None, typer.Option("--limit", "-n", min=1,
                                                 help="Show at most this many rows.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the id.")]


def output_format(fmt: Format | None, as_json: bool = False) -> str:
    if as_json:
        return "json"
    if fmt is not None:
        return fmt.value
    from crmcli.commands._context import get_config

    return get_config()["output.format"]
