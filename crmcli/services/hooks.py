"""Hooks, after Taskwarrior's: executables run before and after the events of a change.

An event is found in what a change wrote (the rows it touched, see store.Change), so that
every command and path that adds a client, changes one, logs an interaction, moves a
stage or wins a deal fires the same events from this one place:

    add-client      a client was added                  stdin: the client
    modify-client   a client's record changed           stdin: the client before, then after
    stage           a client moved to a stage           stdin: the stage move
    log             an interaction was logged           stdin: the interaction
    deal-stage      a deal moved to a stage             stdin: the deal's stage move
    deal-won        a deal was recorded or set as won   stdin: the deal

A hook is an executable file named `before-EVENT…` or `after-EVENT…` in
$XDG_CONFIG_HOME/crmcli/hooks/ or in a folder (or a file) listed in `hooks.paths`; the hooks
of one name run in the lexical order of their file names. Each record is one line of JSON.
A before-hook runs inside the change's transaction, before the commit: its failure (or
its timeout) refuses the change and nothing is written. An after-hook runs once the
change is committed: its failure is a warning on stderr; the change stays.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from crmcli.config import Config, default_config_path
from crmcli.errors import HookRefused

EVENTS = ("add-client", "modify-client", "stage", "log", "deal-stage", "deal-won")
WHENS = ("before", "after")
# How much of a failing hook's stderr its message shows.
MAX_MESSAGE = 200


def hook_folder() -> Path:
    """The folder of hooks every book uses: $XDG_CONFIG_HOME/crmcli/hooks/."""
    return default_config_path().parent / "hooks"


def _places(config: Config) -> list[Path]:
    places = [hook_folder()]
    for value in config["hooks.paths"]:
        path = Path(value).expanduser()
        if not path.is_absolute() and config.path is not None:
            path = config.path.parent / path
        places.append(path)
    return places


def _runnable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_hooks(config: Config) -> dict[str, list[Path]]:
    """{'before-add-client': [paths in the order they run], ...} for each hook name that
    has at least one executable file (files that are not executable are left out)."""
    names = [f"{when}-{event}" for when in WHENS for event in EVENTS]
    found: list[tuple[str, int, Path]] = []
    for rank, place in enumerate(_places(config)):
        try:
            files = sorted(place.iterdir()) if place.is_dir() else [place]
        except OSError:
            continue
        found.extend((path.name, rank, path) for path in files
                     if path.name.startswith(tuple(names)) and _runnable(path))
    hooks: dict[str, list[Path]] = {}
    for file_name, _, path in sorted(found):
        name = next(n for n in names if file_name.startswith(n))
        hooks.setdefault(name, []).append(path)
    return hooks


# --- events: what a change wrote, as records ---------------------------------------------


@dataclass
class Touched:
    """The rows a change wrote, by table: ids inserted, old values of updated rows (the
    first seen of each column: the values before the change), rows deleted."""

    inserted: dict[str, list[int]] = field(default_factory=dict)
    updated: dict[str, dict[int, dict]] = field(default_factory=dict)
    deleted: dict[str, set[int]] = field(default_factory=dict)
    # (op, row id, old, new) of the tags rows, in the order written
    tag_rows: list[tuple[str, int, dict | None, dict | None]] = field(default_factory=list)

    @classmethod
    def of(cls, touched: list[tuple[str, str, int, dict | None, dict | None]]) -> Touched:
        seen = cls()
        for table, op, row_id, old, new in touched:
            if op == "insert_range":
                seen.inserted.setdefault(table, []).extend(range(new["first"], new["last"] + 1))
            elif op == "insert":
                seen.inserted.setdefault(table, []).append(row_id)
            elif op == "update":
                before = seen.updated.setdefault(table, {}).setdefault(row_id, {})
                for key, value in (old or {}).items():
                    before.setdefault(key, value)
            elif op == "delete":
                seen.deleted.setdefault(table, set()).add(row_id)
            if table == "tags":
                seen.tag_rows.append((op, row_id, old, new))
        return seen


def client_records(store: Any, ids: list[int]) -> dict[int, dict]:
    """The clients of ids as `crm ls --format json` writes them (those still there)."""
    from crmcli.store import CLIENT_RECORD

    if not ids:
        return {}
    rows = store.clients.list(ids=ids, include_archived=True, sort="id")
    return {row["id"]: {k: row[k] for k in CLIENT_RECORD if k in row} for row in rows}


def _old_tags(store: Any, client_id: int, tags: list[str], tag_rows: list) -> list[str]:
    """The client's tags before the change: its tags now with the change's tag rows undone."""
    before = set(tags)
    for op, row_id, old, new in reversed(tag_rows):
        if op == "insert":
            row = new or store.get("tags", row_id) or {}
            if row.get("client_id") == client_id:
                before.discard(row["tag"])
        elif op == "delete" and old and old.get("client_id") == client_id:
            before.add(old["tag"])
        elif op == "update" and "client_id" in (new or {}):
            tag = (store.get("tags", row_id) or {}).get("tag")
            if new["client_id"] == client_id:
                before.discard(tag)
            if old["client_id"] == client_id:
                before.add(tag)
    return sorted(t for t in before if t is not None)


def _with_client(store: Any, row: dict) -> dict:
    """A row as stored, with its client's name after client_id, custom fields as an object."""
    name = store.clients.get(row["client_id"])["name"]
    out = {"id": row["id"], "client_id": row["client_id"], "client": name}
    out.update((k, v) for k, v in row.items() if k not in out)
    if isinstance(out.get("custom"), str):
        out["custom"] = json.loads(out["custom"] or "{}")
    return out


def events(store: Any, touched: list, wanted: set[str]) -> Iterator[tuple[str, list[dict]]]:
    """(event, its records) for each event of the change whose name is in wanted, in the
    order of EVENTS, records by id. The records are read inside the change: as committed."""
    seen = Touched.of(touched)
    added = [i for i in dict.fromkeys(seen.inserted.get("clients", []))
             if i not in seen.deleted.get("clients", ())]
    if "add-client" in wanted:
        records = client_records(store, added)
        for client_id in added:
            if client_id in records:
                yield "add-client", [records[client_id]]
    if "modify-client" in wanted:
        candidates = set(seen.updated.get("clients", {}))
        for op, row_id, old, new in seen.tag_rows:
            for row in (old, new):
                if row and "client_id" in row:
                    candidates.add(row["client_id"])
            if op == "insert" and new is None:
                row = store.get("tags", row_id)
                if row:
                    candidates.add(row["client_id"])
        candidates -= set(added)
        records = client_records(store, sorted(candidates))
        for client_id in sorted(records):
            new = records[client_id]
            old = dict(new)
            for key, value in seen.updated.get("clients", {}).get(client_id, {}).items():
                if key in old:
                    old[key] = json.loads(value or "{}") if key == "custom" else value
            old["tags"] = _old_tags(store, client_id, new["tags"], seen.tag_rows)
            if old != new:
                yield "modify-client", [old, new]
    if "stage" in wanted:
        for row_id in sorted(set(seen.inserted.get("stage_changes", []))):
            row = store.get("stage_changes", row_id)
            if row is not None:
                yield "stage", [_with_client(store, row)]
    if "log" in wanted:
        for row_id in sorted(set(seen.inserted.get("interactions", []))):
            row = store.get("interactions", row_id)
            if row is not None:
                yield "log", [_with_client(store, row)]
    if "deal-stage" in wanted:
        for row_id in sorted(set(seen.inserted.get("deal_stage_changes", []))):
            row = store.get("deal_stage_changes", row_id)
            if row is not None:
                deal = store.deals.get(row["deal_id"])
                client = store.clients.get(deal["client_id"])
                yield "deal-stage", [{
                    "id": row["id"], "deal_id": deal["id"], "title": deal["title"],
                    "client_id": client["id"], "client": client["name"],
                    "from_stage": row["from_stage"], "to_stage": row["to_stage"],
                    "at": row["at"], "note": row["note"]}]
    if "deal-won" in wanted:
        inserted = set(seen.inserted.get("deals", []))
        was = seen.updated.get("deals", {})
        for row_id in sorted(inserted | set(was)):
            row = store.get("deals", row_id)
            if row is None or row["status"] != "won":
                continue
            if row_id in inserted or was[row_id].get("status", "won") != "won":
                deal = _with_client(store, row)
                deal["amount"] = Decimal(deal["amount"])
                yield "deal-won", [deal]


# --- running a hook ----------------------------------------------------------------------


def _first_line(data: bytes) -> str:
    from crmcli.render.safe import visible

    for line in data.decode("utf-8", "replace").splitlines():
        if line.strip():
            line = visible(line.strip())
            return line if len(line) <= MAX_MESSAGE else line[:MAX_MESSAGE - 3] + "..."
    return ""


def run_hook(path: Path, payload: str, env: dict[str, str], timeout: float) -> str | None:
    """Run one hook with payload on its stdin; None when it succeeds, else what went wrong
    (the first line of its stderr, its exit status, or its timeout). On a timeout the
    hook's whole process group is killed: it is started in a session of its own."""
    import signal
    import subprocess

    try:
        proc = subprocess.Popen([str(path)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=env, start_new_session=True)
    except OSError as exc:
        return f"cannot be run: {exc.strerror or exc}"

    def kill() -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        for stream in (proc.stdin, proc.stderr):
            try:
                stream.close()
            except OSError:
                pass

    try:
        _, err = proc.communicate(payload.encode("utf-8"), timeout=timeout)
    except subprocess.TimeoutExpired:
        kill()
        return f"did not finish within {timeout:g} s (hooks.timeout) and was stopped"
    except BaseException:
        kill()
        raise
    if proc.returncode == 0:
        return None
    line = _first_line(err)
    if proc.returncode < 0:
        status = f"was killed by signal {-proc.returncode}"
    else:
        status = f"exited with status {proc.returncode}"
    return f"{line} ({status})" if line else status


class Hooks:
    """Watches a store's changes (store.Database.watchers) and runs the hooks of their
    events: before-hooks before the commit, after-hooks after it."""

    def __init__(self, store: Any, config: Config):
        self.store = store
        self.config = config
        self._found: dict[str, list[Path]] | None = None
        self._after: list[tuple[str, str]] = []  # (hook name, payload) left to run

    def found(self) -> dict[str, list[Path]]:
        if self._found is None:
            self._found = find_hooks(self.config)
        return self._found

    def _env(self, name: str) -> dict[str, str]:
        # A crm that a hook runs reads the same book, and runs no hooks of its own (a hook
        # that changes the book from an after-hook would otherwise set itself off again).
        return {**os.environ, "CRM_HOOK": name, "CRM_DB": str(self.store.path),
                "CRM_NO_HOOKS": "1"}

    def before_commit(self, change: Any) -> None:
        hooks = self.found()
        self._after = []
        if not hooks:
            return
        from crmcli.render.output import to_json

        wanted = {event for event in EVENTS if f"before-{event}" in hooks
                  or f"after-{event}" in hooks}
        timeout = float(self.config["hooks.timeout"])
        for event, records in events(self.store, change.touched, wanted):
            payload = "".join(to_json(record) + "\n" for record in records)
            name = f"before-{event}"
            for path in hooks.get(name, []):
                problem = run_hook(path, payload, self._env(name), timeout)
                if problem is not None:
                    raise HookRefused(f"hook {path.name} refused the change: {problem}; "
                                      "nothing was written")
            if f"after-{event}" in hooks:
                self._after.append((f"after-{event}", payload))

    def after_commit(self, change: Any) -> None:
        pending, self._after = self._after, []
        if not pending:
            return
        from crmcli.render.output import message

        timeout = float(self.config["hooks.timeout"])
        for name, payload in pending:
            for path in self.found()[name]:
                problem = run_hook(path, payload, self._env(name), timeout)
                if problem is not None:
                    message(f"crm: warning: hook {path.name} failed: {problem}; the change "
                            "was kept")
