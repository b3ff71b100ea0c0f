"""Read-only aggregate queries behind crmcli.metrics.

Aggregation happens in SQL: activity is reduced to one row per (client, period)
with GROUP BY before it reaches Python, so a book of a million interactions is
never loaded row by row. Periods arrive as a JSON list of [idx, start_utc,
end_utc] (see crmcli.metrics.periods) and are joined to deals/interactions by
range on `at`, which uses the indexes on `at` and respects the local zone.

Money is summed exactly: each amount (canonical decimal text) is split into its
integer part and its fraction scaled to 10**-12, both summed as SQLite integers.
Archived clients are left out of every report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crmcli.store.store import Database

from crmcli.errors import UsageError

ACTIVITIES = ("deals", "interactions", "any")
FRAC_DIGITS = 12


def money_sql(col: str = "d.amount") -> str:
    """SELECT-list fragment: exact pieces of sum(col) (see money_of).

    col holds canonical decimal text ('1200', '19.99'). m_int sums the integer parts
    (CAST takes the leading digits), m_frac the fractions padded to FRAC_DIGITS digits
    (zero when there is no '.'), m_scale is the most decimals seen. Few SQL function calls
    a row: this runs over every won deal of the book."""
    dot = f"instr({col}, '.')"
    return (f"sum(CAST({col} AS INTEGER)) AS m_int, "
            f"sum(CAST(substr({col} || '{'0' * FRAC_DIGITS}', {dot} + 1, {FRAC_DIGITS}) "
            f"AS INTEGER) * ({dot} > 0)) AS m_frac, "
            f"max((length({col}) - {dot}) * ({dot} > 0)) AS m_scale")


def money_of(row: dict) -> Decimal:
    """The exact Decimal sum from the pieces of money_sql (0 when there were no rows)."""
    return exact_sum(row.get("m_int"), row.get("m_frac"), row.get("m_scale"))


def exact_sum(m_int: int | None, m_frac: int | None, m_scale: int | None) -> Decimal:
    """The Decimal written with m_scale decimals (at most FRAC_DIGITS) whose value is
    m_int + m_frac * 10**-FRAC_DIGITS: integer arithmetic, then one exact conversion."""
    if m_int is None:
        return Decimal(0)
    scale = min(m_scale or 0, FRAC_DIGITS)
    units = m_int * 10 ** FRAC_DIGITS + (m_frac or 0)
    # every amount's fraction was padded to FRAC_DIGITS digits, so the sum is a whole
    # number of 10**-scale: the division is exact
    whole = units // 10 ** (FRAC_DIGITS - scale)
    return Decimal(f"{whole}E-{scale}") if scale else Decimal(whole)


def _check_activity(activity: str) -> str:
    if activity not in ACTIVITIES:
        raise UsageError(f"retention.activity {activity!r}: must be one of "
                         f"{', '.join(ACTIVITIES)}")
    return activity


def _lit(text: str) -> str:
    """An SQL string literal of generated text (ISO times, 'YYYY-MM' keys)."""
    return "'" + text.replace("'", "''") + "'"


def month_key_sql(col: str, mm) -> str:
    """SQL for the local 'YYYY-MM' of the UTC time in col, per a periods.MonthMap."""
    if mm.shift_minutes == 0:
        guess = f"substr({col}, 1, 7)"
    else:
        guess = f"strftime('%Y-%m', {col}, '{mm.shift_minutes:+d} minutes')"
    if not mm.fixes:
        return guess
    hours = set()
    whens = []
    for lo, hi, ym in mm.fixes:
        whens.append(f"WHEN {col} >= {_lit(lo)} AND {col} < {_lit(hi)} THEN {_lit(ym)}")
        # every UTC hour the stretch touches, as a cheap guard before the exact test

        t = datetime.strptime(lo[:13], "%Y-%m-%dT%H")
        while t.strftime("%Y-%m-%dT%H") < hi:
            hours.add(t.strftime("%H"))
            t += timedelta(hours=1)
    guard = ", ".join(_lit(h) for h in sorted(hours))
    return (f"CASE WHEN substr({col}, 12, 2) IN ({guard}) THEN CASE {' '.join(whens)} "
            f"ELSE {guess} END ELSE {guess} END")


def idx_of_ym_sql(ym: str, months: int) -> str:
    idx = f"(CAST(substr({ym}, 1, 4) AS INTEGER) * 12 + CAST(substr({ym}, 6, 2) AS INTEGER) - 1)"
    return idx if months == 1 else f"({idx} / {months})"


LIVE = "client_id NOT IN (SELECT id FROM clients WHERE archived_at IS NOT NULL)"


@dataclass(frozen=True)
class Revenue:
    """Where revenue comes from (config revenue.source): the rows of `table` that meet
    `where` (`where_d`: the same on the table aliased d), each with client_id, at, amount
    and currency. Won deals, or payments collected (which carry their invoice's client and
    currency for this)."""

    table: str
    where: str
    where_d: str


REVENUE_SOURCES = {"deals": Revenue("deals", "status = 'won'", "d.status = 'won'"),
                   "payments": Revenue("payments", "1 = 1", "1 = 1")}
WON_DEALS = REVENUE_SOURCES["deals"]


def _period_pairs_sql(activity: str, mm, months: int, revenue: Revenue = WON_DEALS) -> str:
    """CTE act(client_id, idx): live clients active in each period, distinct; periods of
    `months` months (1, 3, 12) in the local zone, up to mm.end_utc."""
    parts = []
    if activity in ("deals", "any"):
        parts.append(f"SELECT DISTINCT client_id, {month_key_sql('at', mm)} AS ym FROM "
                     f"{revenue.table} WHERE {revenue.where} AND at < {_lit(mm.end_utc)}")
    if activity in ("interactions", "any"):
        parts.append(f"SELECT DISTINCT client_id, {month_key_sql('at', mm)} AS ym "
                     f"FROM interactions WHERE at < {_lit(mm.end_utc)}")
    union = " UNION ALL ".join(parts)
    distinct = "DISTINCT " if months > 1 or len(parts) > 1 else ""
    return (f"act AS (SELECT {distinct}client_id, {idx_of_ym_sql('ym', months)} AS idx "
            f"FROM ({union}) WHERE {LIVE})")


class Reports:
    """Read-only aggregates of clients, deals and interactions for the metrics. Uses the
    database only."""

    def __init__(self, db: Database, revenue: Revenue = WON_DEALS):
        self.db = db
        self.source = revenue

    def live_client_ids(self) -> list[int]:
        return [r[0] for r in self._tuples("SELECT id FROM clients WHERE archived_at IS NULL")]

    def _tuples(self, sql: str, params=()):
        """A cursor of plain tuples: for the queries that hand Python one row per client,
        where building a dict per row would cost more than the query."""
        from crmcli.store.store import not_utf8_on_write

        try:
            return self.db.conn.execute(sql, params)
        except UnicodeEncodeError as exc:
            raise not_utf8_on_write(exc) from None

    # --- time-based reports -------------------------------------------------

    def first_activity(self, activity: str) -> str | None:
        """UTC time of the earliest activity of any live client (None for an empty book)."""
        _check_activity(activity)
        firsts = []
        if activity in ("deals", "any"):
            firsts.append(self.db.scalar(
                f"SELECT min(d.at) FROM {self.source.table} d JOIN clients c ON "
                f"c.id = d.client_id WHERE {self.source.where_d} AND c.archived_at IS NULL"))
        if activity in ("interactions", "any"):
            firsts.append(self.db.scalar(
                "SELECT min(i.at) FROM interactions i JOIN clients c ON c.id = i.client_id "
                "WHERE c.archived_at IS NULL"))
        firsts = [f for f in firsts if f]
        return min(firsts) if firsts else None

    def period_activity(self, mm, months: int, activity: str) -> list[dict]:
        """Per period idx (only periods with activity): active, new, retained, reactivated.

        mm (periods.MonthMap) must start no later than the month of the first activity, so
        that "new" (first activity ever) and "reactivated" (active before, not in the
        previous period) see the whole history; months is the period length (1, 3, 12)."""
        _check_activity(activity)
        sql = (f"WITH {_period_pairs_sql(activity, mm, months, self.source)}, "
               "seq AS (SELECT idx, lag(idx) OVER (PARTITION BY client_id ORDER BY idx) AS prev "
               "FROM act) "
               "SELECT idx, count(*) AS active, sum(prev IS NULL) AS new, "
               "sum(CASE WHEN prev = idx - 1 THEN 1 ELSE 0 END) AS retained, "
               "sum(CASE WHEN prev < idx - 1 THEN 1 ELSE 0 END) AS reactivated "
               "FROM seq GROUP BY idx ORDER BY idx")
        return self.db.query(sql)

    def cohort_activity(self, mm, months: int, activity: str) -> list[dict]:
        """(cohort, k, clients): clients whose first active period is cohort and who are
        active in period cohort + k. Same rule for mm as period_activity."""
        _check_activity(activity)
        sql = (f"WITH {_period_pairs_sql(activity, mm, months, self.source)}, "
               "seq AS (SELECT idx, min(idx) OVER (PARTITION BY client_id) AS cohort FROM act) "
               "SELECT cohort, idx - cohort AS k, count(*) AS clients FROM seq "
               "GROUP BY cohort, k ORDER BY cohort, k")
        return self.db.query(sql)

    def active_in_windows(self, activity: str, lo: str, mid: str, hi: str) -> dict[str, int]:
        """Live clients active in [lo, mid), in [mid, hi) and in both (UTC times):
        {'in_first', 'in_second', 'in_both'}. Used for the annual churn behind CLV."""
        _check_activity(activity)
        parts = []
        if activity in ("deals", "any"):
            parts.append(f"SELECT client_id, at FROM {self.source.table} WHERE "
                         f"{self.source.where} AND at >= :lo AND at < :hi")
        if activity in ("interactions", "any"):
            parts.append("SELECT client_id, at FROM interactions WHERE at >= :lo AND at < :hi")
        sql = (f"WITH w AS (SELECT client_id, max(at < :mid) AS first, max(at >= :mid) AS second "
               f"FROM ({' UNION ALL '.join(parts)}) WHERE {LIVE} GROUP BY client_id) "
               "SELECT sum(first) AS in_first, sum(second) AS in_second, "
               "sum(first * second) AS in_both FROM w")  # 0/1 each: both
        row = self.db.query_one(sql, {"lo": lo, "mid": mid, "hi": hi}) or {}
        return {k: row.get(k) or 0 for k in ("in_first", "in_second", "in_both")}

    def period_revenue(self, mm, months: int, currency: str, since: str | None = None
                       ) -> list[dict]:
        """Per period idx: won revenue (exact Decimal), won deals and paying clients in one
        currency, live clients only, for deals at or after since (UTC) up to mm.end_utc."""
        where = f"AND at >= {_lit(since)}" if since else ""
        sql = (f"SELECT {idx_of_ym_sql('ym', months)} AS idx, count(*) AS deals, "
               f"count(DISTINCT client_id) AS clients, {money_sql('amount')} FROM "
               f"(SELECT client_id, amount, {month_key_sql('at', mm)} AS ym FROM "
               f"{self.source.table} WHERE {self.source.where} AND currency = :currency "
               f"AND at < {_lit(mm.end_utc)} "
               f"{where} AND {LIVE}) GROUP BY idx ORDER BY idx")
        rows = self.db.query(sql, {"currency": currency})
        return [{"idx": r["idx"], "deals": r["deals"], "clients": r["clients"],
                 "revenue": money_of(r)} for r in rows]

    def client_revenue(self, currency: str, since: str | None = None, until: str | None = None
                       ) -> dict[int, dict[str, Any]]:
        """Per live client with won deals in currency (at in [since, until)): revenue
        (exact), deals, first and last deal time (UTC).

        One pass over the (status, client_id, at, currency, amount) index, in client order:
        no sort and no table look-ups (`+at` keeps SQLite from trading that for the range
        on the index by time)."""
        where = [self.source.where, "currency = :currency", LIVE]
        params: dict[str, Any] = {"currency": currency}
        if since:
            where.append("+at >= :since")
            params["since"] = since
        if until:
            where.append("+at < :until")
            params["until"] = until
        sql = (f"SELECT client_id, count(*), min(at), max(at), {money_sql('amount')} "
               f"FROM {self.source.table} WHERE {' AND '.join(where)} GROUP BY client_id")
        return {cid: {"revenue": exact_sum(m_int, m_frac, m_scale), "deals": deals,
                      "first_at": first_at, "last_at": last_at}
                for cid, deals, first_at, last_at, m_int, m_frac, m_scale
                in self._tuples(sql, params)}

    def revenue_rank(self, currency: str, client_id: int) -> tuple[int, int, int]:
        """Where one client's won revenue in currency stands in the live book, exactly:
        (its revenue, the revenue of the clients ranked ahead of it -- more revenue, or as
        much and a smaller id -- and the whole book's), as ints of 10**-FRAC_DIGITS units.
        One grouped pass in client order (the by-client deals index); a client that is
        archived or has no such revenue gets 0 for its own."""
        scale = 10 ** FRAC_DIGITS
        mine, units = 0, []
        for cid, m_int, m_frac, _ in self._tuples(
                f"SELECT client_id, {money_sql('amount')} FROM {self.source.table} WHERE "
                f"{self.source.where} AND currency = :currency AND {LIVE} GROUP BY client_id",
                {"currency": currency}):
            value = m_int * scale + (m_frac or 0)
            units.append((cid, value))
            if cid == client_id:
                mine = value
        total = sum(u for _, u in units)
        ahead = sum(u for cid, u in units if u > mine or (u == mine and cid < client_id))
        return mine, ahead if mine else 0, total

    def revenue_total(self, currency: str, since: str | None = None, until: str | None = None,
                      client_id: int | None = None) -> dict[str, Any]:
        """Won revenue (exact), deals and paying clients of live clients in [since, until),
        or of one client."""
        where = [self.source.where, "currency = :currency"]
        params: dict[str, Any] = {"currency": currency}
        if client_id is None:
            where.append(LIVE)
        else:
            where.append("client_id = :cid")
            params["cid"] = client_id
        if since:
            where.append("at >= :since")
            params["since"] = since
        if until:
            where.append("at < :until")
            params["until"] = until
        row = self.db.query_one(
            f"SELECT count(*) AS deals, count(DISTINCT client_id) AS clients, "
            f"{money_sql('amount')} FROM {self.source.table} WHERE {' AND '.join(where)}",
            params) or {}
        return {"deals": row.get("deals") or 0, "clients": row.get("clients") or 0,
                "revenue": money_of(row)}

    def other_currency_revenue(self, currency: str, since: str | None = None,
                               until: str | None = None) -> dict[str, dict[str, Any]]:
        """Won revenue (exact) and deals of live clients per currency other than the given
        one, in [since, until) (UTC) when given: {currency: {"revenue", "deals"}}."""
        where = ("AND d.at >= :since " if since else "") + ("AND d.at < :until" if until else "")
        totals: dict[str, dict[str, Any]] = {}
        for row in self.db.query(f"SELECT d.currency, d.amount FROM {self.source.table} d "
                                 "JOIN clients c ON c.id = d.client_id WHERE "
                                 f"{self.source.where_d} AND d.currency != :currency AND "
                                 f"c.archived_at IS NULL {where}",
                                 {"currency": currency, "since": since, "until": until}):
            entry = totals.setdefault(row["currency"], {"revenue": Decimal(0), "deals": 0})
            entry["revenue"] += Decimal(row["amount"])
            entry["deals"] += 1
        return dict(sorted(totals.items()))

    def other_currency_deals(self, currency: str) -> int:
        """Won deals of live clients in a currency other than the given one."""
        return self.db.scalar(
            f"SELECT count(*) FROM {self.source.table} d JOIN clients c ON c.id = d.client_id "
            f"WHERE {self.source.where_d} AND d.currency != ? AND c.archived_at IS NULL",
            (currency,)) or 0

    def activity_days(self, activity: str, day_shift: str = "+0 minutes",
                      client_id: int | None = None) -> list[dict]:
        """Per live client with activity: first_day, last_day (local 'YYYY-MM-DD'), days (the
        number of distinct active days) and median_gap (median of the day gaps between
        consecutive active days; None with fewer than two days), by client id. With
        client_id: that client only (archived or not).

        day_shift is an SQLite modifier turning UTC into local time (e.g. '+540 minutes').

        SQL groups each event's local day by client straight from the (client_id, at)
        indexes and hands over one row per client, its days joined by commas; the gaps
        and their median are taken here. A median is a sort per client: SQLite's window
        functions would sort the whole book several times over."""
        _check_activity(activity)
        one = " AND client_id = :cid" if client_id is not None else ""
        live = "" if client_id is not None else "WHERE c.archived_at IS NULL"
        arms = []
        if activity in ("deals", "any"):
            arms.append(f"{self.source.table} WHERE {self.source.where}{one}")
        if activity in ("interactions", "any"):
            arms.append(f"interactions WHERE 1 = 1{one}")
        params = {"shift": day_shift, "cid": client_id}
        found: dict[int, list] = {}
        for arm in arms:
            # grouped in the index's (client, time) order: no sort of the book
            for cid, name, owner, stage, joined in self._tuples(
                    "SELECT a.client_id, c.name, c.owner, c.stage, a.days FROM (SELECT "
                    f"client_id, group_concat(date(at, :shift)) AS days FROM {arm} "
                    f"GROUP BY client_id) a JOIN clients c ON c.id = a.client_id {live}",
                    params):
                if not joined:
                    continue  # no time SQLite can read (never for stored UTC text)
                if cid in found:
                    found[cid][3] += "," + joined
                else:
                    found[cid] = [name, owner, stage, joined]
        ordinal = date.fromisoformat
        rows = []
        for cid in sorted(found):
            name, owner, stage, joined = found[cid]
            days = sorted(dict.fromkeys(joined.split(",")))  # distinct, in order
            median = None
            if len(days) > 1:
                n = [ordinal(d).toordinal() for d in days]
                gaps = sorted([b - a for a, b in zip(n, n[1:], strict=False)])
                k = len(gaps)
                median = (gaps[(k - 1) // 2] + gaps[k // 2]) / 2
            rows.append({"client_id": cid, "name": name, "owner": owner, "stage": stage,
                         "first_day": days[0], "last_day": days[-1], "days": len(days),
                         "median_gap": median})
        return rows

    def clients_by_stage(self) -> list[dict]:
        """Live clients per stage (stage None for clients without one)."""
        return self.db.query("SELECT stage, count(*) AS clients FROM clients "
                             "WHERE archived_at IS NULL GROUP BY stage")

    def live_client_count(self) -> int:
        return self.db.scalar("SELECT count(*) FROM clients WHERE archived_at IS NULL") or 0

    def client_names(self, client_ids: list[int]) -> dict[int, str]:
        if not client_ids:
            return {}
        rows = self.db.query("SELECT id, name FROM clients WHERE id IN (SELECT value FROM "
                             "json_each(?))", (json.dumps(client_ids),))
        return {r["id"]: r["name"] for r in rows}
