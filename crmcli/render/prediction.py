"""The BG/NBD + Gamma-Gamma report (`crm report clv --model bgnbd`) in every format: the fit's
summary and parameters, then the clients' predictions."""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any

from crmcli.render.output import emit, for_people, message, selection, to_json


def _param_value(value: float) -> Decimal:
    return Decimal(f"{value:.6g}")


def _param_rows(header: dict[str, Any]) -> list[dict[str, Any]]:
    p, ll = header["params"], header["log_likelihood"]
    rows = [{"model": "BG/NBD", "parameter": name, "value": _param_value(p[name])}
            for name in ("r", "alpha", "a", "b")]
    rows.append({"model": "BG/NBD", "parameter": "log-likelihood",
                 "value": _param_value(ll["bgnbd"])})
    rows += [{"model": "Gamma-Gamma", "parameter": name, "value": _param_value(p[name])}
             for name in ("p", "q", "gamma")]
    rows.append({"model": "Gamma-Gamma", "parameter": "log-likelihood",
                 "value": _param_value(ll["gamma_gamma"])})
    return rows


def _summary(header: dict[str, Any]) -> str:
    return (f"BG/NBD + Gamma-Gamma fit on {header['customers']} clients "
            f"({header['repeat_buyers']} repeat buyers), calibration end "
            f"{header['calibration_end']}, time unit {header['time_unit']}; CLV over "
            f"{header['horizon_months']} months, discount {header['discount_monthly']:g}/month, "
            f"margin {header['margin']:g}, {header['currency']}")


def _params_line(header: dict[str, Any]) -> str:
    p = header["params"]
    return ("params: BG/NBD " + " ".join(f"{k}={_param_value(p[k])}" for k in ("r", "alpha",
                                                                            "a", "b"))
            + "; Gamma-Gamma " + " ".join(f"{k}={_param_value(p[k])}" for k in ("p", "q",
                                                                               "gamma")))


def emit_prediction(header: dict[str, Any], clients: list[dict], fmt: str,
                    columns: list[str]) -> None:
    """json: the header with its clients; table and markdown: the summary line, the
    parameters and the clients (in `columns`); the other formats: the clients, the summary
    and parameters on stderr."""
    out = sys.stdout
    if selection().fields is not None:
        # Fields are the clients' fields: the list alone, without the fit's summary.
        emit(clients, fmt, columns=columns)
        return
    if fmt == "json":
        head = to_json(header)
        body = ",\n  ".join(to_json(row) for row in clients)
        out.write(head[:-1] + ', "clients": [' + (f"\n  {body}\n" if body else "") + "]}\n")
        return
    if for_people(fmt):
        # The summary as a line of its own (a rich title would wrap to the table's width).
        out.write(_summary(header) + ("\n\n" if fmt == "markdown" else "\n"))
        out.flush()
        emit(_param_rows(header), fmt, columns=["model", "parameter", "value"])
        out.write("\n")
        emit(clients, fmt, columns=columns)
        return
    message(_summary(header))
    message(_params_line(header))
    emit(clients, fmt, columns=columns)
