"""Read-only queries behind the predictive models: the transaction log of won deals."""

from __future__ import annotations


class TransactionsMixin:
    pass
