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
import itertools
import json
import os
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
    delimiter: str | None = None  # csv: None until read (given, or found in the header)
    bom: bytes = b""  # the byte-order mark the input starts with, kept for --rejects
    newline: str = "\n"  # the input's line ending, kept for --rejects
    note: str | None = None  # what was guessed about the input, for the user (stderr)

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
        except UnicodeError as exc:
            # UTF-16/32 without a byte-order mark: the codec cannot tell the byte order.
            raise CrmError(f"{self.name}: cannot read it as {self.encoding}: {exc}; give the "
                           "byte order, e.g. --encoding utf-16-le") from None
        except csv.Error as exc:
            raise CrmError(f"{self.name}: not valid {self.fmt.upper()}: {exc}") from None
        except RecursionError:
            raise CrmError(f"{self.name}: JSON nested too deeply to read (more than "
                           f"{sys.getrecursionlimit():,} levels)") from None

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
        text = self.text()
        first = text.readline()
        if self.delimiter is None:
            self.delimiter = "\t" if self.fmt == "tsv" else find_delimiter(first)
        reader = csv.reader(itertools.chain([first], text), delimiter=self.delimiter)
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
        decoder = json.JSONDecoder(parse_float=Decimal, parse_int=json_int)
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
        decoder = json.JSONDecoder(parse_float=Decimal, parse_int=json_int)
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


DELIMITERS = (",", ";", "|", "\t")
DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


def find_delimiter(header: str) -> str:
    """The delimiter of a CSV file from its header line: whichever of , ; | tab occurs most
    outside quotes (a comma on a tie or when none does). Spreadsheets in German or French
    locales write semicolons; some exports use pipes."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def check_delimiter(delimiter: str | None) -> str | None:
    if delimiter is None:
        return None
    value = DELIMITER_NAMES.get(delimiter.lower(), delimiter)
    if len(value) != 1 or value in ('"', "\n", "\r"):
        raise UsageError(f"--delimiter {delimiter!r}: give one character, e.g. ';', '|' or tab")
    return value


# Longest first: the UTF-32-LE mark begins with the UTF-16-LE one.
BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"))
# What --rejects writes in to keep the input's mark (the mark itself written first).
BOM_WRITERS = {codecs.BOM_UTF32_LE: "utf-32-le", codecs.BOM_UTF32_BE: "utf-32-be",
               codecs.BOM_UTF8: "utf-8", codecs.BOM_UTF16_LE: "utf-16-le",
               codecs.BOM_UTF16_BE: "utf-16-be"}
SAMPLE = 65536
# Named first when several encodings read a sample equally well: what spreadsheets write.
COMMON = ["cp1252", "gb18030", "shift_jis", "cp932", "euc_kr", "cp949", "big5", "cp1250",
          "cp1251", "iso8859-1", "iso8859-15", "gbk", "euc_jp", "koi8-r"]


def _head(binary) -> bytes:
    """The first bytes of the input, left unread (a file seeks back; stdin is peeked)."""
    try:
        if binary.seekable():
            head = binary.read(SAMPLE)
            binary.seek(0)
            return head
    except (AttributeError, OSError, ValueError):
        pass
    try:
        return binary.peek(SAMPLE)[:SAMPLE]
    except (AttributeError, OSError, ValueError):
        return b""


def _is_utf8(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A sample cut inside a character is still UTF-8.
        return exc.reason == "unexpected end of data" and exc.start >= len(head) - 3
    return True


def detect_encoding(head: bytes, name: str) -> tuple[str, bytes, str | None]:
    """(encoding, byte-order mark, note) of an input given no --encoding: a BOM decides;
    else UTF-8 if it reads as UTF-8; else charset-normalizer's guess, used when it is sure
    (and said), refused with the likely encoding named when it is not."""
    for bom, encoding in BOMS:
        if head.startswith(bom):
            return encoding, bom, None
    if _is_utf8(head):
        return "utf-8-sig", b"", None
    from charset_normalizer import from_bytes

    matches = list(from_bytes(head))
    try:
        head.decode("utf-8")
        bad = 0
    except UnicodeDecodeError as exc:
        bad = exc.start
    start = head.rfind(b"\n", 0, bad) + 1
    line = head[:bad].count(b"\n") + 1
    column = len(head[start:bad].decode("utf-8", "replace")) + 1
    where = (f"{name}:{line}: column {column}: cannot read byte 0x{head[bad:bad + 1].hex()} "
             "as UTF-8")
    if not matches:
        raise CrmError(f"{where}; give the file's encoding, e.g. --encoding gb18030 (or "
                       "cp1252, shift_jis)")
    # As plausible as the best: a short sample often reads alike in several encodings.
    plausible = [m for m in matches if m.chaos <= matches[0].chaos + 0.05]
    names = sorted(dict.fromkeys(codecs.lookup(m.encoding).name for m in plausible),
                   key=lambda n: COMMON.index(n) if n in COMMON else len(COMMON))
    try:
        # cp1252 (Western Excel) reads most Latin samples alike with the code pages found.
        if "cp1252" not in names and head.decode("cp1252") == head.decode(names[0], "replace"):
            names.insert(0, "cp1252")
    except UnicodeDecodeError:
        pass
    readings = {head.decode(n, "replace") for n in names}
    # UTF-16 and UTF-32 are read by their byte-order mark only: without one, any bytes of
    # even length "decode", so a guess of them is no evidence.
    unmarked = names[0].startswith(("utf-16", "utf-32"))
    if len(readings) > 1 or matches[0].chaos > 0.2 or unmarked:
        likely = " or ".join(names[:3])
        raise CrmError(f"{where}; it looks like {likely}: give the file's encoding, e.g. "
                       f"--encoding {names[0]}")
    return names[0], b"", (f"crm: {name} is not UTF-8; reading it as {names[0]} (detected; "
                           "--encoding ENC to choose another)")


def json_int(digits: str) -> int | Decimal:
    """A JSON integer; one past Python's int conversion limit (4,300 digits) stays a Decimal,
    for the field's own check to refuse as too large."""
    return int(digits) if len(digits) < 4000 else Decimal(digits)


def check_encoding(encoding: str | None) -> str:
    if not encoding:
        return "utf-8-sig"
    examples = "for example utf-8, gb18030, latin-1"
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise UsageError(f"unknown encoding {encoding!r} ({examples})") from None
    try:
        "a".encode(encoding, "replace")
    except LookupError:  # rot13, base64, zlib: codecs, but not of text to bytes
        raise UsageError(f"{encoding!r} is not a text encoding ({examples})") from None
    return "utf-8-sig" if name == "utf-8" else encoding


def open_source(path: str, fmt: str | None = None, encoding: str | None = None,
                delimiter: str | None = None) -> Source:
    """Open FILE or '-' (stdin); the format comes from fmt, the extension, or a sniff; the
    encoding from --encoding, else a byte-order mark, else detected (detect_encoding)."""
    enc = check_encoding(encoding)
    delimiter = check_delimiter(delimiter)
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
    head = _head(binary)
    bom, note = b"", None
    if encoding is None:
        enc, bom, note = detect_encoding(head, name)
    else:
        bom = next((b for b, _ in BOMS if head.startswith(b)), b"")
        if bom and enc == "utf-8-sig" and bom != codecs.BOM_UTF8:
            bom = b""
    try:
        text = head.decode(enc, "replace")
    except LookupError:  # pragma: no cover - check_encoding looked it up already
        text = ""
    if fmt is None:
        fmt = _sniff(text.lstrip("\ufeff").encode("utf-8"))
    newline = "\r\n" if "\r\n" in text else "\n"
    return Source(name=name, fmt=fmt, encoding=enc, binary=binary, size=size,
                  delimiter=delimiter, bom=bom, newline=newline, note=note)


def _sniff(head: bytes) -> str:
    """The format of an input without a telling extension, from its first bytes."""
    text = head[:4096].lstrip(codecs.BOM_UTF8).lstrip()
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

    def __init__(self, path: str, source: Source, db: Any = None, inputs: tuple = ()):
        from crmcli.files import temporary_beside

        self.path = path
        self.source = source
        self.count = 0
        enc = BOM_WRITERS.get(source.bom) or (
            "utf-8" if source.encoding == "utf-8-sig" else source.encoding)
        # Into a temporary file, renamed over path once the input has been read whole:
        # the target is checked not to be the input (or the book), and even a path that
        # slipped past the check would not be cut while it is read.
        stdin = (0,) if source.name == "<stdin>" else (source.name,)
        self.target, self.tmp = temporary_beside(path, db=db, inputs=(*stdin, *inputs))
        try:
            self.out = open(self.tmp, "w", encoding=enc, newline="")  # noqa: SIM115
        except OSError as exc:
            self.tmp.unlink(missing_ok=True)
            raise CrmError(f"{path}: cannot write rejects: {exc.strerror or exc}") from None
        if source.bom:
            self.out.write("\ufeff")  # the input's byte-order mark, in its byte order
        self.delimiter = source.delimiter or ("\t" if source.fmt == "tsv" else ",")
        self.writer = None
        if source.fmt == "json":
            self.out.write("[")

    def write(self, raw: Any, error: str) -> None:
        fmt = self.source.fmt
        if fmt in ("csv", "tsv"):
            if self.writer is None:
                from crmcli.render.output import CsvWriter

                self.writer = CsvWriter(self.out, delimiter=self.delimiter,
                                        lineterminator=self.source.newline)
                self.writer.writerow([*(self.source.header or []), ERROR_COLUMN])
            self.writer.writerow([*raw, error])
        elif fmt in ("json", "ndjson"):
            from crmcli.render.output import to_json

            obj = dict(raw) if isinstance(raw, dict) else {"raw": raw}
            obj[ERROR_COLUMN] = error
            try:
                text = to_json(obj)
            except RecursionError:
                text = to_json({ERROR_COLUMN: error})
            if fmt == "json":
                self.out.write(("," if self.count else "") + "\n  " + text)
            else:
                self.out.write(text + self.source.newline)
        else:
            from crmcli.interchange.vcard import with_error

            self.out.write(with_error(raw, error))
        self.count += 1

    def close(self, complete: bool = True) -> None:
        """complete: the input was read to its end; otherwise nothing is written."""
        if not complete:
            self.out.close()
            self.tmp.unlink(missing_ok=True)
            return
        if self.source.fmt == "json":
            self.out.write("\n]\n" if self.count else "]\n")
        elif self.source.fmt in ("csv", "tsv") and self.writer is None:
            csv.writer(self.out, delimiter=self.delimiter,
                       lineterminator=self.source.newline).writerow(
                           [*(self.source.header or []), ERROR_COLUMN])
        self.out.close()
        try:
            os.replace(self.tmp, self.target)
        except OSError as exc:
            self.tmp.unlink(missing_ok=True)
            raise CrmError(f"{self.path}: cannot write rejects: {exc.strerror or exc}") from None
