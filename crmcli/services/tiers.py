"""Revenue tiers of the live book, for `crm ls --tier`, the client card and cadence rules.

A/B/C by cumulative share of won revenue in the configured currency (see
crmcli.metrics.segments.abc_tiers and tier_of_client); clients without such revenue are C.
"""

from __future__ import annotations

from crmcli.errors import UsageError

TIERS = ("A", "B", "C")


def tiers_by_client(store) -> dict[int, str]:
    """{client_id: 'A' | 'B' | 'C'} for every live client."""
    from crmcli.metrics.segments import tier_of_client

    cfg = store.config
    units = {r["client_id"]: r["units"]
             for r in store.won_by_client(cfg["currency"], names=False)}
    return tier_of_client(units, store.live_client_ids(), cfg["tiers.a_share"],
                          cfg["tiers.b_share"])


def check_tier(tier: str, option: str = "--tier") -> str:
    wanted = (tier or "").strip().upper()
    if wanted not in TIERS:
        raise UsageError(f"{option} {tier!r}: must be A, B or C")
    return wanted


def client_ids_in_tier(store, tier: str) -> list[int]:
    wanted = check_tier(tier)
    return [cid for cid, t in tiers_by_client(store).items() if t == wanted]
