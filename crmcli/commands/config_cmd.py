"""The configuration: crm config show|path|init."""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands._context import get_config, state
from crmcli.commands._errors import command, fail
from crmcli.commands._help import CrmGroup
from crmcli.commands._options import FormatOption, JsonOption, output_format
from crmcli.render.output import emit, message, to_json

config_app = typer.Typer(cls=CrmGroup, help="The configuration: show, get, set, path, init.",
                         no_args_is_help=True)


def _flatten(prefix: str, value, rows: list[dict]) -> None:
    if isinstance(value, dict) and value and prefix not in ("smtp.owners",):
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}" if prefix else key, sub, rows)
    else:
        rows.append({"key": prefix, "value": value})


def show_config(fmt: FormatOption = None, as_json: JsonOption = False) -> None:
    """Show the configuration in effect (defaults merged with the file)."""
    cfg = get_config()
    fmt_name = output_format(fmt, as_json)
    from crmcli.render.output import selection

    if fmt_name == "json" and selection().fields is None:
        typer.echo(to_json(cfg.data, indent=2))
        return
    rows: list[dict] = []
    _flatten("", cfg.data, rows)
    for row in rows:
        if isinstance(row["value"], list | dict):
            row["value"] = to_json(row["value"])
    emit(rows, fmt_name, columns=["key", "value"])


def config_path() -> None:
    """Print the config file path in use (it need not exist)."""
    from crmcli.config import resolve_config_path

    path, _ = resolve_config_path(state().config_option)
    typer.echo(str(path))


def init_config(force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")
                                 ] = False) -> None:
    """Write the example config (every key with its default) to the config path."""
    from crmcli.config import example_config_text, resolve_config_path

    path, _ = resolve_config_path(state().config_option)
    if path.exists() and not force:
        fail(f"{path}: already exists; add --force to overwrite it")
    from crmcli.config import Config, resolve_db_path
    from crmcli.files import output_file

    with output_file(path, db=resolve_db_path(state().db_option, Config())) as fh:
        fh.write(example_config_text())
    message(f"wrote {path}")
    typer.echo(str(path))


def get_key(key: Annotated[str, typer.Argument(metavar="KEY",
                                              help="A dotted key, e.g. due.within.")]) -> None:
    """Print one key's value in effect (text as is, lists and mappings as JSON; nothing if
    unset)."""
    from crmcli.config_edit import known_key

    known_key(key)
    value = get_config()[key]
    if value is None:
        return
    if isinstance(value, bool):
        typer.echo("true" if value else "false")
    elif isinstance(value, list | dict):
        typer.echo(to_json(value))
    else:
        typer.echo(str(value))


def set_key(key: Annotated[str, typer.Argument(metavar="KEY",
                                               help="A dotted key, e.g. due.within.")],
            value: Annotated[str, typer.Argument(metavar="VALUE",
                                                 help="Its value as YAML reads it: 14d, true, "
                                                      "30, [a, b]; null unsets it.")]) -> None:
    """Set one key in the config file, checked as loading checks it; the file's other lines
    and comments stay as they are."""
    from crmcli.config import resolve_config_path
    from crmcli.config_edit import set_key as set_in_file

    path, _ = resolve_config_path(state().config_option)
    value = set_in_file(path, key, value)
    shown = to_json(value) if isinstance(value, list | dict) else value
    message(f"{path}: {key} = {shown}")


command(config_app, "show")(show_config)
command(config_app, "get")(get_key)
command(config_app, "set")(set_key)
command(config_app, "path")(config_path)
command(config_app, "init")(init_config)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
