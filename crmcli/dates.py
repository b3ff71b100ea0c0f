"""Interim dates module (replaced by the full WHEN grammar shortly)."""
from __future__ import annotations
import os, re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo
from dateutil.relativedelta import relativedelta
from dateutil import rrule as _rr

class DateError(ValueError):
    pass

_tz = None
def set_timezone(name):
    global _tz
    _tz = ZoneInfo(name) if name else None
def zone():
    return _tz or ZoneInfo("UTC")
def now():
    v = os.environ.get("CRM_NOW")
    if v:
        d = datetime.fromisoformat(v)
        if d.tzinfo is None: d = d.replace(tzinfo=zone())
        return d
    return datetime.now(timezone.utc)
def local(dt): return dt.astimezone(zone())
def today(): return local(now()).date()
def to_utc_iso(dt): return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
def from_utc_iso(s): return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
def format_local(x):
    if isinstance(x, str): x = from_utc_iso(x)
    return local(x).strftime("%Y-%m-%d %H:%M")
def local_date_of(iso): return local(from_utc_iso(iso)).date()
_DUR = re.compile(r"^([+-]?\d+)\s*([dwmy])$")
def parse_duration(text):
    m = _DUR.match(text.strip().lower())
    if not m: raise DateError(f"not a duration: {text!r}")
    n, u = int(m.group(1)), m.group(2)
    return {"d": relativedelta(days=n), "w": relativedelta(weeks=n), "m": relativedelta(months=n), "y": relativedelta(years=n)}[u]
def duration_days(rd): return ((date(2000,1,1)+rd)-date(2000,1,1)).days
def parse_when(text):
    t = text.strip().lower()
    if t == "today": return today()
    if t == "tomorrow": return today()+timedelta(1)
    if t == "yesterday": return today()-timedelta(1)
    m = _DUR.match(t)
    if m: return today()+parse_duration(t)
    try:
        if "t" in t or " " in t:
            d = datetime.fromisoformat(text.strip())
            if d.tzinfo is None: d = d.replace(tzinfo=zone())
            return d
        return date.fromisoformat(t)
    except ValueError:
        raise DateError(f"cannot understand the date {text!r}") from None
def parse_at(text):
    w = parse_when(text)
    if isinstance(w, datetime): return w
    if w == today(): return now()
    return datetime.combine(w, datetime.min.time()).replace(hour=12, tzinfo=zone())
def parse_every(text):
    t = text.strip().lower()
    simple = {"daily": "FREQ=DAILY", "weekly": "FREQ=WEEKLY", "monthly": "FREQ=MONTHLY", "yearly": "FREQ=YEARLY"}
    if t in simple: return simple[t]
    m = re.match(r"^(\d+)\s*([dwmy])$", t)
    if m:
        f = {"d": "DAILY", "w": "WEEKLY", "m": "MONTHLY", "y": "YEARLY"}[m.group(2)]
        return f"FREQ={f};INTERVAL={m.group(1)}"
    m = re.match(r"^weekly on (mon|tue|wed|thu|fri|sat|sun)", t)
    if m: return f"FREQ=WEEKLY;BYDAY={m.group(1)[:2].upper()}"
    raise DateError(f"not a recurrence: {text!r}")
def describe_every(rule): return rule.lower()
def next_occurrence(rule, previous_due, anchor=None):
    anchor = anchor or previous_due
    parts = dict(p.split("=") for p in rule.split(";"))
    k = int(parts.get("INTERVAL", 1))
    timed = isinstance(previous_due, datetime)
    def naive(x):
        if isinstance(x, datetime): return local(x).replace(tzinfo=None)
        return datetime.combine(x, datetime.min.time())
    a, p = naive(anchor), naive(previous_due)
    if parts["FREQ"] in ("MONTHLY", "YEARLY") and len(parts) <= 2:
        step = relativedelta(months=k) if parts["FREQ"] == "MONTHLY" else relativedelta(years=k)
        n = 1
        while True:
            c = a + step * n
            if c > p: break
            n += 1
    else:
        c = _rr.rrulestr("RRULE:" + rule, dtstart=a).after(p)
    if timed: return c.replace(tzinfo=zone())
    return c.date()
