"""`crm config set`: change one key of the config file in place, keeping every other line
and comment as the user wrote them, and checked as loading checks it."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from crmcli.config import DEFAULTS, FREE_MAPPINGS, parse_config_text
from crmcli.errors import ConfigError, UsageError


def known_key(key: str) -> Any:
    """The default of a dotted key, or a usage error naming the key."""
    node: Any = DEFAULTS
    parts = key.split(".")
    for i, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            raise UsageError(f"unknown config key {key!r} (crm config show lists them)")
        if ".".join(parts[:i + 1]) in FREE_MAPPINGS and i + 1 < len(parts):
            raise UsageError(f"{key!r}: {'.'.join(parts[:i + 1])} is a mapping; set it whole, "
                             "e.g. '{ana: ana@example.com}'")
        node = node[part]
    return node


def parse_value(text: str) -> Any:
    """VALUE as YAML reads it in the file: 30, true, [a, b], or text."""
    import yaml

    try:
        return yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        return text


def yaml_text(value: Any) -> str:
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**9)
    return text.removesuffix("\n").removesuffix("\n...").strip()


_KEY_LINE = re.compile(r"^(?P<indent>[ ]*)(?P<key>[^\s#:'\"][^:#]*?|'[^']*'|\"[^\"]*\")"
                       r"[ ]*:(?:[ ]+|$)(?P<rest>.*)$")


def _key_of(line: str) -> tuple[int, str, str] | None:
    match = _KEY_LINE.match(line)
    if not match or line.lstrip().startswith(("#", "-")):
        return None
    key = match["key"].strip()
    if key[:1] in "'\"":
        key = key[1:-1]
    return len(match["indent"]), key, match["rest"]


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """The index after the lines nested under the key on line start (more indented, or a
    list's items at the same indent), trailing blank and comment lines left outside."""
    end = start + 1
    last = start + 1
    while end < len(lines):
        text = lines[end]
        stripped = text.strip()
        if stripped and not stripped.startswith("#"):
            depth = len(text) - len(text.lstrip(" "))
            if depth < indent or (depth == indent and not stripped.startswith("- ")
                                  and stripped != "-"):
                break
            last = end + 1
        end += 1
    return last


def set_in_text(text: str, key: str, value: Any) -> str:
    """text with key set to value: its line replaced (a nested block under it removed),
    or added under its section (which is added at the end if missing)."""
    lines = text.splitlines()
    newline = "\r\n" if "\r\n" in text else "\n"
    parts = key.split(".")
    rendered = yaml_text(value)
    start, stop, indent = 0, len(lines), 0
    child_indent = None
    for depth, part in enumerate(parts):
        found = None
        i = start
        while i < stop:
            parsed = _key_of(lines[i])
            if parsed is not None:
                at, name, rest = parsed
                if child_indent is None and at >= indent:
                    child_indent = at
                if at == child_indent and name == part:
                    found = (i, at, rest)
                    break
            i += 1
        last = depth == len(parts) - 1
        if found is None:
            pad = " " * (child_indent if child_indent is not None else indent)
            new = []
            for j, missing in enumerate(parts[depth:]):
                inner = " " * (len(pad) + j * 2)
                if depth + j == len(parts) - 1:
                    new.append(f"{inner}{missing}: {rendered}")
                else:
                    new.append(f"{inner}{missing}:")
            lines[stop:stop] = new
            break
        line_no, at, rest = found
        end = _block_end(lines, line_no, at + 1)
        if last:
            comment = ""
            plain = rest.strip()
            if "#" in plain and plain[:1] not in "'\"[{":
                comment = "  #" + plain.split("#", 1)[1].rstrip()
            lines[line_no:end] = [f"{' ' * at}{part}: {rendered}{comment}"]
            break
        if rest.strip() and not rest.strip().startswith("#"):
            raise ConfigError(f"{key}: the config writes {part} on one line ({rest.strip()}); "
                              "edit that line by hand")
        start, stop, indent, child_indent = line_no + 1, end, at + 1, None
    return newline.join(lines) + newline


def set_key(path: Path, key: str, raw: str) -> Any:
    """Set key to the YAML value raw in the config file at path (created if missing);
    returns the value in effect. The file is checked whole before it replaces the old one."""
    default = known_key(key)
    if isinstance(default, dict) and key not in FREE_MAPPINGS:
        subkeys = ", ".join(f"{key}.{k}" for k in default)
        raise UsageError(f"{key!r} is a section; set one of its keys: {subkeys}")
    value = parse_value(raw)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    new_text = set_in_text(text, key, value)
    config = parse_config_text(new_text, str(path))
    _write_owner_only(path, new_text)
    return config.get(key)


def _write_owner_only(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
