"""The deal forecast: the open pipeline weighted by probability, by expected close month, in
the best / commit / pipeline categories; and the win rate and cycle length of closed deals.

Pure: takes deal rows, returns rows. Amounts are exact Decimals, summed per currency and
never converted. Definitions (README, Metrics: definitions):

- A deal's probability is its own, else its stage's default (deals.stages); an open deal in
  a stage no longer configured counts 0.
- pipeline: every open deal. commit: open deals at deals.commit_probability or more, or in
  the last open stage. best: commit, and the open deals at deals.best_probability or more.
  Each category's figure is the sum of its deals' amounts; weighted = sum of amount ×
  probability / 100 over every open deal.
- Months: the expected close date's month. An open deal whose close date is before today
  is `overdue` (it slipped), one without a close date `undated`. The current month is
  `partial`: it holds the deals expected from today to its end.
- Closed deals (won or lost) count in the window when their move into won/lost falls in it
  (a deal recorded already won or lost: its date). win_rate = won ÷ (won + lost), in
  percent. The cycle of a deal is the time from its first stage move to its move into won
  or lost, in days; only deals tracked from an open stage have one (a deal recorded already
  closed has none). avg_cycle_days is the mean over those, `cycles` how many they are.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

MONTH_FIELDS = ["month", "partial", "currency", "deals", "pipeline", "best", "commit",
                "weighted"]
TOTAL_FIELDS = ["currency", "deals", "pipeline", "best", "commit", "weighted"]
CLOSED_FIELDS = ["currency", "closed", "won", "lost", "win_rate", "won_amount",
                 "avg_cycle_days", "cycles"]
OVERDUE, UNDATED = "overdue", "undated"
TERMINAL = ("won", "lost")


def probability(deal: dict, stages: dict[str, int]) -> int:
    """An open deal's probability in percent: its own, else its stage's default (0 for a
    stage no longer configured)."""
    if deal.get("probability") is not None:
        return int(deal["probability"])
    return int(stages.get(deal["stage"], 0))


def categories(deal: dict, stages: dict[str, int], commit_at: int, best_at: int
               ) -> tuple[bool, bool]:
    """(in commit, in best) for an open deal."""
    chance = probability(deal, stages)
    last = list(stages)[-1] if stages else None
    commit = chance >= commit_at or deal["stage"] == last
    return commit, commit or chance >= best_at


def month_of(close_date: str | None, today: date) -> str:
    if not close_date:
        return UNDATED
    if close_date < today.isoformat():
        return OVERDUE
    return close_date[:7]


def _empty() -> dict:
    return {"deals": 0, "pipeline": Decimal(0), "best": Decimal(0), "commit": Decimal(0),
            "weighted": Decimal(0)}


def _add(cell: dict, deal: dict, chance: int, commit: bool, best: bool) -> None:
    amount = Decimal(deal["amount"])
    cell["deals"] += 1
    cell["pipeline"] += amount
    cell["weighted"] += amount * chance / 100
    if commit:
        cell["commit"] += amount
    if best:
        cell["best"] += amount


def open_pipeline(deals: list[dict], *, today: date, stages: dict[str, int], commit_at: int,
                  best_at: int) -> tuple[list[dict], list[dict]]:
    """(month rows, total rows) of the open deals: rows per (month, currency) in the order
    overdue, the months, undated; totals per currency."""
    months: dict[tuple[str, str], dict] = defaultdict(_empty)
    totals: dict[str, dict] = defaultdict(_empty)
    for deal in deals:
        chance = probability(deal, stages)
        commit, best = categories(deal, stages, commit_at, best_at)
        _add(months[(month_of(deal["close_date"], today), deal["currency"])], deal, chance,
             commit, best)
        _add(totals[deal["currency"]], deal, chance, commit, best)
    this_month = today.isoformat()[:7]

    def order(key: tuple[str, str]) -> tuple:
        month, currency = key
        return (0 if month == OVERDUE else 2 if month == UNDATED else 1, month, currency)

    rows = [{"month": month, "partial": month == this_month, "currency": currency,
             **months[(month, currency)]} for month, currency in sorted(months, key=order)]
    return rows, [{"currency": c, **totals[c]} for c in sorted(totals)]


def _parse(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


def closed_deals(deals: list[dict], *, lo: str | None = None, hi: str | None = None
                 ) -> list[dict]:
    """Win rate and cycle length per currency of the deals closed in [lo, hi) (UTC ISO
    instants; None: open-ended). Each deal: status, currency, amount, closed_at (its move
    into won/lost, else its date), opened_at and first_stage (its first move: when, where
    to; None without history)."""
    per: dict[str, dict] = defaultdict(lambda: {"won": 0, "lost": 0, "won_amount": Decimal(0),
                                                "cycle_days": []})
    for deal in deals:
        closed = deal["closed_at"]
        if (lo is not None and closed < lo) or (hi is not None and closed >= hi):
            continue
        cell = per[deal["currency"]]
        cell[deal["status"]] += 1
        if deal["status"] == "won":
            cell["won_amount"] += Decimal(deal["amount"])
        if deal["opened_at"] and deal["first_stage"] not in (None, *TERMINAL):
            span = _parse(closed) - _parse(deal["opened_at"])
            cell["cycle_days"].append(span.total_seconds() / 86400)
    rows = []
    for currency in sorted(per):
        cell = per[currency]
        closed = cell["won"] + cell["lost"]
        cycles = cell["cycle_days"]
        rows.append({"currency": currency, "closed": closed, "won": cell["won"],
                     "lost": cell["lost"],
                     "win_rate": 100 * cell["won"] / closed if closed else None,
                     "won_amount": cell["won_amount"],
                     "avg_cycle_days": sum(cycles) / len(cycles) if cycles else None,
                     "cycles": len(cycles)})
    return rows
