"""The pipeline funnel (crmcli.metrics.funnel) on small books built by hand in a real store;
expected numbers are worked out in the comments. Default pipeline: lead, qualified,
proposal, negotiation, won, lost (won_stages [won], lost_stages [lost])."""

from __future__ import annotations

from crmcli.config import Config
from crmcli.metrics.funnel import FIELDS, funnel_report
from crmcli.store import CrmStore

CFG = Config()


def day(d: str) -> str:
    return f"2026-{d}T09:00:00Z"


def client(store, name, path, created="01-01"):
    """A client created in path[0] on `created`, then moved along path[1:] (stage, MM-DD)."""
    first, *moves = path
    cid = store.clients.add(name, stage=first, at=day(created)) if first else \
        store.clients.add(name, at=day(created))
    for stage, when in moves:
        store.clients.set_stage(cid, stage, at=day(when))
    return cid


def stage(name, reached, conversion, in_stage, median_days, won, lost, win_rate):
    return dict(zip(FIELDS, (name, reached, conversion, in_stage, median_days, won, lost,
                             win_rate), strict=True))


def test_funnel(store):
    client(store, "A", ["lead", ("qualified", "01-11"), ("proposal", "01-31"), ("won", "02-10")])
    client(store, "B", ["lead", ("qualified", "01-05"), ("lost", "01-09")])
    client(store, "C", ["lead", ("proposal", "01-21")])         # skips qualified
    client(store, "D", ["lead"])                                 # still a lead
    client(store, "E", [None])                                   # no stage at all
    client(store, "G", ["lost"])                                 # lost straight away
    gone = client(store, "F", ["lead", ("won", "01-02")])
    store.clients.archive(gone)                                   # archived: left out
    # furthest stage reached: A won, B qualified, C proposal, D lead (G none, E none)
    # reached: lead A B C D = 4; qualified A B C = 3 (C passed it); proposal A C = 2;
    #   negotiation A = 1 (A skipped it on the way to won); won A = 1
    # conversion: 3/4 = 75.0, 2/3 = 66.7, 1/2 = 50.0, 1/1 = 100.0, last None
    # completed stays: lead A 10 d, B 4 d, C 20 d -> median 10; qualified A 20, B 4 -> 12;
    #   proposal A 10; nobody ever left won or lost
    # win rate of those that reached the stage: lead A won, B lost -> 1/2; qualified the
    #   same (C undecided); proposal, negotiation, won: only A decided -> 100
    # lost: B and G were there (and are now)
    assert funnel_report(store, CFG) == [
        stage("lead", 4, 75.0, 1, 10.0, 1, 1, 50.0),
        stage("qualified", 3, 100 * 2 / 3, 0, 12.0, 1, 1, 50.0),
        stage("proposal", 2, 50.0, 1, 10.0, 1, 0, 100.0),
        stage("negotiation", 1, 100.0, 0, None, 1, 0, 100.0),
        stage("won", 1, None, 1, None, 1, 0, 100.0),
        stage("lost", 2, None, 2, None, None, None, None),
    ]


def test_stages_nobody_reached(store):
    client(store, "A", ["lead", ("qualified", "01-03")])
    client(store, "B", ["lead", ("qualified", "01-05"), ("proposal", "01-06")])
    # lead 2 -> qualified 2 (100) -> proposal 1 (50) -> negotiation 0 (0) -> won 0
    # stays: lead 2 d, 4 d -> 3; qualified B 1 d
    assert funnel_report(store, CFG) == [
        stage("lead", 2, 100.0, 0, 3.0, 0, 0, None),
        stage("qualified", 2, 50.0, 1, 1.0, 0, 0, None),
        stage("proposal", 1, 0.0, 1, None, 0, 0, None),
        stage("negotiation", 0, None, 0, None, 0, 0, None),
        stage("won", 0, None, 0, None, 0, 0, None),
        stage("lost", 0, None, 0, None, None, None, None),
    ]


def test_a_stay_can_be_fractional_and_a_client_can_come_back(store):
    cid = client(store, "A", ["lead", ("qualified", "01-02")])   # lead 1 day
    store.clients.set_stage(cid, "lead", at="2026-01-02T21:00:00Z")      # qualified 0.5 day
    store.clients.set_stage(cid, "won", at="2026-01-05T21:00:00Z")       # lead again, 3 days
    # lead stays 1 and 3 -> median 2.0; qualified 0.5
    rows = {r["stage"]: r for r in funnel_report(store, CFG)}
    assert (rows["lead"]["median_days"], rows["qualified"]["median_days"]) == (2.0, 0.5)
    assert [rows[s]["reached"] for s in ("lead", "qualified", "proposal", "won")] == [1] * 4


def test_empty_database(store):
    rows = funnel_report(store, CFG)
    assert [r["stage"] for r in rows] == ["lead", "qualified", "proposal", "negotiation", "won",
                                          "lost"]
    assert all(r["reached"] == 0 and r["in_stage"] == 0 and r["median_days"] is None
               and r["conversion"] is None and r["win_rate"] is None for r in rows)


def test_a_single_client(store):
    client(store, "Solo", ["lead", ("won", "01-08")])
    # lead 7 days; reached every stage up to won (skipped ones count as passed)
    assert funnel_report(store, CFG)[0] == stage("lead", 1, 100.0, 0, 7.0, 1, 0, 100.0)
    assert funnel_report(store, CFG)[4] == stage("won", 1, None, 1, None, 1, 0, 100.0)


def test_a_configured_pipeline(db_path):
    cfg = Config()
    cfg.data.update(pipeline=["new", "demo", "signed", "gone", "dead"],
                    won_stages=["signed"], lost_stages=["gone", "dead"])
    with CrmStore(db_path, cfg) as store:
        a = client(store, "A", ["new", ("demo", "01-03"), ("gone", "01-04")])
        client(store, "B", ["new", ("signed", "01-09")])
        rows = funnel_report(store, cfg)
    # new 2 (A, B) -> demo 2 (B skipped it) -> signed 1; win rate 1 won / (1 + 1 lost)
    # new stays 2 and 8 days -> 5; demo A 1 day
    # lost stages follow in order, each with who was ever there
    assert a and rows == [
        stage("new", 2, 100.0, 0, 5.0, 1, 1, 50.0),
        stage("demo", 2, 50.0, 0, 1.0, 1, 1, 50.0),
        stage("signed", 1, None, 1, None, 1, 0, 100.0),
        stage("gone", 1, None, 1, None, None, None, None),
        stage("dead", 0, None, 0, None, None, None, None),
    ]


def _cohort_book(store):
    client(store, "A", ["lead", ("qualified", "01-11"), ("proposal", "01-31"), ("won", "02-10")])
    client(store, "B", ["lead", ("qualified", "02-15"), ("lost", "03-01")], created="02-05")
    client(store, "C", ["lead", ("proposal", "03-20")], created="03-10")
    client(store, "D", [None], created="02-20")                  # never in the pipeline


def test_since_keeps_the_clients_who_entered_the_pipeline_from_that_day(store):
    _cohort_book(store)
    # entered from 02-01: B (02-05) and C (03-10); A entered 01-01. Stages now: B lost,
    # C proposal. Furthest: B qualified, C proposal (skipping qualified).
    # reached: lead 2, qualified 2, proposal 1 -> conversion 100, 50, 0 (then 0 of 0: None)
    # stays: B lead 10 d, B qualified 14 d, C lead 10 d -> lead median 10, qualified 14
    # decided: B lost, C not -> win rate 0 down to qualified; proposal on, nobody decided
    assert funnel_report(store, CFG, since="2026-02-01") == [
        stage("lead", 2, 100.0, 0, 10.0, 0, 1, 0.0),
        stage("qualified", 2, 50.0, 0, 14.0, 0, 1, 0.0),
        stage("proposal", 1, 0.0, 1, None, 0, 0, None),
        stage("negotiation", 0, None, 0, None, 0, 0, None),
        stage("won", 0, None, 0, None, 0, 0, None),
        stage("lost", 1, None, 1, None, None, None, None),
    ]


def test_until_shows_the_funnel_as_it_stood_at_the_end_of_that_day(store):
    _cohort_book(store)
    # by the end of 02-12: A had entered (01-01) and won (02-10), B had entered (02-05) and
    # was still a lead; C did not exist. B's move on 02-15 has not happened, so B's lead stay
    # is not over: completed stays are A's lead 10 d, qualified 20 d, proposal 10 d.
    # reached: lead 2, then A alone (skipping negotiation) -> 50, 100, 100, 100
    # decided: A won -> 100 everywhere; B undecided
    assert funnel_report(store, CFG, until="2026-02-12") == [
        stage("lead", 2, 50.0, 1, 10.0, 1, 0, 100.0),
        stage("qualified", 1, 100.0, 0, 20.0, 1, 0, 100.0),
        stage("proposal", 1, 100.0, 0, 10.0, 1, 0, 100.0),
        stage("negotiation", 1, 100.0, 0, None, 1, 0, 100.0),
        stage("won", 1, None, 1, None, 1, 0, 100.0),
        stage("lost", 0, None, 0, None, None, None, None),
    ]


def test_a_window_nobody_entered_in_is_an_empty_funnel(store):
    _cohort_book(store)
    rows = funnel_report(store, CFG, since="2026-04-01", until="2026-04-30")
    assert [(r["stage"], r["reached"], r["in_stage"]) for r in rows] == [
        ("lead", 0, 0), ("qualified", 0, 0), ("proposal", 0, 0), ("negotiation", 0, 0),
        ("won", 0, 0), ("lost", 0, 0)]


def test_the_whole_window_is_the_whole_book(store):
    _cohort_book(store)
    assert funnel_report(store, CFG, since="2000-01-01", until="2100-01-01") == \
        funnel_report(store, CFG)
