"""The output formats every command offers (`--format`, the config's output.format)."""

FORMATS = ("table", "json", "ndjson", "csv", "tsv", "markdown")
