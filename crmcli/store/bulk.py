"""Bulk import and export."""

from __future__ import annotations


class BulkMixin:
    pass
