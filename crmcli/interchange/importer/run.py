"""Running an import: one `store.change("import", ...)` around every row of the input, so
any invalid row (without --skip-invalid) rolls everything back and `crm undo` reverts it
whole; --dry-run validates and counts and writes nothing; --rejects collects bad rows;
the Summary says what happened. `import_all` imports a directory written by `crm export
all`, every kind in one change.
"""

from __future__ import annotations

import gc
import itertools
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crmcli.errors import CrmError, UsageError, ValidationError
from crmcli.interchange.importer.cleaning import (
    CLEANERS,
    CONTACT_PRIMARY,
    NESTED,
    Context,
    check_duplicates,
    check_one_primary,
    check_scalars,
    row_id,
    undefuse,
)
from crmcli.interchange.importer.mapping import (
    CLIENT_REFS,
    DROP,
    FIELDS,
    KINDS,
    Mapper,
    check_key,
    choose_key,
    parse_maps,
)
from crmcli.interchange.importer.sources import (
    ERROR_COLUMN,
    RejectsWriter,
    Source,
    open_source,
)

MAX_ERRORS_SHOWN = 10
# The order in which `crm import all` reads a directory's files (a child after its client).
IMPORT_ORDER = KINDS


class ImportFailed(CrmError):
    """Invalid rows in the input called name: nothing was written. lines: the first errors;
    total: how many."""

    def __init__(self, name: str, lines: list[str], total: int):
        more = f"and {total - len(lines)} more" if total > len(lines) else ""
        super().__init__("\n".join([*lines, more] if more else lines))
        self.name = name
        self.lines = lines
        self.total = total
        self.more = more



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
    custom_columns: list[str] = field(default_factory=list)

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


def run_import(store: Any, kind: str, source: Source, *, maps: list[str] | None = None,
               key: str | None = None, skip_invalid: bool = False,
               rejects: str | None = None, dry_run: bool = False,
               progress: Callable[[int, int], None] | None = None,
               rejects_inputs: tuple = ()) -> Summary:
    """Import source into store as one change; raises ImportFailed when rows are invalid.

    rejects_inputs: other files of the same run that the rejects must not overwrite."""
    if kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r}: use {', '.join(KINDS)}")
    if source.fmt == "vcf" and kind != "contacts":
        raise UsageError("vCard files import as contacts: crm import contacts FILE.vcf")
    check_key(kind, key)
    declared = store.bulk.fields.get(kind, {})
    mapper = Mapper(kind, parse_maps(kind, maps, declared), declared)
    summary = Summary(kind=kind, file=source.name, format=source.fmt, dry_run=dry_run)
    records = source.records()
    first = next(records, None)
    # Field names of the input (CSV header or the first object's keys) decide the key.
    try:
        if source.header is not None:
            names = [mapper.target(h) for h in source.header]
            counted = Counter(names)  # names.count(n) per column took minutes on 200,000
            dupes = {n for n, times in counted.items() if n != DROP and times > 1}
            if dupes:
                raise UsageError(f"{source.name}: several columns map to "
                                 f"{', '.join(sorted(dupes))}")
            mapper.check_used(source.name, source.header)
            mapper.check_typos()
            mapper.check_required(source.name, set(names))
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
    summary.custom_columns = mapper.custom  # filled as JSON objects' keys are met

    ctx = Context(store, kind)
    clean = CLEANERS[kind]
    rejects_out = (RejectsWriter(rejects, source, getattr(store, "path", None), rejects_inputs)
                   if rejects else None)
    errors: list[str] = []
    bad = 0
    seen: dict[str, dict[Any, int]] = {}
    primaries: dict[int, int] = {}  # client id: line of its primary contact in this file
    dedupe = ([k for k in ("id", "email", "external_id") if k in columns]
              if kind == "clients" else (["id"] if key == "id" else []))
    undef = source.fmt in ("csv", "tsv")
    plain = {*FIELDS[kind], *CLIENT_REFS}  # (the other columns are declared custom fields)
    name = source.name
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    # A file's bar moves by bytes; stdin's spinner shows the count, so count more often.
    every = 20_000 if source.size else 200

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
        with store.bulk.import_cache(), store.change("import", f"imported {kind} from {name}") as ch:
            rows_before = ch.rows
            writer = store.bulk.child_writer(kind, key == "id") if kind != "clients" else None
            clients = store.bulk.client_writer() if kind == "clients" else None
            by_id = key == "id"
            contacts = kind == "contacts"
            dropping = names is not None and DROP in names
            writing = True
            n = 0
            stream = itertools.chain([first], records)
            for line, raw, problem in stream:
                n += 1
                if progress is not None and n % every == 0:
                    progress(n, source.bytes_read())
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
                        if dropping:
                            rec.pop(DROP, None)
                    elif isinstance(raw, dict):
                        rec = mapper.record(raw)
                        if kind != "clients" and not NESTED.isdisjoint(map(type,
                                                                            rec.values())):
                            check_scalars(kind, rec)  # (clean_client checks its own)
                    else:
                        raise CrmError("expected an object with field names")
                    row = clean(ctx, rec)
                    if dedupe:
                        check_duplicates(kind, dedupe, rec, row, seen, line)
                    if contacts and row[CONTACT_PRIMARY]:
                        check_one_primary(rec, row[0], primaries, line)
                    if not writing:
                        continue
                    if writer is not None:
                        given = rec
                        if declared and not rec.keys() <= plain:
                            given = {*rec, "custom"}  # a declared field's column
                        if kind == "deals" and ("status" in given or "stage" in given):
                            # they change together, and a stage's row without a
                            # probability has its stage's default (as crm stage-deal)
                            given = {*given, "status", "stage", "probability"}
                        counts[writer.put(row, row_id("id", rec.get("id")) if by_id else None,
                                          given)] += 1
                    else:
                        counts[store.bulk.import_client(row, key, clients)] += 1
                except CrmError as exc:  # (a DateError too: it is a CrmError)
                    reject(line, raw, exc)
                    writing = writing and skip_invalid
                except RecursionError:
                    reject(line, raw, CrmError("a value is nested too deeply"))
                    writing = writing and skip_invalid
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
                raise ImportFailed(name, errors, bad)
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
            rejects_out.close(complete=sys.exc_info()[0] is None)
    return summary


def import_all(store: Any, directory: str, *, fmt: str | None = None,
               encoding: str | None = None, maps: list[str] | None = None,
               key: str | None = None, skip_invalid: bool = False, rejects: str | None = None,
               dry_run: bool = False) -> list[Summary]:
    """Every kind file found in directory (as `crm export all` writes them), in dependency
    order, as one change; raises ImportFailed for the first file with invalid rows.

    rejects: a directory that gets one rejects file per kind that had bad rows."""
    folder = Path(directory)
    if not folder.is_dir():
        raise CrmError(f"{directory}: not a directory (crm import all reads the files of "
                       "crm export all)")
    found = []
    for kind in IMPORT_ORDER:
        for ext in (fmt,) if fmt else ("csv", "tsv", "json", "ndjson"):
            path = folder / f"{kind}.{ext}"
            if path.is_file():
                found.append((kind, path))
                break
    if not found:
        raise CrmError(f"{directory}: no clients.csv, contacts.csv, ... files to import")
    if maps:
        raise UsageError("--map applies to one kind; import the files one by one to map "
                         "columns")
    if key is not None:
        check_key("clients", key)
    out = Path(rejects) if rejects else None
    if out is not None:
        if out.exists() and not out.is_dir():
            raise UsageError(f"{rejects}: is a file; with crm import all, --rejects names a "
                             "directory")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CrmError(f"{rejects}: cannot create directory: {exc.strerror or exc}"
                           ) from None
    summaries = []
    try:
        with store.bulk.import_cache(), store.change("import", f"imported {directory}") as ch:
            for kind, path in found:
                source = open_source(str(path), None, encoding)
                if source.note:
                    import sys

                    sys.stderr.write(source.note + "\n")
                target = str(out / path.name) if out is not None else None
                try:
                    summary = run_import(store, kind, source,
                                         key=key if kind == "clients" else None,
                                         skip_invalid=skip_invalid, rejects=target,
                                         rejects_inputs=tuple(str(p) for _, p in found))
                finally:
                    source.binary.close()
                if target is not None and not summary.rejected:
                    Path(target).unlink(missing_ok=True)
                summaries.append(summary)
            ch.summary = f"imported {directory}: " + ", ".join(
                f"{s.inserted + s.updated} {s.kind}" for s in summaries)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    for summary in summaries:
        summary.dry_run = dry_run
        if dry_run:
            summary.change_id = None
    return summaries


# Fields whose JSON value may be a list or an object.
