"""A team on one PostgreSQL book: group roles, grants and row-level security.

`crm team init` gives the book three group roles, named after its database (and its
schema, when that is not `public`, so that several books can share a cluster):

    DB_admin      everything, everyone's clients and changes
    DB_member     reads the shared book except clients private to another owner; changes
                  only clients it owns or that have no owner, with their records
    DB_readonly   reads what a member reads, writes nothing

and a person is a login role in one of them (`crm team add`). The database enforces the
model, not crm: grants (a read-only member has SELECT only) and row-level security
policies, ENABLEd and FORCEd on every table that holds a client's records, so psql
connected as a member cannot do what crm refuses. The tables belong to DB_admin.

Policies, per table (see apply_policies):
- clients: read when not private, unowned, own, or admin; insert, update (USING the old
  row, WITH CHECK the new one) and delete only own or unowned clients, and a member may
  hand a client over (owner) only to someone of the team who can write.
- every table with a client_id pointing at clients (contacts, interactions, deals,
  follow-ups, tags, stage changes, invoices, payments and whatever is added later), and a
  table pointing at one of those: read and write as their client.
- changes, change_rows: everyone inserts their own (changes.role defaults to
  current_user); only admins update or delete others', and a member deletes only an own
  change that recorded no rows (crm drops empty changes); change_rows are written once.
- search_index: read as its client; written by writers.
- the rest (digest ledger, model fits): read by all, written by writers.

Applied again after every migration of a team book, so new tables are covered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crmcli.errors import PermissionDenied, StoreError, ValidationError

if TYPE_CHECKING:
    from crmcli.store.store import Database

# The --role a person is given, and the suffix of its group role.
KINDS = {"admin": "admin", "member": "member", "read-only": "readonly"}
MARKER = "crm_team"
POLICIES = ("crm_read", "crm_add", "crm_change", "crm_remove")
# Tables only admins write (the schema's own bookkeeping).
ADMIN_ONLY = {"crm_migrations", MARKER}
_ROLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.@-]*")
_ADMIN = "(SELECT crm_team_admin())"
_WRITER = "(SELECT crm_team_writer())"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def group_names(prefix: str) -> dict[str, str]:
    """{--role: group role name} of the book whose roles are named with prefix."""
    return {kind: f"{prefix}_{suffix}" for kind, suffix in KINDS.items()}


def check_role_name(name: str) -> str:
    if not _ROLE_NAME.fullmatch(name) or len(name.encode()) > 63:
        raise ValidationError("NAME", name, "is not a role name crm accepts (a letter or _ "
                                            "first, then letters, digits, _ . @ -; at most 63 "
                                            "bytes)")
    if name.startswith("pg_"):
        raise ValidationError("NAME", name, "is reserved by PostgreSQL (pg_...)")
    return name


@dataclass(frozen=True)
class Identity:
    """Who this connection is on a team book."""

    role: str
    admin: bool
    writer: bool


def identity(db: Database) -> Identity | None:
    """The connection's role and powers on a team book; None when the book has no team."""
    if db.engine != "postgres" or not db.scalar(f"SELECT to_regclass('{MARKER}') IS NOT NULL"):
        return None
    row = db.query_one("SELECT current_user AS role, crm_team_admin() AS admin, "
                       "crm_team_writer() AS writer")
    return Identity(row["role"], bool(row["admin"]), bool(row["writer"]))


def refuse_write(db: Database, who: Identity, table: str, row: dict,
                 client_tables: set[str]) -> None:
    """Refuse, before the database does, a write of row (as it is now, or about to be
    inserted) that who may not make; the message names the owner to ask."""
    if who.admin:
        return
    if not who.writer:
        raise PermissionDenied(f"{who.role} is a read-only member of this book; ask an admin")
    if table == "clients":
        client_id, owner = row.get("id"), row.get("owner")
    elif table in client_tables and row.get("client_id") is not None:
        client_id = row["client_id"]
        owner = db.scalar("SELECT owner FROM clients WHERE id = ?", (client_id,))
    else:
        return
    if owner is not None and owner != who.role:
        raise PermissionDenied(f"client {client_id} belongs to {owner}; ask {owner} or an admin")


def refuse_undo(who: Identity, change: dict) -> None:
    if who.admin or change.get("role") == who.role:
        return
    by = change.get("role")
    if by is None:
        raise PermissionDenied(f"change {change['id']} was recorded before roles were (or "
                               "copied from another book); only an admin can undo it")
    raise PermissionDenied(f"change {change['id']} was made by {by}; only {by} or an admin "
                           "can undo it")


class Team:
    """The book's team: its group roles, members, grants and policies (PostgreSQL only).
    Uses the database only."""

    def __init__(self, db: Database):
        self.db = db

    def _require_postgres(self) -> None:
        if self.db.engine != "postgres":
            raise StoreError(f"crm team needs a book on PostgreSQL (a postgresql:// URL in "
                             f"--db, CRM_DB or db:); {self.db.location} is an SQLite file")

    def prefix(self) -> str | None:
        """The prefix of the book's group roles, or None before crm team init."""
        self._require_postgres()
        if not self.db.scalar(f"SELECT to_regclass('{MARKER}') IS NOT NULL"):
            return None
        return self.db.scalar(f"SELECT prefix FROM {MARKER}")

    def _require_team(self) -> dict[str, str]:
        prefix = self.prefix()
        if prefix is None:
            raise StoreError(f"{self.db.location}: this book has no team yet; an admin runs "
                             "crm team init first")
        return group_names(prefix)

    def _here_prefix(self) -> str:
        row = self.db.query_one("SELECT current_database() AS db, current_schema() AS s")
        prefix = row["db"] if row["s"] == "public" else f"{row['db']}_{row['s']}"
        if len(prefix.encode()) > 54:
            raise StoreError(f"{self.db.location}: the database name {prefix!r} is too long "
                             "to name the team's roles after (54 bytes at most)")
        return prefix

    def init(self) -> dict:
        """Create the group roles, grants and policies; running it again changes nothing
        that is already right. Returns {"groups": {kind: name}, "created": [names]}."""
        import psycopg
        from psycopg import sql

        from crmcli.store.postgres import MIGRATION_LOCK, describe_db_error

        self._require_postgres()
        raw = self.db.native
        existing = self.prefix()
        prefix = existing or self._here_prefix()
        names = group_names(prefix)
        created = []
        try:
            with raw.transaction():
                raw.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                for name in names.values():
                    if raw.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                                   (name,)).fetchone() is None:
                        raw.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(
                            sql.Identifier(name)))
                        created.append(name)
                super_ = raw.execute("SELECT rolsuper FROM pg_roles WHERE rolname = "
                                     "current_user").fetchone()[0]
                if not super_:
                    # The one setting it up stays an admin once the tables are the group's.
                    raw.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(
                        sql.Identifier(names["admin"])))
                raw.execute(f"CREATE TABLE IF NOT EXISTS {MARKER} (id INTEGER PRIMARY KEY "
                            "CHECK (id = 1), prefix TEXT NOT NULL, set_up_at TEXT NOT NULL)")
                raw.execute(f"INSERT INTO {MARKER} (id, prefix, set_up_at) VALUES (1, %s, "
                            "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS"
                            "\"+00:00\"')) ON CONFLICT (id) DO NOTHING", (prefix,))
                apply_policies(raw, names)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StoreError(f"{self.db.location}: cannot set up the team: "
                             f"{exc.diag.message_primary} (run crm team init connected as the "
                             "cluster's superuser, or as a role with CREATEROLE that owns the "
                             "book's tables)") from None
        except psycopg.Error as exc:
            raise StoreError(f"{self.db.location}: {describe_db_error(exc)}") from None
        return {"groups": names, "created": created}

    def add(self, name: str, kind: str, password: str | None = None) -> dict:
        """Make name a member of the team as kind (admin, member, read-only): a new login
        role, or an existing role moved into that group (and out of the other two)."""
        import psycopg
        from psycopg import sql

        from crmcli.store.postgres import describe_db_error

        names = self._require_team()
        if kind not in KINDS:
            raise ValidationError("--role", kind, "must be admin, member or read-only")
        check_role_name(name)
        if name in names.values():
            raise ValidationError("NAME", name, "is one of the team's group roles")
        raw = self.db.native
        role = sql.Identifier(name)
        try:
            with raw.transaction():
                found = raw.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s",
                                    (name,)).fetchone()
                if found is None:
                    statement = sql.SQL("CREATE ROLE {} LOGIN").format(role)
                    if password is not None:
                        statement += sql.SQL(" PASSWORD {}").format(sql.Literal(password))
                    raw.execute(statement)
                elif password is not None:
                    raw.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                        role, sql.Literal(password)))
                for other_kind, group in names.items():
                    if other_kind != kind:
                        raw.execute(sql.SQL("REVOKE {} FROM {}").format(
                            sql.Identifier(group), role))
                raw.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(names[kind]), role))
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StoreError(f"{self.db.location}: cannot add {name}: "
                             f"{exc.diag.message_primary} (an admin with CREATEROLE, or the "
                             "cluster's superuser, adds people)") from None
        except psycopg.Error as exc:
            raise StoreError(f"{self.db.location}: {describe_db_error(exc)}") from None
        return {"name": name, "role": kind, "created": found is None,
                "login": True if found is None else bool(found[0])}

    def remove(self, name: str) -> bool:
        """Take name out of the team's groups (its login role stays); False if it was in
        none of them."""
        import psycopg
        from psycopg import sql

        from crmcli.store.postgres import describe_db_error

        names = self._require_team()
        check_role_name(name)
        raw = self.db.native
        was = self._kind_of(name, names)
        if was is None:
            return False
        try:
            with raw.transaction():
                for group in names.values():
                    raw.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(group),
                                                                    sql.Identifier(name)))
        except psycopg.Error as exc:
            raise StoreError(f"{self.db.location}: {describe_db_error(exc)}") from None
        return True

    def _kind_of(self, name: str, names: dict[str, str]) -> str | None:
        for kind in ("admin", "member", "read-only"):
            if self.db.scalar("SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = "
                              "m.roleid JOIN pg_roles r ON r.oid = m.member WHERE g.rolname = ? "
                              "AND r.rolname = ?", (names[kind], name)):
                return kind
        return None

    def members(self) -> list[dict]:
        """Everyone in the team: name, role (admin, member, read-only), login (whether
        the role may log in), clients (how many clients it owns that this role sees)."""
        names = self._require_team()
        rows = []
        for kind in ("admin", "member", "read-only"):
            for row in self.db.query(
                    "SELECT r.rolname AS name, r.rolcanlogin AS login FROM pg_auth_members m "
                    "JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member "
                    "WHERE g.rolname = ? ORDER BY r.rolname", (names[kind],)):
                if any(r["name"] == row["name"] for r in rows):
                    continue
                rows.append({"name": row["name"], "role": kind, "login": bool(row["login"]),
                             "clients": self.db.scalar(
                                 "SELECT count(*) FROM clients WHERE owner = ?",
                                 (row["name"],))})
        return rows

    def whoami(self) -> dict:
        self._require_postgres()
        who = identity(self.db)
        role = self.db.scalar("SELECT current_user")
        if who is None:
            return {"name": role, "role": None}
        kind = "admin" if who.admin else "member" if who.writer else "read-only"
        return {"name": role, "role": kind}


# --- grants and policies --------------------------------------------------------------------


def _tables(raw) -> list[str]:
    return [r[0] for r in raw.execute(
        "SELECT c.relname FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace "
        "AND c.relkind IN ('r', 'p') ORDER BY c.relname")]


def _foreign_keys(raw) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for table, column, parent in raw.execute(
            "SELECT cl.relname, a.attname, p.relname FROM pg_constraint k "
            "JOIN pg_class cl ON cl.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid "
            "JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] "
            "WHERE k.contype = 'f' AND cl.relnamespace = current_schema()::regnamespace "
            "ORDER BY cl.relname, k.conname"):
        found.setdefault(table, []).append((column, parent))
    return found


def client_tables(fks: dict[str, list[tuple[str, str]]]) -> set[str]:
    """Tables whose rows belong to a client through their client_id."""
    return {t for t, keys in fks.items() if ("client_id", "clients") in keys}


def _mine(alias: str) -> str:
    return f"({alias}.owner IS NULL OR {alias}.owner = current_user)"


def _policy_sql(table: str, fks: dict[str, list[tuple[str, str]]], children: set[str]
                ) -> dict[str, str] | None:
    """{policy: (command, USING, WITH CHECK)} of a table under row-level security, or None."""
    t = _ident(table)
    if table == "clients":
        read = f"{_ADMIN} OR private = 0 OR {_mine(t)}"
        mine = f"{_WRITER} AND ({_ADMIN} OR {_mine(t)})"
        new = (f"{_WRITER} AND ({_ADMIN} OR {_mine(t)} OR crm_team_can_own({t}.owner))")
        return {"crm_read": ("SELECT", read, None), "crm_add": ("INSERT", None, new),
                "crm_change": ("UPDATE", mine, new), "crm_remove": ("DELETE", mine, None)}
    if table in children:
        read = f"{_ADMIN} OR EXISTS (SELECT 1 FROM clients c WHERE c.id = {t}.client_id)"
        write = (f"{_WRITER} AND ({_ADMIN} OR EXISTS (SELECT 1 FROM clients c WHERE c.id = "
                 f"{t}.client_id AND {_mine('c')}))")
    elif table == "changes":
        read = (f"{_ADMIN} OR {t}.role = current_user OR {t}.client_id IS NULL OR EXISTS "
                f"(SELECT 1 FROM clients c WHERE c.id = {t}.client_id)")
        own = f"{_ADMIN} OR ({_WRITER} AND {t}.role = current_user)"
        return {"crm_read": ("SELECT", read, None), "crm_add": ("INSERT", None, own),
                "crm_change": ("UPDATE", own, own),
                "crm_remove": ("DELETE", f"{_ADMIN} OR ({_WRITER} AND {t}.role = current_user "
                                         f"AND crm_team_change_is_empty({t}.id))", None)}
    elif table == "change_rows":
        read = f"{_ADMIN} OR EXISTS (SELECT 1 FROM changes c WHERE c.id = {t}.change_id)"
        add = (f"{_ADMIN} OR ({_WRITER} AND EXISTS (SELECT 1 FROM changes c WHERE c.id = "
               f"{t}.change_id AND c.role = current_user))")
        return {"crm_read": ("SELECT", read, None), "crm_add": ("INSERT", None, add),
                "crm_change": ("UPDATE", _ADMIN, _ADMIN), "crm_remove": ("DELETE", _ADMIN, None)}
    elif table == "search_index":
        read = (f"{_ADMIN} OR {t}.client_id IS NULL OR EXISTS (SELECT 1 FROM clients c "
                f"WHERE c.id = {t}.client_id)")
        write = _WRITER
    else:
        parent = next(((col, p) for col, p in fks.get(table, []) if p in children), None)
        if parent is None:
            return None
        col, p = parent
        read = (f"{_ADMIN} OR {t}.{_ident(col)} IS NULL OR EXISTS (SELECT 1 FROM {_ident(p)} "
                f"x WHERE x.id = {t}.{_ident(col)})")
        write = (f"{_WRITER} AND ({_ADMIN} OR {t}.{_ident(col)} IS NULL OR EXISTS (SELECT 1 "
                 f"FROM {_ident(p)} x JOIN clients c ON c.id = x.client_id WHERE x.id = "
                 f"{t}.{_ident(col)} AND {_mine('c')}))")
    return {"crm_read": ("SELECT", read, None), "crm_add": ("INSERT", None, write),
            "crm_change": ("UPDATE", write, write), "crm_remove": ("DELETE", write, None)}


def apply_policies(raw, names: dict[str, str]) -> None:
    """Functions, ownership, grants and policies of the team whose groups are names, on
    every table of the book as it is now (inside the caller's transaction)."""
    admin, member, reader = (_ident(names[k]) for k in ("admin", "member", "read-only"))
    schema = raw.execute("SELECT current_schema()").fetchone()[0]
    is_admin = f"pg_has_role(current_user, {_lit(names['admin'])}, 'MEMBER')"
    is_writer = f"(pg_has_role(current_user, {_lit(names['member'])}, 'MEMBER') OR {is_admin})"
    can_write = " OR ".join(f"pg_has_role(r.oid, {_lit(names[k])}, 'MEMBER')"
                            for k in ("admin", "member"))
    raw.execute(f"""
        CREATE OR REPLACE FUNCTION crm_team_admin() RETURNS boolean
            LANGUAGE sql STABLE RETURN {is_admin};
        CREATE OR REPLACE FUNCTION crm_team_writer() RETURNS boolean
            LANGUAGE sql STABLE RETURN {is_writer};
        CREATE OR REPLACE FUNCTION crm_team_can_own(who text) RETURNS boolean
            LANGUAGE sql STABLE
            RETURN EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = who AND ({can_write}));
        -- Whether a change recorded no rows, seen as the table's owner: a member may drop
        -- its own empty change, and the policy of changes may not read change_rows itself
        -- (whose policy reads changes).
        CREATE OR REPLACE FUNCTION crm_team_change_is_empty(change bigint) RETURNS boolean
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {_ident(schema)}, pg_temp
            RETURN NOT EXISTS (SELECT 1 FROM change_rows WHERE change_id = change);
        GRANT USAGE ON SCHEMA {_ident(schema)} TO {admin}, {member}, {reader};
        GRANT CREATE ON SCHEMA {_ident(schema)} TO {admin};
        GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {_ident(schema)} TO {admin}, {member};
        GRANT SELECT ON ALL SEQUENCES IN SCHEMA {_ident(schema)} TO {reader};
    """)
    for (signature,) in raw.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = "
            "current_schema()::regnamespace").fetchall():
        raw.execute(f"ALTER FUNCTION {signature} OWNER TO {admin}")
    fks = _foreign_keys(raw)
    children = client_tables(fks)
    for table in _tables(raw):
        t = _ident(table)
        raw.execute(f"ALTER TABLE {t} OWNER TO {admin}")
        raw.execute(f"GRANT SELECT ON {t} TO {admin}, {member}, {reader}")
        if table not in ADMIN_ONLY:
            raw.execute(f"GRANT INSERT, UPDATE, DELETE ON {t} TO {admin}, {member}")
        policies = _policy_sql(table, fks, children)
        if policies is None:
            continue
        for name, (command, using, check) in policies.items():
            raw.execute(f"DROP POLICY IF EXISTS {name} ON {t}")
            text = f"CREATE POLICY {name} ON {t} FOR {command}"
            if using is not None:
                text += f" USING ({using})"
            if check is not None:
                text += f" WITH CHECK ({check})"
            raw.execute(text)
        raw.execute(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY")
        raw.execute(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY")


def reapply(raw) -> None:
    """After a migration of a team book: cover the tables it added (no-op without a team)."""
    if raw.execute(f"SELECT to_regclass('{MARKER}') IS NOT NULL").fetchone()[0]:
        prefix = raw.execute(f"SELECT prefix FROM {MARKER}").fetchone()[0]
        apply_policies(raw, group_names(prefix))
