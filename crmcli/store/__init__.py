"""The store: the only code that speaks SQL to the crm database."""

from __future__ import annotations

import os

from crmcli.config import Config
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
from crmcli.store.activity import ActivityMixin
from crmcli.store.audit import AuditMixin
from crmcli.store.bulk import BulkMixin
from crmcli.store.clients import ClientsMixin
from crmcli.store.digests import DigestMixin
from crmcli.store.migrations import SCHEMA_VERSION
from crmcli.store.reports import ReportsMixin
from crmcli.store.reports_events import EventReportsMixin
from crmcli.store.store import StoreBase
from crmcli.store.transactions import TransactionsMixin

__all__ = ["CrmStore", "SCHEMA_VERSION", "CrmError", "UsageError", "StoreError", "SchemaTooNew",
           "NotFound", "ClientNotFound", "AmbiguousClient", "UnknownStage", "ValidationError"]


class CrmStore(ClientsMixin, ActivityMixin, BulkMixin, ReportsMixin, EventReportsMixin,
               TransactionsMixin, AuditMixin, DigestMixin, StoreBase):
    """The crm database with its domain operations. Use as a context manager."""

    def __init__(self, path: str | os.PathLike, config: Config | None = None, *,
                 migrate: bool = True, create: bool = True):
        self.config = config or Config()
        self.pipeline = self.config.pipeline
        self.currency = self.config["currency"]
        super().__init__(path, migrate=migrate, create=create)
