"""The database: crm db path|check|backup|migrate|copy|encrypt|decrypt."""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands._context import db_path, get_store
from crmcli.commands._errors import command
from crmcli.commands._help import CrmGroup
from crmcli.commands._options import FormatOption, JsonOption, output_format
from crmcli.render.output import emit, emit_record, message

db_app = typer.Typer(cls=CrmGroup, help="The database: path, check, backup, migrate, copy, "
                     "encrypt, decrypt.", no_args_is_help=True)


def show_path() -> None:
    """Print the database in use: its file, or its server's URL (without the password)."""
    from crmcli.config import shown_book

    typer.echo(shown_book(db_path()))


def check_db(fmt: FormatOption = None, as_json: JsonOption = False) -> None:
    """Check the database's integrity, foreign keys and search index; exit 1 on problems."""
    store = get_store(create=False)
    problems = store.integrity_check()
    counts = store.row_counts()
    # (values stored before the config declared their field: listed, not a fault)
    record = {"path": store.location, "schema_version": store.schema_version(),
              "encrypted": store.encrypted, "ok": not problems, "problems": problems,
              "invalid_custom": store.invalid_custom(), **counts}
    emit_record(record, output_format(fmt, as_json))
    if problems:
        raise typer.Exit(1)


def backup_db(target: Annotated[str, typer.Argument(metavar="PATH",
                                                    help="Backup file (or a folder).")]) -> None:
    """Write a consistent copy of the database (safe while other crm processes write)."""
    store = get_store(create=False)
    written = store.backup_to(target)
    message(f"backed up {store.location} to {written}")
    typer.echo(str(written))


def copy_db(
    source: Annotated[str, typer.Argument(metavar="SRC",
                                          help="The book to copy: a file or a postgresql:// URL.")],
    destination: Annotated[str, typer.Argument(
        metavar="DST", help="Where to copy it: a file (created) or a postgresql:// URL.")],
    replace: Annotated[bool, typer.Option(
        "--replace", help="Delete the book already in DST first (else a DST that holds "
                          "rows is refused).")] = False,
) -> None:
    """Copy a whole book into another database, SQLite or PostgreSQL either side: every
    record with its id, the change log (history, undo), the digests' ledger and model fits,
    in one transaction on DST; the search index is rebuilt there."""
    from pathlib import Path

    from crmcli.commands._context import get_config
    from crmcli.config import is_server_url
    from crmcli.store import copy_book

    def book(value: str):
        return value if is_server_url(value) else Path(value).expanduser()

    counts = copy_book(book(source), book(destination), get_config(), replace=replace)
    copied = ", ".join(f"{counts[t]} {t}" for t in ("clients", "contacts", "interactions",
                                                    "deals", "followups", "changes"))
    message(f"copied {counts['source']} to {counts['destination']}: {copied}")


def migrate_db(fmt: FormatOption = None, as_json: JsonOption = False) -> None:
    """Bring the database to this version's schema (done automatically on open) and list
    the migrations applied."""
    store = get_store()
    emit(store.applied_migrations(), output_format(fmt, as_json),
         columns=["name", "applied_at"])


def encrypt_db(new_key_file: Annotated[str | None, typer.Option(
        "--new-key-file", metavar="PATH",
        help="Encrypt with a new random key written to PATH (owner-only, never over an "
             "existing file); then set db_key_file to PATH in the config.")] = None) -> None:
    """Encrypt the book in place (SQLCipher) with the key from CRM_DB_KEY or db_key_file,
    or a new one; without the key it cannot be read."""
    store = get_store(create=False)
    if store.encrypted:
        message(f"{store.location} is already encrypted; nothing to do")
        return
    source = store.encrypt(new_key_file)
    message(f"encrypted {store.location} (key: {source}); keep the key safe: without it the "
            "book cannot be read")
    if new_key_file is not None:
        message(f"open it from now on with: crm config set db_key_file {source}")


def decrypt_db() -> None:
    """Decrypt the book in place: plain SQLite again, readable without a key."""
    store = get_store(create=False)
    if not store.encrypted:
        message(f"{store.location} is not encrypted; nothing to do")
        return
    store.decrypt()
    message(f"decrypted {store.location}")


command(db_app, "path")(show_path)
command(db_app, "check")(check_db)
command(db_app, "backup")(backup_db)
command(db_app, "migrate")(migrate_db)
command(db_app, "encrypt")(encrypt_db)
command(db_app, "decrypt")(decrypt_db)
command(db_app, "copy")(copy_db)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
