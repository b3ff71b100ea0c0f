"""One way for every command to fail: one line on stderr, a non-zero exit."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any, NoReturn

import typer


def fail(message: str, hint: str | None = None, code: int = 1) -> NoReturn:
    text = f"crm: error: {message}"
    if hint:
        text += f" ({hint})"
    from crmcli.render.safe import visible

    sys.stderr.write(visible(" ".join(text.splitlines())) + "\n")
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
    from crmcli.store import user_error_of as driver_error_of

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
    from crmcli.render.safe import visible

    fail_line = f"crm: internal error: {visible(detail)}; run with --debug for details"
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


FieldsOption = Annotated[
    str | None,
    typer.Option("--fields", metavar="NAME,...",
                 help="Print only these fields, in this order (the names of the JSON output).")]
NoHeadersOption = Annotated[
    bool, typer.Option("--no-headers", help="Leave out the header line (table, csv, tsv).")]
RawOption = Annotated[
    bool, typer.Option("--raw", help="csv/tsv: write values as stored, without the ' that "
                                     "keeps spreadsheets from running =, +, -, @ as formulas.")]


class _WithOutputChoice:
    """A record-printing command taking --fields, --no-headers and --raw as well: they go to
    the one output path, not to the command. Its signature (which evaluates the command's
    annotations) is worked out when Typer asks for it, that is, only for the command that
    runs, not for each of the fifty at start-up."""

    def __init__(self, fn: Callable) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.__annotations__ = {**fn.__annotations__, "fields": FieldsOption,
                                "no_headers": NoHeadersOption, "raw": RawOption}
        self._signature = None

    @property
    def __signature__(self):
        if self._signature is None:
            import inspect

            signature = inspect.signature(self.fn, eval_str=True)
            extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                       annotation=annotation)
                     for name, default, annotation in (("fields", None, FieldsOption),
                                                       ("no_headers", False, NoHeadersOption),
                                                       ("raw", False, RawOption))]
            self._signature = signature.replace(
                parameters=[*signature.parameters.values(), *extra])
        return self._signature

    def __call__(self, *args: Any, fields: str | None = None, no_headers: bool = False,
                 raw: bool = False, **kwargs: Any) -> None:
        from crmcli.render.output import choose

        choose(fields, headers=not no_headers, raw=raw)
        try:
            self.fn(*args, **kwargs)
        finally:
            choose()  # in-process callers (tests) run the next command with none


def _with_output_choice(fn: Callable) -> Callable:
    """fn, with --fields, --no-headers and --raw if it prints records (has a --format
    option, the parameter `fmt`)."""
    code = fn.__code__
    if "fmt" not in code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]:
        return fn
    return _WithOutputChoice(fn)


def command(app: typer.Typer, name: str, **kwargs: Any) -> Callable[[Callable], Callable]:
    """Register fn as a command of app, wrapped so that errors fail cleanly; a command with
    --format takes --fields and --no-headers too."""

    def register(fn: Callable) -> Callable:
        from crmcli.commands._examples import epilog
        from crmcli.commands._help import CrmCommand

        kwargs.setdefault("cls", CrmCommand)
        kwargs.setdefault("epilog", epilog(fn.__name__))
        app.command(name, **kwargs)(handle_errors(_with_output_choice(fn)))
        return fn

    return register
