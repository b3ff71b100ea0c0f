"""The change log read back: history and undo."""

from __future__ import annotations


class AuditMixin:
    pass
