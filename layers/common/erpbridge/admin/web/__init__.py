"""The console's pages: Jinja2 templates (autoescaped: ERP messages and XML are shown as text) and
the CSS/JS they load, shipped in the layer (no CDN, no build step)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from erpbridge.batch.models import RunStatus

STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}

# state → (css class, text) — a colour never stands alone: the text is always shown with it
STATE_CLASS = {
    "succeeded": "ok",
    "created": "ok",
    "closed": "ok",
    "ok": "ok",
    "running": "busy",
    "importing": "busy",
    "sending": "busy",
    "received": "busy",
    "queued": "wait",
    "unknown": "warn",
    "half_open": "warn",
    "degraded": "warn",
    "failed": "bad",
    "dead_letter": "bad",
    "open": "bad",
}


def age(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "never"
    seconds = int(((now or datetime.now(UTC)) - value).total_seconds())
    if seconds < 0:
        seconds = -seconds
        prefix, suffix = "in ", ""
    else:
        prefix, suffix = "", " ago"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{prefix}{seconds // size} {unit}{suffix}"
    return f"{prefix}{seconds} s{suffix}"


@functools.cache
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("erpbridge.admin.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["age"] = age
    env.filters["state_class"] = lambda state: STATE_CLASS.get(str(state), "neutral")
    # the run statuses whose page keeps polling (console.js reloads the page once a run leaves them)
    env.globals["in_progress"] = [status.value for status in RunStatus if status.in_progress]
    env.filters["utc"] = lambda v: v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if v else "—"
    return env


def render(template: str, **context: Any) -> str:
    return str(_environment().get_template(template).render(**context))


def static_file(name: str) -> tuple[bytes, str] | None:
    """A shipped asset by its file name (None: no such asset)."""
    suffix = "." + name.rpartition(".")[2]
    if "/" in name or name.startswith(".") or suffix not in STATIC_TYPES:
        return None
    path = resources.files("erpbridge.admin.web").joinpath("static", name)
    if not path.is_file():
        return None
    return path.read_bytes(), STATIC_TYPES[suffix]
