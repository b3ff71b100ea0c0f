"""`crm report response|nps|funnel|segments`: the event-based reports.

Thin: parse options, call crmcli.metrics, hand rows to crmcli.render.output. Every report takes
--format/--json; field names are the JSON keys documented in the README.
"""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands._context import get_config, get_store
from crmcli.commands._errors import command
from crmcli.commands._options import FormatOption, JsonOption, LimitOption, output_format
from crmcli.render.output import emit, emit_rows, for_people

SinceOption = Annotated[str | None, typer.Option("--since", help="From this day (WHEN).")]
UntilOption = Annotated[str | None, typer.Option("--until",
                                                 help="Up to and including this day (WHEN).")]
AWAITING_SHOWN = 10
PENDING_COLUMNS = ["id", "client", "channel", "kind", "at", "age_days", "summary"]
BAR = "█"


def _percent(*keys: str):
    """For emit_rows' people view: the fields named with a % sign and one decimal
    (79.7357 -> '79.7%'); the machine formats keep plain numbers."""
    from crmcli.render.reports import percent as shown

    def view(rows: list[dict]) -> list[dict]:
        return [{**r, **{k: shown(r[k]) for k in keys if r.get(k) is not None}} for r in rows]

    return view


def _bar(value: float | None, top: float, width: int = 20) -> str:
    if not value or not top:
        return ""
    return BAR * max(1, round(width * abs(value) / top))


def report_response(
    by: Annotated[str | None, typer.Option("--by", help="Group by channel, owner or month.",
                                           show_default=False)] = None,
    kind: Annotated[str | None, typer.Option(
        "--kind", help="complaint: complaint handling time (complaint to resolution) "
                       "instead of response time.")] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    awaiting: Annotated[bool, typer.Option(
        "--awaiting", help="List the inbound interactions awaiting a reply (with --kind "
                           "complaint: the unresolved complaints), oldest first.")] = False,
    limit: LimitOption = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """Response time: inbound to the next outbound reply (count, median, p90, share within
    the SLA); awaiting-reply list with ages."""
    from crmcli.errors import UsageError
    from crmcli.metrics import response

    store, config = get_store(create=False), get_config()
    kind_name = (kind or "response").strip().lower()
    by_name = by.strip().lower() if by else None
    fmt_name = output_format(fmt, as_json)
    if awaiting and by:
        raise UsageError("--by groups the report, --awaiting lists the items: choose one")
    if awaiting:
        rows = response.pending_list(store, kind=kind_name, since=since, until=until,
                                     limit=limit)
        emit_rows(rows, fmt_name, fields=response.PENDING_FIELDS, columns=PENDING_COLUMNS)
        return
    rows = response.response_report(store, config, by=by_name, kind=kind_name, since=since,
                                     until=until)
    columns = [*([by_name] if by_name else []),
               *response.FIELDS["complaint" if kind_name == "complaint" else "response"]]
    what = ("Complaint handling time (complaint to resolution" if kind_name == "complaint"
            else "Response time (inbound to the next outbound reply")
    title = (f"{what}; SLA {config['response.sla_hours']:g} h)"
             + (f" by {by_name}" if by_name else ""))
    emit_rows(rows[:limit] if limit else rows, fmt_name, fields=columns,
              shown=_percent("within_sla"), title=title)
    if for_people(fmt_name) and fmt_name == "table":
        pending = response.pending_list(store, kind=kind_name, since=since, until=until,
                                        limit=AWAITING_SHOWN)
        if pending:
            total = sum(r.get("awaiting", r.get("unresolved", 0)) for r in rows)
            what = "unresolved complaints" if kind_name == "complaint" else "awaiting reply"
            typer.echo("")
            emit(pending, "table", columns=PENDING_COLUMNS,
                 title=f"{what}: oldest {len(pending)} of {total} (--awaiting lists all)")



def report_nps(
    period: Annotated[str | None, typer.Option("--period", help="One row per month, quarter "
                                                                "or year.")] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """Net Promoter Score over each client's latest score: % promoters (9-10) minus %
    detractors (0-6)."""
    from crmcli.metrics.nps import FIELDS, nps_report

    rows = nps_report(get_store(create=False), period=period, since=since, until=until)
    fmt_name = output_format(fmt, as_json)
    title = "Net Promoter Score (each client's latest score)" + (
        f" by {period.strip().lower()}" if period else "")
    trend = fmt_name == "table" and period
    percent = _percent("promoters_pct", "passives_pct", "detractors_pct")

    def shown(rows: list[dict]) -> list[dict]:
        if trend:
            rows = [{**r, "trend": ("-" if (r["nps"] or 0) < 0 else "") + _bar(r["nps"], 100)}
                    for r in rows]
        return percent(rows)

    emit_rows(rows, fmt_name, fields=FIELDS, columns=[*FIELDS, "trend"] if trend else FIELDS,
              shown=shown, title=title)


def report_funnel(
    since: Annotated[str | None, typer.Option(
        "--since", help="Only the clients who entered the pipeline from this day (WHEN).")
    ] = None,
    until: Annotated[str | None, typer.Option(
        "--until", help="The funnel as it stood at the end of this day (WHEN); with --since, "
                        "clients who entered up to it.")] = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """The pipeline funnel: per stage, clients who reached it, conversion to the next stage,
    median days in stage and win rate."""
    from crmcli.metrics.funnel import FIELDS, funnel_report

    rows = funnel_report(get_store(create=False), get_config(), since=since, until=until)
    fmt_name = output_format(fmt, as_json)
    title = "Pipeline funnel"
    if since or until:
        title += (f" of the clients who entered it {since or 'ever'}..{until or 'today'}"
                  + (f", as at the end of {until}" if until else ""))
    bars = fmt_name == "table"
    top = max((r["reached"] for r in rows), default=0)
    percent = _percent("conversion", "win_rate")
    emit_rows(rows, fmt_name, fields=FIELDS, columns=[*FIELDS, "bar"] if bars else FIELDS,
              shown=lambda rows: percent(
                  [{**r, "bar": _bar(r["reached"], top)} for r in rows] if bars else rows),
              title=title)


CLIENT_FIELDS = ["client_id", "name", "owner", "recency_days", "frequency", "monetary", "r",
                 "f", "m", "rfm", "segment", "tier"]


def report_segments(
    tiers: Annotated[bool, typer.Option("--tiers", help="The A/B/C revenue tiers instead of "
                                                        "the RFM segments.")] = False,
    clients: Annotated[bool, typer.Option("--clients", help="One row per client with its "
                                                            "RFM scores, segment and tier.")
                       ] = False,
    segment: Annotated[str | None, typer.Option("--segment", help="With --clients: only this "
                                                                  "segment.")] = None,
    tier: Annotated[str | None, typer.Option("--tier", help="With --clients: only this tier "
                                                            "(A, B or C).")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="Only the won deals from this day (WHEN).")] = None,
    until: Annotated[str | None, typer.Option(
        "--until", help="Only the won deals up to this day (WHEN), recency counted to it: "
                        "the segments as they were then.")] = None,
    limit: LimitOption = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """RFM segments (recency, frequency, monetary quintile scores 1-5 and named segments)
    and A/B/C tiers by cumulative revenue share."""
    from crmcli.errors import UsageError
    from crmcli.metrics import segments as seg

    if tiers and clients:
        raise UsageError("--tiers and --clients: choose one")
    if (segment or tier) and not clients:
        raise UsageError("--segment and --tier filter the --clients list; add --clients")
    wanted_segment = None
    if segment:
        names = {n.lower(): n for n in seg.SEGMENT_NAMES}
        wanted_segment = names.get(segment.strip().lower())
        if wanted_segment is None:
            raise UsageError(f"--segment {segment!r}: must be one of "
                             f"{', '.join(seg.SEGMENT_NAMES)}")
    wanted_tier = None
    if tier:
        from crmcli.services.tiers import check_tier

        wanted_tier = check_tier(tier)
    store, config = get_store(create=False), get_config()
    rfm, tier_of = seg.book_segments(store, config, since=since, until=until)
    _warn_other_currencies(store, config["currency"])
    fmt_name = output_format(fmt, as_json)
    currency = config["currency"]
    window = f", deals {since or 'ever'}..{until or 'today'}" if since or until else ""
    if tiers:
        emit_rows(seg.tier_totals(tier_of, {r.client_id: r.monetary for r in rfm}), fmt_name,
                  shown=_percent("client_share", "revenue_share"),
                  title=f"A/B/C tiers by cumulative share of won revenue ({currency}{window})")
        return
    if not clients:
        emit_rows(seg.segment_summary(rfm), fmt_name, shown=_percent("share"),
                  title=f"RFM segments (clients with won deals in {currency}{window})")
        return
    rows = []
    for r in sorted(rfm, key=lambda r: (-r.monetary, r.client_id)):
        if wanted_segment and r.segment != wanted_segment:
            continue
        if wanted_tier and tier_of.get(r.client_id, "C") != wanted_tier:
            continue
        rows.append({"client_id": r.client_id, "name": r.name, "owner": r.owner,
                     "recency_days": r.recency_days, "frequency": r.frequency,
                     "monetary": r.monetary, "r": r.r, "f": r.f, "m": r.m, "rfm": r.rfm,
                     "segment": r.segment, "tier": tier_of.get(r.client_id, "C")})
        if limit and len(rows) >= limit:
            break
    emit(rows, fmt_name, columns=CLIENT_FIELDS,
         title=f"Clients by RFM score ({currency}{window})")


def _warn_other_currencies(store, currency: str) -> None:
    from crmcli.render.reports import note_other_currencies

    note_other_currencies(store.reports.other_currency_revenue(currency), currency, "RFM and tiers")


def register(report_app: typer.Typer) -> None:
    command(report_app, "response")(report_response)
    command(report_app, "nps")(report_nps)
    command(report_app, "funnel")(report_funnel)
    command(report_app, "segments")(report_segments)
