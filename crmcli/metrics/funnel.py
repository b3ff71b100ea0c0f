"""The pipeline funnel.

The funnel runs through the configured `pipeline` without the `lost_stages`, in order.
A live client *reached* a stage if its stage history (`stage_changes`) or its current stage
holds that stage or any later one of the funnel: skipping a stage still passes it, so
`reached` never grows down the funnel. Per stage:

- reached; conversion: percent of those that reached the next stage (None for the last);
- in_stage: clients there now;
- median_days: median length in days of the completed stays in the stage (a move into it
  followed by a later move out; a stay still going on is not counted);
- won / lost: of the clients that reached the stage, those now in a won / lost stage;
  win_rate = won / (won + lost) in percent: the chance of winning a decided client that
  got this far.

Lost stages follow as rows of their own: reached = clients ever in them.

With --since/--until the funnel is that of a cohort, as it stood at the end of --until:
the live clients who entered the pipeline (their first stage move, or their creation when
they have none) in the window, their stage moves up to the end of --until, and as their
current stage the one they were in then (in_stage, won and lost count that).
"""

from __future__ import annotations

from crmcli.metrics.response import interpolate

FIELDS = ["stage", "reached", "conversion", "in_stage", "median_days", "won", "lost",
          "win_rate"]


def _pct(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


def funnel_report(store, config, *, since: str | None = None,
                  until: str | None = None) -> list[dict]:
    """since/until: WHEN values (see the module docstring); both None: the whole book now."""
    from crmcli.metrics.response import time_window

    lo, hi = time_window(since, until) if since or until else (None, None)
    pipeline = list(config.pipeline)
    won_stages = list(config["won_stages"])
    lost_stages = list(config["lost_stages"])
    order = [s for s in pipeline if s not in lost_stages]
    tops = store.events.funnel_reach(order, won_stages, lost_stages, lo, hi)
    stays = {r["stage"]: r for r in store.events.stage_stays(lo, hi)}
    rows = []
    for pos, stage in enumerate(order):
        past = [t for t in tops if t["top"] >= pos]
        reached = sum(t["clients"] for t in past)
        won = sum(t["won"] or 0 for t in past)
        lost = sum(t["lost"] or 0 for t in past)
        rows.append({"stage": stage, "reached": reached, "won": won, "lost": lost,
                     "win_rate": _pct(won, won + lost)})
    for row, nxt in zip(rows, [*rows[1:], None], strict=True):
        row["conversion"] = _pct(nxt["reached"], row["reached"]) if nxt else None
    for stage in lost_stages:
        s = stays.get(stage, {})
        rows.append({"stage": stage, "reached": s.get("ever", 0), "won": None, "lost": None,
                     "win_rate": None, "conversion": None})
    for row in rows:
        s = stays.get(row["stage"], {})
        med = interpolate(s.get("median_lo"), s.get("median_hi"), s.get("stays", 0), 1, 2)
        row["in_stage"] = s.get("in_stage", 0)
        row["median_days"] = med
    return [{k: row[k] for k in FIELDS} for row in rows]
