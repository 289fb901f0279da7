"""Routes of the admin function: the console's pages (HTML) and the JSON API under ``/api``.

Pages are not in the OpenAPI document (``include_in_schema=False``); a page's action is a form
POST answered with a redirect (303) to the page that shows its result.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from aws_lambda_powertools.event_handler.api_gateway import Response, Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, Field

from erpbridge import errors
from erpbridge.admin import auth
from erpbridge.admin.service import AdminService, RunDetail
from erpbridge.admin.web import render, static_file
from erpbridge.batch.price_audit import JOB as PRICE_AUDIT
from erpbridge.batch.price_audit import SCHEDULE as AUDIT_SCHEDULE
from erpbridge.batch.price_audit import last_run_summary
from erpbridge.live import errors as live
from erpbridge.settings import AdminSettings, get_settings

router = Router()

_admin: AdminService | None = None
_admin_lock = threading.Lock()
current_operator: dict[str, auth.Operator] = {}  # the request's operator (one invocation at a time)

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

JobId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
RunId = Annotated[str, Path(pattern=r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,79}$")]
OrderId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._-]+$")]
STATES = r"^(received|sending|created|queued|unknown|dead_letter)$"


def admin() -> AdminService:
    global _admin
    with _admin_lock:
        if _admin is None:
            from erpbridge.wiring.admin import build_admin

            _admin = build_admin()
        return _admin


def use_admin(service: AdminService | None) -> None:
    """Install the use cases the routes call (``erpbridge console``, tests); None = from settings."""
    global _admin
    with _admin_lock:
        _admin = service


# --- identity, CSRF, answers ---------------------------------------------------------------------


def identify_request(event: Any, settings: AdminSettings | None = None) -> auth.Operator:
    """The request's operator, and a POST's CSRF value checked (the signing console proxy checks
    its browser's requests with this too, under its own ``settings``)."""
    settings = settings or get_settings()
    operator = auth.identify(settings, dict(event.headers or {}), event.request_context.raw_event)
    current_operator["operator"] = operator
    if event.http_method == "POST":
        auth.check_csrf(operator, dict(event.headers or {}), _form(event))
    return operator


def operator() -> auth.Operator:
    return current_operator["operator"]


def wants_html(event: Any) -> bool:
    return not str(event.path).startswith("/api/")


def _form_values(event: Any) -> dict[str, list[str]]:
    """A form POST's fields (nothing for another content type)."""
    content_type = next((v for k, v in (event.headers or {}).items() if k.lower() == "content-type"), "")
    if not content_type.startswith("application/x-www-form-urlencoded") or not event.body:
        return {}
    raw = base64.b64decode(event.body) if event.is_base64_encoded else event.body.encode()
    return parse_qs(raw.decode("utf-8", "replace"))


def _form(event: Any) -> dict[str, str]:
    return {name: values[-1] for name, values in _form_values(event).items()}


def _form_list(name: str) -> list[str]:
    return _form_values(router.current_event).get(name, [])


def html(template: str, status_code: int = 200, **context: Any) -> Response[Any]:
    context.setdefault("operator", current_operator.get("operator") or auth.Operator("", ""))
    context.setdefault("csrf", (current_operator.get("operator") or auth.Operator("", "")).csrf or "")
    context.setdefault(
        "notice", router.current_event.get_query_string_value("notice") if _has_event() else None
    )
    context.setdefault("notice_bad", False)
    context.setdefault("title", context.get("page", "erpbridge"))
    return Response(
        status_code=status_code,
        content_type="text/html; charset=utf-8",
        body=render(template, **context),
        headers=SECURITY_HEADERS,
    )


def _has_event() -> bool:
    try:
        return router.current_event is not None
    except Exception:
        return False


def redirect(location: str) -> Response[Any]:
    return Response(status_code=303, content_type="text/plain", body="", headers={"Location": location})


def json_answer(body: Any, status: int = 200) -> Response[Any]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, default=str),
        headers={"Cache-Control": "no-store"},
    )


def map_error(error: Exception, *, wants_html: bool) -> Response[Any]:
    """Errors → HTTP, in one place; short bodies, never a stack trace or a secret."""
    status, code = 500, "internal"
    match error:
        case live.UnauthorizedError():
            status, code = 401, "unauthorized"
        case live.ForbiddenError():
            status, code = 403, "forbidden"
        case live.NotFoundError():
            status, code = 404, "not_found"
        case live.ConflictError():
            status, code = 409, "conflict"
        case errors.ConfigurationError():
            status, code = 422, "invalid"
        case errors.ErpBusyError() | errors.ErpUnavailableError():
            status, code = 503, "erp_unavailable"
        case errors.ErpBridgeError():
            status, code = 502, "erp_error"
    message = str(error) if status != 500 else "internal error"
    if status == 500:
        import logging

        logging.getLogger("erpbridge.admin").exception("unexpected error", exc_info=error)
    if wants_html:
        title = {401: "Sign in", 403: "Refused", 404: "Not found"}.get(status, "Error")
        body = render("message.html", title=title, message=message)
        return Response(
            status_code=status, content_type="text/html; charset=utf-8", body=body, headers=SECURITY_HEADERS
        )
    return json_answer({"error": code, "message": message}, status)


# --- serialisation -----------------------------------------------------------------------------


def _job(view: Any) -> dict[str, Any]:
    fetch = view.job.fetch
    return {
        "job": view.job.id,
        "description": view.job.description,
        "schedule": fetch.schedule,
        "schedule_timezone": fetch.schedule_timezone,
        "parameters": dict(fetch.parameters),
        "enabled": view.enabled,
        "long_running": view.job.long_running,
        "erp": view.job.erp_endpoint,
        "next_run": view.next_run.isoformat() if view.next_run else None,
        "last_run": view.last_run.as_dict() if view.last_run else None,
    }


def _audit(service: AdminService) -> dict[str, Any]:
    """The golden-price audit beside the jobs (it is no job file): its schedule and last run."""
    last = service.last_price_audit()
    return {
        "job": PRICE_AUDIT,
        "schedule": AUDIT_SCHEDULE,
        "schedule_timezone": "UTC",
        "summary": last_run_summary(last),
        "last_run": last.as_dict() if last else None,
    }


def _run(detail: RunDetail) -> dict[str, Any]:
    return {
        **detail.record.as_dict(),
        "progress": detail.progress,
        "files_total": len(detail.files),
        "files": [{"key": f.key, "size": f.size, "where": f.where, "report": f.report} for f in detail.files],
    }


def _mapping(view: Any) -> dict[str, Any]:
    return {
        "job": view.job,
        "sample": view.sample,
        "problems": [{"severity": s, "mapping": m, "message": t} for s, m, t in view.problems],
        "tables": [
            {
                "source": t.source,
                "destination": t.destination,
                "mode": t.mode,
                "keys": t.keys,
                "removal": t.removal,
                "active": t.active,
                "key_columns": t.key_columns,
                "conditions": t.conditions,
                "auto_map": t.auto_map,
                "not_mapped": t.not_mapped,
                "problems": [{"severity": s, "message": m} for s, m in t.problems],
                "columns": [c.__dict__ for c in t.columns],
            }
            for t in view.tables
        ],
    }


# --- JSON API ----------------------------------------------------------------------------------


class RunNowRequest(BaseModel):
    parameters: dict[str, str] = Field(default_factory=dict, description="request parameters to override")


class ScheduleRequest(BaseModel):
    enabled: bool = Field(description="true: the schedule fires; false: it is switched off")


class RedriveRequest(BaseModel):
    key: str = Field(pattern=r"^failed/.+\.xml$", max_length=500, description="the failed file's key")


class ResendManyRequest(BaseModel):
    order_ids: list[str] = Field(default_factory=list, max_length=500)
    state: str | None = Field(
        default=None,
        pattern=r"^(queued|unknown|dead_letter)$",
        description="instead of order_ids: every order in this state (oldest 500)",
    )


@router.get(
    "/api/jobs",
    summary="Every job: definition, schedule, last run, next run, enabled; the price audit's last run",
    tags=["jobs"],
)
def api_jobs() -> Response[Any]:
    service = admin()
    return json_answer({"jobs": [_job(v) for v in service.jobs()], "price_audit": _audit(service)})


@router.post(
    "/api/jobs/<job>/run", summary="Run a job now (with parameters); answers the run id", tags=["jobs"]
)
def api_run_now(job: JobId, request: Annotated[RunNowRequest, Body()]) -> Response[Any]:
    run_id = admin().run_now(job, request.parameters, operator=operator().name)
    return json_answer({"run_id": run_id, "job": job, "requested_by": operator().name}, 202)


@router.post(
    "/api/jobs/<job>/schedule",
    summary="Switch a job's schedule on or off (AWS: its EventBridge Scheduler schedule)",
    tags=["jobs"],
)
def api_schedule(job: JobId, request: Annotated[ScheduleRequest, Body()]) -> Response[Any]:
    return json_answer(_job(admin().set_enabled(job, request.enabled, operator=operator().name)))


@router.get("/api/runs", summary="Runs, newest first, filtered by job and status", tags=["runs"])
def api_runs(
    job: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")] = None,
    status: Annotated[str | None, Query(pattern=r"^(running|importing|succeeded|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response[Any]:
    return json_answer({"runs": [r.as_dict() for r in admin().runs(job=job, status=status, limit=limit)]})


@router.get("/api/runs/<run_id>", summary="One run: pages, files, counts, errors, progress", tags=["runs"])
def api_run(run_id: RunId) -> Response[Any]:
    return json_answer(_run(admin().run(run_id)))


@router.get(
    "/api/failed-files", summary="Files the importer rejected, with their error reports", tags=["runs"]
)
def api_failed_files() -> Response[Any]:
    return json_answer(
        {"files": [{"key": f.key, "size": f.size, "report": f.report} for f in admin().failed_files()]}
    )


@router.post(
    "/api/failed-files/redrive",
    summary="Put a failed file back into staging/ (imported again)",
    tags=["runs"],
)
def api_redrive(request: Annotated[RedriveRequest, Body()]) -> Response[Any]:
    return json_answer({"staged": admin().redrive(request.key, operator=operator().name)}, 202)


@router.get(
    "/api/mappings/<job>",
    summary="Table and column mappings with the problems of mappings check",
    tags=["mappings"],
)
def api_mapping(job: JobId) -> Response[Any]:
    return json_answer(_mapping(admin().mapping(job)))


@router.get("/api/orders", summary="Orders by state and age (newest first)", tags=["orders"])
def api_orders(
    state: Annotated[str | None, Query(pattern=STATES)] = None,
    older_than_s: Annotated[float | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response[Any]:
    found = admin().orders(state=state, older_than_s=older_than_s, limit=limit)
    return json_answer({"orders": [o.as_dict() for o in found]})


@router.get("/api/orders/<order_id>", summary="One order with its timeline", tags=["orders"])
def api_order(order_id: OrderId) -> Response[Any]:
    return json_answer(admin().order(order_id).model_dump(mode="json"))


@router.get(
    "/api/orders/<order_id>/xml",
    summary="A request/response XML copy of the order's timeline",
    tags=["orders"],
)
def api_order_xml(order_id: OrderId, key: Annotated[str, Query(max_length=500)]) -> Response[Any]:
    return _xml(order_id, key)


@router.post(
    "/api/orders/<order_id>/resend",
    summary="Re-send one order (looked up in the ERP first when its outcome may be unknown)",
    tags=["orders"],
)
def api_resend(order_id: OrderId) -> Response[Any]:
    return json_answer(admin().resend(order_id, operator=operator().name).model_dump(mode="json"))


@router.post(
    "/api/orders/resend", summary="Re-send many orders (by id, or every order in a state)", tags=["orders"]
)
def api_resend_many(request: Annotated[ResendManyRequest, Body()]) -> Response[Any]:
    ids = list(request.order_ids)
    if request.state:
        ids += [o.order_id for o in admin().orders(state=request.state, limit=500)]
    report = admin().resend_many(ids, operator=operator().name)
    return json_answer(
        {"results": [r.model_dump(mode="json") for r in report.results], "errors": report.errors}
    )


@router.get("/api/health", summary="ERP ping, breaker state, latency over the last hour", tags=["health"])
def api_health() -> Response[Any]:
    return json_answer(admin().health().as_dict())


def _xml(order_id: str, key: str) -> Response[Any]:
    data = admin().order_xml(order_id, key)
    name = key.rpartition("/")[2] or "order.xml"
    return Response(
        status_code=200,
        content_type="application/xml",
        body=data.decode("utf-8", "replace"),
        headers={"Content-Disposition": f'attachment; filename="{name}"', **SECURITY_HEADERS},
    )


# --- pages -------------------------------------------------------------------------------------


@router.get("/login", include_in_schema=False)
def login(token: Annotated[str, Query(max_length=200)] = "") -> Response[Any]:
    """The link `erpbridge console` prints: a valid token becomes an HttpOnly cookie."""
    return login_answer(get_settings(), token)


def login_answer(settings: AdminSettings, token: str) -> Response[Any]:
    """The login link's answer (the console proxy answers its own link with it too)."""
    import hmac

    expected = settings.admin_token.get_secret_value() if settings.admin_token else ""
    if settings.admin_auth != "token" or not expected or not hmac.compare_digest(token, expected):
        body = render("message.html", title="Refused", message="wrong or missing console token")
        return Response(
            status_code=403, content_type="text/html; charset=utf-8", body=body, headers=SECURITY_HEADERS
        )
    cookie = f"{auth.COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
    return Response(
        status_code=303, content_type="text/plain", body="", headers={"Location": "/", "Set-Cookie": cookie}
    )


@router.get("/static/<name>", include_in_schema=False)
def static(name: str) -> Response[Any]:
    found = static_file(name)
    if found is None:
        raise live.NotFoundError(f"no asset {name}")
    data, content_type = found
    return Response(
        status_code=200,
        content_type=content_type,
        body=data.decode("utf-8"),
        headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/", include_in_schema=False)
def overview() -> Response[Any]:
    service = admin()
    return html(
        "overview.html",
        page="Overview",
        jobs=service.jobs(),
        price_audit=_audit(service),
        health=service.health().health,
        counts=service.order_counts(),
        failed_files=service.failed_files(limit=20),
    )


@router.get("/jobs", include_in_schema=False)
def jobs_page() -> Response[Any]:
    return html("jobs.html", page="Jobs", jobs=admin().jobs())


@router.post("/jobs/<job>/run", include_in_schema=False)
def run_now_page(job: JobId) -> Response[Any]:
    run_id = admin().run_now(job, {}, operator=operator().name)
    return redirect(f"/runs/{run_id}")


@router.get("/runs", include_in_schema=False)
def runs_page(
    status: Annotated[str | None, Query(pattern=r"^(running|importing|succeeded|failed)?$")] = None,
) -> Response[Any]:
    return html("runs.html", page="Runs", runs=admin().runs(status=status or None), status=status or "")


@router.get("/runs/<run_id>", include_in_schema=False)
def run_page(run_id: RunId) -> Response[Any]:
    try:
        detail: RunDetail | None = admin().run(run_id)
    except live.NotFoundError:
        detail = None  # just started: the page follows it until its record appears
    return html("run.html", page="Runs", title=f"run {run_id}", run_id=run_id, detail=detail)


@router.get("/mappings/<job>", include_in_schema=False)
def mapping_page(job: JobId) -> Response[Any]:
    return html("mapping.html", page="Jobs", title=f"mapping {job}", view=admin().mapping(job))


@router.get("/orders", include_in_schema=False)
def orders_page(
    state: Annotated[
        str | None, Query(pattern=r"^(received|sending|created|queued|unknown|dead_letter)?$")
    ] = None,
) -> Response[Any]:
    return html("orders.html", page="Orders", orders=admin().orders(state=state or None), state=state or "")


@router.get("/orders/resend", include_in_schema=False)
def resend_confirm_page(
    state: Annotated[str, Query(pattern=r"^(queued|unknown|dead_letter)$")],
) -> Response[Any]:
    return html(
        "resend_confirm.html", page="Orders", orders=admin().orders(state=state, limit=500), state=state
    )


@router.post("/orders/resend", include_in_schema=False)
def resend_many_page() -> Response[Any]:
    report = admin().resend_many(_form_list("order_id")[:500], operator=operator().name)
    return html("resend_result.html", page="Orders", report=report)


@router.get("/orders/<order_id>", include_in_schema=False)
def order_page(order_id: OrderId) -> Response[Any]:
    return html("order.html", page="Orders", title=f"order {order_id}", order=admin().order(order_id))


@router.get("/orders/<order_id>/xml", include_in_schema=False)
def order_xml_page(order_id: OrderId, key: Annotated[str, Query(max_length=500)]) -> Response[Any]:
    return _xml(order_id, key)


@router.post("/orders/<order_id>/resend", include_in_schema=False)
def resend_page(order_id: OrderId) -> Response[Any]:
    response = admin().resend(order_id, operator=operator().name)
    notice = f"re-sent: {response.status.value}" + (
        f", ERP order {response.erp_order_id}" if response.erp_order_id else ""
    )
    return redirect(f"/orders/{order_id}?notice={quote(notice)}")


@router.post("/failed-files/redrive", include_in_schema=False)
def redrive_page() -> Response[Any]:
    key = _form(router.current_event).get("key", "")
    staged = admin().redrive(key, operator=operator().name)
    return redirect(f"/?notice={quote('put back for import: ' + staged)}")


@router.get("/health", include_in_schema=False)
def health_page() -> Response[Any]:
    return html("health.html", page="Health", view=admin().health())
