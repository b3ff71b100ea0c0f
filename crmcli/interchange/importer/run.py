"""Running an import: one `store.change("import", ...)` around every row of the input, so
any invalid row (without --skip-invalid) rolls everything back and `crm undo` reverts it
whole; --dry-run validates and counts and writes nothing; --rejects collects bad rows;
the Summary says what happened. `import_all` imports a directory written by `crm export
all`, every kind in one change.
"""

from __future__ import annotations

import gc
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from crmcli.errors import CrmError, UsageError, ValidationError
from crmcli.interchange.importer.cleaning import (
    CLEANERS,
    CONTACT_PRIMARY,
    DAY_OK,
    ISO_Z_MATCH,
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
from crmcli.store import validate
from crmcli.store.bulk import TABLE_COLUMNS
from crmcli.store.store import utc_now_iso

_EMAIL_MATCH = validate._EMAIL.match
_PHONE_MATCH = validate._PHONE.match
_MAX_NAME = validate.MAX_NAME
_MAX_TEXT = validate.MAX_TEXT
MAX_ERRORS_SHOWN = 10
# New clients into an empty table take _ClientFastPath when their values allow it (a test
# turns it off to hold the general path to the same result).
QUICK_CLIENTS = True
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
            counted = Counter(names)  # names.count(n) per column took minutes on 200,000
            dupes = {n for n, times in counted.items() if n != DROP and times > 1}
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
                    if kind == "contacts" and row[CONTACT_PRIMARY]:
                        check_one_primary(rec, row[0], primaries, line)
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
                except CrmError as exc:  # (a DateError too: it is a CrmError)
                    reject(line, raw, exc)
                    writing = writing and skip_invalid
                except RecursionError:
                    reject(line, raw, CrmError("a value is nested too deeply"))
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
            rejects_out.close()
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
        with store.import_cache(), store.change("import", f"imported {directory}") as ch:
            for kind, path in found:
                source = open_source(str(path), None, encoding)
                if source.note:
                    import sys

                    sys.stderr.write(source.note + "\n")
                target = str(out / path.name) if out is not None else None
                try:
                    summary = run_import(store, kind, source,
                                         key=key if kind == "clients" else None,
                                         skip_invalid=skip_invalid, rejects=target)
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


def _fast_rows(stream, names, undef, clean, ctx, writer, counts, progress, every, source):
    """Clean and buffer rows until one needs the general loop; returns (rows seen, that row)."""
    from crmcli.store.bulk import CHUNK

    drop = DROP in names
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
                rec.pop(DROP, None)
            try:
                row = clean(ctx, rec)
            except CrmError:
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
    before (the caches of Context and DAY_OK). put(line, raw) appends such a row to the
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
            fields = set(names) - {DROP}
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
        if not joined.isprintable() or list(map(str.strip, cells)) != cells:
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
                or not joined.isprintable() or list(map(str.strip, texts)) != texts):
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
            fields = set(targets) - {DROP}
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
            if not (ISO_Z_MATCH(created) and DAY_OK.get(created[:10])):
                return False
        else:
            created = utc_now_iso()  # as BulkMixin._new_client_record
        if updated:
            if not (ISO_Z_MATCH(updated) and DAY_OK.get(updated[:10])):
                return False
        else:
            updated = created
        if archived:
            if not (ISO_Z_MATCH(archived) and DAY_OK.get(archived[:10])):
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