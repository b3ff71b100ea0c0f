"""Read-only queries behind the response-time, NPS, funnel and segment reports."""

from __future__ import annotations


class EventReportsMixin:
    pass
