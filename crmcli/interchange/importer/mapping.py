"""Mapping an import's columns to fields: the kinds and their fields, --map 'Column=field',
header names matched to fields (case and spacing forgiven), and the key (--key) that
matches existing records.
"""

from __future__ import annotations

from crmcli.errors import UsageError, ValidationError
from crmcli.interchange.importer.sources import ERROR_COLUMN
from crmcli.store import validate
from crmcli.store.bulk import EXPORT_COLUMNS

KINDS = ("clients", "contacts", "interactions", "deals", "followups")
CLIENT_REFS = ("client", "client_id", "client_email", "client_external_id", "client_name")
# Fields each kind accepts (besides the client reference columns of child kinds).
FIELDS: dict[str, tuple[str, ...]] = dict(EXPORT_COLUMNS)
KEYS = {"clients": ("id", "external_id", "email")}
# The field of a column that --map 'Column=' drops (no field has this name).
DROP = "\x00drop"



def parse_maps(kind: str, maps: list[str] | None) -> dict[str, str]:
    """--map 'Source Column=field' options -> {source: field} ('' drops the column)."""
    result: dict[str, str] = {}
    accepted = set(FIELDS[kind]) | (set(CLIENT_REFS) if kind != "clients" else set())
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

    def __init__(self, kind: str, maps: dict[str, str]):
        self.kind = kind
        self.maps = maps
        self.lower_maps = {k.lower(): k for k in maps}
        self.used: set[str] = set()
        self.plans: dict[tuple, tuple[list[str], bool]] = {}
        self.accepted = set(FIELDS[kind]) | (set(CLIENT_REFS) if kind != "clients" else set())
        if kind == "clients":
            self.accepted.discard("client")
        self.cache: dict[str, str] = {}

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
        for candidate in (norm, norm.replace(" ", "_").replace("-", "_")):
            if candidate in self.accepted:
                return candidate
        if self.kind == "clients":
            validate.custom_key(stripped)
            return stripped
        raise ValidationError("column", stripped, f"is not a field of {self.kind} (fields: "
                                                  f"{', '.join(sorted(self.accepted))}); map it "
                                                  "with --map 'Column=field' or drop it with "
                                                  "--map 'Column='")

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
