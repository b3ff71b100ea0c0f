"""The `crm` command: global options and the registry of commands. No business logic."""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from crmcli import __version__
from crmcli.commands import _context
from crmcli.commands._context import AppState

app = typer.Typer(
    name="crm",
    no_args_is_help=True,
    add_completion=False,
    help="A customer-relationship manager for the terminal, on one SQLite file.",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)

# One module per command group; each exposes register(app). Order is the order of `crm --help`.
COMMAND_MODULES = (
    "clients", "contacts", "tags", "stage", "log", "deals", "due", "io", "report",
    "history", "db", "config_cmd", "demo",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"crm {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[str | None, typer.Option("--db", metavar="PATH", envvar=None,
                                           help="Database file (else $CRM_DB, db: in the config, "
                                                "or the XDG data dir).")] = None,
    config: Annotated[str | None, typer.Option("--config", metavar="PATH",
                                               help="Config file (else $CRM_CONFIG or "
                                                    "$XDG_CONFIG_HOME/crmcli/config.yaml).")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    import os

    if debug:
        os.environ["CRM_DEBUG"] = "1"
    ctx.obj = _context.begin(AppState(db_option=db, config_option=config, debug=debug))
    ctx.call_on_close(_context.close)


for _name in COMMAND_MODULES:
    importlib.import_module(f"crmcli.commands.{_name}").register(app)


def main() -> None:
    app(prog_name="crm")
