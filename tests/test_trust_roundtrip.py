"""Every character of every field that crm accepts survives `export all` -> `import all`
in every format (property test): a bare CR, CRLF, tabs, quotes, delimiters, formula-like
text, numeric strings with leading zeros, line and paragraph separators, any script."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crmcli.config import Config
from crmcli.store import CrmStore, validate

EXAMPLES = int(os.environ.get("CRM_FUZZ_EXAMPLES") or 12)
SETTINGS = settings(deadline=None, max_examples=EXAMPLES, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

TRICKY = ["\r", "\r\n", "\n", "\t", '"', "'", ",", ";", "|", "=1+1", "+1", "-1", "@x", "00042",
          "0x10", "1e5", "\u2028", "\u2029", "\u200b", "👩\u200d💻", "中文", "\\", "NULL", " "]


def allowed(one_line: bool):
    chars = st.characters(codec="utf-8").filter(
        lambda c: not validate.UNSAFE.match(c) and not (one_line and c in "\t\n\r"))
    piece = st.one_of(st.text(chars, max_size=8), st.sampled_from(
        [t for t in TRICKY if not (one_line and any(c in t for c in "\t\n\r"))]))
    return st.lists(piece, min_size=1, max_size=5).map("".join).filter(
        lambda t: t.strip() and validate.unsafe_character("x", t.strip(),
                                                          lines=not one_line) is None)


@st.composite
def books(draw):
    line, lines = allowed(True), allowed(False)
    return {"name": draw(line), "company": draw(line), "external_id": draw(line),
            "notes": draw(lines), "custom": draw(line), "contact": draw(line),
            "role": draw(line), "summary": draw(lines), "title": draw(line),
            "note": draw(lines), "format": draw(st.sampled_from(["csv", "tsv", "json",
                                                                  "ndjson"]))}


def fill(db: Path, book: dict) -> None:
    with CrmStore(db, Config()) as store:
        client = store.clients.add(book["name"], company=book["company"],
                                  external_id=book["external_id"], notes=book["notes"],
                                  custom={"field": book["custom"]})
        store.contacts.add(client, book["contact"], role=book["role"], notes=book["notes"])
        store.interactions.log(client, book["summary"], at="2026-11-01T10:00:00Z")
        store.deals.add(client, "10", at="2026-11-02T10:00:00Z", title=book["title"])
        store.followups.add(client, "2026-12-01", book["note"])


def export_all(crm, db: Path, out: Path, fmt: str) -> dict[str, bytes]:
    # The default export: its defused cells are what `crm import` reads back exactly
    # (--raw is for scripts; an import takes one ' off a cell that starts with ' and =).
    crm("--db", db, "export", "all", "-o", out, "--format", fmt)
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@SETTINGS
@given(books())
@example({"name": "0", "company": "0", "external_id": "'=1+1", "notes": "0", "custom": "0",
          "contact": "0", "role": "0", "summary": "'+1", "title": "''@x", "note": "-x",
          "format": "csv"})
def test_every_character_of_every_field_round_trips(crm, tmp_path_factory, book):
    base = tmp_path_factory.mktemp("round")
    fill(base / "one.db", book)
    first = export_all(crm, base / "one.db", base / "one", book["format"])
    crm("--db", base / "two.db", "import", "all", base / "one")
    second = export_all(crm, base / "two.db", base / "two", book["format"])
    assert second == first
    with CrmStore(base / "two.db", Config()) as store:
        client = store.clients.get(1)
        assert client["name"] == book["name"].strip()
        assert client["notes"] == book["notes"].strip()
        assert store.get("interactions", 1)["summary"] == book["summary"].strip()
        assert store.get("followups", 1)["note"] == book["note"].strip()


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_a_bare_carriage_return_is_quoted_and_read_back(crm, tmp_path, fmt):
    fill(tmp_path / "one.db", {"name": "Acme", "company": "A\u2028Co", "external_id": "00042",
                               "notes": "old\rMac\rnotes\r", "custom": "x", "contact": "Ann",
                               "role": "r", "summary": "a\rb", "title": "t", "note": "n\r"})
    first = export_all(crm, tmp_path / "one.db", tmp_path / "one", fmt)
    assert b'"old\rMac\rnotes"' in first[f"clients.{fmt}"]
    crm("--db", tmp_path / "two.db", "import", "all", tmp_path / "one")
    assert export_all(crm, tmp_path / "two.db", tmp_path / "two", fmt) == first
