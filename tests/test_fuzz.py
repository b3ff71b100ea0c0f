"""Property-based tests (hypothesis): arbitrary text and bytes into the WHEN parser, the
CLIENT resolver, the amount and score parsers and the commands add, log, deal and followup.

The only outcomes allowed are success, or one clear error line on stderr with exit 1 (2 for
usage) and the database exactly as it was: never a traceback, never a partial write.
Inputs include NUL bytes, control characters, very long fields, SQL-looking strings,
formula-injection strings, undecodable bytes (as Python passes them from a command line:
surrogate escapes), dates out of range and repeated keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from helpers import crm_env
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from crmcli import dates
from crmcli.cli import for_argv
from crmcli.errors import AmbiguousClient, ClientNotFound, ValidationError
from crmcli.store import validate

pytestmark = pytest.mark.stress  # hypothesis throwing arbitrary input at the real CLI

ROOT = Path(__file__).resolve().parents[1]
# 100 examples a test by default (about 30 s for the file on two cores); set CRM_FUZZ_EXAMPLES
# for a longer campaign, e.g. CRM_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py.
EXAMPLES = int(os.environ.get("CRM_FUZZ_EXAMPLES") or 100)
FUZZ = settings(deadline=None, max_examples=EXAMPLES,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

SQLISH = ["'; DROP TABLE clients; --", "1 OR 1=1", "Robert'); DELETE FROM changes;--",
          "\" OR \"\"=\"", "%", "_", "\\", "' UNION SELECT * FROM sqlite_master --",
          "NULL", "0x00", "\x00", "a\x00b", "é́", "张伟", "👩‍💻", "\u202e", "\r\n", "\t"]
FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "=HYPERLINK(\"x\")"]
NUMBERS = ["0", "19.99", "1,200.50", "1_000", "-5", "1e5", "NaN", "inf", ".5", "5.",
           "999999999999999", "1000000000000000", "0x10", "١٢٣", "½", "10", "11", "-0",
           " 7 ", "+3"]
WHENS = ["today", "tomorrow", "yesterday", "monday", "+3d", "2w", "1m", "1y", "-2d", "eow",
         "eom", "2026-02-30", "2026-13-01", "0000-01-01", "9999-12-31", "10000-01-01",
         "+99999999999d", "-99999999999y", "999999999w", "2026-11-22T25:00", "2026-11-22 10:00",
         "1970-01-01T00:00:00Z", "next tuesday", "3/4/2026", "32/13/2026", "Feb 30",
         "now", "T", " ", ""]

# Issue 13's hostile families: terminal escapes (OSC title, OSC 52 clipboard, CSI), C1 and
# bidi controls, numeric strings with leading zeros, far dates, huge numbers, deep nesting.
HOSTILE = ["\x1b]0;pwned\x07", "\x1b]52;c;ZXZpbA==\x07", "\x1b[2J", "\x9b31m", "\x85",
           "\u202eevil", "\u2066x\u2069", "\x7f", "\x08\x08", "00004", "00018", "#42",
           "id:42", "0001-01-01", "9999-12-31", "1899-12-31", "2201-01-01",
           "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "9" * 5000, "1e5000", "-1e5000",
           "9" * 30, "[" * 2000 + "]" * 2000, "{\"a\": " * 200 + "1" + "}" * 200,
           "FREQ=DAILY;INTERVAL=0", "FREQ=DAILY;COUNT=3\nATTACH:http://evil", "FREQ=DAILY;WKST=ZZ",
           "FREQ=MONTHLY;BYSETPOS=400", "\u2028".join(["𝒜" * 200] * 4)]
undecodable = st.binary(max_size=30).map(lambda b: b.decode("utf-8", "surrogateescape"))
long_text = st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=4),
                      st.integers(min_value=500, max_value=40_000))
nasty = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Zs", "So", "Lo"]),
            max_size=30),
    st.sampled_from(SQLISH + FORMULAS + NUMBERS + WHENS),
    st.sampled_from(HOSTILE),
    undecodable,
    long_text,
    st.builds(lambda a, b: a + b, st.sampled_from(SQLISH + FORMULAS), st.text(max_size=10)),
)
maybe = st.one_of(st.none(), nasty)
number_like = st.one_of(st.sampled_from(NUMBERS), st.from_regex(r"-?[0-9,._]{0,25}",
                                                                fullmatch=True), nasty)
when_like = st.one_of(
    st.sampled_from(WHENS),
    st.from_regex(r"[+-]?[0-9]{1,25} ?[dwmyDWMY]", fullmatch=True),
    st.builds(lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}", st.integers(0, 99999),
              st.integers(0, 99), st.integers(0, 99)),
    st.builds(lambda y, m, d, h, mi: f"{y:04d}-{m:02d}-{d:02d}T{h:02d}:{mi:02d}",
              st.integers(1, 9999), st.integers(1, 12), st.integers(1, 28),
              st.integers(0, 99), st.integers(0, 99)),
    nasty,
)


# --- the WHEN parser ------------------------------------------------------------------

@FUZZ
@given(when_like)
def test_the_when_parser_returns_a_date_or_raises_date_error_only(text):
    try:
        result = dates.parse_when(text)
    except dates.DateError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert isinstance(result, date | datetime)
    if isinstance(result, datetime):
        assert result.tzinfo is not None
        dates.to_utc_iso(result)  # storable


@pytest.mark.parametrize("text", WHENS + ["+2147483648d", "-999999999999999999999m",
                                          "9" * 400, "2026-11-22T10:00:00+99:00"])
def test_the_when_parser_on_edge_cases_returns_a_date_or_raises_date_error_only(text):
    test_the_when_parser_returns_a_date_or_raises_date_error_only.hypothesis.inner_test(text)


# --- the amount and score parsers -----------------------------------------------------

@FUZZ
@given(number_like)
def test_the_amount_parser_returns_exact_canonical_text_or_a_validation_error(text):
    try:
        result = validate.amount(text)
    except ValidationError as exc:
        assert str(exc).startswith("amount ") and "\n" not in str(exc)
        return
    number = Decimal(result)
    assert number >= 0 and number.is_finite()
    assert "e" not in result.lower() and result.strip() == result
    assert number == Decimal(text.strip().replace(",", "").replace("_", ""))
    assert validate.amount(result) == result  # canonical: parsing it again changes nothing


@FUZZ
@given(st.decimals(min_value=0, max_value=Decimal(10) ** 15 - 1, allow_nan=False,
                   allow_infinity=False, places=2))
def test_every_plain_amount_round_trips_exactly(number):
    assert Decimal(validate.amount(format(number, "f"))) == number


@FUZZ
@given(st.one_of(number_like, st.integers(-10**30, 10**30), st.none()))
def test_the_score_parser_returns_0_to_10_none_or_a_validation_error(value):
    try:
        result = validate.score(value)
    except ValidationError as exc:
        assert str(exc).startswith("score ") and "\n" not in str(exc)
        return
    assert result is None or (isinstance(result, int) and 0 <= result <= 10)


# --- the CLIENT resolver ----------------------------------------------------------------

@pytest.fixture
def book(store):
    names = ["Acme", "Acme Labs", "Globex", "张伟", "100% Juice", "under_score", "O'Brien",
             "Zoë", "Initech"]
    ids = [store.clients.add(n, email=f"c{i}@example.com", external_id=f"X-{i}")
           for i, n in enumerate(names)]
    return store, dict(zip(ids, names, strict=True))


@FUZZ
@given(st.one_of(nasty, st.integers(-5, 20).map(str), st.sampled_from(
    ["Acme", "acme", "Acm", "c3@example.com", "X-4", "%", "_", "'", "张", "1", "01", "9" * 30])))
@example("\x01\n\udc80")  # control characters and an undecodable byte: still one line
@example("²")  # a digit to str.isdigit(), not to int()
@example("١٢٣")
def test_the_client_resolver_finds_one_client_or_raises_a_clear_error(book, ref):
    store, clients = book
    try:
        row = store.clients.resolve(ref)
    except (ClientNotFound, AmbiguousClient, ValidationError) as exc:
        assert "\n" not in str(exc)
        return
    assert clients[row["id"]] == row["name"]


def test_the_client_resolver_treats_like_wildcards_literally(book):
    store, clients = book
    assert store.clients.resolve("%")["name"] == "100% Juice"
    assert store.clients.resolve("_")["name"] == "under_score"
    with pytest.raises(ClientNotFound):
        store.clients.resolve("'; DROP TABLE clients; --")
    assert len(store.clients.list()) == len(clients)


# --- the commands -----------------------------------------------------------------------

RUNNER = CliRunner()


def run_cli(*args: str, input: bytes | str | None = None):
    return RUNNER.invoke(for_argv(list(args)), list(args), input=input, catch_exceptions=True)


def assert_success_or_one_clean_error(result, before, after, detail_lines: str = "") -> bool:
    """True on success; on failure: one error line, exit 1 or 2, and nothing written.
    detail_lines: a prefix (an import's file name) that further lines may start with, one
    per rejected row."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        raise AssertionError("".join(traceback.format_exception(result.exception)))
    assert "Traceback" not in result.stderr
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr  # escapes shown inert
    if result.exit_code == 0:
        return True
    assert result.exit_code in (1, 2), (result.exit_code, result.stderr)
    stderr = result.stderr
    if detail_lines and stderr.startswith("crm: ") and " is not UTF-8; reading it as " in \
            stderr.split("\n", 1)[0]:
        stderr = stderr.split("\n", 1)[1]  # the note naming the detected encoding comes first
    assert stderr.startswith("crm: error: "), result.stderr
    first, *rest = stderr.splitlines()
    assert result.stderr.endswith("\n")
    if detail_lines:
        assert all(line.startswith(detail_lines) for line in rest), result.stderr
    else:
        assert rest == [], result.stderr
    assert after == before, "a failed command changed the database"
    return False


def opt(name: str, value: str | None) -> list[str]:
    return [] if value is None else [f"{name}={value}"]


@pytest.fixture
def acme(crm, db_path):
    crm("add", "Acme", "--email", "ops@acme.test")
    return db_path


@FUZZ
@given(name=nasty, company=maybe, email=maybe, phone=maybe, note=maybe, tag=maybe,
       custom=st.lists(st.one_of(nasty, st.builds(lambda k, v: f"{k}={v}", nasty, nasty)),
                       max_size=3))
def test_add_with_arbitrary_text_succeeds_exactly_or_fails_cleanly(
        acme, store, snapshot, name, company, email, phone, note, tag, custom):
    args = ["add", "-q", *opt("--company", company), *opt("--email", email),
            *opt("--phone", phone), *opt("--note", note), *opt("--tag", tag)]
    for pair in custom:
        args += [f"--set={pair}"]
    before = snapshot(acme)
    result = run_cli(*args, "--", name)
    if assert_success_or_one_clean_error(result, before, snapshot(acme)):
        stored = store.clients.get(int(result.stdout.strip()))
        assert stored["name"] == name.strip()  # stored exactly as typed, whatever it held
        if note is not None and note.strip():
            assert stored["notes"] == note.strip()


@FUZZ
@given(client=st.one_of(st.just("Acme"), nasty), summary=nasty, channel=maybe, kind=maybe,
       score=st.one_of(st.none(), number_like), at=st.one_of(st.none(), when_like),
       nxt=st.one_of(st.none(), when_like))
def test_log_with_arbitrary_text_succeeds_or_fails_cleanly(
        acme, snapshot, client, summary, channel, kind, score, at, nxt):
    args = ["log", *opt("--channel", channel), *opt("--kind", kind), *opt("--score", score),
            *opt("--at", at), *opt("--next", nxt), "--", client, summary]
    before = snapshot(acme)
    assert_success_or_one_clean_error(run_cli(*args), before, snapshot(acme))


@FUZZ
@given(data=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode),
                      st.sampled_from([b"\xff\xfe\x00a", b"caf\xe9", b"\x00" * 10,
                                       b"ok \xed\xa0\x80 surrogate", b"\xef\xbb\xbfBOM"])))
def test_log_reading_arbitrary_bytes_from_stdin_succeeds_or_fails_cleanly(acme, snapshot,
                                                                          data):
    before = snapshot(acme)
    assert_success_or_one_clean_error(run_cli("log", "Acme", "-", input=data), before,
                                      snapshot(acme))


@FUZZ
@given(client=st.one_of(st.just("Acme"), nasty), amount=number_like, title=maybe,
       currency=maybe, status=maybe, at=st.one_of(st.none(), when_like))
def test_deal_with_arbitrary_text_succeeds_exactly_or_fails_cleanly(
        acme, store, snapshot, client, amount, title, currency, status, at):
    args = ["deal", "-q", *opt("--title", title), *opt("--currency", currency),
            *opt("--status", status), *opt("--at", at), "--", client, amount]
    before = snapshot(acme)
    result = run_cli(*args)
    if assert_success_or_one_clean_error(result, before, snapshot(acme)):
        deal = store.get("deals", int(result.stdout.strip()))
        assert Decimal(deal["amount"]) == Decimal(amount.strip().replace(",", "")
                                                  .replace("_", ""))


@FUZZ
@given(client=st.one_of(st.just("Acme"), nasty), when=when_like, note=maybe,
       every=st.one_of(st.none(), st.sampled_from(["2w", "monthly", "weekly on mon", "0d",
                                                   "99999999y", "every day"]), nasty))
def test_followup_with_arbitrary_text_succeeds_or_fails_cleanly(
        acme, snapshot, client, when, note, every):
    args = ["followup", "-q", *opt("--every", every), "--", client, when]
    if note is not None:
        args.append(note)
    before = snapshot(acme)
    assert_success_or_one_clean_error(run_cli(*args), before, snapshot(acme))


# --- importers -------------------------------------------------------------------------------

csv_cell = st.one_of(nasty, st.sampled_from(["", "ops@acme.test", "Acme", "2026-01-01", "call",
                                             "1", "19.99", "\"", "a,b", "x\ny", "²", "١٢٣"]),
                   st.sampled_from(HOSTILE))
# Raw JSON values (not strings): deep nesting and numbers past Python's int limit.
json_value = st.one_of(st.builds(json.dumps, csv_cell), st.sampled_from([
    "[" * 3000 + "]" * 3000, "9" * 5000, "1e5000", "-" + "9" * 4400, "0.1e-99999",
    "{\"n\": " * 100 + "1" + "}" * 100, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"]))


@st.composite
def import_files(draw):
    """(kind, file name, bytes): arbitrary bytes, or well-formed files of arbitrary values."""
    kind = draw(st.sampled_from(["clients", "interactions", "deals", "contacts", "followups"]))
    ext = draw(st.sampled_from(["csv", "tsv", "json", "ndjson"] + ["vcf"] * (kind == "contacts")))
    shape = draw(st.sampled_from(["bytes", "table", "records"]))
    if ext == "vcf" and shape != "bytes":
        return kind, "input.vcf", draw(vcards())
    columns = {"clients": ["name", "email", "company", "phone", "tags", "external_id", "custom",
                           "region", "created_at"],
               "interactions": ["client", "at", "channel", "summary", "score"],
               "deals": ["client", "amount", "at", "status", "currency"],
               "contacts": ["client", "name", "email", "role"],
               "followups": ["client", "due", "note", "every", "due_at", "anchor"]}[kind]
    if shape == "bytes":
        data = draw(st.binary(max_size=300))
    elif shape == "table" or ext in ("csv", "tsv"):
        import csv as csvmod
        import io as iomod

        buf = iomod.StringIO()
        writer = csvmod.writer(buf, delimiter="\t" if ext == "tsv" else ",")
        header = draw(st.lists(st.sampled_from(columns + ["id", "name", "bogus"]), min_size=1,
                               max_size=6))  # repeated columns included
        writer.writerow(header)
        for _ in range(draw(st.integers(0, 4))):
            writer.writerow([draw(csv_cell) for _ in header])
        data = buf.getvalue().encode("utf-8", "surrogateescape")
    else:
        records = []
        for _ in range(draw(st.integers(0, 4))):
            keys = draw(st.lists(st.sampled_from(columns), min_size=1, max_size=5))
            # duplicate keys written out literally: {"name": "a", "name": "b"}
            records.append("{" + ", ".join(f"{json.dumps(k)}: {draw(json_value)}"
                                           for k in keys) + "}")
        if ext == "json":
            data = ("[" + ", ".join(records) + "]").encode("utf-8", "surrogatepass")
        else:
            data = "\n".join(records).encode("utf-8", "surrogatepass")
    return kind, f"input.{ext}", data


VCARD_PROPS = ["FN", "N", "EMAIL", "TEL", "ORG", "TITLE", "NOTE", "UID", "REV", "X-CRM-CLIENT-ID",
               "X-CRM-LEVEL", "X-CRM-PRIMARY", "X-CRM-CREATED", "BDAY", "PHOTO;ENCODING=b",
               "FN;ENCODING=QUOTED-PRINTABLE", "BEGIN", "END"]


@st.composite
def vcards(draw):
    """vCard-shaped text with arbitrary property values, lines and line endings."""
    cards = []
    for _ in range(draw(st.integers(0, 3))):
        version = draw(st.sampled_from(["VERSION:3.0", "VERSION:4.0", "", "VERSION:x"]))
        lines = ["BEGIN:VCARD", version]
        for _ in range(draw(st.integers(0, 6))):
            value = draw(st.one_of(csv_cell, st.just("Acme"), st.just("1"),
                                   st.just("crmcli-contact-1")))
            lines.append(f"{draw(st.sampled_from(VCARD_PROPS))}:{value}")
        if draw(st.booleans()):
            lines.append("END:VCARD")
        cards.append(draw(st.sampled_from(["\r\n", "\n"])).join(lines))
    return "\n".join(cards).encode("utf-8", "surrogateescape")


@FUZZ
@given(import_files())
@example(("clients", "input.csv", "id,name\n²,Squared\n".encode()))  # int('²') fails
@example(("deals", "input.json", '[{"client": "١٢٣", "amount": "1"}]'.encode()))
def test_importers_given_arbitrary_files_import_whole_or_fail_cleanly(acme, snapshot,
                                                                       tmp_path, case):
    kind, name, data = case
    path = tmp_path / name
    path.write_bytes(data)
    before = snapshot(acme)
    result = run_cli("import", kind, str(path))
    if assert_success_or_one_clean_error(result, before, snapshot(acme),
                                         detail_lines=f"{path}:"):
        readers_still_work()


def readers_still_work() -> None:
    """No value an import accepted makes a later command fail (issue 13)."""
    for args in (["ls"], ["show", "Acme"], ["followups"], ["due"],
                 ["export", "followups", "--format", "ics"], ["export", "clients"],
                 ["report", "summary"]):
        result = run_cli(*args)
        assert result.exit_code == 0, (args, result.stderr, result.exception)
        assert "\x1b" not in result.stdout + result.stderr


@FUZZ
@given(import_files(), st.booleans())
@example(("clients", "input.csv", "id,name\n²,Squared\n".encode()), True)
def test_importers_reading_arbitrary_bytes_from_stdin_import_whole_or_fail_cleanly(
        acme, snapshot, case, named):
    kind, name, data = case
    fmt = name.rpartition(".")[2]
    before = snapshot(acme)
    # `cat leads.csv | crm import clients -`: the format named, or the CSV default
    args = ["import", kind, "-", *(["--format", fmt] if named or fmt == "vcf" else [])]
    result = run_cli(*args, input=data)
    assert_success_or_one_clean_error(result, before, snapshot(acme), detail_lines="<stdin>:")


# --- real processes: undecodable bytes on the command line and in files --------------------

@pytest.mark.parametrize("args, stdin", [
    ([b"add", b"Bad \xff name"], None),
    ([b"add", b"Fine", b"--note", b"caf\xe9"], None),
    ([b"log", b"Acme", b"\xfe\xff"], None),
    ([b"log", b"\xff", b"a call"], None),
    ([b"show", b"Ac\xe9me"], None),
    ([b"followup", b"Acme", b"tomorrow", b"\xc3\x28"], None),
    ([b"log", b"Acme", b"-"], b"latin-1 caf\xe9 from a file\n"),
    ([b"log", b"Acme", b"-"], b"\xef\xbb\xbf\xff\xfe\x00\x00"),
])
def test_undecodable_bytes_from_a_real_command_line_or_file_fail_cleanly(
        tmp_path, snapshot, args, stdin):
    env = crm_env(tmp_path)
    (tmp_path / "config.yaml").write_text("timezone: UTC\n")
    subprocess.run([sys.executable, "-m", "crmcli", "add", "Acme"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    before = snapshot(tmp_path / "crm.db")
    source = tmp_path / "input.txt"
    source.write_bytes(stdin or b"")
    with open(source, "rb") as fh:
        result = subprocess.run([sys.executable.encode(), b"-m", b"crmcli", *args], cwd=ROOT,
                                env=env, stdin=fh, capture_output=True, timeout=60)
    err = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    assert result.returncode == 1, err
    assert err.startswith("crm: error: ") and err.count("\n") == 1, err
    assert "UTF-8" in err or "no client matches" in err or "NUL byte" in err, err
    assert snapshot(tmp_path / "crm.db") == before


# --- new clients: written in batches or one by one, the same -------------------------------

CLIENT_FIELDS = ["name", "company", "email", "phone", "industry", "size", "owner", "source",
                 "stage", "external_id", "notes", "tags", "created_at", "updated_at",
                 "archived_at"]
client_value = st.one_of(
    nasty,
    st.sampled_from(["", " ", "Acme", "ada@example.com", "ADA@example.com", "a@b.c", "a@b.cd\n",
                     "+1 555 0100", "555", "12", "+1 555 0100 ext 7", "lead", "Won", " won ",
                     "vip", "vip;smb", '["vip", "SMB"]', '["two words"]', "[]", "C1", "C1 ",
                     "2026-01-02T03:04:05Z", "2026-02-30T03:04:05Z", "2026-01-02",
                     "2026-01-02T03:04:05+02:00", "'=1+1", "O'Connor", "王伟", "a\x00b",
                     "x" * 501, "line\nbreak"]),
)
json_value = st.one_of(client_value, st.none(), st.integers(-2, 2), st.booleans(),
                       st.lists(st.sampled_from(["vip", "smb", "Vip", 1, "two words"]),
                                max_size=3),
                       st.dictionaries(st.sampled_from(["vip", "a"]), st.integers(), max_size=1))


def _client_files(draw, ext):
    header = draw(st.lists(st.sampled_from(CLIENT_FIELDS + ["name", "email", "tags"]),
                           min_size=1, max_size=8, unique=True))
    if "name" not in header and draw(st.booleans()):
        header.insert(0, "name")
    rows = [[draw(client_value) for _ in header] for _ in range(draw(st.integers(1, 8)))]
    # a clean row first and last: the first fills the import's caches, the last uses them
    clean = {"name": "Ada", "email": "ada@example.com", "tags": "vip", "stage": "lead",
             "created_at": "2026-01-02T03:04:05Z", "phone": "+1 555 0100"}
    rows.insert(0, [clean.get(h, "") for h in header])
    rows.append([clean.get(h, "") if h != "email" else "zed@example.com" for h in header])
    if ext == "csv":
        import csv as csvmod
        import io as iomod

        buf = iomod.StringIO()
        writer = csvmod.writer(buf)
        writer.writerow(header)
        writer.writerows(rows)
        return buf.getvalue()
    lines = []
    for row in rows:
        obj = dict(zip(header, row, strict=True))
        for key in list(obj):
            if draw(st.integers(0, 4)) == 0:
                obj[key] = draw(json_value)
            elif draw(st.integers(0, 9)) == 0:
                del obj[key]
        lines.append(json.dumps(obj, ensure_ascii=False))
    return "\n".join(lines) + "\n"


@st.composite
def client_files(draw):
    ext = draw(st.sampled_from(["csv", "ndjson"]))
    return ext, _client_files(draw, ext)


@FUZZ
@given(client_files(), st.sampled_from([1, 2]))
def test_new_clients_written_in_batches_or_in_small_ones_give_the_same_result(
        tmp_path, monkeypatch, case, small):
    import crmcli.store.bulk as bulk
    from tests.conftest import db_snapshot
    from tests.test_import import rows_by_batch_free

    ext, text = case
    src = tmp_path / f"input.{ext}"
    src.write_text(text, encoding="utf-8", errors="surrogateescape", newline="")
    outcomes = []
    for chunk in (5000, small):  # (one batch; batches of small, indexes deferred)
        monkeypatch.setattr(bulk, "CLIENT_CHUNK", chunk)
        db = tmp_path / "fast.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        rejects = tmp_path / f"rejects.{ext}"
        rejects.unlink(missing_ok=True)
        result = run_cli("--db", str(db), "import", "clients", str(src), "--skip-invalid",
                         "--rejects", str(rejects))
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            result.exception
        rows = rows_by_batch_free([(t, r) for t, r in db_snapshot(db)
                                   if t != "_sqlite_migrations"])
        outcomes.append((result.exit_code, result.stderr, rows,
                         rejects.read_bytes() if rejects.exists() else None))
    assert outcomes[0] == outcomes[1]
