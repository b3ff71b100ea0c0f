"""The digest's pieces without a server: who gets which rows, the message, the ledger."""

from __future__ import annotations

import email
import email.policy
import subprocess
import sys

import pytest

from crmcli.config import parse_config_text
from crmcli.mail import (
    Digest,
    MailError,
    build_message,
    check_smtp_config,
    counts,
    message_text,
    plan_digests,
    subject_for,
    text_body,
)

DAY = "2026-11-22"


def row(item_id, client, owner, due, status, days_late, what="call", due_at=None):
    return {"kind": "followup", "id": item_id, "client_id": item_id, "client": client,
            "owner": owner, "due": due, "due_at": due_at, "what": what, "status": status,
            "days_late": days_late, "last_contact": None,
            "item_key": f"followup:{item_id}:{due}"}


ROWS = [
    row(1, "Beta", "sam", "2026-11-12", "overdue", 10, "ten days late"),
    row(2, "Acme", "Alex", "2026-11-20", "overdue", 2, "two days late"),
    row(3, "Gamma", None, "2026-11-22", "due", 0, "due today"),
    row(4, "Delta", "kim", "2026-11-25", "upcoming", -3, "in three days"),
]


def config(text: str):
    return parse_config_text("timezone: UTC\n" + text, "test.yaml")


# --- who gets what --------------------------------------------------------------------


def test_owners_get_their_rows_everything_else_goes_to_each_address_in_smtp_to():
    cfg = config("smtp:\n  to: [a@x.org, b@x.org]\n  owners: {alex: alex@x.org, sam: [s@x.org,"
                 " A@x.org]}\n")
    plan = {d.address: [r["id"] for r in d.rows] for d in plan_digests(ROWS, cfg)}
    # Owner matching ignores case; a@x.org is both in smtp.to and sam's list: one message.
    assert plan == {"a@x.org": [1, 3, 4], "b@x.org": [3, 4], "alex@x.org": [2], "s@x.org": [1]}


def test_a_single_smtp_to_string_is_one_recipient():
    cfg = config("smtp:\n  to: me@x.org\n")
    [digest] = plan_digests(ROWS, cfg)
    assert (digest.recipient, len(digest.rows)) == ("me@x.org", 4)


def test_no_recipient_at_all_is_an_error_naming_the_keys():
    with pytest.raises(MailError, match=r"^no recipient: set smtp.to \(or smtp.owners\)"):
        plan_digests(ROWS, config(""))


def test_counts_split_the_rows_by_status():
    assert counts(ROWS) == {"count": 4, "overdue": 2, "due": 2, "today": 1, "upcoming": 1}


# --- the subject ----------------------------------------------------------------------


def test_subject_placeholders():
    cfg = config('smtp:\n  subject: "crm: {due} due, {overdue} overdue — {date} '
                 '[{count}/{today}/{upcoming}/{new}]"\n')
    digest = Digest("me@x.org", ROWS, {"followup:4:2026-11-25"})
    assert subject_for(digest, cfg, DAY) == "crm: 2 due, 2 overdue — 2026-11-22 [4/1/1/1]"


def test_subject_notes_new_items_when_some_were_mailed_before():
    cfg = config('smtp:\n  subject: "crm: {count} due {date}"\n')
    all_new = Digest("me@x.org", ROWS, {r["item_key"] for r in ROWS})
    assert subject_for(all_new, cfg, DAY) == "crm: 4 due 2026-11-22"
    one_new = Digest("me@x.org", ROWS, {"followup:3:2026-11-22"})
    assert subject_for(one_new, cfg, DAY) == "crm: 4 due 2026-11-22 (1 new)"


def test_bad_subject_placeholder_names_the_key():
    cfg = config('smtp:\n  subject: "crm {nope}"\n')
    with pytest.raises(MailError, match=r"^smtp.subject 'crm \{nope\}' in the config.*"
                                        r"bad placeholder 'nope'; use \{count\}"):
        subject_for(Digest("me@x.org", ROWS), cfg, DAY)


# --- the body -------------------------------------------------------------------------


def test_text_table_aligns_wide_characters():
    rows = [row(1, "陈静", None, "2026-11-22", "due", 0, "报价"),
            row(12, "Acme Ltd", None, "2026-11-22", "due", 0, "quote")]
    lines = text_body(Digest("me@x.org", rows), DAY).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("id "))
    first, second = lines[header + 2], lines[header + 3]
    # 陈静 is 4 columns wide: it gets 4 spaces of padding where "Acme Ltd" gets none, so
    # "due" starts in the same terminal column on both lines.
    assert first.startswith("1   陈静      due  ")
    assert second.startswith("12  Acme Ltd  due  ")


def test_new_marks_appear_only_when_some_items_were_mailed_before():
    first = text_body(Digest("me@x.org", ROWS[:2], {r["item_key"] for r in ROWS[:2]}), DAY)
    assert "Items marked" not in first and not first.splitlines()[3].startswith("new")
    later = text_body(Digest("me@x.org", ROWS[:2], {"followup:2:2026-11-20"}), DAY)
    table = [line for line in later.splitlines() if line.startswith(("new", "*", " "))]
    assert table[0].split()[:2] == ["new", "id"]
    assert [line[:6] for line in later.splitlines() if "late" in line and "2026" in line] == [
        "     1", "*    2"]


def test_timed_follow_ups_show_their_local_time():
    from crmcli import dates

    dates.set_timezone("Asia/Tokyo")
    rows = [row(1, "Acme", None, "2026-11-23", "upcoming", -1, due_at="2026-11-23T01:30:00Z")]
    body = text_body(Digest("me@x.org", rows), DAY)
    assert "2026-11-23 10:30" in body


def test_message_headers_and_parts():
    cfg = config('smtp:\n  from: CRM <crm@x.org>\n  to: me@x.org\n'
                 '  subject: "crm: {count} due — {date}"\n')
    digest = Digest("me@x.org", ROWS, {r["item_key"] for r in ROWS})
    msg = build_message(digest, cfg, DAY, sender="CRM <crm@x.org>")
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert parsed["From"] == "CRM <crm@x.org>"
    assert parsed["Subject"] == "crm: 4 due — 2026-11-22"
    assert parsed["Message-ID"].endswith("@x.org>")
    assert parsed["Date"] == "Sun, 22 Nov 2026 10:00:00 +0000"
    assert parsed.get_content_type() == "multipart/alternative"
    plain = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    for r in ROWS:
        assert r["what"] in plain and f"<td>{r['what']}</td>" in html


def test_html_escapes_client_text():
    cfg = config("smtp:\n  to: me@x.org\n")
    rows = [row(1, "<b>Evil & Co</b>", None, DAY, "due", 0, "<script>x</script>")]
    msg = build_message(Digest("me@x.org", rows), cfg, DAY, sender=None)
    html = msg.get_body(("html",)).get_content()
    assert "&lt;b&gt;Evil &amp; Co&lt;/b&gt;" in html and "<script>" not in html


def test_non_ascii_body_is_8bit_and_readable_in_the_dry_run_text():
    cfg = config('smtp:\n  to: me@x.org\n  html: false\n  subject: "到期 {count}"\n')
    rows = [row(1, "陈静", None, DAY, "due", 0, "报价")]
    msg = build_message(Digest("me@x.org", rows), cfg, DAY, sender="crm@x.org")
    assert msg["Content-Transfer-Encoding"] == "8bit"
    text = message_text(msg)
    assert "Subject: 到期 1\n" in text and "陈静" in text and "报价" in text
    # On the wire the subject is RFC 2047 encoded.
    assert b"Subject: =?utf-8?" in msg.as_bytes()


def test_very_long_lines_go_quoted_printable():
    cfg = config("smtp:\n  to: me@x.org\n  html: false\n")
    rows = [row(1, "Acme", None, DAY, "due", 0, "x" * 1200)]
    msg = build_message(Digest("me@x.org", rows), cfg, DAY, sender=None)
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert max(len(line) for line in msg.as_bytes().splitlines()) <= 998


# --- smtp config ----------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("smtp:\n  to: me@x.org\n", r"^smtp.host is not set in the config"),
    ("smtp:\n  host: h\n  to: me@x.org\n", r"^smtp.from is not set"),
    ("smtp:\n  host: h\n  from: nobody\n", r"^smtp.from 'nobody' .*: not an email address"),
    ("smtp:\n  host: h\n  from: a@x.org\n  username: u\n",
     r"^smtp.username is set but smtp.password_env is not"),
])
def test_smtp_config_errors_name_the_key(text, expected):
    with pytest.raises(MailError, match=expected):
        check_smtp_config(config(text))


# --- the ledger -----------------------------------------------------------------------


def test_ledger_records_items_once_per_day_and_recipient(store):
    keys = ["followup:1:2026-11-12", "stale:3:2026-11-19"]
    store.digests.record(day=DAY, transport="smtp", recipient="Me@X.org", subject="s",
                         item_keys=keys)
    assert store.digests.mailed_item_keys(DAY, "me@x.org") == set(keys)
    assert store.digests.mailed_item_keys(DAY, "other@x.org") == set()
    assert store.digests.mailed_item_keys("2026-11-23", "me@x.org") == set()
    # A forced resend plus one new item: a second digest, the new key recorded once.
    store.digests.record(day=DAY, transport="smtp", recipient="me@x.org", subject="s2",
                         item_keys=[*keys, "followup:5:2026-11-22"])
    assert store.digests.mailed_item_keys(DAY, "ME@x.org") == {*keys, "followup:5:2026-11-22"}
    assert [(d["recipients"], d["item_count"]) for d in store.digests.sent(DAY)] == [
        ("Me@X.org", 2), ("me@x.org", 3)]
    assert store.digests.sent("2026-11-23") == []


def test_a_digest_shows_in_history_but_undo_skips_it(store):
    client_id = store.clients.add({"name": "Acme"})
    store.digests.record(day=DAY, transport="smtp", recipient="me@x.org", subject="s",
                         item_keys=["k"])
    history = store.audit.history()
    assert history[0]["command"] == "due --email"
    assert history[0]["summary"] == "mailed 1 due item to me@x.org (smtp)"
    # The last undoable change is still the client's creation.
    assert store.audit.undoable(limit=1)[0]["client_id"] == client_id


def test_database_identity_is_stable_and_differs_between_databases(store, db_path, tmp_path):
    from crmcli.config import Config
    from crmcli.store import CrmStore

    first = store.digests.database_identity()
    assert first.startswith("crm-") and len(first) == 16
    with CrmStore(db_path, Config()) as again:
        assert again.digests.database_identity() == first
    with CrmStore(tmp_path / "other.db", Config()) as other:
        assert other.digests.database_identity() != first


# --- cost -----------------------------------------------------------------------------


def test_plain_crm_due_imports_no_mail_code(crm):
    from crmcli import _typer_speedups

    crm("add", "Acme")
    crm("followup", "Acme", "today", "call")
    # Without the speed-ups Typer reads package metadata (importlib.metadata), which loads
    # the standard library's email parser: Typer's cost, not mail code of crm's.
    roots = ("smtplib", "email", "icalendar") if _typer_speedups.enabled() else (
        "smtplib", "icalendar")
    code = ("import sys, atexit\n"
            "atexit.register(lambda: print(sorted(m for m in sys.modules if m.split('.')[0] in "
            f"{roots!r} or m in ('crmcli.mail', 'crmcli.interchange.ics', "
            "'crmcli.services.digest')), file=sys.stderr))\n"
            "from crmcli.cli import main\nsys.argv = ['crm', 'due']\nmain()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_the_default_subject_counts_due_today_and_upcoming_apart():
    from crmcli.config import Config
    from crmcli.mail import Digest

    rows = [{"status": status, "item_key": f"followup:{n}"}
            for n, status in enumerate(("overdue", "due", "upcoming", "upcoming"))]
    digest = Digest(recipient="me@example.com", rows=rows)
    assert subject_for(digest, Config(), "2026-11-22") == (
        "crm: 1 overdue, 1 due today, 2 upcoming — 2026-11-22")
