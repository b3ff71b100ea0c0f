"""Every test runs against its own files: database, config and XDG dirs live in tmp_path,
and "now" is pinned so that dates in expected output never drift."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crmcli import dates
from crmcli.cli import for_argv
from crmcli.config import Config
from crmcli.store import CrmStore

NOW = "2026-11-22T10:00:00+00:00"
ROOT = Path(__file__).resolve().parent.parent
id_re = re.compile(r"\b\d+\b")


@pytest.fixture(autouse=True)
def env_setup(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_DB", str(tmp_path / "crm.db"))
    monkeypatch.setenv("CRM_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("CRM_NOW", NOW)
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("CRM_DEBUG", raising=False)
    # Subprocesses (crash, concurrency and cron tests) import this checkout, whatever is
    # installed, and from scripts written to tmp_path as well.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    (tmp_path / "config.yaml").write_text("timezone: UTC\n")
    dates.set_timezone("UTC")
    yield
    dates.set_timezone(None)


@pytest.fixture
def db_path(tmp_path) -> Path:
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


def db_snapshot(path: Path) -> list:
    """Every row of every table, for asserting that a failed command changed nothing."""
    if not path.exists():
        return []
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'search_index_%' "
            "ORDER BY name")]
        return [(t, conn.execute(f"SELECT * FROM [{t}] ORDER BY rowid").fetchall())
                for t in tables]
    finally:
        conn.close()


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
