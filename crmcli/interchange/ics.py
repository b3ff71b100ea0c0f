"""Open follow-ups as an iCalendar feed (RFC 5545), built with the `icalendar` library.

One component per open follow-up: a VEVENT by default (what calendar apps show), or a
VTODO (`component="todo"`, for task apps). UIDs are `followup-<id>@<database identity>`,
so importing or subscribing again updates the same entries instead of duplicating them.
A follow-up with only a date is an all-day entry; one with a time is timed in the
configured zone (with its VTIMEZONE); a recurring one carries its RRULE.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from crmcli import dates

TIMED_MINUTES = 30
PRODID = "-//crmcli//crm export followups//EN"


def followup_uid(followup_id: int, identity: str) -> str:
    return f"followup-{followup_id}@{identity}"


def _summary(row: dict) -> str:
    from crmcli.render.safe import visible

    note = " ".join((row.get("note") or "").split())
    client = " ".join(str(row["client"]).split())
    return visible(f"{client}: {note}" if note else f"{client}: follow up")


def _description(row: dict) -> str:
    lines = []
    if row.get("note"):
        lines.append(row["note"])
    who = f"Client {row['client_id']} {row['client']}"
    if row.get("owner"):
        who += f" (owner {row['owner']})"
    lines.append(who)
    lines.append(f"`crm done {row['id']}` marks it done, `crm snooze {row['id']} WHEN` moves it.")
    from crmcli.render.safe import visible

    # RFC 5545 text holds no control characters but tab; a CR would end a content line.
    return visible("\n".join(lines).replace("\r\n", "\n")).replace("\r", "\\x0d")


def _span(row: dict) -> tuple[date | datetime, date | datetime | None]:
    """Start and end of a follow-up's entry. A date at the edge of the calendar (stored
    before every path checked years) has no end: RFC 5545 reads it as one day."""
    if row["due_at"]:
        start: date | datetime = dates.local(dates.from_utc_iso(row["due_at"]))
        step = timedelta(minutes=TIMED_MINUTES)
    else:
        start = date.fromisoformat(row["due"])
        step = timedelta(days=1)
    try:
        return start, start + step
    except OverflowError:
        return start, None


def followups_calendar(store, *, component: str = "event") -> bytes:
    """The open follow-ups of live clients as an iCalendar document (bytes, CRLF lines)."""
    from icalendar import Calendar, Event, Todo, vRecur

    if component not in ("event", "todo"):
        raise ValueError(f"component must be 'event' or 'todo', not {component!r}")
    identity = store.digests.database_identity()
    stamp = dates.now()
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", "crm follow-ups")
    zone = dates.zone()
    cal.add("x-wr-timezone", str(zone))
    for row in store.followups.open():
        item = Event() if component == "event" else Todo()
        item.add("uid", followup_uid(row["id"], identity))
        item.add("dtstamp", stamp)
        item.add("created", dates.from_utc_iso(row["created_at"]))
        item.add("summary", _summary(row))
        item.add("description", _description(row))
        item.add("categories", ["crm"])
        start, end = _span(row)
        if component == "event":
            item.add("dtstart", start)
            if end is not None:
                item.add("dtend", end)
            item.add("transp", "TRANSPARENT")
        else:
            item.add("dtstart", start)
            item.add("due", start)
            item.add("status", "NEEDS-ACTION")
        rule = dates.usable_rule(row["every"])
        if rule:
            item.add("rrule", vRecur.from_ical(rule))
        item.add("x-crm-followup-id", str(row["id"]))
        item.add("x-crm-client-id", str(row["client_id"]))
        cal.add_component(item)
    timed = [c.get("dtstart").dt for c in cal.subcomponents
             if c.get("dtstart") is not None and isinstance(c.get("dtstart").dt, datetime)]
    if timed:
        # icalendar writes the zone's rules for 1970-2038 unless told otherwise: cover every
        # timed entry (a year past the last, for recurring ones near it).
        first = min(date(1970, 1, 1), min(timed).date())
        last = max(date(2038, 1, 1), date(min(max(timed).year + 2, 9999), 1, 1))
        cal.add_missing_timezones(first_date=first, last_date=last)
    return cal.to_ical()
