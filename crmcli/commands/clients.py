"""Client records: add, edit, show, ls, rm, merge, search."""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands._context import get_config, get_store
from crmcli.commands._errors import command, fail
from crmcli.commands._options import (
    FormatOption,
    JsonOption,
    LimitOption,
    QuietOption,
    SetOption,
    WhereOption,
    output_format,
)
from crmcli.render.output import emit, emit_rows, message

ClientArg = Annotated[str, typer.Argument(metavar="CLIENT",
                                          help="Id, email, external id, name or part of a name.")]
ListColumns = ["id", "name", "company", "stage", "owner", "tags", "email"]


def parse_sets(pairs: list[str] | None) -> dict[str, str]:
    from crmcli.store import validate

    return dict(validate.key_value(p) for p in pairs or [])


def add_client(
    name: Annotated[str, typer.Argument(help="The client's name.")],
    company: Annotated[str | None, typer.Option(help="Company.")] = None,
    email: Annotated[str | None, typer.Option(help="Email address.")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone number.")] = None,
    industry: Annotated[str | None, typer.Option(help="Industry.")] = None,
    size: Annotated[str | None, typer.Option(help="Company size, e.g. 11-50.")] = None,
    owner: Annotated[str | None, typer.Option(help="Who owns the relationship "
                                                   "(default: owner: in the config).")] = None,
    source: Annotated[str | None, typer.Option(help="Where the client came from.")] = None,
    stage: Annotated[str | None, typer.Option(help="Pipeline stage.")] = None,
    external_id: Annotated[str | None, typer.Option("--external-id",
                                                    help="Id in another system (unique).")] = None,
    tag: Annotated[list[str] | None,
                   typer.Option("--tag", "-t", help="A tag (repeatable).")] = None,
    set_: SetOption = None,
    note: Annotated[str | None, typer.Option("--note", help="Free-form notes.")] = None,
    private: Annotated[bool, typer.Option(
        "--private", help="Seen only by its owner (default: you) and admins, on a team "
                          "book.")] = False,
    quiet: QuietOption = False,
) -> None:
    """Add a client and print its id."""
    store = get_store()
    owner = owner if owner is not None else get_config()["owner"]
    client_id = store.clients.add(name, company=company, email=email, phone=phone,
                                 industry=industry, size=size, owner=owner, source=source,
                                 stage=stage, external_id=external_id, notes=note,
                                 private=private, tags=tag or [], custom=parse_sets(set_))
    if quiet:
        typer.echo(client_id)
    else:
        typer.echo(client_id)
        message(f"added client {client_id}: {store.clients.get(client_id)['name']}")


_UNSET = None


def edit_client(
    client: ClientArg,
    name: Annotated[str | None, typer.Option(help="New name.")] = _UNSET,
    company: Annotated[str | None, typer.Option(help="Company ('' clears).")] = _UNSET,
    email: Annotated[str | None, typer.Option(help="Email ('' clears).")] = _UNSET,
    phone: Annotated[str | None, typer.Option(help="Phone ('' clears).")] = _UNSET,
    industry: Annotated[str | None, typer.Option(help="Industry ('' clears).")] = _UNSET,
    size: Annotated[str | None, typer.Option(help="Size ('' clears).")] = _UNSET,
    owner: Annotated[str | None, typer.Option(help="Owner ('' clears).")] = _UNSET,
    source: Annotated[str | None, typer.Option(help="Source ('' clears).")] = _UNSET,
    external_id: Annotated[str | None, typer.Option("--external-id",
                                                    help="External id ('' clears).")] = _UNSET,
    note: Annotated[str | None, typer.Option("--note", help="Replace the notes ('' clears).")
                    ] = _UNSET,
    set_: SetOption = None,
    private: Annotated[bool | None, typer.Option(
        "--private/--public", help="Seen only by its owner and admins (team book), or by "
                                   "everyone.")] = None,
    edit_notes: Annotated[bool, typer.Option("--edit-notes", "-e",
                                             help="Edit the notes in $VISUAL or $EDITOR.")
                          ] = False,
) -> None:
    """Change a client's profile fields."""
    store = get_store()
    record = store.clients.resolve(client, include_archived=True)
    if edit_notes:
        if note is not None:
            fail("give --note or -e, not both", code=2)
        from crmcli.commands._editor import edit_text

        note = edit_text(record.get("notes") or "", f"notes of {record['name']}")
    fields = {"name": name, "company": company, "email": email, "phone": phone,
              "industry": industry, "size": size, "owner": owner, "source": source,
              "external_id": external_id, "notes": note, "private": private}
    fields = {k: v for k, v in fields.items() if v is not None}
    custom = parse_sets(set_) if set_ else None
    if not fields and not custom:
        fail("nothing to change: give at least one option such as --email or --set key=value",
             code=2)
    changed = store.clients.edit(record["id"], custom=custom, **fields)
    message(f"{'updated' if changed else 'unchanged'}: client {record['id']} "
            f"{store.clients.get(record['id'])['name']}")


def show_client(client: ClientArg, fmt: FormatOption = None, as_json: JsonOption = False) -> None:
    """Show a client's card: profile, tags, stage history, contacts, activity and value."""
    from crmcli.render.card import emit_card
    from crmcli.services.card import build_card

    store = get_store(create=False)
    record = store.clients.resolve(client, include_archived=True)
    emit_card(build_card(store, record), output_format(fmt, as_json))


def list_clients(
    stage: Annotated[str | None, typer.Option(help="Only clients in this stage.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t",
                                                  help="Only clients with this tag (repeatable: "
                                                       "all must match).")] = None,
    industry: Annotated[str | None, typer.Option(help="Only this industry.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner.")] = None,
    tier: Annotated[str | None, typer.Option(help="Only this revenue tier (A, B or C).")] = None,
    text: Annotated[str | None, typer.Option("--text", "-s",
                                             help="Name, company, email or notes contain this.")
                    ] = None,
    where: WhereOption = None,
    archived: Annotated[bool, typer.Option("--archived", help="Only archived clients.")] = False,
    all_: Annotated[bool, typer.Option("--all", help="Archived clients too.")] = False,
    sort: Annotated[str, typer.Option(help="name, created, updated, stage, company, owner or id.")
                    ] = "name",
    desc: Annotated[bool, typer.Option("--desc", help="Reverse the order.")] = False,
    limit: LimitOption = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """List clients."""
    store = get_store(create=False)
    ids = None
    if tier:
        from crmcli.services.tiers import client_ids_in_tier

        ids = client_ids_in_tier(store, tier)
    rows = store.clients.list(stage=stage, tags=tag, industry=industry, owner=owner, text=text,
                              archived=archived, include_archived=all_, ids=ids, sort=sort,
                              descending=desc, limit=limit, conditions=where or ())
    from crmcli.store import CLIENT_RECORD

    emit_rows(rows, output_format(fmt, as_json), columns=ListColumns,
              fields=[c for c in CLIENT_RECORD if c != "stage_history"])


def remove_client(
    client: ClientArg,
    purge: Annotated[bool, typer.Option("--purge", help="Delete the client and all its records "
                                                        "instead of archiving.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Confirm --purge.")] = False,
) -> None:
    """Archive a client (hidden from lists); --purge --yes deletes everything of theirs."""
    store = get_store()
    record = store.clients.resolve(client, include_archived=True)
    if purge:
        if not yes:
            fail(f"--purge deletes client {record['id']} ({record['name']}) and all their records;"
                 " add --yes to confirm", code=2)
        counts = store.clients.purge(record["id"])
        detail = ", ".join(f"{n} {t}" for t, n in counts.items() if n)
        message(f"deleted client {record['id']} {record['name']}"
                + (f" with {detail}" if detail else "") + " (crm undo restores it)")
        return
    if store.clients.archive(record["id"]):
        message(f"archived client {record['id']} {record['name']}")
    else:
        message(f"client {record['id']} {record['name']} was already archived")


def unarchive_client(client: ClientArg) -> None:
    """Restore an archived client: back in lists, due, reports and every command."""
    store = get_store()
    record = store.clients.resolve(client, include_archived=True)
    if store.clients.restore(record["id"]):
        message(f"restored client {record['id']} {record['name']}")
    else:
        message(f"client {record['id']} {record['name']} is not archived")


def merge_clients(
    keep: Annotated[str, typer.Argument(metavar="KEEP", help="The client to keep.")],
    duplicate: Annotated[str, typer.Argument(metavar="DUPLICATE",
                                             help="The client merged into KEEP and removed.")],
) -> None:
    """Move everything of DUPLICATE onto KEEP and delete DUPLICATE."""
    store = get_store()
    kept = store.clients.resolve(keep, include_archived=True)
    dup = store.clients.resolve(duplicate, include_archived=True)
    moved = store.clients.merge(kept["id"], dup["id"])
    detail = ", ".join(f"{n} {t if n != 1 else t.rstrip('s')}" for t, n in moved.items()
                       if n) or "no records"
    message(f"merged client {dup['id']} {dup['name']} into {kept['id']} {kept['name']} "
            f"({detail} moved)")


SEARCH_LIMIT = 50


def search_records(
    text: Annotated[str, typer.Argument(help="Words to find (all must match).")],
    limit: LimitOption = None,
    all_: Annotated[bool, typer.Option("--all", help="Include archived clients.")] = False,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """Full-text search over clients, contacts and interaction summaries."""
    store = get_store(create=False)
    cap = limit or SEARCH_LIMIT
    rows = store.search.matches(text, limit=cap, include_archived=all_)
    if not rows:
        message(f"no matches for {text!r}")
    emit(rows, output_format(fmt, as_json),
         columns=["kind", "id", "client_id", "client", "match", "at"])
    if len(rows) == cap:
        total = store.search.count(text, include_archived=all_)
        if total > cap:
            message(f"crm: showing the best {cap} of {total} matches; add --limit {total} to "
                    "see them all, or more words to narrow the search")


def register(app: typer.Typer) -> None:
    command(app, "add")(add_client)
    command(app, "edit")(edit_client)
    command(app, "show")(show_client)
    command(app, "ls")(list_clients)
    command(app, "rm")(remove_client)
    command(app, "unarchive")(unarchive_client)
    command(app, "merge")(merge_clients)
    command(app, "search")(search_records)
