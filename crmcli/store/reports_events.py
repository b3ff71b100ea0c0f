"""Read-only queries behind the response-time, NPS, funnel and segment reports.

Everything is aggregated in SQL; Python receives one row per group (or per client for
the segments, which rank clients against each other). Archived clients are left out.

Response time pairs each inbound interaction with the first outbound interaction of the
same client at *or after* its time, with a correlated subquery that seeks the
`interactions_client_at` index on (client_id, at, direction, channel) from the inbound's
time forward (`ORDER BY at LIMIT 1`) and stops at the first outbound entry. The outer pass
reads that same index in client order, so the seeks land on neighbouring pages and the
table itself is never read. An outbound logged at the very same second counts as the
reply (response time 0): timestamps have a one-second grain and imports often carry a
date only, so an in and an out at the same instant are a conversation logged together.

Response and complaint quantiles are numpy's default (linear interpolation between closest
ranks), taken in Python from the handling times of each group, which SQL hands over as one
JSON array per group (json_group_array): sorting a few hundred thousand integers in
Python costs a fraction of SQLite's row_number() window over them. The funnel's stays are
few, and keep the SQL form: for n sorted values and q = a/b, position (n-1)·a/b splits
into an integer rank lo and a fraction; SQL returns the values at ranks lo and lo+1
(row_number over the sorted values) and Python interpolates
(crmcli.metrics.response.interpolate). Rank arithmetic is integer, so it is exact.

Local months (`--by month`, `crm report nps --period`) come from the UTC time with plain
SQL arithmetic and a few exact fixes around daylight-saving month starts
(crmcli.metrics.periods.MonthMap, the same mapping the retention reports use), so the
interactions table is read in one sequential pass instead of one index range per period.

`+i.at` keeps SQLite off the index on `at`, whose random row look-ups cost far more than a
sequential pass when a report spans months: the response pass reads the (client_id, at,
direction, channel) index end to end instead (it holds every column the pass needs), the
NPS pass reads the table.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmcli.store.store import Database

# Group-key SQL for `--by` (month is filled in from a MonthMap).
_BY_SQL = {None: "NULL", "channel": "i.channel", "owner": "c.owner"}
# CROSS JOIN: SQLite keeps interactions the outer loop (one primary-key look-up per row).
_LIVE_JOIN = "CROSS JOIN clients c ON c.id = i.client_id AND c.archived_at IS NULL"
# Inbound interactions that expect no reply (response.no_reply_kinds / no_reply_channels /
# reply_to_scores, see crmcli.metrics.response.reply_rule): left out of the response pass.
# One pass over the table collects the exempt ids (kind and score are not in the reply
# index), so the pairing pass itself still reads only the index.
_EXPECTS_REPLY = ("i.channel NOT IN (SELECT value FROM json_each(:no_channels)) "
                  "AND i.id NOT IN (SELECT x.id FROM interactions x WHERE x.direction = 'in' "
                  "AND (x.kind IN (SELECT value FROM json_each(:no_kinds)) "
                  "OR (:scores = 0 AND x.score IS NOT NULL)))")
_NEXT_OUT = ("(SELECT o.at FROM interactions o WHERE o.client_id = i.client_id "
             "AND o.at >= i.at AND o.direction = 'out' ORDER BY o.at LIMIT 1)")
# Whole seconds from a to b (stored times have a one-second grain; rounding removes the
# floating-point noise of julianday).
_SECS = "CAST(round((julianday({b}) - julianday({a})) * 86400) AS INTEGER)"
# Evaluate a CTE once (SQLite 3.35+; older versions give the same rows, only slower).
_MATERIALIZED = "MATERIALIZED " if sqlite3.sqlite_version_info >= (3, 35, 0) else ""
# (a, b) of the quantiles returned by _quantile_sql: q = a / b.
QUANTILES = {"median": (1, 2), "p90": (9, 10)}


def _quantile_sql(value: str, n: str, rn: str) -> str:
    """SELECT-list pieces: <name>_lo, <name>_hi = the values at the ranks around each
    quantile position (n-1)*a/b; rn is the 0-based rank of value among n values."""
    parts = []
    for name, (a, b) in QUANTILES.items():
        lo = f"(({n} - 1) * {a} / {b})"
        hi = f"({lo} + CASE WHEN (({n} - 1) * {a}) % {b} > 0 THEN 1 ELSE 0 END)"
        parts.append(f"max(CASE WHEN {rn} = {lo} THEN {value} END) AS {name}_lo")
        parts.append(f"max(CASE WHEN {rn} = {hi} THEN {value} END) AS {name}_hi")
    return ", ".join(parts)


def _group_sql(by: str | None, mm, months: int = 1) -> str:
    """SQL for the group key: channel, owner, or (mm given) the local period of i.at:
    'YYYY-MM' for months == 1, else the absolute period index (see metrics.periods)."""
    if mm is None:
        return _BY_SQL[by]
    from crmcli.store.reports import idx_of_ym_sql, month_key_sql

    key = month_key_sql("i.at", mm)
    return key if months == 1 and by == "month" else idx_of_ym_sql(key, months)


def _rule_params(rule: dict | None) -> dict:
    """SQL parameters of a reply rule {'no_reply_kinds', 'no_reply_channels',
    'reply_to_scores'}; None: every inbound interaction expects a reply."""
    rule = rule or {}
    return {"no_kinds": json.dumps(list(rule.get("no_reply_kinds") or [])),
            "no_channels": json.dumps(list(rule.get("no_reply_channels") or [])),
            "scores": 1 if rule.get("reply_to_scores", True) else 0}


class EventReports:
    """Read-only aggregates of events (replies, complaints, NPS scores, stage moves, won
    deals) for the metrics. Uses the database only."""

    def __init__(self, db: Database, revenue=None):
        from crmcli.store.reports import WON_DEALS

        self.db = db
        self.source = revenue or WON_DEALS

    # --- response time and complaint handling -----------------------------------------

    def _has_reply_index(self) -> bool:
        """Whether an index on interactions(client_id, at, direction, ...) exists (migration
        m011 gives interactions_client_at that shape, channel last): with it the reply of
        each inbound is one index seek; a file without it takes the window pass."""
        cached = getattr(self, "_reply_index", None)
        if cached is None:
            cached = self.db.has_index_on("interactions", ["client_id", "at", "direction"],
                                          partial=False)
            self._reply_index = cached
        return cached

    def _event_base(self, kind: str, by: str | None, mm, materialize: bool = True) -> str:
        """CTE `ev(grp, id, client_id, at, secs)`: the inbound interactions (kind 'response';
        secs = seconds to the reply) or complaints (kind 'complaint'; secs = seconds to
        resolved_at) of live clients in [:since, :until), grouped by `by` (mm: the MonthMap
        for by == 'month'); secs is NULL while pending. Materialized (where SQLite allows)
        so that the reply look-up runs once per row however often secs is used; a caller
        that reads secs once can do without (materialize=False)."""
        grp = _group_sql(by, mm)
        mat = _MATERIALIZED if materialize else ""
        cols = f"{grp} AS grp, i.id, i.client_id, i.at"
        if kind == "complaint":
            # few rows: the partial index on complaints finds them
            return (f"WITH ev AS {mat}(SELECT {cols}, "
                    f"{_SECS.format(a='i.at', b='i.resolved_at')} AS secs "
                    f"FROM interactions i {_LIVE_JOIN} WHERE i.kind = 'complaint' "
                    "AND i.at >= :since AND i.at < :until)")
        if self._has_reply_index():
            return (f"WITH ev AS {mat}(SELECT {cols}, "
                    f"{_SECS.format(a='i.at', b=_NEXT_OUT)} AS secs "
                    f"FROM interactions i {_LIVE_JOIN} WHERE i.direction = 'in' "
                    f"AND +i.at >= :since AND +i.at < :until AND {_EXPECTS_REPLY})")
        # Without that index: one sequential pass, sorted per client newest first; the
        # running minimum of outbound times (RANGE frame: rows at the same second included)
        # is the first outbound at or after each row.
        return ("WITH w AS (SELECT id, client_id, at, channel, direction, min(CASE WHEN "
                "direction = 'out' THEN at END) OVER (PARTITION BY client_id ORDER BY at DESC "
                "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS next_out "
                "FROM interactions NOT INDEXED WHERE at >= :since), "
                f"ev AS {mat}(SELECT {cols}, "
                f"{_SECS.format(a='i.at', b='i.next_out')} AS secs FROM w i {_LIVE_JOIN} "
                f"WHERE i.direction = 'in' AND i.at < :until AND {_EXPECTS_REPLY})")

    def handling_stats(self, kind: str, *, since: str, until: str, now: str, sla_seconds: int,
                       by: str | None = None, mm=None, reply_rule: dict | None = None
                       ) -> list[dict]:
        """Per group (grp): count (answered / resolved), pending (awaiting reply /
        unresolved), late_pending (pending for longer than the SLA at `now`), within
        (answered within sla_seconds) and secs: the handling times in seconds, sorted.
        Times are UTC ISO text; mm is the periods.MonthMap that by == 'month' needs;
        reply_rule: which inbound interactions expect no reply (_rule_params).

        The quantiles are taken in Python from secs: SQLite's window functions
        (row_number over the sorted times) cost more than the whole pairing does."""
        age = _SECS.format(a="at", b=":now")
        sql = (f"{self._event_base(kind, by, mm)} "
               "SELECT grp, count(secs) AS count, count(*) - count(secs) AS pending, "
               "coalesce(sum(secs <= :sla), 0) AS within, "
               f"coalesce(sum(secs IS NULL AND {age} > :sla), 0) AS late_pending, "
               "json_group_array(secs) AS secs FROM ev GROUP BY grp ORDER BY grp")
        rows = self.db.query(sql, {"since": since, "until": until, "now": now,
                                   "sla": sla_seconds, **_rule_params(reply_rule)})
        for row in rows:
            row["secs"] = sorted(s for s in json.loads(row["secs"]) if s is not None)
        return rows

    def pending_events(self, kind: str, *, since: str, until: str, now: str,
                       limit: int | None = None, reply_rule: dict | None = None) -> list[dict]:
        """Inbound interactions still awaiting a reply (kind 'response') or unresolved
        complaints (kind 'complaint') of live clients in [since, until), oldest first, with
        age_secs: their age in seconds at `now` (UTC ISO text).

        `+at`: sort the pending rows of the one pass over the index; walking the index on
        `at` in order instead looks every row up in the table, fast only while the oldest
        pending rows are near the start and very slow when few rows are pending."""
        sql = (f"{self._event_base(kind, None, None, materialize=False)}, "
               "p AS (SELECT id, at FROM ev WHERE secs IS NULL ORDER BY +at, id LIMIT :limit) "
               "SELECT i.id, i.client_id, c.name AS client, c.owner, i.channel, i.kind, i.at, "
               f"{_SECS.format(a='i.at', b=':now')} AS age_secs, "
               "i.summary FROM p JOIN interactions i ON i.id = p.id "
               "JOIN clients c ON c.id = i.client_id ORDER BY p.at, p.id")
        return self.db.query(sql, {"since": since, "until": until, "now": now,
                                   "limit": limit if limit else -1, **_rule_params(reply_rule)})

    def first_event_at(self, kind: str) -> str | None:
        """The earliest inbound interaction (or complaint) time, any client."""
        if kind == "complaint":
            return self.db.scalar("SELECT min(at) FROM interactions WHERE kind = 'complaint'")
        return self.db.scalar("SELECT at FROM interactions WHERE direction = 'in' "
                              "ORDER BY at LIMIT 1")

    # --- NPS ----------------------------------------------------------------------------

    def nps_counts(self, *, since: str, until: str, mm=None, months: int = 1) -> list[dict]:
        """Per period idx (None without mm): responses, promoters (9-10), passives (7-8),
        detractors (0-6), over each live client's latest score (latest `at`, then highest
        id) in the period, for scores in [since, until). mm (a periods.MonthMap) and months
        (1, 3, 12) define the periods."""
        idx = _group_sql("period", mm, months) if mm is not None else "NULL"
        sql = (f"WITH t AS (SELECT {idx} AS idx, i.client_id, i.at, i.id, i.score "
               f"FROM interactions i {_LIVE_JOIN} WHERE i.score IS NOT NULL "
               "AND +i.at >= :since AND +i.at < :until), "
               "s AS (SELECT idx, score, row_number() OVER (PARTITION BY idx, client_id "
               "ORDER BY at DESC, id DESC) AS rn FROM t) "
               "SELECT idx, count(*) AS responses, sum(score >= 9) AS promoters, "
               "sum(score BETWEEN 7 AND 8) AS passives, sum(score <= 6) AS detractors "
               "FROM s WHERE rn = 1 GROUP BY idx ORDER BY idx")
        return self.db.query(sql, {"since": since, "until": until})

    # --- funnel ---------------------------------------------------------------------------

    @staticmethod
    def _funnel_sources(lo: str | None, hi: str | None) -> tuple[str, str, str]:
        """(WITH prefix, stage-move source, client source) for the funnel's queries: the
        sources have the columns of stage_changes (id, client_id, to_stage, at) and clients
        (id, stage, archived_at). Without a window they are the tables themselves (named
        directly: SQLite would materialise a CTE used twice). With one (UTC bounds
        [lo, hi)): the live clients who entered the pipeline (their first stage move, else
        their creation) in it, their moves before hi, and as their stage the one they were
        in at hi."""
        if lo is None and hi is None:
            return "WITH ", "stage_changes", "clients"
        return ("WITH f AS (SELECT client_id, min(at) AS at FROM stage_changes "
                "GROUP BY client_id), "
                "k AS (SELECT c.id, c.stage, f.at AS first_move FROM clients c "
                "LEFT JOIN f ON f.client_id = c.id WHERE c.archived_at IS NULL "
                "AND coalesce(f.at, c.created_at) >= :lo "
                "AND coalesce(f.at, c.created_at) < :hi), "
                "w_sc AS (SELECT s.id, s.client_id, s.to_stage, s.at FROM stage_changes s "
                "JOIN k ON k.id = s.client_id WHERE s.at < :hi), "
                "w_cl AS (SELECT k.id, coalesce((SELECT s.to_stage FROM w_sc s WHERE "
                "s.client_id = k.id ORDER BY s.at DESC, s.id DESC LIMIT 1), CASE WHEN "
                "k.first_move IS NULL THEN k.stage END) AS stage, NULL AS archived_at FROM k), ",
                "w_sc", "w_cl")

    def funnel_reach(self, order: list[str], won: list[str], lost: list[str],
                     lo: str | None = None, hi: str | None = None) -> list[dict]:
        """Per position `top` in order (a list of non-lost stages): live clients whose
        furthest stage reached (over their stage history and current stage) is order[top],
        and how many of them are now in a won or a lost stage. Clients whose history holds
        no stage of `order` are counted with top = -1. lo/hi: see _funnel_sources."""
        with_, sc, cl = self._funnel_sources(lo, hi)
        sql = (f"{with_}st(name, pos) AS (SELECT value, key FROM json_each(:order)), "
               f"h AS (SELECT client_id, to_stage AS stage FROM {sc} "
               f"UNION ALL SELECT id, stage FROM {cl} WHERE stage IS NOT NULL), "
               "top AS (SELECT h.client_id, max(coalesce(st.pos, -1)) AS top FROM h "
               "LEFT JOIN st ON st.name = h.stage GROUP BY h.client_id) "
               "SELECT t.top, count(*) AS clients, "
               "sum(c.stage IN (SELECT value FROM json_each(:won))) AS won, "
               "sum(c.stage IN (SELECT value FROM json_each(:lost))) AS lost "
               f"FROM top t JOIN {cl} c ON c.id = t.client_id AND c.archived_at IS NULL "
               "GROUP BY t.top ORDER BY t.top")
        return self.db.query(sql, {"order": json.dumps(order), "won": json.dumps(won),
                                   "lost": json.dumps(lost), "lo": lo, "hi": hi})

    def stage_stays(self, lo: str | None = None, hi: str | None = None) -> list[dict]:
        """Per stage: clients ever in it (live clients; stage history plus current stage),
        in_stage (live clients there now), stays (completed stays: a move into the stage
        followed by a later move out) and the stay lengths in days at the ranks around
        the median (median_lo/hi). lo/hi: see _funnel_sources (then "now" is hi)."""
        with_, sc, cl = self._funnel_sources(lo, hi)
        params = {"lo": lo, "hi": hi}
        sql = (f"{with_}s AS (SELECT sc.to_stage AS stage, sc.at, lead(sc.at) OVER "
               f"(PARTITION BY sc.client_id ORDER BY sc.at, sc.id) AS left_at FROM {sc} sc "
               f"JOIN {cl} c ON c.id = sc.client_id AND c.archived_at IS NULL), "
               "d AS (SELECT stage, julianday(left_at) - julianday(at) AS days FROM s "
               "WHERE left_at IS NOT NULL), "
               "r AS (SELECT stage, days, row_number() OVER (PARTITION BY stage ORDER BY days) "
               "- 1 AS rn, count(*) OVER (PARTITION BY stage) AS n FROM d) "
               f"SELECT stage, count(*) AS stays, {_quantile_sql('days', 'n', 'rn')} "
               "FROM r GROUP BY stage")
        stays = {r["stage"]: r for r in self.db.query(sql, params)}
        ever = self.db.query(
            f"{with_}h AS (SELECT client_id, to_stage AS stage FROM {sc} UNION ALL "
            f"SELECT id, stage FROM {cl} WHERE stage IS NOT NULL) "
            f"SELECT h.stage, count(DISTINCT h.client_id) AS ever FROM h JOIN {cl} c "
            "ON c.id = h.client_id AND c.archived_at IS NULL GROUP BY h.stage", params)
        now = {r["stage"]: r["clients"] for r in self.db.query(
            f"{with_}n AS (SELECT stage FROM {cl} WHERE archived_at IS NULL AND stage IS NOT "
            "NULL) SELECT stage, count(*) AS clients FROM n GROUP BY stage", params)}
        rows = []
        for r in ever:
            s = stays.get(r["stage"], {})
            rows.append({"stage": r["stage"], "ever": r["ever"],
                         "in_stage": now.get(r["stage"], 0), "stays": s.get("stays", 0),
                         **{k: s.get(k) for k in ("median_lo", "median_hi")}})
        return rows

    # --- segments -------------------------------------------------------------------------

    def won_by_client(self, currency: str, *, names: bool = True, lo: str | None = None,
                      hi: str | None = None) -> list[dict]:
        """Per live client with won deals in currency, by id: client_id, deals, last_at
        (UTC), units (the exact won revenue as an int of 10**-12 units, for ranking and
        shares without Decimal arithmetic); with names also revenue (the exact Decimal,
        as typed), name and owner.

        One grouped pass over the won deals (in client order on an index by status and
        client where there is one), plain tuples: a dict per client costs more than the
        query. lo/hi: only the deals at or after lo and before hi (UTC text)."""
        from crmcli.store.reports import FRAC_DIGITS, LIVE, exact_sum, money_sql

        cols, join = ("c.name, c.owner", "JOIN clients c ON c.id = r.client_id") if names \
            else ("NULL, NULL", "")
        sql = ("WITH r AS (SELECT client_id, count(*) AS deals, max(at) AS last_at, "
               f"{money_sql('amount')} FROM {self.source.table} WHERE {self.source.where} "
               f"AND currency = :currency AND {LIVE}"
               + (" AND at >= :lo" if lo else "") + (" AND at < :hi" if hi else "")
               + " GROUP BY client_id) "
               "SELECT r.client_id, r.deals, r.last_at, r.m_int, r.m_frac, r.m_scale, "
               f"{cols} FROM r {join} ORDER BY r.client_id")
        scale = 10 ** FRAC_DIGITS
        rows = []
        for cid, deals, last_at, m_int, m_frac, m_scale, name, owner in self.db.conn.execute(
                sql, {"currency": currency, "lo": lo, "hi": hi}):
            row = {"client_id": cid, "deals": deals, "last_at": last_at,
                   "units": m_int * scale + (m_frac or 0)}
            if names:
                row.update(revenue=exact_sum(m_int, m_frac, m_scale), name=name, owner=owner)
            rows.append(row)
        return rows

    def rfm_inputs(self, currency: str, lo: str | None = None,
                   hi: str | None = None) -> list[dict]:
        """Per live client with won deals in currency (in [lo, hi) when given), by id:
        client_id, name, owner, deals, revenue (exact Decimal), units (see won_by_client)
        and last_at (UTC)."""
        return self.won_by_client(currency, lo=lo, hi=hi)
