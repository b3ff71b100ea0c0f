"""The output formats every command offers (`--format`, the config's output.format)."""

FORMATS = ("table", "json", "ndjson", "csv", "tsv", "markdown")
# The formats written for people: they may show other columns than the machine formats
# (display dates, bars, a % sign), see render.output.emit_rows.
HUMAN_FORMATS = ("table", "markdown")
