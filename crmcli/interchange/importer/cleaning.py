"""Cleaning an import's values: each kind's cleaner turns a record (field -> raw value,
after --map) into the values stored, or raises ValidationError naming the field and
value. The rules are the validators of crmcli.store.validate, the ones the CLI uses;
what is here is what only an import needs: instants and dates that name their year,
client references by id, email, external id or name, JSON lists and objects, and CSV
cells that `crm export` defused against spreadsheet formula injection (restored, so an
export re-imports to the same values).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from crmcli import dates
from crmcli.errors import UnknownStage, ValidationError
from crmcli.interchange.importer.mapping import CLIENT_REFS, FIELDS
from crmcli.interchange.importer.sources import json_int
from crmcli.render.output import defuse_formula
from crmcli.store import fields as custom_fields
from crmcli.store import validate
from crmcli.store.bulk import TABLE_COLUMNS, CustomChange
from crmcli.store.clients import CLIENT_RULES, plain_id

# How each client reference column names the client ("auto": an id, else an email, else
# an external id; "org": the client's name, else its company, as vCards do).
_REF_HOW = {"client": "auto", "client_id": "id", "client_email": "email",
            "client_external_id": "external_id", "client_name": "org"}
# After this many distinct client references, load every client's keys in one query.
PRELOAD_AFTER = 500


_ISO_Z = re.compile(r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
                    r"T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\dZ")
_DAY_OK: dict[str, bool] = {}
_TS_REASON = "is not a date and time (expected ISO 8601 such as 2026-11-22T10:00:00Z)"
# Dates in an import name their year (2026-11-22, 22 Nov 2026): no "today" or "+3d".
_YEAR = re.compile(r"\d{4}")


def _day_ok(day: str) -> bool:
    ok = _DAY_OK.get(day)
    if ok is None:
        ok = _DAY_OK[day] = dates.is_day(day)
    return ok


def _year_reason() -> str:
    return f"is out of range: use a year from {dates.MIN_YEAR} to {dates.MAX_YEAR}"


def timestamp(name: str, value: Any, required: bool = False) -> str | None:
    """An instant as stored: UTC 'YYYY-MM-DDTHH:MM:SSZ' (other ISO forms are converted;
    a time without offset is local time in the configured zone, a date alone is 12:00
    local). Words relative to today (yesterday, friday, +3d) are refused: an import means
    the same whichever day it runs."""
    if value is None or value == "":
        if required:
            raise ValidationError(name, value, "is required")
        return None
    if type(value) is str and _ISO_Z.fullmatch(value) and _day_ok(value[:10]):
        return value
    text = validate.text(name, value, required=required, max_len=64)
    if text is None:
        return None
    if _ISO_Z.fullmatch(text) and _day_ok(text[:10]):
        return text
    if not _YEAR.search(text):
        raise ValidationError(name, value, _TS_REASON)

    try:
        when = dates.parse_when(text)
        if not isinstance(when, datetime):
            when = dates.local(datetime.combine(when, time(12, 0)))
        return dates.to_utc_iso(when)
    except (ValueError, OverflowError) as exc:
        if "out of range" in str(exc):
            raise ValidationError(name, value, _year_reason()) from None
        raise ValidationError(name, value, _TS_REASON) from None


def day(name: str, value: Any, required: bool = False) -> str | None:
    text = validate.text(name, value, required=required, max_len=32)
    if text is None:
        return None
    if len(text) == 10 and _day_ok(text):
        return text
    if len(text) == 10 and text[:4].isdigit() and text[4:5] == "-":
        raise ValidationError(name, value, _year_reason())
    raise ValidationError(name, value, "is not a date (expected YYYY-MM-DD)")


def row_id(name: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if type(value) is int and value > 0:
        return value
    text = str(value).strip()
    if text.isascii() and text.isdigit() and 0 < len(text) < 19 and int(text) > 0:
        return int(text)
    if not text:
        return None
    raise ValidationError(name, value, "is not an id (a whole number above 0)")


def undefuse(text: str) -> str:
    """Undo output.defuse_formula: "'=1+1" -> "=1+1" (see crmcli.interchange.exporter.defuse)."""
    core = text.lstrip("'")
    if core != text and defuse_formula(core) != core:
        return text[1:]
    return text


def _as_text(value: Any) -> Any:
    return value if value is None or type(value) is str else str(value)

# --- cleaning ------------------------------------------------------------------------


class Context:
    """What the cleaners of one import share: the store and the client lookup cache."""

    def __init__(self, store: Any, kind: str):
        self.store = store
        self.kind = kind
        self.clients: dict[tuple[str, str], int | ValidationError] = {}
        self.owners: dict[tuple[str, int], int | None] = {}
        self.kinds_ok: set[str] = {"note", "complaint", "feedback"}
        self.now: str | None = None
        self.misses = 0
        self.auto: dict[str, int] = {}
        self.maps: tuple | None = None
        self.tag_sets: dict[Any, list[str]] = {}
        self.stages: dict[str, str] = {}
        # the kind's declared custom fields, and the other columns a record may have
        self.fields = store.bulk.fields.get(kind, {})
        self.plain = {*FIELDS[kind], *CLIENT_REFS}
        self.numbers: dict[str, int] = {}  # invoice number -> line of this file
        self.invoices: dict[str, dict] = {}  # invoice reference -> the invoice
        self.paid: dict[int, Decimal] = {}  # invoice id -> paid, with this file's payments

    def now_iso(self) -> str:
        if self.now is None:
            from crmcli.store.store import utc_now_iso

            self.now = utc_now_iso()
        return self.now

    def client_id(self, rec: dict) -> int:
        ref = rec.get("client")
        if type(ref) is str:
            found = self.auto.get(ref)
            if found is not None:
                return found
        for column in CLIENT_REFS:
            value = rec.get(column)
            if value is None or value == "":
                continue
            value = str(value).strip()
            how = _REF_HOW[column]
            found = self.clients.get((how, value))
            if found is None:
                found = self._find(column, how, value)
                self.clients[(how, value)] = found
            if isinstance(found, ValidationError):
                raise found
            if column == "client" and type(rec[column]) is str:
                self.auto[rec[column]] = found
            return found
        raise ValidationError("client", None, "is required: give a client column (id, email "
                                              "or external id of the client)")

    def _lookup(self, how: str, value: str) -> list[int]:
        self.misses += 1
        if self.maps is None and self.misses > PRELOAD_AFTER:
            self.maps = self.store.bulk.client_ref_maps()
        if self.maps is None:
            return self.store.bulk.client_ref_lookup(how, value)
        ids, external, emails = self.maps
        if how == "id":
            return [int(value)] if int(value) in ids else []
        if how == "name":
            return self.store.bulk.client_ref_lookup(how, value)
        if how == "email":
            return self.store.bulk.client_ref_lookup(how, value) if value.lower() in emails else []
        return [external[value]] if value in external else []

    def _auto_lookup(self, how: str, value: Any) -> list[int]:
        # By name only to see a bare number's other reading: a client column never
        # names a client by its name (client_name does).
        if how == "name" and plain_id(str(value)) is None:
            return []
        return self._lookup(how, str(value))

    def _find(self, column: str, how: str, value: str) -> int | ValidationError:
        lookup = self._lookup
        if how == "auto":
            from crmcli.errors import AmbiguousClient, ClientNotFound, TwoReadings
            from crmcli.store.clients import read_reference

            # A bare number is an id only when no other client has it as external id,
            # email or name ('00004' never is): the command line's own rule.
            try:
                found = read_reference(value, self._auto_lookup, spelling=_import_spelling)
            except TwoReadings as exc:
                readings = " and ".join(f"the {how} of client {row['id']}"
                                        for how, row in exc.readings)
                return ValidationError(column, value,
                                       f"is {readings}; {_import_spelling([])}")
            except AmbiguousClient as exc:
                return ValidationError(column, value, f"matches {len(exc.candidates)} clients "
                                       f"({', '.join(str(c['id']) for c in exc.candidates[:5])})"
                                       "; use the id")
            except ClientNotFound:
                return ValidationError(column, value, "no client has this id")
            ids = [] if found is None else [found]
        elif how == "org":
            ids = self.store.bulk.client_ids_by_org(value)
        else:
            if how == "id" and not (value.isdigit() and len(value) < 19):
                return ValidationError(column, value, "is not a client id")
            ids = lookup(how, value)
        if len(ids) == 1:
            return ids[0]
        if not ids:
            what = {"auto": "id, email or external id", "id": "id", "email": "email",
                    "external_id": "external id", "org": "name or company"}[how]
            return ValidationError(column, value, f"no client has this {what}")
        return ValidationError(column, value, f"matches {len(ids)} clients "
                                              f"({', '.join(map(str, ids[:5]))}); use the id")

    def owned_by(self, table: str, name: str, value: Any, client_id: int) -> int | None:
        ref = row_id(name, value)
        if ref is None:
            return None
        owner = self.owners.get((table, ref), -1)
        if owner == -1:
            owner = self.store.bulk.owner_of(table, ref)
            self.owners[(table, ref)] = owner
        if owner is None:
            raise ValidationError(name, value, f"no {table[:-1]} has this id")
        if owner != client_id:
            raise ValidationError(name, value, f"belongs to client {owner}, not {client_id}")
        return ref


def _import_spelling(ids: list[int]) -> str:
    return ("name the client in a client_id column (its id) or a client_external_id column "
            "(its external id) instead")


def clean_client(ctx: Context, rec: dict) -> dict:
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    basic: list[tuple[str, Any, Any]] = []  # (field, its rule, value): checked below
    tags = custom = history = None
    rules = CLIENT_RULES
    for key, value in rec.items():
        rule = rules.get(key)
        if rule is not None:
            basic.append((key, rule, value if type(value) is str
                          else _as_text(_single(key, value))))
        elif key in ("created_at", "updated_at", "archived_at"):
            fields[key] = timestamp(key, _single(key, value))
        elif key in ("cadence_ideal", "cadence_max"):
            fields[key] = _interval(key, _single(key, value))
        elif key == "tags":
            cache_key = value if type(value) is str else (
                tuple(value) if type(value) is list and all(type(t) is str for t in value)
                else None)
            tags = ctx.tag_sets.get(cache_key) if cache_key is not None else None
            if tags is None:
                tags = _tags(value)
                if cache_key is not None and len(ctx.tag_sets) < 10_000:
                    ctx.tag_sets[cache_key] = tags
        elif key == "custom":
            custom = _custom(value, ctx.fields)
        elif key == "stage_history":
            history = _history(value)
        elif key == "id":
            _single(key, value)
        else:
            # a declared field's value as its type; any other custom column keeps its JSON
            # value (number, list, ...); "" or null removes it
            extra[key] = custom_fields.clean_value(ctx.fields, key, value)
    if fields.get("cadence_ideal") and fields.get("cadence_max"):
        validate.cadence(fields["cadence_ideal"], fields["cadence_max"], "cadence_ideal",
                         "cadence_max")
    for key, rule, value in basic:
        fields[key] = rule(value)
    if "stage" in fields:
        stage = fields["stage"]
        if stage:
            known = ctx.stages.get(stage)
            if known is None:
                try:
                    known = ctx.store.clients.check_stage(stage)
                except UnknownStage:
                    raise ValidationError("stage", stage, "is not a stage of the pipeline ("
                                          + " → ".join(ctx.store.config.pipeline) + ")") from None
                ctx.stages[stage] = known
            fields["stage"] = known
        else:
            fields["stage"] = None
    return {"id": row_id("id", rec.get("id")), "fields": fields, "tags": tags,
            "custom": custom, "extra": extra, "history": history}


_INTERVALS: dict[str, Any] = {}


def _interval(name: str, value: Any) -> str | None:
    """A cadence interval as crm cadence takes it (2w, 30d, 1m), kept as typed."""
    text = validate.text(name, value, max_len=64)
    if text is not None:
        _interval_of(text, name)
    return text


def _interval_of(text: str, name: str = "cadence") -> Any:
    found = _INTERVALS.get(text)
    if found is None:
        found = validate.interval(text, name)
        if len(_INTERVALS) < 1000:
            _INTERVALS[text] = found
    return found


def _tags(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValidationError("tags", value, "is not a JSON list of tags") from None
        if not isinstance(value, list):
            raise ValidationError("tags", value, "is not a JSON list of tags")
    items = value if isinstance(value, list) else re.split(r"[,;]", str(value))
    try:
        return sorted({validate.tag(t) for t in items if str(t).strip()})
    except ValidationError as exc:
        raise ValidationError("tags", exc.value, exc.reason) from None


def _custom(value: Any, declared: dict) -> dict:
    """A custom column: a JSON object, each declared field's value checked as its type (an
    empty one left out)."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value, parse_float=Decimal, parse_int=json_int)
        except RecursionError:
            raise ValidationError("custom", value[:40], "is nested too deeply") from None
        except json.JSONDecodeError:
            raise ValidationError("custom", value, "is not a JSON object") from None
    if not isinstance(value, dict):
        raise ValidationError("custom", value, "is not a JSON object")
    if declared:
        return {key: v for key, v in ((key, (custom_fields.clean_value(declared, key, v)
                                             if key in declared else validate.custom_value(
                                                 validate.custom_key(key), v)))
                                      for key, v in value.items())
                if v is not None or key not in declared}
    return {validate.custom_key(key): validate.custom_value(key, v) for key, v in value.items()}


def custom_change(ctx: Context, rec: dict) -> Any:
    """The custom fields a contact or deal row gives (its custom column and its declared
    fields' columns), as the writer resolves them (store.bulk.CustomChange); "{}" when it
    gives none and none is required."""
    if rec.keys() <= ctx.plain and not rec.get("custom"):
        if not any(f.required for f in ctx.fields.values()):
            return "{}"
    base = _custom(rec["custom"], ctx.fields) if "custom" in rec else None
    changes = {key: custom_fields.clean_value(ctx.fields, key, _single(key, value))
               for key, value in rec.items() if key not in ctx.plain}
    return CustomChange(base, changes)


def _history(value: Any) -> list[dict]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValidationError("stage_history", value, "is not a JSON list") from None
    if not isinstance(value, list):
        raise ValidationError("stage_history", value, "is not a JSON list")
    out = []
    for item in value:
        if not isinstance(item, dict) or not item.get("to"):
            raise ValidationError("stage_history", item, "entries are objects with at, from, "
                                                         "to and note")
        out.append({"at": timestamp("stage_history at", item.get("at"), required=True),
                    "from": validate.text("stage_history from", item.get("from"), max_len=64),
                    "to": validate.text("stage_history to", item.get("to"), max_len=64),
                    "note": validate.text("stage_history note", item.get("note"))})
    return out


_CHANNELS = frozenset(validate.CHANNELS)
INBOUND_KINDS = validate.INBOUND_KINDS
_SCORES = {**{str(i): i for i in range(11)}, **{i: i for i in range(11)}}
_KIND_RE = re.compile(r"[\w\-]+")


def clean_interaction(ctx: Context, rec: dict) -> tuple:
    get = rec.get
    ref = get("client")
    client_id = ctx.auto.get(ref) if type(ref) is str else None  # a client seen before
    if client_id is None:
        client_id = ctx.client_id(rec)
    at = get("at")
    if not (type(at) is str and _ISO_Z.fullmatch(at) and _day_ok(at[:10])):
        at = timestamp("at", at, required=True)
    if at > ctx.now_iso():
        validate.happened("at", at, ctx.now_iso())
    channel = get("channel") or "other"
    if channel not in _CHANNELS:
        channel = validate.choice("channel", channel, validate.CHANNELS)
    kind = get("kind") or "note"
    if kind not in ctx.kinds_ok:
        raw = kind
        kind = (validate.text("kind", raw, max_len=64) or "note").lower()
        if not _KIND_RE.fullmatch(kind):
            raise ValidationError("kind", raw, "must be one word such as note, complaint, "
                                               "feedback")
        if raw == kind:
            ctx.kinds_ok.add(kind)
    direction = get("direction")
    if direction != "out" and direction != "in":
        direction = validate.direction(direction, kind)
    summary = get("summary")
    if summary:
        if type(summary) is not str or not summary.isprintable() \
                or len(summary) > validate.MAX_TEXT \
                or summary[0] in " \t\r\n" or summary[-1] in " \t\r\n":
            summary = validate.text("summary", summary) or ""
    else:
        summary = ""
    score = get("score")
    if score is not None and score != "":
        score = _SCORES.get(score)
        if score is None:
            score = validate.score(get("score"))
    else:
        score = None
    contact = get("contact_id")
    if contact is not None and contact != "":
        contact = ctx.owned_by("contacts", "contact_id", contact, client_id)
    else:
        contact = None
    resolved = get("resolved_at")
    if resolved:
        raw = resolved
        resolved = timestamp("resolved_at", resolved)
        # as `crm resolve`: only complaints are resolved, and not before they were made
        if kind != "complaint":
            raise ValidationError("resolved_at", raw, f"only a complaint can be resolved "
                                                      f"(this row's kind is {kind})")
        if resolved < at:  # both 'YYYY-MM-DDTHH:MM:SSZ': the strings sort as the instants
            raise ValidationError("resolved_at", raw, f"is before the complaint itself ({at})")
    else:
        resolved = None
    created = get("created_at")
    if created is None or created == "":
        created = ctx.now or ctx.now_iso()
    elif not (type(created) is str and _ISO_Z.fullmatch(created) and _day_ok(created[:10])):
        created = timestamp("created_at", created) or ctx.now_iso()
    return (client_id, at, channel, direction, kind, summary, score, contact, resolved, created)


def clean_contact(ctx: Context, rec: dict) -> tuple:
    client_id = ctx.client_id(rec)
    get = rec.get
    level = validate.choice("decision_level", get("decision_level"), validate.DECISION_LEVELS)
    created = timestamp("created_at", get("created_at")) or ctx.now_iso()
    updated = timestamp("updated_at", get("updated_at")) or created
    return (client_id, validate.name(get("name")), validate.text("role", get("role")),
            validate.email(get("email")), validate.phone(get("phone")), level,
            validate.flag("is_primary", get("is_primary")), validate.text("notes", get("notes")),
            created, updated, custom_change(ctx, rec))


def clean_deal(ctx: Context, rec: dict) -> tuple:
    client_id = ctx.client_id(rec)
    get = rec.get
    amount = get("amount")
    amount = validate.amount(format(amount, "f") if isinstance(amount, Decimal) else amount)
    currency = validate.currency(get("currency"), ctx.store.config["currency"])
    # As crm deal: the status follows the stage (they must agree), open alone is the first
    # stage; the probability is the deal's own (empty: its stage's default).
    deals = ctx.store.deals
    stage = deals.stage_for(get("status") or None, get("stage") or None)
    probability = deals.check_probability(stage, get("probability"))
    return (client_id, timestamp("at", get("at"), required=True),
            validate.text("title", get("title"), max_len=validate.MAX_NAME), amount,
            currency, deals.status_of(stage), stage, probability,
            validate.close_date(get("close_date")),
            timestamp("created_at", get("created_at")) or ctx.now_iso(),
            custom_change(ctx, rec))


def clean_followup(ctx: Context, rec: dict) -> tuple:
    from crmcli.store.activity import anchor_of, split_due

    client_id = ctx.client_id(rec)
    get = rec.get
    due_text = validate.text("due", get("due"), required=True, max_len=64)
    due_at = timestamp("due_at", get("due_at"))
    if len(due_text) == 10 and _day_ok(due_text):
        due = due_text
    elif not _YEAR.search(due_text):
        raise ValidationError("due", due_text, "is not a date (expected YYYY-MM-DD, or a date "
                                               "and time)")
    else:
        try:
            due, due_at2 = split_due(due_text)
        except (ValueError, OverflowError) as exc:
            if "out of range" in str(exc):
                raise ValidationError("due", due_text, _year_reason()) from None
            raise ValidationError("due", due_text, "is not a date (expected YYYY-MM-DD, "
                                                   "or a date and time)") from None
        due_at = due_at or due_at2
    every = validate.text("every", get("every"), max_len=200)
    if every:
        from crmcli.store.followups import check_rule

        try:
            every = check_rule(every)
        except ValueError as exc:
            said = str(exc)
            for shown in (repr(every), repr(" ".join(every.split()))):
                said = said.removeprefix(shown).removeprefix(":").strip()
            raise ValidationError("every", every, said) from None
    anchor = validate.text("anchor", get("anchor"), max_len=32)
    if anchor is not None and not _ANCHOR.fullmatch(anchor):
        raise ValidationError("anchor", anchor, "is not a local date or date and time "
                                                "(YYYY-MM-DD or YYYY-MM-DDTHH:MM)")
    if anchor is not None:
        try:
            datetime.fromisoformat(anchor)
        except ValueError:
            raise ValidationError("anchor", anchor, "is not a real date") from None
        if not _day_ok(anchor[:10]):
            raise ValidationError("anchor", anchor, _year_reason())
    if every and not anchor:
        anchor = anchor_of(due, due_at)
    interaction = get("interaction_id")
    interaction = (ctx.owned_by("interactions", "interaction_id", interaction, client_id)
                   if interaction not in (None, "") else None)
    return (client_id, due, due_at, validate.text("note", get("note")) or "", every or None,
            anchor, interaction, timestamp("done_at", get("done_at")),
            timestamp("created_at", get("created_at")) or ctx.now_iso())


def clean_invoice(ctx: Context, rec: dict) -> tuple:
    """An invoice as `crm invoice add` checks it; its number unique in the book (a row equal
    to the stored invoice of that number is let through: the writer counts it unchanged).
    An invoice that has payments keeps its client and currency and an amount not below
    what was paid."""
    from crmcli.store.invoices import check_dates, check_number

    client_id = ctx.client_id(rec)
    get = rec.get
    store = ctx.store
    number = check_number(get("number"))
    amount = get("amount")
    amount = validate.positive_amount(format(amount, "f") if isinstance(amount, Decimal)
                                      else amount)
    deal = get("deal_id")
    deal = ctx.owned_by("deals", "deal_id", deal, client_id) if deal not in (None, "") else None
    issued = day("issued", get("issued"), required=True)
    due = day("due", get("due"))
    if due is None:
        from datetime import date, timedelta

        due = (date.fromisoformat(issued)
               + timedelta(days=store.config["invoices.terms_days"])).isoformat()
    check_dates(issued, due)
    row = (number, client_id, deal, issued, due, amount,
           validate.currency(get("currency"), store.config["currency"]),
           validate.text("note", get("note")),
           timestamp("created_at", get("created_at")) or ctx.now_iso())
    own_id = row_id("id", get("id"))
    line = len(ctx.numbers) + 1
    if ctx.numbers.setdefault(number, own_id or -line) != (own_id or -line):
        raise ValidationError("number", number, "is the number of another invoice in this "
                                                "input (numbers are unique)")
    stored = store.invoices.by_number(number)
    if stored is not None and stored["id"] != own_id:
        same = own_id is None and all(
            stored[c] == v for c, v in zip(TABLE_COLUMNS["invoices"], row, strict=True)
            if c != "created_at" or get("created_at"))
        if not same:
            raise ValidationError("number", number, f"is the number of invoice {stored['id']} "
                                                    "(numbers are unique)")
    old = store.invoices.get_or_none(own_id) if own_id is not None else None
    if old is not None:
        paid = store.invoices.paid(own_id)
        if paid > 0:
            if old["client_id"] != client_id or old["currency"] != row[6]:
                raise ValidationError("client" if old["client_id"] != client_id else "currency",
                                      get("client") or get("currency"),
                                      f"cannot change: invoice {own_id} has payments")
            if Decimal(amount) < paid:
                raise ValidationError("amount", amount, f"is less than the {paid} already paid "
                                                        f"on invoice {own_id}")
    return row


def _invoice_of(ctx: Context, rec: dict) -> dict:
    from crmcli.errors import CrmError

    for column in ("invoice_id", "invoice"):
        value = rec.get(column)
        if value is None or value == "":
            continue
        ref = str(value).strip()
        key = f"{column}:{ref}"
        found = ctx.invoices.get(key)
        if found is None:
            try:
                if column == "invoice_id":
                    found = ctx.store.invoices.get(row_id("invoice_id", value))
                else:
                    found = ctx.store.invoices.resolve(ref)
            except ValidationError:
                raise
            except CrmError as exc:
                raise ValidationError(column, value, str(exc)) from None
            ctx.invoices[key] = found
        return found
    raise ValidationError("invoice", None, "is required: give an invoice column (its number "
                                           "or id) or invoice_id")


def clean_payment(ctx: Context, rec: dict) -> tuple:
    """A payment as `crm invoice pay` checks it, against the invoice's balance after the
    payments before it in this input; its client and currency are its invoice's (a client or
    currency column, when given, must agree)."""
    from crmcli.store.invoices import check_payment

    get = rec.get
    invoice = _invoice_of(ctx, rec)
    if any(get(c) not in (None, "") for c in CLIENT_REFS):
        client_id = ctx.client_id(rec)
        if client_id != invoice["client_id"]:
            raise ValidationError("client", get("client") or client_id,
                                  f"invoice {invoice['number']} is client "
                                  f"{invoice['client_id']}'s, not {client_id}'s")
    currency = validate.text("currency", get("currency"), max_len=8)
    if currency is not None and currency.upper() != invoice["currency"]:
        raise ValidationError("currency", currency, f"invoice {invoice['number']} is in "
                                                    f"{invoice['currency']}")
    amount = get("amount")
    amount = validate.positive_amount(format(amount, "f") if isinstance(amount, Decimal)
                                      else amount)
    at = timestamp("at", get("at"), required=True)
    paid = ctx.paid.get(invoice["id"])
    if paid is None:
        paid = ctx.store.invoices.paid(invoice["id"])
    own_id = row_id("id", get("id"))
    old = ctx.store.invoices.payment(own_id) if own_id is not None else None
    if old is not None and old["invoice_id"] == invoice["id"]:
        paid -= Decimal(old["amount"])  # a stored payment given again: its new amount counts
    check_payment(invoice, amount, at, Decimal(invoice["amount"]) - paid, ctx.now_iso())
    ctx.paid[invoice["id"]] = paid + Decimal(amount)
    return (invoice["id"], invoice["client_id"], at, amount, invoice["currency"],
            validate.text("note", get("note")),
            timestamp("created_at", get("created_at")) or ctx.now_iso())


# The first occurrence of a recurring follow-up, in local time (as crm followup stores it).
_ANCHOR = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2})?")

CLEANERS: dict[str, Callable[[Context, dict], Any]] = {
    "clients": clean_client, "contacts": clean_contact, "interactions": clean_interaction,
    "deals": clean_deal, "followups": clean_followup, "invoices": clean_invoice,
    "payments": clean_payment}

_STRUCTURED = frozenset(("tags", "custom", "stage_history"))
NESTED = frozenset((list, dict))


def check_scalars(kind: str, rec: dict) -> None:
    """JSON values of plain fields are strings, numbers, booleans or null, not lists or
    objects (clients' custom columns may hold any JSON value)."""
    fields = FIELDS[kind]
    for key, value in rec.items():
        if key not in _STRUCTURED and (kind != "clients" or key in fields):
            _single(key, value)


def _single(key: str, value: Any) -> Any:
    if type(value) is list or type(value) is dict:
        raise ValidationError(key, _short_json(value), "must be a single value, not a "
                              + ("list" if type(value) is list else "JSON object"))
    return value


def _short_json(value: Any) -> str:
    from crmcli.render.output import to_json

    return to_json(value)


CONTACT_PRIMARY = TABLE_COLUMNS["contacts"].index("is_primary")


def check_one_primary(rec: dict, client_id: int, primaries: dict[int, int], line: int) -> None:
    first = primaries.setdefault(client_id, line)
    if first != line:
        raise ValidationError("is_primary", rec.get("is_primary"),
                              f"client {client_id} already has its primary contact on line "
                              f"{first} (one per client)")


def check_duplicates(kind: str, keys: list[str], rec: dict, row: Any,
                      seen: dict[str, dict[Any, int]], line: int) -> None:
    for key in keys:
        if kind == "clients":
            value = row["id"] if key == "id" else row["fields"].get(key)
            if key == "email" and value:
                value = value.lower()
        else:
            value = row_id("id", rec.get("id"))
        if value is None or value == "":
            continue
        table = seen.setdefault(key, {})
        first = table.get(value)
        if first is not None:
            raise ValidationError(key, rec.get(key), f"duplicate key: also on line {first}")
        table[value] = line

