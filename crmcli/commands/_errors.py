"""One way for every command to fail: one line on stderr, a non-zero exit."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import typer


def fail(message: str, hint: str | None = None, code: int = 1) -> NoReturn:
    text = f"crm: error: {message}"
    if hint:
        text += f" ({hint})"
    sys.stderr.write(" ".join(text.splitlines()) + "\n")
    raise typer.Exit(code)


def debug_enabled() -> bool:
    return os.environ.get("CRM_DEBUG") not in (None, "", "0")


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn domain and database errors into fail(); keeps fn's signature for Typer."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            # A command's return value is never its exit code (see cli.OneLineErrors).
            fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except BrokenPipeError:
            # `crm ls | head` closes the pipe early; that is not an error.
            try:
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115
            except OSError:
                pass
            raise typer.Exit(0) from None
        except KeyboardInterrupt:
            sys.stderr.write("crm: interrupted\n")
            raise typer.Exit(130) from None
        except Exception as exc:
            _fail_on(exc)
            raise

    return wrapper


def _fail_on(exc: Exception) -> None:
    """fail() for a domain, config, database, date or OS error; return for anything else.

    The error classes are imported here, on the way out, so that loading the command
    modules (for `crm --help`, say) does not load the store.
    """
    import sqlite3

    from crmcli.config import ConfigError
    from crmcli.store.errors import CrmError

    if debug_enabled():
        return
    if isinstance(exc, CrmError):
        fail(str(exc), code=exc.exit_code)
    if isinstance(exc, ConfigError):
        fail(str(exc))
    if isinstance(exc, sqlite3.Error):
        from crmcli.store.store import _describe_db_error

        fail(_describe_db_error(exc))
    if isinstance(exc, ValueError):
        from crmcli.dates import DateError

        if isinstance(exc, DateError):
            fail(str(exc))
        return
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        fail(f"{where}{exc.strerror or exc}")


def command(app: typer.Typer, name: str, **kwargs: Any) -> Callable[[Callable], Callable]:
    """Register fn as a command of app, wrapped so that errors fail cleanly."""

    def register(fn: Callable) -> Callable:
        app.command(name, **kwargs)(handle_errors(fn))
        return fn

    return register
