"""The deals repository: won, open and lost deals with exact amounts (table deals)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from crmcli import dates
from crmcli.errors import NotFound, ValidationError
from crmcli.store import fields as custom_fields
from crmcli.store import validate
from crmcli.store.activity import utc_at
from crmcli.store.clients import Clients
from crmcli.store.store import Database, utc_now_iso

DEAL_COLUMNS = ("id", "client_id", "client", "at", "title", "amount", "currency", "status",
                "stage", "probability", "close_date")
# The deal columns --where may name (on deals aliased `d`), with their types.
WHERE_COLUMNS = {
    "id": custom_fields.Column("d.id", "number"),
    "client_id": custom_fields.Column("d.client_id", "number"),
    **{name: custom_fields.Column(f"d.{name}", "text") for name in (
        "title", "currency", "status", "stage", "close_date")},
    "amount": custom_fields.Column("CAST(d.amount AS NUMERIC)", "number"),
    "at": custom_fields.Column("d.at", "instant"),
}
DEAL_STAGE_CHANGE_COLUMNS = ("id", "deal_id", "client_id", "client", "title", "from_stage",
                             "to_stage", "at", "note")
# The terminal stages of every deal: each is also the deal's status, with this probability.
TERMINAL = {"won": 100, "lost": 0}


class Deals:
    """Deals and their stage moves (tables deals, deal_stage_changes). Uses the clients
    repository (the client must exist); `currency` is the configured default currency of a
    deal given without one; `stages` the configured open stages in order, {name: default
    probability} (won and lost end every deal and are its status: TERMINAL)."""

    def __init__(self, db: Database, clients: Clients, *, currency: str,
                 fields: dict[str, custom_fields.Field] | None = None,
                 stages: dict[str, int], revenue=None):
        from crmcli.store.reports import WON_DEALS

        self.db = db
        self.source = revenue or WON_DEALS  # what revenue() counts (revenue.source)
        self.clients = clients
        self.currency = currency
        self.fields = fields or {}  # the declared custom fields of deals
        self.where = custom_fields.Where(db, "deals", WHERE_COLUMNS, "d.custom", self.fields)
        self.stages = dict(stages)

    @property
    def stage_names(self) -> list[str]:
        """Every stage a deal may be in, in pipeline order: the open ones, then won, lost."""
        return [*self.stages, *TERMINAL]

    def check_stage(self, stage: str | None, field: str = "stage") -> str:
        """The configured spelling of a deal stage (case is forgiven), or ValidationError."""
        wanted = validate.text(field, stage, required=True, max_len=64).lower()
        for known in self.stage_names:
            if known.lower() == wanted:
                return known
        raise ValidationError(field, stage, "is not a deal stage (deals.stages: "
                                            + ", ".join(self.stage_names) + ")")

    def default_probability(self, stage: str | None) -> int | None:
        """The probability of a deal in stage that does not override it (None: a stage no
        longer in the config)."""
        if stage in TERMINAL:
            return TERMINAL[stage]
        return self.stages.get(stage) if stage is not None else None

    def probability_of(self, deal: dict) -> int | None:
        """A deal's probability in percent: its own, else its stage's default."""
        if deal["status"] != "open" or deal.get("probability") is None:
            return self.default_probability(deal["stage"])
        return deal["probability"]

    @staticmethod
    def status_of(stage: str) -> str:
        return stage if stage in TERMINAL else "open"

    def stage_for(self, status: str | None, stage: str | None, current: str | None = None
                   ) -> str:
        """The stage a deal goes to from --status and/or --stage (they must agree; open
        alone keeps an open deal where it is, else the first stage)."""
        if stage is not None:
            stage = self.check_stage(stage)
            if status is not None:
                status = validate.choice("status", status, validate.DEAL_STATUSES)
                if self.status_of(stage) != status:
                    raise ValidationError("status", status, f"disagrees with stage {stage} "
                                                            "(a deal's status follows its "
                                                            "stage: give one of them)")
            return stage
        status = validate.choice("status", status or "won", validate.DEAL_STATUSES)
        if status in TERMINAL:
            return status
        if current is not None and current not in TERMINAL:
            return current
        return next(iter(self.stages))

    def check_probability(self, stage: str, probability: object) -> int | None:
        value = validate.probability(probability)
        if value is not None and stage in TERMINAL:
            raise ValidationError("probability", probability,
                                  f"a {stage} deal's probability is {TERMINAL[stage]}")
        return value

    def _clean_currency(self, currency: str | None) -> str:
        return validate.currency(currency, self.currency)

    def add(self, client_id: int, amount: str | int | Decimal, *,
            at: datetime | str | None = None, title: str | None = None,
            status: str | None = None, currency: str | None = None,
            custom: dict[str, Any] | None = None, stage: str | None = None,
            probability: object = None, close_date: object = None) -> int:
        """Record a deal and return its id.

        amount: non-negative decimal (text, int or Decimal; stored exactly as typed, e.g.
        "19.99"); at: when (aware datetime or UTC ISO; default now); title: free text;
        status: won / open / lost (won deals are revenue; default won, or what stage says);
        stage: a deal stage (default: won/lost for those, else the first open stage);
        probability: percent overriding the stage's default (open deals only); close_date:
        the expected close day; currency: 3-letter code (default: the config's currency);
        custom: custom fields (crmcli.store.fields).
        The deal's first stage move is recorded at `at`.
        """
        client = self.clients.get(client_id)
        stage = self.stage_for(status, stage)
        row = {"client_id": client_id, "amount": validate.amount(str(amount)),
               "currency": self._clean_currency(currency), "at": utc_at(at),
               "title": validate.text("title", title, max_len=validate.MAX_NAME),
               "status": self.status_of(stage), "stage": stage,
               "probability": self.check_probability(stage, probability),
               "close_date": validate.close_date(close_date),
               "custom": custom_fields.dump(
                   custom_fields.apply(self.fields, {}, custom or {}, new=True)),
               "created_at": utc_now_iso()}
        with self.db.change("deal", f"recorded {row['status']} deal {row['amount']} "
                                 f"{row['currency']} for client {client_id} {client['name']}",
                            client_id=client_id):
            deal_id = self.db.insert("deals", row)
            self.db.insert("deal_stage_changes", {"deal_id": deal_id, "from_stage": None,
                                                  "to_stage": stage, "at": row["at"],
                                                  "note": None})
            return deal_id

    def get(self, deal_id: int) -> dict:
        row = self.db.get("deals", deal_id)
        if row is None:
            raise NotFound(f"no deal with id {deal_id}")
        return row

    def move(self, deal_id: int, stage: str, *, at: datetime | str | None = None,
             **fields: Any) -> list[str]:
        """Move a deal to a stage (crm stage-deal) at `at` (default now; the deal's own date
        changes only when the move closes it): edit with a stage, and note, probability or
        close_date beside it."""
        return self.edit(deal_id, stage=stage, command="stage-deal",
                         moved_at=utc_at(at) if at is not None else None, **fields)

    def edit(self, deal_id: int, *, command: str = "edit-deal", moved_at: str | None = None,
             **fields: Any) -> list[str]:
        """Change a deal: any of client_id, amount, at, title (None or '' clears it), status,
        stage, probability and close_date (None or '' clears them), currency, checked as
        add checks them; note: the note of a stage move. A new status or stage is a stage
        move recorded at `at` (else now); a move to won or lost also makes that the deal's
        `at` (a won deal is revenue on its date); a move resets the probability to the new
        stage's default unless one is given. Returns the fields that changed (none: nothing
        is recorded)."""
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
        stage = deal["stage"]
        if "status" in fields or "stage" in fields:
            stage = self.stage_for(fields.get("status"), fields.get("stage"), deal["stage"])
            values["stage"] = stage
            values["status"] = self.status_of(stage)
        moved = stage != deal["stage"]
        if "probability" in fields:
            values["probability"] = self.check_probability(stage, fields["probability"])
        elif moved:
            values["probability"] = None
        if "close_date" in fields:
            values["close_date"] = validate.close_date(fields["close_date"])
        if "currency" in fields:
            values["currency"] = self._clean_currency(fields["currency"])
        if fields.get("custom"):
            values["custom"] = custom_fields.dump(custom_fields.apply(
                self.fields, custom_fields.load(deal["custom"]), fields["custom"], new=False))
        note = validate.text("note", fields.get("note"))
        when = moved_at or values.get("at") or utc_now_iso()
        if moved and stage in TERMINAL and "at" not in values:
            values["at"] = when
        if moved:
            last = self.db.scalar("SELECT max(at) FROM deal_stage_changes WHERE deal_id = ?",
                                  (deal_id,))
            if last is not None and when < last:
                raise ValidationError("at", dates.format_local(when),
                                      f"is before the deal's last stage move "
                                      f"({dates.format_local(last)})")
        changed = [k for k, v in values.items() if deal[k] != v]
        if not changed:
            return []
        client = self.clients.get(values.get("client_id", deal["client_id"]))
        summary = (f"moved deal {deal_id} of client {client['id']} {client['name']} from "
                   f"{deal['stage'] or '(none)'} to {stage}" if moved and changed == ["stage"]
                   else f"edited deal {deal_id} of client {client['id']} {client['name']}: "
                        f"{', '.join(changed)}")
        with self.db.change(command, summary, client_id=client["id"]):
            self.db.update("deals", deal_id, {k: values[k] for k in changed})
            if moved:
                self.db.insert("deal_stage_changes", {"deal_id": deal_id,
                                                      "from_stage": deal["stage"],
                                                      "to_stage": stage, "at": when,
                                                      "note": note})
        return changed

    def stage_history(self, deal_id: int | None = None, client_id: int | None = None, *,
                      limit: int | None = None) -> list[dict]:
        """Stage moves of one deal, or of one client's deals, or of every deal of a live
        client: oldest first (DEAL_STAGE_CHANGE_COLUMNS)."""
        where, params = [], []
        if deal_id is not None:
            self.get(deal_id)
            where.append("h.deal_id = ?")
            params.append(deal_id)
        elif client_id is not None:
            where.append("d.client_id = ?")
            params.append(client_id)
        else:
            where.append("c.archived_at IS NULL")
        sql = ("SELECT h.id, h.deal_id, d.client_id, c.name AS client, d.title, h.from_stage, "
               "h.to_stage, h.at, h.note FROM deal_stage_changes h "
               "JOIN deals d ON d.id = h.deal_id JOIN clients c ON c.id = d.client_id WHERE "
               + " AND ".join(where) + " ORDER BY h.at, h.id")
        rows = self.db.query(sql, params)
        return rows[-limit:] if limit else rows

    def list(self, client_id: int | None = None, status: str | None = None, *,
             include_archived: bool = False, limit: int | None = None,
             conditions: list[str] | tuple[str, ...] = ()) -> list[dict]:
        """Deals newest first, with the client's name (DEAL_COLUMNS); amount as exact
        Decimal, probability its own or its stage's default; custom fields as a dict;
        conditions: --where texts (crmcli.store.fields.Where)."""
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
               "d.status, d.stage, d.probability, d.close_date, d.custom FROM deals d "
               "JOIN clients c ON c.id = d.client_id"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY d.at DESC, d.id DESC")
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self.db.query(sql, params)
        for row in rows:
            row["amount"] = Decimal(row["amount"])
            row["custom"] = custom_fields.load(row["custom"])
            row["probability"] = self.probability_of(row)
        return rows

    def board(self, client_id: int | None = None) -> list[dict]:
        """The open deals (of live clients, or of one client) by stage, in pipeline order
        (stages no longer configured after them): [{stage, probability, deals: [deal rows,
        biggest first]}]."""
        rows = self.list(client_id, status="open")
        by_stage: dict[str | None, list[dict]] = {s: [] for s in self.stages}
        for row in sorted(rows, key=lambda r: (-r["amount"], r["id"])):
            by_stage.setdefault(row["stage"], []).append(row)
        return [{"stage": stage, "probability": self.default_probability(stage),
                 "deals": deals} for stage, deals in by_stage.items()]

    def revenue(self, client_id: int) -> dict[str, Decimal]:
        """Won revenue to date per currency, {currency: Decimal} ({} without won deals): one
        shape however many currencies. (With revenue.source: payments, what was collected.)"""
        totals: dict[str, Decimal] = {}
        for row in self.db.query(f"SELECT amount, currency FROM {self.source.table} WHERE "
                                 f"client_id = ? AND {self.source.where}", (client_id,)):
            totals[row["currency"]] = totals.get(row["currency"], Decimal(0)) + Decimal(
                row["amount"])
        return dict(sorted(totals.items()))


    def open_deals(self) -> list[dict]:
        """The open deals of live clients for the forecast: id, currency, amount (exact
        text), stage, probability (its own; None: the stage's default), close_date."""
        return self.db.query(
            "SELECT d.id, d.currency, d.amount, d.stage, d.probability, d.close_date "
            "FROM deals d JOIN clients c ON c.id = d.client_id "
            "WHERE d.status = 'open' AND c.archived_at IS NULL ORDER BY d.id")

    def closed_deals(self) -> list[dict]:
        """The won and lost deals of live clients with what their stage history says: id,
        status, currency, amount, closed_at (the last move into its won/lost stage, else
        its date), opened_at and first_stage (its first move; None without history)."""
        rows = self.db.query(
            "SELECT d.id, d.status, d.currency, d.amount, d.at, "
            "(SELECT max(h.at) FROM deal_stage_changes h WHERE h.deal_id = d.id "
            " AND h.to_stage = d.status) AS closed_at, "
            "(SELECT min(h.at) FROM deal_stage_changes h WHERE h.deal_id = d.id) AS opened_at, "
            "(SELECT h.to_stage FROM deal_stage_changes h WHERE h.deal_id = d.id "
            " ORDER BY h.at, h.id LIMIT 1) AS first_stage "
            "FROM deals d JOIN clients c ON c.id = d.client_id "
            "WHERE d.status IN ('won', 'lost') AND c.archived_at IS NULL ORDER BY d.id")
        for row in rows:
            row["closed_at"] = row["closed_at"] or row["at"]
        return rows
