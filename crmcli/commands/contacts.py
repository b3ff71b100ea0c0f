"""People at a client: crm contact add|ls|edit|rm."""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands._context import get_store
from crmcli.commands._errors import command, fail
from crmcli.commands._help import CrmGroup
from crmcli.commands._options import (
    FormatOption,
    JsonOption,
    QuietOption,
    SetOption,
    WhereOption,
    output_format,
    within_int64,
)
from crmcli.commands.clients import ClientArg, parse_sets
from crmcli.render.output import emit, message

contact_app = typer.Typer(cls=CrmGroup, help="People at a client: add, ls, edit, rm.", no_args_is_help=True)
LevelOption = Annotated[str | None, typer.Option("--level", help="decision-maker, influencer "
                                                                 "or user.")]


def add_contact(
    client: ClientArg,
    name: Annotated[str, typer.Argument(help="The person's name.")],
    role: Annotated[str | None, typer.Option(help="Role or title.")] = None,
    email: Annotated[str | None, typer.Option(help="Email address.")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone number.")] = None,
    level: LevelOption = None,
    primary: Annotated[bool, typer.Option("--primary", help="The main contact.")] = False,
    note: Annotated[str | None, typer.Option("--note", help="Notes.")] = None,
    set_: SetOption = None,
    quiet: QuietOption = False,
) -> None:
    """Add a contact person to a client and print its id."""
    store = get_store()
    record = store.clients.resolve(client)
    others = store.contacts.list(record["id"])
    contact_id = store.contacts.add(record["id"], name, role=role, email=email, phone=phone,
                                   decision_level=level, is_primary=primary, notes=note,
                                   custom=parse_sets(set_))
    typer.echo(contact_id)
    if not quiet:
        message(f"added contact {contact_id} to client {record['id']} {record['name']}")
    for other in others:
        same = [what for what, mine, theirs in (("name", name, other["name"]),
                                                ("email", email, other["email"]))
                if mine and theirs and mine.strip().casefold() == theirs.strip().casefold()]
        if same:
            message(f"crm: warning: contact {other['id']} {other['name']} at {record['name']} "
                    f"has the same {' and '.join(same)}; a duplicate? (crm contact rm "
                    f"{contact_id} removes the new one)")
    if primary:
        _say_demoted(others, contact_id)


def _say_demoted(before: list[dict], new_primary: int) -> None:
    """Name the contact that --primary took the primary flag from (one per client)."""
    for other in before:
        if other["is_primary"] and other["id"] != new_primary:
            message(f"contact {other['id']} {other['name']} is no longer the primary contact")


def list_contacts(
    client: Annotated[str | None, typer.Argument(metavar="[CLIENT]",
                                                 help="Only this client's contacts.")] = None,
    where: WhereOption = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """List contacts, of one client or of all."""
    store = get_store(create=False)
    client_id = store.clients.resolve(client, include_archived=True)["id"] if client else None
    emit(store.contacts.list(client_id, conditions=where or ()), output_format(fmt, as_json),
         columns=["id", "client_id", "client", "name", "role", "email", "phone",
                  "decision_level", "is_primary", "notes"])


def edit_contact(
    contact_id: Annotated[int, typer.Argument(metavar="ID", callback=within_int64,
                                              help="Contact id.")],
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    role: Annotated[str | None, typer.Option(help="Role ('' clears).")] = None,
    email: Annotated[str | None, typer.Option(help="Email ('' clears).")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone ('' clears).")] = None,
    level: LevelOption = None,
    primary: Annotated[bool | None, typer.Option("--primary/--not-primary",
                                                 help="Make or unmake the main contact.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Notes ('' clears).")] = None,
    set_: SetOption = None,
) -> None:
    """Change a contact."""
    fields = {"name": name, "role": role, "email": email, "phone": phone,
              "decision_level": level, "is_primary": primary, "notes": note}
    fields = {k: v for k, v in fields.items() if v is not None}
    if set_:
        fields["custom"] = parse_sets(set_)
    if not fields:
        fail("nothing to change: give at least one option such as --email or --set key=value",
             code=2)
    store = get_store()
    before = []
    if primary:
        before = store.contacts.list(store.contacts.get(contact_id)["client_id"])
    changed = store.contacts.edit(contact_id, **fields)
    message(f"{'updated' if changed else 'unchanged'}: contact {contact_id}")
    if primary:
        _say_demoted(before, contact_id)


def remove_contact(contact_id: Annotated[int, typer.Argument(metavar="ID",
                                                             callback=within_int64,
                                                             help="Contact id.")]
                   ) -> None:
    """Remove a contact (their interactions stay with the client)."""
    contact = get_store().contacts.remove(contact_id)
    message(f"removed contact {contact_id} {contact['name']}")


command(contact_app, "add")(add_contact)
command(contact_app, "ls")(list_contacts)
command(contact_app, "edit")(edit_contact)
command(contact_app, "rm")(remove_contact)


def register(app: typer.Typer) -> None:
    app.add_typer(contact_app, name="contact")
