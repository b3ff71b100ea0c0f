"""SQLite's SQL as PostgreSQL reads it.

The repositories speak one SQL, SQLite's, so that each query is written once. On a
PostgreSQL book every statement passes through `to_postgres()`, which rewrites what
the two engines spell differently (placeholders, NOCASE, LIKE's case rule, NULL
ordering, CASTs with SQLite's lenient meaning, scalar max/min) outside string
literals, and the functions SQLite has and PostgreSQL lacks (julianday, strftime,
date with modifiers, instr, group_concat, json_group_array) are created in the
database by `POSTGRES_FUNCTIONS`, so that the rewritten text finds them.

What cannot be rewritten mechanically (FTS5, PRAGMAs, json_each) is asked of the
database through its own methods (store/postgres.py).
"""

from __future__ import annotations

import re
from functools import lru_cache

# Lower-case letters of ASCII only, as SQLite's NOCASE folds them; compared bytewise.
POSTGRES_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION crm_nocase(t text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN translate(t, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz');

CREATE OR REPLACE FUNCTION crm_ts(t text) RETURNS timestamp
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE WHEN t IS NULL OR t = '' THEN NULL
                WHEN length(t) <= 10 THEN t::timestamp
                ELSE t::timestamptz AT TIME ZONE 'UTC' END;

CREATE OR REPLACE FUNCTION crm_shift(t text, modifier text) RETURNS timestamp
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN crm_ts(t) + coalesce(modifier::interval, interval '0');

CREATE OR REPLACE FUNCTION crm_date(t text, modifier text DEFAULT NULL) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN to_char(crm_shift(t, modifier), 'YYYY-MM-DD');

CREATE OR REPLACE FUNCTION strftime(fmt text, t text, modifier text DEFAULT NULL) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN to_char(crm_shift(t, modifier),
        replace(replace(replace(replace(replace(replace(fmt,
            '%Y', 'YYYY'), '%m', 'MM'), '%d', 'DD'), '%H', 'HH24'), '%M', 'MI'), '%S', 'SS'));

CREATE OR REPLACE FUNCTION julianday(t text) RETURNS double precision
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN extract(epoch FROM crm_ts(t))::double precision / 86400.0 + 2440587.5;

CREATE OR REPLACE FUNCTION crm_json_each(items text)
    RETURNS TABLE (key bigint, value text)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (ordinality - 1)::bigint, v FROM json_array_elements_text(items::json)
        WITH ORDINALITY AS e(v, ordinality) $$;

CREATE OR REPLACE FUNCTION substr(t text, start bigint, len bigint) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN substr(t, start::integer, len::integer);
CREATE OR REPLACE FUNCTION substr(t text, start bigint) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN substr(t, start::integer);

CREATE OR REPLACE FUNCTION crm_limit(n bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN CASE WHEN n >= 0 THEN n END;

CREATE OR REPLACE FUNCTION instr(haystack text, needle text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN strpos(haystack, needle);

-- CAST(x AS INTEGER) as SQLite reads it: the leading integer of a text, 0 when none.
CREATE OR REPLACE FUNCTION crm_int(t text) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN t IS NULL THEN NULL
                ELSE coalesce(substring(t FROM '^\s*([+-]?[0-9]+)')::numeric, 0)::bigint END;
CREATE OR REPLACE FUNCTION crm_int(x double precision) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN trunc(x)::bigint;
CREATE OR REPLACE FUNCTION crm_int(x numeric) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN trunc(x)::bigint;
CREATE OR REPLACE FUNCTION crm_int(x bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN x;

CREATE OR REPLACE FUNCTION round(x double precision, digits integer) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN round(x::numeric, digits)::double precision;

CREATE OR REPLACE FUNCTION crm_concat_step(acc text, value text, sep text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN value IS NULL THEN acc WHEN acc IS NULL THEN value
                ELSE acc || sep || value END;
CREATE OR REPLACE FUNCTION crm_concat_step(acc text, value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN crm_concat_step(acc, value, ',');
CREATE OR REPLACE AGGREGATE group_concat(text, text) (SFUNC = crm_concat_step, STYPE = text);
CREATE OR REPLACE AGGREGATE group_concat(text) (SFUNC = crm_concat_step, STYPE = text);

-- Booleans as SQLite's 0/1 where its SQL counts or multiplies with them.
CREATE OR REPLACE FUNCTION crm_bool_int(b boolean) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN CASE WHEN b THEN 1 WHEN NOT b THEN 0 END;
CREATE OR REPLACE FUNCTION crm_times_bool(a bigint, b boolean) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN a * crm_bool_int(b);
CREATE OR REPLACE FUNCTION crm_times_bool(a boolean, b bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN crm_bool_int(a) * b;
CREATE OR REPLACE FUNCTION crm_plus_bool(acc bigint, b boolean) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN b IS NULL THEN acc ELSE coalesce(acc, 0) + crm_bool_int(b) END;
CREATE OR REPLACE FUNCTION crm_max_bool(acc bigint, b boolean) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN b IS NULL THEN acc ELSE greatest(acc, crm_bool_int(b)) END;
CREATE OR REPLACE FUNCTION crm_min_bool(acc bigint, b boolean) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN b IS NULL THEN acc ELSE least(acc, crm_bool_int(b)) END;
CREATE OR REPLACE AGGREGATE sum(boolean) (SFUNC = crm_plus_bool, STYPE = bigint);
CREATE OR REPLACE AGGREGATE max(boolean) (SFUNC = crm_max_bool, STYPE = bigint);
CREATE OR REPLACE AGGREGATE min(boolean) (SFUNC = crm_min_bool, STYPE = bigint);
DO $$ BEGIN
    CREATE OPERATOR * (LEFTARG = bigint, RIGHTARG = boolean, FUNCTION = crm_times_bool);
    CREATE OPERATOR * (LEFTARG = boolean, RIGHTARG = bigint, FUNCTION = crm_times_bool);
EXCEPTION WHEN duplicate_function THEN NULL;
END $$;

CREATE OR REPLACE FUNCTION crm_json_array_text(items json[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN coalesce(array_to_json(items)::text, '[]');
CREATE OR REPLACE AGGREGATE json_group_array(json) (
    SFUNC = array_append, STYPE = json[], FINALFUNC = crm_json_array_text);
-- FTS5's phrase instances in a document (for bm25): positions where terms[1..n] follow
-- each other, the last one a prefix when prefix is true.
CREATE OR REPLACE FUNCTION crm_phrase_hits(words tsvector, terms text[], prefix boolean)
    RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH p AS (
        SELECT t.j, pos FROM unnest(terms) WITH ORDINALITY AS t(term, j)
        JOIN unnest(words) AS u ON u.lexeme = t.term
            OR (prefix AND t.j = cardinality(terms) AND starts_with(u.lexeme, t.term))
        CROSS JOIN LATERAL unnest(u.positions) AS pos)
    SELECT count(*) FROM p AS head WHERE head.j = 1
        AND (SELECT count(DISTINCT o.j) FROM p AS o WHERE o.pos = head.pos + o.j - 1)
            = cardinality(terms) $$;

CREATE OR REPLACE FUNCTION crm_json_array_any(items anycompatiblearray) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT coalesce(array_to_json(items)::text, '[]') $$;
CREATE OR REPLACE AGGREGATE json_group_array(anycompatible) (
    SFUNC = array_append, STYPE = anycompatiblearray, FINALFUNC = crm_json_array_any);
"""

_WORD = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?"
_NOCASE_EQ = re.compile(rf"({_WORD})\s*(=|>=|<=|<|>)\s*\?\s+COLLATE\s+NOCASE", re.I)
_NOCASE_CMP = re.compile(rf"({_WORD})\s+COLLATE\s+NOCASE\s*(=|>=|<=|<|>)\s*\?", re.I)
_NOCASE = re.compile(rf"({_WORD})\s+COLLATE\s+NOCASE", re.I)
_PARAM = re.compile(r"\?|(?<![:\w]):([A-Za-z_]\w*)")
_LIKE = re.compile(r"\bLIKE\b", re.I)
_OR_IGNORE = re.compile(r"\bINSERT\s+OR\s+IGNORE\b", re.I)
_SQLITE_DATE = re.compile(r"(?<![.\w])date\s*\(", re.I)
_IS_NOT = re.compile(r"\bIS\s+NOT\s+(?!NULL\b|DISTINCT\b|TRUE\b|FALSE\b)", re.I)
_IS = re.compile(r"\bIS\s+(?!NOT\b|NULL\b|DISTINCT\b|TRUE\b|FALSE\b)", re.I)
_ID_IN_JSON = re.compile(rf"({_WORD})\s+IN\s*\(\s*SELECT\s+value\s+FROM\s+json_each\(", re.I)
_JSON_EACH = re.compile(r"(?<![.\w])json_each\s*\(", re.I)
_FROM_SUBQUERY = re.compile(r"\b(FROM|JOIN)\s*\(\s*(SELECT|WITH|VALUES)\b", re.I)
_ALIAS_NEEDED = re.compile(r"\s*($|\)|;|,|WHERE\b|GROUP\b|ORDER\b|LIMIT\b|UNION\b|JOIN\b|"
                           r"LEFT\b|INNER\b|CROSS\b|ON\b|HAVING\b|EXCEPT\b|INTERSECT\b)", re.I)
_JSON_OBJECT = re.compile(r"(?<![.\w])json_object\s*\(", re.I)
# SQLite's CROSS JOIN with ON (a join order for its planner): a plain JOIN on PostgreSQL.
_CROSS_JOIN_ON = re.compile(r"\bCROSS\s+JOIN(\s+\w+(?:\s+(?:AS\s+)?(?!ON\b)\w+)?\s+ON)\b", re.I)
# SQLite's index hints (NOT INDEXED, INDEXED BY name): PostgreSQL's planner takes none.
_INDEXED = re.compile(r"\s+(?:NOT\s+INDEXED|INDEXED\s+BY\s+\w+)\b", re.I)
# LIMIT of a parameter: SQLite reads a negative one as no limit, PostgreSQL refuses it.
_LIMIT_PARAM = re.compile(r"\bLIMIT\s+(\?|:[A-Za-z_]\w*)", re.I)
# SQLite's unary + on a column (`+at`) keeps its planner off an index; PostgreSQL has no
# unary + for text: the bare column, where the + follows an operator or a clause word.
_UNARY_PLUS = re.compile(r"(^|[(,=<>]|\b(?:AND|OR|WHERE|ON|NOT|BY|SELECT|WHEN|THEN|ELSE|"
                         r"BETWEEN|HAVING)\b)(\s*)\+\s*(?=[A-Za-z_])", re.I)


def _segments(sql: str) -> list[tuple[bool, str]]:
    """(is_literal, text) pieces: single-quoted strings and double-quoted names apart."""
    out: list[tuple[bool, str]] = []
    i, start, n = 0, 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            if i > start:
                out.append((False, sql[start:i]))
            j = i + 1
            while j < n:
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            out.append((True, sql[i:j + 1]))
            i = start = j + 1
            continue
        i += 1
    if start < n:
        out.append((False, sql[start:]))
    return out


def _code_rewrites(code: str) -> str:
    code = _NOCASE_EQ.sub(r"crm_nocase(\1) \2 crm_nocase(?)", code)
    code = _NOCASE_CMP.sub(r"crm_nocase(\1) \2 crm_nocase(?)", code)
    code = _NOCASE.sub(r"crm_nocase(\1)", code)
    code = _LIKE.sub("ILIKE", code)
    code = _UNARY_PLUS.sub(r"\1\2", code)
    code = _CROSS_JOIN_ON.sub(r"JOIN\1", code)
    code = _INDEXED.sub("", code)
    code = _LIMIT_PARAM.sub(r"LIMIT crm_limit(\1)", code)
    code = _OR_IGNORE.sub("INSERT", code)
    code = _SQLITE_DATE.sub("crm_date(", code)
    code = _JSON_OBJECT.sub("json_build_object(", code)
    code = _IS_NOT.sub("IS DISTINCT FROM ", code)
    code = _IS.sub("IS NOT DISTINCT FROM ", code)
    code = _ID_IN_JSON.sub(lambda m: f"{m.group(1)} IN (SELECT value::bigint FROM json_each("
                           if m.group(1).lower().endswith("id") else m.group(0), code)
    code = _JSON_EACH.sub("crm_json_each(", code)
    code = code.replace("%", "%%")
    return _PARAM.sub(lambda m: "%s" if m.group(0) == "?" else f"%({m.group(1)})s", code)


def _matching_paren(sql: str, open_at: int) -> int:
    """Index of the ')' closing the '(' at open_at, skipping literals."""
    depth, i, n = 0, open_at, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            j = sql.find(ch, i + 1)
            while j != -1 and j + 1 < n and sql[j + 1] == ch:
                j = sql.find(ch, j + 2)
            i = n if j == -1 else j + 1
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _top_level_split(text: str, sep: str = ",") -> list[str]:
    parts, depth, buf, i, n = [], 0, [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"":
            j = i + 1
            while j < n and not (text[j] == ch and (j + 1 >= n or text[j + 1] != ch)):
                j += 2 if text[j] == ch else 1
            buf.append(text[i:j + 1])
            i = j + 1
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return parts


_CALL = re.compile(r"(?<![.\w])(max|min|CAST)\s*\(", re.I)
_CAST_AS = re.compile(r"^(.*)\s+AS\s+(INTEGER|INT|REAL|TEXT|NUMERIC)\s*$", re.I | re.S)


def _rewrite_calls(sql: str) -> str:
    """Scalar max/min of several values, and CASTs with SQLite's lenient meaning."""
    pos = 0
    while True:
        m = _CALL.search(sql, pos)
        if not m:
            return sql
        if _inside_literal(sql, m.start()):
            pos = m.end()
            continue
        open_at = m.end() - 1
        close = _matching_paren(sql, open_at)
        if close < 0:
            return sql
        inner = _rewrite_calls(sql[open_at + 1:close])
        name = m.group(1).lower()
        replacement = None
        if name in ("max", "min"):
            if len(_top_level_split(inner)) > 1:
                replacement = f"{'greatest' if name == 'max' else 'least'}({inner})"
        else:
            cast = _CAST_AS.match(inner)
            if cast:
                what, to = cast.group(1), cast.group(2).upper()
                if to in ("INTEGER", "INT"):
                    replacement = f"crm_int({what})"
                elif to == "REAL":
                    replacement = f"CAST({what} AS double precision)"
        if replacement is None:
            replacement = f"{sql[m.start():open_at]}({inner})"
        sql = sql[:m.start()] + replacement + sql[close + 1:]
        pos = m.start() + len(replacement)


def _inside_literal(sql: str, at: int) -> bool:
    return sql.count("'", 0, at) % 2 == 1


_ORDER_BY = re.compile(r"\bORDER\s+BY\b", re.I)
_ORDER_END = re.compile(r"\b(LIMIT|OFFSET|UNION|EXCEPT|INTERSECT|WINDOW|RANGE|ROWS|GROUPS)\b",
                        re.I)


@lru_cache(maxsize=1)
def never_null_columns() -> frozenset[str]:
    """Names of the columns that are NOT NULL (or the key) in every table that has one."""
    from crmcli.store.migrations import STEPS

    seen: dict[str, set[bool]] = {}
    for _name, sql in STEPS:
        for table in re.finditer(r"CREATE TABLE\s+\w+\s*\((.*?)\n\s*\);", sql, re.S):
            for line in table.group(1).split("\n"):
                col = re.match(r"\s*(\w+)\s+(INTEGER|TEXT|REAL|BLOB|NUMERIC)\b(.*)", line, re.I)
                if col:
                    rest = col.group(3).upper()
                    seen.setdefault(col.group(1), set()).add(
                        "NOT NULL" in rest or "PRIMARY KEY" in rest)
        for added in re.finditer(r"ADD\s+COLUMN\s+(\w+)\s+\w+([^;]*)", sql, re.I):
            seen.setdefault(added.group(1), set()).add("NOT NULL" in added.group(2).upper())
    return frozenset(c for c, kinds in seen.items() if kinds == {True})


_SORT_TERM = re.compile(r"^\s*(?:crm_nocase\()?(?:\w+\.)?(\w+)\)?\s*(?:ASC|DESC)?\s*$", re.I)


def _nulls_like_sqlite(sql: str) -> str:
    """SQLite sorts NULLs first in ascending order, PostgreSQL last: say SQLite's order.
    Not for a column that is never NULL: there the order is the same, and a NULLS clause
    would keep PostgreSQL from reading an index in order."""
    out, pos = [], 0
    for m in _ORDER_BY.finditer(sql):
        if m.start() < pos or _inside_literal(sql, m.start()):
            continue
        # The ORDER BY list ends at a closing parenthesis of its level or a clause word.
        depth, i, n = 0, m.end(), len(sql)
        while i < n:
            ch = sql[i]
            if ch == "'":
                j = sql.find("'", i + 1)
                i = n if j < 0 else j + 1
                continue
            if ch == "(":
                depth += 1
            elif ch == ")":
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0:
                end = _ORDER_END.match(sql, i)
                if end and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
                    break
            i += 1
        terms = []
        for term in _top_level_split(sql[m.end():i]):
            stripped = term.rstrip()
            upper = stripped.upper()
            bare = _SORT_TERM.match(stripped)
            if ("NULLS" in upper.split()[-2:] or not stripped
                    or (bare and bare.group(1) in never_null_columns())):
                terms.append(term)
                continue
            nulls = " NULLS LAST" if upper.endswith(" DESC") else " NULLS FIRST"
            terms.append(stripped + nulls + term[len(stripped):])
        out.append(sql[pos:m.end()] + ",".join(terms))
        pos = i
    out.append(sql[pos:])
    return "".join(out)


def _alias_subqueries(sql: str) -> str:
    """PostgreSQL (before 16) wants a name for every subquery in FROM; SQLite does not."""
    pos, n = 0, 0
    while True:
        m = _FROM_SUBQUERY.search(sql, pos)
        if not m:
            return sql
        open_at = sql.index("(", m.start())
        close = _matching_paren(sql, open_at)
        if close < 0 or _inside_literal(sql, m.start()):
            pos = m.end()
            continue
        if _ALIAS_NEEDED.match(sql, close + 1):
            n += 1
            sql = f"{sql[:close + 1]} AS crm_sub{n}{sql[close + 1:]}"
        pos = open_at + 1


@lru_cache(maxsize=4096)
def to_postgres(sql: str) -> str:
    """The statement as PostgreSQL (through psycopg's %s placeholders) should read it."""
    sql = _alias_subqueries(_rewrite_calls(sql))
    ignore = _OR_IGNORE.search(sql) is not None
    sql = "".join(text.replace("%", "%%") if literal else _code_rewrites(text)
                  for literal, text in _segments(sql))
    sql = _nulls_like_sqlite(sql)
    if ignore:
        sql = sql.rstrip().rstrip(";") + " ON CONFLICT DO NOTHING"
    return sql
