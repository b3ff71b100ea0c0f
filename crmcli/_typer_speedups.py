"""Start-up speed-ups that lean on Typer 0.29's internals, kept apart from the app.

On every run Typer turns each registered command into a Click command (about a millisecond
per command) and builds a Pydantic TypeAdapter for each parameter it processes, even one
left at its default (importing Pydantic costs more than importing Typer). Together they
double the start-up of a read command (`crm due`: 0.13 s with these speed-ups, 0.26 s
without). This module answers both, and is the only place that touches Typer's internals
for speed:

- `prepare` hands Typer a copy of the app holding only the command (or group) that runs;
- `install_plain_coercion` answers the plain option values (text, digits, a choice) that
  need no Pydantic, and leaves every other value to Typer's own coercion.

`CRM_TYPER_SPEEDUPS=0` turns both off: crm then runs on Typer exactly as published (same
output, slower start-up). tests/test_typer_speedups.py fails when a Typer release changes
what they rely on, and CI runs the suite both ways.
"""

from __future__ import annotations

import copy
import os
from enum import Enum
from typing import get_args, get_origin

SWITCH = "CRM_TYPER_SPEEDUPS"


def enabled() -> bool:
    """On unless $CRM_TYPER_SPEEDUPS is 0 (or off, false, no)."""
    return os.environ.get(SWITCH, "1").strip().lower() not in ("0", "off", "false", "no")


def prepare(app, argv: list[str], options_with_value: tuple[str, ...] = (),
            flags: tuple[str, ...] = ()):
    """The Typer app to run for `argv`: `app` itself when the speed-ups are off, else a copy
    that builds only what runs, with the plain coercion installed. `options_with_value` and
    `flags` are the root options that may come before the command's name."""
    if not enabled():
        return app
    install_plain_coercion()
    return only_what_runs(app, argv, options_with_value, flags)


# --- building only the command that runs --------------------------------------------------


def invoked_name(argv: list[str], options_with_value: tuple[str, ...] = (),
                 flags: tuple[str, ...] = ()) -> str | None:
    """The command or group named on the command line, after the root options."""
    with_equals = tuple(o + "=" for o in options_with_value)
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in options_with_value:
            i += 2
        elif arg in flags or arg.startswith(with_equals):
            i += 1
        else:
            return None if arg.startswith("-") else arg
    return None


def summary_only(info):
    """A copy of a command's registration with no parameters: enough to list it in help."""
    original = info.callback

    def listed() -> None:  # pragma: no cover - never invoked
        raise RuntimeError("a help-only command was invoked")

    listed.__name__ = getattr(original, "__name__", "command")
    listed.__doc__ = getattr(original, "__doc__", None)
    summary = copy.copy(info)
    summary.callback = listed
    return summary


def only_what_runs(app, argv: list[str], options_with_value: tuple[str, ...] = (),
                   flags: tuple[str, ...] = ()):
    """A copy of `app` that Typer turns into Click commands quickly: only the command (or
    group) that will run; for the root help, a usage error or an unknown name, every
    command as a parameterless summary, which lists exactly the same names and help lines.
    `app` itself is left as it was."""
    name = invoked_name(argv, options_with_value, flags)
    commands = [c for c in app.registered_commands if c.name == name]
    groups = [g for g in app.registered_groups if g.name == name]
    run = copy.copy(app)
    if name is not None and len(commands) + len(groups) == 1:
        run.registered_commands = commands
        run.registered_groups = groups
        return run
    if any(c.name is None for c in app.registered_commands):
        return app  # a name derived from the function: leave Typer to it
    run.registered_commands = [summary_only(c) for c in app.registered_commands]
    run.registered_groups = []
    for group in app.registered_groups:
        sub = group.typer_instance
        if group.name is None or sub is None or any(
                c.name is None for c in sub.registered_commands):
            run.registered_groups.append(group)
            continue
        listed = copy.copy(sub)
        listed.registered_commands = [summary_only(c) for c in sub.registered_commands]
        summary = copy.copy(group)
        summary.typer_instance = listed
        run.registered_groups.append(summary)
    return run


# --- answering plain option values without Pydantic -------------------------------------

UNSURE = object()


def plain_coercion(descriptor, value, ctx):
    """What Typer's Pydantic-based coercion returns for the plain cases, or UNSURE.

    Plain cases: text for a `str`, digits for an `int`/`float` within its bounds, a choice
    of an Enum, text values of a `list[str]`. Anything else (and every value Typer would
    reject, so that its own message is printed) is UNSURE and goes to Typer.
    """
    info = descriptor.parameter_info
    if descriptor.file_annotation is not None or info.parser is not None:
        return UNSURE
    annotation = descriptor.annotation
    if annotation is str:
        return value if type(value) is str else UNSURE
    if annotation is int or annotation is float:
        if type(value) is str and value.isascii() and value.isdigit():
            number = annotation(value)
        elif type(value) is int or (annotation is float and type(value) is float):
            number = annotation(value)
        else:
            return UNSURE
        if info.clamp or (info.min is not None and number < info.min) or (
                info.max is not None and number > info.max):
            return UNSURE
        return number
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        from typer._param_types import coerce_cli_choice

        try:
            return coerce_cli_choice(value, choices=tuple(annotation),
                                     case_sensitive=info.case_sensitive, ctx=ctx)
        except ValueError:
            return UNSURE
    if get_origin(annotation) is list and get_args(annotation) == (str,):
        if isinstance(value, list | tuple) and all(type(v) is str for v in value):
            return list(value)
    return UNSURE


class _Deferred:
    """Stands in for a parameter's runtime coercion until a value needs Typer's own."""

    __slots__ = ()

    def coerce(self, value, param, ctx):
        from typer._coercion import build_runtime_param

        multi = param.multiple or param.nargs == -1
        if value is None:
            return () if multi else None  # what Typer returns for a value left unset
        if multi and isinstance(value, str):
            return build_runtime_param(param.type_descriptor).coerce(value, param=param,
                                                                     ctx=ctx)
        plain = plain_coercion(param.type_descriptor, value, ctx)
        if plain is not UNSURE:
            return plain
        real = build_runtime_param(param.type_descriptor)
        param._runtime_param = real
        return real.coerce(value, param=param, ctx=ctx)


_DEFERRED = _Deferred()


def get_runtime_param(self):
    """Replaces `typer.core._TyperParameter.get_runtime_param`, which builds Pydantic's
    coercion for every parameter: the real one is built only for a value that needs it."""
    return _DEFERRED if self._runtime_param is None else self._runtime_param


def install_plain_coercion() -> None:
    """Typer's parameters use `get_runtime_param` above (idempotent; for the process)."""
    from typer import core

    core._TyperParameter.get_runtime_param = get_runtime_param
