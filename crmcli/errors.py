"""The one error root: everything a user can cause or act on is a CrmError, with one clear
line to say. The command wrapper catches CrmError alone (plus the store's translation of
driver errors); anything else is an internal error."""

from __future__ import annotations


class CrmError(Exception):
    """An error the user can act on; the CLI prints str(error) and exits 1."""

    exit_code = 1


class UsageError(CrmError):
    """Bad usage that the argument parser could not catch (exit 2)."""

    exit_code = 2


class StoreError(CrmError):
    """The database file cannot be opened, read or written."""


class ConfigError(CrmError):
    """A config file that cannot be read or holds a bad key or value."""


class DateError(CrmError, ValueError):
    """A date, time, duration or recurrence the user wrote that cannot be used. Also a
    ValueError: it is a bad value, and the parsers built on it treat it as one."""


class ModelFitError(CrmError):
    """The data cannot support a model fit (too few repeat buyers, no convergence, ...)."""


class SchemaTooNew(StoreError):
    pass


class NotFound(CrmError):
    pass


class HookRefused(CrmError):
    """A before-hook refused a change (crmcli/services/hooks.py); nothing was written."""


class PermissionDenied(CrmError):
    """A team member's write or undo that their role does not allow (the database
    refuses it too: see crmcli/store/team.py); nothing was written."""

    def __init__(self, reason: str):
        super().__init__(f"permission denied: {reason}")


class ClientNotFound(NotFound):
    def __init__(self, ref: str):
        shown = ref if len(ref) <= 80 else ref[:77] + "..."
        super().__init__(f"no client matches {shown!r}")
        self.ref = ref


class ClientArchived(NotFound):
    def __init__(self, client: dict):
        super().__init__(f"client {client['id']} ({client['name']}) is archived; restore it "
                         f"with `crm unarchive '#{client['id']}'` first")
        self.client = client


class AmbiguousClient(CrmError):
    def __init__(self, ref: str, candidates: list[dict]):
        shown = "; ".join(f"{c['id']}: {c['name']}" for c in candidates[:8])
        more = f" and {len(candidates) - 8} more" if len(candidates) > 8 else ""
        super().__init__(f"{ref!r} matches {len(candidates)} clients: {shown}{more}; "
                         "use the id or a longer part of the name")
        self.ref = ref
        self.candidates = candidates


class TwoReadings(AmbiguousClient):
    """A reference that is one client's id and another client's email, external id or
    name: crm never picks one reading quietly.

    readings: [(how, client row)] with the id reading first; spelling: how to write each
    without doubt ('#42' on the command line, a client_id column in an import)."""

    def __init__(self, ref: str, readings: list[tuple[str, dict]], spelling: str):
        shown = " and ".join(
            f"the {how} of client {row['id']}" + (f" ({row['name']})" if row.get("name") else "")
            for how, row in readings)
        CrmError.__init__(self, f"{ref!r} is {shown}; {spelling}")
        self.ref = ref
        self.readings = readings
        self.candidates = [row for _, row in readings]


class UnknownStage(CrmError):
    def __init__(self, stage: str, pipeline: list[str]):
        super().__init__(f"unknown stage {stage!r}: the pipeline is {' → '.join(pipeline)}")
        self.stage = stage


class ValidationError(CrmError):
    """A field value that is not acceptable; says which field and value."""

    def __init__(self, field: str, value: object, reason: str):
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "...'"
        super().__init__(f"{field} {shown}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason


def not_utf8(exc: UnicodeEncodeError, field: str, tail: str = "") -> ValidationError:
    """Text that is not UTF-8: undecodable bytes that Python kept as surrogates (from a
    command line, stdin or a file read with errors='surrogateescape'), shown as \\xNN."""
    text = exc.object if isinstance(exc.object, str) else ""
    bad = text[exc.start] if exc.start < len(text) else ""
    what = (f"byte 0x{ord(bad) - 0xDC00:02x}" if "\udc80" <= bad <= "\udcff"
            else f"U+{ord(bad):04X}" if bad else "a character")
    lo = max(0, exc.start - 30)
    shown = ("…" if lo else "") + "".join(
        f"\\x{ord(ch) - 0xDC00:02x}" if "\udc80" <= ch <= "\udcff"
        else f"\\u{ord(ch):04x}" if "\ud800" <= ch <= "\udfff"
        else f"\\x{ord(ch):02x}" if ch < " " or ch == "\x7f" else ch
        for ch in text[lo:exc.start + 10]) + ("…" if exc.start + 10 < len(text) else "")
    reason = f"is not valid UTF-8 text ({what}){tail}"
    error = ValidationError(field, shown, reason)
    error.args = (f"{field} '{shown}': {reason}",)
    return error
