"""Reading an import's input: CSV, TSV, JSON, NDJSON or vCard, from a file or stdin, in a
given encoding (UTF-8 with or without BOM by default); and writing rejected rows back in
the input's own format (--rejects).

Reading streams (CSV, TSV, NDJSON and vCard are read record by record; a JSON array is
read whole). A source yields (line, raw, problem) per record: raw is the row's cells or
object as read, problem a {ERROR_COLUMN: reason} for a record that cannot be read.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from crmcli.errors import CrmError, UsageError

FORMATS = ("csv", "tsv", "json", "ndjson", "vcf")
EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".json": "json", ".ndjson": "ndjson",
              ".jsonl": "ndjson", ".vcf": "vcf", ".vcard": "vcf"}
# Column that rejects files add; ignored on import so that a fixed rejects file re-imports.
ERROR_COLUMN = "error"



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
