"""The one rendering path for records: table, json, ndjson, csv, tsv, markdown.

Data goes to stdout and nothing else is mixed into it; messages go to stderr.
`table` is a rich table on a terminal and plain aligned text otherwise (pipes,
cron), with no colour codes and no wrapping. rich is imported only when a
terminal will actually see it, so scripted calls stay fast.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from crmcli.errors import UsageError
from crmcli.render.formats import HUMAN_FORMATS
from crmcli.render.safe import json_safe, visible


class Selection:
    """What the user asked to see of the records: --fields (names, in order) and
    --no-headers. One per invocation, set by the command wrapper before the command runs."""

    __slots__ = ("fields", "headers", "raw")

    def __init__(self, fields: tuple[str, ...] | None = None, headers: bool = True,
                 raw: bool = False):
        self.fields = fields
        self.headers = headers
        self.raw = raw


_selection = Selection()


def choose(fields: str | None = None, headers: bool = True, raw: bool = False) -> None:
    """Set the selection of this invocation (--fields "id,name", --no-headers, --raw)."""
    global _selection
    names = None
    if fields is not None:
        names = tuple(dict.fromkeys(n.strip() for n in fields.split(",") if n.strip()))
        if not names:
            raise UsageError("--fields needs at least one field name, e.g. --fields id,name")
    _selection = Selection(names, headers, raw)


def selection() -> Selection:
    return _selection


def for_people(fmt: str) -> bool:
    """Whether to print a command's view for people (table, markdown) rather than its
    records: not when --fields chose fields, which are always the records' (JSON) names."""
    return fmt in HUMAN_FORMATS and _selection.fields is None


def selected(record: dict, valid: Iterable[str] | None = None) -> dict:
    """record cut down to the selected fields, in their order (all of it if none chosen)."""
    if _selection.fields is None:
        return record
    check_fields(valid if valid is not None else record)
    return {f: record.get(f) for f in _selection.fields}


def check_fields(valid: Iterable[str]) -> None:
    """A usage error naming the valid fields if a selected one is not among them."""
    names = list(dict.fromkeys(valid))
    unknown = [f for f in _selection.fields or () if f not in names]
    if unknown:
        raise UsageError(f"unknown field{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(repr(u) for u in unknown)} for --fields; valid: "
                         f"{', '.join(names) or '(none)'}")


class Unselected:
    """Within: the selection is off (a caller that has applied it already)."""

    def __enter__(self):
        global _selection
        self.saved = _selection
        _selection = Selection(None, self.saved.headers, self.saved.raw)

    def __exit__(self, *exc):
        global _selection
        _selection = self.saved


def _apply_selection(rows, columns, headers):
    """rows, columns and headers cut down to the selected fields, checked against the
    columns and the fields of the first row."""
    iterator = iter(rows)
    first = next(iterator, None)
    rows = iterator if first is None else itertools.chain([first], iterator)
    valid = list(columns or ()) + list(first or ())
    if first is not None or columns:
        check_fields(valid)
    fields = list(_selection.fields)
    if headers:
        names = dict(zip(columns or (), headers, strict=False))
        headers = [names.get(f, f) for f in fields]
    return ({f: row.get(f) for f in fields} for row in rows), fields, headers


# Decimals travel through json.dumps as marked strings and are unquoted afterwards,
# because the json module writes every float through float.__repr__ (1000.10 -> 1000.1).
_DEC_MARK = "\ue000dec:"
_DEC_RE = re.compile('"' + _DEC_MARK + r'(-?[0-9]+(?:\.[0-9]+)?)"')


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _jsonable(value: Any) -> Any:
    """Decimals become numbers written exactly as stored (19.99 stays 19.99)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        text = format(value, "f")
        return int(text) if "." not in text else _DEC_MARK + text
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def to_json(value: Any, indent: int | None = None) -> str:
    text = json.dumps(_jsonable(value), ensure_ascii=False, default=_json_default, indent=indent)
    if not text.isprintable():
        text = json_safe(text)
    return _DEC_RE.sub(r"\1", text) if _DEC_MARK in text else text


class CsvWriter:
    """csv.writer that quotes a field holding a bare carriage return: Python's writer with
    a "\n" line end leaves it unquoted, and a reader then ends the record there."""

    def __init__(self, out, fmt: str = "csv", *, delimiter: str | None = None,
                 lineterminator: str = "\n"):
        delimiter = delimiter or ("\t" if fmt == "tsv" else ",")
        self._plain = csv.writer(out, delimiter=delimiter, lineterminator=lineterminator)
        self._quoted = csv.writer(out, delimiter=delimiter, lineterminator=lineterminator,
                                  quoting=csv.QUOTE_ALL)

    def writerow(self, cells: Sequence[Any]) -> None:
        try:
            has_cr = "\r" in "".join(cells)
        except TypeError:
            has_cr = any(isinstance(c, str) and "\r" in c for c in cells)
        (self._quoted if has_cr else self._plain).writerow(cells)


def cell_text(value: Any) -> str:
    """A value as a table cell or message shows it (control characters as escapes)."""
    if type(value) is str:
        return visible(value)
    if type(value) is int:
        return str(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return format(amount_for_the_eye(value), ",f")  # 182,499.96
    if isinstance(value, float):
        if abs(value) < 1e-3 and value:
            return f"{value:.4g}"
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, list | tuple | set):
        return ", ".join(cell_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={cell_text(v)}" for k, v in value.items())
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


CENTS = Decimal("0.01")
# ISO 4217 currencies without minor units; every other one shows two decimals.
NO_DECIMALS = frozenset(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
                         "UGX", "VND", "VUV", "XAF", "XOF", "XPF"))


def money_text(amount, currency: str | None = None) -> str:
    """An amount as people read it: thousands separators and the currency's decimals
    (1234.5 USD -> '1,234.50 USD', 88000 JPY -> '88,000 JPY')."""
    places = 0 if (currency or "").upper() in NO_DECIMALS else 2
    value = Decimal(amount).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    text = f"{value:,.{places}f}"
    return f"{text} {currency}" if currency else text


def amount_for_the_eye(value: Decimal) -> Decimal:
    """An amount as a table shows it: at most two decimal places (a mean of 352.7125 as
    352.71); machine formats write the value itself."""
    if value.is_finite() and value.as_tuple().exponent < -2:
        return value.quantize(CENTS, rounding=ROUND_HALF_EVEN)
    return value


def flat_text(value: Any) -> str:
    """Cell text for csv/tsv: full precision (an exact amount as stored, a float's
    shortest repr), structures as JSON so they survive a round trip."""
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else ""
    if isinstance(value, dict | list):
        return to_json(value) if value else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if type(value) is str:
        return value  # csv/tsv are data: every character as stored
    return cell_text(value)


# Spreadsheets execute cells starting with these; a leading apostrophe defuses them.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse_formula(text: str) -> str:
    if text and text.startswith(_FORMULA_START):
        try:
            float(text)
            return text  # a plain negative or signed number is data, not a formula
        except ValueError:
            return "'" + text
    return text


def is_terminal(stream=None) -> bool:
    stream = stream or sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def use_colour(stream=None) -> bool:
    return (is_terminal(stream) and not os.environ.get("NO_COLOR")
            and os.environ.get("TERM") != "dumb")


def _columns_of(rows: Sequence[dict], columns: Sequence[str] | None) -> list[str]:
    if columns:
        return list(columns)
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


def _is_numeric(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _align_decimals(rows: list[dict], columns: list[str]) -> list[dict]:
    """For the eye only: amounts show their currency's decimals (two, none for JPY and the
    other currencies without minor units, by the row's `currency` when it has one), so a
    column of amounts lines up (51300 beside 117049.5 becomes 51,300.00 and 117,049.50).
    The value is unchanged; machine formats keep each amount exactly as stored."""
    candidates = [c for c in columns if rows and any(isinstance(r.get(c), Decimal)
                                                     for r in rows[:1])]
    money = [c for c in candidates
             if all(isinstance(r.get(c), Decimal) and r[c].is_finite() or r.get(c) is None
                    for r in rows)]
    if not money:
        return rows
    cents, whole = Decimal("0.01"), Decimal(1)

    def step(row: dict) -> Decimal:
        return whole if str(row.get("currency") or "").upper() in NO_DECIMALS else cents

    from decimal import ROUND_HALF_EVEN

    return [{**r, **{c: r[c].quantize(step(r), rounding=ROUND_HALF_EVEN) for c in money
                     if r.get(c) is not None}} for r in rows]


_UTC_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?Z$")


def _local_times(rows: list[dict], columns: list[str]) -> list[dict]:
    """For the eye only: stored UTC times ('2026-11-20T10:00:00Z') in the configured zone
    as 'YYYY-MM-DD HH:MM', the one format of times in tables; machine formats keep UTC."""
    timed = []
    for col in columns:
        first = next((r.get(col) for r in rows if r.get(col) not in (None, "")), None)
        if isinstance(first, str) and _UTC_TIME.match(first):
            timed.append(col)
    if not timed:
        return rows
    from crmcli import dates

    def shown(value):
        return dates.format_local(value) if isinstance(value, str) and _UTC_TIME.match(
            value) else value

    return [{**r, **{c: shown(r.get(c)) for c in timed}} for r in rows]


def _plain_table(rows: Sequence[dict], columns: list[str], headers: list[str],
                 show_header: bool = True) -> str:
    # Written for speed as well as looks: `crm due` on a large book prints tens of
    # thousands of rows, and every cell passes through here once. Column by column: an
    # all-ASCII column (most of them) is measured with len() and padded by the line's
    # format string; only a column with wide characters is padded cell by cell.
    cells_by_column = []
    specs = []
    widths = []
    right = []
    for col, head in zip(columns, headers, strict=True):
        values = [row.get(col) for row in rows]
        numeric = bool(rows) and all(v is None or _is_numeric(v) for v in values)
        texts = [cell_text(v) for v in values]
        if any("\n" in t for t in texts):
            texts = [t.replace("\n", " ") for t in texts]
        if "".join(texts).isascii():
            width = max([display_width(head), *map(len, texts)])
            specs.append(f"{{:>{width}}}" if numeric else f"{{:<{width}}}")
        else:
            sizes = [len(t) if t.isascii() else display_width(t) for t in texts]
            width = max([display_width(head), *sizes])
            texts = [" " * (width - n) + t if numeric else t + " " * (width - n)
                     for t, n in zip(texts, sizes, strict=True)]
            specs.append("{}")
        cells_by_column.append(texts)
        widths.append(width)
        right.append(numeric)
    head_cells = []
    for head, width, numeric in zip(headers, widths, right, strict=True):
        pad = " " * (width - display_width(head))
        head_cells.append(pad + head if numeric else head + pad)
    line = "  ".join(specs).format
    lines = ["  ".join(head_cells).rstrip(), "  ".join("-" * w for w in widths)]
    if not show_header:
        # No header: no column is widened for its name either.
        if not rows:
            return ""
        widths = [max(map(display_width, cells), default=0) for cells in cells_by_column]
        specs = [s if s == "{}" else (f"{{:>{w}}}" if r else f"{{:<{w}}}")
                 for s, w, r in zip(specs, widths, right, strict=True)]
        line = "  ".join(specs).format
        lines = []
    lines.extend(line(*cells).rstrip() for cells in zip(*cells_by_column, strict=True))
    return "\n".join(lines) + "\n"


def display_width(text: str) -> int:
    """Terminal cell width: East Asian wide characters take two columns."""
    if text.isascii():
        return len(text)
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _markdown(rows: Sequence[dict], columns: list[str], headers: list[str]) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(esc(h) for h in headers) + " |",
             "| " + " | ".join("---:" if rows and all(_is_numeric(r.get(c)) or r.get(c) is None
                                                     for r in rows) else "---"
                               for c in columns) + " |"]
    for row in rows:
        lines.append("| " + " | ".join(esc(cell_text(row.get(c))) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def rich_console(stderr: bool = False, stream=None):
    from rich.console import Console

    stream = stream or (sys.stderr if stderr else sys.stdout)
    colour = use_colour(stream)
    return Console(file=stream, no_color=not colour, highlight=False,
                   color_system="auto" if colour else None, soft_wrap=not is_terminal(stream))


# Words for field names on screen (machine formats keep the names themselves).
_WORDS = {"id": "ID", "nps": "NPS", "clv": "CLV", "aov": "AOV", "sla": "SLA", "rfm": "RFM",
          "p90": "p90", "pct": "%", "12m": "(12 months)"}
_UNITS = {"days": "days", "hours": "hours", "pct": "%", "years": "years"}
_WHOLE = re.compile(r"^(-?[\d,.]+( [A-Z]{3})?%?|\d{4}-\d{2}(-\d{2}([ T]\d{2}:\d{2}(:\d{2})?Z?)?)?"
                    r"|\d{4}-Q\d|[^\s@]+@[^\s@]+)\*?$")  # emails are ids too
MIN_TEXT = 10  # a shortened text column keeps at least this many cells (with its ellipsis)


def header_words(name: str) -> str:
    """A field name as a column header on screen: usual_gap_days -> 'Usual gap (days)',
    client_id -> 'Client ID'."""
    parts = [p for p in name.split("_") if p]
    if not parts:
        return name
    unit = None
    if len(parts) > 1 and parts[-1] in _UNITS:
        unit = _UNITS[parts.pop()]
    words = [_WORDS.get(p, p) for p in parts]
    text = " ".join(words)
    text = text[:1].upper() + text[1:]
    return f"{text} ({unit})" if unit else text


def _shorten(text: str, width: int) -> str:
    if display_width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = display_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


# Columns kept when a table must lose some: the money at stake outlives the detail.
_KEEP_WORDS = ("revenue", "amount", "clv", "client", "name", "due", "status")


def fit_columns(rows: Sequence[dict], columns: list[str], headers: list[str], width: int
                ) -> tuple[list[str], list[str], dict[str, int], list[str]]:
    """Which columns a terminal of `width` cells shows, and how wide: (columns, headers,
    {column: width of a shortened text column}, dropped columns). A column is as wide as
    its values (its header wraps between words when longer). Ids, dates, times, numbers and
    amounts stay whole; long text is shortened first (to MIN_TEXT, with an ellipsis), then
    columns are dropped, the rightmost first, sparing the first two and those holding
    money, names or status."""
    texts = {c: [cell_text(r.get(c)).replace("\n", " ") for r in rows] for c in columns}
    natural = {c: max([max((display_width(w) for w in h.split()), default=0)]
                      + [display_width(t) for t in texts[c]])
               for c, h in zip(columns, headers, strict=True)}
    whole = {c for c in columns if all(not t or _WHOLE.match(t) for t in texts[c])}
    cols, heads = list(columns), list(headers)
    widths = dict(natural)
    dropped: list[str] = []

    def total() -> int:
        return sum(widths[c] for c in cols) + 3 * (len(cols) - 1)  # " │ " between

    def shrink(floor: int) -> bool:
        shrinkable = [c for c in cols if c not in whole and widths[c] > floor]
        if not shrinkable:
            return False
        widest = max(shrinkable, key=lambda c: widths[c])
        widths[widest] = max(floor, widths[widest] - (total() - width))
        return True

    # long text down to a readable length first, then drop detail columns, then text down
    # to its minimum, then any column but the first two
    while total() > width:
        if shrink(2 * MIN_TEXT):
            continue
        spare = [i for i, c in enumerate(cols) if i >= 2
                 and not any(k in c for k in _KEEP_WORDS)]
        if not spare and shrink(MIN_TEXT):
            continue
        spare = spare or list(range(2, len(cols)))
        if not spare:
            break
        gone = spare[-1]
        dropped.insert(0, cols.pop(gone))
        heads.pop(gone)
    shortened = {c: widths[c] for c in cols if widths[c] < natural[c]}
    return cols, heads, shortened, dropped


def _rich_table(rows: Sequence[dict], columns: list[str], headers: list[str], title: str | None,
                styles: dict[str, str] | None, show_header: bool = True,
                widths: dict[str, int] | None = None, shortened: dict[str, int] | None = None):
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, header_style="bold", show_edge=False, pad_edge=False,
                  show_header=show_header)
    shortened = shortened or {}
    for col, head in zip(columns, headers, strict=True):
        numeric = bool(rows) and all(_is_numeric(r.get(col)) or r.get(col) is None for r in rows)
        # a fixed width: rich must not squeeze one column to widen another's header
        table.add_column(head, justify="right" if numeric else "left",
                         style=(styles or {}).get(col), overflow="fold",
                         width=(widths or {}).get(col))
    for row in rows:
        table.add_row(*[Text(_shorten(cell_text(row.get(c)).replace("\n", " "), shortened[c]))
                        if c in shortened else _rich_cell(row.get(c)) for c in columns])
    return table


def _rich_cell(value: Any):
    from rich.text import Text

    return Text(cell_text(value))


def emit(rows: Iterable[dict], fmt: str = "table", *, columns: Sequence[str] | None = None,
         headers: Sequence[str] | None = None, title: str | None = None,
         styles: dict[str, str] | None = None, out=None) -> None:
    """Write records to stdout in the chosen format.

    Machine formats stream; json writes one array (an empty one for no rows).
    """
    out = out or sys.stdout
    if _selection.fields is not None:
        rows, columns, headers = _apply_selection(rows, columns, headers)
    if fmt == "ndjson":
        for row in rows:
            out.write(to_json(row) + "\n")
        return
    if fmt == "json":
        count = 0
        out.write("[")
        for row in rows:
            out.write(("," if count else "") + "\n  " + to_json(row))
            count += 1
        out.write("\n]\n" if count else "]\n")
        return
    if fmt in ("csv", "tsv"):
        rows = rows if isinstance(rows, list) else list(rows)
        cols = _columns_of(rows, columns)
        if not cols:  # no rows and no known columns: no header either, not a blank line
            return
        writer = CsvWriter(out, fmt)
        if _selection.headers:
            writer.writerow(cols)
        if _selection.raw:
            for row in rows:
                writer.writerow([flat_text(row.get(c)) for c in cols])
            return
        for row in rows:
            writer.writerow([defuse_formula(flat_text(row.get(c))) for c in cols])
        return
    rows = rows if isinstance(rows, list) else list(rows)
    cols = _columns_of(rows, columns)
    heads = list(headers) if headers else cols
    if not rows and fmt == "table":
        return
    rows = _local_times(_align_decimals(rows, cols), cols)
    if fmt == "markdown":
        out.write(_markdown(rows, cols, heads))
    elif is_terminal(out):
        console = rich_console(stream=out)
        if not headers:
            heads = [header_words(c) for c in cols]
        cols, heads, shortened, dropped = fit_columns(rows, cols, heads, console.width)
        widths = {c: shortened.get(c) or max(
            [max((display_width(w) for w in h.split()), default=1)]
            + [display_width(cell_text(r.get(c)).replace("\n", " ")) for r in rows])
            for c, h in zip(cols, heads, strict=True)}
        console.print(_rich_table(rows, cols, heads, title, styles,
                                  show_header=_selection.headers, widths=widths,
                                  shortened=shortened))
        if dropped:
            console.print(f"(not shown at this width: {', '.join(dropped)}; a wider terminal "
                          "or --format csv shows every column)", style="dim", soft_wrap=False)
    else:
        if title:
            out.write(title + "\n")
        out.write(_plain_table(rows, cols, heads, show_header=_selection.headers))


def emit_rows(rows: list[dict], fmt: str, *, fields: Sequence[str] | None = None,
              columns: Sequence[str] | None = None,
              shown: Callable[[list[dict]], list[dict]] | None = None,
              headers: Sequence[str] | None = None, title: str | None = None,
              styles: dict[str, str] | None = None, out=None) -> None:
    """A list as people and machines each want it: table and markdown write shown(rows)
    (default: the rows) in `columns` (default: fields); json, ndjson, csv and tsv (and any
    format under --fields, see for_people) write each row's `fields` (None: the whole row)."""
    if for_people(fmt):
        emit(shown(rows) if shown else rows, fmt, columns=columns or fields, headers=headers,
             title=title, styles=styles, out=out)
    elif fields is None:
        emit(rows, fmt, out=out)
    else:
        emit([{k: r[k] for k in fields} for r in rows], fmt, columns=fields, out=out)


def emit_record(record: dict, fmt: str = "table", *, out=None) -> None:
    """One record: an object in json, a key/value list in the text formats."""
    out = out or sys.stdout
    record = selected(record)
    if fmt == "json":
        out.write(to_json(record, indent=2) + "\n")
    elif fmt == "ndjson":
        out.write(to_json(record) + "\n")
    else:
        with Unselected():
            if fmt in ("csv", "tsv"):
                emit([record], fmt, columns=list(record), out=out)
            else:
                pairs = [{"field": k, "value": v} for k, v in record.items()]
                emit(pairs, fmt, columns=["field", "value"], out=out)


def message(text: str) -> None:
    """A human message on stderr, never mixed with data."""
    sys.stderr.write(visible(text.rstrip("\n")) + "\n")
    sys.stderr.flush()
