"""The client card (`crm show`) written in every format, through the one output path."""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any

from crmcli import dates
from crmcli.render.output import cell_text, display_width, emit, emit_record, selection


def _local(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 20 and value.endswith("Z") and value[4] == "-":
        return dates.format_local(value)
    return value


def _localise(rows: list[dict]) -> list[dict]:
    return [{k: _local(v) for k, v in row.items()} for row in rows]


def lifecycle_line(life: dict) -> str:
    """The lifecycle status in words: 'at-risk: last active 2026-09-03, 91 days ago (usually
    every 106.5 days)'."""
    if life.get("status") == "never":
        return "never active (no activity yet)"
    text = f"{life['status']}: last active {life['last_active']}, {life['days_since']} days ago"
    if life.get("usual_gap_days") is not None:
        text += f" (usually every {life['usual_gap_days']:g} days)"
    return text


def money_line(by_currency: dict, currency: str) -> str:
    """'88,000.00 CNY (none in GBP, the currency of the reports and CLV)' or
    '1,200.50 GBP, 5.00 EUR'."""
    from crmcli.render.output import money_text

    if not by_currency:
        return money_text(0, currency)
    text = ", ".join(money_text(v, c) for c, v in sorted(
        by_currency.items(), key=lambda kv: (kv[0] != currency, kv[0])))
    if currency not in by_currency:
        text += f" (none in {currency}, the currency of the reports and CLV)"
    return text


def owes_line(balance: dict, invoices: list[dict], currency: str | None = None) -> str:
    """'7,800.00 USD on 2 invoices, 1 overdue (7,000.00 USD)': the book's currency first."""
    from crmcli.render.output import money_text

    late = [i for i in invoices if i["status"] == "overdue"]
    text = ", ".join(money_text(v, c) for c, v in sorted(
        balance.items(), key=lambda kv: (kv[0] != currency, kv[0])))
    text += f" on {len(invoices)} invoice{'s' if len(invoices) != 1 else ''}"
    if late:
        overdue: dict = {}
        for i in late:
            overdue[i["currency"]] = overdue.get(i["currency"], 0) + i["balance"]
        text += f", {len(late)} overdue (" + ", ".join(
            money_text(v, c) for c, v in sorted(overdue.items())) + ")"
    return text


def clv_line(value, currency: str | None) -> str:
    from crmcli.render.output import money_text

    if isinstance(value, dict):
        return ", ".join(f"{k} {money_text(v, currency) if isinstance(v, Decimal) else v}"
                         for k, v in value.items() if v is not None)
    return money_text(value, currency) if isinstance(value, Decimal) else str(value)


def emit_card(card: dict[str, Any], fmt: str, out=None) -> None:
    """The card (crmcli.services.card.build_card) in any format: the whole dict in json and
    ndjson, the profile as one record in csv and tsv, a page for people otherwise."""
    out = out or sys.stdout
    if fmt in ("csv", "tsv") or selection().fields is not None:
        # One flat record: the profile with the card's single values (--fields picks from it).
        flat = dict(card["client"])
        flat["tags"] = card["tags"]
        for key, value in card.items():
            if key not in ("client", "tags") and not isinstance(value, list | dict):
                flat[key] = value
        emit_record(flat, fmt, out=out)
        return
    if fmt in ("json", "ndjson"):
        emit_record(card, fmt, out=out)
        return
    profile = card["client"]
    title = cell_text(f"{profile['name']} (#{profile['id']})")
    heading = (lambda text: f"## {text}\n\n") if fmt == "markdown" else (lambda text: f"{text}\n")
    out.write(("# " if fmt == "markdown" else "") + title + "\n")
    if fmt != "markdown":
        out.write("=" * display_width(title) + "\n")
    lines = []
    # "status" in the profile is the record's (archived or not); on the card the status a
    # reader looks for is the lifecycle one, so that is the line called status.
    for key in ("company", "email", "phone", "industry", "size", "owner", "source", "stage",
                "external_id"):
        if profile.get(key):
            lines.append((key, profile[key]))
    if profile.get("private"):
        lines.append(("private", "yes (seen only by its owner and admins on a team book)"))
    if card.get("lifecycle"):
        lines.append(("status", lifecycle_line(card["lifecycle"])))
    if "revenue_by_currency" in card:
        lines.append(("revenue", money_line(card["revenue_by_currency"], card["currency"])))
    if card.get("open_balance"):
        lines.append(("owes", owes_line(card["open_balance"], card["open_invoices"],
                                        card.get("currency"))))
    for key in ("tier", "clv", "p_alive", "predicted_clv", "cadence"):
        if card.get(key) not in (None, "", {}):
            value = card[key]
            if key in ("clv", "predicted_clv"):
                value = clv_line(value, card.get("currency"))
            elif isinstance(value, dict):
                value = ", ".join(f"{k} {_local(v)}" for k, v in value.items() if v is not None)
            lines.append((key, value))
    if card["tags"]:
        lines.append(("tags", ", ".join(card["tags"])))
    for key, value in profile["custom"].items():
        # a number as typed (12000.50, not the money style of the card's amounts)
        lines.append((key, format(value, "f") if isinstance(value, Decimal) else value))
    lines.append(("created", _local(profile["created_at"])))
    if profile.get("archived_at"):
        lines.append(("archived", _local(profile["archived_at"])))
    if fmt == "markdown":
        emit([{"field": k, "value": v} for k, v in lines], "markdown", out=out)
    else:
        width = max(display_width(cell_text(k)) for k, _ in lines)
        for key, value in lines:
            shown = cell_text(key)
            # a value of several lines (custom text) continues under its first line
            text = cell_text(value).replace("\r\n", "\n").replace("\n", "\n" + " " * (width + 4))
            out.write(f"  {shown}{' ' * (width - display_width(shown))}  {text}\n")
    if profile.get("notes"):
        notes = cell_text(profile["notes"].replace("\r\n", "\n"))
        out.write("\n" + heading("Notes") + "  " + notes.replace("\n", "\n  ") + "\n")
    sections = [
        ("Contacts", card["contacts"], ["id", "name", "role", "email", "phone",
                                        "decision_level", "is_primary"]),
        ("Stage history", card["stage_history"], ["at", "from_stage", "to_stage", "note"]),
        ("Open follow-ups", card.get("open_followups", []), None),
        ("Open invoices", card.get("open_invoices", []), None),
        ("Recent timeline", card.get("timeline", []), None),
    ]
    for name, rows, columns in sections:
        if rows:
            out.write("\n" + heading(name))
            emit(_localise(rows), "markdown" if fmt == "markdown" else "table",
                 columns=columns, out=out)
