"""`crm import`: read CSV, TSV, JSON, NDJSON or vCard, validate every row, write in one change.

Reading streams (CSV, TSV, NDJSON and vCard are read record by record; a JSON
array is read whole). Each record becomes a dict of field -> raw value after
--map; a kind's cleaner turns it into stored values or raises ValidationError;
the store's writers (`crmcli.store.bulk`) put it into the database. The whole
import is one `store.change("import", ...)`: any invalid row (without
--skip-invalid) rolls everything back, and `crm undo` reverts it whole.

CSV cells that `crm export` defused against spreadsheet formula injection (a
leading apostrophe before = + - @ tab or CR) are restored on the way in, so an
export re-imports to the same values.
"""

from __future__ import annotations

import codecs
import csv
import gc
import io
import itertools
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any

from crmcli.render.output import defuse_formula
from crmcli.store import validate
from crmcli.store.bulk import EXPORT_COLUMNS, TABLE_COLUMNS
from crmcli.errors import CrmError, UnknownStage, UsageError, ValidationError
from crmcli.store.store import utc_now_iso

_EMAIL_MATCH = validate._EMAIL.match
_PHONE_MATCH = validate._PHONE.match
_MAX_NAME = validate.MAX_NAME
_MAX_TEXT = validate.MAX_TEXT

KINDS = ("clients", "contacts", "interactions", "deals", "followups")
FORMATS = ("csv", "tsv", "json", "ndjson", "vcf")
EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".json": "json", ".ndjson": "ndjson",
              ".jsonl": "ndjson", ".vcf": "vcf", ".vcard": "vcf"}
CLIENT_REFS = ("client", "client_id", "client_email", "client_external_id", "client_name")
# How each of those columns names the client ("auto": an id, else an email, else an
# external id; "org": the client's name, else its company, as vCards do).
_REF_HOW = {"client": "auto", "client_id": "id", "client_email": "email",
            "client_external_id": "external_id", "client_name": "org"}
# Fields each kind accepts (besides the client reference columns of child kinds).
FIELDS: dict[str, tuple[str, ...]] = dict(EXPORT_COLUMNS)
KEYS = {"clients": ("id", "external_id", "email")}
# Column that rejects files add; ignored on import so that a fixed rejects file re-imports.
ERROR_COLUMN = "error"
MAX_ERRORS_SHOWN = 10
# After this many distinct client references, load every client's keys in one query.
PRELOAD_AFTER = 500
_DROP = "\x00drop"
# New clients into an empty table take _ClientFastPath when their values allow it (a test
# turns it off to hold the general path to the same result).
QUICK_CLIENTS = True


class ImportFailed(CrmError):
    """Invalid rows: nothing was written. lines: the first errors; total: how many."""

    def __init__(self, lines: list[str], total: int):
        more = f"and {total - len(lines)} more" if total > len(lines) else ""
        super().__init__("\n".join([*lines, more] if more else lines))
        self.lines = lines
        self.total = total
        self.more = more


# --- reading -------------------------------------------------------------------------


@dataclass
class Source:
    """An input stream: records() yields (line, raw, record) with source column names."""

    name: str
    fmt: str
    encoding: str
    binary: Any
    size: int | None = None
    header: list[str] | None = None
    _text: Any = None

    def bytes_read(self) -> int:
        try:
            return self.binary.tell()
        except (OSError, ValueError, AttributeError):
            return 0

    def text(self):
        if self._text is None:
            self._text = io.TextIOWrapper(self.binary, encoding=self.encoding, newline="")
        return self._text

    def records(self) -> Iterator[tuple[int, Any, dict | None]]:
        try:
            if self.fmt in ("csv", "tsv"):
                yield from self._delimited()
            elif self.fmt == "ndjson":
                yield from self._ndjson()
            elif self.fmt == "json":
                yield from self._json()
            else:
                from crmcli.interchange.vcard import read_vcards

                yield from read_vcards(self.text())
        except UnicodeDecodeError as exc:
            raise CrmError(self._decode_problem(exc)) from None
        except csv.Error as exc:
            raise CrmError(f"{self.name}: not valid {self.fmt.upper()}: {exc}") from None

    def _decode_problem(self, exc: UnicodeDecodeError) -> str:
        """One line: where the input stops being text in its encoding (line and column
        found by reading a file again from the start; stdin says only the byte)."""
        utf8 = self.encoding == "utf-8-sig"
        shown = "UTF-8" if utf8 else self.encoding
        hint = ("; give the file's encoding, e.g. --encoding gb18030" if utf8
                else "; is it the right --encoding?")
        byte = exc.object[exc.start:exc.start + 1]
        where = self.name
        if self.name != "<stdin>":
            try:
                with open(self.name, "rb") as raw:
                    decoder = codecs.getincrementaldecoder(self.encoding)()
                    for number, line in enumerate(raw, 1):
                        try:
                            decoder.decode(line)
                        except UnicodeDecodeError as bad:
                            before = line[:max(bad.start, 0)].decode(self.encoding, "replace")
                            byte = line[bad.start:bad.start + 1] or byte
                            where = f"{self.name}:{number}: column {len(before) + 1}"
                            break
            except OSError:
                pass
        return f"{where}: cannot read byte 0x{byte.hex()} as {shown}{hint}"

    def _delimited(self) -> Iterator[tuple[int, list[str], dict | None]]:
        reader = csv.reader(self.text(), delimiter="\t" if self.fmt == "tsv" else ",")
        try:
            header = next(reader)
        except StopIteration:
            return
        self.header = [h.strip() for h in header]
        width = len(header)
        line = reader.line_num + 1
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not cells:
                continue
            if len(cells) != width:
                if len(cells) < width:
                    cells = cells + [""] * (width - len(cells))
                elif any(c.strip() for c in cells[width:]):
                    yield start, cells, {ERROR_COLUMN: f"has {len(cells)} cells but the header "
                                                       f"has {width} columns"}
                    continue
                else:
                    cells = cells[:width]
            yield start, cells, None

    def _ndjson(self) -> Iterator[tuple[int, Any, dict | None]]:
        decoder = json.JSONDecoder(parse_float=Decimal)
        decode, scan = decoder.decode, decoder.scan_once
        for number, text in enumerate(self.text(), 1):
            # The common line, one value from its first character to the line end, is
            # scanned directly; any other line (blank, space around the value, an error)
            # goes through decode as before.
            try:
                obj, end = scan(text, 0)
            except (StopIteration, json.JSONDecodeError):
                end = -1
            if end < 0 or text[end:] not in _LINE_ENDS:
                if not text.strip():
                    continue
                try:
                    obj = decode(text)
                except json.JSONDecodeError as exc:
                    yield number, {"raw": text.rstrip("\r\n")}, {
                        ERROR_COLUMN: f"column {exc.colno}: not valid JSON: {exc.msg}"}
                    continue
            yield number, obj, None

    def _json(self) -> Iterator[tuple[int, Any, dict | None]]:
        text = self.text().read()
        decoder = json.JSONDecoder(parse_float=Decimal)
        pos = _skip_ws(text, 0)
        if pos >= len(text):
            return
        if text[pos] != "[":
            if text[pos] == "{":
                raise CrmError(f"{self.name}: expected a JSON array of objects (for one object "
                               "per line use --format ndjson)")
            raise CrmError(f"{self.name}: expected a JSON array of objects")
        pos = _skip_ws(text, pos + 1)
        line, counted = 1, 0
        if pos < len(text) and text[pos] == "]":
            return
        while True:
            try:
                obj, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise CrmError(f"{self.name}:{exc.lineno}: column {exc.colno}: not valid JSON: "
                               f"{exc.msg}") from None
            line += text.count("\n", counted, pos)
            counted = pos
            yield line, obj, None
            pos = _skip_ws(text, end)
            if pos < len(text) and text[pos] == ",":
                pos = _skip_ws(text, pos + 1)
                continue
            if pos < len(text) and text[pos] == "]":
                return
            lineno = line + text.count("\n", counted, pos)
            raise CrmError(f"{self.name}:{lineno}: not valid JSON: expected ',' or ']'")


# What may follow a JSON value on its line (JSON whitespace only, as decode allows).
_LINE_ENDS = frozenset(("", "\n", "\r\n", "\r"))


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def check_encoding(encoding: str | None) -> str:
    if not encoding:
        return "utf-8-sig"
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise UsageError(f"unknown encoding {encoding!r} (for example utf-8, gb18030, "
                         "latin-1)") from None
    return "utf-8-sig" if name == "utf-8" else encoding


def open_source(path: str, fmt: str | None = None, encoding: str | None = None) -> Source:
    """Open FILE or '-' (stdin); the format comes from fmt, the extension, or a sniff."""
    enc = check_encoding(encoding)
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"unknown import format {fmt!r}: use {', '.join(FORMATS)}")
    if path == "-":
        binary = io.BufferedReader(sys.stdin.buffer) if not hasattr(
            sys.stdin.buffer, "peek") else sys.stdin.buffer
        name, size = "<stdin>", None
    else:
        p = Path(path)
        if p.is_dir():
            raise CrmError(f"{path}: is a directory")
        try:
            binary = open(p, "rb")  # noqa: SIM115 (closed by the caller through Source)
        except OSError as exc:
            raise CrmError(f"{path}: cannot open: {exc.strerror or exc}") from None
        name, size = path, p.stat().st_size
        fmt = fmt or EXTENSIONS.get(p.suffix.lower())
    if fmt is None:
        fmt = _sniff(binary)
    return Source(name=name, fmt=fmt, encoding=enc, binary=binary, size=size)


def _sniff(binary) -> str:
    """The format of an input without a telling extension, from its first bytes."""
    try:
        head = binary.peek(4096)[:4096]
    except (AttributeError, OSError):
        return "csv"
    text = head.lstrip(codecs.BOM_UTF8).lstrip()
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{"):
        return "ndjson"
    if text[:11].upper() == b"BEGIN:VCARD":
        return "vcf"
    first = text.split(b"\n", 1)[0]
    if b"\t" in first and b"," not in first:
        return "tsv"
    return "csv"


# --- values --------------------------------------------------------------------------

_ISO_Z = re.compile(r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
                    r"T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\dZ")
_ISO_Z_MATCH = _ISO_Z.fullmatch
_DAY_OK: dict[str, bool] = {}
_TS_REASON = "is not a date and time (expected ISO 8601 such as 2026-11-22T10:00:00Z)"
# Dates in an import name their year (2026-11-22, 22 Nov 2026): no "today" or "+3d".
_YEAR = re.compile(r"\d{4}")


def _day_ok(day: str) -> bool:
    ok = _DAY_OK.get(day)
    if ok is None:
        from datetime import date

        try:
            date.fromisoformat(day)
            ok = True
        except ValueError:
            ok = False
        _DAY_OK[day] = ok
    return ok


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
    from datetime import datetime, time

    from crmcli import dates

    try:
        when = dates.parse_when(text)
        if not isinstance(when, datetime):
            when = dates.local(datetime.combine(when, time(12, 0)))
        return dates.to_utc_iso(when)
    except (ValueError, OverflowError):
        raise ValidationError(name, value, _TS_REASON) from None


def day(name: str, value: Any, required: bool = False) -> str | None:
    text = validate.text(name, value, required=required, max_len=32)
    if text is None:
        return None
    if len(text) == 10 and _day_ok(text):
        return text
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


def flag(name: str, value: Any) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        return int(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "x"):
        return 1
    if text in ("0", "false", "no", "n"):
        return 0
    raise ValidationError(name, value, "must be true or false (or 1/0, yes/no)")


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
            self.maps = self.store.client_ref_maps()
        if self.maps is None:
            return self.store.client_ref_lookup(how, value)
        ids, external, emails = self.maps
        if how == "id":
            return [int(value)] if int(value) in ids else []
        if how == "email":
            return self.store.client_ref_lookup(how, value) if value.lower() in emails else []
        return [external[value]] if value in external else []

    def _find(self, column: str, how: str, value: str) -> int | ValidationError:
        lookup = self._lookup
        if how == "auto":
            ids: list[int] = []
            if value.isdigit() and len(value) < 19:
                ids = lookup("id", value)
            if not ids and "@" in value:
                ids = lookup("email", value)
            if not ids:
                ids = lookup("external_id", value)
        elif how == "org":
            ids = self.store.client_ids_by_org(value)
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
            owner = self.store.owner_of(table, ref)
            self.owners[(table, ref)] = owner
        if owner is None:
            raise ValidationError(name, value, f"no {table[:-1]} has this id")
        if owner != client_id:
            raise ValidationError(name, value, f"belongs to client {owner}, not {client_id}")
        return ref


def clean_client(ctx: Context, rec: dict) -> dict:
    from crmcli.store.clients import clean_client_fields

    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    basic: dict[str, Any] = {}
    tags = custom = history = None
    plain = fields  # text that needs no cleaning goes straight in (see _CLIENT_TEXT)
    for key, value in rec.items():
        if key in _CLIENT_BASIC:
            limit = _CLIENT_TEXT.get(key)
            if (limit is not None and type(value) is str and value and len(value) <= limit
                    and "\x00" not in value and value.strip() == value
                    and (key != "name" or ("\n" not in value and "\r" not in value))):
                plain[key] = value
            else:
                basic[key] = _as_text(_single(key, value))
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
            custom = _custom(value)
        elif key == "stage_history":
            history = _history(value)
        elif key == "id":
            _single(key, value)
        else:
            # a custom column keeps its JSON value (number, list, ...); "" or null removes it
            extra[key] = None if value is None or value == "" else value
    if fields.get("cadence_ideal") and fields.get("cadence_max"):
        from datetime import date

        probe = date(2000, 1, 1)
        if probe + _interval_of(fields["cadence_max"]) < probe + _interval_of(
                fields["cadence_ideal"]):
            raise ValidationError("cadence_max", fields["cadence_max"], "is shorter than the "
                                  f"ideal interval {fields['cadence_ideal']}")
    if basic:
        fields.update(clean_client_fields(basic))
    if "stage" in fields:
        stage = fields["stage"]
        if stage:
            known = ctx.stages.get(stage)
            if known is None:
                try:
                    known = ctx.store.check_stage(stage)
                except UnknownStage:
                    raise ValidationError("stage", stage, "is not a stage of the pipeline ("
                                          + " → ".join(ctx.store.pipeline) + ")") from None
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
        from crmcli.services.cadence import parse_interval

        found = parse_interval(text, name)
        if len(_INTERVALS) < 1000:
            _INTERVALS[text] = found
    return found


_CLIENT_BASIC = frozenset(("name", "company", "email", "phone", "industry", "size", "owner",
                           "source", "stage", "external_id", "notes"))
# Client fields that clients.clean_client_fields checks only as text, with their length
# limits: a string value already stripped, without NUL, within the limit (and, for the
# name, on one line) is what it would return, so it skips the call.
_CLIENT_TEXT = {"name": validate.MAX_NAME, "company": validate.MAX_NAME,
                "industry": validate.MAX_NAME, "size": validate.MAX_NAME,
                "owner": validate.MAX_NAME, "source": validate.MAX_NAME,
                "external_id": validate.MAX_NAME, "notes": validate.MAX_TEXT, "stage": 64}


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


def _custom(value: Any) -> dict:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value, parse_float=Decimal)
        except json.JSONDecodeError:
            raise ValidationError("custom", value, "is not a JSON object") from None
    if not isinstance(value, dict):
        raise ValidationError("custom", value, "is not a JSON object")
    for key in value:
        validate.custom_key(key)
    return value


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
# Kinds whose interactions default to inbound (crmcli.commands.log.INBOUND_KINDS).
INBOUND_KINDS = frozenset(("complaint", "feedback", "inquiry", "request"))
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
        if direction is None or direction == "":
            # as crm log: complaints, feedback, inquiries and requests come in
            direction = "in" if kind in INBOUND_KINDS else "out"
        else:
            direction = validate.choice("direction", direction, ("in", "out"))
    summary = get("summary")
    if summary:
        if type(summary) is not str or "\x00" in summary or len(summary) > validate.MAX_TEXT \
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
            flag("is_primary", get("is_primary")), validate.text("notes", get("notes")),
            created, updated)


def clean_deal(ctx: Context, rec: dict) -> tuple:
    client_id = ctx.client_id(rec)
    get = rec.get
    amount = get("amount")
    amount = validate.amount(format(amount, "f") if isinstance(amount, Decimal) else amount)
    currency = validate.text("currency", get("currency"), max_len=8) or ctx.store.currency
    if not re.fullmatch(r"[A-Za-z]{3}", currency or ""):
        raise ValidationError("currency", currency, "must be a three-letter code such as USD")
    status = validate.choice("status", get("status") or "won", validate.DEAL_STATUSES)
    return (client_id, timestamp("at", get("at"), required=True),
            validate.text("title", get("title"), max_len=validate.MAX_NAME), amount,
            currency.upper(), status, timestamp("created_at", get("created_at")) or ctx.now_iso())


def clean_followup(ctx: Context, rec: dict) -> tuple:
    from crmcli.store.activity import _anchor_of, split_due

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
        except (ValueError, OverflowError):
            raise ValidationError("due", due_text, "is not a date (expected YYYY-MM-DD, "
                                                   "or a date and time)") from None
        due_at = due_at or due_at2
    every = validate.text("every", get("every"), max_len=200)
    if every:
        from crmcli.store.activity import ActivityMixin

        try:
            every = ActivityMixin._check_rule(every)
        except ValueError:
            raise ValidationError("every", every, "is not a recurrence (daily, weekly, 2w, "
                                                  "monthly, or an RRULE)") from None
    anchor = validate.text("anchor", get("anchor"), max_len=32)
    if anchor is not None and not _ANCHOR.fullmatch(anchor):
        raise ValidationError("anchor", anchor, "is not a local date or date and time "
                                                "(YYYY-MM-DD or YYYY-MM-DDTHH:MM)")
    if anchor is not None:
        from datetime import datetime

        try:
            datetime.fromisoformat(anchor)
        except ValueError:
            raise ValidationError("anchor", anchor, "is not a real date") from None
    if every and not anchor:
        anchor = _anchor_of(due, due_at)
    interaction = get("interaction_id")
    interaction = (ctx.owned_by("interactions", "interaction_id", interaction, client_id)
                   if interaction not in (None, "") else None)
    return (client_id, due, due_at, validate.text("note", get("note")) or "", every or None,
            anchor, interaction, timestamp("done_at", get("done_at")),
            timestamp("created_at", get("created_at")) or ctx.now_iso())


# The first occurrence of a recurring follow-up, in local time (as crm followup stores it).
_ANCHOR = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2})?")

CLEANERS: dict[str, Callable[[Context, dict], Any]] = {
    "clients": clean_client, "contacts": clean_contact, "interactions": clean_interaction,
    "deals": clean_deal, "followups": clean_followup}


# --- mapping -------------------------------------------------------------------------


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
        result[source] = target or _DROP
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
            return _DROP
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
        item = f"{unused[0]}={'' if self.maps[unused[0]] == _DROP else self.maps[unused[0]]}"
        shown = ", ".join(header[:20]) + (", ..." if len(header) > 20 else "") if header else ""
        where = f" (its columns: {shown})" if header is not None else ""
        raise UsageError(f"--map {item!r}: {name} has no column {unused[0]!r}{where}")

    def record(self, obj: dict) -> dict:
        """obj with field names for keys (the plan for each set of keys is kept)."""
        keys = tuple(obj)
        plan = self.plans.get(keys)
        if plan is None:
            targets = [self.target(k) for k in keys]
            plan = (targets, _DROP in targets)
            if len(self.plans) < 1000:
                self.plans[keys] = plan
        out = dict(zip(plan[0], obj.values(), strict=True))
        if plan[1]:
            out.pop(_DROP, None)
        return out


# --- running an import ---------------------------------------------------------------


@dataclass
class Summary:
    kind: str
    file: str
    format: str
    key: str | None = None
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    dry_run: bool = False
    change_id: int | None = None
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "file": self.file, "format": self.format, "key": self.key,
                "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": self.rejected,
                "dry_run": self.dry_run, "change_id": self.change_id}

    def line(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        text = (f"{verb} {self.kind} from {self.file}: {self.inserted} inserted, "
                f"{self.updated} updated, {self.unchanged} unchanged, {self.rejected} rejected")
        return text + (" (dry run: nothing written)" if self.dry_run else "")


class _DryRun(Exception):
    pass


def _error_line(name: str, line: int, exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        shown = "" if exc.value is None else str(exc.value)
        shown = shown.replace("\n", "\\n")
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return f"{name}:{line}: field {exc.field!r}: value {shown!r}: {exc.reason}"
    return f"{name}:{line}: {' '.join(str(exc).splitlines())}"


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


def run_import(store: Any, kind: str, source: Source, *, maps: list[str] | None = None,
               key: str | None = None, skip_invalid: bool = False,
               rejects: str | None = None, dry_run: bool = False,
               progress: Callable[[int, int], None] | None = None) -> Summary:
    """Import source into store as one change; raises ImportFailed when rows are invalid."""
    if kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r}: use {', '.join(KINDS)}")
    if source.fmt == "vcf" and kind != "contacts":
        raise UsageError("vCard files import as contacts: crm import contacts FILE.vcf")
    check_key(kind, key)
    mapper = Mapper(kind, parse_maps(kind, maps))
    summary = Summary(kind=kind, file=source.name, format=source.fmt, dry_run=dry_run)
    records = source.records()
    first = next(records, None)
    # Field names of the input (CSV header or the first object's keys) decide the key.
    try:
        if source.header is not None:
            names = [mapper.target(h) for h in source.header]
            dupes = {n for n in names if n != _DROP and names.count(n) > 1}
            if dupes:
                raise UsageError(f"{source.name}: several columns map to "
                                 f"{', '.join(sorted(dupes))}")
            mapper.check_used(source.name, source.header)
            if first is None:
                summary.key = choose_key(kind, key, set(names))
                return summary
        elif first is None:
            summary.key = key
            return summary
        else:
            names = None
            if isinstance(first[1], dict):
                mapper.record(first[1])
    except ValidationError as exc:
        raise CrmError(f"{source.name}:1: {exc}") from None
    columns = set(names) if names is not None else (
        set(mapper.record(first[1])) if isinstance(first[1], dict) and first[2] is None
        else set())
    summary.key = key = choose_key(kind, key, columns)

    ctx = Context(store, kind)
    clean = CLEANERS[kind]
    rejects_out = RejectsWriter(rejects, source) if rejects else None
    errors: list[str] = []
    bad = 0
    seen: dict[str, dict[Any, int]] = {}
    primaries: dict[int, int] = {}  # client id: line of its primary contact in this file
    dedupe = ([k for k in ("id", "email", "external_id") if k in columns]
              if kind == "clients" else (["id"] if key == "id" else []))
    fast = False
    undef = source.fmt in ("csv", "tsv")
    name = source.name
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    every = 20_000

    def reject(line: int, raw: Any, exc: Exception) -> None:
        nonlocal bad
        bad += 1
        text = _error_line(name, line, exc)
        if len(errors) < MAX_ERRORS_SHOWN:
            errors.append(text)
        if rejects_out is not None:
            rejects_out.write(raw, text.split(": ", 1)[1] if ": " in text else text)

    # The rows of an import make no reference cycles, but millions of them would set off
    # the cyclic garbage collector over and over, each full pass walking every live
    # object: it waits until the import is done.
    collecting = gc.isenabled()
    gc.disable()
    try:
        with store.import_cache(), store.change("import", f"imported {kind} from {name}") as ch:
            rows_before = ch.rows
            writer = store.child_writer(kind, key == "id") if kind != "clients" else None
            clients = store.client_writer() if kind == "clients" else None
            # Rows go straight into the insert buffer when there is no key and nothing
            # stored to match them against.
            fast = writer is not None and key is None and writer.existing_top is None
            writing = True
            n = 0
            stream = itertools.chain([first], records)
            if fast and names is not None and writing and kind != "contacts":
                # The hot path (a million interactions): no key, rows straight into the
                # insert buffer; anything unusual goes through the general loop below.
                # (Not contacts, whose primary flags are checked across rows below.)
                n, leftover = _fast_rows(stream, names, undef, clean, ctx, writer, counts,
                                         progress, every, source)
                if leftover is not None:
                    stream = itertools.chain([leftover], stream)
                    n -= 1
            # New clients into an empty table: rows whose every value is plainly valid
            # go straight into the writer's buffers; the others take the general path.
            quick = (_ClientFastPath(ctx, clients, mapper, names, undef, seen, dedupe)
                     if clients is not None and clients.started_empty and QUICK_CLIENTS
                     else None)
            if quick is not None and not quick.usable:
                quick = None
            quick_put = quick.put if quick is not None else None
            quick_n = 0
            for line, raw, problem in stream:
                n += 1
                if progress is not None and n % every == 0:
                    progress(n, source.bytes_read())
                if quick_put is not None and problem is None and writing:
                    if quick_put(line, raw):
                        quick_n += 1
                        continue
                if problem is not None:
                    reject(line, raw, CrmError(problem[ERROR_COLUMN]))
                    writing = writing and skip_invalid
                    continue
                try:
                    if names is not None:
                        if undef and "'" in "".join(raw):
                            cells = [undefuse(c) for c in raw]
                        else:
                            cells = raw
                        rec = dict(zip(names, cells, strict=True))
                        rec.pop(_DROP, None)
                    elif isinstance(raw, dict):
                        rec = mapper.record(raw)
                        if kind != "clients" and not _NESTED.isdisjoint(map(type,
                                                                            rec.values())):
                            _check_scalars(kind, rec)  # (clean_client checks its own)
                    else:
                        raise CrmError("expected an object with field names")
                    row = clean(ctx, rec)
                    if dedupe:
                        _check_duplicates(kind, dedupe, rec, row, seen, line)
                    if kind == "contacts" and row[_CONTACT_PRIMARY]:
                        _check_one_primary(rec, row[0], primaries, line)
                    if not writing:
                        continue
                    if fast:
                        writer.put_fast(row)
                        counts["inserted"] += 1
                    elif writer is not None:
                        present = set(rec)
                        if present & set(CLIENT_REFS):
                            present.add("client_id")
                        values = dict(zip(TABLE_COLUMNS[kind], row, strict=True))
                        values["id"] = row_id("id", rec.get("id")) if key == "id" else None
                        counts[writer.put(values, present)] += 1
                    else:
                        counts[store.import_client(row, key, clients)] += 1
                except (CrmError, ValueError) as exc:
                    if isinstance(exc, ValueError) and not _is_user_value_error(exc):
                        raise
                    reject(line, raw, exc)
                    writing = writing and skip_invalid
            counts["inserted"] += quick_n
            if writer is not None and writing:
                writer.finish()
            if clients is not None and writing:
                clients.finish()
            if progress is not None:
                progress(n, source.bytes_read())
            summary.inserted, summary.updated, summary.unchanged = (
                counts["inserted"], counts["updated"], counts["unchanged"])
            summary.rejected = bad
            summary.errors = errors
            if bad and not skip_invalid:
                raise ImportFailed(errors, bad)
            if names is None:
                mapper.check_used(name, None)
            ch.summary = (f"imported {kind} from {name}: {summary.inserted} inserted, "
                          f"{summary.updated} updated")
            # The change that crm undo reverts; none when this import changed nothing
            # (an import of nothing new leaves no entry in the audit log).
            summary.change_id = ch.id if ch.rows > rows_before else None
            if dry_run:
                raise _DryRun
    except _DryRun:
        summary.change_id = None
    finally:
        if collecting:
            gc.enable()
        if rejects_out is not None:
            rejects_out.close()
    return summary


def _fast_rows(stream, names, undef, clean, ctx, writer, counts, progress, every, source):
    """Clean and buffer rows until one needs the general loop; returns (rows seen, that row)."""
    from crmcli.store.bulk import CHUNK

    drop = _DROP in names
    buf = writer.buffer
    n = inserted = 0
    try:
        for item in stream:
            n += 1
            line, raw, problem = item
            if problem is not None or (undef and "'" in "".join(raw)):
                return n, item
            rec = dict(zip(names, raw, strict=True))
            if drop:
                rec.pop(_DROP, None)
            try:
                row = clean(ctx, rec)
            except (CrmError, ValueError):
                return n, item
            buf.append(row)
            inserted += 1
            if len(buf) >= CHUNK:
                writer._flush_plain()
                buf = writer.buffer
            if progress is not None and n % every == 0:
                progress(n, source.bytes_read())
        return n, None
    finally:
        writer.inserted_fast = inserted
        counts["inserted"] += inserted


# Fields of a new client that _ClientFastPath handles, in the order it reads them: the
# text and timestamp fields, then the tags (which may be a JSON list).
_QUICK_FIELDS = ("name", "company", "email", "phone", "industry", "size", "owner", "source",
                 "stage", "external_id", "notes", "created_at", "updated_at", "archived_at",
                 "tags")
_QUICK_SET = frozenset(_QUICK_FIELDS)
_ABSENT = object()  # a key no record has
_QUICK_SCALARS = len(_QUICK_FIELDS) - 1


class _ClientFastPath:
    """New clients (no id, into a table empty when the import began) whose every value is
    one that clean_client keeps as it is: text already stripped, without NUL, within its
    limit; an email and a phone that validate; tags, a stage and ISO 'Z' timestamps met
    before (the caches of Context and _DAY_OK). put(line, raw) appends such a row to the
    ClientWriter's buffers exactly as clean_client + import_client would, and returns
    True; for any other row it changes nothing and returns False, and the general path
    takes the row (with its errors, --skip-invalid and rejects).

    The checks are the validators' own, done once per row where they can be (one NUL
    test and one strip test over all the cells); a test holds the two paths to the same
    database on clean and on awkward rows."""

    def __init__(self, ctx: Context, writer: Any, mapper: Mapper, names: list[str] | None,
                 undef: bool, seen: dict, dedupe: list[str]):
        from crmcli.store import bulk

        self.ctx = ctx
        self.writer = writer
        self.mapper = mapper
        self.undef = undef
        self.chunk = bulk.CLIENT_CHUNK
        self.seen_email = seen.setdefault("email", {}) if "email" in dedupe else None
        self.seen_ext = seen.setdefault("external_id", {}) if "external_id" in dedupe else None
        self.plans: dict[tuple, Any] = {}
        self.usable = True
        self.values: Callable[[Any], tuple | None] = self._object
        if names is not None:
            fields = set(names) - {_DROP}
            if not fields <= _QUICK_SET or "name" not in fields:
                self.usable = False
                return
            width = len(names)
            self.getter = itemgetter(*(names.index(f) if f in fields else width
                                       for f in _QUICK_FIELDS))
            self.values = self._cells if fields == _QUICK_SET else self._short_cells

    # --- the values of a row, checked for NUL, surrounding space and length -----------

    def _cells(self, cells: list[str]) -> tuple | None:
        """A CSV row with every _QUICK_FIELDS column."""
        return self._checked(cells, False)

    def _short_cells(self, cells: list[str]) -> tuple | None:
        """A CSV row that lacks some _QUICK_FIELDS columns (None for them)."""
        return self._checked(cells, True)

    def _checked(self, cells: list[str], short: bool) -> tuple | None:
        joined = "".join(cells)
        if "'" in joined and self.undef:
            cells = [undefuse(c) for c in cells]
            joined = "".join(cells)
        if "\x00" in joined or list(map(str.strip, cells)) != cells:
            return None
        values = self.getter([*cells, None] if short else cells)
        if len(joined) > _MAX_NAME and not _within_limits(values):
            return None
        return values

    def _object(self, obj: Any) -> tuple | None:
        """A JSON object: text fields are strings or null; tags a string, list or null."""
        if type(obj) is not dict:
            return None
        plan = self.plans.get(tuple(obj), _ABSENT)
        if plan is _ABSENT:
            plan = self._plan(tuple(obj))
        if plan is None:
            return None
        values = tuple(map(obj.get, plan))
        scalars = values[:-1]
        texts = list(filter(None, scalars))
        try:
            joined = "".join(texts)  # (a number, true, a list or an object: TypeError)
        except TypeError:
            return None
        # ... and 0, false, [] or {}: neither text nor null, nor '' (which is no value)
        if (len(texts) + scalars.count(None) + scalars.count("") != _QUICK_SCALARS
                or "\x00" in joined or list(map(str.strip, texts)) != texts):
            return None
        if len(joined) > _MAX_NAME and not _within_limits(values):
            return None
        return values

    def _plan(self, keys: tuple) -> Any:
        """For a JSON object's keys: the source key of each _QUICK_FIELDS entry, or None
        when an object with these keys cannot take the fast path."""
        plan = None
        try:
            targets = [self.mapper.target(k) for k in keys]
        except ValidationError:
            targets = None
        if targets is not None:
            fields = set(targets) - {_DROP}
            if fields <= _QUICK_SET and "name" in fields:
                source = dict(zip(targets, keys, strict=True))
                plan = tuple(source.get(f, _ABSENT) for f in _QUICK_FIELDS)
        if len(self.plans) < 1000:
            self.plans[keys] = plan
        return plan

    # --- one row ---------------------------------------------------------------------

    def put(self, line: int, raw: Any) -> bool:
        values = self.values(raw)
        if values is None:
            return False
        (name, company, email, phone, industry, size, owner, source, stage, ext, notes,
         created, updated, archived, tags) = values
        # Every text value is a string without NUL or surrounding space, within its
        # limit, or None; '' is no value (validate.text).
        if not name or "\n" in name or "\r" in name:
            return False
        if email:
            if not (len(email) <= 320 and _EMAIL_MATCH(email)):
                return False
        else:
            email = None
        if phone:
            if not (len(phone) <= 60 and _PHONE_MATCH(phone)
                    and (phone[-3:].isdigit() or sum(map(str.isdigit, phone)) >= 3)):
                return False
        else:
            phone = None
        ctx = self.ctx
        if stage:
            stage = ctx.stages.get(stage)  # a stage met before (clean_client's cache)
            if stage is None:
                return False
        else:
            stage = None
        # tags: a string or a list of strings met before (clean_client's cache)
        if type(tags) is str:
            if tags:
                tags = ctx.tag_sets.get(tags)
                if tags is None:
                    return False
        elif type(tags) is list:
            if tags:
                try:
                    tags = ctx.tag_sets.get(tuple(tags))
                except TypeError:  # a list holding lists or objects
                    return False
                if tags is None:
                    return False
        elif tags is not None:
            return False
        if created:
            if not (_ISO_Z_MATCH(created) and _DAY_OK.get(created[:10])):
                return False
        else:
            created = utc_now_iso()  # as BulkMixin._new_client_record
        if updated:
            if not (_ISO_Z_MATCH(updated) and _DAY_OK.get(updated[:10])):
                return False
        else:
            updated = created
        if archived:
            if not (_ISO_Z_MATCH(archived) and _DAY_OK.get(archived[:10])):
                return False
        else:
            archived = None
        # keys met earlier in the input: the general path names both lines
        seen_email, seen_ext = self.seen_email, self.seen_ext
        lower = None
        if seen_email is not None and email:
            lower = email.lower()
            if lower in seen_email:
                return False
        if seen_ext is not None and ext and ext in seen_ext:
            return False
        if lower is not None:
            seen_email[lower] = line
        if seen_ext is not None and ext:
            seen_ext[ext] = line
        # as ClientWriter.add
        writer = self.writer
        if writer.with_ids:
            writer.flush()
            writer.with_ids = False
        rows = writer.rows
        pos = len(rows)
        rows.append((name, company or None, email, phone, industry or None, size or None,
                     owner or None, source or None, stage, ext or None, "{}", notes or None,
                     None, None, created, updated, archived))
        if tags:
            writer.tag_refs.append((pos, tags))
        if stage:
            writer.moves.append((pos, None, stage, created, None))
        if pos + 1 >= self.chunk:
            writer.flush()
        return True


def _within_limits(values: tuple) -> bool:
    """The text values of a _QUICK_FIELDS row within clean_client's length limits."""
    return (all(v is None or len(v) <= _MAX_NAME for v in values[:10])
            and (values[10] is None or len(values[10]) <= _MAX_TEXT)
            and all(v is None or len(v) <= 64 for v in values[11:14]))


# Fields whose JSON value may be a list or an object.
_STRUCTURED = frozenset(("tags", "custom", "stage_history"))
_NESTED = frozenset((list, dict))


def _check_scalars(kind: str, rec: dict) -> None:
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


def _is_user_value_error(exc: ValueError) -> bool:
    from crmcli.errors import DateError

    return isinstance(exc, DateError)


_CONTACT_PRIMARY = TABLE_COLUMNS["contacts"].index("is_primary")


def _check_one_primary(rec: dict, client_id: int, primaries: dict[int, int], line: int) -> None:
    first = primaries.setdefault(client_id, line)
    if first != line:
        raise ValidationError("is_primary", rec.get("is_primary"),
                              f"client {client_id} already has its primary contact on line "
                              f"{first} (one per client)")


def _check_duplicates(kind: str, keys: list[str], rec: dict, row: Any,
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


# --- rejects -------------------------------------------------------------------------


class RejectsWriter:
    """Bad rows in the input's own format, with an `error` column/field added."""

    def __init__(self, path: str, source: Source):
        self.path = path
        self.source = source
        self.count = 0
        enc = "utf-8" if source.encoding == "utf-8-sig" else source.encoding
        try:
            self.out = open(path, "w", encoding=enc, newline="")  # noqa: SIM115
        except OSError as exc:
            raise CrmError(f"{path}: cannot write rejects: {exc.strerror or exc}") from None
        self.writer = None
        if source.fmt == "json":
            self.out.write("[")

    def write(self, raw: Any, error: str) -> None:
        fmt = self.source.fmt
        if fmt in ("csv", "tsv"):
            if self.writer is None:
                self.writer = csv.writer(self.out, delimiter="\t" if fmt == "tsv" else ",",
                                         lineterminator="\n")
                self.writer.writerow([*(self.source.header or []), ERROR_COLUMN])
            self.writer.writerow([*raw, error])
        elif fmt in ("json", "ndjson"):
            from crmcli.render.output import to_json

            obj = dict(raw) if isinstance(raw, dict) else {"raw": raw}
            obj[ERROR_COLUMN] = error
            if fmt == "json":
                self.out.write(("," if self.count else "") + "\n  " + to_json(obj))
            else:
                self.out.write(to_json(obj) + "\n")
        else:
            from crmcli.interchange.vcard import with_error

            self.out.write(with_error(raw, error))
        self.count += 1

    def close(self) -> None:
        if self.source.fmt == "json":
            self.out.write("\n]\n" if self.count else "]\n")
        elif self.source.fmt in ("csv", "tsv") and self.writer is None:
            csv.writer(self.out, delimiter="\t" if self.source.fmt == "tsv" else ",",
                       lineterminator="\n").writerow([*(self.source.header or []),
                                                      ERROR_COLUMN])
        self.out.close()
