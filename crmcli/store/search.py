"""Full-text search documents and queries, CJK included.

SQLite's unicode61 tokenizer keeps a run of Chinese, Japanese or Korean
characters as one token, so "王伟" would not be found inside "王伟的公司".
We index every CJK character as its own token and turn a query's CJK run into
a phrase of single characters: adjacent characters must match in order.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmcli.store.store import Database

# Han, Hiragana, Katakana, Hangul, CJK punctuation/compatibility, fullwidth forms.
_CJK = (r"\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3130-\u318f\u31a0-\u31ff"
        r"\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
        r"\U00020000-\U0002fa1f")
_CJK_CHAR = re.compile(f"[{_CJK}]")
_TOKEN = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+")

# The tables whose rows have a search document, and the kind number of each. A document's
# rowid in search_index is its row's id * 4 + its kind, so that a row's document is
# replaced or removed by rowid without scanning the index. Only the functions below
# spell the scheme out.
SEARCHABLE = {"clients": 0, "contacts": 1, "interactions": 2}
_KIND_SPAN = 4


def doc_id(table: str, row_id: int) -> int:
    """The search_index rowid of a row's document."""
    return row_id * _KIND_SPAN + SEARCHABLE[table]


def doc_id_sql(table: str, id_sql: str) -> str:
    """SQL for the rowid of the document of the row whose id is the expression id_sql."""
    return f"{id_sql} * {_KIND_SPAN} + {SEARCHABLE[table]}"


def of_table_sql(table: str, doc_sql: str) -> str:
    """SQL that holds when the document rowid doc_sql is one of table's rows."""
    return f"{doc_sql} % {_KIND_SPAN} = {SEARCHABLE[table]}"


def ref_of(doc: int) -> tuple[str, int]:
    """(table, row id) of a document rowid."""
    row_id, kind = divmod(doc, _KIND_SPAN)
    return _TABLE_OF_KIND[kind], row_id


_TABLE_OF_KIND = {kind: table for table, kind in SEARCHABLE.items()}


def segment(text: str) -> str:
    """Text as stored in the index: CJK characters spaced apart."""
    if not text:
        return ""
    if text.isascii() or not _CJK_CHAR.search(text):  # (no CJK character is ASCII)
        return text
    return _CJK_CHAR.sub(lambda m: f" {m.group(0)} ", text)


def custom_words(custom: str | dict | None) -> str:
    """What the index holds of a custom column (its JSON text, or the dict): every text and
    number in it, keys left out."""
    if not custom or custom == "{}":
        return ""
    if isinstance(custom, str):
        try:
            custom = json.loads(custom)
        except ValueError:
            return ""
    words: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif value is not None and not isinstance(value, bool) and value != "":
            words.append(str(value))

    walk(custom)
    return " ".join(words)


def document_for(table: str, row: dict) -> tuple[str, int | None]:
    if table == "clients":
        parts = [row.get("name"), row.get("company"), row.get("email"), row.get("phone"),
                 row.get("industry"), row.get("notes"), row.get("external_id"),
                 custom_words(row.get("custom"))]
        client_id = row["id"]
    elif table == "contacts":
        parts = [row.get("name"), row.get("role"), row.get("email"), row.get("phone"),
                 row.get("notes"), custom_words(row.get("custom"))]
        client_id = row["client_id"]
    else:
        parts = [row.get("summary")]
        client_id = row["client_id"]
    body = " ".join(str(p) for p in parts if p)
    return segment(body), client_id


def match_expression(text: str) -> str | None:
    """An FTS5 MATCH expression for what a user typed; None when nothing is searchable.

    Every word must match (AND); Latin words match as prefixes; CJK runs match
    as phrases of single characters. User text never reaches FTS5 syntax unquoted.
    """
    terms: list[str] = []
    for chunk in re.split(r"\s+", text.strip()):
        if not chunk:
            continue
        cjk_run: list[str] = []
        for token in _TOKEN.findall(chunk):
            if _CJK_CHAR.fullmatch(token):
                cjk_run.append(token)
                continue
            if cjk_run:
                terms.append('"' + " ".join(cjk_run) + '"')
                cjk_run = []
            words = [w for w in re.split(r"[^\w]+", token) if w]
            for word in words:
                terms.append('"' + word.replace('"', '""') + '"*')
        if cjk_run:
            terms.append('"' + " ".join(cjk_run) + '"')
    return " AND ".join(terms) if terms else None


class Search:
    """Full-text search over clients, contacts and interactions (table search_index, kept
    current by the database's writes). Uses the database only."""

    def __init__(self, db: Database):
        self.db = db

    def count(self, text: str, *, include_archived: bool = False) -> int:
        """How many records matches() would find with no limit."""
        expr = match_expression(text)
        if expr is None:
            return 0
        if self.db.engine == "postgres":
            return self.db.search_count(expr, include_archived)
        live = "" if include_archived else "AND c.archived_at IS NULL"
        return self.db.scalar(f"""SELECT count(*) FROM search_index s
                                  JOIN clients c ON c.id = s.client_id
                                  WHERE search_index MATCH ? {live}""", (expr,))

    def matches(self, text: str, *, limit: int = 50, include_archived: bool = False
                ) -> list[dict]:
        """The best `limit` documents matching text (every word, as prefixes), best first:
        kind (client/contact/interaction), id, client_id, client, match (the text shown),
        at (interactions). Archived clients' documents only with include_archived."""
        results = []
        for doc, client_id, client in self._ranked_documents(text, limit, include_archived):
            table, ref_id = ref_of(doc)
            record = self.db.get(table, ref_id) or {}
            if table == "clients":
                kind = "client"
                match = " · ".join(str(record[k]) for k in ("company", "email")
                                   if record.get(k)) or record.get("name", "")
            elif table == "contacts":
                kind = "contact"
                match = " · ".join(str(record[k]) for k in ("name", "role", "email")
                                   if record.get(k))
            else:
                kind = "interaction"
                match = (record.get("summary") or "")[:200]
            results.append({"kind": kind, "id": ref_id, "client_id": client_id,
                            "client": client, "match": match, "at": record.get("at")})
        return results

    def _ranked_documents(self, text: str, limit: int, include_archived: bool
                          ) -> list[tuple[int, int, str]]:
        """(document rowid, client id, client name) of the best `limit` matches, best first.

        Ranked inside the index, which reads no column but the rank, before anything is
        joined: joining every match first costs twice as much when most documents match.
        Archived clients' documents are dropped after ranking, so the ranked batch grows
        until `limit` survive or the matches run out. Ties keep the index's order (rowid).
        """
        expr = match_expression(text)
        if expr is None:
            return []
        batch = limit
        while True:
            if self.db.engine == "postgres":
                ranked = self.db.search_ranked(expr, batch)
            else:
                ranked = [doc for doc, in self.db.conn.execute(
                    "SELECT s.rowid FROM search_index s WHERE search_index MATCH ? "
                    "ORDER BY bm25(search_index), s.rowid LIMIT ?", (expr, batch))]
            owners = {doc: (client_id, name, archived) for doc, client_id, name, archived
                      in self.db.conn.execute(
                          "SELECT s.rowid, c.id, c.name, c.archived_at FROM search_index s "
                          "JOIN clients c ON c.id = s.client_id "
                          f"WHERE {self.db.in_list_sql('s.rowid')}",
                          (self.db.in_list_param(ranked),))}
            kept = [(doc, owners[doc][0], owners[doc][1]) for doc in ranked
                    if doc in owners and (include_archived or owners[doc][2] is None)]
            if limit < 0:  # SQLite's LIMIT -1: no limit
                return kept
            if len(kept) >= limit or len(ranked) < batch:
                return kept[:limit]
            batch *= 4

    def rebuild(self) -> int:
        """Make every document again from the rows; returns the number of documents."""
        with self.db.change("reindex", "rebuilt the search index") as ch:
            self.db.conn.execute("DELETE FROM search_index")
            for table in SEARCHABLE:
                top = self.db.scalar(f"SELECT max(id) FROM {table}")
                if top:
                    self.db.reindex_range(table, 1, top)
            ch.rows = 0
        return self.db.scalar("SELECT count(*) FROM search_index")
