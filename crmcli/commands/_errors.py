"""One way for every command to fail: one line on stderr, a non-zero exit."""

from __future__ import annotations

import functools
import os
import sqlite3
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import typer

from crmcli.config import ConfigError
from crmcli.store.errors import CrmError


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
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except CrmError as exc:
            if debug_enabled():
                raise
            fail(str(exc), code=exc.exit_code)
        except ConfigError as exc:
            if debug_enabled():
                raise
            fail(str(exc))
        except sqlite3.Error as exc:
            if debug_enabled():
                raise
            from crmcli.store.store import _describe_db_error

            fail(_describe_db_error(exc))
        except ValueError as exc:
            from crmcli.dates import DateError

            if debug_enabled() or not isinstance(exc, DateError):
                raise
            fail(str(exc))
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
        except OSError as exc:
            if debug_enabled():
                raise
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            fail(f"{where}{exc.strerror or exc}")

    return wrapper


def command(app: typer.Typer, name: str, **kwargs: Any) -> Callable[[Callable], Callable]:
    """Register fn as a command of app, wrapped so that errors fail cleanly."""

    def register(fn: Callable) -> Callable:
        app.command(name, **kwargs)(handle_errors(fn))
        return fn

    return register
