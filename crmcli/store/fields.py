"""Custom fields of clients, contacts and deals: the declared ones (config `fields.KIND`)
and their checks, the one reading and writing of the `custom` JSON column, and the
`--where` conditions of the listings.

A record's `custom` column is a JSON object. A key declared in the config holds a value
of its type (validate.declared_field, the one validator every write path calls: crm
add/edit --set, contact and deal --set, every import); an undeclared key holds what was
given (text from the command line, any JSON value from an import).

A change of the config never rewrites stored values: a value stored before its field was
declared (or re-typed) stays as it was, is shown as it is, never matches a typed
comparison of --where (a number field's `>=` compares numbers only), and `crm db check`
lists it (`invalid_custom`) so that it can be corrected with --set.

The SQL of a value in the JSON comes from the database's `json_value_sql` (each engine
spells it its own way).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from crmcli import dates
from crmcli.errors import UsageError, ValidationError
from crmcli.store import validate

KINDS = ("clients", "contacts", "deals")


@dataclass(frozen=True)
class Field:
    """A declared custom field: its name, type (validate.FIELD_TYPES), the values of a
    choice, and whether a new record must have it."""
    name: str
    type: str
    values: tuple[str, ...] = ()
    required: bool = False

    def clean(self, value: object) -> object:
        return validate.declared_field(self.name, self.type, self.values, value)


def declared(config: Any, kind: str) -> dict[str, Field]:
    """The declared fields of a kind, in the config's order (the config checked them)."""
    return {name: Field(name, spec["type"], tuple(spec.get("values") or ()),
                        bool(spec.get("required")))
            for name, spec in (config["fields"].get(kind) or {}).items()}


def load(text: str | None) -> dict[str, Any]:
    """A stored custom column as a dict (decimals exact: 19.90 stays 19.90)."""
    return json.loads(text or "{}", parse_float=Decimal) if text and text != "{}" else {}


def dump(custom: dict[str, Any]) -> str:
    """The stored text of a custom dict: keys sorted, decimals exact, {} when empty."""
    if not custom:
        return "{}"
    from crmcli.render.output import to_json

    return to_json(dict(sorted(custom.items())))


def ordered(fields: dict[str, Field], custom: dict[str, Any]) -> dict[str, Any]:
    """custom with the declared fields first, in the config's order, then the others."""
    first = {k: custom[k] for k in fields if k in custom}
    return {**first, **{k: v for k, v in sorted(custom.items()) if k not in first}}


def clean_value(fields: dict[str, Field], key: str, value: object) -> object:
    """One custom value as stored: a declared field's through its validator (None: empty),
    any other through validate.custom_value (text of any lines, or the JSON an import
    brought)."""
    spec = fields.get(key)
    if spec is not None:
        return spec.clean(value)
    validate.custom_key(key)
    if value is None or value == "":
        return None
    return validate.custom_value(key, value)


def apply(fields: dict[str, Field], current: dict[str, Any], changes: dict[str, Any], *,
          new: bool) -> dict[str, Any]:
    """current with changes applied (a value of None or '' removes the key), each value
    checked; a required field may not be removed, and a new record must have every
    required field."""
    result = dict(current)
    for key, value in changes.items():
        cleaned = clean_value(fields, key, value)
        if cleaned is None:
            spec = fields.get(key)
            if spec is not None and spec.required:
                raise ValidationError(key, value if value is not None else "",
                                      "is required (a declared field)")
            result.pop(key, None)
        else:
            result[key] = cleaned
    if new:
        missing = [f for f in fields.values() if f.required and f.name not in result]
        if missing:
            raise ValidationError(missing[0].name, "",
                                  "is required (a declared field): give it with --set "
                                  f"{missing[0].name}=VALUE or a {missing[0].name} column")
    return result


def invalid(fields: dict[str, Field], custom: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """(key, stored value, reason) of the values that do not pass their field's check now
    (stored before the field was declared or re-typed), and of missing required fields."""
    found = []
    for key, spec in fields.items():
        if key not in custom:
            if spec.required:
                found.append((key, None, "is required"))
            continue
        value = custom[key]
        try:
            cleaned = spec.clean(value)
        except ValidationError as exc:
            found.append((key, value, exc.reason))
            continue
        if cleaned != value or type(cleaned) is not type(value):
            found.append((key, value, f"is stored as {value!r}, not as a {spec.type}"))
    return found


def invalid_stored(db: Any, declared_by_kind: dict[str, dict[str, Field]]) -> list[str]:
    """One line per stored value that its declared field would refuse now, and per missing
    required field ('clients 3 budget '10k': is not a number ...'), by kind and id."""
    lines = []
    for kind, fields in declared_by_kind.items():
        if not fields:
            continue
        for row in db.iter_query(f"SELECT id, custom FROM {kind} ORDER BY id"):
            for key, value, reason in invalid(fields, load(row["custom"])):
                shown = "''" if value is None else repr(value)
                lines.append(f"{kind} {row['id']} {key} {shown}: {reason}")
    return lines


# --- --where --------------------------------------------------------------------------

OPERATORS = ("!=", "<=", ">=", "!~", "=", "<", ">", "~")
_CONDITION = re.compile(r"\s*(?P<field>[^=!<>~]+?)\s*(?P<op>!=|<=|>=|!~|=|<|>|~)\s*"
                        r"(?P<value>.*?)\s*", re.S)
_EMPTY = re.compile(r"\s*(?P<field>.+?)\s+is\s+(?P<not>not\s+)?empty\s*", re.I | re.S)
GRAMMAR = ("FIELD OP VALUE with OP one of = != < <= > >= ~ (contains) !~ (does not "
           "contain), or FIELD is empty, FIELD is not empty")


@dataclass(frozen=True)
class Column:
    """A built-in column of a listing that --where may name: its SQL (on the listing's
    alias) and type (text, number, date, bool, or instant: a stored UTC time compared by
    the local day)."""
    sql: str
    type: str


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def parse_condition(text: str) -> tuple[str, str, str | None]:
    """'budget>=10000' -> ('budget', '>=', '10000'); 'region is empty' -> ('region',
    'empty', None) ('not empty' likewise)."""
    found = _EMPTY.fullmatch(text)
    if found:
        return found["field"].strip(), "not empty" if found["not"] else "empty", None
    found = _CONDITION.fullmatch(text)
    if not found or not found["field"].strip():
        raise UsageError(f"--where {text!r}: expected {GRAMMAR}")
    value = _unquote(found["value"])
    if value == "":
        raise UsageError(f"--where {text!r}: no value after {found['op']} (to find records "
                         f"without it: --where '{found['field'].strip()} is empty')")
    return found["field"].strip(), found["op"], value


def _day(field: str, value: str) -> date:
    """A --where date: ISO or any WHEN (today, +30d, eom, 2026-11-22)."""
    try:
        when = dates.parse_when(value)
    except ValueError as exc:
        raise UsageError(f"--where {field}: {exc}") from None
    return when.date() if isinstance(when, datetime) else when


def _number(field: str, value: str) -> int | float:
    try:
        number = validate.declared_field(field, "number", (), value)
    except ValidationError as exc:
        raise UsageError(f"--where {field}: {value!r} {exc.reason}") from None
    return number if isinstance(number, int) else float(number)


def _local_midnight_utc(day: date) -> str:
    return dates.to_utc_iso(datetime.combine(day, time(0, 0)))


class Where:
    """--where conditions on one listing: build(texts) -> (SQL conditions, parameters).

    columns: the built-in columns it may name; custom: the SQL of the listing's custom
    column; fields: the declared custom fields. A bare name is a built-in column, else a
    declared field; `custom.KEY` names any custom key, its stored value compared as text
    (also a declared one's: how to find the values stored before it was declared)."""

    def __init__(self, db: Any, kind: str, columns: dict[str, Column], custom: str,
                 fields: dict[str, Field]):
        self.db = db
        self.kind = kind
        self.columns = columns
        self.custom = custom
        self.fields = fields

    def names(self) -> list[str]:
        return [*self.columns, *(f for f in self.fields if f not in self.columns)]

    def build(self, texts: list[str] | tuple[str, ...]) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        for text in texts:
            sql, values = self.condition(text)
            where.append(sql)
            params.extend(values)
        return where, params

    def condition(self, text: str) -> tuple[str, list[Any]]:
        name, op, value = parse_condition(text)
        if name in self.columns:
            column = self.columns[name]
            return _compare(text, name, column.sql, [], column.type, (), op, value)
        key = name[len("custom."):] if name.startswith("custom.") else None
        spec = self.fields.get(name) if key is None else None
        if key is None and spec is None:
            raise UsageError(f"--where {text!r}: unknown field {name!r} of {self.kind} "
                             f"(valid: {', '.join(self.names())}; any custom key: "
                             f"custom.KEY)")
        if key is not None:
            try:
                validate.custom_key(key)
            except ValidationError as exc:
                raise UsageError(f"--where {text!r}: {exc}") from None
        name = spec.name if spec else key
        kind = spec.type if spec else "text"
        if op in ("empty", "not empty"):
            # (JSON false and 0 are values, not empty)
            expr, params = self.db.json_value_sql(self.custom, name)
            sql = f"coalesce({expr}, '') = ''"
            return (sql if op == "empty" else f"NOT ({sql})"), params
        # a number compares as a number, a bool as 1/0: a value of another type (stored
        # before the field was declared so) matches no comparison
        expr, params = self.db.json_value_sql(
            self.custom, name, kind if kind in ("number", "bool") else "text")
        return _compare(text, name, expr, params, kind, spec.values if spec else (), op, value)


def _compare(text: str, name: str, expr: str, expr_params: list[Any], kind: str,
             choices: tuple[str, ...], op: str, value: str | None) -> tuple[str, list[Any]]:
    """The SQL of `expr op value` for a value of kind, with its parameters."""
    if op in ("empty", "not empty"):  # (a built-in column)
        sql = f"coalesce({expr}, '') = ''" if kind in ("text", "date") else f"{expr} IS NULL"
        return (sql if op == "empty" else f"NOT ({sql})"), list(expr_params)
    assert value is not None
    negate = op in ("!=", "!~")
    base = {"!=": "=", "!~": "~"}.get(op, op)
    if base == "~":
        if kind in ("number", "bool"):
            raise UsageError(f"--where {text!r}: {name} is a {kind}: compare it with "
                             + ("= or !=" if kind == "bool" else "= != < <= > >="))
        from crmcli.store.clients import like_escape

        pattern = f"%{like_escape(value.lower())}%"
        sql, params = f"lower({expr}) LIKE ? ESCAPE '\\'", [*expr_params, pattern]
    elif kind == "number":
        sql, params = f"{expr} {base} ?", [*expr_params, _number(name, value)]
    elif kind == "bool":
        if base != "=":
            raise UsageError(f"--where {text!r}: {name} is true or false: compare it with "
                             "= or !=")
        try:
            truth = validate.declared_field(name, "bool", (), value)
        except ValidationError as exc:
            raise UsageError(f"--where {text!r}: {exc.reason}") from None
        sql, params = f"{expr} = ?", [*expr_params, 1 if truth else 0]
    elif kind == "date":
        day = _day(name, value).isoformat()
        # only dates compare as dates (not text stored before the field was a date)
        sql = (f"({expr} BETWEEN '0000-01-01' AND '9999-12-31' AND length({expr}) = 10 "
               f"AND {expr} {base} ?)")
        params = [*expr_params, *expr_params, *expr_params, day]
    elif kind == "instant":  # (a built-in column: no parameters of its own)
        day = _day(name, value)
        start, end = _local_midnight_utc(day), _local_midnight_utc(day + timedelta(days=1))
        sql, params = {"=": (f"({expr} >= ? AND {expr} < ?)", [start, end]),
                       "<": (f"{expr} < ?", [start]), "<=": (f"{expr} < ?", [end]),
                       ">": (f"{expr} >= ?", [end]), ">=": (f"{expr} >= ?", [start])}[base]
    elif kind == "choice" and base == "=":
        try:
            wanted = validate.declared_field(name, "choice", choices, value)
        except ValidationError as exc:
            raise UsageError(f"--where {text!r}: {exc.reason}") from None
        sql, params = f"{expr} = ?", [*expr_params, wanted]
    elif base == "=":
        sql, params = f"lower({expr}) = lower(?)", [*expr_params, value]
    else:
        sql, params = f"{expr} {base} ?", [*expr_params, value]
    if negate:
        return f"(({sql}) IS NOT TRUE)", params
    return sql, params

