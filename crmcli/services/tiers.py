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
             for r in store.events.won_by_client(cfg["currency"], names=False)}
    return tier_of_client(units, store.reports.live_client_ids(), cfg["tiers.a_share"],
                          cfg["tiers.b_share"])


def client_tier(store, client: dict) -> str:
    """The client's A/B/C revenue tier, as tiers_by_client has it, without
    ranking the whole book in Python: one pass gives the client's won revenue, the revenue
    of the clients ranked ahead of it and the book's total (exact integers), and the tier
    rule itself (crmcli.metrics.segments.tier_of_client) is applied to those three: "the
    clients ahead" ranks just ahead of the client, "the rest" counts only in the total."""
    from crmcli.metrics.segments import tier_of_client

    if client.get("archived_at"):
        return "C"  # tiers rank the live book only
    config = store.config
    mine, ahead, total = store.reports.revenue_rank(config["currency"], client["id"])
    if mine <= 0:
        return "C"
    ahead_id, rest_id = -1, -2  # ids no client has; ahead_id sorts first on a tie
    revenues = {client["id"]: mine, rest_id: total - mine - ahead}
    ranked = [client["id"]]
    if ahead:
        revenues[ahead_id] = ahead
        ranked.insert(0, ahead_id)
    return tier_of_client(revenues, ranked, config["tiers.a_share"],
                          config["tiers.b_share"])[client["id"]]


def check_tier(tier: str, option: str = "--tier") -> str:
    wanted = (tier or "").strip().upper()
    if wanted not in TIERS:
        raise UsageError(f"{option} {tier!r}: must be A, B or C")
    return wanted


def client_ids_in_tier(store, tier: str) -> list[int]:
    wanted = check_tier(tier)
    return [cid for cid, t in tiers_by_client(store).items() if t == wanted]
