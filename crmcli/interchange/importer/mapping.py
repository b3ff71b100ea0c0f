"""Mapping an import's columns to fields: the kinds and their fields, --map 'Column=field',
header names matched to fields (case and spacing forgiven), and the key (--key) that
matches existing records.
"""

from __future__ import annotations

from collections.abc import Iterable

from crmcli.errors import UsageError, ValidationError
from crmcli.interchange.importer.sources import ERROR_COLUMN
from crmcli.store import validate
from crmcli.store.bulk import EXPORT_COLUMNS

KINDS = ("clients", "contacts", "interactions", "deals", "followups", "invoices", "payments")
CLIENT_REFS = ("client", "client_id", "client_email", "client_external_id", "client_name")
# Fields each kind accepts (besides the client reference columns of child kinds).
FIELDS: dict[str, tuple[str, ...]] = dict(EXPORT_COLUMNS)
# A payment names its invoice by id (invoice_id) or as the command line does (invoice: its
# number, or its id); its client is its invoice's.
INVOICE_REFS = ("invoice", "invoice_id")
FIELDS["payments"] = (*FIELDS["payments"], "invoice")
KEYS = {"clients": ("id", "external_id", "email")}
# The field of a column that --map 'Column=' drops (no field has this name).
DROP = "\x00drop"
# Fields without which no row of a kind can be a new record (unless the input updates
# records by a key column).
REQUIRED = {"clients": ("name",), "contacts": ("name",), "interactions": ("at",),
            "deals": ("at",), "followups": ("due",), "invoices": ("number", "amount"),
            "payments": ("amount", "at")}


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Levenshtein distance of a and b (with adjacent swaps as one edit), up to limit."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) >= limit and min(prev) >= limit:  # no cheaper path remains
            return limit
        prev2, prev = prev, cur
    return min(prev[-1], limit)


def near_field(name: str, fields: set[str]) -> str | None:
    """The one field that name is a likely typo of ('emial' -> 'email'), else None."""
    norm = name.strip().lower().replace(" ", "_").replace("-", "_")
    if len(norm) < 3 or norm.rstrip("0123456789_") in fields:
        return None  # a second one on purpose: phone2, email_2
    allowed = 1 if len(norm) < 6 else 2
    # The distance is at least the difference in length: most fields need no measuring
    # (a header of 200,000 custom columns took minutes).
    close = sorted((edit_distance(norm, f), f) for f in fields
                   if abs(len(f) - len(norm)) <= allowed)
    close = [(d, f) for d, f in close if d <= allowed]
    if not close or (len(close) > 1 and close[0][0] == close[1][0]):
        return None
    return close[0][1]



def parse_maps(kind: str, maps: list[str] | None, declared: Iterable[str] = ()
               ) -> dict[str, str]:
    """--map 'Source Column=field' options -> {source: field} ('' drops the column);
    declared: the kind's declared custom fields (fields too)."""
    result: dict[str, str] = {}
    accepted = (set(FIELDS[kind]) | (set(CLIENT_REFS) if kind != "clients" else set())
                | set(declared))
    for item in maps or []:
        if "=" not in item:
            raise UsageError(f"--map {item!r}: expected 'Source Column=field'")
        source, target = (part.strip() for part in item.rsplit("=", 1))
        if not source:
            raise UsageError(f"--map {item!r}: the source column is empty")
        if target and target not in accepted:
            if kind != "clients":
                raise UsageError(f"--map {item!r}: {target!r} is not a field of {kind} "
                                 f"(fields: {', '.join(sorted(accepted))})")
            try:
                validate.custom_key(target)
            except ValidationError as exc:
                raise UsageError(f"--map {item!r}: {exc}") from None
        result[source] = target or DROP
    return result


class Mapper:
    """Source column names -> field names for one kind (cached per name)."""

    def __init__(self, kind: str, maps: dict[str, str], declared: Iterable[str] = ()):
        self.kind = kind
        self.maps = maps
        self.lower_maps = {k.lower(): k for k in maps}
        self.used: set[str] = set()
        self.plans: dict[tuple, tuple[list[str], bool]] = {}
        # (a declared custom field is a field: a column a typo away from it is refused)
        self.accepted = (set(FIELDS[kind]) | (set(CLIENT_REFS) if kind != "clients" else set())
                         | set(declared))
        self.declared = set(declared)
        if kind == "clients":
            self.accepted.discard("client")
        self.cache: dict[str, str] = {}
        self.custom: list[str] = []  # columns of clients kept as custom fields
        self.typo: ValidationError | None = None  # raised by check_typos, after check_used

    def target(self, name: str) -> str:
        found = self.cache.get(name)
        if found is None:
            found = self._target(name)
            self.cache[name] = found
        return found

    def _target(self, name: str) -> str:
        stripped = name.strip()
        source = stripped if stripped in self.maps else self.lower_maps.get(stripped.lower())
        if source is not None:
            self.used.add(source)
            return self.maps[source]
        norm = stripped.lower()
        if norm == ERROR_COLUMN:
            return DROP
        if stripped in self.declared:
            return stripped
        for candidate in (norm, norm.replace(" ", "_").replace("-", "_")):
            if candidate in self.accepted:
                return candidate
        typo = near_field(stripped, self.accepted)
        if typo is not None:
            keep = (f", or keep it as a custom field with --map '{stripped}={stripped}'"
                    if self.kind == "clients" else "")
            self.typo = self.typo or ValidationError(
                "column", stripped, f"looks like a typo of {typo!r}: map it with "
                                    f"--map '{stripped}={typo}'{keep}")
            return stripped
        if self.kind == "clients":
            validate.custom_key(stripped)
            self.custom.append(stripped)
            return stripped
        raise ValidationError("column", stripped, f"is not a field of {self.kind} (fields: "
                                                  f"{', '.join(sorted(self.accepted))}); map it "
                                                  "with --map 'Column=field' or drop it with "
                                                  "--map 'Column='")

    def check_typos(self) -> None:
        """A column a typo away from a field is refused (once the --maps are checked)."""
        if self.typo is not None:
            raise self.typo

    def check_required(self, name: str, columns: set[str]) -> None:
        """Refuse, once, an input where no column maps to a field every new record needs."""
        if "id" in columns or (self.kind == "clients" and columns & {"email", "external_id"}):
            return  # it may update records it names by key
        if self.kind == "payments":
            needed = [] if columns & set(INVOICE_REFS) else ["invoice"]
        else:
            needed = [] if self.kind == "clients" or columns & set(CLIENT_REFS) else ["client"]
        needed += [f for f in REQUIRED[self.kind] if f not in columns]
        if needed:
            from crmcli.errors import CrmError

            field_ = needed[0]
            raise CrmError(f"{name}: no column maps to {field_!r}; use --map 'COLUMN={field_}'")

    def check_used(self, name: str, header: list[str] | None) -> None:
        """A --map whose source column the input does not have is a typo: refuse it."""
        unused = [k for k in self.maps if k not in self.used]
        if not unused:
            return
        item = f"{unused[0]}={'' if self.maps[unused[0]] == DROP else self.maps[unused[0]]}"
        shown = ", ".join(header[:20]) + (", ..." if len(header) > 20 else "") if header else ""
        where = f" (its columns: {shown})" if header is not None else ""
        raise UsageError(f"--map {item!r}: {name} has no column {unused[0]!r}{where}")

    def record(self, obj: dict) -> dict:
        """obj with field names for keys (the plan for each set of keys is kept)."""
        keys = tuple(obj)
        plan = self.plans.get(keys)
        if plan is None:
            targets = [self.target(k) for k in keys]
            self.check_typos()
            plan = (targets, DROP in targets)
            if len(self.plans) < 1000:
                self.plans[keys] = plan
        out = dict(zip(plan[0], obj.values(), strict=True))
        if plan[1]:
            out.pop(DROP, None)
        return out


def check_key(kind: str, key: str | None) -> None:
    if key is not None and key not in KEYS.get(kind, ("id",)):
        allowed = KEYS.get(kind, ("id",))
        raise UsageError(f"--key {key}: {kind} can be matched by {' or '.join(allowed)}")


def choose_key(kind: str, key: str | None, columns: set[str]) -> str | None:
    if key is not None:
        check_key(kind, key)
        if key not in columns:
            raise UsageError(f"--key {key}: the input has no {key!r} column")
        return key
    for candidate in KEYS.get(kind, ("id",)) if kind == "clients" else ("id",):
        if candidate in columns:
            return candidate
    return None
