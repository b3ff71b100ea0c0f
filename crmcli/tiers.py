"""Revenue tiers of the live book, for `crm ls --tier` and the client card."""

from __future__ import annotations

from crmcli.store.errors import ValidationError


def tiers_by_client(store) -> dict[int, str]:
    from crmcli.metrics.segments import abc_tiers

    cfg = store.config
    rows = abc_tiers(store.won_revenue_by_client(), store.live_client_ids(),
                     cfg.get("tiers.a_share", 0.8), cfg.get("tiers.b_share", 0.95))
    return {row.client_id: row.tier for row in rows}


def client_ids_in_tier(store, tier: str) -> list[int]:
    wanted = tier.strip().upper()
    if wanted not in ("A", "B", "C"):
        raise ValidationError("--tier", tier, "must be A, B or C")
    return [cid for cid, t in tiers_by_client(store).items() if t == wanted]
