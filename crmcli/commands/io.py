"""Pipelines: crm import KIND FILE|-, crm export KIND [-o FILE]."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from crmcli.commands._context import get_store
from crmcli.commands._errors import command, fail
from crmcli.render.output import message

# Inputs at least this large get a progress bar (on a terminal only).
PROGRESS_BYTES = 2_000_000


def _progress(source):
    """Progress on stderr, on a terminal only: a bar for a large file, a spinner with the
    row count for stdin (no size to measure against); else (None, None)."""
    from crmcli.render.output import is_terminal

    if not is_terminal(sys.stderr):
        return None, None
    if source.size is None:
        from rich.progress import Progress, SpinnerColumn, TextColumn

        from crmcli.render.output import rich_console

        bar = Progress(SpinnerColumn(), TextColumn("importing {task.fields[rows]:,} rows from "
                                                   "stdin"),
                       console=rich_console(stderr=True), transient=True)
        task = bar.add_task("import", total=None, rows=0)

        def count(rows: int, done: int) -> None:
            bar.update(task, rows=rows)

        return bar, count
    if source.size < PROGRESS_BYTES:
        return None, None
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from crmcli.render.output import rich_console

    bar = Progress(TextColumn("importing {task.fields[rows]:,} rows"), BarColumn(),
                   DownloadColumn(), TimeRemainingColumn(), console=rich_console(stderr=True),
                   transient=True)
    task = bar.add_task("import", total=source.size, rows=0)

    def update(rows: int, done: int) -> None:
        bar.update(task, completed=done, rows=rows)

    return bar, update


def import_cmd(
    kind: Annotated[str, typer.Argument(metavar="KIND",
                                        help="clients, contacts, interactions, deals, "
                                             "followups, invoices, payments, or all (FILE is "
                                             "then a directory "
                                             "written by crm export all).")],
    file: Annotated[str, typer.Argument(metavar="FILE|-", help="The file, or - for stdin.")],
    fmt: Annotated[str | None, typer.Option("--format", "-f",
                                            help="csv, tsv, json, ndjson or vcf (default: from "
                                                 "the extension, else sniffed).")] = None,
    encoding: Annotated[str | None, typer.Option("--encoding", "-e",
                                                 help="Text encoding, e.g. gb18030 (default: "
                                                      "from a BOM, else UTF-8, else detected "
                                                      "and said).")] = None,
    delimiter: Annotated[str | None, typer.Option(
        "--delimiter", "-d", metavar="CHAR",
        help="CSV delimiter: , ; | or tab (default: found in the header line).")] = None,
    maps: Annotated[list[str] | None, typer.Option("--map", "-m", metavar="'COLUMN=field'",
                                                   help="Read a source column as a field "
                                                        "(repeatable); 'COLUMN=' drops it.")
                    ] = None,
    key: Annotated[str | None, typer.Option("--key", "-k",
                                            help="Match existing records by email, external_id "
                                                 "or id and update them (default: id, else "
                                                 "external_id, else email, when the column is "
                                                 "there).")] = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid",
                                               help="Import the valid rows; leave out the "
                                                    "others.")] = False,
    rejects: Annotated[str | None, typer.Option("--rejects", metavar="FILE",
                                                help="With --skip-invalid: write the bad rows "
                                                     "here, in the input's format, with an "
                                                     "error column (a directory for all).")
                       ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and count; write "
                                                            "nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on "
                                                         "stdout.")] = False,
    hooks: Annotated[bool, typer.Option("--hooks", help="Run the hooks for every record "
                                                        "imported (by default an import "
                                                        "runs none).")] = False,
) -> None:
    """Import records from CSV, TSV, JSON, NDJSON or vCard: all or nothing, one undoable change."""
    from crmcli.interchange import importer
    from crmcli.render.output import to_json

    if rejects and not skip_invalid:
        fail("--rejects needs --skip-invalid (without it any bad row stops the import)", code=2)
    if fmt is not None:
        fmt = fmt.lower()
    store = get_store(hooks=hooks)
    if kind != "all" and kind not in importer.KINDS:
        fail(f"unknown kind {kind!r}: use {', '.join(importer.KINDS)} or all", code=2)
    try:
        if kind == "all":
            summaries = importer.import_all(store, file, fmt=fmt, encoding=encoding, maps=maps,
                                            key=key, skip_invalid=skip_invalid,
                                            rejects=rejects, dry_run=dry_run)
        else:
            source = importer.open_source(file, fmt, encoding, delimiter)
            if source.note:
                message(source.note)
            bar, update = _progress(source)
            try:
                if bar is not None:
                    bar.start()
                summaries = [importer.run_import(store, kind, source, maps=maps, key=key,
                                                 skip_invalid=skip_invalid, rejects=rejects,
                                                 dry_run=dry_run, progress=update)]
            finally:
                if bar is not None:
                    bar.stop()
                if file != "-":
                    source.binary.close()
    except importer.ImportFailed as exc:
        _import_failed(exc)
    for summary in summaries:
        if summary.rejected and not rejects:
            for line in summary.errors:
                message(f"crm: rejected: {line}")
            if summary.rejected > len(summary.errors):
                message(f"crm: rejected: and {summary.rejected - len(summary.errors)} more")
        if summary.custom_columns:
            message(f"crm: {summary.file}: kept as custom fields (no client field has these "
                    f"names): {', '.join(dict.fromkeys(summary.custom_columns))}")
        message(summary.line())
    if rejects and any(s.rejected for s in summaries):
        rejected = sum(s.rejected for s in summaries)
        message(f"wrote {rejected} rejected row{'' if rejected == 1 else 's'} to {rejects}")
    if as_json:
        records = [s.as_dict() for s in summaries]
        typer.echo(to_json(records[0] if kind != "all" else records))


def _import_failed(exc) -> None:
    """The invalid rows of a failed import: a line naming the file, then one per row."""
    from crmcli.render.safe import visible

    sys.stderr.write(visible(f"crm: error: {exc.total} invalid row"
                             f"{'s' if exc.total != 1 else ''} in {exc.name}; nothing was "
                             "imported") + "\n")
    for line in exc.lines:
        sys.stderr.write(visible(line) + "\n")
    if exc.more:
        sys.stderr.write(exc.more + "\n")
    raise typer.Exit(1)


def export_cmd(
    kind: Annotated[str, typer.Argument(metavar="KIND",
                                        help="clients, contacts, interactions, deals, "
                                             "followups, invoices, payments, or all (needs -o "
                                             "DIR).")],
    fmt: Annotated[str | None, typer.Option("--format", "-f",
                                            help="csv, tsv, json, ndjson; vcf for contacts; "
                                                 "ics for followups (default: from -o's "
                                                 "extension, else csv).")] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", metavar="FILE|DIR",
                                               help="Write here instead of stdout (a "
                                                    "directory for all).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    encoding: Annotated[str | None, typer.Option(
        "--encoding", metavar="ENC",
        help="Text encoding of the output, e.g. gb18030, cp1252 or utf-16 (default: UTF-8).")
    ] = None,
    bom: Annotated[bool, typer.Option("--bom", help="Start with a byte-order mark (Excel "
                                                    "reads UTF-8 CSV right with one).")
                   ] = False,
) -> None:
    """Export every record of a kind (streamed); crm import reads it back unchanged."""
    from crmcli.interchange import exporter

    if as_json:
        if fmt is not None and fmt.lower() != "json":
            fail(f"--json and --format {fmt} disagree: give one of them", code=2)
        fmt = "json"

    if fmt is None and output and kind != "all":
        fmt = exporter.EXTENSIONS.get(Path(output).suffix.lower().lstrip("."))
    fmt = (fmt or "csv").lower()
    if fmt not in exporter.EXPORT_FORMATS:
        fail(f"unknown export format {fmt!r}: use {', '.join(exporter.EXPORT_FORMATS)}", code=2)
    store = get_store(create=False)
    if kind == "all":
        if not output:
            fail("crm export all writes one file per kind: give a directory with -o DIR",
                 code=2)
        for name, path, count in exporter.export_all(store, fmt, output, encoding, bom):
            message(f"exported {count} {name} to {path}")
        return
    count = exporter.export(store, kind, fmt, output, encoding, bom)
    if output and output != "-":
        message(f"exported {count} {kind} to {output}")


def register(app: typer.Typer) -> None:
    command(app, "import")(import_cmd)
    command(app, "export")(export_cmd)
