"""crm completion SHELL: the completion script; and the answers the script asks crm for.

The script runs `crm` with the words typed so far and `_CRM_COMPLETE=<shell>`,
`COMP_CWORD=<index of the word under the cursor>` in the environment; crm prints one
candidate per line: commands, options, and values from the book (client names and ids,
tags, owners, stages) or from the command itself (report kinds, formats, periods, files).
Only the command being typed is built, as for any run, so completing costs what a plain
read command costs.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from crmcli.commands._errors import command, fail

SHELLS = ("bash", "zsh", "fish")
ENV = "_CRM_COMPLETE"

_BASH = r"""# crm completion for bash: eval "$(crm completion bash)" in ~/.bashrc
_crm_completion() {
    local IFS=$'\n' cur="${COMP_WORDS[COMP_CWORD]}" i
    local words=("${COMP_WORDS[@]:1}")
    COMPREPLY=($(env _CRM_COMPLETE=bash COMP_CWORD=$((COMP_CWORD - 1)) crm "${words[@]}" 2>/dev/null))
    if [[ "$cur" != [\"\']* ]]; then
        for i in "${!COMPREPLY[@]}"; do
            COMPREPLY[$i]=$(printf '%q' "${COMPREPLY[$i]}")
        done
    fi
    return 0
}
complete -o default -F _crm_completion crm
"""

_ZSH = r"""#compdef crm
# crm completion for zsh: eval "$(crm completion zsh)" in ~/.zshrc (after compinit)
_crm() {
    local -a candidates
    candidates=("${(@f)$(env _CRM_COMPLETE=zsh COMP_CWORD=$((CURRENT - 2)) crm "${(Q)words[@]:1}" 2>/dev/null)}")
    compadd -- ${candidates:#}
}
compdef _crm crm
"""

_FISH = r"""# crm completion for fish: crm completion fish > ~/.config/fish/completions/crm.fish
function __crm_complete
    set -l tokens (commandline -opc)
    set -e tokens[1]
    env _CRM_COMPLETE=fish COMP_CWORD=(count $tokens) crm $tokens (commandline -ct) 2>/dev/null
end
complete -c crm -f -a '(__crm_complete)'
"""

SCRIPTS = {"bash": _BASH, "zsh": _ZSH, "fish": _FISH}


def completion_script(
    shell: Annotated[str, typer.Argument(metavar="SHELL", help="bash, zsh or fish.")],
) -> None:
    """Print the shell completion script for bash, zsh or fish (commands, options, and
    client names, tags, stages and owners from the book)."""
    script = SCRIPTS.get(shell.strip().lower())
    if script is None:
        fail(f"no completion for shell {shell!r}: use bash, zsh or fish", code=2)
    typer.echo(script, nl=False)


def register(app: typer.Typer) -> None:
    command(app, "completion")(completion_script)


# --- answering the script ----------------------------------------------------------------


def answer(argv: list[str]) -> int:
    """Print the candidates for the word under the cursor; never an error (a completion
    that fails shows nothing)."""
    try:
        cword = int(os.environ.get("COMP_CWORD", len(argv)))
    except ValueError:
        cword = len(argv)
    words = argv[:max(cword, 0)]
    incomplete = argv[cword] if 0 <= cword < len(argv) else ""
    incomplete = incomplete.lstrip("'\"")
    try:
        found = candidates(words, incomplete)
    except Exception:  # noqa: BLE001 - a completion must never print a traceback
        if os.environ.get("CRM_DEBUG"):
            raise
        return 0
    import sys

    if found:
        sys.stdout.write("\n".join(found) + "\n")
    return 0


def _options_of(cmd) -> dict[str, Any]:
    return {opt: p for p in cmd.params for opt in (*getattr(p, "opts", ()),
                                                   *getattr(p, "secondary_opts", ()))
            if opt.startswith("-")}


def _takes_value(param) -> bool:
    return not getattr(param, "is_flag", False) and not getattr(param, "count", False)


def candidates(words: list[str], incomplete: str) -> list[str]:
    import typer.main

    from crmcli import cli

    global_values = {}
    for i, word in enumerate(words[:-1]):
        if word in cli.ROOT_OPTIONS_WITH_VALUE:
            global_values[word] = words[i + 1]
    for word in words:
        for opt in cli.ROOT_OPTIONS_WITH_VALUE:
            if word.startswith(opt + "="):
                global_values[opt] = word.split("=", 1)[1]
    if words and words[-1] in cli.ROOT_OPTIONS_WITH_VALUE:
        return _paths(incomplete)
    try:
        hoisted = cli.hoist_global_options(words)
    except ValueError:
        hoisted = words
    root = typer.main.get_command(cli.for_argv(hoisted))
    globals_ = _options_of(root)
    cmd, path, positional, expect, options_done = root, [], 0, None, False
    for word in words:
        if expect is not None:
            expect = None
            continue
        if word == "--":
            options_done = True
            continue
        if word.startswith("-") and len(word) > 1 and not options_done:
            param = _options_of(cmd).get(word.split("=", 1)[0]) or globals_.get(word)
            if param is not None and _takes_value(param) and "=" not in word:
                expect = param
            continue
        if hasattr(cmd, "commands") and word in cmd.commands:
            cmd = cmd.commands[word]
            path.append(word)
            positional = 0
            continue
        positional += 1
    if expect is not None:
        values = _values(expect, path, incomplete, global_values)
    elif incomplete.startswith("-") and not options_done:
        options = list(_options_of(cmd)) + [o for o in globals_ if cmd is not root]
        values = [o for o in options if o.startswith("--") or len(options) < 12]
    elif hasattr(cmd, "commands"):
        values = list(cmd.commands)
    else:
        arguments = [p for p in cmd.params if not getattr(p, "opts", [""])[0].startswith("-")]
        if not arguments:
            return []
        index = min(positional, len(arguments) - 1)
        if positional >= len(arguments) and arguments[-1].nargs == 1:
            return []
        values = _values(arguments[index], path, incomplete, global_values)
    if not incomplete:
        return list(dict.fromkeys(values))
    folded = incomplete.casefold()
    return list(dict.fromkeys(v for v in values if v.casefold().startswith(folded)))


_FIXED = {
    "period": ["month", "quarter", "year"],
    "channel": ["call", "email", "meeting", "chat", "visit", "other"],
    "status": ["won", "open", "lost"],
    "level": ["decision-maker", "influencer", "user"],
    "tier": ["A", "B", "C"],
    "by": ["channel", "owner", "month"],
    "shell": list(SHELLS),
    "sort": ["name", "created", "updated", "stage", "company", "owner", "id"],
}
_PATHS = {"file", "path", "target", "output", "rejects", "db", "config", "source"}


def _values(param, path: list[str], incomplete: str, global_values: dict) -> list[str]:
    name = param.name or ""
    where = " ".join(path)
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None and descriptor.is_choice and descriptor.choices:
        return [str(getattr(c, "value", c)) for c in descriptor.choices]
    if where in ("import", "export") and name == "kind":
        from crmcli.interchange.exporter import EXPORT_KINDS

        return [*EXPORT_KINDS, "all"]
    if where == "export" and name == "fmt":
        return ["csv", "tsv", "json", "ndjson", "vcf", "ics"]
    if where == "import" and name == "key":
        return ["email", "external_id", "id"]
    if where == "log" and name == "kind":
        return ["note", "complaint", "feedback"]
    if where in ("config get", "config set") and name == "key":
        from crmcli.config import DEFAULTS

        return list(_dotted(DEFAULTS))
    if name in _FIXED:
        return _FIXED[name]
    if name in _PATHS or "PATH" in (param.metavar or "") or "FILE" in (param.metavar or ""):
        return _paths(incomplete)
    if name == "stage":
        return list(_config(global_values).pipeline)
    if name in ("client", "keep", "duplicate", "tag", "tags", "owner"):
        store = _store(global_values)
        if store is None:
            return []
        if name in ("tag", "tags"):
            return store.completion.tags(incomplete)
        if name == "owner":
            return store.completion.owners(incomplete)
        if incomplete.isdigit():
            return store.completion.client_ids(incomplete)
        return store.completion.client_names(incomplete)
    return []


def _dotted(mapping: dict, prefix: str = ""):
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            yield from _dotted(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def _config(global_values: dict):
    from crmcli.commands import _context
    from crmcli.commands._context import AppState

    _context.begin(AppState(db_option=global_values.get("--db"),
                            config_option=global_values.get("--config")))
    return _context.get_config()


def _store(global_values: dict):
    """The book, if it exists: completing never creates or migrates a database."""
    from crmcli.commands import _context

    _config(global_values)
    path = _context.db_path()
    if isinstance(path, str):  # a book on a server: opened without creating one
        return _context.get_store(create=False)
    if not path.is_file() or path.stat().st_size == 0:
        return None
    return _context.get_store(create=False)


def _paths(incomplete: str) -> list[str]:
    import glob

    found = sorted(glob.glob(os.path.expanduser(incomplete) + "*"))[:200]
    return [p + "/" if os.path.isdir(p) else p for p in found]
