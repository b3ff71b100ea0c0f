"""Segments: RFM scores with named segments, and A/B/C revenue tiers.

RFM is computed over won deals in the configured currency, for live clients with at least
one such deal: recency = local calendar days from the day of the last one to today (as
the lifecycle's days_since), frequency = their number, monetary = their total. Each
becomes a score 1-5 by quintile among those clients, with ties sharing a score: a
client's *mid-rank percentile* is p = (clients with a worse value + half the clients with
the same value) / clients, and its score is 1 + floor(5p) — integer arithmetic,
1 + (5 * (2 * worse + same)) // (2 * n). Five distinct values score 1..5; a lone client
(or a value everyone shares) scores 3. Fewer days is better for recency, more is better
for frequency and monetary.

The named segment comes from the R and F scores (the usual R-F grid; M is reported
beside it), see SEGMENTS.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from crmcli import dates

# (name, recency scores, frequency scores), in report order; together they cover all
# 25 (R, F) pairs exactly once.
SEGMENTS: list[tuple[str, str, str]] = [
    ("Champions", "5", "45"),
    ("Loyal", "34", "45"),
    ("Potential loyalists", "45", "23"),
    ("New customers", "5", "1"),
    ("Promising", "4", "1"),
    ("Need attention", "3", "3"),
    ("About to sleep", "3", "12"),
    ("Can't lose them", "12", "5"),
    ("At risk", "12", "34"),
    ("Hibernating", "12", "12"),
]
SEGMENT_NAMES = [name for name, _, _ in SEGMENTS]


_SEGMENT_OF = {(int(r), int(f)): name for name, rs, fs in SEGMENTS for r in rs for f in fs}


def segment_of(r: int, f: int) -> str:
    try:
        return _SEGMENT_OF[(r, f)]
    except KeyError:
        raise ValueError(f"no segment for R={r} F={f}") from None


def quintile_scores(values: list) -> list[int]:
    """Score 1-5 for each value (higher value = better), ties sharing a score: 1 +
    floor(5 * mid-rank percentile), see the module docstring."""
    n = len(values)
    counts = Counter(values)
    worse = 0
    score_of = {}
    for value in sorted(counts):
        same = counts[value]
        score_of[value] = 1 + (5 * (2 * worse + same)) // (2 * n)
        worse += same
    return [score_of[v] for v in values]


@dataclass
class RfmRow:
    client_id: int
    name: str
    owner: str | None
    recency_days: int
    frequency: int
    monetary: Decimal
    r: int
    f: int
    m: int
    segment: str

    @property
    def rfm(self) -> str:
        return f"{self.r}{self.f}{self.m}"


def _local_days_ago(today, zone, utc_iso: str) -> int:
    """Local calendar days from the day of a stored UTC time to today (0 for later)."""
    return max(0, (today - dates.local_date_of(utc_iso, zone)).days)


def rfm_scores(inputs: list[dict], now: datetime) -> list[RfmRow]:
    """inputs: per client client_id, name, owner, deals, revenue (Decimal), last_at (UTC
    text); now: an aware datetime (its local date is today). Returns one RfmRow per input,
    same order."""
    zone = dates.zone()
    today = now.astimezone(zone).date()
    recency = [_local_days_ago(today, zone, row["last_at"]) for row in inputs]
    r = quintile_scores([-d for d in recency])
    f = quintile_scores([row["deals"] for row in inputs])
    m = quintile_scores([row.get("units", row["revenue"]) for row in inputs])
    return [RfmRow(row["client_id"], row.get("name", ""), row.get("owner"), recency[i],
                   row["deals"], row["revenue"], r[i], f[i], m[i], segment_of(r[i], f[i]))
            for i, row in enumerate(inputs)]


@dataclass
class TierRow:
    client_id: int
    revenue: Decimal
    share: float
    cumulative_share: float
    tier: str


def _ratio(share: float) -> Fraction:
    """A configured share (0.8) as the exact fraction it was written as (4/5)."""
    return Fraction(str(share))


def tier_of_client(revenues: dict[int, Decimal | int], client_ids: list[int],
                   a_share: float = 0.8, b_share: float = 0.95) -> dict[int, str]:
    """The tier of each client in client_ids (see abc_tiers), exactly and without a
    division per client: 'before < share' is tested as before * den < num * total.
    The total is the sum of every revenue given, client_ids or not. Revenues may be
    Decimals or ints (exact units), as long as they are all alike."""
    a, b = _ratio(a_share), _ratio(b_share)
    total = sum(revenues.values())
    paying = sorted((cid for cid in client_ids if revenues.get(cid, 0) > 0),
                    key=lambda cid: (-revenues[cid], cid))
    tiers = dict.fromkeys(client_ids, "C")
    running = 0
    a_line, b_line = a.numerator * total, b.numerator * total
    for cid in paying:
        before = running
        running += revenues[cid]
        if before * a.denominator < a_line:
            tiers[cid] = "A"
        elif before * b.denominator < b_line:
            tiers[cid] = "B"
        else:
            break  # everyone after is C
    return tiers


def abc_tiers(revenues: dict[int, Decimal], client_ids: list[int], a_share: float = 0.8,
              b_share: float = 0.95) -> list[TierRow]:
    """A/B/C tiers by cumulative revenue share.

    Clients are ranked by won revenue (ties by id). A client is A while the
    cumulative share *before* it is under a_share (so the client that crosses
    the line is still A), B likewise up to b_share, and C after that; clients
    with no revenue are always C. Rows come in rank order, clients without revenue
    last (by id).
    """
    tiers = tier_of_client(revenues, client_ids, a_share, b_share)
    total = sum(revenues.values(), Decimal(0))
    ranked = sorted(client_ids, key=lambda cid: (-revenues.get(cid, Decimal(0)), cid))
    rows: list[TierRow] = []
    running = Decimal(0)
    for cid in ranked:
        revenue = revenues.get(cid, Decimal(0))
        running += revenue
        rows.append(TierRow(cid, revenue, float(revenue / total) if total else 0.0,
                            float(running / total) if total else 0.0, tiers[cid]))
    return rows


def _avg(total: Decimal, n: int) -> Decimal:
    return total / n if n else Decimal(0)


def segment_summary(rows: list[RfmRow]) -> list[dict]:
    """One row per named segment (all of them, empty ones with 0 clients)."""
    n = len(rows)
    out = []
    for name in SEGMENT_NAMES:
        members = [r for r in rows if r.segment == name]
        k = len(members)
        revenue = sum((r.monetary for r in members), Decimal(0))
        out.append({
            "segment": name, "clients": k, "share": 100 * k / n if n else None,
            "revenue": revenue,
            "avg_recency_days": sum(r.recency_days for r in members) / k if k else None,
            "avg_frequency": sum(r.frequency for r in members) / k if k else None,
            "avg_monetary": _avg(revenue, k) if k else None,
        })
    return out


def tier_summary(tiers: list[TierRow]) -> list[dict]:
    """One row per tier A, B, C: clients, share of clients, revenue, share of revenue."""
    return tier_totals({t.client_id: t.tier for t in tiers},
                       {t.client_id: t.revenue for t in tiers})


def tier_totals(tier_of: dict[int, str], revenues: dict[int, Decimal]) -> list[dict]:
    """One row per tier A, B, C over the clients of tier_of: clients, client_share
    (percent of clients), revenue (exact) and revenue_share (percent of revenue)."""
    n = len(tier_of)
    counts = Counter(tier_of.values())
    money = dict.fromkeys("ABC", Decimal(0))
    for cid, revenue in revenues.items():
        if cid in tier_of:
            money[tier_of[cid]] += revenue
    total = sum(money.values(), Decimal(0))
    return [{"tier": tier, "clients": counts[tier],
             "client_share": 100 * counts[tier] / n if n else None,
             "revenue": money[tier],
             "revenue_share": float(100 * money[tier] / total) if total else None}
            for tier in "ABC"]


def book_segments(store, config, *, since: str | None = None,
                  until: str | None = None) -> tuple[list[RfmRow], dict[int, str]]:
    """RFM rows of the live clients with won deals in the configured currency, and the
    A/B/C tier of every live client ({client_id: tier}).

    since/until (WHEN values) take only the won deals in that window, and measure recency
    up to the day of --until instead of today: the segments as they were then."""
    now = dates.now()
    lo = hi = None
    if since or until:
        from crmcli.metrics.response import time_window

        lo, hi = time_window(since, until)
        lo, hi = lo or None, (hi if until else None)
        if hi:
            now = datetime.fromisoformat(hi.replace("Z", "+00:00")) - timedelta(seconds=1)
    inputs = store.events.rfm_inputs(config["currency"], lo, hi)
    rfm = rfm_scores(inputs, now)
    units = {row["client_id"]: row["units"] for row in inputs}
    tiers = tier_of_client(units, store.reports.live_client_ids(), config["tiers.a_share"],
                           config["tiers.b_share"])
    return rfm, tiers
