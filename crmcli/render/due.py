"""The due list (`crm due`, and the demo) in every format: for people, one line per item
with how late it is and the day of the last contact; for machines, the rows as they are."""

from __future__ import annotations

from crmcli import dates
from crmcli.render.output import emit, emit_rows

DUE_TABLE = ["id", "client", "status", "due", "late", "what", "last_contact"]


def emit_due(rows: list[dict], fmt: str) -> None:
    """Print due rows; nothing at all when there are none (json: [])."""
    if not rows:
        if fmt == "json":
            emit([], "json")
        return
    emit_rows(rows, fmt, columns=DUE_TABLE, shown=_due_table,
              headers=["id", "client", "status", "due", "late", "what", "last contact"],
              styles={"status": "bold"})


def _due_table(rows: list[dict]) -> list[dict]:
    lates: dict[int, str] = {}  # one text per distinct number of days
    zone = dates.zone()
    return [due_cells(row, zone, lates) for row in rows]


def due_cells(row: dict, zone=None, lates: dict[int, str] | None = None) -> dict:
    """A due item as people read it (the table of `crm due` and of the mail digest): its
    id ("-" for a stale client or an invoice), due date and time, how late, the last contact's day.
    zone: dates.zone(), looked up once by a caller of many rows; lates: a cache of
    late_text by days."""
    days = row["days_late"]
    late = lates.get(days) if lates is not None else None
    if late is None:
        late = late_text(days)
        if lates is not None:
            lates[days] = late
    return {
        # only a follow-up's id is one `crm done`/`snooze` take (an invoice's number is in
        # its what)
        "id": row["id"] if row["id"] is not None and row["kind"] == "followup" else "-",
        "client": row["client"],
        "status": row["status"],
        "due": row["due"] + (f" {dates.format_local(row['due_at'])[11:]}"
                             if row["due_at"] else ""),
        "late": late,
        "what": row["what"],
        "last_contact": dates.local_date_of(row["last_contact"], zone).isoformat()
        if row["last_contact"]
        else "never",
    }


def late_text(days_late: int) -> str:
    """'3d late', 'today', 'in 2d' for a days_late value."""
    if days_late > 0:
        return f"{days_late}d late"
    if days_late == 0:
        return "today"
    return f"in {-days_late}d"
