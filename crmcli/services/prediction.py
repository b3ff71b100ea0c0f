"""Predictive CLV with BG/NBD and Gamma-Gamma: from the won deals to per-client predictions.

The glue between the store (transaction log, saved fits) and the pure model code in
crmcli.metrics.bgnbd. numpy and scipy come with the optional extra `predict`; they are
imported only inside these functions, and their absence is a clear PredictionError.

Data preparation (as in Fader, Hardie & Lee 2005): every won deal of a live client in the
configured currency is a purchase on its local calendar day; several on one day are one
purchase of their summed amount. Per client, up to the end of the calibration day:
frequency = repeat purchase days (distinct days - 1), recency = last - first purchase day,
age (T) = calibration end - first purchase day, in the time unit `clv.time_unit`.
Clients whose first purchase is after the calibration end are not part of the fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace
from typing import Any

from crmcli import dates
from crmcli.errors import CrmError

MODEL = "bgnbd"
INSTALL_HINT = "install the predict extra: pip install 'crmcli[predict]'"
#: Fewer customers than this cannot identify four BG/NBD parameters.
MIN_CUSTOMERS = 10
#: Customers with a repeat purchase needed by both fits.
MIN_REPEAT_BUYERS = 5

CLIENT_COLUMNS = ["client_id", "client", "frequency", "recency", "age", "repeat_spend",
                  "expected_purchases", "p_alive", "expected_spend", "clv"]


class PredictionError(CrmError):
    """The data cannot support a model fit, or the model cannot run; one clear line."""


def load_model():
    """The crmcli.metrics.bgnbd module, or PredictionError when numpy/scipy are missing."""
    try:
        import numpy  # noqa: F401
        import scipy.optimize  # noqa: F401
        import scipy.special  # noqa: F401

        from crmcli.metrics import bgnbd
    except ImportError:
        raise PredictionError(f"the BG/NBD model needs numpy and scipy; {INSTALL_HINT}") from None
    return bgnbd


@dataclass(frozen=True)
class Settings:
    """What a fit and its predictions depend on (the command's options, resolved)."""

    calibration_end: date
    time_unit: str = "weeks"
    horizon_months: int = 12
    discount_monthly: float = 0.01
    margin: float = 1.0
    currency: str = "USD"


@dataclass
class Prediction:
    """A fitted model and its per-client rows (sorted by CLV, highest first)."""

    settings: Settings
    fit_id: int
    fitted_at: str
    customers: int
    repeat_buyers: int
    params: dict[str, float]
    log_likelihood: dict[str, float]
    clients: list[dict] = field(default_factory=list)
    skipped_currencies: dict[str, int] = field(default_factory=dict)

    def header(self) -> dict[str, Any]:
        """Everything but the client rows, as the JSON output's top level shows it."""
        s = self.settings
        return {"model": MODEL, "fit_id": self.fit_id, "fitted_at": self.fitted_at,
                "calibration_end": s.calibration_end.isoformat(), "time_unit": s.time_unit,
                "horizon_months": s.horizon_months, "discount_monthly": s.discount_monthly,
                "margin": s.margin, "currency": s.currency, "customers": self.customers,
                "repeat_buyers": self.repeat_buyers, "params": dict(self.params),
                "log_likelihood": dict(self.log_likelihood)}


def _money(value: float) -> Decimal:
    return _fixed(value, 2)


def _fixed(value: float, places: int = 4) -> Decimal:
    # Through repr (the shortest text of the float) and half-up, so a mean spend of
    # (29.73 + 14.96) / 2 shows as 22.35 like the exact 22.345 would.
    number = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    return abs(number) if number == 0 else number  # no "-0.0000"


def _transactions(store, settings: Settings, client_id: int | None = None
                  ) -> tuple[list[tuple[int, date, float]], dict[int, str], dict[str, int]]:
    """(client_id, local day, amount) of the won deals in the settings' currency, the
    clients' names, and counts of won deals skipped for another currency."""
    log: list[tuple[int, date, float]] = []
    names: dict[int, str] = {}
    skipped: dict[str, int] = {}
    for row in store.transactions.won(client_id=client_id):
        if row["currency"] != settings.currency:
            skipped[row["currency"]] = skipped.get(row["currency"], 0) + 1
            continue
        names[row["client_id"]] = row["client"]
        log.append((row["client_id"], dates.local_date_of(row["at"]), float(row["amount"])))
    return log, names, skipped


def _predict(bgnbd, bg, gg, rfm: list, settings: Settings) -> list[dict[str, Any]]:
    """Per-client predictions (floats) in rfm's order."""
    import numpy as np

    x, t_x, big_t, m = bgnbd.rfm_arrays(rfm)
    unit_days = bgnbd.TIME_UNIT_DAYS[settings.time_unit]
    horizon = settings.horizon_months * bgnbd.DAYS_PER_MONTH / unit_days
    with np.errstate(all="ignore"):
        purchases = np.atleast_1d(bgnbd.expected_purchases(bg, horizon, x, t_x, big_t))
        alive = np.atleast_1d(bgnbd.probability_alive(bg, x, t_x, big_t))
        spend = np.atleast_1d(bgnbd.expected_average_spend(gg, x, m))
        clv = np.atleast_1d(bgnbd.discounted_clv(
            bg, gg, x, t_x, big_t, horizon_months=settings.horizon_months,
            discount_monthly=settings.discount_monthly, time_unit_days=unit_days,
            margin=settings.margin, monetary_value=m))
    if not all(np.all(np.isfinite(v)) for v in (purchases, alive, spend, clv)):
        raise PredictionError("the fitted model gives non-finite predictions for this data "
                              "(too few or too extreme purchase histories)")
    return [{"frequency": int(x[i]), "recency": float(t_x[i]), "age": float(big_t[i]),
             "repeat_spend": float(m[i]), "expected_purchases": float(purchases[i]),
             "p_alive": float(alive[i]), "expected_spend": float(spend[i]), "clv": float(clv[i])}
            for i in range(len(rfm))]


def _display(row: dict[str, Any]) -> dict[str, Any]:
    """Rounded for output: times and money to 2 places, counts and probabilities to 4."""
    return {"frequency": row["frequency"], "recency": _fixed(row["recency"], 2),
            "age": _fixed(row["age"], 2), "repeat_spend": _money(row["repeat_spend"]),
            "expected_purchases": _fixed(row["expected_purchases"]),
            "p_alive": _fixed(row["p_alive"]), "expected_spend": _money(row["expected_spend"]),
            "clv": _money(row["clv"])}


def fit_and_predict(store, settings: Settings) -> Prediction:
    """Fit BG/NBD and Gamma-Gamma on the won deals, save the fit, predict every client.

    Raises PredictionError when numpy/scipy are missing or the data cannot support a fit;
    nothing is saved then.
    """
    bgnbd = load_model()
    log, names, skipped = _transactions(store, settings)
    cal_end = settings.calibration_end
    if not log:
        other = f" (won deals in other currencies: {_counts(skipped)})" if skipped else ""
        raise PredictionError(f"no won deals in {settings.currency} to fit the model on{other}")
    first = min(day for _, day, _ in log)
    if cal_end < first:
        raise PredictionError(f"calibration end {cal_end.isoformat()} is before the first "
                              f"won deal ({first.isoformat()}); nothing to fit")
    rfm = bgnbd.rfm_from_transactions(log, cal_end, settings.time_unit)
    repeat = sum(1 for row in rfm if row.frequency > 0)
    if len(rfm) < MIN_CUSTOMERS or repeat < MIN_REPEAT_BUYERS:
        raise PredictionError(
            f"too little data for a BG/NBD fit: {len(rfm)} clients with won deals by "
            f"{cal_end.isoformat()}, {repeat} of them with a repeat purchase (need at least "
            f"{MIN_CUSTOMERS} clients and {MIN_REPEAT_BUYERS} repeat buyers); until then "
            "use the historical CLV (crm report clv)")
    x, t_x, big_t, m = bgnbd.rfm_arrays(rfm)
    try:
        bg = bgnbd.fit_bgnbd(x, t_x, big_t, min_repeat_buyers=MIN_REPEAT_BUYERS)
        gg = bgnbd.fit_gamma_gamma(x, m, min_repeat_buyers=MIN_REPEAT_BUYERS)
        predicted = _predict(bgnbd, bg, gg, rfm, settings)
    except bgnbd.ModelFitError as exc:
        raise PredictionError(
            f"cannot fit the model to these won deals: {exc}. Use the historical CLV "
            "(crm report clv) until the book has that, or try --calibration-end at a later "
            "date or a shorter clv.time_unit") from None
    params = {"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b,
              "p": gg.p, "q": gg.q, "gamma": gg.gamma}
    lls = {"bgnbd": bg.log_likelihood, "gamma_gamma": gg.log_likelihood}
    fit_id = store.transactions.save_model_fit(
        MODEL, calibration_end=cal_end.isoformat(), time_unit=settings.time_unit,
        customers=len(rfm), params={**params, "log_likelihood": lls},
        settings={"horizon_months": settings.horizon_months,
                  "discount_monthly": settings.discount_monthly, "margin": settings.margin,
                  "currency": settings.currency, "repeat_buyers": repeat},
        summary=f"fitted BG/NBD + Gamma-Gamma on {len(rfm)} clients to {cal_end.isoformat()}")
    fitted_at = store.transactions.model_fit(fit_id)["fitted_at"]
    clients = [{"client_id": row.customer_id, "client": names[row.customer_id], **_display(p)}
               for row, p in zip(rfm, predicted, strict=True)]
    clients.sort(key=lambda r: (-r["clv"], r["client_id"]))
    return Prediction(settings=settings, fit_id=fit_id, fitted_at=fitted_at, customers=len(rfm),
                      repeat_buyers=repeat, params=params, log_likelihood=lls, clients=clients,
                      skipped_currencies=skipped)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} in {cur}" for cur, n in sorted(counts.items()))


def card_prediction(store, config, client: dict | int) -> dict | None:
    """P(alive) and predicted CLV of one client from the latest saved BG/NBD fit.

    Computed from the client's won deals up to the fit's calibration end, with the fit's
    time unit, horizon, discount, margin and currency (the numbers `crm report clv --model
    bgnbd` showed for this client). None when there is no saved fit, the client has no won
    deal in the fit's currency by its calibration end, or numpy/scipy are not installed.

    Returns {"p_alive": float, "predicted_clv": Decimal, "expected_purchases": float,
    "expected_spend": Decimal, "currency", "horizon_months", "calibration_end",
    "fitted_at", "fit_id"}.
    """
    fit = store.transactions.latest_model_fit(MODEL)
    if fit is None:
        return None
    try:
        bgnbd = load_model()
    except PredictionError:
        return None
    client_id = client["id"] if isinstance(client, dict) else int(client)
    saved = fit["settings"]
    settings = Settings(
        calibration_end=date.fromisoformat(fit["calibration_end"]), time_unit=fit["time_unit"],
        horizon_months=int(saved.get("horizon_months", config["clv.horizon_months"])),
        discount_monthly=float(saved.get("discount_monthly",
                                         config["clv.discount_monthly"])),
        margin=float(saved.get("margin", config["clv.margin"])),
        currency=saved.get("currency", store.config["currency"]))
    log, _, _ = _transactions(store, settings, client_id=client_id)
    rfm = bgnbd.rfm_from_transactions(log, settings.calibration_end, settings.time_unit)
    if not rfm:
        return None
    p = fit["params"]
    bg = SimpleNamespace(r=p["r"], alpha=p["alpha"], a=p["a"], b=p["b"])
    gg = SimpleNamespace(p=p["p"], q=p["q"], gamma=p["gamma"])
    try:
        row = _predict(bgnbd, bg, gg, rfm, settings)[0]
    except (bgnbd.ModelFitError, PredictionError):
        return None
    shown = _display(row)
    return {"p_alive": float(shown["p_alive"]), "predicted_clv": shown["clv"],
            "expected_purchases": float(shown["expected_purchases"]),
            "expected_spend": shown["expected_spend"], "currency": settings.currency,
            "horizon_months": settings.horizon_months,
            "calibration_end": settings.calibration_end.isoformat(),
            "fitted_at": fit["fitted_at"], "fit_id": fit["id"]}
