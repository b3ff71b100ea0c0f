"""The layers hold: read from the source with `ast`, so a new arrow fails here, not in review.

- Only crmcli/store/ speaks to the database: it alone imports a database driver
  (sqlite3, sqlite_utils, psycopg) or holds an SQL statement in its strings.
- Commands use the store through `crmcli.store`'s public names (and errors through
  `crmcli.errors`), never a module inside the store.
- No module uses another module's private (underscore) names, imported or reached as an
  attribute of an imported module or class; a private module (`_errors.py`) is private
  to its package.
- The metrics are pure: nothing from the store, the commands or the rendering.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import crmcli
import crmcli.store

PACKAGE = Path(crmcli.__file__).resolve().parent
DRIVERS = {"sqlite3", "sqlite_utils", "psycopg", "psycopg2"}
# The command line's entry: it assembles the commands, so it is of their package.
COMMAND_ENTRY = {"crmcli.cli"}
# An SQL statement: its keywords in capitals, as the store writes them.
SQL = re.compile(r"\b(SELECT\b.+\bFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|"
                 r"DELETE\s+FROM|CREATE\s+(TABLE|INDEX|VIRTUAL|TRIGGER|VIEW)|"
                 r"DROP\s+(TABLE|INDEX)|PRAGMA\s+\w+)\b", re.S)


def modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return found


MODULES = modules()


def package_of(name: str) -> str:
    """The package a module belongs to (a package's __init__ belongs to the package)."""
    path = PACKAGE.parent / Path(*name.split("."))
    return name if path.is_dir() else name.rpartition(".")[0]


def imports(tree: ast.Module, name: str):
    """(imported module, [names imported from it] or None for `import m`, line)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package_of(name).split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, [a.name for a in node.names], node.lineno


def strings(tree: ast.Module):
    """Every string literal, f-strings' literal parts joined (placeholders as '?')."""
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            yield node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "?"
                                       for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def in_store(name: str) -> bool:
    return name == "crmcli.store" or name.startswith("crmcli.store.")


def private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def test_only_the_store_imports_a_database_driver():
    wrong = [f"{name}:{line} imports {mod}" for name, tree in MODULES.items()
             if not in_store(name) for mod, _, line in imports(tree, name)
             if mod.split(".")[0] in DRIVERS]
    assert wrong == []


def test_only_the_store_holds_sql():
    wrong = [f"{name}:{line}: {text.strip()[:60]!r}" for name, tree in MODULES.items()
             if not in_store(name) for line, text in strings(tree) if SQL.search(text)]
    assert wrong == []


def test_the_sql_pattern_finds_the_stores_statements():
    # guards the test above against a pattern that finds nothing
    found = sum(1 for name, tree in MODULES.items() if in_store(name)
                for _, text in strings(tree) if SQL.search(text))
    assert found > 100


def test_commands_use_only_the_stores_public_names():
    public = set(crmcli.store.__all__)
    wrong = []
    for name, tree in MODULES.items():
        if not name.startswith("crmcli.commands"):
            continue
        for mod, names, line in imports(tree, name):
            if in_store(mod) and (mod != "crmcli.store" or names is None
                                  or set(names) - public):
                wrong.append(f"{name}:{line} imports {mod} {names or ''}")
    assert wrong == []


def test_no_module_uses_another_modules_private_names():
    wrong = []
    for name, tree in MODULES.items():
        bound: dict[str, str] = {}  # local name -> what it is, for imports from crmcli
        for mod, names, line in imports(tree, name):
            if not mod.startswith("crmcli"):
                continue
            for i, part in enumerate(mod.split(".")):
                owner = ".".join(mod.split(".")[:i])
                if private(part) and not (package_of(name).startswith(owner)
                                          or name in COMMAND_ENTRY):
                    wrong.append(f"{name}:{line} imports the private module {mod}")
            if names is None:
                continue
            for imported in names:
                if private(imported) and not (f"{mod}.{imported}" in MODULES and (
                        package_of(name).startswith(mod) or name in COMMAND_ENTRY)):
                    wrong.append(f"{name}:{line} imports {mod}.{imported}")
                bound[imported] = f"{mod}.{imported}"
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and private(node.attr)
                    and isinstance(node.value, ast.Name) and node.value.id in bound):
                wrong.append(f"{name}:{node.lineno} uses {bound[node.value.id]}.{node.attr}")
    assert wrong == []


def test_metrics_are_pure():
    wrong = [f"{name}:{line} imports {mod}" for name, tree in MODULES.items()
             if name.startswith("crmcli.metrics") for mod, _, line in imports(tree, name)
             if mod.split(".")[:2] in (["crmcli", "store"], ["crmcli", "commands"],
                                       ["crmcli", "render"])]
    assert wrong == []
