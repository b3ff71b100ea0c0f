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
from decimal import Decimal
from typing import Any

ACTIVITIES = ("deals", "interactions", "any")
_FRAC_DIGITS = 12


def _money_sql(col: str = "d.amount") -> str:
    """SELECT-list fragment: exact pieces of sum(col) (see money_of)."""
    dot = f"instr({col}, '.')"
    return (f"sum(CAST(CASE WHEN {dot} THEN substr({col}, 1, {dot} - 1) ELSE {col} END "
            f"AS INTEGER)) AS m_int, "
            f"sum(CASE WHEN {dot} THEN CAST(substr(substr({col}, {dot} + 1) || "
            f"'{'0' * _FRAC_DIGITS}', 1, {_FRAC_DIGITS}) AS INTEGER) ELSE 0 END) AS m_frac, "
            f"max(CASE WHEN {dot} THEN length({col}) - {dot} ELSE 0 END) AS m_scale")


def money_of(row: dict) -> Decimal:
    """The exact Decimal sum from the pieces of _money_sql (0 when there were no rows)."""
    if row.get("m_int") is None:
        return Decimal(0)
    scale = min(row["m_scale"] or 0, _FRAC_DIGITS)
    total = Decimal(row["m_int"]) + Decimal(row["m_frac"] or 0).scaleb(-_FRAC_DIGITS)
    return total.quantize(Decimal(1).scaleb(-scale)) if scale else total.quantize(Decimal(1))


def _check_activity(activity: str) -> str:
    if activity not in ACTIVITIES:
        from crmcli.store.errors import UsageError

        raise UsageError(f"retention.activity {activity!r}: must be one of "
                         f"{', '.join(ACTIVITIES)}")
    return activity


def _lit(text: str) -> str:
    """An SQL string literal of generated text (ISO times, 'YYYY-MM' keys)."""
    return "'" + text.replace("'", "''") + "'"


def _month_key_sql(col: str, mm) -> str:
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
        from datetime import datetime, timedelta

        t = datetime.strptime(lo[:13], "%Y-%m-%dT%H")
        while t.strftime("%Y-%m-%dT%H") < hi:
            hours.add(t.strftime("%H"))
            t += timedelta(hours=1)
    guard = ", ".join(_lit(h) for h in sorted(hours))
    return (f"CASE WHEN substr({col}, 12, 2) IN ({guard}) THEN CASE {' '.join(whens)} "
            f"ELSE {guess} END ELSE {guess} END")


def _idx_of_ym_sql(ym: str, months: int) -> str:
    idx = f"(CAST(substr({ym}, 1, 4) AS INTEGER) * 12 + CAST(substr({ym}, 6, 2) AS INTEGER) - 1)"
    return idx if months == 1 else f"({idx} / {months})"


_LIVE = "client_id NOT IN (SELECT id FROM clients WHERE archived_at IS NOT NULL)"


def _period_pairs_sql(activity: str, mm, months: int) -> str:
    """CTE act(client_id, idx): live clients active in each period, distinct; periods of
    `months` months (1, 3, 12) in the local zone, up to mm.end_utc."""
    parts = []
    if activity in ("deals", "any"):
        parts.append(f"SELECT DISTINCT client_id, {_month_key_sql('at', mm)} AS ym FROM deals "
                     f"WHERE status = 'won' AND at < {_lit(mm.end_utc)}")
    if activity in ("interactions", "any"):
        parts.append(f"SELECT DISTINCT client_id, {_month_key_sql('at', mm)} AS ym "
                     f"FROM interactions WHERE at < {_lit(mm.end_utc)}")
    union = " UNION ALL ".join(parts)
    distinct = "DISTINCT " if months > 1 or len(parts) > 1 else ""
    return (f"act AS (SELECT {distinct}client_id, {_idx_of_ym_sql('ym', months)} AS idx "
            f"FROM ({union}) WHERE {_LIVE})")


def _events_sql(activity: str) -> str:
    """(client_id, at) of every activity event (any client; callers filter live ones)."""
    parts = []
    if activity in ("deals", "any"):
        parts.append("SELECT client_id, at FROM deals WHERE status = 'won'")
    if activity in ("interactions", "any"):
        parts.append("SELECT client_id, at FROM interactions")
    return " UNION ALL ".join(parts)


class ReportsMixin:
    def won_revenue_by_client(self) -> dict[int, Decimal]:
        """Total won revenue per client, summed exactly."""
        totals: dict[int, Decimal] = {}
        for row in self.iter_query("SELECT client_id, amount FROM deals WHERE status = 'won'"):
            totals[row["client_id"]] = totals.get(row["client_id"], Decimal(0)) + Decimal(
                row["amount"])
        return totals

    def live_client_ids(self) -> list[int]:
        return [r["id"] for r in self.query("SELECT id FROM clients WHERE archived_at IS NULL")]

    # --- time-based reports -------------------------------------------------

    def first_activity(self, activity: str) -> str | None:
        """UTC time of the earliest activity of any live client (None for an empty book)."""
        _check_activity(activity)
        firsts = []
        if activity in ("deals", "any"):
            firsts.append(self.scalar(
                "SELECT min(d.at) FROM deals d JOIN clients c ON c.id = d.client_id "
                "WHERE d.status = 'won' AND c.archived_at IS NULL"))
        if activity in ("interactions", "any"):
            firsts.append(self.scalar(
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
        sql = (f"WITH {_period_pairs_sql(activity, mm, months)}, "
               "seq AS (SELECT idx, lag(idx) OVER (PARTITION BY client_id ORDER BY idx) AS prev "
               "FROM act) "
               "SELECT idx, count(*) AS active, sum(prev IS NULL) AS new, "
               "sum(coalesce(prev = idx - 1, 0)) AS retained, "
               "sum(coalesce(prev < idx - 1, 0)) AS reactivated "
               "FROM seq GROUP BY idx ORDER BY idx")
        return self.query(sql)

    def cohort_activity(self, mm, months: int, activity: str) -> list[dict]:
        """(cohort, k, clients): clients whose first active period is cohort and who are
        active in period cohort + k. Same rule for mm as period_activity."""
        _check_activity(activity)
        sql = (f"WITH {_period_pairs_sql(activity, mm, months)}, "
               "seq AS (SELECT idx, min(idx) OVER (PARTITION BY client_id) AS cohort FROM act) "
               "SELECT cohort, idx - cohort AS k, count(*) AS clients FROM seq "
               "GROUP BY cohort, k ORDER BY cohort, k")
        return self.query(sql)

    def active_in_windows(self, activity: str, lo: str, mid: str, hi: str) -> dict[str, int]:
        """Live clients active in [lo, mid), in [mid, hi) and in both (UTC times):
        {'in_first', 'in_second', 'in_both'}. Used for the annual churn behind CLV."""
        _check_activity(activity)
        parts = []
        if activity in ("deals", "any"):
            parts.append("SELECT client_id, at FROM deals WHERE status = 'won' "
                         "AND at >= :lo AND at < :hi")
        if activity in ("interactions", "any"):
            parts.append("SELECT client_id, at FROM interactions WHERE at >= :lo AND at < :hi")
        sql = (f"WITH w AS (SELECT client_id, max(at < :mid) AS first, max(at >= :mid) AS second "
               f"FROM ({' UNION ALL '.join(parts)}) WHERE {_LIVE} GROUP BY client_id) "
               "SELECT sum(first) AS in_first, sum(second) AS in_second, "
               "sum(first AND second) AS in_both FROM w")
        row = self.query_one(sql, {"lo": lo, "mid": mid, "hi": hi}) or {}
        return {k: row.get(k) or 0 for k in ("in_first", "in_second", "in_both")}

    def period_revenue(self, mm, months: int, currency: str, since: str | None = None
                       ) -> list[dict]:
        """Per period idx: won revenue (exact Decimal), won deals and paying clients in one
        currency, live clients only, for deals at or after since (UTC) up to mm.end_utc."""
        where = f"AND at >= {_lit(since)}" if since else ""
        sql = (f"SELECT {_idx_of_ym_sql('ym', months)} AS idx, count(*) AS deals, "
               f"count(DISTINCT client_id) AS clients, {_money_sql('amount')} FROM "
               f"(SELECT client_id, amount, {_month_key_sql('at', mm)} AS ym FROM deals "
               f"WHERE status = 'won' AND currency = :currency AND at < {_lit(mm.end_utc)} "
               f"{where} AND {_LIVE}) GROUP BY idx ORDER BY idx")
        rows = self.query(sql, {"currency": currency})
        return [{"idx": r["idx"], "deals": r["deals"], "clients": r["clients"],
                 "revenue": money_of(r)} for r in rows]

    def client_revenue(self, currency: str, since: str | None = None, until: str | None = None
                       ) -> dict[int, dict[str, Any]]:
        """Per live client with won deals in currency (at in [since, until)): revenue
        (exact), deals, first and last deal time (UTC)."""
        where = ["d.status = 'won'", "d.currency = :currency", "c.archived_at IS NULL"]
        params: dict[str, Any] = {"currency": currency}
        if since:
            where.append("d.at >= :since")
            params["since"] = since
        if until:
            where.append("d.at < :until")
            params["until"] = until
        sql = (f"SELECT d.client_id, count(*) AS deals, min(d.at) AS first_at, "
               f"max(d.at) AS last_at, {_money_sql()} FROM deals d "
               f"JOIN clients c ON c.id = d.client_id WHERE {' AND '.join(where)} "
               "GROUP BY d.client_id")
        return {r["client_id"]: {"revenue": money_of(r), "deals": r["deals"],
                                 "first_at": r["first_at"], "last_at": r["last_at"]}
                for r in self.iter_query(sql, params)}

    def revenue_total(self, currency: str, since: str | None = None, until: str | None = None,
                      client_id: int | None = None) -> dict[str, Any]:
        """Won revenue (exact), deals and paying clients of live clients in [since, until),
        or of one client."""
        where = ["d.status = 'won'", "d.currency = :currency"]
        params: dict[str, Any] = {"currency": currency}
        if client_id is None:
            where.append("c.archived_at IS NULL")
        else:
            where.append("d.client_id = :cid")
            params["cid"] = client_id
        if since:
            where.append("d.at >= :since")
            params["since"] = since
        if until:
            where.append("d.at < :until")
            params["until"] = until
        row = self.query_one(
            f"SELECT count(*) AS deals, count(DISTINCT d.client_id) AS clients, {_money_sql()} "
            f"FROM deals d JOIN clients c ON c.id = d.client_id WHERE {' AND '.join(where)}",
            params) or {}
        return {"deals": row.get("deals") or 0, "clients": row.get("clients") or 0,
                "revenue": money_of(row)}

    def other_currency_deals(self, currency: str) -> int:
        """Won deals of live clients in a currency other than the given one."""
        return self.scalar("SELECT count(*) FROM deals d JOIN clients c ON c.id = d.client_id "
                           "WHERE d.status = 'won' AND d.currency != ? AND c.archived_at IS NULL",
                           (currency,)) or 0

    def activity_days(self, activity: str, day_shift: str = "+0 minutes",
                      client_id: int | None = None) -> list[dict]:
        """Per live client with activity: first_day, last_day (local 'YYYY-MM-DD'), days (the
        number of distinct active days) and median_gap (median of the day gaps between
        consecutive active days; None with fewer than two days).

        day_shift is an SQLite modifier turning UTC into local time (e.g. '+540 minutes')."""
        _check_activity(activity)
        events = _events_sql(activity)
        one = "WHERE client_id = :cid" if client_id is not None else ""
        sql = (f"WITH ev AS (SELECT DISTINCT client_id, date(at, :shift) AS day "
               f"FROM ({events}) {one}), "
               "g AS (SELECT client_id, day, julianday(day) - julianday(lag(day) OVER "
               "(PARTITION BY client_id ORDER BY day)) AS gap FROM ev), "
               "r AS (SELECT client_id, gap, row_number() OVER (PARTITION BY client_id "
               "ORDER BY gap) AS rn, count(*) OVER (PARTITION BY client_id) AS n "
               "FROM g WHERE gap IS NOT NULL), "
               "med AS (SELECT client_id, avg(gap) AS median_gap FROM r "
               "WHERE rn IN ((n + 1) / 2, (n + 2) / 2) GROUP BY client_id), "
               "span AS (SELECT client_id, min(day) AS first_day, max(day) AS last_day, "
               "count(*) AS days FROM ev GROUP BY client_id) "
               "SELECT s.client_id, c.name, c.owner, c.stage, s.first_day, s.last_day, s.days, "
               "m.median_gap FROM span s JOIN clients c ON c.id = s.client_id "
               "LEFT JOIN med m ON m.client_id = s.client_id "
               + ("" if client_id is not None else "WHERE c.archived_at IS NULL ") +
               "ORDER BY s.client_id")
        params: dict[str, Any] = {"shift": day_shift}
        if client_id is not None:
            params["cid"] = client_id
        return self.query(sql, params)

    def clients_by_stage(self) -> list[dict]:
        """Live clients per stage (stage None for clients without one)."""
        return self.query("SELECT stage, count(*) AS clients FROM clients "
                          "WHERE archived_at IS NULL GROUP BY stage")

    def live_client_count(self) -> int:
        return self.scalar("SELECT count(*) FROM clients WHERE archived_at IS NULL") or 0

    def client_names(self, client_ids: list[int]) -> dict[int, str]:
        if not client_ids:
            return {}
        rows = self.query("SELECT id, name FROM clients WHERE id IN (SELECT value FROM "
                          "json_each(?))", (json.dumps(client_ids),))
        return {r["id"]: r["name"] for r in rows}
