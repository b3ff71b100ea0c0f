"""Text that is safe to show: control characters and bidi overrides written as escapes.

Input refuses them (store/validate.py); rows stored before that rule, and text from
elsewhere (a server's reply, an exception), still pass through here on the way to a
terminal, a mail or a calendar, so that stored data can never set a terminal's title,
write its clipboard (OSC 52) or reorder what it shows.
"""

from __future__ import annotations

import re

# The C0 controls but tab, LF and CR, DEL, the C1 controls, the bidi embeddings, overrides
# and isolates.
UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# What people read may not hold a carriage return either (it rewrites the line).
_SHOWN_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """`text` with every control character (but tab and LF) and bidi override as an escape
    such as \\x1b or \\u202e."""
    if text.isprintable():
        return text
    return _SHOWN_UNSAFE.sub(_escape, text)


def json_safe(text: str) -> str:
    """JSON text with DEL, the C1 controls and the bidi overrides written as \\u escapes
    (json escapes only C0): the same data, nothing for a terminal to act on."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
