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


def _money_by_currency(deals: list[dict], weighted: bool = False) -> str:
    from decimal import Decimal

    from crmcli.render.output import money_text

    totals: dict[str, Decimal] = {}
    for d in deals:
        value = d["amount"] * (d["probability"] or 0) / 100 if weighted else d["amount"]
        totals[d["currency"]] = totals.get(d["currency"], Decimal(0)) + value
    return " + ".join(money_text(v, c) for c, v in sorted(totals.items()))


def _deal_line(deal: dict, long: bool = True) -> str:
    from crmcli.render.output import money_text
    from crmcli.render.safe import visible

    what = f" {visible(deal['title'])}" if deal["title"] and long else ""
    close = f" → {deal['close_date']}" if deal["close_date"] and long else ""
    return (f"#{deal['id']} {visible(deal['client'])}{what}: "
            f"{money_text(deal['amount'], deal['currency'])}{close}")


def emit_deal_board(board: list[dict], fmt: str, fields: list[str]) -> None:
    """The open deals as a board, one column per stage in pipeline order: panels on a
    terminal, one line per stage otherwise (stage, default probability, deals, amount and
    weighted amount per currency, the biggest deals); the other formats get the open deals
    themselves as records (`fields`), in board order."""
    if fmt != "table":
        from crmcli.render.output import emit_rows

        emit_rows([d for column in board for d in column["deals"]], fmt, fields=fields)
        return
    if is_terminal():
        from rich.columns import Columns
        from rich.panel import Panel
        from rich.text import Text

        from crmcli.render.output import rich_console

        panels = []
        for column in board:
            lines = [_deal_line(d) for d in column["deals"][:8]]
            if len(column["deals"]) > 8:
                lines.append(f"… {len(column['deals']) - 8} more")
            if column["deals"]:
                lines.append("Σ " + _money_by_currency(column["deals"]))
            chance = (f" {column['probability']}%" if column["probability"] is not None
                      else " (not configured)")
            panels.append(Panel(Text("\n".join(lines)) if lines else Text("—", style="dim"),
                                width=32,
                                title=f"{column['stage']}{chance} · {len(column['deals'])}"))
        rich_console().print(Columns(panels))
        return
    rows = []
    for column in board:
        shown = column["deals"][:2]
        more = f" +{len(column['deals']) - 2}" if len(column["deals"]) > 2 else ""
        rows.append({"stage": column["stage"],
                     "probability": ("" if column["probability"] is None
                                     else f"{column['probability']}%"),
                     "deals": len(column["deals"]),
                     "amount": _money_by_currency(column["deals"]),
                     "weighted": _money_by_currency(column["deals"], weighted=True),
                     "biggest": "; ".join(_deal_line(d, long=False) for d in shown) + more})
    emit(rows, "table", columns=["stage", "probability", "deals", "amount", "weighted",
                                 "biggest"])
