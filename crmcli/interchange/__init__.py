"""Files in and out: import sources and their checks, exports, vCard, iCalendar."""
