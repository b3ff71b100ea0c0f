"""Predictive CLV: `crm report clv --model bgnbd`, show_bgnbd and card_prediction.

The CDNOW sample (tests/fixtures/cdnow_sample.csv, see test_bgnbd.py) is imported as won
deals and fitted through the report; the published estimates must come out of it:
BG/NBD r=0.243, alpha=4.414, a=0.793, b=2.426 (Fader, Hardie & Lee 2005) and
Gamma-Gamma p=6.25, q=3.74, gamma=15.44 (Fader & Hardie 2013).
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import typer

from crmcli.commands._errors import handle_errors
from crmcli.commands.report_predict import show_bgnbd
from crmcli.config import Config
from crmcli.services.prediction import PredictionError, card_prediction
from crmcli.store import CrmStore, UsageError

FIXTURE = Path(__file__).parent / "fixtures" / "cdnow_sample.csv"
ROOT = Path(__file__).resolve().parents[1]

# --- data ------------------------------------------------------------------------------


def import_cdnow(store: CrmStore) -> dict[str, int]:
    """Every CDNOW transaction as a won deal, one client per customer, in one change."""
    with FIXTURE.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    ids: dict[str, int] = {}
    with store.change("import", "CDNOW sample"):
        for row in rows:
            cid = row["customer_id"]
            if cid not in ids:
                ids[cid] = store.clients.add(f"Customer {cid}", external_id=f"cdnow-{cid}")
            store.deals.add(ids[cid], row["amount"], at=date.fromisoformat(row["date"]))
    return ids


@pytest.fixture(scope="module")
def cdnow_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cdnow") / "cdnow.db"
    with CrmStore(path, Config()) as s:
        ids = import_cdnow(s)
        assert len(ids) == 2357
        assert s.scalar("SELECT count(*) FROM deals WHERE status = 'won'") == 6919
    return path


@pytest.fixture
def cdnow_db(cdnow_file, db_path, crm):
    """The CDNOW database, copied to this test's CRM_DB (crm db copy to PostgreSQL)."""
    if isinstance(db_path, str):
        crm("db", "copy", str(cdnow_file), db_path)
        return db_path
    with CrmStore(cdnow_file, Config()) as s:
        s.backup_to(db_path)
    return db_path


@pytest.fixture
def cdnow_store(cdnow_db):
    with CrmStore(cdnow_db, Config()) as s:
        yield s


# A small book: purchases in weeks after Monday 2026-01-05, calibration end 2026-11-01
# (300 days = 42.857 weeks after the start). Amounts drawn once from the Gamma-Gamma model
# (p=4, q=3, gamma=20) and written down here.
START = date(2026, 1, 5)
CAL_END = date(2026, 11, 1)
SMALL = [
    ([0], [17]), ([0], [18]), ([3], [10]), ([5], [42]), ([1], [32]), ([8], [34]), ([0], [25]),
    ([2], [6]), ([0, 10], [81, 84]), ([0, 5, 30], [25, 16, 18]),
    ([3, 4, 8, 20], [53, 54, 40, 100]), ([0, 1, 2, 3], [34, 12, 32, 18]), ([6, 26], [27, 10]),
    ([0, 2], [69, 50]), ([10, 11, 42], [22, 13, 9]),
    ([0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40], [19, 41, 34, 11, 12, 20, 19, 16, 28, 15, 21]),
    ([1, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 42],
     [33, 33, 16, 16, 29, 7, 10, 24, 19, 18, 26, 25, 11, 24, 17]),
    ([0, 1, 2], [44, 62, 17]), ([2, 30, 41], [49, 134, 105]), ([5, 6], [20, 46]),
]


def add_small_book(store: CrmStore, book=SMALL) -> list[int]:
    ids = []
    with store.change("import", "small book"):
        for n, (weeks, amounts) in enumerate(book, 1):
            cid = store.clients.add(f"Client {n:02d}")
            ids.append(cid)
            for week, amount in zip(weeks, amounts, strict=True):
                day = START + timedelta(weeks=week)
                if n == 14 and week == 2:  # two deals on one day are one purchase of 50
                    store.deals.add(cid, "30", at=day)
                    store.deals.add(cid, "20.00", at=day)
                else:
                    store.deals.add(cid, str(amount), at=day)
    return ids


def config(**clv) -> Config:
    cfg = Config()
    cfg.data["clv"].update(clv)
    return cfg


def run(store, capsys, *, cal=CAL_END.isoformat(), horizon=None, discount=None, top=None,
        fmt="json", cfg=None):
    """show_bgnbd as the command calls it, errors turned into exit codes like the CLI."""
    try:
        handle_errors(show_bgnbd)(store, cfg or Config(), cal, horizon, discount, top, fmt)
        code = 0
    except typer.Exit as exc:
        code = exc.exit_code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def p_alive(p, x, t_x, big_t):
    if x == 0:
        return 1.0
    ratio = ((p["alpha"] + big_t) / (p["alpha"] + t_x)) ** (p["r"] + x)
    return 1 / (1 + p["a"] / (p["b"] + x - 1) * ratio)


def spend(p, x, m):
    return p["p"] * (p["gamma"] + x * m) / (p["p"] * x + p["q"] - 1)


# --- the CDNOW reproduction, through the real CLI ------------------------------------------


def clv_cli(crm, *args, ok=True):
    return crm("report", "clv", "--model", "bgnbd", *args, ok=ok)


def test_cli_fit_on_cdnow_reproduces_the_published_parameters(crm, cdnow_db, tmp_path):
    (tmp_path / "config.yaml").write_text("timezone: UTC\nclv:\n  time_unit: weeks\n")
    result = clv_cli(crm, "--calibration-end", "1997-09-30", "--top", "5000", "-f", "json")
    data = json.loads(result.stdout)
    p = data["params"]
    assert (round(p["r"], 3), round(p["alpha"], 3), round(p["a"], 3), round(p["b"], 3)) == (
        0.243, 4.414, 0.793, 2.426)
    assert (round(p["p"], 2), round(p["q"], 2), round(p["gamma"], 2)) == (6.25, 3.74, 15.44)
    assert round(data["log_likelihood"]["bgnbd"], 1) == -9582.4
    assert data["model"] == "bgnbd" and data["time_unit"] == "weeks"
    assert (data["customers"], data["repeat_buyers"]) == (2357, 946)
    assert data["calibration_end"] == "1997-09-30" and data["horizon_months"] == 12
    assert len(data["clients"]) == 2357
    # customer 1 is the paper's worked example: x=2, t_x=30.43, T=38.86
    first = next(c for c in data["clients"] if c["client"] == "Customer 1")
    assert (first["frequency"], first["recency"], first["age"]) == (2, 30.43, 38.86)
    assert first["repeat_spend"] == 22.35  # (29.73 + 14.96) / 2, the first purchase excluded


def test_cdnow_worked_example_expected_purchases_over_39_weeks(cdnow_store, capsys):
    store = cdnow_store
    # The paper: E[Y(39) | x=2, t_x=30.43, T=38.86] = 1.226. 39 weeks are not whole months,
    # so check the model at the fitted parameters the report saved.
    from crmcli.metrics import bgnbd

    code, out, _ = run(store, capsys, cal="1997-09-30")
    assert code == 0
    p = json.loads(out)["params"]
    params = bgnbd.BGNBDParams(p["r"], p["alpha"], p["a"], p["b"], 0.0, True)
    assert round(bgnbd.expected_purchases(params, 39, 2, 30.43, 38.86), 3) == 1.226


def test_cdnow_fit_is_saved_and_shown_per_client_by_card_prediction(cdnow_store, capsys):
    store = cdnow_store
    assert card_prediction(store, Config(), 1) is None  # nothing fitted yet
    code, out, _ = run(store, capsys, cal="1997-09-30")
    assert code == 0
    data = json.loads(out)
    fit = store.transactions.latest_model_fit("bgnbd")
    assert fit["calibration_end"] == "1997-09-30" and fit["time_unit"] == "weeks"
    assert fit["customers"] == 2357 and fit["fitted_at"] == "2026-11-22T10:00:00Z"
    assert round(fit["params"]["r"], 3) == 0.243
    client = store.clients.resolve("cdnow-1")
    card = card_prediction(store, Config(), client)
    row = next(c for c in data["clients"] if c["client_id"] == client["id"])
    assert card["p_alive"] == row["p_alive"]
    assert card["predicted_clv"] == Decimal(str(row["clv"]))
    assert card["expected_purchases"] == row["expected_purchases"]
    assert card["fitted_at"] == "2026-11-22T10:00:00Z"
    assert card["calibration_end"] == "1997-09-30" and card["currency"] == "USD"
    # P(alive) of customer 1 by hand at the saved parameters
    assert card["p_alive"] == pytest.approx(p_alive(fit["params"], 2, 213 / 7, 272 / 7),
                                            abs=5e-5)


def test_cdnow_sorted_by_clv_and_top_limits(cdnow_store, capsys):
    store = cdnow_store
    code, out, _ = run(store, capsys, cal="1997-09-30", top=5)
    clients = json.loads(out)["clients"]
    assert len(clients) == 5
    clvs = [c["clv"] for c in clients]
    assert clvs == sorted(clvs, reverse=True)
    assert clients[0]["client"] == "Customer 509" and clvs[0] > 1000


# --- a small book, checked by hand ------------------------------------------------------


@pytest.fixture
def small(store):
    return add_small_book(store)


def test_small_book_frequency_recency_age_by_hand(store, small, capsys):
    code, out, err = run(store, capsys)
    assert code == 0, err
    data = json.loads(out)
    rows = {c["client"]: c for c in data["clients"]}
    assert len(rows) == 20 and data["repeat_buyers"] == 12 and data["customers"] == 20
    # Client 10: weeks 0, 5, 30 -> x=2, t_x=30, T=300/7=42.857, repeat spend (16+18)/2
    c10 = rows["Client 10"]
    assert (c10["frequency"], c10["recency"], c10["age"], c10["repeat_spend"]) == (
        2, 30.0, 42.86, 17.0)
    # Client 14: two deals (30 + 20) on one day in week 2 are one repeat purchase of 50
    c14 = rows["Client 14"]
    assert (c14["frequency"], c14["recency"], c14["repeat_spend"]) == (1, 2.0, 50.0)
    # Client 8: one purchase in week 2 -> x=0, t_x=0, T=(300-14)/7
    c08 = rows["Client 08"]
    assert (c08["frequency"], c08["recency"], c08["age"], c08["repeat_spend"]) == (
        0, 0.0, 40.86, 0.0)
    assert c08["p_alive"] == 1.0  # no repeat purchase: cannot have dropped out under BG/NBD


def test_small_book_predictions_follow_the_formulas_at_the_fitted_parameters(
        store, small, capsys):
    # One-month horizon: CLV = E[Y(1 month)] * E[M] * margin / (1 + d)
    code, out, err = run(store, capsys, horizon="1m", discount=0.02,
                         cfg=config(margin=0.5))
    assert code == 0, err
    data = json.loads(out)
    p = data["params"]
    assert data["horizon_months"] == 1 and data["discount_monthly"] == 0.02
    assert data["margin"] == 0.5
    for c in data["clients"]:
        x, t_x, big_t = c["frequency"], c["recency"], c["age"]
        assert c["p_alive"] == pytest.approx(p_alive(p, x, t_x, big_t), abs=2e-3)
        assert c["expected_spend"] == pytest.approx(spend(p, x, c["repeat_spend"]), abs=0.01)
        assert c["clv"] == pytest.approx(
            c["expected_purchases"] * c["expected_spend"] * 0.5 / 1.02, rel=2e-3, abs=0.01)
    c10 = next(c for c in data["clients"] if c["client"] == "Client 10")
    assert c10["p_alive"] == pytest.approx(p_alive(p, 2, 30, 300 / 7), abs=5e-5)


def test_small_book_fit_is_the_maximum_of_the_likelihood(store, small, capsys):
    from crmcli.metrics import bgnbd

    code, out, _ = run(store, capsys)
    data = json.loads(out)
    p = data["params"]
    rows = data["clients"]
    x = [c["frequency"] for c in rows]
    t_x = [c["recency"] for c in rows]
    big_t = [c["age"] for c in rows]
    best = bgnbd.BGNBDParams(p["r"], p["alpha"], p["a"], p["b"], 0.0, True)
    top = bgnbd.bgnbd_log_likelihood(best, x, t_x, big_t)
    for name in ("r", "alpha", "a", "b"):
        for factor in (0.98, 1.02):
            moved = bgnbd.BGNBDParams(**{**{k: p[k] for k in ("r", "alpha", "a", "b")},
                                         name: p[name] * factor}, log_likelihood=0.0,
                                      converged=True)
            assert bgnbd.bgnbd_log_likelihood(moved, x, t_x, big_t) < top


def test_longer_horizon_and_lower_discount_give_more_value(store, small, capsys):
    def clv_of(**kw):
        code, out, _ = run(store, capsys, **kw)
        assert code == 0
        return {c["client"]: c["clv"] for c in json.loads(out)["clients"]}

    base = clv_of()
    two_years = clv_of(horizon="2y")
    undiscounted = clv_of(discount=0.0)
    for name, value in base.items():
        assert two_years[name] > value > 0
        assert undiscounted[name] > value


def test_time_unit_days_from_the_config(store, small, capsys):
    code, out, _ = run(store, capsys, cfg=config(time_unit="days"))
    assert code == 0
    data = json.loads(out)
    c10 = next(c for c in data["clients"] if c["client"] == "Client 10")
    assert data["time_unit"] == "days"
    assert (c10["recency"], c10["age"]) == (210.0, 300.0)
    # the model is the same whatever the unit: alpha scales by 7, the predictions agree
    code, out, _ = run(store, capsys)
    weeks = json.loads(out)
    assert data["params"]["alpha"] == pytest.approx(7 * weeks["params"]["alpha"], rel=1e-3)
    assert data["params"]["r"] == pytest.approx(weeks["params"]["r"], rel=1e-3)
    by_name = {c["client"]: c for c in weeks["clients"]}
    for c in data["clients"]:
        assert c["p_alive"] == pytest.approx(by_name[c["client"]]["p_alive"], abs=2e-3)


def test_every_format(store, small, capsys):
    code, out, err = run(store, capsys, fmt="table", top=3)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("BG/NBD + Gamma-Gamma fit on 20 clients (12 repeat buyers)")
    assert lines[1].split() == ["model", "parameter", "value"]
    assert any(line.split()[:2] == ["BG/NBD", "alpha"] for line in lines)
    assert any(line.split()[:2] == ["Gamma-Gamma", "gamma"] for line in lines)
    head = next(i for i, line in enumerate(lines) if line.startswith("client_id"))
    assert lines[head].split() == ["client_id", "client", "frequency", "recency", "age",
                                   "repeat_spend", "expected_purchases", "p_alive",
                                   "expected_spend", "clv"]
    assert len(lines) == head + 2 + 3
    assert "\x1b[" not in out

    code, out, _ = run(store, capsys, fmt="markdown", top=3)
    assert "| model | parameter | value |" in out
    assert "| client_id | client | frequency |" in out

    for fmt, sep in (("csv", ","), ("tsv", "\t")):
        code, out, err = run(store, capsys, fmt=fmt, top=4)
        rows = list(csv.reader(out.splitlines(), delimiter=sep))
        assert rows[0][:3] == ["client_id", "client", "frequency"] and len(rows) == 5
        assert "params: BG/NBD r=" in err  # parameters go to stderr, data stays clean

    code, out, err = run(store, capsys, fmt="ndjson")
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 20 and set(records[0]) == {
        "client_id", "client", "frequency", "recency", "age", "repeat_spend",
        "expected_purchases", "p_alive", "expected_spend", "clv"}
    assert "Gamma-Gamma p=" in err

    code, out, _ = run(store, capsys, fmt="json", top=2)
    data = json.loads(out)
    assert set(data) >= {"model", "params", "clients", "fitted_at", "calibration_end"}
    assert len(data["clients"]) == 2 and isinstance(data["clients"][0]["clv"], float)


def test_every_fit_is_saved_as_one_change(store, small, capsys):
    before = store.scalar("SELECT count(*) FROM changes")
    run(store, capsys)
    run(store, capsys, horizon="6m")
    assert store.scalar("SELECT count(*) FROM model_fits") == 2
    assert store.scalar("SELECT count(*) FROM changes") == before + 2
    assert store.scalar("SELECT command FROM changes ORDER BY id DESC LIMIT 1") == "report clv"
    assert store.transactions.latest_model_fit("bgnbd")["settings"]["horizon_months"] == 6
    assert store.transactions.latest_model_fit("pareto") is None


def test_card_prediction_uses_the_latest_fit_and_its_settings(store, small, capsys):
    assert card_prediction(store, Config(), small[9]) is None
    run(store, capsys, horizon="1m")
    code, out, _ = run(store, capsys, horizon="24m")
    data = json.loads(out)
    row = next(c for c in data["clients"] if c["client_id"] == small[9])
    card = card_prediction(store, Config(), store.clients.get(small[9]))
    assert card["horizon_months"] == 24
    assert card["predicted_clv"] == Decimal(str(row["clv"])) and card["predicted_clv"] > 0
    assert card["p_alive"] == row["p_alive"]
    assert 0 < card["p_alive"] <= 1
    # a client whose first deal comes after the calibration end is not in the fit
    late = store.clients.add("Latecomer")
    store.deals.add(late, "10", at=date(2026, 11, 10))
    assert card_prediction(store, Config(), late) is None
    # a client without won deals has no prediction
    assert card_prediction(store, Config(), store.clients.add("Nobody")) is None


def test_deals_after_the_calibration_end_are_not_used(store, small, capsys):
    code, out, _ = run(store, capsys)
    before = json.loads(out)
    store.deals.add(small[9], "999", at=date(2026, 11, 5))  # after 2026-11-01
    store.deals.add(small[9], "5", status="open", at=date(2026, 10, 5))  # not won
    code, out, _ = run(store, capsys)
    after = json.loads(out)
    assert after["params"] == before["params"]
    assert after["clients"] == before["clients"]


def test_other_currencies_and_archived_clients_stay_out(store, small, capsys):
    code, out, _ = run(store, capsys)
    before = json.loads(out)
    store.deals.add(small[0], "500", currency="EUR", at=date(2026, 6, 1))
    gone = store.clients.add("Archived buyer")
    for week in (0, 3, 9):
        store.deals.add(gone, "40", at=START + timedelta(weeks=week))
    store.clients.archive(gone)
    code, out, err = run(store, capsys)
    after = json.loads(out)
    assert after["clients"] == before["clients"]
    assert "won deals in other currencies than USD are not part of the model (1 in EUR)" in err


# --- data that cannot support a fit: one line, exit 1, nothing saved ------------------------


def test_too_few_clients_is_a_clear_error(store, snapshot, db_path, capsys):
    add_small_book(store, SMALL[8:12])
    before = snapshot(db_path)
    code, out, err = run(store, capsys)
    assert code == 1 and out == ""
    assert err == ("crm: error: too little data for a BG/NBD fit: 4 clients with won deals by "
                   "2026-11-01, 4 of them with a repeat purchase (need at least 10 clients and "
                   "5 repeat buyers); until then use the historical CLV (crm report clv)\n")
    assert snapshot(db_path) == before
    with pytest.raises(PredictionError):
        show_bgnbd(store, Config(), "2026-11-01", None, None, None, "json")


def test_too_few_repeat_buyers_is_a_clear_error(store, capsys):
    add_small_book(store, [([w], [10 + w]) for w in range(12)] + [([0, 5], [10, 20])])
    code, out, err = run(store, capsys)
    assert code == 1 and out == ""
    assert "13 clients with won deals by 2026-11-01, 1 of them with a repeat purchase" in err
    assert store.scalar("SELECT count(*) FROM model_fits") == 0


def test_data_the_model_cannot_identify_is_a_clear_error(store, capsys):
    # Everybody buys exactly the same amount on the same schedule: no heterogeneity to fit.
    add_small_book(store, [([0, 10, 20], [50, 50, 50])] * 12)
    code, out, err = run(store, capsys)
    assert code == 1 and out == ""
    assert err.startswith("crm: error: cannot fit the model to these won deals: ")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert store.scalar("SELECT count(*) FROM model_fits") == 0


def test_calibration_end_before_the_first_purchase(store, small, capsys):
    code, out, err = run(store, capsys, cal="2025-12-31")
    assert code == 1 and out == ""
    assert err == ("crm: error: calibration end 2025-12-31 is before the first won deal "
                   "(2026-01-05); nothing to fit\n")


def test_no_won_deals(store, capsys):
    store.clients.add("Only a lead")
    code, _, err = run(store, capsys)
    assert code == 1 and err == "crm: error: no won deals in USD to fit the model on\n"


@pytest.mark.parametrize("kwargs,message", [
    ({"cal": "2027-01-01"}, "--calibration-end '2027-01-01': 2027-01-01 is after today "
                            "(2026-11-22)"),
    ({"cal": "someday"}, "--calibration-end: "),
    ({"horizon": "30d"}, "--horizon '30d': give whole months or years, e.g. 12m, 18m or 2y"),
    ({"horizon": "0m"}, "--horizon '0m': the horizon must be at least 1 month"),
    ({"discount": 1.5}, "--discount 1.5: must be a monthly rate from 0 up to"),
    ({"discount": -0.1}, "--discount -0.1: must be a monthly rate from 0 up to"),
    ({"top": -1}, "--top -1: must not be negative"),
])
def test_bad_options_are_usage_errors(store, small, capsys, snapshot, db_path, kwargs, message):
    before = snapshot(db_path)
    code, out, err = run(store, capsys, **kwargs)
    assert code == 2 and out == ""
    assert err.startswith("crm: error: " + message) and err.count("\n") == 1
    assert snapshot(db_path) == before


def test_defaults_come_from_the_config_and_today(store, small, capsys):
    with pytest.raises(UsageError):
        show_bgnbd(store, Config(), None, "1w", None, None, "json")
    code, out, _ = run(store, capsys, cal=None, cfg=config(horizon_months=3,
                                                           discount_monthly=0.05))
    data = json.loads(out)
    assert data["calibration_end"] == "2026-11-22"  # today (CRM_NOW)
    assert (data["horizon_months"], data["discount_monthly"]) == (3, 0.05)
    c10 = next(c for c in data["clients"] if c["client"] == "Client 10")
    assert c10["age"] == round(321 / 7, 2)  # 2026-01-05 .. 2026-11-22


# --- without numpy/scipy -----------------------------------------------------------------


BLOCK_NUMPY = (
    "import sys\n"
    "sys.modules['numpy'] = None\n"
    "sys.modules['scipy'] = None\n"
    "from crmcli.cli import main\n"
    "sys.argv = ['crm'] + sys.argv[1:]\n"
    "main()\n"
)


def run_without_numpy(*args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", BLOCK_NUMPY, *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=120)


def test_without_the_predict_extra_the_report_says_how_to_install_it(store, small, snapshot,
                                                                     db_path):
    before = snapshot(db_path)
    result = run_without_numpy("report", "clv", "--model", "bgnbd",
                               "--calibration-end", "2026-11-01")
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert result.stderr == ("crm: error: the BG/NBD model needs numpy and scipy; install the "
                             "predict extra: pip install 'crmcli[predict]'\n")
    assert snapshot(db_path) == before
    # the rest of crm works without them, and the card simply has no prediction
    result = run_without_numpy("deals", "-f", "json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == store.scalar("SELECT count(*) FROM deals")


def test_card_prediction_without_numpy_is_none(store, small, capsys, db_path):
    run(store, capsys)
    store.close()
    code = (
        "import sys\n"
        "sys.modules['numpy'] = None\n"
        "from crmcli.config import Config\n"
        "from crmcli.store import CrmStore\n"
        "from crmcli.services.prediction import card_prediction\n"
        f"s = CrmStore({str(db_path)!r}, Config())\n"
        "print(card_prediction(s, Config(), 10))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "None\n"


def test_the_report_modules_do_not_import_numpy_at_module_level():
    code = ("import sys\n"
            "import crmcli.cli, crmcli.services.prediction, crmcli.commands.report_predict\n"
            "print(sorted(m for m in ('numpy', 'scipy') if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.stdout == "[]\n", result.stderr


def test_cli_report_and_card_in_every_format(crm, store, small):
    for fmt in ("table", "json", "ndjson", "csv", "tsv", "markdown"):
        result = clv_cli(crm, "--calibration-end", "2026-11-01", "--top", "3", "-f", fmt)
        assert result.stdout.strip()
    data = json.loads(clv_cli(crm, "--calibration-end", "2026-11-01", "--top", "20",
                              "--json").stdout)
    assert len(data["clients"]) == 20 and math.isfinite(data["params"]["r"])
    assert data["horizon_months"] == 12 and data["discount_monthly"] == 0.01
    data = json.loads(clv_cli(crm, "--calibration-end", "2026-11-01", "--horizon", "2y",
                              "--discount", "0.02", "--top", "0", "--json").stdout)
    assert data["clients"] == [] and (data["horizon_months"], data["discount_monthly"]) == (
        24, 0.02)
    assert store.scalar("SELECT count(*) FROM model_fits") == 8  # one per run
    result = clv_cli(crm, "--calibration-end", "1990-01-01", ok=False)
    assert result.exit_code == 1 and "before the first won deal" in result.stderr


def test_show_card_carries_p_alive_and_predicted_clv_once_a_fit_is_saved(crm, store, small):
    client = small[9]
    before = json.loads(crm("show", str(client), "--json").stdout)
    assert "p_alive" not in before and "predicted_clv" not in before
    data = json.loads(clv_cli(crm, "--calibration-end", "2026-11-01", "--top", "20",
                              "--json").stdout)
    row = next(r for r in data["clients"] if r["client_id"] == client)
    card = json.loads(crm("show", str(client), "--json").stdout)
    assert card["p_alive"] == pytest.approx(row["p_alive"])
    assert card["predicted_clv"] == pytest.approx(row["clv"])
    assert "p_alive" in crm("show", str(client)).stdout


def test_an_impossible_fit_says_what_the_data_lacks_and_what_to_do(crm):
    # every client buys on the same clockwork schedule and nobody ever stops: the dropout
    # part of BG/NBD has nothing to go on
    for n in range(12):
        crm("add", f"C{n}")
        for month in range(1, 11):
            crm("deal", f"C{n}", "100", "--at", f"2026-{month:02d}-{10 + n % 5:02d}")
    result = crm("report", "clv", "--model", "bgnbd", ok=False)
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "it needs" in line and "Use the historical CLV (crm report clv)" in line
