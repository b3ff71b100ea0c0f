"""The schema, as one ordered set of migrations.

Never edit or reorder a migration that has shipped: add a new one. The schema
version of a file is the number of migrations applied to it, mirrored in
PRAGMA user_version so that opening an up-to-date file costs one pragma read.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# (name, SQL) in order; MIGRATIONS is built from this list. The SQL is SQLite's; on
# PostgreSQL it is rewritten by postgres_sql(), or replaced where the engines differ
# too much (POSTGRES_STEPS).
STEPS: list[tuple[str, str]] = []
POSTGRES_STEPS: dict[str, str] = {}


def step(name: str, *, postgres: str | None = None
         ) -> Callable[[Callable[[], str]], Callable[[], str]]:
    """Register a migration; postgres: its SQL for PostgreSQL when the rewrite of its
    SQLite SQL would not do."""
    def register(fn: Callable[[], str]) -> Callable[[], str]:
        if any(n == name for n, _ in STEPS):
            raise ValueError(f"migration {name} registered twice")
        STEPS.append((name, fn()))
        if postgres is not None:
            POSTGRES_STEPS[name] = postgres
        return fn

    return register


@step("m001_create_clients")
def _clients() -> str:
    return """
    CREATE TABLE clients (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        company TEXT,
        email TEXT,
        phone TEXT,
        industry TEXT,
        size TEXT,
        owner TEXT,
        source TEXT,
        stage TEXT,
        external_id TEXT,
        custom TEXT NOT NULL DEFAULT '{}',
        notes TEXT,
        cadence_ideal TEXT,
        cadence_max TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        archived_at TEXT
    );
    CREATE UNIQUE INDEX clients_external_id ON clients(external_id) WHERE external_id IS NOT NULL;
    CREATE INDEX clients_email ON clients(email COLLATE NOCASE) WHERE email IS NOT NULL;
    CREATE INDEX clients_name ON clients(name COLLATE NOCASE);
    CREATE INDEX clients_stage ON clients(stage);
    CREATE INDEX clients_owner ON clients(owner);
    """


@step("m002_create_contacts")
def _contacts() -> str:
    return """
    CREATE TABLE contacts (
        id INTEGER PRIMARY KEY,
        client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        role TEXT,
        email TEXT,
        phone TEXT,
        decision_level TEXT CHECK (decision_level IN ('decision-maker', 'influencer', 'user')),
        is_primary INTEGER NOT NULL DEFAULT 0 CHECK (is_primary IN (0, 1)),
        notes TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX contacts_client ON contacts(client_id);
    CREATE INDEX contacts_email ON contacts(email COLLATE NOCASE) WHERE email IS NOT NULL;
    """


@step("m003_create_interactions")
def _interactions() -> str:
    return """
    CREATE TABLE interactions (
        id INTEGER PRIMARY KEY,
        client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        at TEXT NOT NULL,
        channel TEXT NOT NULL DEFAULT 'other'
            CHECK (channel IN ('call', 'email', 'meeting', 'chat', 'visit', 'other')),
        direction TEXT NOT NULL DEFAULT 'out' CHECK (direction IN ('in', 'out')),
        kind TEXT NOT NULL DEFAULT 'note',
        summary TEXT NOT NULL DEFAULT '',
        score INTEGER CHECK (score BETWEEN 0 AND 10),
        contact_id INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
        resolved_at TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX interactions_client_at ON interactions(client_id, at);
    CREATE INDEX interactions_at ON interactions(at);
    CREATE INDEX interactions_complaints ON interactions(at) WHERE kind = 'complaint';
    """


@step("m004_create_followups")
def _followups() -> str:
    return """
    CREATE TABLE followups (
        id INTEGER PRIMARY KEY,
        client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        due TEXT NOT NULL,
        due_at TEXT,
        note TEXT NOT NULL DEFAULT '',
        every TEXT,
        anchor TEXT,
        interaction_id INTEGER REFERENCES interactions(id) ON DELETE SET NULL,
        done_at TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX followups_open_due ON followups(due) WHERE done_at IS NULL;
    CREATE INDEX followups_client ON followups(client_id);
    """


@step("m005_create_deals")
def _deals() -> str:
    return """
    CREATE TABLE deals (
        id INTEGER PRIMARY KEY,
        client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        amount TEXT NOT NULL,
        currency TEXT NOT NULL,
        at TEXT NOT NULL,
        title TEXT,
        status TEXT NOT NULL DEFAULT 'won' CHECK (status IN ('won', 'open', 'lost')),
        created_at TEXT NOT NULL
    );
    CREATE INDEX deals_client_at ON deals(client_id, at);
    CREATE INDEX deals_status_at ON deals(status, at);
    """


@step("m006_create_tags_and_stage_changes")
def _tags_stages() -> str:
    return """
    CREATE TABLE tags (
        id INTEGER PRIMARY KEY,
        client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        UNIQUE (client_id, tag)
    );
    CREATE INDEX tags_tag ON tags(tag, client_id);
    CREATE TABLE stage_changes (
        id INTEGER PRIMARY KEY,
        client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        from_stage TEXT,
        to_stage TEXT NOT NULL,
        at TEXT NOT NULL,
        note TEXT
    );
    CREATE INDEX stage_changes_client_at ON stage_changes(client_id, at);
    """


@step("m007_create_search_index", postgres="""
    CREATE TABLE search_index (
        rowid BIGINT PRIMARY KEY,
        body TEXT COLLATE "C" NOT NULL,
        client_id BIGINT,
        words tsvector NOT NULL
    );
    CREATE INDEX search_index_words ON search_index USING gin (words);
    CREATE INDEX search_index_client ON search_index (client_id);
    """)
def _search() -> str:
    # rowid = ref_id * 4 + kind (0 client, 1 contact, 2 interaction), so a
    # document is replaced or removed by rowid without scanning the index.
    # CJK text is stored one character per token (see store.search), which
    # lets a two-character Chinese name match as a phrase.
    return """
    CREATE VIRTUAL TABLE search_index USING fts5(
        body, client_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 2'
    );
    """


@step("m008_create_change_log")
def _change_log() -> str:
    return """
    CREATE TABLE changes (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        command TEXT NOT NULL,
        summary TEXT NOT NULL DEFAULT '',
        client_id INTEGER,
        undo_of INTEGER REFERENCES changes(id),
        undone_by INTEGER REFERENCES changes(id)
    );
    CREATE INDEX changes_client ON changes(client_id, id);
    CREATE TABLE change_rows (
        id INTEGER PRIMARY KEY,
        change_id INTEGER NOT NULL REFERENCES changes(id) ON DELETE CASCADE,
        tbl TEXT NOT NULL,
        row_id INTEGER NOT NULL,
        op TEXT NOT NULL CHECK (op IN ('insert', 'update', 'delete', 'insert_range')),
        old TEXT,
        new TEXT
    );
    CREATE INDEX change_rows_change ON change_rows(change_id);
    CREATE INDEX change_rows_row ON change_rows(tbl, row_id);
    """


@step("m009_create_digest_ledger")
def _digests() -> str:
    return """
    CREATE TABLE digests (
        id INTEGER PRIMARY KEY,
        sent_at TEXT NOT NULL,
        day TEXT NOT NULL,
        transport TEXT NOT NULL,
        recipients TEXT NOT NULL,
        subject TEXT NOT NULL,
        item_count INTEGER NOT NULL
    );
    CREATE TABLE digest_items (
        digest_id INTEGER NOT NULL REFERENCES digests(id) ON DELETE CASCADE,
        day TEXT NOT NULL,
        recipient TEXT NOT NULL,
        item_key TEXT NOT NULL,
        PRIMARY KEY (day, recipient, item_key)
    );
    """


@step("m010_create_model_fits")
def _model_fits() -> str:
    # Fitted predictive models (BG/NBD, Gamma-Gamma): `crm show` reads the latest fit
    # instead of refitting on every call.
    return """
    CREATE TABLE model_fits (
        id INTEGER PRIMARY KEY,
        model TEXT NOT NULL,
        fitted_at TEXT NOT NULL,
        calibration_end TEXT NOT NULL,
        time_unit TEXT NOT NULL,
        customers INTEGER NOT NULL,
        params TEXT NOT NULL,
        settings TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX model_fits_model ON model_fits(model, id);
    """


@step("m011_interactions_client_at_direction")
def _reply_index() -> str:
    # Response time pairs each inbound interaction with the client's next outbound one: with
    # direction (and channel, for --by channel) in the (client_id, at) index, that is one
    # index seek per inbound and never a table read (crmcli.store.reports_events).
    # Same name, same uses as before, two short columns more.
    return """
    DROP INDEX interactions_client_at;
    CREATE INDEX interactions_client_at ON interactions(client_id, at, direction, channel);
    """


@step("m012_read_path_indexes")
def _read_path_indexes() -> str:
    # Indexes that match the hot read queries (their plans are asserted in
    # tests/test_query_plans.py):
    # - deals: two covering indexes in place of (status, at). By time: revenue in a window,
    #   activity per period, the churn behind CLV. By client: revenue per client (tiers,
    #   CLV, lifecycle, RFM, the card) in client order, with no sort and no row look-ups.
    # - clients(archived_at) WHERE archived: the few archived clients that reports leave out,
    #   found without reading every client; clients(cadence_ideal) WHERE set: whether any
    #   client has its own cadence (`crm due` asks on every run).
    return """
    CREATE INDEX deals_status_at_cover ON deals(status, at, client_id, currency, amount);
    DROP INDEX deals_status_at;
    CREATE INDEX deals_status_client ON deals(status, client_id, at, currency, amount);
    CREATE INDEX clients_archived ON clients(archived_at) WHERE archived_at IS NOT NULL;
    CREATE INDEX clients_cadence ON clients(cadence_ideal) WHERE cadence_ideal IS NOT NULL;
    """


@step("m013_custom_on_contacts_and_deals")
def _custom_everywhere() -> str:
    # Custom fields on contacts and deals as on clients: one JSON object of TEXT (see
    # crmcli/store/fields.py for how declared fields are typed and compared).
    return """
    ALTER TABLE contacts ADD COLUMN custom TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE deals ADD COLUMN custom TEXT NOT NULL DEFAULT '{}';
    """


@step("m014_create_invoices_and_payments")
def _invoices() -> str:
    # Receivables. Money is exact decimal text as in deals; issued and due are local
    # calendar dates ('YYYY-MM-DD'), a payment's `at` an instant (UTC ISO) like a deal's.
    # A payment repeats its invoice's client and currency so that collected revenue has
    # the shape of won deals (client, at, amount, currency): the reports read either
    # (revenue.source), and a merge or purge moves or removes payments like other rows.
    return """
    CREATE TABLE invoices (
        id INTEGER PRIMARY KEY,
        client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        deal_id INTEGER REFERENCES deals(id) ON DELETE SET NULL,
        number TEXT NOT NULL,
        amount TEXT NOT NULL,
        currency TEXT NOT NULL,
        issued TEXT NOT NULL,
        due TEXT NOT NULL,
        note TEXT,
        created_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX invoices_number ON invoices(number);
    CREATE INDEX invoices_client ON invoices(client_id, issued);
    CREATE INDEX invoices_due ON invoices(due);
    CREATE INDEX invoices_deal ON invoices(deal_id) WHERE deal_id IS NOT NULL;
    CREATE TABLE payments (
        id INTEGER PRIMARY KEY,
        invoice_id INTEGER NOT NULL REFERENCES invoices(id) ON DELETE CASCADE,
        client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        amount TEXT NOT NULL,
        currency TEXT NOT NULL,
        at TEXT NOT NULL,
        note TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX payments_invoice ON payments(invoice_id, at);
    CREATE INDEX payments_client_at ON payments(client_id, at, currency, amount);
    CREATE INDEX payments_at ON payments(at, client_id, currency, amount);
    """


@step("m015_deal_stages")
def _deal_stages() -> str:
    # A deal's own pipeline: its stage (one of deals.stages in the config, or the terminal
    # won/lost, which always equal its status), its probability in percent (NULL: the
    # stage's default, so a changed default reaches every deal that did not override it),
    # its expected close date (a local date, YYYY-MM-DD), and every stage move with its
    # time. Open deals of an older book start in qualify (the first stage of the default
    # pipeline) and won/lost ones in their terminal stage, each with one move on its date.
    return """
    ALTER TABLE deals ADD COLUMN stage TEXT;
    ALTER TABLE deals ADD COLUMN probability INTEGER CHECK (probability BETWEEN 0 AND 100);
    ALTER TABLE deals ADD COLUMN close_date TEXT;
    UPDATE deals SET stage = CASE WHEN status = 'open' THEN 'qualify' ELSE status END;
    CREATE TABLE deal_stage_changes (
        id INTEGER PRIMARY KEY,
        deal_id INTEGER NOT NULL REFERENCES deals(id) ON DELETE CASCADE,
        from_stage TEXT,
        to_stage TEXT NOT NULL,
        at TEXT NOT NULL,
        note TEXT
    );
    INSERT INTO deal_stage_changes (deal_id, from_stage, to_stage, at)
        SELECT id, NULL, stage, at FROM deals ORDER BY id;
    CREATE INDEX deal_stage_changes_deal_at ON deal_stage_changes(deal_id, at);
    """


@step("m016_search_token_counts", postgres="""
    ALTER TABLE search_index ADD COLUMN tokens INTEGER NOT NULL DEFAULT 0;
    UPDATE search_index SET tokens = (SELECT coalesce(sum(cardinality(positions)), 0)
                                      FROM unnest(words));
    CREATE TABLE search_totals (docs BIGINT NOT NULL, tokens BIGINT NOT NULL);
    INSERT INTO search_totals SELECT count(*), coalesce(sum(tokens), 0) FROM search_index;
    CREATE FUNCTION crm_search_totals() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            UPDATE search_totals SET docs = docs + a.n, tokens = search_totals.tokens + a.t
            FROM (SELECT count(*) AS n, coalesce(sum(tokens), 0) AS t FROM added) AS a;
        END IF;
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            UPDATE search_totals SET docs = docs - r.n, tokens = search_totals.tokens - r.t
            FROM (SELECT count(*) AS n, coalesce(sum(tokens), 0) AS t FROM removed) AS r;
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER search_totals_insert AFTER INSERT ON search_index
        REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION crm_search_totals();
    CREATE TRIGGER search_totals_update AFTER UPDATE ON search_index
        REFERENCING OLD TABLE AS removed NEW TABLE AS added
        FOR EACH STATEMENT EXECUTE FUNCTION crm_search_totals();
    CREATE TRIGGER search_totals_delete AFTER DELETE ON search_index
        REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION crm_search_totals();
    """)
def _search_token_counts() -> str:
    # Search ranks by FTS5's bm25, which needs each document's length in tokens and the
    # index's totals (documents, tokens): FTS5 keeps them itself; on PostgreSQL a column
    # and a one-row table kept by statement triggers (one update per statement, so a bulk
    # insert of documents in one statement costs one).
    return ""


@step("m017_search_custom_values")
def _search_custom_values() -> str:
    # The search documents of clients and contacts now hold their custom values: a book
    # opened at this step has its index rebuilt from the rows (crmcli.store.CrmStore), which
    # SQL alone cannot do (CJK text is segmented in Python, crmcli.store.search).
    return """
    SELECT 1;
    """


@step("m018_private_clients_and_change_roles", postgres="""
    ALTER TABLE clients ADD COLUMN private BIGINT NOT NULL DEFAULT 0 CHECK (private IN (0, 1));
    ALTER TABLE changes ADD COLUMN role TEXT COLLATE "C";
    ALTER TABLE changes ALTER COLUMN role SET DEFAULT current_user;
    CREATE INDEX changes_role ON changes(role, id);
    """)
def _team() -> str:
    # A client marked private is seen only by its owner (and admins) on a team book; the
    # role of a change is the database role that made it: current_user on PostgreSQL, set
    # as a default after the column exists so that older changes stay unattributed (NULL)
    # rather than credited to whoever upgraded the book. SQLite has no roles: NULL there.
    return """
    ALTER TABLE clients ADD COLUMN private INTEGER NOT NULL DEFAULT 0 CHECK (private IN (0, 1));
    ALTER TABLE changes ADD COLUMN role TEXT;
    CREATE INDEX changes_role ON changes(role, id);
    """


SCHEMA_VERSION = len(STEPS)
MIGRATION_SET = "crmcli"


def migrations():
    """The sqlite-utils Migrations set (imported only when a file needs migrating)."""
    from sqlite_utils.migrations import Migrations

    mset = Migrations(MIGRATION_SET)
    for name, sql in STEPS:
        def apply(db, sql=sql):
            for statement in _split(sql):
                db.execute(statement)

        apply.__name__ = name
        mset(name=name)(apply)
    return mset


_DDL = [
    (re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\b", re.I), "BIGSERIAL PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b", re.I), "BIGINT"),
    (re.compile(r"\bREAL\b", re.I), "DOUBLE PRECISION"),
    # Bytewise order and comparison, as SQLite's BINARY, whatever the database's locale.
    (re.compile(r"\bTEXT\b(?!\s+COLLATE)", re.I), 'TEXT COLLATE "C"'),
    (re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s+COLLATE\s+NOCASE", re.I), r"crm_nocase(\1)"),
]


def postgres_sql(name: str, sql: str) -> str:
    """The migration's SQL for PostgreSQL."""
    if name in POSTGRES_STEPS:
        return POSTGRES_STEPS[name]
    for pattern, replacement in _DDL:
        sql = pattern.sub(replacement, sql)
    return sql


def _split(sql: str) -> list[str]:
    """Split a migration's SQL on statement boundaries (no ';' inside our literals)."""
    import sqlite3

    statements, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements
