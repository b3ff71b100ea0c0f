"""Interactions, deals, follow-ups and cadence (the daily loop)."""

from __future__ import annotations


class ActivityMixin:
    pass
