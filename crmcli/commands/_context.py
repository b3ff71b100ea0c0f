"""Per-invocation state: the resolved config and the store, opened once, closed at exit."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmcli.config import Config
    from crmcli.store import CrmStore


@dataclass
class AppState:
    db_option: str | None = None
    config_option: str | None = None
    debug: bool = False
    no_hooks: bool = False
    _config: Config | None = None
    _store: CrmStore | None = None
    extra: dict = field(default_factory=dict)


_current = AppState()


def begin(state_: AppState) -> AppState:
    """Called by the root callback at the start of every invocation."""
    global _current
    close()
    _current = state_
    return state_


def close() -> None:
    """Close the store of the current invocation (registered as the context's close hook)."""
    if _current._store is not None:
        try:
            _current._store.close()
        finally:
            _current._store = None


def state() -> AppState:
    return _current


def get_config() -> Config:
    st = state()
    if st._config is None:
        import sys

        from crmcli.config import load_config

        st._config = load_config(st.config_option)
        zone = st._config["timezone"]
        # No zone configured and the dates module not loaded yet: it starts out on the
        # system zone already, so commands that never touch a date need not import it.
        if zone is not None or "crmcli.dates" in sys.modules:
            from crmcli import dates

            dates.set_timezone(zone)
    return st._config


def db_path() -> Path:
    from crmcli.config import resolve_db_path

    return resolve_db_path(state().db_option, get_config())


def hooks_off() -> bool:
    """Whether this invocation runs no hooks: `crm --no-hooks`, or CRM_NO_HOOKS=1."""
    return state().no_hooks or os.environ.get("CRM_NO_HOOKS", "") not in ("", "0")


class HooksOnChange:
    """The hooks of crmcli/services/hooks.py as a watcher of the store's changes: loaded,
    and the folders of hooks looked at, once a change begins; watching only when a hook
    is there."""

    def __init__(self, store: CrmStore):
        self.store = store
        self.hooks = None

    def watching(self) -> bool:
        if self.hooks is None:
            from crmcli.services.hooks import Hooks

            self.hooks = Hooks(self.store, get_config())
        return bool(self.hooks.found())

    def before_commit(self, change) -> None:
        self.hooks.before_commit(change)

    def after_commit(self, change) -> None:
        self.hooks.after_commit(change)


def get_store(create: bool = True, hooks: bool = True) -> CrmStore:
    """The store of this invocation. create=False for commands that only read: a missing
    database is then an error naming the path (a mistyped path must not look like an
    empty book to cron), where a writing command creates it and says so. hooks=False: its
    changes run no hooks (imports unless asked, undo)."""
    st = state()
    if st._store is None:
        from crmcli.render.output import message
        from crmcli.store import CrmStore

        store = CrmStore(db_path(), get_config(), create=create)
        if hooks and not hooks_off():
            store.watchers.append(HooksOnChange(store))
        st._store = store
        if store.created:
            message(f"crm: created a new database at {store.location}")
        if store.backup_path is not None:
            message(f"crm: migrated {store.location} to schema version {store.schema_version()} "
                    f"(backup: {store.backup_path})")
    return st._store
