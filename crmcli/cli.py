"""The `crm` command: global options and the registry of commands. No business logic."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated

import typer
from typer.core import TyperGroup

from crmcli import __version__, _typer_speedups
from crmcli.commands import _context
from crmcli.commands._context import AppState


class OneLineErrors(TyperGroup):
    """Bad usage (unknown option, missing argument, bad value) is one line on stderr and
    exit 2, like every other crm error, instead of Click's usage block. The global options
    are taken anywhere on the line (`crm ls --db x.db` as `crm --db x.db ls`)."""

    def get_short_help_str(self, limit: int = 45) -> str:
        from crmcli.commands._help import summary

        return summary(self.short_help or self.help)

    def parse_args(self, ctx, args):
        try:
            args = hoist_global_options(args)
        except ValueError as exc:
            ctx.fail(str(exc))
        return super().parse_args(ctx, args)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):
        # Typer 0.29 carries its own copy of Click: its exceptions, not click's.
        from typer import Abort, Exit
        from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

        try:
            # Not standalone: Click raises its errors here and returns the code of an Exit.
            code = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
        except NoArgsIsHelpError as exc:
            exc.show()  # `crm` or `crm report` alone: the help, on stderr, exit 2
            code = exc.exit_code
        except UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "crm"
            text = " ".join(exc.format_message().split()).replace("Value error, ", "")
            from crmcli.render.safe import visible

            sys.stderr.write(visible(f"crm: error: {text} (see '{where} --help')") + "\n")
            code = exc.exit_code
        except ClickException as exc:
            exc.show()
            code = exc.exit_code
        except Abort:
            sys.stderr.write("crm: aborted\n")
            code = 1
        except Exception as exc:
            # Outside a command (the root callback, Typer itself): the same last resort.
            from crmcli.commands._errors import debug_enabled, internal_error

            if debug_enabled():
                raise
            try:
                internal_error(exc)
            except Exit as stop:
                code = stop.exit_code
        if not standalone_mode:
            return code
        sys.exit(code or 0)


app = typer.Typer(
    name="crm",
    cls=OneLineErrors,
    no_args_is_help=True,
    add_completion=False,
    help="A customer-relationship manager for the terminal, on one SQLite file.",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)

# One module per command group; each exposes register(app). Order is the order of `crm --help`.
COMMAND_MODULES = (
    "clients", "contacts", "tags", "stage", "log", "deals", "invoices", "due", "io", "report",
    "history", "db", "team", "config_cmd", "demo", "completion",
)


# The root options that may come before a command's name, as they are declared in root().
ROOT_OPTIONS_WITH_VALUE = ("--db", "--config")
ROOT_FLAGS = ("--debug", "--no-hooks")


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
    config: Annotated[str | None, typer.Option(
        "--config", metavar="PATH",
        help="Config file (else $CRM_CONFIG or $XDG_CONFIG_HOME/crmcli/config.yaml).")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    no_hooks: Annotated[bool, typer.Option("--no-hooks", help="Run no hooks (also "
                                                              "CRM_NO_HOOKS=1).")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    if debug:
        os.environ["CRM_DEBUG"] = "1"
    ctx.obj = _context.begin(AppState(db_option=db, config_option=config, debug=debug,
                                      no_hooks=no_hooks))
    ctx.call_on_close(_context.close)


for _name in COMMAND_MODULES:
    importlib.import_module(f"crmcli.commands.{_name}").register(app)


def hoist_global_options(args: list[str]) -> list[str]:
    """args with the global options found after the command moved in front of it.

    No command defines an option of the same name, so one of these names after the command
    can only mean the global option; `--` ends the options, as everywhere.
    """
    hoisted: list[str] = []
    rest: list[str] = []
    i = 0
    seen_command = False
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        is_valued = arg in ROOT_OPTIONS_WITH_VALUE
        is_global = (is_valued or arg in ROOT_FLAGS
                     or arg.startswith(tuple(o + "=" for o in ROOT_OPTIONS_WITH_VALUE)))
        if not seen_command and not is_global and not arg.startswith("-"):
            seen_command = True
        if seen_command and is_global:
            if is_valued and i + 1 == len(args):
                raise ValueError(f"Option '{arg}' requires an argument.")
            hoisted.extend(args[i:i + 2] if is_valued else [arg])
            i += 2 if is_valued else 1
            continue
        if not seen_command and is_valued:
            rest.extend(args[i:i + 2])
            i += 2
            continue
        rest.append(arg)
        i += 1
    return hoisted + rest if hoisted else list(args)


def for_argv(argv: list[str]) -> typer.Typer:
    """The app to run for this command line: with the start-up speed-ups on (the default,
    see crmcli/_typer_speedups.py), a copy of `app` holding only the command it names."""
    return _typer_speedups.prepare(app, argv, options_with_value=ROOT_OPTIONS_WITH_VALUE,
                                   flags=ROOT_FLAGS)


def main() -> None:
    if os.environ.get("_CRM_COMPLETE"):
        # The completion script asking for candidates (crm completion SHELL).
        from crmcli.commands.completion import answer

        sys.exit(answer(sys.argv[1:]))
    command = for_argv(sys.argv[1:])
    if not sys.stdout.isatty():
        # Plain help and usage errors for pipes and scripts: rich is only loaded for a terminal.
        command.rich_markup_mode = None
    command(prog_name="crm")
