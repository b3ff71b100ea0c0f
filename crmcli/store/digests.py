"""The ledger of due digests already sent."""

from __future__ import annotations


class DigestMixin:
    pass
