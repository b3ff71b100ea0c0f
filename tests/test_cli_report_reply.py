"""Which inbound interactions expect a reply: by kind, channel and score, from the config."""

from __future__ import annotations

import pytest


@pytest.fixture
def week(crm):
    crm("add", "Ana")
    crm("log", "Ana", "NPS survey", "--kind", "feedback", "--score", "9",
        "--at", "2026-11-16T09:00:00Z")                                  # feedback, in
    crm("log", "Ana", "Quarterly review", "--in", "--channel", "meeting",
        "--at", "2026-11-17T09:00:00Z")                                  # a meeting
    crm("log", "Ana", "Rated the call", "--in", "--score", "4", "--channel", "call",
        "--at", "2026-11-18T09:00:00Z")                                  # a score
    crm("log", "Ana", "Asks for a quote", "--kind", "inquiry",
        "--at", "2026-11-21T09:00:00Z")                                  # expects a reply


def test_surveys_meetings_and_scores_expect_no_reply_by_default(crm, week):
    awaiting = crm.json("report", "response", "--awaiting")
    assert [r["summary"] for r in awaiting] == ["Asks for a quote"]
    [row] = crm.json("report", "response")
    # one inquiry, 25 h old and past the 24 h SLA: a miss; the survey is not counted
    assert (row["count"], row["awaiting"], row["within_sla"]) == (0, 1, 0.0)
    assert crm.json("report", "summary")["overview"]["awaiting_reply"] == 1


def test_the_config_says_which_inbound_interactions_expect_a_reply(crm, week, tmp_path):
    (tmp_path / "config.yaml").write_text(
        "timezone: UTC\nresponse:\n  no_reply_kinds: []\n  no_reply_channels: [call]\n"
        "  reply_to_scores: true\n")
    awaiting = [r["summary"] for r in crm.json("report", "response", "--awaiting")]
    assert awaiting == ["NPS survey", "Quarterly review", "Asks for a quote"]


def test_a_channel_that_does_not_exist_is_a_config_error(crm, tmp_path):
    (tmp_path / "config.yaml").write_text("response:\n  no_reply_channels: [meetings]\n")
    result = crm("report", "response", ok=False)
    assert result.exit_code == 1
    assert "response.no_reply_channels' names 'meetings', which is not a channel" in (
        result.stderr)
