"""Files crm writes besides the database: exports, rejects, backups, calendars, vCards, the
config. One way for all of them: never over the book (its WAL, SHM, journal, mail lock) or
the file being read, whatever path reaches it; written to an exclusive temporary file beside
the target and renamed into place whole; owner-only, since they hold client data."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from crmcli.errors import CrmError

# Files beside the database that belong to it.
BOOK_SUFFIXES = {"": "the database", "-wal": "the database's WAL file",
                 "-shm": "the database's shared-memory file",
                 "-journal": "the database's journal", ".mail-lock": "the mail lock file"}


def mail_lock_path(db: str | os.PathLike) -> Path:
    """The digest lock of a book: beside the file itself, so that two paths to one book
    (a symlink) share one lock."""
    return Path(os.path.realpath(db) + ".mail-lock")


def _same_file(a: Path, b: Path | int) -> bool:
    """b: a path, or an open descriptor (stdin redirected from a file)."""
    try:
        if isinstance(b, int):
            one, other = os.stat(a), os.fstat(b)
            return (one.st_dev, one.st_ino) == (other.st_dev, other.st_ino)
        if os.path.realpath(a) == os.path.realpath(b):
            return True
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output(path: str | os.PathLike, *, db: str | os.PathLike | None = None,
                 inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """The resolved target, or CrmError when writing path would destroy the book or the
    input (compared by resolved path and by inode, so a symlink or hard link is caught)."""
    target = Path(path)
    if target.is_dir():
        raise CrmError(f"{path}: is a directory (give a file name)")
    if db is not None:
        real_db = os.path.realpath(db)
        for suffix, what in BOOK_SUFFIXES.items():
            if _same_file(target, Path(real_db + suffix)):
                raise CrmError(f"{path}: is {what} ({real_db}); refusing to write over it")
    for source in inputs:
        if source not in (None, "-") and _same_file(
                target, source if isinstance(source, int) else Path(source)):
            shown = "standard input" if isinstance(source, int) else source
            raise CrmError(f"{path}: is the file being read ({shown}); refusing to write "
                           "over it")
    return Path(os.path.realpath(target))


@contextmanager
def output_file(path: str | os.PathLike, *, db: str | os.PathLike | None = None,
                inputs: Iterable[str | os.PathLike] = (), binary: bool = False,
                encoding: str = "utf-8") -> Iterator[IO]:
    """Write path whole or not at all: an owner-only temporary file created exclusively
    beside it (no planted symlink is followed), renamed over it when the block ends."""
    target = check_output(path, db=db, inputs=inputs)
    fd, tmp = _exclusive_temporary(path, target)
    try:
        f = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding=encoding,
                                                         newline="")
        with f:
            yield f
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise CrmError(f"{path}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def temporary_beside(path: str | os.PathLike, *, db: str | os.PathLike | None = None,
                     inputs: Iterable[str | os.PathLike] = ()) -> tuple[Path, Path]:
    """(target, temporary): an owner-only empty file created exclusively beside the
    checked target, for a writer that fills it by name (SQLite's backup) and then calls
    os.replace(temporary, target)."""
    target = check_output(path, db=db, inputs=inputs)
    fd, tmp = _exclusive_temporary(path, target)
    os.close(fd)
    return target, Path(tmp)


def _exclusive_temporary(path: str | os.PathLike, target: Path) -> tuple[int, str]:
    """An owner-only file created exclusively (mkstemp: O_EXCL, mode 0600) in target's
    folder, so that the final rename stays on one file system."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                suffix=".partial")
    except OSError as exc:
        raise CrmError(f"{path}: cannot write: {exc.strerror or exc}") from None
