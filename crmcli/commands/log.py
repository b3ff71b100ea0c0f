"""The interaction log: crm log CLIENT SUMMARY, crm edit-log ID, crm resolve ID."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from crmcli.commands._context import get_store
from crmcli.commands._errors import command, fail
from crmcli.commands._options import QuietOption, within_int64
from crmcli.render.output import message

EditOption = Annotated[bool, typer.Option("--edit", "-e", help="Write the summary in $VISUAL or "
                                                              "$EDITOR.")]
ClientArg = Annotated[str, typer.Argument(metavar="CLIENT",
                                          help="Id, email, external id, name or part of a name.")]


def _read_summary(summary: str) -> str:
    if summary != "-":
        return summary
    try:
        text = sys.stdin.read()
    except UnicodeDecodeError as exc:
        fail(f"SUMMARY '-': stdin is not valid UTF-8 (byte {exc.start}: "
             f"{exc.object[exc.start:exc.start + 1]!r})", code=1)
    if not text.strip():
        fail("SUMMARY '-' read nothing from stdin", code=2)
    return text.strip("\n")


def log_interaction(
    client: ClientArg,
    summary: Annotated[str | None, typer.Argument(
        metavar="[SUMMARY]", help="What happened ('-' reads it from stdin; leave it out with "
                                  "-e).", show_default=False)] = None,
    channel: Annotated[str, typer.Option("--channel", "-c",
                                         help="call, email, meeting, chat, visit or other.")
                       ] = "other",
    inbound: Annotated[bool | None, typer.Option(
        "--in/--out", help="The client reached out (--in) or we did (--out). Default: out, "
                           "or in for complaints and feedback.", show_default=False)] = None,
    kind: Annotated[str, typer.Option("--kind", "-k",
                                      help="note, complaint, feedback, or any one word.")
                    ] = "note",
    at: Annotated[str | None, typer.Option("--at", help="When it happened (WHEN; default now).")
                  ] = None,
    score: Annotated[str | None, typer.Option("--score", help="Satisfaction / NPS score 0-10.")
                     ] = None,
    contact: Annotated[str | None, typer.Option("--contact", help="Which contact (name, email or "
                                                                  "id).")] = None,
    next_: Annotated[str | None, typer.Option("--next", metavar="WHEN",
                                              help="Schedule a follow-up in the same step.")
                     ] = None,
    note: Annotated[str | None, typer.Option("--note", help="Note of the --next follow-up.")
                    ] = None,
    quiet: QuietOption = False,
    edit: EditOption = False,
) -> None:
    """Log an interaction with a client (any interaction restarts its cadence clock)."""
    from crmcli import dates

    if note is not None and next_ is None:
        fail("--note describes the follow-up of --next; give --next WHEN too", code=2)
    if (summary is None) == (not edit):
        fail("give SUMMARY, '-' (stdin) or -e (your editor)" if summary is None
             else "give SUMMARY or -e, not both", code=2)
    store = get_store()
    record = store.clients.resolve(client)
    if edit:
        from crmcli.commands._editor import edit_text

        text = edit_text("", f"summary of the interaction with {record['name']}")
    else:
        text = _read_summary(summary)
    when = dates.parse_at(at) if at else None
    next_due = dates.parse_when(next_) if next_ else None
    contact_id = store.contacts.resolve(record["id"], contact)["id"] if contact else None
    kind_l = (kind or "note").strip().lower()
    direction = None if inbound is None else "in" if inbound else "out"  # None: by kind
    ids = store.interactions.log(record["id"], text, at=when, channel=channel, direction=direction,
                                kind=kind_l, score=score, contact_id=contact_id,
                                next_due=next_due, next_note=note)
    typer.echo(ids["interaction_id"])
    if not quiet:
        row = store.interactions.get(ids["interaction_id"])
        message(f"logged {row['channel']} ({row['direction']}) with client {record['id']} "
                f"{record['name']} at {dates.format_local(row['at'])}")
        if ids["followup_id"]:
            fu = store.followups.get(ids["followup_id"])
            message(f"follow-up {fu['id']} due {fu['due']}"
                    + (f" {dates.format_local(fu['due_at'])[11:]}" if fu["due_at"] else ""))


def resolve_complaint(
    interaction_id: Annotated[int, typer.Argument(metavar="ID", callback=within_int64,
                                                  help="Id of the complaint (from crm log).")],
    at: Annotated[str | None, typer.Option("--at", help="When it was resolved (WHEN; default "
                                                        "now).")] = None,
) -> None:
    """Mark a complaint resolved (the complaint-handling time report uses it)."""
    from crmcli import dates

    store = get_store()
    when = dates.parse_at(at) if at else None
    row = store.interactions.resolve(interaction_id, when)
    message(f"complaint {interaction_id} resolved at {dates.format_local(row['resolved_at'])}")


def edit_interaction(
    interaction_id: Annotated[int, typer.Argument(metavar="ID", callback=within_int64,
                                                  show_default=False,
                                                  help="Id of the interaction (from crm log).")],
    summary: Annotated[str | None, typer.Option("--summary", "-s",
                                                help="What happened ('-' reads it from stdin).")
                       ] = None,
    channel: Annotated[str | None, typer.Option(
        "--channel", "-c", help="call, email, meeting, chat, visit or other.")] = None,
    inbound: Annotated[bool | None, typer.Option(
        "--in/--out", help="The client reached out (--in) or we did (--out).",
        show_default=False)] = None,
    kind: Annotated[str | None, typer.Option("--kind", "-k", help="note, complaint, feedback, "
                                                                  "or any one word.")] = None,
    at: Annotated[str | None, typer.Option("--at", help="When it happened (WHEN).")] = None,
    score: Annotated[str | None, typer.Option("--score", help="Score 0-10 ('' clears it).")
                     ] = None,
    contact: Annotated[str | None, typer.Option(
        "--contact", help="Which contact (name, email or id; '' clears it).")] = None,
    edit: EditOption = False,
) -> None:
    """Correct a logged interaction: summary, channel, direction, kind, time, score, contact."""
    from crmcli import dates

    store = get_store()
    fields: dict = {}
    if edit and summary is not None:
        fail("give --summary or -e, not both", code=2)
    if edit:
        from crmcli.commands._editor import edit_text

        current = store.interactions.get(interaction_id)
        fields["summary"] = edit_text(current["summary"] or "",
                                      f"summary of interaction {interaction_id}")
    if summary is not None:
        fields["summary"] = _read_summary(summary)
    if channel is not None:
        fields["channel"] = channel.strip().lower()
    if inbound is not None:
        fields["direction"] = "in" if inbound else "out"
    if kind is not None:
        fields["kind"] = kind.strip().lower()
    if at is not None:
        fields["at"] = dates.parse_at(at)
    if score is not None:
        fields["score"] = score
    if contact is not None:
        client_id = store.interactions.get(interaction_id)["client_id"]
        fields["contact_id"] = (store.contacts.resolve(client_id, contact)["id"]
                                if contact.strip() else None)
    if not fields:
        fail("nothing to change: give --summary (or -e), --channel, --in/--out, --kind, --at, "
             "--score or --contact", code=2)
    changed = store.interactions.edit(interaction_id, **fields)
    if not changed:
        message(f"interaction {interaction_id} unchanged")
        return
    row = store.interactions.get(interaction_id)
    shown = []
    for field in changed:
        value = row[field]
        if value is None:
            shown.append(f"{field.removesuffix('_id')} cleared")
        elif field == "at":
            shown.append(f"at {dates.format_local(value)}")
        elif field == "contact_id":
            shown.append(f"contact {value} {store.contacts.get(value)['name']}")
        elif field == "summary":
            shown.append("summary " + (value if len(value) <= 40 else value[:39] + "…"))
        else:
            shown.append(f"{field.removesuffix('_id')} {value}")
    message(f"interaction {interaction_id}: " + ", ".join(shown))


def register(app: typer.Typer) -> None:
    command(app, "log")(log_interaction)
    command(app, "edit-log")(edit_interaction)
    command(app, "resolve")(resolve_complaint)
