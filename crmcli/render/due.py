"""The due list (`crm due`, and the demo) in every format: for people, one line per item
with how late it is and the day of the last contact; for machines, the rows as they are."""

from __future__ import annotations

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
    from crmcli import dates
    from crmcli.services.due import late_text

    lates: dict[int, str] = {}  # one text per distinct number of days
    zone = dates.zone()
    shown = []
    for row in rows:
        late = lates.get(row["days_late"])
        if late is None:
            late = lates[row["days_late"]] = late_text(row["days_late"])
        shown.append({
            "id": row["id"] if row["id"] is not None else "-",
            "client": row["client"],
            "status": row["status"],
            "due": row["due"] + (f" {dates.format_local(row['due_at'])[11:]}"
                                 if row["due_at"] else ""),
            "late": late,
            "what": row["what"],
            "last_contact": dates.local_date_of(row["last_contact"], zone).isoformat()
            if row["last_contact"]
            else "never",
        })
    return shown
