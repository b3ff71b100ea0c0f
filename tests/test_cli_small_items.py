"""The smaller items of issue 14: pipeline order, messages in English, no silent search."""

from __future__ import annotations


def test_ls_sort_stage_follows_the_pipeline(crm):
    for name, stage in (("A", "won"), ("B", "lead"), ("C", "proposal"), ("D", "qualified"),
                        ("E", "lost"), ("F", "negotiation")):
        crm("add", name, "--stage", stage)
    assert [r["stage"] for r in crm.json("ls", "--sort", "stage")] == [
        "lead", "qualified", "proposal", "negotiation", "won", "lost"]


def test_search_with_no_match_says_so_on_stderr(crm):
    crm("add", "Acme")
    result = crm("search", "zzz")
    assert result.stdout == ""
    assert result.stderr == "no matches for 'zzz'\n"
    assert crm("search", "zzz", "--json").stdout.strip() == "[]"


def test_merge_counts_read_as_english(crm):
    crm("add", "Acme", "--tag", "vip")
    crm("add", "Acme Ltd", "--tag", "eu")
    result = crm("merge", "Acme", "Acme Ltd")
    assert "1 tag moved" in result.stderr and "1 tags" not in result.stderr


def test_late_cadence_rows_in_due_say_overdue(crm, tmp_path):
    (tmp_path / "config.yaml").write_text(
        "timezone: UTC\ncadence:\n  default_ideal: 30d\n  default_max: 60d\n")
    crm("add", "Quiet")
    crm("log", "Quiet", "call", "--at", "2026-10-01")   # ideal reached 10-31, 22 days late
    [row] = [r for r in crm.json("due") if r["client"] == "Quiet"]
    assert (row["status"], row["days_late"]) == ("overdue", 22)
