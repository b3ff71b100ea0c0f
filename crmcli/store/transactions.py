"""The transaction log behind the predictive models, and their saved fits (`model_fits`).

The transaction log is the won deals of live (not archived) clients: one row per deal
with its client, instant (UTC ISO), exact amount and currency. Turning it into the
models' frequency / recency / age is the model code's business (crmcli.services.prediction).
"""

from __future__ import annotations

import json
from typing import Any

from crmcli.store.store import Database, utc_now_iso


class Transactions:
    """Won deals as the models' transaction log, and saved model fits (table model_fits).
    Uses the database only."""

    def __init__(self, db: Database, revenue=None):
        from crmcli.store.reports import WON_DEALS

        self.db = db
        self.source = revenue or WON_DEALS

    def won(self, *, client_id: int | None = None,
            until: str | None = None) -> list[dict]:
        """Won deals of live clients, oldest first within each client.

        Fields: client_id, client (name), at (UTC ISO), amount (exact text), currency.
        client_id: only this client's deals; until: only deals at or before this UTC ISO
        instant.
        """
        where = [self.source.where_d, "c.archived_at IS NULL"]
        params: list[Any] = []
        if client_id is not None:
            where.append("d.client_id = ?")
            params.append(client_id)
        if until is not None:
            where.append("d.at <= ?")
            params.append(until)
        return self.db.query(
            "SELECT d.client_id, c.name AS client, d.at, d.amount, d.currency "
            f"FROM {self.source.table} d JOIN clients c ON c.id = d.client_id "
            f"WHERE {' AND '.join(where)} ORDER BY d.client_id, d.at, d.id", params)

    def save_model_fit(self, model: str, *, calibration_end: str, time_unit: str,
                       customers: int, params: dict[str, Any], settings: dict[str, Any],
                       summary: str = "") -> int:
        """Record a fitted model (one undo-free change: a fit deletes nothing); its id."""
        row = {"model": model, "fitted_at": utc_now_iso(), "calibration_end": calibration_end,
               "time_unit": time_unit, "customers": int(customers),
               "params": json.dumps(params, sort_keys=True),
               "settings": json.dumps(settings, sort_keys=True)}
        with self.db.change("report clv", summary or f"saved a {model} model fit"):
            return self.db.insert("model_fits", row)

    def model_fit(self, fit_id: int) -> dict | None:
        """A saved fit by id, params and settings decoded; None when there is none."""
        return self._decoded(self.db.get("model_fits", fit_id))

    def latest_model_fit(self, model: str) -> dict | None:
        """The newest saved fit of model, params and settings decoded; None when none."""
        row = self.db.query_one("SELECT * FROM model_fits WHERE model = ? ORDER BY id DESC LIMIT 1",
                                (model,))
        return self._decoded(row)

    @staticmethod
    def _decoded(row: dict | None) -> dict | None:
        if row is None:
            return None
        row["params"] = json.loads(row["params"])
        row["settings"] = json.loads(row["settings"] or "{}")
        return row
