"""Follow-ups and what is due: followup, followups, done, snooze, cadence, due."""

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
    output_format,
    within_int64,
)
from crmcli.render.output import emit_rows, message

ClientArg = Annotated[str, typer.Argument(metavar="CLIENT",
                                          help="Id, email, external id, name or part of a name.")]
FollowupId = Annotated[int, typer.Argument(metavar="ID", callback=within_int64,
                                           help="Follow-up id.")]
FOLLOWUP_FIELDS = ["id", "client_id", "client", "owner", "due", "due_at", "note", "every",
                   "status", "days_late"]
FOLLOWUP_TABLE = ["id", "client", "due", "time", "note", "repeats", "status"]


def _due_text(row: dict) -> str:
    from crmcli import dates

    return row["due"] + (f" {dates.format_local(row['due_at'])[11:]}" if row["due_at"] else "")


def add_followup(
    client: ClientArg,
    when: Annotated[str, typer.Argument(metavar="WHEN",
                                        help="Due: a date, datetime, +3d, 2w, friday, eom...")],
    note: Annotated[str | None, typer.Argument(metavar="[NOTE]", help="What to do.")] = None,
    every: Annotated[str | None, typer.Option("--every", metavar="RULE",
                                              help="Repeat: 2w, monthly, weekly on mon, "
                                                   "daily, yearly...")] = None,
    quiet: QuietOption = False,
) -> None:
    """Schedule a follow-up (optionally recurring); prints its id."""
    from crmcli import dates

    store = get_store()
    record = store.clients.resolve(client)
    due = dates.parse_when(when)
    rule = dates.parse_every(every) if every else None
    followup_id = store.followups.add(record["id"], due, note, every=rule)
    typer.echo(followup_id)
    if not quiet:
        row = store.followups.get(followup_id)
        message(f"follow-up {followup_id} for client {record['id']} {record['name']} due "
                f"{_due_text(row)}" + (f", repeats {dates.describe_every(rule)}" if rule else ""))


def list_followups(
    client: Annotated[str | None, typer.Argument(metavar="[CLIENT]",
                                                 help="Only this client's follow-ups.")] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Only this owner's clients.")
                     ] = None,
    tag: Annotated[str | None, typer.Option("--tag", "-t", help="Only clients with this tag.")
                   ] = None,
    limit: LimitOption = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """List open follow-ups by due date."""
    from crmcli import dates

    store = get_store(create=False)
    client_id = store.clients.resolve(client, include_archived=True)["id"] if client else None
    rows = store.followups.open(client_id, owner=owner, tag=tag, limit=limit)
    from crmcli.services.due import with_status

    with_status(rows, dates.today())
    emit_rows(rows, output_format(fmt, as_json), fields=FOLLOWUP_FIELDS, columns=FOLLOWUP_TABLE,
              shown=lambda rows: [
                  {**r, "time": dates.format_local(r["due_at"])[11:] if r["due_at"] else None,
                   "repeats": dates.describe_every(r["every"]) if r["every"] else None}
                  for r in rows])


def done_followup(followup_id: FollowupId) -> None:
    """Mark a follow-up done; a recurring one rolls forward to its next date."""
    store = get_store()
    result = store.followups.complete(followup_id)
    if result["next_id"]:
        row = store.followups.get(result["next_id"])
        message(f"follow-up {followup_id} done; next one is {result['next_id']} due "
                f"{_due_text(row)}")
    elif result["series_ended"]:
        from crmcli import dates

        if dates.usable_rule(result["every"]) is None:
            message(f"follow-up {followup_id} done; its stored repeat rule "
                    f"{result['every']!r} is not one crm accepts, so it does not repeat")
        else:
            message(f"follow-up {followup_id} done; it was the last of its series")
    else:
        message(f"follow-up {followup_id} done")


def snooze_followup(
    followup_id: FollowupId,
    when: Annotated[str, typer.Argument(metavar="WHEN", help="New due: tomorrow, +3d, 2026-12-01"
                                                             ", monday...")],
) -> None:
    """Move an open follow-up to a later (or earlier) date."""
    from crmcli import dates

    store = get_store()
    store.followups.get(followup_id)
    row = store.followups.snooze(followup_id, dates.parse_when(when))
    message(f"follow-up {followup_id} now due {_due_text(row)}")


def set_cadence(
    client: ClientArg,
    ideal: Annotated[str | None, typer.Argument(metavar="[IDEAL]",
                                                help="Ideal contact interval: 2w, 30d, 1m...")
                     ] = None,
    maximum: Annotated[str | None, typer.Option("--max", metavar="INTERVAL",
                                                help="Maximum interval before overdue "
                                                     "(default: twice IDEAL).")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the client's own cadence "
                                                        "(config rules apply again).")] = False,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set, clear or show a client's contact cadence (ideal and maximum interval)."""
    store = get_store()
    record = store.clients.resolve(client)
    if clear and (ideal or maximum):
        fail("--clear takes no IDEAL or --max", code=2)
    if clear:
        store.clients.set_cadence(record["id"], None, None)
        message(f"cleared the cadence of client {record['id']} {record['name']}")
    elif ideal:
        store.clients.set_cadence(record["id"], ideal, maximum)
        message(f"cadence of client {record['id']} {record['name']}: every {ideal.strip()}"
                + (f", at most {maximum.strip()}" if maximum else ""))
    elif maximum:
        fail("--max needs the IDEAL interval too, e.g. crm cadence CLIENT 2w --max 4w", code=2)
    from crmcli.services.cadence import cadence_info

    info = cadence_info(store, store.clients.get(record["id"]), get_config())
    from crmcli.render.output import emit_record

    emit_record({"client_id": record["id"], "client": record["name"], **info},
                output_format(fmt, as_json))


def show_due(
    within: Annotated[str | None, typer.Option("--within", metavar="INTERVAL",
                                               help="Window after today for follow-ups "
                                                    "(default: due.within in the config, 7d).")
                      ] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only overdue items.")] = False,
    stale: Annotated[bool | None, typer.Option("--stale/--no-stale",
                                               help="Include clients past their contact "
                                                    "cadence (default: due.stale in the "
                                                    "config).", show_default=False)] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Only this owner's clients.")
                     ] = None,
    tag: Annotated[str | None, typer.Option("--tag", "-t", help="Only clients with this tag.")
                   ] = None,
    email: Annotated[bool, typer.Option("--email", help="Mail the list as one digest (SMTP per "
                                                        "the config).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --email: show the mail, "
                                                            "send nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="With --email: resend items already "
                                                        "mailed today.")] = False,
    sendmail: Annotated[bool, typer.Option("--sendmail", help="With --email: hand the mail to "
                                                              "the sendmail command.")] = False,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """Follow-ups due in the window (overdue first) and clients past their cadence.

    Prints nothing at all and exits 0 when nothing is due.
    """
    if (dry_run or force or sendmail) and not email:
        fail("--dry-run, --force and --sendmail go with --email", code=2)
    from crmcli.services.due import compute_due

    store = get_store(create=False)
    config = get_config()
    rows = compute_due(store, config, within=within, overdue_only=overdue,
                       stale=config["due.stale"] if stale is None else stale,
                       owner=owner, tag=tag)
    if email:
        mail_digest(store, config, rows, dry_run=dry_run, force=force, sendmail=sendmail)
        return
    from crmcli.render.due import emit_due

    emit_due(rows, output_format(fmt, as_json))


def mail_digest(store, config, rows: list[dict], **how) -> None:
    """Send (or, on a dry run, print) the digest; a line per message sent on a terminal."""
    import sys

    from crmcli.mail import DeliveryFailed, message_text
    from crmcli.render.output import is_terminal, message
    from crmcli.services.digest import send_digest

    try:
        run = send_digest(store, config, rows, **how)
    except DeliveryFailed as exc:
        for line in exc.earlier:
            sys.stderr.write(f"crm: error: {line}\n")
        raise
    if run.dry_run:
        sys.stdout.write("\n".join(message_text(msg) for _, msg in run.messages))
        sys.stdout.flush()
    elif is_terminal(sys.stderr):
        for digest, _ in run.messages:
            noun = "item" if len(digest.rows) == 1 else "items"
            message(f"mailed {len(digest.rows)} due {noun} to {digest.recipient} "
                    f"({run.transport})")


def register(app: typer.Typer) -> None:
    # Unknown options pass through as arguments so that WHEN may be `-2d`.
    passthrough = {"ignore_unknown_options": True}
    command(app, "followup", context_settings=passthrough)(add_followup)
    command(app, "followups")(list_followups)
    command(app, "done")(done_followup)
    command(app, "snooze", context_settings=passthrough)(snooze_followup)
    command(app, "cadence")(set_cadence)
    command(app, "due")(show_due)
