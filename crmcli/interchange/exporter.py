"""`crm export`: every record of a kind, streamed, in a format `crm import` reads back.

CSV/TSV: one column per field; clients' `tags` are comma-separated, `custom` and
`stage_history` are JSON text; cells that a spreadsheet would run as a formula
(starting with = + - @ tab or CR, other than plain numbers) get a leading
apostrophe (`output.defuse_formula`), which `crm import` removes again. A value
that already starts with apostrophes before such a character gets one more, so
the round trip is exact. JSON/NDJSON: the same fields with their JSON types
(money as exact numbers, tags as a list, custom as an object).
"""

from __future__ import annotations

import codecs
import io
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from crmcli.errors import CrmError, UsageError
from crmcli.render.output import (
    CsvWriter,
    check_fields,
    defuse_formula,
    flat_text,
    selection,
    to_json,
)

EXPORT_KINDS = ("clients", "contacts", "interactions", "deals", "followups", "invoices",
                "payments")
EXPORT_FORMATS = ("csv", "tsv", "json", "ndjson", "vcf", "ics")
EXTENSIONS = {"csv": "csv", "tsv": "tsv", "json": "json", "ndjson": "ndjson", "vcf": "vcf",
              "ics": "ics"}


def defuse(text: str) -> str:
    """defuse_formula, made reversible: importer.undefuse(defuse(x)) == x for every x."""
    core = text.lstrip("'")
    if core != text:
        return "'" + text if defuse_formula(core) != core else text
    return defuse_formula(text)


def records(store: Any, kind: str) -> Iterator[dict]:
    """Rows of a kind with their JSON types (amount Decimal, is_primary bool)."""
    for row in store.bulk.export_rows(kind):
        if kind in ("deals", "invoices", "payments"):
            row["amount"] = Decimal(row["amount"])
        elif kind == "contacts":
            row["is_primary"] = bool(row["is_primary"])
        yield row


def _cell(kind: str, column: str, value: Any, protect=defuse) -> str:
    if value is None:
        return ""
    if column == "tags":
        return protect(",".join(value))
    if isinstance(value, str):
        return protect(value)
    return protect(flat_text(value))


def _as_stored(text: str) -> str:
    return text


def write(store: Any, kind: str, fmt: str, out) -> int:
    """Write every record of kind to the text stream out; returns how many."""
    if fmt == "vcf":
        if kind != "contacts":
            raise UsageError("vCard export is for contacts: crm export contacts --format vcf")
        from crmcli.interchange.vcard import write_vcards

        return write_vcards(store.bulk.export_contacts_with_clients(), out)
    columns = store.bulk.export_columns(kind)
    chosen = selection()
    if chosen.fields is not None:
        check_fields(columns)
        columns = list(chosen.fields)
    count = 0
    if fmt in ("csv", "tsv"):
        writer = CsvWriter(out, fmt)
        if chosen.headers:
            writer.writerow(columns)
        protect = _as_stored if chosen.raw else defuse
        for row in records(store, kind):
            writer.writerow([_cell(kind, c, row[c], protect) for c in columns])
            count += 1
    elif fmt == "ndjson":
        for row in records(store, kind):
            out.write(to_json({c: row[c] for c in columns}) + "\n")
            count += 1
    elif fmt == "json":
        out.write("[")
        for row in records(store, kind):
            out.write(("," if count else "") + "\n  " + to_json({c: row[c] for c in columns}))
            count += 1
        out.write("\n]\n" if count else "]\n")
    else:
        raise UsageError(f"unknown export format {fmt!r}: use csv, tsv, json, ndjson"
                         + (", vcf" if kind == "contacts" else "")
                         + (", ics" if kind == "followups" else ""))
    return count


def check_text_encoding(encoding: str | None, bom: bool) -> tuple[str, bool]:
    """(codec, whether to write a byte-order mark first) for --encoding and --bom. UTF-16
    and UTF-32 without a byte order are written little-endian with their mark, as
    spreadsheets expect."""
    if encoding is None:
        return "utf-8", bom
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise UsageError(f"unknown encoding {encoding!r} (for example utf-8, gb18030, "
                         "cp1252, utf-16)") from None
    if name in ("utf-16", "utf-32"):
        return name + "-le", True
    if name == "utf-8-sig":
        return "utf-8", True
    return name, bom


def _encoded(out, encoding: str, bom: bool):
    """out, or a text stream over its bytes in encoding (with a mark first if bom)."""
    if encoding == "utf-8" and not bom:
        return out, lambda: None
    out.flush()
    target = out.buffer if hasattr(out, "buffer") else out
    wrapped = io.TextIOWrapper(target, encoding=encoding, newline="", write_through=True)
    if bom:
        wrapped.write("\ufeff")
    return wrapped, lambda: (wrapped.flush(), wrapped.detach())


def _write_encoded(store: Any, kind: str, fmt: str, out, encoding: str, bom: bool) -> int:
    stream, done = _encoded(out, encoding, bom)
    try:
        return write(store, kind, fmt, stream)
    except UnicodeEncodeError as exc:
        raise CrmError(f"cannot write {exc.object[exc.start:exc.end]!r} in {encoding}: "
                       "choose an encoding that has it (utf-8, utf-16, gb18030, ...)") from None
    finally:
        done()


def export(store: Any, kind: str, fmt: str, path: str | None, encoding: str | None = None,
           bom: bool = False) -> int:
    """Export one kind to path (written atomically) or stdout, in encoding (default UTF-8),
    with a byte-order mark first if bom."""
    encoding, bom = check_text_encoding(encoding, bom)
    if kind not in EXPORT_KINDS:
        raise UsageError(f"unknown kind {kind!r}: use {', '.join(EXPORT_KINDS)} or all")
    if fmt == "ics":
        if kind != "followups":
            raise UsageError("iCalendar export is for follow-ups: crm export followups "
                             "--format ics")
        from crmcli.interchange.ics import followups_calendar

        data = followups_calendar(store)
        if path in (None, "-"):
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            _atomic(store, path, lambda f: f.write(data.decode("utf-8")))
        return data.count(b"BEGIN:VEVENT")
    if path in (None, "-"):
        return _write_encoded(store, kind, fmt, sys.stdout, encoding, bom)
    result: list[int] = []
    _atomic(store, path,
            lambda f: result.append(_write_encoded(store, kind, fmt, f, encoding, bom)))
    return result[0]


def export_all(store: Any, fmt: str, directory: str, encoding: str | None = None,
               bom: bool = False) -> list[tuple[str, Path, int]]:
    """One file per kind in directory (created if needed): clients.csv, contacts.csv, ..."""
    if fmt not in ("csv", "tsv", "json", "ndjson"):
        raise UsageError(f"export all writes csv, tsv, json or ndjson, not {fmt}")
    target = Path(directory)
    if target.exists() and not target.is_dir():
        raise CrmError(f"{directory}: is a file; export all needs a directory (-o DIR)")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CrmError(f"{directory}: cannot create directory: {exc.strerror or exc}") from None
    written = []
    for kind in EXPORT_KINDS:
        path = target / f"{kind}.{EXTENSIONS[fmt]}"
        written.append((kind, path, export(store, kind, fmt, str(path), encoding, bom)))
    return written


def _atomic(store: Any, path: str, fill) -> None:
    from crmcli.files import output_file

    with output_file(path, db=store.path) as f:
        fill(f)
