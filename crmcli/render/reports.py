"""Drawing reports: bars, sparklines, the cohort heat map, and multi-part reports.

Everything here writes plain text (no colour codes) unless stdout is a terminal
and NO_COLOR is unset; rich is imported only in that case.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

BLOCKS = " ▏▎▍▌▋▊▉█"
SPARKS = "▁▂▃▄▅▆▇█"


def bar(value: float | None, top: float | None, width: int = 20) -> str:
    """A horizontal bar of value/top of the width, in eighths of a character."""
    if not value or not top or value <= 0 or top <= 0:
        return ""
    eighths = round(min(1.0, float(value) / float(top)) * width * 8)
    full, part = divmod(max(eighths, 1), 8)
    return "█" * full + (BLOCKS[part] if part else "")


def sparkline(values: Sequence[float | None]) -> str:
    nums = [float(v) for v in values if v is not None]
    if not nums:
        return ""
    lo, hi = min(nums), max(nums)
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif hi == lo:
            out.append(SPARKS[len(SPARKS) // 2] if hi else SPARKS[0])
        else:
            out.append(SPARKS[round((float(v) - lo) / (hi - lo) * (len(SPARKS) - 1))])
    return "".join(out)


def pct(value: float | None) -> str:
    """A fraction as the text tables show every percentage: one decimal (0.2133 -> 21.3%)."""
    return "" if value is None else percent(value * 100)


def percent(value: float | None) -> str:
    """A percentage (0-100) with one decimal: 79.7357 -> 79.7%."""
    return "" if value is None else f"{value:.1f}%"


def whole_pct(value: float) -> str:
    # the heat map's cells only: whole percents keep its many columns narrow
    return f"{value * 100:.0f}%"


def note_other_currencies(other: dict, currency: str, what: str) -> None:
    """Say on stderr which won revenue a money report leaves out: deals in currencies other
    than the book's are not converted, so they are named here rather than dropped silently
    (other: {currency: {"revenue", "deals"}})."""
    if not other:
        return
    from crmcli.render.output import message, money_text

    parts = ", ".join(f"{v['deals']} won deal{'s' if v['deals'] != 1 else ''} "
                      f"({money_text(v['revenue'], c)})" for c, v in other.items())
    message(f"crm: note: {what} in {currency} only; not counted: {parts} (amounts are not "
            "converted between currencies; crm show CLIENT lists a client's revenue in each)")


def _heat_style(share: float) -> str:
    # white-on-dark for low shares up to black-on-bright for high ones
    steps = ["on grey15", "on dark_green", "on green4", "on green3", "on green1"]
    idx = min(len(steps) - 1, int(share * len(steps)))
    fg = "black" if idx >= 3 else "white"
    return f"{fg} {steps[idx]}"


def cohort_heatmap(rows: list[dict], title: str, out=None) -> None:
    """The cohort matrix: coloured cells on a terminal, an aligned grid of percentages
    otherwise."""
    from crmcli.render.output import is_terminal, use_colour

    out = out or sys.stdout
    width = max((len(r["retention"]) for r in rows), default=0)
    if is_terminal(out) and use_colour(out):
        from rich.table import Table
        from rich.text import Text

        from crmcli.render.output import rich_console

        table = Table(title=title, header_style="bold", show_edge=False, pad_edge=False)
        table.add_column("cohort")
        table.add_column("size", justify="right")
        for k in range(width):
            table.add_column(f"+{k}", justify="right")
        for r in rows:
            cells = [Text(whole_pct(s), style=_heat_style(s)) if s is not None
                     else Text("") for s in r["retention"]]
            if r.get("partial") and cells:
                cells[-1] = Text(cells[-1].plain + "*", style="italic")
            cells += [Text("")] * (width - len(cells))
            table.add_row(r["cohort"], str(r["size"]), *cells)
        rich_console(stream=out).print(table)
        return
    head = ["cohort", "size"] + [f"+{k}" for k in range(width)]
    body = [[r["cohort"], str(r["size"])] + _marked([whole_pct(s) if s is not None else ""
                                                    for s in r["retention"]],
                                                   r.get("partial"))
            + [""] * (width - len(r["retention"])) for r in rows]
    widths = [max(len(line[i]) for line in [head] + body) for i in range(len(head))]
    out.write(title + "\n")
    for line in [head] + body:
        out.write("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                            for i, (c, w) in enumerate(zip(line, widths, strict=True))).rstrip()
                  + "\n")


def _marked(cells: list[str], partial: bool) -> list[str]:
    """The last cell marked '*' when its period has not ended."""
    if partial and cells and cells[-1]:
        return cells[:-1] + [cells[-1] + "*"]
    return cells


def emit_sections(sections: dict[str, Any], fmt: str, columns: dict[str, list[str]] | None = None,
                  titles: dict[str, str] | None = None, notes: dict[str, str] | None = None,
                  out=None) -> None:
    """A report made of several parts (each a list of rows or one record).

    json: one object {section: rows-or-record}; ndjson: one line per row with a
    "section" field; csv/tsv: one table with a leading "section" column; table and
    markdown: one titled table per section, followed by its note if it has one (a
    footnote for the eye, never in the machine formats)."""
    from crmcli.render.output import Unselected, check_fields, emit, selection, to_json

    out = out or sys.stdout
    columns = columns or {}
    titles = titles or {}
    fields = selection().fields
    if fields is not None:
        # Each part keeps the chosen fields it has; a part with none of them is left out.
        known = {name: list(dict.fromkeys([*(columns.get(name) or ()), *_keys(part)]))
                 for name, part in sections.items()}
        check_fields(["section", *(k for keys in known.values() for k in keys)])
        picked = {}
        for name, part in sections.items():
            keep = [f for f in fields if f in known[name]]
            if not keep:
                continue
            picked[name] = ({f: part.get(f) for f in keep} if isinstance(part, dict)
                            else [{f: row.get(f) for f in keep} for row in part])
            columns = {**columns, name: keep}
        with Unselected():
            if fmt in ("csv", "tsv", "ndjson"):
                flat = [{"section": name, **row} for name, part in picked.items()
                        for row in ([part] if isinstance(part, dict) else part)]
                emit(flat, fmt, columns=list(fields), out=out)
            else:
                emit_sections(picked, fmt, columns=columns, titles=titles, notes=notes, out=out)
        return
    if fmt == "json":
        out.write(to_json(sections, indent=2) + "\n")
        return
    flat: list[dict] = []
    for name, part in sections.items():
        rows = [part] if isinstance(part, dict) else list(part)
        for row in rows:
            flat.append({"section": name, **row})
    if fmt == "ndjson":
        emit(flat, "ndjson", out=out)
        return
    if fmt in ("csv", "tsv"):
        cols: dict[str, None] = {"section": None}
        for name, part in sections.items():
            for c in columns.get(name) or _keys(part):
                cols.setdefault(c, None)
        emit(flat, fmt, columns=list(cols), out=out)
        return
    first = True
    for name, part in sections.items():
        rows = [{"field": k, "value": v} for k, v in part.items()] if isinstance(part, dict) \
            else list(part)
        cols = ["field", "value"] if isinstance(part, dict) else columns.get(name)
        title = titles.get(name, name)
        if not first:
            out.write("\n")
        first = False
        if fmt == "markdown":
            out.write(f"## {title}\n\n")
            if rows:
                emit(rows, "markdown", columns=cols, out=out)
            else:
                out.write("(none)\n")
        else:
            out.write(title + "\n")
            if rows:
                emit(rows, "table", columns=cols, out=out)
            else:
                out.write("  (none)\n")
        if (notes or {}).get(name):
            out.write(("\n" if fmt == "markdown" else "") + notes[name] + "\n")


def _keys(part: Any) -> list[str]:
    if isinstance(part, dict):
        return list(part)
    seen: dict[str, None] = {}
    for row in part:
        for k in row:
            seen.setdefault(k, None)
    return list(seen)
