"""Segments: A/B/C revenue tiers (RFM scores are added beside them)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass
class TierRow:
    client_id: int
    revenue: Decimal
    share: float
    cumulative_share: float
    tier: str


def abc_tiers(revenues: dict[int, Decimal], client_ids: list[int], a_share: float = 0.8,
              b_share: float = 0.95) -> list[TierRow]:
    """A/B/C tiers by cumulative revenue share.

    Clients are ranked by won revenue (ties by id). A client is A while the
    cumulative share *before* it is under a_share (so the client that crosses
    the line is still A), B likewise up to b_share, and C after that; clients
    with no revenue are always C.
    """
    total = sum(revenues.values(), Decimal(0))
    ranked = sorted(client_ids, key=lambda cid: (-revenues.get(cid, Decimal(0)), cid))
    rows: list[TierRow] = []
    running = Decimal(0)
    for cid in ranked:
        revenue = revenues.get(cid, Decimal(0))
        before = float(running / total) if total else 1.0
        running += revenue
        share = float(revenue / total) if total else 0.0
        if revenue <= 0:
            tier = "C"
        elif before < a_share:
            tier = "A"
        elif before < b_share:
            tier = "B"
        else:
            tier = "C"
        rows.append(TierRow(cid, revenue, share, float(running / total) if total else 0.0, tier))
    return rows
