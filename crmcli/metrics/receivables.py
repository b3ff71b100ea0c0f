"""Receivables: what clients owe, how late, and how fast it comes in (pure).

Definitions (README, "Metrics: definitions"), all per currency, never converted:

- an invoice's **open balance** on a day: its amount less the payments made up to that day;
  it is **overdue** when the balance is above zero and the day is after its due date;
- **days past due** = the day − the due date (0 or less: not yet due);
- **aging buckets** of the open balance by days past due: current (not yet due), 1–30,
  31–60, 61–90, 90+;
- **collected** in a window = the payments made in it;
- **invoiced** in a window = the amounts of the invoices issued in it;
- **DSO** (days sales outstanding) = open receivables at the end of the window ÷ invoiced
  in the window × the window's length in days; None when nothing was invoiced in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

BUCKETS = ("current", "days_1_30", "days_31_60", "days_61_90", "days_90_plus")
BUCKET_LABELS = {"current": "current", "days_1_30": "1–30", "days_31_60": "31–60",
                 "days_61_90": "61–90", "days_90_plus": "90+"}


def days_past_due(due: str, day: date) -> int:
    return (day - date.fromisoformat(due)).days


def invoice_status(balance: Decimal, due: str, day: date) -> str:
    """paid (nothing open), overdue (open after its due date) or open."""
    if balance <= 0:
        return "paid"
    return "overdue" if days_past_due(due, day) > 0 else "open"


def bucket_of(days: int) -> str:
    """The aging bucket of an open balance this many days past due."""
    if days <= 0:
        return "current"
    if days <= 30:
        return "days_1_30"
    if days <= 60:
        return "days_31_60"
    if days <= 90:
        return "days_61_90"
    return "days_90_plus"


def reminder_step(days: int, steps: list[int]) -> int | None:
    """The reminder step an overdue invoice has reached: the largest of steps (days past
    due) not above days; None before the first."""
    reached = [s for s in steps if s <= days]
    return max(reached) if reached else None


@dataclass
class Window:
    """The days first..last, both included."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def dso(open_total: Decimal, invoiced: Decimal, days: int) -> Decimal | None:
    """Days sales outstanding (see the module doc), to 0.1 day; None without invoicing."""
    if invoiced <= 0:
        return None
    return (open_total / invoiced * days).quantize(Decimal("0.1"))


def receivables(invoices: list[dict], payments: list[dict], window: Window) -> dict:
    """The receivables as of window.last.

    invoices: {id, client_id, client, currency, amount (Decimal), issued, due ('YYYY-MM-DD')};
    payments: {invoice_id, amount (Decimal), day (local 'YYYY-MM-DD')}. Invoices issued after
    window.last and payments after it are not yet there.

    Returns {"as_of", "since", "days", "currencies": [per currency: open, each bucket,
    overdue, open_invoices, invoiced, collected, dso], "clients": [per client and currency
    with an open balance: client_id, client, currency, open, each bucket, open_invoices,
    oldest_due]} (clients most open first)."""
    as_of = window.last.isoformat()
    since = window.first.isoformat()
    paid: dict[int, Decimal] = {}
    collected: dict[str, Decimal] = {}
    currency_of = {inv["id"]: inv["currency"] for inv in invoices}
    for p in payments:
        if p["day"] > as_of or p["invoice_id"] not in currency_of:
            continue
        paid[p["invoice_id"]] = paid.get(p["invoice_id"], Decimal(0)) + p["amount"]
        if p["day"] >= since:
            cur = currency_of[p["invoice_id"]]
            collected[cur] = collected.get(cur, Decimal(0)) + p["amount"]
    zero = Decimal(0)
    per_currency: dict[str, dict] = {}
    per_client: dict[tuple[int, str], dict] = {}

    def fresh_currency(cur: str) -> dict:
        return {"currency": cur, "open": zero, **dict.fromkeys(BUCKETS, zero), "overdue": zero,
                "open_invoices": 0, "invoiced": zero, "collected": collected.get(cur, zero),
                "dso": None}

    for cur in collected:
        per_currency[cur] = fresh_currency(cur)
    for inv in invoices:
        if inv["issued"] > as_of:
            continue
        cur = inv["currency"]
        totals = per_currency.get(cur) or per_currency.setdefault(cur, fresh_currency(cur))
        if inv["issued"] >= since:
            totals["invoiced"] += inv["amount"]
        balance = inv["amount"] - paid.get(inv["id"], zero)
        if balance <= 0:
            continue
        bucket = bucket_of(days_past_due(inv["due"], window.last))
        totals["open"] += balance
        totals[bucket] += balance
        totals["open_invoices"] += 1
        if bucket != "current":
            totals["overdue"] += balance
        key = (inv["client_id"], cur)
        row = per_client.get(key)
        if row is None:
            row = per_client[key] = {"client_id": inv["client_id"], "client": inv["client"],
                                     "currency": cur, "open": zero, **dict.fromkeys(BUCKETS, zero),
                                     "open_invoices": 0, "oldest_due": inv["due"]}
        row["open"] += balance
        row[bucket] += balance
        row["open_invoices"] += 1
        row["oldest_due"] = min(row["oldest_due"], inv["due"])
    for totals in per_currency.values():
        totals["dso"] = dso(totals["open"], totals["invoiced"], window.days)
    return {"as_of": as_of, "since": since, "days": window.days,
            "currencies": [per_currency[c] for c in sorted(per_currency)],
            "clients": sorted(per_client.values(),
                              key=lambda r: (r["currency"], -r["open"], r["client"].lower(),
                                             r["client_id"]))}
