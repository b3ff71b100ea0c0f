"""Progress of an import from stdin: a spinner with the row count when stderr is a
terminal (a real pty here), nothing but the summary when it is not."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time


def _rows(start: int, count: int) -> bytes:
    return "".join(f"Client {i},c{i}@example.test\n" for i in range(start, start + count)).encode()


def _read_until(fd: int, wanted: bytes, seen: bytearray, limit: float = 120.0) -> bool:
    """Read the pty into seen until wanted shows; False if the process closed it first (or
    the guard deadline passed, which only a hung process reaches)."""
    deadline = time.monotonic() + limit
    while wanted not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other end closed
            return wanted in seen
        if not chunk:
            return wanted in seen
        seen.extend(chunk)
    return wanted in seen


def test_a_slow_stdin_shows_a_spinner_with_the_row_count_on_a_terminal(tmp_path):
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "crmcli", "import", "clients", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=slave,
                            env=env)
    os.close(slave)
    seen = bytearray()
    try:
        proc.stdin.write(b"name,email\n" + _rows(0, 1000))
        proc.stdin.flush()
        # stdin stays open: the import is waiting for more, and says how far it got.
        assert _read_until(master, b"1,000 rows from stdin", seen), bytes(seen)
        proc.stdin.write(_rows(1000, 500))
        proc.stdin.close()
        assert _read_until(master, b"imported clients from <stdin>", seen), bytes(seen)
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    text = bytes(seen).decode("utf-8", "replace")
    assert "importing " in text
    assert "imported clients from <stdin>: 1500 inserted" in text


def test_no_progress_when_stderr_is_not_a_terminal(tmp_path, store):
    result = subprocess.run([sys.executable, "-m", "crmcli", "import", "clients", "-"],
                            input=b"name,email\n" + _rows(0, 1500), capture_output=True,
                            timeout=120)
    assert result.returncode == 0
    assert result.stderr.decode() == ("imported clients from <stdin>: 1500 inserted, 0 updated, "
                                      "0 unchanged, 0 rejected\n")
