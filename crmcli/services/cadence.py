"""Contact cadence: how often a client should hear from us (pure rule resolution).

Resolution order for one client: its own cadence (`crm cadence CLIENT 2w --max 4w`),
then the first matching rule of `cadence.rules` in the config (by tag, stage or
tier), then `cadence.default_ideal` / `cadence.default_max`. The maximum defaults
to twice the ideal. A client is "due" once the ideal interval since its last
contact has elapsed (today >= last contact + ideal) and "overdue" once it is past
the maximum (today > last contact + max). Never-contacted clients count from
their creation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from dateutil.relativedelta import relativedelta

from crmcli import dates
from crmcli.errors import ValidationError


@dataclass(frozen=True)
class Cadence:
    ideal: relativedelta
    max: relativedelta
    ideal_text: str
    max_text: str
    source: str  # "client", "tag vip", "stage proposal", "tier A", "default"


def format_interval(rd: relativedelta) -> str:
    """A short text for an interval: 2w, 30d, 1m, 1y2m."""
    parts = []
    if rd.years:
        parts.append(f"{rd.years}y")
    if rd.months:
        parts.append(f"{rd.months}m")
    days = rd.days
    if days:
        parts.append(f"{days // 7}w" if days % 7 == 0 else f"{days}d")
    if rd.hours:
        parts.append(f"{rd.hours}h")
    return "".join(parts) or "0d"


def parse_interval(text: str, where: str) -> relativedelta:
    """A positive interval such as 2w, 30d, 1m; raises ValidationError naming `where`."""
    from crmcli.store import validate

    return validate.interval(text, where)


def cadence_pair(ideal_text, max_text, where: str, source: str) -> Cadence:
    ideal, maximum, max_text = _parsed_pair(str(ideal_text), None if max_text in (None, "")
                                            else str(max_text), where)
    return Cadence(ideal, maximum, str(ideal_text).strip(), max_text, source)


def _parsed_pair(ideal_text: str, max_text: str | None, where: str
                 ) -> tuple[relativedelta, relativedelta, str]:
    """(ideal, max, max text) of a cadence's texts, checked; errors name `where`."""
    try:
        return _parsed_pair_cached(ideal_text, max_text)
    except _BadInterval as bad:
        from crmcli.errors import ValidationError

        part, raw, reason = bad.args
        raise ValidationError(f"{where} {part}", raw, reason) from None


class _BadInterval(Exception):  # noqa: N818 - internal, never shown
    """(ideal|max, text, reason): raised without the `where` a message needs, so that the
    parsing can be cached for every client that shares a cadence."""


@lru_cache(maxsize=1024)  # `crm due` resolves a cadence for every client of the book
def _parsed_pair_cached(ideal_text: str, max_text: str | None
                        ) -> tuple[relativedelta, relativedelta, str]:
    try:
        ideal = parse_interval(ideal_text, "ideal")
        if max_text is None:
            maximum = ideal * 2
            max_text = format_interval(maximum)
        else:
            maximum = parse_interval(max_text, "max")
    except ValidationError as exc:
        raise _BadInterval(exc.field, exc.value, exc.reason) from None
    probe = date(2000, 1, 1)
    if probe + maximum < probe + ideal:
        raise _BadInterval("max", max_text, f"is shorter than the ideal interval {ideal_text}")
    return ideal, maximum, max_text.strip()


def resolve_cadence(client: dict, tags, tier: str | None, config) -> Cadence | None:
    """The cadence that applies to a client, or None when no rule gives one."""
    return cadence_resolver(config)(client, tags, tier)


def cadence_resolver(config):
    """resolve_cadence with the config read once: a function (client, tags, tier) ->
    Cadence | None, for resolving the cadence of every client of a book."""
    rules = []
    for i, rule in enumerate(config["cadence.rules"], 1):
        where = f"config cadence.rules[{i}]"
        if "tag" in rule:
            rules.append(("tag", str(rule["tag"]).strip().lower(), f"tag {rule['tag']}",
                          rule, where))
        elif "stage" in rule:
            rules.append(("stage", str(rule["stage"]).strip().lower(),
                          f"stage {rule['stage']}", rule, where))
        elif "tier" in rule:
            rules.append(("tier", str(rule["tier"]).strip().upper(),
                          f"tier {str(rule['tier']).upper()}", rule, where))
    default = (config["cadence.default_ideal"], config["cadence.default_max"])

    def resolve(client: dict, tags, tier: str | None) -> Cadence | None:
        if client.get("cadence_ideal"):
            return cadence_pair(client["cadence_ideal"], client.get("cadence_max"),
                                f"client {client.get('id')} cadence", "client")
        tag_set = None
        for kind, wanted, source, rule, where in rules:
            if kind == "tag":
                if tag_set is None:
                    tag_set = {t.lower() for t in tags or []}
                hit = wanted in tag_set
            elif kind == "stage":
                hit = (client.get("stage") or "").lower() == wanted
            else:
                hit = tier is not None and tier.upper() == wanted
            if hit:
                return cadence_pair(rule["ideal"], rule.get("max"), where, source)
        if default[0]:
            return cadence_pair(default[0], default[1], "config cadence.default", "default")
        return None

    return resolve


def cadence_for(client: dict, tags, tier: str | None, config
                ) -> tuple[relativedelta | None, relativedelta | None, str]:
    """(ideal, max, source) for a client; (None, None, "none") when no cadence applies."""
    found = resolve_cadence(client, tags, tier, config)
    if found is None:
        return None, None, "none"
    return found.ideal, found.max, found.source


def rules_use_tier(config) -> bool:
    return any("tier" in rule for rule in config["cadence.rules"])


def cadence_status(cadence: Cadence, since: date, today: date) -> tuple[str, date, int]:
    """(status ok/due/overdue, date the ideal is reached, days since `since`)."""
    due_on = since + cadence.ideal
    days_since = (today - since).days
    if today > since + cadence.max:
        status = "overdue"
    elif today >= due_on:
        status = "due"
    else:
        status = "ok"
    return status, due_on, days_since


def cadence_info(store, client: dict, config, tiers: dict[int, str] | None = None) -> dict:
    """The cadence status of one client, as shown on its card and by `crm cadence CLIENT`.

    Keys: ideal, max (texts or None), source, last_contact (UTC ISO or None), days_since
    (days since the last contact, or since the client was added), status (ok / due /
    overdue, or None when no cadence applies), due (local date the ideal is reached).
    """
    if tiers is None and rules_use_tier(config):
        from crmcli.services.tiers import tiers_by_client

        tiers = tiers_by_client(store)
    tier = (tiers or {}).get(client["id"], "C")
    cadence = resolve_cadence(client, store.clients.tags(client["id"]), tier, config)
    last = store.interactions.last_contacts([client["id"]]).get(client["id"])
    today = dates.today()
    since = dates.local_date_of(last or client["created_at"])
    info = {"ideal": None, "max": None, "source": None, "last_contact": last,
            "days_since": (today - since).days, "status": None, "due": None}
    if cadence is not None:
        status, due_on, _ = cadence_status(cadence, since, today)
        info.update(ideal=cadence.ideal_text, max=cadence.max_text, source=cadence.source,
                    status=status, due=due_on.isoformat())
    return info
