"""crm db copy: a whole book from one database into another, whatever their engines.

Every row is copied as it is, ids included (the change log, the digests' ledger and the
model fits too: `crm history` and `crm undo` go on working on the copy), in one
transaction on the destination; the search index is made again there from the rows.
The source is read in one read transaction, so a book being written meanwhile is copied
as it stood at one moment.
"""

from __future__ import annotations

import os
from pathlib import Path

from crmcli.errors import StoreError, UsageError


def _same_book(src: str | Path, dst: str | Path) -> bool:
    if isinstance(src, str) or isinstance(dst, str):
        return str(src) == str(dst)
    return os.path.realpath(src) == os.path.realpath(dst)


def parents_first(db, tables: list[str]) -> list[str]:
    """tables ordered so that every table comes after the tables its rows refer to."""
    depends = {t: {p for _, p in db.parents(t) if p != t and p in tables} for t in tables}
    ordered: list[str] = []
    while depends:
        ready = sorted(t for t, ps in depends.items() if not ps - set(ordered))
        if not ready:  # a cycle between tables: none in crm's schema
            raise StoreError(f"cannot order the tables for copying: {sorted(depends)}")
        ordered.extend(ready)
        for t in ready:
            del depends[t]
    return ordered


def _remove_sqlite_file(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def copy_book(src_path: str | Path, dst_path: str | Path, config, *,
              replace: bool = False) -> dict:
    """Copy the book at src_path into dst_path; returns the destination's row counts.

    A destination that already holds rows is refused unless replace (its rows are then
    deleted in the same transaction). A destination file this call created is removed
    again when the copy fails."""
    from crmcli.store import CrmStore

    if _same_book(src_path, dst_path):
        raise UsageError(f"{dst_path}: the source and the destination are the same book")
    created_file = isinstance(dst_path, Path) and not dst_path.exists()
    with CrmStore(src_path, config, create=False) as src:
        try:
            with CrmStore(dst_path, config) as dst:
                _copy(src, dst, replace=replace)
                return {"source": src.location, "destination": dst.location,
                        **dst.row_counts()}
        except BaseException:
            if created_file:
                _remove_sqlite_file(Path(dst_path))
            raise


def _copy(src, dst, *, replace: bool) -> None:
    if src.schema_version() != dst.schema_version():
        raise StoreError(f"{dst.location}: schema version {dst.schema_version()}, but the "
                         f"source's is {src.schema_version()}")
    theirs = set(src.book_tables())
    tables = parents_first(dst, [t for t in dst.book_tables() if t in theirs])
    with src.reading():
        missing = [t for t in theirs - set(tables) if src.has_rows(t)]
        if missing:
            raise StoreError(f"{dst.location}: has no table {', '.join(sorted(missing))} "
                             "for the source's rows")
        with dst.loading():
            held = [t for t in tables if dst.has_rows(t)]
            if held and not replace:
                counts = ", ".join(f"{t}" for t in held[:4])
                raise StoreError(f"{dst.location}: already holds a book (rows in {counts}); "
                                 "copy into an empty database, or add --replace to "
                                 "overwrite it")
            for table in reversed(tables):
                dst.clear_rows(table)
            for table in tables:
                _copy_table(src, dst, table)
            dst.rebuild_search()


def _copy_table(src, dst, table: str) -> None:
    available = set(src.columns(table))
    columns = [c for c in dst.columns(table) if c in available]
    # A row may refer to a later row of its own table (a change undone by a later one):
    # those references are set once every row is in.
    own = [i for i, c in enumerate(columns)
           if any(col == c and parent == table for col, parent in dst.parents(table))]
    later: dict[int, list[tuple]] = {i: [] for i in own}
    id_at = columns.index("id") if own else None

    def rows():
        for row in src.read_rows(table, columns):
            if own:
                row = list(row)
                for i in own:
                    if row[i] is not None:
                        later[i].append((row[i], row[id_at]))
                        row[i] = None
            yield row

    source = rows()
    try:
        dst.load_rows(table, columns, source)
    finally:
        source.close()  # a load that failed half-way stops reading while the book is open
    for i, pairs in later.items():
        if pairs:
            dst.set_column(table, columns[i], pairs)
    if "id" in columns:
        dst.loaded(table)
