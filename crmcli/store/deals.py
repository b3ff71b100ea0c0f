"""The deals repository: won, open and lost deals with exact amounts (table deals)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from crmcli.errors import NotFound
from crmcli.store import fields as custom_fields
from crmcli.store import validate
from crmcli.store.activity import utc_at
from crmcli.store.clients import Clients
from crmcli.store.store import Database, utc_now_iso

DEAL_COLUMNS = ("id", "client_id", "client", "at", "title", "amount", "currency", "status")
# The deal columns --where may name (on deals aliased `d`), with their types.
WHERE_COLUMNS = {
    "id": custom_fields.Column("d.id", "number"),
    "client_id": custom_fields.Column("d.client_id", "number"),
    **{name: custom_fields.Column(f"d.{name}", "text") for name in (
        "title", "currency", "status")},
    "amount": custom_fields.Column("CAST(d.amount AS NUMERIC)", "number"),
    "at": custom_fields.Column("d.at", "instant"),
}


class Deals:
    """Deals. Uses the clients repository (the client must exist); `currency` is the
    configured default currency of a deal given without one."""

    def __init__(self, db: Database, clients: Clients, *, currency: str,
                 fields: dict[str, custom_fields.Field] | None = None):
        self.db = db
        self.clients = clients
        self.currency = currency
        self.fields = fields or {}  # the declared custom fields of deals
        self.where = custom_fields.Where(db, "deals", WHERE_COLUMNS, "d.custom", self.fields)

    def _clean_currency(self, currency: str | None) -> str:
        return validate.currency(currency, self.currency)

    def add(self, client_id: int, amount: str | int | Decimal, *,
            at: datetime | str | None = None, title: str | None = None,
            status: str = "won", currency: str | None = None,
            custom: dict[str, Any] | None = None) -> int:
        """Record a deal and return its id.

        amount: non-negative decimal (text, int or Decimal; stored exactly as typed, e.g.
        "19.99"); at: when (aware datetime or UTC ISO; default now); title: free text;
        status: won / open / lost (won deals are revenue); currency: 3-letter code
        (default: the config's currency); custom: custom fields (crmcli.store.fields).
        """
        client = self.clients.get(client_id)
        row = {"client_id": client_id, "amount": validate.amount(str(amount)),
               "currency": self._clean_currency(currency), "at": utc_at(at),
               "title": validate.text("title", title, max_len=validate.MAX_NAME),
               "status": validate.choice("status", status or "won", validate.DEAL_STATUSES),
               "custom": custom_fields.dump(
                   custom_fields.apply(self.fields, {}, custom or {}, new=True)),
               "created_at": utc_now_iso()}
        with self.db.change("deal", f"recorded {row['status']} deal {row['amount']} "
                                 f"{row['currency']} for client {client_id} {client['name']}",
                            client_id=client_id):
            return self.db.insert("deals", row)

    def get(self, deal_id: int) -> dict:
        row = self.db.get("deals", deal_id)
        if row is None:
            raise NotFound(f"no deal with id {deal_id}")
        return row

    def edit(self, deal_id: int, **fields: Any) -> list[str]:
        """Change a deal: any of client_id, amount, at, title (None or '' clears it), status,
        currency, checked as add_deal checks them. Returns the fields that changed (none:
        nothing is recorded)."""
        deal = self.get(deal_id)
        values: dict[str, Any] = {}
        if "client_id" in fields:
            values["client_id"] = self.clients.get(fields["client_id"])["id"]
        if "amount" in fields:
            values["amount"] = validate.amount(str(fields["amount"]))
        if "at" in fields:
            values["at"] = utc_at(fields["at"])
        if "title" in fields:
            values["title"] = validate.text("title", fields["title"], max_len=validate.MAX_NAME)
        if "status" in fields:
            values["status"] = validate.choice("status", fields["status"],
                                               validate.DEAL_STATUSES)
        if "currency" in fields:
            values["currency"] = self._clean_currency(fields["currency"])
        if fields.get("custom"):
            values["custom"] = custom_fields.dump(custom_fields.apply(
                self.fields, custom_fields.load(deal["custom"]), fields["custom"], new=False))
        changed = [k for k, v in values.items() if deal[k] != v]
        if not changed:
            return []
        client = self.clients.get(values.get("client_id", deal["client_id"]))
        with self.db.change("edit-deal", f"edited deal {deal_id} of client {client['id']} "
                                      f"{client['name']}: {', '.join(changed)}",
                            client_id=client["id"]):
            self.db.update("deals", deal_id, {k: values[k] for k in changed})
        return changed

    def list(self, client_id: int | None = None, status: str | None = None, *,
             include_archived: bool = False, limit: int | None = None,
             conditions: list[str] | tuple[str, ...] = ()) -> list[dict]:
        """Deals newest first, with the client's name; amount as exact Decimal; custom
        fields as a dict; conditions: --where texts (crmcli.store.fields.Where)."""
        where, params = self.where.build(conditions)
        if client_id is not None:
            where.append("d.client_id = ?")
            params.append(client_id)
        elif not include_archived:
            where.append("c.archived_at IS NULL")
        if status:
            where.append("d.status = ?")
            params.append(validate.choice("--status", status, validate.DEAL_STATUSES))
        sql = ("SELECT d.id, d.client_id, c.name AS client, d.at, d.title, d.amount, d.currency, "
               "d.status, d.custom FROM deals d JOIN clients c ON c.id = d.client_id"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY d.at DESC, d.id DESC")
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self.db.query(sql, params)
        for row in rows:
            row["amount"] = Decimal(row["amount"])
            row["custom"] = custom_fields.load(row["custom"])
        return rows

    def revenue(self, client_id: int) -> dict[str, Decimal]:
        """Won revenue to date per currency, {currency: Decimal} ({} without won deals): one
        shape however many currencies."""
        totals: dict[str, Decimal] = {}
        for row in self.db.query("SELECT amount, currency FROM deals WHERE client_id = ? AND "
                                 "status = 'won'", (client_id,)):
            totals[row["currency"]] = totals.get(row["currency"], Decimal(0)) + Decimal(
                row["amount"])
        return dict(sorted(totals.items()))

