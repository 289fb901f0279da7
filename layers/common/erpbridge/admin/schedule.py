"""The next run of an EventBridge Scheduler expression: ``rate(N unit)`` or ``cron(m h dom mon dow y)``.

Enough of the cron syntax for job files: numbers, ``*``, ``?``, lists, ranges and ``/`` steps; day
names (MON-SUN) and month names are accepted. ``L``, ``W`` and ``#`` are not (None: not computed).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    if text in ("*", "?"):
        return set(range(low, high + 1))
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        start: int | None
        end: int | None
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(base, names)
            end = high if step_text else start
        if start is None or end is None:
            return None
        values.update(range(start, end + 1, step))
    return values


def _value(text: str, names: dict[str, int] | None) -> int | None:
    if names and text.upper() in names:
        return names[text.upper()]
    return int(text) if text.isdigit() else None


def next_run(
    expression: str, timezone: str, *, after: datetime, last_run: datetime | None = None
) -> datetime | None:
    """The first time the expression fires after ``after`` (a rate counts from ``last_run``)."""
    rate = _RATE.match(expression.strip())
    if rate:
        every = timedelta(seconds=int(rate[1]) * _UNIT_S[rate[2].rstrip("s")])
        if last_run is None:
            return after
        due = last_run + every
        return due if due > after else after
    cron = _CRON.match(expression.strip())
    if not cron:
        return None
    parts = cron[1].split()
    if len(parts) != 6:
        return None
    minutes, hours = _field(parts[0], 0, 59), _field(parts[1], 0, 23)
    days, months = _field(parts[2], 1, 31), _field(parts[3], 1, 12, _MONTHS)
    weekdays, years = _field(parts[4], 1, 7, _DAYS), _field(parts[5], 1970, 2199)
    if None in (minutes, hours, days, months, weekdays, years):
        return None
    assert minutes and hours and days and months and weekdays and years
    zone = ZoneInfo(timezone)
    local = after.astimezone(zone).replace(second=0, microsecond=0) + timedelta(minutes=1)
    day = local.replace(hour=0, minute=0)
    for _ in range(366 * 2):
        weekday = (day.isoweekday() % 7) + 1  # cron: SUN=1 … SAT=7
        if day.year in years and day.month in months and day.day in days and weekday in weekdays:
            for hour in sorted(hours):
                for minute in sorted(minutes):
                    candidate = day.replace(hour=hour, minute=minute)
                    if candidate >= local:
                        return candidate
        day = (day + timedelta(days=1)).replace(hour=0, minute=0)
    return None
