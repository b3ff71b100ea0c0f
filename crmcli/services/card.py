"""The client card behind `crm show`: built as one dict, rendered in any format.

Each section has its own builder so that the daily loop, the metrics and the
predictive models each contribute their part without touching the others.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from crmcli.services import tiers

PROFILE_FIELDS = ["id", "name", "company", "email", "phone", "industry", "size", "owner",
                  "source", "stage", "external_id", "notes", "created_at", "updated_at",
                  "archived_at"]


def _profile(store, client: dict) -> dict[str, Any]:
    profile = {k: client[k] for k in PROFILE_FIELDS}
    profile["custom"] = json.loads(client["custom"] or "{}")
    profile["status"] = "archived" if client["archived_at"] else "active"
    return profile


def _activity(store, client: dict, tier: str | None = None) -> dict[str, Any]:
    """Timeline, open follow-ups, revenue and cadence (the daily loop); tier: the client's
    revenue tier when it is known already (cadence rules may go by tier)."""
    from crmcli import dates
    from crmcli.services.cadence import cadence_info
    from crmcli.services.due import with_status

    open_rows = [{"id": f["id"], "due": f["due"],
                  "time": dates.format_local(f["due_at"])[11:] if f["due_at"] else None,
                  "note": f["note"],
                  "repeats": dates.describe_every(f["every"]) if f["every"] else None,
                  "status": f["status"]}
                 for f in with_status(store.open_followups(client["id"]), dates.today())]
    info = cadence_info(store, client, store.config,
                        tiers=None if tier is None else {client["id"]: tier})
    cadence = {k: info[k] for k in ("ideal", "max", "last_contact", "status", "days_since")}
    cadence["source"] = info["source"]
    return {"timeline": store.timeline(client["id"], limit=15),
            "open_followups": open_rows,
            "revenue": store.revenue(client["id"]),
            "cadence": cadence}


def _value(store, client: dict, tier: str | None = None) -> dict[str, Any]:
    """Tier, lifecycle status and CLV (the metrics)."""
    from crmcli.metrics.clv import client_clv
    from crmcli.metrics.lifecycle import lifecycle_rows

    config = store.config
    rows = lifecycle_rows(store, config, client_id=client["id"])
    if rows:
        row = rows[0]
        lifecycle = {"status": row["status"], "last_active": row["last_active"],
                     "days_since": row["days_since"], "usual_gap_days": row["usual_gap_days"]}
    else:
        lifecycle = {"status": "never"}
    value = {"tier": tier if tier is not None else tiers.client_tier(store, client),
             "lifecycle": lifecycle,
             "clv": client_clv(store, config, client["id"])}
    value.update(_prediction(store, client))
    return value


def _prediction(store, client: dict) -> dict[str, Any]:
    """P(alive) and predicted CLV from the latest saved BG/NBD fit, when there is one."""
    # Most books never fit a model: don't load the model code to find that out.
    if store.latest_model_fit("bgnbd") is None:
        return {}
    from crmcli.services.prediction import card_prediction

    prediction = card_prediction(store, store.config, client)
    if not prediction:
        return {}
    return {"p_alive": prediction["p_alive"], "predicted_clv": prediction["predicted_clv"]}


def build_card(store, client: dict) -> dict[str, Any]:
    card: dict[str, Any] = {
        "client": _profile(store, client),
        "tags": store.client_tags(client["id"]),
        "stage_history": store.stage_history(client["id"]),
        "contacts": [{k: v for k, v in c.items() if k not in ("client_id", "client")}
                     for c in store.list_contacts(client["id"])],
    }
    tier = tiers.client_tier(store, client)
    card.update(_activity(store, client, tier))
    card.update(_value(store, client, tier))
    return card


def _local(value: Any) -> Any:
    from crmcli import dates

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
        text += f" (usually every {life['usual_gap_days']} days)"
    return text


def render_card(card: dict[str, Any], fmt: str, out=None) -> None:
    from crmcli.render.output import display_width, emit, emit_record, selection, to_json

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
    if fmt == "json":
        out.write(to_json(card, indent=2) + "\n")
        return
    if fmt == "ndjson":
        out.write(to_json(card) + "\n")
        return
    profile = card["client"]
    title = f"{profile['name']} (#{profile['id']})"
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
    if card.get("lifecycle"):
        lines.append(("status", lifecycle_line(card["lifecycle"])))
    for key in ("tier", "revenue", "clv", "p_alive", "predicted_clv", "cadence"):
        if card.get(key) not in (None, "", {}):
            value = card[key]
            if isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in value.items() if v is not None)
            lines.append((key, value))
    if card["tags"]:
        lines.append(("tags", ", ".join(card["tags"])))
    for key, value in profile["custom"].items():
        lines.append((key, value))
    lines.append(("created", _local(profile["created_at"])))
    if profile.get("archived_at"):
        lines.append(("archived", _local(profile["archived_at"])))
    if fmt == "markdown":
        emit([{"field": k, "value": v} for k, v in lines], "markdown", out=out)
    else:
        width = max(display_width(k) for k, _ in lines)
        for key, value in lines:
            out.write(f"  {key}{' ' * (width - display_width(key))}  {value}\n")
    if profile.get("notes"):
        out.write("\n" + heading("Notes") + "  " + profile["notes"].replace("\n", "\n  ") + "\n")
    sections = [
        ("Contacts", card["contacts"], ["id", "name", "role", "email", "phone",
                                        "decision_level", "is_primary"]),
        ("Stage history", card["stage_history"], ["at", "from_stage", "to_stage", "note"]),
        ("Open follow-ups", card.get("open_followups", []), None),
        ("Recent timeline", card.get("timeline", []), None),
    ]
    for name, rows, columns in sections:
        if rows:
            out.write("\n" + heading(name))
            emit(_localise(rows), "markdown" if fmt == "markdown" else "table",
                 columns=columns, out=out)
