"""The audit trail and undo: crm history [CLIENT], crm undo [CHANGE] [--list]."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from crmcli.commands._context import get_store
from crmcli.commands._errors import command
from crmcli.commands._options import (
    FormatOption,
    JsonOption,
    LimitOption,
    output_format,
    within_int64,
)
from crmcli.render.output import emit_record, emit_rows, message

HISTORY_TABLE = ["change", "at", "by", "command", "summary", "table", "row", "op", "values"]
UNDO_TABLE = ["change", "at", "by", "command", "summary", "rows", "note"]
# Columns left out of the table view (they are in the JSON): noise on every row.
_QUIET_COLUMNS = {"id", "created_at", "updated_at"}


def _short(value: Any, width: int = 40) -> str:
    text = "∅" if value is None else str(value).replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _values_text(rec: dict) -> str:
    op, old, new = rec["op"], rec["old"], rec["new"]
    if op == "update":
        keys = [k for k in new if k not in _QUIET_COLUMNS] or list(new)
        return "; ".join(f"{k}: {_short(old.get(k))} → {_short(new[k])}" for k in keys)
    if op == "insert_range":
        count = new["last"] - new["first"] + 1
        return f"ids {new['first']}–{new['last']} ({count:,} rows)"
    row = new if op == "insert" else old
    if not row:
        return ""
    return ", ".join(f"{k}={_short(v)}" for k, v in row.items()
                     if k not in _QUIET_COLUMNS and v not in (None, "", "{}"))


def _looking_back(text: str):
    """--since looks back, and history has no future: a bare weekday is the latest one (today
    included) and a bare offset such as `2w` or `3 days` is that long ago. Anything else
    (`-2d`, `+1d`, `in 2w`, `next monday`, a date) means what it means everywhere.
    Returns a date (a datetime for hours and minutes), or None for any other text."""
    import re
    from datetime import timedelta

    from crmcli import dates

    t = " ".join(text.split()).lower()
    weekday = dates.weekday_number(t)
    if weekday is not None:
        today = dates.today()
        return today - timedelta(days=(today.weekday() - weekday) % 7)
    if re.fullmatch(r"\d{1,6} ?[a-z]+", t):
        try:
            return dates.parse_when(f"-{t}")
        except dates.DateError:
            return None
    return None


def _since_iso(text: str) -> str:
    from datetime import date, datetime, time

    from crmcli import dates

    when = dates.parse_when(text)
    when = _looking_back(text) or when
    if not isinstance(when, datetime):
        assert isinstance(when, date)
        # midnight of that day in the configured zone (with that day's UTC offset)
        when = dates.local(datetime.combine(when, time(0, 0)))
    return dates.to_utc_iso(when)


def show_history(
    client: Annotated[str | None, typer.Argument(
        metavar="[CLIENT]", help="Only changes to this client (id, email, name...; the id of a "
                                 "deleted client works too).")] = None,
    since: Annotated[str | None, typer.Option("--since", metavar="WHEN",
                                              help="Only changes at or after WHEN (looking back: "
                                                   "monday, 2w, 3 days).")] = None,
    limit: LimitOption = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the audit trail: every change, when, with old and new values (newest first)."""
    from crmcli.errors import ClientNotFound

    store = get_store(create=False)
    client_id = None
    if client is not None:
        try:
            client_id = store.clients.resolve(client, include_archived=True)["id"]
        except ClientNotFound:
            from crmcli.store import referenced_id

            gone = referenced_id(client.strip())
            # A purged or merged-away client can no longer be resolved; its id still can.
            if gone is None or not store.audit.has_changes_of(gone):
                raise
            client_id = gone
    records = store.audit.history(client_id, since=_since_iso(since) if since else None,
                                  limit=limit)
    # "by" only where changes have a role (a book on PostgreSQL): SQLite records none.
    columns = HISTORY_TABLE if any(r["by"] for r in records) else [
        c for c in HISTORY_TABLE if c != "by"]
    emit_rows(records, output_format(fmt, as_json), fields=_history_fields(),
              columns=columns, shown=_history_table)


def _history_table(records: list[dict]) -> list[dict]:
    """One line per changed row; a change's time, command and summary on its first."""
    from crmcli import dates

    rows, last = [], None
    for rec in records:
        first = rec["change_id"] != last
        last = rec["change_id"]
        summary = rec["summary"]
        if first and rec["undone_by"]:
            summary += f" [undone by {rec['undone_by']}]"
        rows.append({"change": rec["change_id"] if first else None,
                     "at": dates.format_local(rec["at"]) if first else "",
                     "by": (rec["by"] or "") if first else "",
                     "command": rec["command"] if first else "",
                     "summary": summary if first else "",
                     "table": rec["table"] or "", "row": rec["row_id"], "op": rec["op"] or "",
                     "values": _values_text(rec) if rec["op"] else ""})
    return rows


def _history_fields() -> list[str]:
    from crmcli.store import HISTORY_FIELDS

    return HISTORY_FIELDS


def undo(
    change: Annotated[int | None, typer.Argument(
        metavar="[CHANGE]", callback=within_int64,
        help="Undo this change id instead of the latest (see --list).")
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the changes that can be undone, "
                                                       "newest first, and change nothing.")
                     ] = False,
    limit: LimitOption = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revert the last change (run it again to redo); --list shows what can be undone.

    On a team book (PostgreSQL) these are your own changes; an admin may undo anyone's
    change by its id."""
    # Nothing to undo in a book not yet begun; undo brings back what was, so no hook
    # may refuse it (or take it for a new event).
    store = get_store(create=False, hooks=False)
    if list_:
        rows = store.audit.undoable(limit=limit or (None if fmt or as_json else 20))
        from crmcli import dates
        from crmcli.store import UNDOABLE_FIELDS

        columns = UNDO_TABLE if any(r["by"] for r in rows) else [
            c for c in UNDO_TABLE if c != "by"]
        emit_rows(rows, output_format(fmt, as_json), fields=UNDOABLE_FIELDS, columns=columns,
                  shown=lambda rows: [
                      {"change": r["change_id"], "at": dates.format_local(r["at"]),
                       "by": r["by"] or "", "command": r["command"], "summary": r["summary"], "rows": r["rows"],
                       "note": _undo_note(r)} for r in rows])
        return
    result = store.audit.undo(change)
    message(result["summary"] + f" (as change {result['change_id']}; "
            f"crm undo again to {'undo' if result['redo'] else 'redo'} it)")
    if fmt is not None or as_json:
        emit_record(result, output_format(fmt, as_json))


def _undo_note(row: dict) -> str:
    """What undoing this change would do, when it is itself an undo or a redo."""
    if row["undo_of"] is None:
        return ""
    if row["command"] == "redo":
        return f"undoing it undoes change {row['original']} again"
    return f"undoing it redoes change {row['original']}"


def register(app: typer.Typer) -> None:
    command(app, "history")(show_history)
    command(app, "undo")(undo)
