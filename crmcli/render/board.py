"""The pipeline board (`crm stage` alone, and the demo)."""

from __future__ import annotations

from crmcli.render.output import emit, is_terminal


def emit_board(board: list[dict], fmt: str) -> None:
    """The pipeline board: panels on a terminal, one line per stage otherwise; the
    stages with their clients in the other formats."""
    if fmt != "table":
        emit([{"stage": b["stage"], "clients": b["clients"], "names": b["names"]} for b in board],
             fmt, columns=["stage", "clients", "names"])
        return
    if is_terminal():
        from rich.columns import Columns
        from rich.panel import Panel

        from crmcli.render.output import rich_console

        panels = []
        for column in board:
            names = column["names"][:8]
            body = "\n".join(names) + (f"\n… {len(column['names']) - 8} more"
                                       if len(column["names"]) > 8 else "")
            panels.append(Panel(body or "[dim]—[/dim]", width=24,
                                title=f"{column['stage'] or '(no stage)'} · {column['clients']}"))
        rich_console().print(Columns(panels))
        return
    rows = []
    for column in board:
        names = column["names"][:5]
        more = f" +{len(column['names']) - 5}" if len(column["names"]) > 5 else ""
        rows.append({"stage": column["stage"] or "(no stage)", "clients": column["clients"],
                     "bar": "#" * min(column["clients"], 40),
                     "names": ", ".join(names) + more})
    emit(rows, "table", columns=["stage", "clients", "bar", "names"])
