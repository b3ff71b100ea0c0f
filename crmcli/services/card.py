"""The client card behind `crm show`: built as one dict (crmcli.render.card writes it).

Each section has its own builder so that the daily loop, the metrics and the
predictive models each contribute their part without touching the others.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crmcli import dates
from crmcli.services import tiers
from crmcli.store import fields
from crmcli.store.clients import PROFILE_FIELDS


def _profile(store, client: dict) -> dict[str, Any]:
    profile = {k: client[k] for k in PROFILE_FIELDS}
    profile["custom"] = fields.ordered(store.clients.fields, fields.load(client["custom"]))
    profile["status"] = "archived" if client["archived_at"] else "active"
    return profile


def _revenue(by_currency: dict, currency: str) -> dict[str, Any]:
    """revenue: won revenue in the book's currency (what the CLV and the reports count);
    revenue_by_currency: every currency's, so a deal in another one is never lost from
    sight; currency: the book's."""
    return {"currency": currency, "revenue": by_currency.get(currency, Decimal(0)),
            "revenue_by_currency": by_currency}


def _activity(store, client: dict, tier: str | None = None) -> dict[str, Any]:
    """Timeline, open follow-ups, revenue and cadence (the daily loop); tier: the client's
    revenue tier when it is known already (cadence rules may go by tier)."""
    from crmcli.services.cadence import cadence_info
    from crmcli.services.due import with_status

    open_rows = [{"id": f["id"], "due": f["due"],
                  "time": dates.format_local(f["due_at"])[11:] if f["due_at"] else None,
                  "note": f["note"],
                  "repeats": dates.describe_every(f["every"]) if f["every"] else None,
                  "status": f["status"]}
                 for f in with_status(store.followups.open(client["id"]), dates.today())]
    info = cadence_info(store, client, store.config,
                        tiers=None if tier is None else {client["id"]: tier})
    cadence = {k: info[k] for k in ("ideal", "max", "last_contact", "status", "days_since")}
    cadence["source"] = info["source"]
    return {"timeline": store.interactions.timeline(client["id"], limit=15),
            "open_followups": open_rows,
            **_revenue(store.deals.revenue(client["id"]), store.config["currency"]),
            "cadence": cadence}


def _receivables(store, client: dict) -> dict[str, Any]:
    """open_balance ({currency: amount}, {} when nothing is owed) and open_invoices."""
    if not store.invoices.exists():
        return {"open_balance": {}, "open_invoices": []}
    from crmcli.services.receivables import client_receivables

    return client_receivables(store, client["id"])


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
    if store.transactions.latest_model_fit("bgnbd") is None:
        return {}
    from crmcli.services.prediction import card_prediction

    prediction = card_prediction(store, store.config, client)
    if not prediction:
        return {}
    return {"p_alive": prediction["p_alive"], "predicted_clv": prediction["predicted_clv"]}


def build_card(store, client: dict) -> dict[str, Any]:
    card: dict[str, Any] = {
        "client": _profile(store, client),
        "tags": store.clients.tags(client["id"]),
        "stage_history": store.clients.stage_history(client["id"]),
        "contacts": [{k: v for k, v in c.items() if k not in ("client_id", "client")}
                     for c in store.contacts.list(client["id"])],
    }
    tier = tiers.client_tier(store, client)
    card.update(_activity(store, client, tier))
    card.update(_receivables(store, client))
    card.update(_value(store, client, tier))
    return card
