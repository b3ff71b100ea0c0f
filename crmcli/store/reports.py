"""Read-only aggregate queries behind crmcli.metrics."""

from __future__ import annotations

from decimal import Decimal


class ReportsMixin:
    def won_revenue_by_client(self) -> dict[int, Decimal]:
        """Total won revenue per client, summed exactly."""
        totals: dict[int, Decimal] = {}
        for row in self.iter_query("SELECT client_id, amount FROM deals WHERE status = 'won'"):
            totals[row["client_id"]] = totals.get(row["client_id"], Decimal(0)) + Decimal(
                row["amount"])
        return totals

    def live_client_ids(self) -> list[int]:
        return [r["id"] for r in self.query("SELECT id FROM clients WHERE archived_at IS NULL")]
