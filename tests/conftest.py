"""Every test runs against its own files: database, config and XDG dirs live in tmp_path,
and "now" is pinned so that dates in expected output never drift."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from helpers import connect_book
from typer.testing import CliRunner

from crmcli import dates
from crmcli.cli import for_argv
from crmcli.config import Config
from crmcli.store import CrmStore

NOW = "2026-11-22T10:00:00+00:00"
# CRM_TEST_ENCRYPTED=1: every book the tests create is encrypted (CRM_DB_KEY is set to this
# raw key), so the store's tests run against SQLCipher too (.ci/run does so).
ENCRYPTED = os.environ.get("CRM_TEST_ENCRYPTED") == "1"
TEST_KEY = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
ROOT = Path(__file__).resolve().parent.parent
id_re = re.compile(r"\b\d+\b")


# CRM_TEST_ENGINE=postgres runs the tests on a PostgreSQL book each (see pg_book); the
# tests of what only SQLite has are marked sqlite_only and left out of that run.
ENGINE = os.environ.get("CRM_TEST_ENGINE", "sqlite")


@pytest.fixture(scope="session")
def pg_server():
    """URL of the `postgres` database of a PostgreSQL server for the tests: CRM_TEST_PG_URL
    (.ci/run starts one), else a throwaway cluster of this session's own."""
    url = os.environ.get("CRM_TEST_PG_URL")
    if url:
        yield url
        return
    import tempfile

    import pg_server as server

    if server.binaries() is None:
        reason = ("PostgreSQL server binaries (initdb, pg_ctl) are not installed, and "
                  "CRM_TEST_PG_URL is not set")
        if os.environ.get("CRM_REQUIRE_POSTGRES"):
            pytest.fail(reason + " (CRM_REQUIRE_POSTGRES is set: CI must test PostgreSQL)")
        pytest.skip(reason)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        if os.environ.get("CRM_REQUIRE_POSTGRES"):
            pytest.fail("psycopg is not installed (pip install -e '.[test]')")
        pytest.skip("psycopg is not installed (pip install -e '.[test]')")
    folder = tempfile.mkdtemp(prefix="crm-pg-")
    try:
        url = server.start(folder)
    except Exception as exc:  # noqa: BLE001 - reported as the reason
        server.stop(folder)
        if os.environ.get("CRM_REQUIRE_POSTGRES"):
            pytest.fail(f"cannot start a PostgreSQL cluster: {exc}")
        pytest.skip(f"cannot start a PostgreSQL cluster: {exc}")
    try:
        yield url
    finally:
        server.stop(folder)


def _database_url(server_url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(server_url)
    if parts.netloc:
        return urlunsplit(parts._replace(path="/" + name))
    return f"{parts.scheme}:///{name}" + (f"?{parts.query}" if parts.query else "")


_DATABASES = iter(range(1, 10**9))


@pytest.fixture
def pg_book(pg_server):
    """The URL of a new, empty PostgreSQL database of this test's own (dropped after)."""
    import psycopg

    name = f"crm_t_{os.getpid()}_{next(_DATABASES)}"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' "
                      "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'")
    try:
        yield _database_url(pg_server, name)
    finally:
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(autouse=True)
def env_setup(tmp_path, monkeypatch, request):
    if ENGINE == "postgres":
        monkeypatch.setenv("CRM_DB", request.getfixturevalue("pg_book"))
    else:
        monkeypatch.setenv("CRM_DB", str(tmp_path / "crm.db"))
    monkeypatch.setenv("CRM_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("CRM_NOW", NOW)
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("CRM_DEBUG", raising=False)
    if ENCRYPTED:
        monkeypatch.setenv("CRM_DB_KEY", TEST_KEY)
    else:
        monkeypatch.delenv("CRM_DB_KEY", raising=False)
    # Subprocesses (crash, concurrency and cron tests) import this checkout, whatever is
    # installed, and from scripts written to tmp_path as well.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    (tmp_path / "config.yaml").write_text("timezone: UTC\n")
    dates.set_timezone("UTC")
    yield
    dates.set_timezone(None)


@pytest.fixture
def db_path(tmp_path) -> Path | str:
    """The test's book: a file, or with CRM_TEST_ENGINE=postgres its database's URL."""
    if ENGINE == "postgres":
        return os.environ["CRM_DB"]
    return tmp_path / "crm.db"


@pytest.fixture
def store(db_path):
    with CrmStore(db_path, Config()) as s:
        yield s


class Crm:
    """Runs `crm` in-process through Typer's CliRunner, stdout and stderr apart, on the app
    that `crm`'s main() runs (with the start-up speed-ups unless CRM_TYPER_SPEEDUPS=0)."""

    def __init__(self):
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | bytes | None = None, ok: bool = True):
        argv = [str(a) for a in args]
        result = self.runner.invoke(for_argv(argv), argv, input=input, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, (args, result.stdout, result.stderr)
        return result

    def json(self, *args: str):
        result = self(*args, "--format", "json")
        return json.loads(result.stdout)


@pytest.fixture
def crm() -> Crm:
    return Crm()


def db_snapshot(path: Path | str) -> list:
    """Every row of every table, for asserting that a failed command changed nothing."""
    if isinstance(path, str) and path.startswith("postgresql://"):
        return _pg_snapshot(path)
    if not path.exists():
        return []
    conn = connect_book(path)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'search_index_%' "
            "ORDER BY name")]
        return [(t, conn.execute(f"SELECT * FROM [{t}] ORDER BY rowid").fetchall())
                for t in tables]
    finally:
        conn.close()


def _pg_snapshot(url: str) -> list:
    import psycopg

    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name")]
        return [(t, conn.execute(f'SELECT * FROM "{t}" ORDER BY 1').fetchall())
                for t in tables]


@pytest.fixture
def snapshot():
    return db_snapshot


def pytest_configure(config):
    os.environ.setdefault("COLUMNS", "200")


# --- the stress tests: out of the default loop, in CI ------------------------------------

def pytest_addoption(parser):
    parser.addoption("--stress", action="store_true",
                     help="run the stress tests too (fuzzing, SIGKILL, concurrency, long "
                          "hypothesis runs), as CI and the README's test command do")


def _leaves_stress_out(config) -> bool:
    return not config.getoption("--stress") and not config.option.markexpr


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Without --stress (or a -m of one's own), the tests marked stress are left out, unless
    they are all that was selected (`pytest tests/test_fuzz.py`): never an empty run."""
    if not _leaves_stress_out(config):
        return
    kept = [item for item in items if item.get_closest_marker("stress") is None]
    if kept and len(kept) < len(items):
        config.hook.pytest_deselected(
            items=[item for item in items if item.get_closest_marker("stress") is not None])
        items[:] = kept


def pytest_terminal_summary(terminalreporter, config):
    if _leaves_stress_out(config):
        terminalreporter.write_line("tests marked stress run only with --stress (or when they "
                                    "are all that was selected)")
