"""Pure metric computations: functions that take rows or a store and return rows."""
