"""Writing a longer text in the user's editor ($VISUAL, else $EDITOR), as `git commit` and
`task edit` do: on an owner-only temporary file, created exclusively and removed after; an
empty result aborts."""

from __future__ import annotations

import os
import sys

from crmcli.commands._errors import fail

HINT = "# Lines starting with '# crm:' are left out; an empty text aborts."


def _editor() -> str:
    for var in ("VISUAL", "EDITOR"):
        value = os.environ.get(var, "").strip()
        if value:
            return value
    if sys.stdin.isatty():
        return "vi"
    fail("-e needs an editor: set $VISUAL or $EDITOR", code=2)


def edit_text(initial: str, what: str) -> str:
    """The text the user wrote in their editor, starting from initial; fails (nothing
    changed) when the editor fails or the text is empty."""
    import shlex
    import subprocess
    import tempfile

    editor = _editor()
    fd, name = tempfile.mkstemp(prefix="crm-", suffix=".txt")  # O_EXCL, mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(initial.rstrip("\n") + "\n" if initial else "\n")
            fh.write(f"# crm: {what}. {HINT.removeprefix('# ')}\n")
        try:
            argv = shlex.split(editor)
        except ValueError:
            fail(f"cannot read the editor command {editor!r} ($VISUAL/$EDITOR)", code=2)
        try:
            done = subprocess.run([*argv, name])
        except OSError as exc:
            fail(f"cannot run the editor {editor!r}: {exc.strerror or exc}")
        if done.returncode != 0:
            fail(f"the editor {editor!r} exited with {done.returncode}; nothing changed")
        try:
            with open(name, encoding="utf-8") as fh:
                lines = [line for line in fh.read().splitlines()
                         if not line.startswith("# crm:")]
        except UnicodeDecodeError as exc:
            fail(f"{what}: the edited text is not valid UTF-8 (byte {exc.start}); nothing "
                 "changed")
    finally:
        try:
            os.unlink(name)
        except OSError:
            pass
    text = "\n".join(lines).strip()
    if not text:
        fail(f"{what}: empty text; aborted, nothing changed")
    return text
