"""Tables on an 80-column terminal: a real pseudo-terminal, the real binary."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_terminal(*args: str, columns: int = 80) -> str:
    """stdout of `crm ARGS` written to a pty of `columns` x 24, colour codes removed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "24", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "crmcli", *args], stdout=follower,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed its side
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert proc.wait(timeout=60) == 0, proc.stderr.read().decode()
    return ANSI.sub("", b"".join(chunks).decode().replace("\r\n", "\n"))


def display_width(text: str) -> int:
    from crmcli.render.output import display_width as width

    return width(text)


@pytest.fixture
def wide_book(crm):
    crm("add", "Emma Schneider-Wolfenbüttel", "--email",
        "emma.schneider-wolfenbuettel@example-consultancy.com", "--company",
        "Schneider Beratung und Partner GmbH & Co. KG", "--owner", "alexandra",
        "--industry", "professional services")
    crm("add", "鈴木 一郎", "--email", "ichiro.suzuki@example.co.jp", "--company", "鈴木商事株式会社")
    for name in ("Emma Schneider-Wolfenbüttel", "鈴木 一郎"):
        crm("deal", name, "123456.78", "--at", "2026-05-01")
        crm("deal", name, "99.50", "--at", "2026-06-01")
    crm("log", "鈴木 一郎", "A long summary of a meeting about the next steps of the "
        "project and the budget for the coming year", "--at", "2026-11-20")


@pytest.mark.parametrize("args", [["report", "churn"], ["ls"], ["history", "-n", "2"],
                                  ["deals"], ["report", "clv"]])
def test_tables_fit_80_columns_without_splitting_a_value(wide_book, args):
    out = on_terminal(*args)
    lines = out.splitlines()
    assert lines, out
    assert max(display_width(ln) for ln in lines) <= 80, out
    # ids, dates and amounts whole: every one that is shown appears unbroken
    for whole in ("2026-05-01", "123456.78", "123,456.78"):
        if whole[:7] in out:
            assert whole in out or whole.replace(",", "") in out, out


def test_the_churn_report_shows_words_and_no_split_values(wide_book):
    out = on_terminal("report", "churn")
    # words on screen (a header may wrap between its words), never a field name cut in two
    assert "client_id" not in out and "client_i" not in out and "Client" in out
    assert "(days)" in out or "not shown at this width: usual_gap_days" in out
    assert "123,556.28" in out  # the revenue at stake is kept, whole
    assert "Emma Schneider-Wolfenbüttel"[:9] in out


def test_long_text_is_shortened_with_an_ellipsis_and_dropped_columns_are_named(wide_book):
    out = on_terminal("ls")
    assert "…" in out  # the company name, shortened
    # an email is an identifier: whole, or its column named as not shown
    assert "emma.schneider-wolfenbuettel@example-consultancy.com" in out or (
        "not shown at this width" in out and "email" in out)
    history = on_terminal("history", "-n", "2")
    assert len(history.splitlines()) < 12, history


def test_machine_formats_keep_field_names_on_a_terminal(wide_book):
    out = on_terminal("report", "churn", "--format", "csv")
    assert "usual_gap_days" in out and "Usual gap" not in out


def test_times_in_tables_are_local_and_one_format(crm, tmp_path):
    (tmp_path / "config.yaml").write_text("timezone: Asia/Tokyo\n")
    crm("add", "Sato")
    crm("deal", "Sato", "1200", "--at", "2026-10-01T23:30:00Z")   # 08:30 on 10-02 in Tokyo
    crm("log", "Sato", "question", "--in", "--at", "2026-11-20T01:00:00Z")
    top = crm("report", "clv").stdout
    assert "2026-10-02 08:30" in top and "T23:30:00Z" not in top
    awaiting = crm("report", "response", "--awaiting").stdout
    assert "2026-11-20 10:00" in awaiting and "Z" not in awaiting.split("\n", 2)[2]
    # machine formats keep the stored UTC time
    assert crm.json("report", "response", "--awaiting")[0]["at"] == "2026-11-20T01:00:00Z"


def test_amounts_in_tables_have_thousands_separators(crm):
    crm("add", "Big")
    crm("deal", "Big", "1234567.5", "--at", "2026-10-01")
    assert "1,234,567.50" in crm("deals").stdout
    assert crm.json("deals")[0]["amount"] == 1234567.5
