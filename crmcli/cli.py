"""The `crm` command: global options and the registry of commands. No business logic."""

from __future__ import annotations

import importlib
from enum import Enum
from typing import Annotated, get_args, get_origin

import typer
from typer.core import TyperGroup

from crmcli import __version__
from crmcli.commands import _context
from crmcli.commands._context import AppState


class OneLineErrors(TyperGroup):
    """Bad usage (unknown option, missing argument, bad value) is one line on stderr and
    exit 2, like every other crm error, instead of Click's usage block. The global options
    are taken anywhere on the line (`crm ls --db x.db` as `crm --db x.db ls`)."""

    def parse_args(self, ctx, args):
        try:
            args = hoist_global_options(args)
        except ValueError as exc:
            ctx.fail(str(exc))
        return super().parse_args(ctx, args)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):
        import sys

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
            sys.stderr.write(f"crm: error: {text} (see '{where} --help')\n")
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
    config: Annotated[str | None, typer.Option(
        "--config", metavar="PATH",
        help="Config file (else $CRM_CONFIG or $XDG_CONFIG_HOME/crmcli/config.yaml).")] = None,
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


_UNSURE = object()


def _plain_coercion(descriptor, value, ctx):
    """What Typer's Pydantic-based coercion returns for the plain cases, or _UNSURE.

    Plain cases: text for a `str`, digits for an `int`/`float` within its bounds, a choice
    of an Enum, text values of a `list[str]`. Anything else (and every value Typer would
    reject, so that its own message is printed) is _UNSURE and goes to Typer.
    """
    info = descriptor.parameter_info
    if descriptor.file_annotation is not None or info.parser is not None:
        return _UNSURE
    annotation = descriptor.annotation
    if annotation is str:
        return value if type(value) is str else _UNSURE
    if annotation is int or annotation is float:
        if type(value) is str and value.isascii() and value.isdigit():
            number = annotation(value)
        elif type(value) is int or (annotation is float and type(value) is float):
            number = annotation(value)
        else:
            return _UNSURE
        if info.clamp or (info.min is not None and number < info.min) or (
                info.max is not None and number > info.max):
            return _UNSURE
        return number
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        from typer._param_types import coerce_cli_choice

        try:
            return coerce_cli_choice(value, choices=tuple(annotation),
                                     case_sensitive=info.case_sensitive, ctx=ctx)
        except ValueError:
            return _UNSURE
    if get_origin(annotation) is list and get_args(annotation) == (str,):
        if isinstance(value, list | tuple) and all(type(v) is str for v in value):
            return list(value)
    return _UNSURE


def _defer_typer_coercion() -> None:
    """Let Typer skip Pydantic for values that need no real conversion.

    Typer 0.29 builds a Pydantic TypeAdapter for every parameter it processes, even one left
    at its default None, and importing Pydantic (plus building the adapter) costs more than
    importing Typer itself. None (which Typer returns untouched) and the plain cases of
    _plain_coercion are answered here; everything else still goes through Typer's own
    coercion, built on first use as before. If Typer's internals are not what this expects,
    nothing is changed.
    """
    try:
        from typer import _coercion, core
    except ImportError:  # pragma: no cover - another Typer layout
        return
    param_cls = getattr(core, "_TyperParameter", None)
    build = getattr(_coercion, "build_runtime_param", None)
    if param_cls is None or build is None or not hasattr(param_cls, "get_runtime_param"):
        return  # pragma: no cover

    class _Deferred:
        __slots__ = ()

        def coerce(self, value, param, ctx):
            multi = param.multiple or param.nargs == -1
            if value is None:
                return () if multi else None
            if multi and isinstance(value, str):
                return build(param.type_descriptor).coerce(value, param=param, ctx=ctx)
            plain = _plain_coercion(param.type_descriptor, value, ctx)
            if plain is not _UNSURE:
                return plain
            real = build(param.type_descriptor)
            param._runtime_param = real
            return real.coerce(value, param=param, ctx=ctx)

    deferred = _Deferred()

    def get_runtime_param(self):
        return deferred if self._runtime_param is None else self._runtime_param

    param_cls.get_runtime_param = get_runtime_param


_ROOT_OPTIONS_WITH_VALUE = ("--db", "--config")
_ROOT_FLAGS = ("--debug",)


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
        is_valued = arg in _ROOT_OPTIONS_WITH_VALUE
        is_global = (is_valued or arg in _ROOT_FLAGS
                     or arg.startswith(tuple(o + "=" for o in _ROOT_OPTIONS_WITH_VALUE)))
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


def _invoked_name(argv: list[str]) -> str | None:
    """The command or group named on the command line, after the root options."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _ROOT_OPTIONS_WITH_VALUE:
            i += 2
        elif arg == "--debug" or arg.startswith(tuple(o + "=" for o in _ROOT_OPTIONS_WITH_VALUE)):
            i += 1
        else:
            return None if arg.startswith("-") else arg
    return None


def _summary_only(info):
    """A copy of a command's registration with no parameters: enough to list it in help."""
    import copy

    original = info.callback

    def listed() -> None:  # pragma: no cover - never invoked
        raise RuntimeError("a help-only command was invoked")

    listed.__name__ = getattr(original, "__name__", "command")
    listed.__doc__ = getattr(original, "__doc__", None)
    summary = copy.copy(info)
    summary.callback = listed
    return summary


def _build_only_what_runs(typer_app: typer.Typer, argv: list[str]) -> None:
    """Typer turns every registered command into a Click command before parsing; that costs
    about a millisecond per command. Keep only the command (or group) that will run; for the
    root help, a usage error or an unknown name, keep every command as a parameterless
    summary, which lists exactly the same names and help lines."""
    name = _invoked_name(argv)
    commands = [c for c in typer_app.registered_commands if c.name == name]
    groups = [g for g in typer_app.registered_groups if g.name == name]
    if name is not None and len(commands) + len(groups) == 1:
        typer_app.registered_commands = commands
        typer_app.registered_groups = groups
        return
    if any(c.name is None for c in typer_app.registered_commands):
        return  # a name derived from the function: leave Typer to it
    typer_app.registered_commands = [_summary_only(c) for c in typer_app.registered_commands]
    for group in typer_app.registered_groups:
        if group.name is None or group.typer_instance is None:
            continue
        sub = group.typer_instance
        if any(c.name is None for c in sub.registered_commands):
            continue
        sub.registered_commands = [_summary_only(c) for c in sub.registered_commands]


def main() -> None:
    import sys

    _defer_typer_coercion()
    _build_only_what_runs(app, sys.argv[1:])
    if not sys.stdout.isatty():
        # Plain help and usage errors for pipes and scripts: rich is only loaded for a terminal.
        app.rich_markup_mode = None
    app(prog_name="crm")
