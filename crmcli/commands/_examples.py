"""One or two real examples for every command's --help, keyed by the command's function.

Each runs as written on the demo book (tests/test_command_surface.py runs them there), so
keep them true: client names, ids and files that the demo book (or the export example
before an import) provides."""

from __future__ import annotations

EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "add_client": [("crm add 'Acme Corp' --email ops@acme.example --tag vip --stage lead",
                    "a client with a tag and a stage"),
                   ("crm add 'Beta Ltd' -q", "print just the new id, for id=$(...)")],
    "edit_client": [("crm edit 'Amelia Hart' --owner sam --set region=north",
                     "change the owner, set a custom field")],
    "show_client": [("crm show 'Amelia Hart'", "the card: profile, contacts, timeline, value"),
                    ("crm show 2 --fields name,tier,revenue --json", "a few fields, as JSON")],
    "list_clients": [("crm ls --tag vip --sort updated --desc", "VIP clients, latest first"),
                     ("crm ls --stage proposal --fields id,name,email -f csv",
                      "one stage as CSV")],
    "remove_client": [("crm rm 'Benjamin Cohen'", "archive (crm ls --archived shows it)")],
    "merge_clients": [("crm merge 'Amelia Hart' 'Benjamin Cohen'",
                       "move everything onto Amelia Hart")],
    "search_records": [("crm search 报价", "clients, contacts and notes containing the words"),
                       ("crm search retainer --limit 5 --json", "the first five, as JSON")],
    "tag_client": [("crm tag 'Amelia Hart' vip renewal", "add two tags"),
                   ("crm tag 'Amelia Hart' renewal --remove", "take one off")],
    "list_tags": [("crm tags", "every tag with its number of clients")],
    "set_stage": [("crm stage 'Amelia Hart' proposal --note 'sent the offer'",
                   "record a move"),
                  ("crm stage", "the pipeline board")],
    "log_interaction": [("crm log 'Amelia Hart' 'Called about the renewal' -c call --next fri",
                         "log a call and book the next step"),
                        ("crm log 2 'Unhappy with the delay' --kind complaint --in",
                         "an inbound complaint")],
    "edit_interaction": [("crm edit-log 1 --summary 'Called about the Q3 renewal'",
                          "correct a logged summary")],
    "resolve_complaint": [("crm resolve 133", "complaint 133 is resolved now"),
                          ("crm resolve 42 --at yesterday", "it was resolved yesterday")],
    "add_deal": [("crm deal 'Amelia Hart' 4200.00 --title 'Q3 retainer' --status won",
                  "a won deal (revenue)"),
                 ("crm deal 2 1500 --status open --at 2026-12-01", "an open one, dated")],
    "edit_deal": [("crm edit-deal 32 --status won", "the open deal 32 was won")],
    "list_deals": [("crm deals --status open", "the open deals, newest first"),
                   ("crm deals 'Amelia Hart' --json", "one client's deals as JSON")],
    "add_followup": [("crm followup 'Amelia Hart' tomorrow 'Send the proposal'",
                      "a one-off reminder"),
                     ("crm followup 2 mon 'Weekly check-in' --every 1w", "a recurring one")],
    "list_followups": [("crm followups", "open follow-ups, the earliest first"),
                       ("crm followups 'Amelia Hart' --json", "one client's, as JSON")],
    "done_followup": [("crm done 3", "follow-up 3 is done (a recurring one rolls forward)")],
    "snooze_followup": [("crm snooze 3 +3d", "move follow-up 3 three days later")],
    "set_cadence": [("crm cadence 'Amelia Hart' 2w", "contact every two weeks at least"),
                    ("crm cadence 'Amelia Hart'", "show the cadence and when contact is due")],
    "show_due": [("crm due", "due and overdue follow-ups, then clients gone quiet"),
                 ("crm due --within 14d --owner sam --json", "two weeks of one owner's work")],
    "import_cmd": [("crm import clients clients.csv --key id --dry-run",
                    "check a file without writing"),
                   ("crm import deals deals.csv --skip-invalid --rejects bad.csv",
                    "keep the good rows, the bad ones to a file")],
    "export_cmd": [("crm export clients -o clients.csv", "every client, as CSV"),
                   ("crm export deals --format json", "every deal, as JSON, on stdout")],
    "show_history": [("crm history --limit 5", "the last changes, newest first"),
                     ("crm history 'Amelia Hart' --since 30d", "one client's month")],
    "undo": [("crm undo --list", "what can be undone"),
             ("crm undo", "revert the last change (again: redo it)")],
    "run_demo": [("crm demo demo.db -q", "build the sample book in demo.db, print its path"),
                 ("crm demo demo.db --force --seed 3",
                  "another sample book in its place, and show it")],
    "add_contact": [("crm contact add 'Amelia Hart' 'Jane Doe' --role CTO --primary",
                     "a person at a client")],
    "list_contacts": [("crm contact ls 'Amelia Hart'", "one client's people"),
                      ("crm contact ls --fields client,name,email -f csv", "everyone, as CSV")],
    "edit_contact": [("crm contact edit 1 --email jane@example.com --primary",
                      "change contact 1")],
    "remove_contact": [("crm contact rm 1", "remove contact 1 (their interactions stay)")],
    "summary": [("crm report summary", "the headline figures of the book")],
    "retention": [("crm report retention --period quarter", "retention and churn by quarter")],
    "cohorts": [("crm report cohorts --period quarter", "the cohort heat map")],
    "churn": [("crm report churn", "churn by period and the clients at risk")],
    "clv": [("crm report clv --top 5", "historical and predictive CLV, top five clients")],
    "report_response": [("crm report response --by channel", "reply times by channel"),
                        ("crm report response --awaiting", "inbound messages awaiting a reply")],
    "report_nps": [("crm report nps --period quarter", "NPS by quarter")],
    "report_funnel": [("crm report funnel", "reach, conversion and time per stage")],
    "report_segments": [("crm report segments", "RFM segments and A/B/C tiers")],
    "show_path": [("crm db path", "the database file in use")],
    "check_db": [("crm db check", "integrity, foreign keys and the search index")],
    "backup_db": [("crm db backup backup.db", "a consistent owner-only copy")],
    "migrate_db": [("crm db migrate", "apply pending migrations; list those applied")],
    "show_config": [("crm config show", "every setting in effect"),
                    ("crm config show --json", "the same, as JSON")],
    "get_key": [("crm config get due.within", "one setting in effect")],
    "set_key": [("crm config set due.within 14d", "change one key (comments kept)")],
    "config_path": [("crm config path", "the config file in use")],
    "completion_script": [("crm completion bash", "the bash script (eval it in ~/.bashrc)"),
                          ("crm completion fish", "the fish script")],
    "init_config": [("crm config init --force", "write the commented example config")],
}


def epilog(function_name: str) -> str | None:
    """The Examples section of a command's help."""
    examples = EXAMPLES.get(function_name)
    if not examples:
        return None
    lines = []
    for cmd, what in examples:
        lines += [f"  # {what}", f"  {cmd}"]
    return "Examples:\n" + "\n".join(lines)
