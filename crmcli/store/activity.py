"""Times as the activity repositories (interactions, deals, follow-ups) store them.

Conventions shared with imports and reports:

- ``at`` arguments accept an aware ``datetime`` or a UTC ISO string
  ('YYYY-MM-DDTHH:MM:SSZ'); None means now. They are stored as UTC ISO text.
- A follow-up's ``due`` is a local calendar date 'YYYY-MM-DD'; ``due_at`` is
  the UTC ISO instant when a time of day was given (else NULL).
- Recurring follow-ups (``every`` = an RRULE string from dates.parse_every)
  keep ``anchor`` = the first due ('YYYY-MM-DD', or local 'YYYY-MM-DDTHH:MM'
  when timed), so a monthly series started on the 31st clamps to Feb 28 and
  returns to Mar 31. Completing one marks that row done (the completion stays
  in the timeline) and inserts the next occurrence as a new open row.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from crmcli.errors import ValidationError
from crmcli.store.store import utc_now_iso


def utc_at(value: datetime | str | None, field: str = "at") -> str:
    """An instant as stored: UTC 'YYYY-MM-DDTHH:MM:SSZ'."""
    from crmcli import dates

    if value is None:
        return utc_now_iso()
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValidationError(field, value.isoformat(), "needs a time zone")
        return dates.to_utc_iso(value)
    if isinstance(value, date):
        return dates.to_utc_iso(dates.parse_at(value.isoformat()))
    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", text):
        return text
    return dates.to_utc_iso(dates.parse_at(text))


def split_due(due: date | datetime | str) -> tuple[str, str | None]:
    """(local due date 'YYYY-MM-DD', UTC due_at or None) for a date or an aware datetime."""
    from crmcli import dates

    if isinstance(due, str):
        due = dates.parse_when(due)
    if isinstance(due, datetime):
        if due.tzinfo is None:
            raise ValidationError("due", due.isoformat(), "needs a time zone")
        return dates.local(due).date().isoformat(), dates.to_utc_iso(due)
    if isinstance(due, date):
        return due.isoformat(), None
    raise ValidationError("due", due, "is not a date")


def anchor_of(due: str, due_at: str | None) -> str:
    """The anchor of a recurring series that starts at (due, due_at): see above."""
    from crmcli import dates

    if due_at:
        return dates.local(dates.from_utc_iso(due_at)).strftime("%Y-%m-%dT%H:%M")
    return due


def _local_zone():
    from crmcli import dates

    return dates.local(dates.now()).tzinfo


def localize(naive: datetime) -> datetime:
    """A naive local wall-clock time in the configured zone (zoneinfo handles DST)."""
    return naive.replace(tzinfo=_local_zone())


def as_when(text: str) -> date | datetime:
    """'YYYY-MM-DD' → date; 'YYYY-MM-DDTHH:MM' → aware local datetime."""
    if "T" not in text:
        return date.fromisoformat(text)
    return localize(datetime.fromisoformat(text))
