"""crm demo: build a sample book of business in a scratch database and show it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crmcli.commands._context import get_config, state
from crmcli.commands._errors import command, fail
from crmcli.render.output import message


def _target(path: str | None) -> tuple[Path | str, bool]:
    """The demo database (a file, or a postgresql:// URL) and whether the user named it.
    Never $CRM_DB or the config's db: only an explicit PATH / --db, else a fresh temporary
    directory."""
    from crmcli.config import is_server_url

    chosen = path or state().db_option
    if is_server_url(chosen):
        return chosen, True
    if chosen:
        return Path(chosen).expanduser(), True
    import tempfile

    return Path(tempfile.mkdtemp(prefix="crm-demo-")) / "crm-demo.db", False


def _clear(target: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(target) + suffix).unlink(missing_ok=True)


def _refuse_a_book_on_the_server(url: str, config, force: bool) -> None:
    """A database on a server is never emptied by the demo: one holding a book is refused
    (with --force too: drop and create it, or name another)."""
    from crmcli.store import CrmStore

    with CrmStore(url, config) as store:
        if store.row_counts()["clients"] == 0:
            return
        where = store.location
    hint = ("--force does not empty a database on a server: drop and create it (dropdb, "
            "createdb), or name another" if force else "name an empty one")
    fail(f"{where}: is not empty (it holds a crm book); the demo never overwrites a "
         f"database ({hint})")


def _heading(text: str) -> None:
    from crmcli.render.output import is_terminal

    if is_terminal():
        from crmcli.render.output import rich_console

        rich_console().rule(f"[bold]{text}")
    else:
        typer.echo(f"\n== {text} ==\n")


def run_demo(
    path: Annotated[str | None, typer.Argument(metavar="[PATH]",
                                               help="Where to build the demo database "
                                                    "(default: --db if given, else a new temporary directory).")
                    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace PATH if it already holds "
                                                        "data.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the sample data.")] = 7,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Build only; show nothing but "
                                                              "the path.")] = False,
) -> None:
    """Build a realistic demo book of business in a scratch database and show what `crm`
    does with it: the due list, a client card, the pipeline board and the summary report."""
    from crmcli import dates
    from crmcli.store import CrmStore

    target, named = _target(path)
    config = get_config()
    if isinstance(target, str):
        _refuse_a_book_on_the_server(target, config, force)
    elif target.is_dir():
        fail(f"{target}: is a directory; give a file path for the demo database")
    elif target.exists() and target.stat().st_size > 0:
        if not force:
            fail(f"{target}: already exists and is not empty; the demo never overwrites a "
                 "database (use another path, or --force to replace it)")
        _clear(target)
    if not quiet:
        message(f"crm demo: building a sample book of business in {target}")
    from crmcli.services.demo_book import build_demo

    with CrmStore(target, config) as store:
        result = build_demo(store, seed=seed)
        if quiet:
            typer.echo(str(target))
            return
        from crmcli.render.board import emit_board
        from crmcli.render.card import emit_card
        from crmcli.render.due import emit_due
        from crmcli.render.summary import emit_summary
        from crmcli.services.card import build_card
        from crmcli.services.due import compute_due
        from crmcli.services.summary import summary_data

        message(f"crm demo: {result['clients']} clients, {result['contacts']} contacts, "
                f"{result['interactions']} interactions ({result['complaints']} complaints, "
                f"{result['feedback']} scored), {result['deals']} deals, "
                f"{result['followups']} follow-ups, as of {dates.format_local(result['now'])}")
        _heading("crm due — follow-ups due this week, overdue first, then clients gone quiet")
        emit_due(compute_due(store, config, within="7d"), "table")
        featured = store.clients.get(result["featured_id"])
        _heading(f"crm show {featured['name']} — a client card")
        emit_card(build_card(store, featured), "table")
        _heading("crm stage — the pipeline board")
        emit_board(store.clients.pipeline_board(), "table")
        _heading("crm report summary — how the book of business is doing")
        emit_summary(summary_data(store, config), "table")
    quoted = str(target) if " " not in str(target) else f"'{target}'"
    message("")
    message("Explore the demo (it is a normal crm database):")
    for example in (f"crm --db {quoted} due", f"crm --db {quoted} ls --tag vip",
                    f"crm --db {quoted} show 김민준", f"crm --db {quoted} search 报价",
                    f"crm --db {quoted} deals --status open",
                    f"crm --db {quoted} report retention --period quarter",
                    f"crm --db {quoted} report cohorts"):
        message(f"  {example}")
    if not named:
        message("(a scratch file: delete its folder when done; your own database was not "
                "touched)")


def register(app: typer.Typer) -> None:
    command(app, "demo")(run_demo)
