"""`crm import`: read CSV, TSV, JSON, NDJSON or vCard, validate every row, write in one change.

One module per job, in the order a row meets them:
- sources: the input (formats, encodings, BOM, sniffing) and the rejects file;
- mapping: columns to fields (--map, header names), the kinds, the key (--key);
- cleaning: each kind's cleaner, raw values to stored ones or a ValidationError;
- run: the import itself (one change, --dry-run, --skip-invalid, the summary), and
  `import_all` for a directory of `crm export all`.
The store's writers (crmcli.store.bulk) put the cleaned rows into the database.
"""

from crmcli.interchange.importer.cleaning import INBOUND_KINDS, undefuse
from crmcli.interchange.importer.mapping import KINDS, check_key
from crmcli.interchange.importer.run import ImportFailed, Summary, import_all, run_import
from crmcli.interchange.importer.sources import FORMATS, Source, open_source

__all__ = ["FORMATS", "INBOUND_KINDS", "KINDS", "ImportFailed", "Source", "Summary",
           "check_key", "import_all", "open_source", "run_import", "undefuse"]
