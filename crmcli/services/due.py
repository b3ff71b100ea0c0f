"""What is due: open follow-ups in a window plus clients past their contact cadence.

Pure data (no printing), shared by `crm due`, its mail digest and the demo.
"""

from __future__ import annotations

from datetime import date

from crmcli import dates
from crmcli.errors import ValidationError

ROW_KEYS = ("kind", "id", "client_id", "client", "owner", "due", "due_at", "what", "status",
            "days_late", "last_contact", "item_key")


def _window_end(today: date, within: str | None, config) -> date:
    from crmcli.services.cadence import parse_interval

    text = within if within not in (None, "") else config["due.within"]
    text = str(text).strip()
    if text in ("0", "0d", "today"):
        return today
    try:
        rd = dates.parse_duration(text)
    except ValueError:
        # Re-raise with the option's name in the message.
        parse_interval(text, "--within")
        raise
    end = today + rd
    if end < today:
        raise ValidationError("--within", text, "must not be negative")
    return end


def followup_status(days_late: int) -> str:
    """A follow-up's status from how many days past its due date today is."""
    return "overdue" if days_late > 0 else "due" if days_late == 0 else "upcoming"


def with_status(followups: list[dict], today: date) -> list[dict]:
    """Open follow-up rows (each with its `due`) given their days_late and status."""
    for row in followups:
        row["days_late"] = late = (today - date.fromisoformat(row["due"])).days
        row["status"] = followup_status(late)
    return followups


def _row(**values) -> dict:
    return {k: values[k] for k in ROW_KEYS}


def followup_rows(store, today: date, until: date, *, owner=None, tag=None) -> list[dict]:
    found = store.followups.due(until=until.isoformat(), owner=owner, tag=tag)
    last = store.interactions.last_contacts(sorted({f[1] for f in found})) if found else {}
    rows = []
    append = rows.append
    ordinal = today.toordinal()
    late_of: dict[str, int] = {}  # few distinct due dates, many rows
    for fid, client_id, client, owner_, due, due_at, note in found:
        late = late_of.get(due)
        if late is None:
            late = late_of[due] = ordinal - date.fromisoformat(due).toordinal()
        append({"kind": "followup", "id": fid, "client_id": client_id, "client": client,
                "owner": owner_, "due": due, "due_at": due_at, "what": note or "follow up",
                "status": followup_status(late),
                "days_late": late, "last_contact": last.get(client_id),
                "item_key": f"followup:{fid}:{due}"})
    # due_followups returns them in this order already; the sort keeps it a guarantee
    rows.sort(key=lambda r: (r["due"], r["due_at"] or "", r["id"]))
    return rows


def cadence_rows(store, config, today: date, *, owner=None, tag=None) -> list[dict]:
    """Clients past the ideal interval of their cadence (live clients only)."""
    from crmcli.services.cadence import cadence_resolver, cadence_status, rules_use_tier

    if not (config["cadence.default_ideal"] or config["cadence.rules"]
            or store.clients.any_own_cadence()):
        return []
    clients = store.clients.for_cadence(owner=owner, tag=tag)
    if not clients:
        return []
    tiers = {}
    if rules_use_tier(config):
        from crmcli.services.tiers import tiers_by_client

        tiers = tiers_by_client(store)
    last = store.interactions.last_contacts()

    zone = dates.zone()
    # A book has few cadences and a few thousand distinct days: the status of a (cadence,
    # day) pair is worked out once (dateutil's month arithmetic costs microseconds a call).
    statuses: dict[tuple, tuple] = {}
    resolve = cadence_resolver(config)
    rows = []
    for client in clients:
        cadence = resolve(client, client["tags"], tiers.get(client["id"], "C"))
        if cadence is None:
            continue
        last_iso = last.get(client["id"])
        since = dates.local_date_of(last_iso or client["created_at"], zone)
        key = (cadence.ideal_text, cadence.max_text, since)
        found = statuses.get(key)
        if found is None:
            found = statuses[key] = cadence_status(cadence, since, today)
        status, due_on, days = found
        if status == "ok":
            continue
        if last_iso:
            what = f"no contact for {days} days"
        else:
            what = f"never contacted, added {days} days ago"
        what += f" (cadence {cadence.ideal_text}, max {cadence.max_text})"
        rows.append(_row(kind="stale", id=None, client_id=client["id"], client=client["name"],
                         owner=client["owner"], due=due_on.isoformat(), due_at=None, what=what,
                         # as a follow-up's: overdue once past the day contact was due
                         # (the cadence's own max is on the card and in `crm cadence`)
                         status=followup_status((today - due_on).days),
                         days_late=(today - due_on).days, last_contact=last_iso,
                         item_key=f"stale:{client['id']}:{due_on.isoformat()}"))
    rows.sort(key=lambda r: (r["status"] != "overdue", -r["days_late"], r["client"].lower(),
                             r["client_id"]))
    return rows


def invoice_rows(store, config, today: date, *, owner=None, tag=None) -> list[dict]:
    """Overdue invoices past a reminder step (crmcli.services.receivables.overdue_rows); a
    book without invoices loads none of their code."""
    if not config["invoices.remind_days"] or not store.invoices.exists():
        return []
    from crmcli.services.receivables import overdue_rows

    return overdue_rows(store, config, today, owner=owner, tag=tag)


def compute_due(store, config, *, within: str | None = None, overdue_only: bool = False,
                stale: bool = True, owner: str | None = None, tag: str | None = None
                ) -> list[dict]:
    """Open follow-ups due by today + within (default: config due.within), then overdue
    invoices, then stale clients.

    Each row has exactly ROW_KEYS. Follow-ups come first (overdue, most late first; then
    today; then upcoming by date), then invoices past a reminder step (most late first,
    see services.receivables.overdue_rows), then stale clients (overdue before due, most
    late first). overdue_only keeps only rows whose status is "overdue".
    """
    today = dates.today()
    until = _window_end(today, within, config)
    rows = followup_rows(store, today, until, owner=owner, tag=tag)
    rows += invoice_rows(store, config, today, owner=owner, tag=tag)
    if stale:
        rows += cadence_rows(store, config, today, owner=owner, tag=tag)
    if overdue_only:
        rows = [r for r in rows if r["status"] == "overdue"]
    return rows


def due_counts(store, config, *, within: str | None = None, stale: bool = True
               ) -> dict[str, int]:
    """{'overdue', 'due', 'upcoming'}: how many rows of compute_due (same arguments) have
    each status; the follow-ups are counted in SQL (the summary needs no rows)."""
    today = dates.today()
    until = _window_end(today, within, config)
    counts = store.followups.due_counts(today=today.isoformat(), until=until.isoformat())
    counts["overdue"] += len(invoice_rows(store, config, today))
    if stale:
        for row in cadence_rows(store, config, today):
            counts[row["status"]] += 1
    return counts
