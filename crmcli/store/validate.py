"""Field validation shared by commands and imports. Raises ValidationError."""

from __future__ import annotations

import math
import re
from datetime import date
from decimal import Decimal, InvalidOperation

from crmcli import dates
from crmcli.errors import ValidationError
from crmcli.render.safe import UNSAFE as _UNSAFE

MAX_NAME = 500
MAX_TEXT = 100_000
CHANNELS = ("call", "email", "meeting", "chat", "visit", "other")
DECISION_LEVELS = ("decision-maker", "influencer", "user")
DEAL_STATUSES = ("won", "open", "lost")
# Kinds of interaction that come in from the client unless a direction is given.
INBOUND_KINDS = frozenset(("complaint", "feedback", "inquiry", "request"))

_EMAIL = re.compile(r"^[^@\s<>(),;:\"]+@[^@\s<>(),;:\"]+\.[^@\s<>(),;:\".]{2,}$")
_PHONE = re.compile(r"^\+?[0-9 ()./\-]{3,40}(\s*(x|ext\.?)\s*[0-9]{1,6})?$", re.IGNORECASE)
_TAG = re.compile(r"^[^\s,]{1,64}$")
_GROUPED = re.compile(r"-?\s*\d{1,3}(?:(?:,\d{3})+|(?:_\d{3})+)(?:\.\d+)?")
_FIELD_KEY = re.compile(r"^[^\W\d][\w.\- ]{0,63}\Z")  # \w: letters of any script (地区)


# Characters no stored text may hold (see crmcli.render.safe).
UNSAFE = _UNSAFE
# Fields of several lines (tab, LF and CR allowed: any line ending a file or a paste
# brings); every other field is one line.
MULTILINE_FIELDS = frozenset(("notes", "note", "summary", "stage_history note"))
_BREAK = re.compile("[\t\n\r]")


def unsafe_character(field: str, value: str, *, lines: bool | None = None) -> str | None:
    """Why `value` cannot be stored in `field` (a control character, a bidi override, a
    line break in a one-line field), or None when it can."""
    bad = UNSAFE.search(value)
    if bad is not None:
        ch = bad.group()
        if ch == "\x00":
            return "contains a NUL byte"
        kind = "a bidi control" if "\u202a" <= ch else "a control character"
        return f"contains {kind} (U+{ord(ch):04X}, character {bad.start() + 1})"
    if lines is None:
        lines = field in MULTILINE_FIELDS
    if lines:
        return None
    brk = _BREAK.search(value)
    if brk is not None:
        return "must be on one line" if brk.group() != "\t" else "contains a tab"
    return None


def text(field: str, value: object, *, required: bool = False, max_len: int = MAX_TEXT,
         lines: bool | None = None) -> str | None:
    """`value` as stored text: stripped, within max_len, UTF-8, without control characters
    (one line unless `lines` or the field is one of MULTILINE_FIELDS); None when empty."""
    if value is None:
        if required:
            raise ValidationError(field, value, "is required")
        return None
    if not isinstance(value, str):
        value = str(value)
    if "\x00" in value:
        raise ValidationError(field, value, "contains a NUL byte")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            from crmcli.errors import not_utf8

            raise not_utf8(exc, field) from None
    stripped = value.strip()
    if not stripped:
        if required:
            raise ValidationError(field, value, "must not be empty")
        return None
    if len(stripped) > max_len:
        raise ValidationError(field, stripped[:40] + "…",
                              f"is {len(stripped):,} characters long; the limit is {max_len:,}")
    if not stripped.isprintable():  # (str.isprintable: a fast pass for the common text)
        problem = unsafe_character(field, stripped, lines=lines)
        if problem is not None:
            raise ValidationError(field, stripped, problem)
    return stripped


def name(value: object, field: str = "name") -> str:
    result = text(field, value, required=True, max_len=MAX_NAME)
    assert result is not None
    if "\n" in result or "\r" in result:
        raise ValidationError(field, value, "must be on one line")
    return result


def email(value: object, field: str = "email") -> str | None:
    result = text(field, value, max_len=320)
    if result is None:
        return None
    if not _EMAIL.match(result):
        raise ValidationError(field, result, "is not an email address (expected name@example.com)")
    return result


def phone(value: object, field: str = "phone") -> str | None:
    result = text(field, value, max_len=60)
    if result is None:
        return None
    # (three digits at the end are enough digits: the count is for the rare other case)
    if not _PHONE.match(result) or (not result[-3:].isdigit()
                                     and sum(map(str.isdigit, result)) < 3):
        raise ValidationError(field, result, "is not a phone number (digits, spaces, + - ( ) .)")
    return result


def tag(value: object) -> str:
    result = text("tag", value, required=True, max_len=64)
    assert result is not None
    if not _TAG.match(result):
        raise ValidationError("tag", value, "must be one word (no spaces or commas), at most 64 "
                                            "characters")
    return result.lower()


def flag(name: str, value: object) -> int:
    """A yes/no field as 1 or 0 ("" and None are no)."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        return int(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "x"):
        return 1
    if text in ("0", "false", "no", "n"):
        return 0
    raise ValidationError(name, value, "must be true or false (or 1/0, yes/no)")


def choice(field: str, value: object, choices: tuple[str, ...]) -> str | None:
    result = text(field, value, max_len=64)
    if result is None:
        return None
    result = result.lower()
    if result not in choices:
        raise ValidationError(field, value, f"must be one of {', '.join(choices)}")
    return result


def amount(value: object, field: str = "amount") -> str:
    """A non-negative decimal amount, returned as its exact canonical text."""
    raw = text(field, value, required=True, max_len=40)
    assert raw is not None
    if ("," in raw or "_" in raw) and not _GROUPED.fullmatch(raw.strip()):
        # 19,99 is a decimal comma in much of the world: never read it as 1999.
        raise ValidationError(field, raw, "is not an amount (a comma only separates "
                                          "thousands, as in 1,200.50; decimals take a "
                                          "point: 19.99)")
    cleaned = raw.replace(",", "").replace("_", "")
    if not re.fullmatch(r"\d+(\.\d+)?|\.\d+", cleaned):
        if re.fullmatch(r"-\s*\d+(\.\d+)?", cleaned):
            raise ValidationError(field, raw, "must not be negative")
        raise ValidationError(field, raw, "is not an amount (expected digits such as 1200 or "
                                          "19.99)")
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise ValidationError(field, raw, "is not an amount") from None
    if number >= Decimal(10) ** 15:
        raise ValidationError(field, raw, "is too large")
    text_form = format(number, "f")
    if text_form.startswith("."):
        text_form = "0" + text_form
    return text_form


_CURRENCY = re.compile(r"[A-Za-z]{3}")


def currency(value: object, default: str, field: str = "currency") -> str:
    """A three-letter currency code, upper case; none given: default (the config's)."""
    result = text(field, value, max_len=8) or default or "USD"
    if not _CURRENCY.fullmatch(result):
        raise ValidationError(field, result, "must be a three-letter code such as USD")
    return result.upper()


def positive_amount(value: object, field: str = "amount") -> str:
    """amount(), and more than zero (an invoice or a payment of nothing is a slip)."""
    result = amount(value, field)
    if Decimal(result) == 0:
        raise ValidationError(field, value, "must be more than zero")
    return result


def probability(value: object, field: str = "probability") -> int | None:
    """A deal's probability: a whole percent from 0 to 100 ('60' and '60%' alike); None when
    empty (the stage's default applies)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValidationError(field, value, "must be a whole percent from 0 to 100")
    raw = str(value).strip().removesuffix("%").strip()
    try:
        number = int(raw)
    except ValueError:
        number = None
    if number is None and isinstance(value, float) and value.is_integer():
        number = int(value)
    if number is None:
        raise ValidationError(field, value, "must be a whole percent from 0 to 100")
    if not 0 <= number <= 100:
        raise ValidationError(field, value, "must be from 0 to 100")
    return number


def close_date(value: object, field: str = "close_date") -> str | None:
    """A deal's expected close date as stored: the local calendar day 'YYYY-MM-DD' (a date,
    an aware datetime's local day, or that text); None when empty."""
    from datetime import datetime

    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        value = dates.local(value).date()
    if isinstance(value, date):
        value = value.isoformat()
    shown = text(field, value, max_len=32)
    if shown is None or not dates.is_day(shown):
        if shown and shown[:4].isdigit() and not dates.MIN_YEAR <= int(shown[:4]) <= dates.MAX_YEAR:
            raise ValidationError(field, value, f"is out of range: use a year from "
                                                f"{dates.MIN_YEAR} to {dates.MAX_YEAR}")
        raise ValidationError(field, value, "is not a date (expected YYYY-MM-DD)")
    return shown


def score(value: object, field: str = "score") -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValidationError(field, value, "must be a whole number from 0 to 10") from None
    if not 0 <= number <= 10:
        raise ValidationError(field, value, "must be from 0 to 10")
    return number


MAX_NESTING = 32


def custom_value(key: str, value: object, _depth: int = 0) -> object:
    """A custom field's value from an import, as the JSON it came in: text (of several
    lines), a number of at most 40 digits, true/false, null, or a list or object of those
    nested at most MAX_NESTING deep. Every text inside is checked as text is."""
    field = f"custom {key}"
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return text(field, value, lines=True) or ""
    if isinstance(value, int | float | Decimal):
        shown = format(value, "f") if isinstance(value, Decimal) else repr(value)
        finite = (value.is_finite() if isinstance(value, Decimal)
                  else not isinstance(value, float) or math.isfinite(value))
        if len(shown) > 40 or not finite:
            raise ValidationError(field, shown[:40] + ("…" if len(shown) > 40 else ""),
                                  "is not a number crm keeps (at most 40 digits)")
        return value
    if isinstance(value, list | dict):
        if _depth >= MAX_NESTING:
            raise ValidationError(field, type(value).__name__,
                                  f"is nested more than {MAX_NESTING} levels deep")
        if isinstance(value, list):
            return [custom_value(key, v, _depth + 1) for v in value]
        return {str(custom_value(key, k, _depth + 1)): custom_value(key, v, _depth + 1)
                for k, v in value.items()}
    raise ValidationError(field, type(value).__name__, "must be text, a number, true/false, "
                                                       "a list or an object")


# The types a custom field may be declared with (config key fields.KIND.NAME.type).
FIELD_TYPES = ("text", "number", "date", "choice", "bool")
_NUMBER = re.compile(r"-?(\d+(\.\d+)?|\.\d+)")
TRUE_WORDS = frozenset(("true", "yes", "y", "1", "on"))
FALSE_WORDS = frozenset(("false", "no", "n", "0", "off"))


def declared_field(key: str, kind: str, choices: tuple[str, ...], value: object) -> object:
    """A declared custom field's value as stored (None: empty), whatever path wrote it:
    text as text; a number as an int or exact Decimal (1,200.50 as 1200.50; a comma is
    never a decimal point); a date as YYYY-MM-DD (a date that names its year: an import
    means the same whichever day it runs); a choice as its declared spelling (any case);
    a bool as True/False (true/false, yes/no, 1/0, on/off)."""
    field = key
    if isinstance(value, list | dict):
        raise ValidationError(field, value, "must be a single value, not a "
                              + ("list" if isinstance(value, list) else "JSON object"))
    if isinstance(value, bool):
        if kind == "bool":
            return value
        value = str(value).lower()
    if isinstance(value, int | Decimal) and kind in ("number", "text"):
        value = format(value, "f") if isinstance(value, Decimal) else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(field, str(value), "is not a number")
        value = repr(value)
    raw = text(field, value, max_len=MAX_NAME if kind != "text" else MAX_TEXT,
               lines=kind == "text")
    if raw is None:
        return None
    if kind == "text":
        return raw
    if kind == "number":
        cleaned = raw.replace(" ", "")
        if ("," in cleaned or "_" in cleaned) and not _GROUPED.fullmatch(cleaned):
            raise ValidationError(field, raw, "is not a number (a comma only separates "
                                              "thousands, as in 1,200.50; decimals take a "
                                              "point: 19.99)")
        cleaned = cleaned.replace(",", "").replace("_", "")
        if not _NUMBER.fullmatch(cleaned):
            raise ValidationError(field, raw, "is not a number (expected digits such as "
                                              "10000, -3 or 19.99)")
        number = Decimal(cleaned)
        if abs(number) >= Decimal(10) ** 15:
            raise ValidationError(field, raw, "is too large (at most 15 digits before the "
                                              "point)")
        shown = format(number, "f")
        return int(shown) if "." not in shown else Decimal(shown)
    if kind == "date":
        if dates.is_day(raw):
            return raw
        if not re.search(r"\d{4}", raw):
            raise ValidationError(field, raw, "is not a date (expected YYYY-MM-DD; a date "
                                              "names its year)")
        try:
            when = dates.parse_when(raw)
        except ValueError as exc:
            raise ValidationError(field, raw, f"is not a date ({exc})") from None
        return (when.date() if hasattr(when, "date") else when).isoformat()
    if kind == "bool":
        word = raw.lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValidationError(field, raw, "must be true or false (or yes/no, 1/0)")
    for known in choices:
        if known.casefold() == raw.casefold():
            return known
    raise ValidationError(field, raw, f"must be one of {', '.join(choices)}")


def happened(field: str, at: str, now: str) -> str:
    """An interaction's time (UTC ISO, as stored) is not later than now (UTC ISO): it is
    something that happened; what is to come is a follow-up."""
    if at > now:
        raise ValidationError(field, at, "is later than now: an interaction is something that "
                                         "happened; schedule what is to come with "
                                         "`crm followup CLIENT WHEN` (or crm log --next WHEN)")
    return at


def custom_key(key: str) -> str:
    if not _FIELD_KEY.match(key or ""):
        raise ValidationError("custom field", key, "keys are letters, digits, _ . - and spaces, "
                                                   "starting with a letter or _")
    return key


def key_value(pair: str) -> tuple[str, str]:
    """`key=value` as typed after --set."""
    if "=" not in pair:
        raise ValidationError("--set", pair, "expected key=value")
    key, value = pair.split("=", 1)
    value_text = text("--set " + key.strip(), value)
    return custom_key(key.strip()), value_text or ""


def interval(value: object, field: str = "cadence"):
    """A positive interval such as 2w, 30d, 1m, as a dateutil relativedelta (a cadence, a
    --within window)."""

    raw = str(value).strip()
    try:
        rd = dates.parse_duration(raw)
    except ValueError as exc:
        raise ValidationError(field, raw, f"is not an interval ({exc})") from None
    probe = date(2000, 1, 1)
    if probe + rd <= probe:
        raise ValidationError(field, raw, "must be a positive interval such as 2w or 30d")
    return rd


def cadence(ideal: object, maximum: object, ideal_field: str = "cadence",
            max_field: str = "cadence max") -> tuple[str | None, str | None]:
    """A client's own cadence as stored: the ideal and maximum interval texts as typed
    (stripped; None: not set), each a positive interval, the maximum not shorter than the
    ideal."""
    ideal_text = text(ideal_field, ideal, max_len=64)
    max_text = text(max_field, maximum, max_len=64)
    low = interval(ideal_text, ideal_field) if ideal_text is not None else None
    high = interval(max_text, max_field) if max_text is not None else None
    if low is not None and high is not None:
        probe = date(2000, 1, 1)
        if probe + high < probe + low:
            raise ValidationError(max_field, max_text,
                                  f"is shorter than the ideal interval {ideal_text}")
    return ideal_text, max_text


def direction(value: object, kind: str) -> str:
    """An interaction's direction, in or out; none given: in for the kinds that come in
    (INBOUND_KINDS), out otherwise. kind: already lower case."""
    if value is None or value == "":
        return "in" if kind in INBOUND_KINDS else "out"
    return choice("direction", value, ("in", "out"))
