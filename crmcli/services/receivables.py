"""Invoices as people follow them: each with its status, the receivables report, the
overdue invoices of `crm due` and its digest, and a client's open balance on the card."""

from __future__ import annotations

from datetime import date, timedelta

from crmcli import dates
from crmcli.metrics import receivables as metrics

INVOICE_FIELDS = ["id", "number", "client_id", "client", "owner", "deal_id", "issued", "due",
                  "amount", "paid", "balance", "currency", "status", "days_late", "last_payment",
                  "note"]
STATUSES = ("open", "overdue", "paid")


def with_status(rows: list[dict], today: date) -> list[dict]:
    """Invoice rows (store.invoices.list) given their status and days_late (days past due;
    0 or less: not yet due)."""
    for row in rows:
        row["status"] = metrics.invoice_status(row["balance"], row["due"], today)
        row["days_late"] = metrics.days_past_due(row["due"], today)
    return rows


def invoice_rows(store, client_id: int | None = None, *, open_only: bool = False,
                 overdue_only: bool = False) -> list[dict]:
    """Invoices with status, latest issued first; open_only: with a balance (overdue or
    not); overdue_only: past due with a balance."""
    rows = with_status(store.invoices.list(client_id), dates.today())
    if overdue_only:
        rows = [r for r in rows if r["status"] == "overdue"]
    elif open_only:
        rows = [r for r in rows if r["status"] != "paid"]
    return rows


def report_window(since: str | None, until: str | None) -> metrics.Window:
    """[since, until] as local days: until default today, since default 89 days before it
    (a 90-day window)."""
    from crmcli.errors import ValidationError

    def day_of(text: str, option: str) -> date:
        when = dates.parse_when(text)
        day = dates.local(when).date() if hasattr(when, "hour") else when
        if not isinstance(day, date):
            raise ValidationError(option, text, "is not a date")
        return day

    last = day_of(until, "--until") if until else dates.today()
    first = day_of(since, "--since") if since else last - timedelta(days=89)
    if first > last:
        raise ValidationError("--since", since, f"is after --until ({last.isoformat()})")
    return metrics.Window(first, last)


def receivables_report(store, *, since: str | None = None, until: str | None = None) -> dict:
    """The receivables of live clients as of the window's last day (metrics.receivables)."""
    window = report_window(since, until)
    invoices = store.invoices.list()
    zone = dates.zone()
    payments = [{"invoice_id": p["invoice_id"], "amount": p["amount"],
                 "day": dates.local_date_of(p["at"], zone).isoformat()}
                for p in store.invoices.payments()]
    return metrics.receivables(invoices, payments, window)


def overdue_rows(store, config, today: date, *, owner: str | None = None,
                 tag: str | None = None) -> list[dict]:
    """Overdue invoices as due rows (crmcli.services.due.ROW_KEYS): those at or past the
    first reminder step (invoices.remind_days). Each item_key names the step reached, so
    the digest mails an invoice once per step, not once a day."""
    steps = config["invoices.remind_days"]
    candidates = [r for r in with_status(store.invoices.list(), today)
                  if r["status"] == "overdue"]
    if candidates and (owner is not None or tag is not None):
        # the clients `crm due --owner/--tag` means, by the one rule of client filters
        wanted = {c["id"] for c in store.clients.for_cadence(owner=owner, tag=tag)}
        candidates = [r for r in candidates if r["client_id"] in wanted]
    last = store.interactions.last_contacts(sorted({r["client_id"] for r in candidates})) \
        if candidates else {}
    rows = []
    for inv in candidates:
        step = metrics.reminder_step(inv["days_late"], steps)
        if step is None:
            continue
        cur = inv["currency"]
        what = (f"invoice {inv['number']}: {format(inv['balance'], 'f')} of "
                f"{format(inv['amount'], 'f')} {cur} open")
        rows.append({"kind": "invoice", "id": inv["id"], "client_id": inv["client_id"],
                     "client": inv["client"], "owner": inv["owner"],
                     "due": inv["due"], "due_at": None, "what": what, "status": "overdue",
                     "days_late": inv["days_late"], "last_contact": last.get(inv["client_id"]),
                     "item_key": f"invoice:{inv['id']}:step{step}"})
    rows.sort(key=lambda r: (-r["days_late"], r["client"].lower(), r["id"]))
    return rows


def client_receivables(store, client_id: int) -> dict:
    """A client's open balance per currency and their open invoices, for the card."""
    rows = invoice_rows(store, client_id, open_only=True)
    open_rows = [{"number": r["number"], "issued": r["issued"], "due": r["due"],
                  "amount": r["amount"], "balance": r["balance"], "currency": r["currency"],
                  "status": r["status"], "days_late": max(r["days_late"], 0)}
                 for r in sorted(rows, key=lambda r: (r["due"], r["id"]))]
    balance: dict = {}
    for r in rows:
        balance[r["currency"]] = balance.get(r["currency"], 0) + r["balance"]
    return {"open_balance": dict(sorted(balance.items())), "open_invoices": open_rows}
