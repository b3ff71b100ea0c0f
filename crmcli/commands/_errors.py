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


INTERNAL_ERROR_EXIT = 70  # EX_SOFTWARE (sysexits.h): a fault of crm, not of its input


def user_error_of(exc: BaseException):
    """The CrmError a user should see for exc, or None for a fault of crm itself.

    CrmError is the one root of user-facing errors; the store translates its driver's
    errors, and an OSError names its file. The store is imported on the way out, so
    that loading the command modules (for `crm --help`, say) does not load it.
    """
    from crmcli.errors import CrmError, StoreError

    if isinstance(exc, CrmError):
        return exc
    from crmcli.store.store import user_error_of as driver_error_of

    translated = driver_error_of(exc)
    if translated is not None:
        return translated
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        return StoreError(f"{where}{exc.strerror or exc}")
    return None


def internal_error(exc: BaseException) -> NoReturn:
    """Last resort: an exception crm did not expect is one line, never a traceback."""
    detail = " ".join(f"{type(exc).__name__}: {exc}".split())
    if len(detail) > 300:
        detail = detail[:297] + "..."
    fail_line = f"crm: internal error: {detail}; run with --debug for details"
    sys.stderr.write(fail_line + "\n")
    raise typer.Exit(INTERNAL_ERROR_EXIT)


def _fail_on(exc: Exception) -> None:
    """fail() for an error the user can act on, the internal-error line for any other;
    with --debug, return so that the traceback is shown."""
    if debug_enabled():
        return
    error = user_error_of(exc)
    if error is None:
        internal_error(exc)
    fail(str(error), code=getattr(error, "exit_code", 1))


def command(app: typer.Typer, name: str, **kwargs: Any) -> Callable[[Callable], Callable]:
    """Register fn as a command of app, wrapped so that errors fail cleanly."""

    def register(fn: Callable) -> Callable:
        app.command(name, **kwargs)(handle_errors(fn))
        return fn

    return register
