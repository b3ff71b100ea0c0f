"""`crm report clv --model bgnbd`: the probabilistic CLV report (BG/NBD + Gamma-Gamma).

`report.py` owns the option parsing of `crm report clv` and calls show_bgnbd with the raw
option values. The numerical work (numpy/scipy, the optional extra `predict`) is imported
only inside crmcli.services.prediction when this report runs.
"""

from __future__ import annotations

import re
from typing import Any

from crmcli.errors import UsageError

_HORIZON = re.compile(r"^\s*(\d+)\s*(m|mo|mon|month|months|y|yr|yrs|year|years)?\s*$", re.I)


def parse_calibration_end(text: str | None):
    """The calibration end as a local date: WHEN text, or today when None."""
    from datetime import datetime

    from crmcli import dates

    today = dates.today()
    if text is None or not str(text).strip():
        return today
    try:
        when = dates.parse_when(str(text))
    except ValueError as exc:
        raise UsageError(f"--calibration-end: {exc}") from None
    day = dates.local(when).date() if isinstance(when, datetime) else when
    if day > today:
        raise UsageError(f"--calibration-end {text!r}: {day.isoformat()} is after today "
                         f"({today.isoformat()}); the model can only learn from the past")
    return day


def parse_horizon(text: str | int | None, config) -> int:
    """The CLV horizon in whole months: '12m', '18 months', '2y', '12'; None = config."""
    if text is None:
        value = config["clv.horizon_months"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 1 \
                or value != int(value):
            from crmcli.errors import ConfigError

            raise ConfigError(f"config key 'clv.horizon_months' must be a whole number of months "
                             f"of at least 1, not {value!r}")
        return int(value)
    match = _HORIZON.match(str(text))
    if not match:
        raise UsageError(f"--horizon {text!r}: give whole months or years, e.g. 12m, 18m or 2y")
    months = int(match.group(1)) * (12 if (match.group(2) or "m").lower().startswith("y") else 1)
    if months < 1:
        raise UsageError(f"--horizon {text!r}: the horizon must be at least 1 month")
    if months > 1200:
        raise UsageError(f"--horizon {text!r}: the horizon must be at most 100 years")
    return months


def parse_discount(value: float | str | None, config) -> float:
    """The monthly discount rate: 0.01 = 1% a month; None = config clv.discount_monthly."""
    where = "--discount"
    if value is None:
        value = config["clv.discount_monthly"]
        where = "config key 'clv.discount_monthly'"
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{where} {value!r}: not a number (a monthly rate such as 0.01)") \
            from None
    if not (0 <= rate < 1):
        if where != "--discount":
            from crmcli.errors import ConfigError

            raise ConfigError(f"{where} must be a monthly rate from 0 up to (not including) 1, "
                              f"not {value!r}")
        raise UsageError(f"{where} {value!r}: must be a monthly rate from 0 up to (not "
                         "including) 1, e.g. 0.01 for 1% a month")
    return rate


def show_bgnbd(store, config, calibration_end: str | None, horizon: str | None,
               discount: float | None, top: int | None, fmt: Any) -> None:
    """Fit BG/NBD + Gamma-Gamma on the won deals, save the fit, print the predictions.

    calibration_end: WHEN text (None = today); horizon: '12m', '2y' (None = config
    clv.horizon_months); discount: monthly rate (None = config clv.discount_monthly);
    top: show only the N highest CLVs (0: the fit alone); fmt: table|json|ndjson|csv|tsv|markdown.
    """
    from crmcli.render import output
    from crmcli.render.formats import FORMATS
    from crmcli.render.prediction import emit_prediction
    from crmcli.services import prediction

    fmt = getattr(fmt, "value", fmt) or "table"
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    if top is not None:
        try:
            top = int(top)
        except (TypeError, ValueError):
            raise UsageError(f"--top {top!r}: not a whole number") from None
        if top < 0:
            raise UsageError(f"--top {top!r}: must not be negative")
    time_unit = config["clv.time_unit"]
    margin = config["clv.margin"]
    settings = prediction.Settings(
        calibration_end=parse_calibration_end(calibration_end), time_unit=time_unit,
        horizon_months=parse_horizon(horizon, config), discount_monthly=parse_discount(
            discount, config),
        margin=float(margin),
        currency=store.config["currency"])
    result = prediction.fit_and_predict(store, settings)
    if result.skipped_currencies:
        skipped = ", ".join(f"{n} in {cur}" for cur, n in sorted(result.skipped_currencies.items()))
        output.message(f"crm: note: won deals in other currencies than {settings.currency} are "
                       f"not part of the model ({skipped})")
    clients = result.clients[:top] if top is not None else result.clients
    header = result.header()
    emit_prediction(header, clients, fmt, prediction.CLIENT_COLUMNS)
