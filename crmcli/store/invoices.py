"""The invoices repository: invoices and the payments against them (tables invoices,
payments).

An invoice bills a client an exact amount in one currency, issued on a local date and due
on another (its terms), optionally for one of the client's deals, under a number unique in
the book. Payments are recorded against an invoice, in its currency, any number of them
until it is paid in full; a payment of more than the open balance is refused (see
`Invoices.pay`: crm keeps no credit balances). A payment repeats its invoice's client and
currency (see the migration) and those are always the invoice's.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal

from crmcli.errors import CrmError, NotFound, ValidationError
from crmcli.store import validate
from crmcli.store.activity import utc_at
from crmcli.store.clients import ID_FORM, Clients, plain_id
from crmcli.store.deals import Deals
from crmcli.store.store import Database, utc_now_iso

INVOICE_COLUMNS = ("id", "number", "client_id", "deal_id", "issued", "due", "amount",
                   "currency", "note", "created_at")
PAYMENT_COLUMNS = ("id", "invoice_id", "client_id", "amount", "currency", "at", "note",
                   "created_at")
MAX_NUMBER = 64
# Terms longer than this are a slip (a year typed as days), not a contract.
MAX_TERMS_DAYS = 3660
_DAY = re.compile(r"\d{4}-\d\d-\d\d")


def check_number(value: object) -> str:
    """An invoice number: one line of text, at most MAX_NUMBER characters."""
    number = validate.text("number", value, required=True, max_len=MAX_NUMBER, lines=False)
    assert number is not None
    return number


def check_terms(value: object, field: str = "--terms") -> int:
    """Payment terms in whole days, 0 (due on issue) to MAX_TERMS_DAYS."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_TERMS_DAYS:
        raise ValidationError(field, value, f"must be a whole number of days from 0 to "
                                            f"{MAX_TERMS_DAYS}")
    return int(text)


def check_dates(issued: str, due: str) -> None:
    if due < issued:
        raise ValidationError("due", due, f"is before the invoice's issue date {issued}")


def local_day(value: date | datetime | str | None, field: str) -> str:
    """A local calendar date 'YYYY-MM-DD' (today when None)."""
    from crmcli import dates

    if value is None:
        return dates.today().isoformat()
    if isinstance(value, datetime):
        return dates.local(value).date().isoformat() if value.tzinfo else value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    if _DAY.fullmatch(text) and dates.is_day(text):
        return text
    raise ValidationError(field, value, "is not a date (expected YYYY-MM-DD)")


def check_payment(invoice: dict, amount: str, at: str, balance: Decimal, now: str) -> None:
    """A payment against invoice (its open balance before this payment) is one crm keeps:
    more than zero, not more than the balance, not before the invoice was issued, not in
    the future."""
    from crmcli import dates

    name = invoice_name(invoice)
    if balance <= 0:
        raise CrmError(f"invoice {name} is paid in full; nothing is open to pay")
    if Decimal(amount) > balance:
        raise ValidationError("amount", amount,
                              f"is more than the open balance of invoice {name} "
                              f"({format(balance, 'f')} {invoice['currency']}); crm keeps no "
                              f"credit, so record at most the balance")
    validate.happened("at", at, now)
    if dates.local_date_of(at).isoformat() < invoice["issued"]:
        raise ValidationError("at", at, f"is before invoice {name} was issued "
                                        f"({invoice['issued']})")


def invoice_name(invoice: dict) -> str:
    return invoice["number"]


class Invoices:
    """Invoices and payments. Uses the clients repository (an invoice's client must exist)
    and the deals one (an invoice's deal is one of its client's); `currency` and
    `terms_days` are the config's defaults of an invoice given without them."""

    def __init__(self, db: Database, clients: Clients, deals: Deals, *, currency: str,
                 terms_days: int):
        self.db = db
        self.clients = clients
        self.deals = deals
        self.currency = currency
        self.terms_days = terms_days

    # --- reading ---------------------------------------------------------

    def get(self, invoice_id: int) -> dict:
        row = self.db.get("invoices", invoice_id)
        if row is None:
            raise NotFound(f"no invoice with id {invoice_id}")
        return row

    def get_or_none(self, invoice_id: int) -> dict | None:
        return self.db.get("invoices", invoice_id)

    def resolve(self, ref: str) -> dict:
        """The invoice a reference names: its number, or its id ('#12', 'id:12', or a plain
        12 that is no other invoice's number)."""
        text = str(ref).strip()
        explicit = ID_FORM.fullmatch(text)
        if explicit:
            return self.get(int(explicit[1]))
        by_number = self.db.query_one("SELECT * FROM invoices WHERE number = ?", (text,))
        as_id = plain_id(text)
        by_id = self.db.get("invoices", as_id) if as_id is not None else None
        if by_number and by_id and by_number["id"] != by_id["id"]:
            raise CrmError(f"{text!r} is the id of invoice {by_id['number']} and the number of "
                           f"invoice {by_number['id']}; write '#{by_id['id']}' for the first "
                           f"or '#{by_number['id']}' for the second")
        found = by_number or by_id
        if found is None:
            raise NotFound(f"no invoice with number or id {text!r} (see crm invoices)")
        return found

    def by_number(self, number: str) -> dict | None:
        return self.db.query_one("SELECT * FROM invoices WHERE number = ?", (number,))

    def payment(self, payment_id: int) -> dict | None:
        return self.db.get("payments", payment_id)

    def paid(self, invoice_id: int) -> Decimal:
        return sum((Decimal(r["amount"]) for r in self.db.query(
            "SELECT amount FROM payments WHERE invoice_id = ?", (invoice_id,))), Decimal(0))

    def list(self, client_id: int | None = None, *, include_archived: bool = False,
             ids: list[int] | None = None) -> list[dict]:
        """Invoices with their client's name, what was paid and the open balance (exact
        Decimals), latest issued first. Fields: id, number, client_id, client, deal_id,
        issued, due, amount, currency, paid, balance, last_payment (UTC ISO or None), note."""
        where, params = [], []
        if client_id is not None:
            where.append("i.client_id = ?")
            params.append(client_id)
        elif not include_archived:
            where.append("c.archived_at IS NULL")
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        rows = self.db.query(
            "SELECT i.id, i.number, i.client_id, c.name AS client, c.owner, i.deal_id, i.issued, "
            "i.due, i.amount, i.currency, i.note FROM invoices i "
            "JOIN clients c ON c.id = i.client_id"
            + clause + " ORDER BY i.issued DESC, i.id DESC", params)
        paid: dict[int, Decimal] = {}
        last: dict[int, str] = {}
        for p in self.db.iter_query(
                "SELECT p.invoice_id, p.amount, p.at FROM payments p JOIN invoices i ON "
                "i.id = p.invoice_id JOIN clients c ON c.id = i.client_id" + clause, params):
            paid[p["invoice_id"]] = paid.get(p["invoice_id"], Decimal(0)) + Decimal(p["amount"])
            if p["at"] > last.get(p["invoice_id"], ""):
                last[p["invoice_id"]] = p["at"]
        out = []
        for row in rows:
            amount = Decimal(row["amount"])
            got = paid.get(row["id"], Decimal(0))
            out.append({"id": row["id"], "number": row["number"], "client_id": row["client_id"],
                        "client": row["client"], "owner": row["owner"],
                        "deal_id": row["deal_id"],
                        "issued": row["issued"], "due": row["due"], "amount": amount,
                        "currency": row["currency"], "paid": got, "balance": amount - got,
                        "last_payment": last.get(row["id"]), "note": row["note"]})
        return out

    def payments(self, *, invoice_id: int | None = None, client_id: int | None = None,
                 since: str | None = None, until: str | None = None) -> list[dict]:
        """Payments oldest first, with the invoice's number and the client's name (amount an
        exact Decimal); since/until: UTC ISO bounds [since, until) on `at`. Archived
        clients' payments are left out unless one client or invoice is asked for."""
        where, params = [], []
        if invoice_id is not None:
            where.append("p.invoice_id = ?")
            params.append(invoice_id)
        if client_id is not None:
            where.append("p.client_id = ?")
            params.append(client_id)
        if invoice_id is None and client_id is None:
            where.append("c.archived_at IS NULL")
        if since:
            where.append("p.at >= ?")
            params.append(since)
        if until:
            where.append("p.at < ?")
            params.append(until)
        rows = self.db.query(
            "SELECT p.id, p.invoice_id, i.number, p.client_id, c.name AS client, p.at, p.amount, "
            "p.currency, p.note FROM payments p JOIN invoices i ON i.id = p.invoice_id "
            "JOIN clients c ON c.id = p.client_id"
            + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY p.at, p.id",
            params)
        for row in rows:
            row["amount"] = Decimal(row["amount"])
        return rows

    # --- writing ---------------------------------------------------------

    def next_number(self) -> str:
        """The first free number of the form INV-0001 from the count of invoices up."""
        n = (self.db.scalar("SELECT count(*) FROM invoices") or 0) + 1
        while self.db.scalar("SELECT 1 FROM invoices WHERE number = ?", (f"INV-{n:04d}",)):
            n += 1
        return f"INV-{n:04d}"

    def add(self, client_id: int, amount: str | int | Decimal, *, currency: str | None = None,
            deal_id: int | None = None, issued: date | str | None = None,
            due: date | str | None = None, terms: int | str | None = None,
            number: str | None = None, note: str | None = None) -> int:
        """Record an invoice and return its id.

        amount: more than zero, exact; currency: 3-letter code (default: the deal's, else the
        config's); issued: local date (default today); due: a local date, or `terms` days
        after issued (default: invoices.terms_days of the config), not both; number: unique
        (default: the next free INV-0001); deal_id: one of the client's deals."""
        client = self.clients.get(client_id)
        if due is not None and terms is not None:
            raise ValidationError("--due", due, "give a due date or --terms, not both")
        deal = None
        if deal_id is not None:
            deal = self.deals.get(deal_id)
            if deal["client_id"] != client_id:
                raise ValidationError("deal", deal_id, f"is a deal of client {deal['client_id']}, "
                                                       f"not of client {client_id}")
        issued_day = local_day(issued, "issued")
        if due is None:
            days = self.terms_days if terms is None else check_terms(terms)
            due_day = (date.fromisoformat(issued_day) + timedelta(days=days)).isoformat()
        else:
            due_day = local_day(due, "due")
        check_dates(issued_day, due_day)
        row = {"client_id": client_id, "deal_id": deal_id,
               "number": check_number(number) if number is not None else self.next_number(),
               "amount": validate.positive_amount(str(amount)),
               "currency": validate.currency(currency, deal["currency"] if deal and not currency
                                             else self.currency),
               "issued": issued_day, "due": due_day,
               "note": validate.text("note", note), "created_at": utc_now_iso()}
        if self.db.scalar("SELECT id FROM invoices WHERE number = ?", (row["number"],)):
            raise ValidationError("number", row["number"], "is the number of another invoice "
                                                           "(numbers are unique)")
        with self.db.change("invoice add", f"issued invoice {row['number']} for {row['amount']} "
                                           f"{row['currency']} to client {client_id} "
                                           f"{client['name']}", client_id=client_id):
            return self.db.insert("invoices", row)

    def pay(self, invoice_id: int, amount: str | int | Decimal, *,
            at: datetime | str | None = None, note: str | None = None) -> int:
        """Record a payment against an invoice and return its id: more than zero and at most
        the open balance (an overpayment is refused, naming the balance: crm keeps no
        credit), at (default now) not before the issue date nor in the future."""
        invoice = self.get(invoice_id)
        client = self.clients.get(invoice["client_id"])
        value = validate.positive_amount(str(amount))
        when = utc_at(at)
        row = {"invoice_id": invoice_id, "client_id": invoice["client_id"], "amount": value,
               "currency": invoice["currency"], "at": when, "note": validate.text("note", note),
               "created_at": utc_now_iso()}
        with self.db.change("invoice pay", f"received {value} {invoice['currency']} on invoice "
                                           f"{invoice['number']} of client {client['id']} "
                                           f"{client['name']}", client_id=client["id"]):
            # the balance is read inside the write transaction: two payments at once
            # cannot both fit under it
            balance = Decimal(invoice["amount"]) - self.paid(invoice_id)
            check_payment(invoice, value, when, balance, utc_now_iso())
            return self.db.insert("payments", row)

    def balances(self, client_id: int) -> dict[str, Decimal]:
        """A client's open balance per currency ({} when nothing is open)."""
        totals: dict[str, Decimal] = {}
        for row in self.list(client_id):
            if row["balance"] > 0:
                totals[row["currency"]] = totals.get(row["currency"], Decimal(0)) + row["balance"]
        return dict(sorted(totals.items()))

    def exists(self) -> bool:
        return bool(self.db.scalar("SELECT 1 FROM invoices LIMIT 1"))
