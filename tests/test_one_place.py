"""Rules that live in one place stay there: checked on the source, in the style of
test_startup.py (a new call site that restates a rule fails here, not in review)."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "crmcli"


def sources(*folders: str) -> dict[str, str]:
    roots = [PACKAGE / f for f in folders] if folders else [PACKAGE]
    return {str(p.relative_to(PACKAGE)): p.read_text(encoding="utf-8")
            for root in roots for p in sorted(root.rglob("*.py"))}


def test_config_keys_are_read_with_their_defaults_from_DEFAULTS():  # noqa: N802
    # config["smtp.port"] has the default of DEFAULTS; config.get("smtp.port", 587) restates it
    found = [name for name, text in sources().items()
             if name not in ("config.py", "config_edit.py")
             and re.search(r"(config|cfg)(\(\))?\.get\(", text)]
    assert found == []


def test_the_output_formats_are_listed_once():
    found = [name for name, text in sources().items()
             if re.search(r'"ndjson",\s*"csv",\s*"tsv",\s*"markdown"', text)]
    assert found == ["render/formats.py"]


def test_commands_hand_data_to_render_without_splitting_on_the_format():
    # table/markdown views live in crmcli/render (emit_rows, for_people, the view modules)
    found = [name for name, text in sources("commands").items()
             if re.search(r'"markdown"|HUMAN_FORMATS', text)]
    assert found == []


def test_the_client_columns_are_listed_once():
    found = [name for name, text in sources().items()
             if re.search(r'"name",\s*"company",\s*"email",\s*"phone",\s*"industry",\s*"size"',
                          text)]
    # run.py: the fast client import path's own field order, until that path goes
    assert set(found) - {"interchange/importer/run.py"} == {"store/clients.py"}


def test_the_lower_layers_import_no_command_or_service():
    # the arrows run commands -> services -> store/metrics; render formats what it is given
    found = [name for name, text in sources("render", "store", "metrics", "dates").items()
             if re.search(r"^\s*(from|import) crmcli\.(commands|services)\b", text, re.M)]
    assert found == []
