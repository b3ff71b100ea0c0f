"""`crm report …`: the metrics, rendered.

The time-based reports (summary, retention, cohorts, churn, clv) live here; the
event-based ones (response, nps, funnel, segments) in `report_events`; the
probabilistic CLV model in `report_predict`, reached through `crm report clv --model bgnbd`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands._context import get_config, get_store
from crmcli.commands._errors import command
from crmcli.commands._help import CrmGroup
from crmcli.commands._options import FormatOption, JsonOption, output_format, within_int64

report_app = typer.Typer(cls=CrmGroup, help="Reports: retention, cohorts, churn, CLV, response "
                              "time, NPS, funnel, segments, receivables, forecast.",
                         no_args_is_help=True)

PeriodOption = Annotated[str | None, typer.Option(
    "--period", "-p", metavar="month|quarter|year",
    help="Period length (default: retention.period in the config).", show_default=False)]
SinceOption = Annotated[str | None, typer.Option(
    "--since", metavar="WHEN", help="First period shown: the one containing this date "
                                    "(default: the last 12 months, 8 quarters or 5 years).")]
UntilOption = Annotated[str | None, typer.Option(
    "--until", metavar="WHEN", help="Last period shown: the one containing this date "
                                    "(default: today).")]



def _period(period: str | None, allowed=("month", "quarter", "year")) -> str:
    from crmcli.metrics.periods import check_unit

    return check_unit(period or get_config()["retention.period"], allowed)


ACTIVITY_WORDS = {"deals": "won deals", "interactions": "interactions",
                  "any": "won deals or interactions"}


def empty_window_note(store, config, unit: str, since: str | None, until: str | None) -> None:
    """Say on stderr that a report's window holds no activity, and which --since (or
    --until) would show some."""
    from crmcli import dates
    from crmcli.metrics import periods
    from crmcli.metrics.retention import activity_setting
    from crmcli.render.output import message

    activity = activity_setting(config)
    win = periods.window(unit, since, until)
    span = f"{periods.label(win.first, unit)} to {periods.label(win.last, unit)}"
    first = store.reports.first_activity(activity)
    what = ACTIVITY_WORDS[activity]
    if first is None:
        message(f"crm: no {what} recorded yet, so nothing to report "
                f"(retention.activity: {activity})")
        return
    day = dates.local_date_of(first)
    hint = (f"--since {day.isoformat()}" if periods.index_of(day, unit) < win.first
            else f"--until {day.isoformat()}")
    message(f"crm: no {what} from {span}; the first is on {day.isoformat()}: "
            f"try {hint} (retention.activity: {activity})")


def retention(period: PeriodOption = None, since: SinceOption = None, until: UntilOption = None,
              fmt: FormatOption = None, as_json: JsonOption = False) -> None:
    """Retention and churn per period: active, retained, new, reactivated, lost clients."""
    from crmcli.metrics.periods import trim_empty
    from crmcli.metrics.retention import ROW_KEYS, retention_rows
    from crmcli.render.retention import emit_retention

    store, config = get_store(create=False), get_config()
    unit = _period(period)
    rows = trim_empty(retention_rows(store, config, unit, since, until),
                      lambda r: not r["active"] and not r["previous_active"])
    if not rows:
        empty_window_note(store, config, unit, since, until)
    emit_retention(rows, output_format(fmt, as_json), unit=unit,
                   activity=config["retention.activity"], columns=list(ROW_KEYS))


def cohorts(period: Annotated[str | None, typer.Option(
                "--period", "-p", metavar="month|quarter",
                help="Cohort period (default: retention.period, or quarter if that is year).",
                show_default=False)] = None,
            since: SinceOption = None, until: UntilOption = None,
            fmt: FormatOption = None, as_json: JsonOption = False) -> None:
    """The cohort retention matrix: share of each cohort active k periods later."""
    from crmcli.metrics import periods
    from crmcli.metrics.cohorts import UNITS, cohort_rows
    from crmcli.metrics.periods import trim_empty
    from crmcli.render.retention import emit_cohorts

    default = get_config()["retention.period"]
    unit = _period(period or ("quarter" if default == "year" else default), UNITS)
    store, config = get_store(create=False), get_config()
    rows = trim_empty(cohort_rows(store, config, unit, since, until), lambda r: not r["size"])
    if not rows:
        empty_window_note(store, config, unit, since, until)
    emit_cohorts(rows, output_format(fmt, as_json), unit=unit,
                 last=periods.label(periods.window(unit, since, until).last, unit))


def churn(period: PeriodOption = None, since: SinceOption = None, until: UntilOption = None,
          limit: Annotated[int, typer.Option("--limit", "-n", min=0, callback=within_int64,
                                             help="At-risk clients listed (0: all).")] = 20,
          fmt: FormatOption = None, as_json: JsonOption = False) -> None:
    """Churn per period and the at-risk clients, most revenue at stake first."""
    from crmcli.metrics import lifecycle
    from crmcli.metrics.periods import trim_empty
    from crmcli.metrics.retention import retention_rows
    from crmcli.render.retention import emit_churn

    store, config = get_store(create=False), get_config()
    unit = _period(period)
    rows = trim_empty(retention_rows(store, config, unit, since, until),
                      lambda r: not r["active"] and not r["previous_active"])
    if not rows:
        empty_window_note(store, config, unit, since, until)
    life = lifecycle.lifecycle_rows(store, config)
    risky = lifecycle.at_risk(life)
    if limit:
        risky = risky[:limit]
    emit_churn(rows, lifecycle.status_counts(life, store.reports.live_client_count()), risky,
               output_format(fmt, as_json), unit=unit)


def clv(top: Annotated[int, typer.Option("--top", "-n", min=0, callback=within_int64,
                                         help="Clients listed, highest CLV first.")] = 10,
        model: Annotated[str, typer.Option("--model", metavar="historical|bgnbd",
                                           help="historical (spec formula) or bgnbd "
                                                "(BG/NBD with Gamma-Gamma spend).")
                         ] = "historical",
        until: UntilOption = None,
        calibration_end: Annotated[str | None, typer.Option(
            "--calibration-end", metavar="WHEN",
            help="bgnbd: end of the calibration period (default: today).")] = None,
        horizon: Annotated[str | None, typer.Option(
            "--horizon", metavar="DURATION",
            help="Horizon of the forecast, e.g. 12m, 2y (default: clv.horizon_months).")] = None,
        discount: Annotated[float | None, typer.Option(
            "--discount", min=0.0, help="Monthly discount rate (default: clv.discount_monthly)."
        )] = None,
        fmt: FormatOption = None, as_json: JsonOption = False) -> None:
    """Customer lifetime value: historical per client, distribution and the predictive value."""
    from crmcli.errors import UsageError

    store, config = get_store(create=False), get_config()
    fmt_name = output_format(fmt, as_json)
    choice = model.strip().lower()
    if choice == "bgnbd":
        from crmcli.commands.report_predict import show_bgnbd

        show_bgnbd(store=store, config=config, calibration_end=calibration_end, horizon=horizon,
                   discount=discount, top=top, fmt=fmt_name)
        return
    if choice != "historical":
        raise UsageError(f"--model {model!r}: must be historical or bgnbd")
    from crmcli.commands.report_predict import parse_horizon
    from crmcli.metrics.clv import clv_report
    from crmcli.render.clv import emit_clv

    report = clv_report(store, config, top=top, until=until,
                        horizon_months=parse_horizon(horizon, config) if horizon else None,
                        discount=discount)
    from crmcli.render.reports import note_other_currencies

    note_other_currencies(report["summary"]["other_currencies"], report["summary"]["currency"],
                          "CLV")
    emit_clv(report, fmt_name)


def summary(fmt: FormatOption = None, as_json: JsonOption = False) -> None:
    """The dashboard: clients by stage and status, revenue by month, due, NPS, response, risk."""
    from crmcli.render.reports import note_other_currencies
    from crmcli.render.summary import emit_summary
    from crmcli.services.summary import summary_data

    data = summary_data(get_store(create=False), get_config())
    overview = data["overview"]
    note_other_currencies(overview["other_currencies_12m"], overview["currency"],
                          "revenue_12m and revenue by month")
    emit_summary(data, output_format(fmt, as_json))


def receivables(
        since: Annotated[str | None, typer.Option(
            "--since", metavar="WHEN", help="First day of the window of invoiced, collected "
                                            "and DSO (default: 89 days before --until).")
        ] = None,
        until: Annotated[str | None, typer.Option(
            "--until", metavar="WHEN", help="The day the report is as of: its last day "
                                            "(default: today).")] = None,
        fmt: FormatOption = None, as_json: JsonOption = False) -> None:
    """Receivables: open balance by client and age, invoiced, collected and DSO, per currency."""
    from crmcli.render.receivables import emit_receivables
    from crmcli.services.receivables import receivables_report

    report = receivables_report(get_store(create=False), since=since, until=until)
    emit_receivables(report, output_format(fmt, as_json))


def register(app: typer.Typer) -> None:
    from crmcli.commands import report_events, report_forecast

    command(report_app, "summary")(summary)
    command(report_app, "retention")(retention)
    command(report_app, "cohorts")(cohorts)
    command(report_app, "churn")(churn)
    command(report_app, "clv")(clv)
    command(report_app, "receivables")(receivables)
    report_events.register(report_app)
    command(report_app, "forecast")(report_forecast.report_forecast)
    app.add_typer(report_app, name="report")
