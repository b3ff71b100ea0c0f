"""What is due: open follow-ups in a window plus clients past their contact cadence.

Pure data (no printing), shared by `crm due`, its mail digest and the demo.
"""

from __future__ import annotations

from datetime import date

ROW_KEYS = ("kind", "id", "client_id", "client", "owner", "due", "due_at", "what", "status",
            "days_late", "last_contact", "item_key")


def _local_day(iso: str) -> date:
    from crmcli import dates

    return dates.local_date_of(iso)


def _window_end(today: date, within: str | None, config) -> date:
    from crmcli import dates
    from crmcli.cadence import parse_interval

    text = within if within not in (None, "") else (config.get("due.within") or "7d")
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
        from crmcli.store.errors import ValidationError

        raise ValidationError("--within", text, "must not be negative")
    return end


def _row(**values) -> dict:
    return {k: values[k] for k in ROW_KEYS}


def followup_rows(store, today: date, until: date, *, owner=None, tag=None) -> list[dict]:
    last = None
    rows = []
    found = store.open_followups(until=until.isoformat(), owner=owner, tag=tag)
    if found:
        last = store.last_contacts(sorted({r["client_id"] for r in found}))
    for f in found:
        due = date.fromisoformat(f["due"])
        late = (today - due).days
        status = "overdue" if late > 0 else "due" if late == 0 else "upcoming"
        rows.append(_row(kind="followup", id=f["id"], client_id=f["client_id"],
                         client=f["client"], owner=f["owner"], due=f["due"], due_at=f["due_at"],
                         what=f["note"] or "follow up", status=status, days_late=late,
                         last_contact=(last or {}).get(f["client_id"]),
                         item_key=f"followup:{f['id']}:{f['due']}"))
    rows.sort(key=lambda r: (r["due"], r["due_at"] or "", r["id"]))
    return rows


def cadence_rows(store, config, today: date, *, owner=None, tag=None) -> list[dict]:
    """Clients past the ideal interval of their cadence (live clients only)."""
    from crmcli.cadence import cadence_status, resolve_cadence, rules_use_tier

    if not (config.get("cadence.default_ideal") or config.get("cadence.rules")
            or store.has_client_cadences()):
        return []
    clients = store.list_clients(owner=owner, tags=[tag] if tag else None, sort="id")
    if not clients:
        return []
    tiers = {}
    if rules_use_tier(config):
        from crmcli.tiers import tiers_by_client

        tiers = tiers_by_client(store)
    last = store.last_contacts()
    rows = []
    for client in clients:
        cadence = resolve_cadence(client, client["tags"], tiers.get(client["id"], "C"), config)
        if cadence is None:
            continue
        last_iso = last.get(client["id"])
        since = _local_day(last_iso or client["created_at"])
        status, due_on, days = cadence_status(cadence, since, today)
        if status == "ok":
            continue
        if last_iso:
            what = f"no contact for {days} days"
        else:
            what = f"never contacted, added {days} days ago"
        what += f" (cadence {cadence.ideal_text}, max {cadence.max_text})"
        rows.append(_row(kind="stale", id=None, client_id=client["id"], client=client["name"],
                         owner=client["owner"], due=due_on.isoformat(), due_at=None, what=what,
                         status=status, days_late=(today - due_on).days, last_contact=last_iso,
                         item_key=f"stale:{client['id']}:{due_on.isoformat()}"))
    rows.sort(key=lambda r: (r["status"] != "overdue", -r["days_late"], r["client"].lower(),
                             r["client_id"]))
    return rows


def compute_due(store, config, *, within: str | None = None, overdue_only: bool = False,
                stale: bool = True, owner: str | None = None, tag: str | None = None
                ) -> list[dict]:
    """Open follow-ups due by today + within (default: config due.within), then stale clients.

    Each row has exactly ROW_KEYS. Follow-ups come first (overdue, most late first; then
    today; then upcoming by date), then stale clients (overdue before due, most late
    first). overdue_only keeps only rows whose status is "overdue".
    """
    from crmcli import dates

    today = dates.today()
    until = _window_end(today, within, config)
    rows = followup_rows(store, today, until, owner=owner, tag=tag)
    if stale:
        rows += cadence_rows(store, config, today, owner=owner, tag=tag)
    if overdue_only:
        rows = [r for r in rows if r["status"] == "overdue"]
    return rows


def late_text(days_late: int) -> str:
    """'3d late', 'today', 'in 2d' for a days_late value."""
    if days_late > 0:
        return f"{days_late}d late"
    if days_late == 0:
        return "today"
    return f"in {-days_late}d"
