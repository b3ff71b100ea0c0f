"""The store: the only code that speaks SQL to the crm database.

`CrmStore` is the database (the connection and the change log: `change()` and the
insert/update/delete primitives every write goes through) with one repository per
aggregate, each owning its tables and declaring in its constructor what else it uses:

    store.clients       clients, tags, stage moves          (store/clients.py)
    store.contacts      contacts                             (store/contacts.py)
    store.interactions  interactions, a client's timeline    (store/interactions.py)
    store.deals         deals and their stage moves          (store/deals.py)
    store.followups     follow-ups                           (store/followups.py)
    store.invoices      invoices and payments                (store/invoices.py)
    store.search        the full-text index                  (store/search.py)
    store.audit         the change log read back, undo       (store/audit.py)
    store.digests       the ledger of due digests sent       (store/digests.py)
    store.transactions  won deals for the models, model fits (store/transactions.py)
    store.reports       aggregates for the metrics           (store/reports.py)
    store.events        event aggregates for the metrics     (store/reports_events.py)
    store.bulk          imports and exports in bulk          (store/bulk.py)
    store.completion    shell completion candidates          (store/completion.py)
    store.team          roles and policies of a team book    (store/team.py, PostgreSQL)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from crmcli.errors import (
    AmbiguousClient,
    ClientNotFound,
    CrmError,
    NotFound,
    SchemaTooNew,
    StoreError,
    UnknownStage,
    UsageError,
    ValidationError,
)
from crmcli.store import encryption, fields, validate
from crmcli.store.audit import HISTORY_FIELDS, UNDOABLE_FIELDS, Audit
from crmcli.store.bulk import Bulk
from crmcli.store.clients import CLIENT_RECORD, Clients, referenced_id
from crmcli.store.completion import Completion
from crmcli.store.contacts import Contacts
from crmcli.store.copy import copy_book
from crmcli.store.deals import Deals
from crmcli.store.digests import Digests
from crmcli.store.encryption import KeySource
from crmcli.store.followups import Followups
from crmcli.store.interactions import Interactions
from crmcli.store.invoices import Invoices
from crmcli.store.migrations import SCHEMA_VERSION
from crmcli.store.reports import REVENUE_SOURCES, Reports
from crmcli.store.reports_events import EventReports
from crmcli.store.search import Search
from crmcli.store.team import Team
from crmcli.store.store import Database, user_error_of
from crmcli.store.transactions import Transactions

# The migration after which the search index is made again from the rows (its documents
# gained what SQL cannot write: custom values, segmented).
REINDEX_STEP = "m017_search_custom_values"

if TYPE_CHECKING:
    from crmcli.config import Config

# What the commands may use of the store (tests/test_layering.py holds them to it).
__all__ = ["CrmStore", "SCHEMA_VERSION", "CrmError", "UsageError", "StoreError", "SchemaTooNew",
           "NotFound", "ClientNotFound", "AmbiguousClient", "UnknownStage", "ValidationError",
           "validate", "user_error_of", "HISTORY_FIELDS", "UNDOABLE_FIELDS", "CLIENT_RECORD",
           "referenced_id", "copy_book"]


class CrmStore(Database):
    """The crm database with its repositories. Use as a context manager."""

    def __new__(cls, path: str | os.PathLike, *args, **kwargs):
        if isinstance(path, str) and path.startswith(("postgresql://", "postgres://")):
            from crmcli.store.postgres import on_postgres

            cls = on_postgres(cls)
        return super().__new__(cls)

    def __init__(self, path: str | os.PathLike, config: Config | None = None, *,
                 migrate: bool = True, create: bool = True):
        from crmcli.config import Config

        self.config = config or Config()
        super().__init__(path, migrate=migrate, create=create,
                         keys=KeySource.of(self.config))
        self.clients = Clients(self, pipeline=self.config.pipeline,
                               fields=fields.declared(self.config, "clients"))
        self.contacts = Contacts(self, self.clients,
                                 fields=fields.declared(self.config, "contacts"))
        self.interactions = Interactions(self, self.clients, self.contacts)
        # what CLV, retention, lifecycle, tiers and RFM count as revenue
        revenue = REVENUE_SOURCES[self.config["revenue.source"]]
        self.deals = Deals(self, self.clients, currency=self.config["currency"],
                           fields=fields.declared(self.config, "deals"),
                           stages=self.config["deals.stages"], revenue=revenue)
        self.followups = Followups(self, self.clients)
        self.invoices = Invoices(self, self.clients, self.deals, currency=self.config["currency"],
                                 terms_days=self.config["invoices.terms_days"])
        self.search = Search(self)
        self.audit = Audit(self)
        self.digests = Digests(self)
        self.transactions = Transactions(self, revenue)
        self.reports = Reports(self, revenue)
        self.events = EventReports(self, revenue)
        self.bulk = Bulk(self, self.clients, self.contacts, {
            "clients": self.clients.fields, "contacts": self.contacts.fields,
            "deals": self.deals.fields})
        self.completion = Completion(self)
        self.team = Team(self)
        if REINDEX_STEP in self.migrated and len(self.migrated) < SCHEMA_VERSION:  # (not new)
            self.search.rebuild()

    def invalid_custom(self) -> list[str]:
        """Stored custom values that their declared field refuses now (see
        crmcli.store.fields: a change of the config rewrites nothing)."""
        return fields.invalid_stored(self, {"clients": self.clients.fields,
                                            "contacts": self.contacts.fields,
                                            "deals": self.deals.fields})

    # --- encryption at rest (store/encryption.py) --------------------------------------

    @property
    def encrypted(self) -> bool:
        return encryption.is_encrypted_connection(self.conn)

    def encrypt(self, new_key_file: str | os.PathLike | None = None) -> str:
        """Encrypt the book in place (with a new random key written to new_key_file, else
        the configured key); returns where the key is. Closes the store."""
        key = None
        if new_key_file is not None:
            if os.environ.get(encryption.KEY_ENV):
                raise UsageError(f"--new-key-file: {encryption.KEY_ENV} is set; unset it to "
                                 "encrypt with a new key")
            key = encryption.new_key_file(Path(os.path.abspath(new_key_file)))
        try:
            return encryption.convert(self, encrypt=True, key=key).source
        except BaseException:
            if key is not None:
                Path(new_key_file).unlink(missing_ok=True)
            raise

    def decrypt(self) -> None:
        """Decrypt the book in place (it is plain SQLite again). Closes the store."""
        encryption.convert(self, encrypt=False)
