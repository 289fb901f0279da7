"""The states of the long-run workflow (template.yaml ``LongRunWorkflow``), one thin handler each.

Step Functions invokes the batch functions with ``{"step": <name>, ...}``; each step is one call
of the same use case the local runner calls (:mod:`erpbridge.batch.workflow`, bound by the batch
runtime). ``FetchJobFunction`` runs start, fetch_page, end and fail (the ERP and the staging
area), ``ImportStagedFunction`` import_page and finalise (the shop database): their handlers hand
such an event here. A step raises typed errors the state machine's Retry/Catch name
(``RunNotReadyError``, ``RunBlockedError``, ``PageFailedError``, ``LockLostError``, …).

Events::

    {"step": "start", "job": "fetch-shop-data", "scheduled_time": "…", "parameters": {…}}
    {"step": "fetch_page", "run": {…}}        # → {"run": {…, "done": true|false}}
    {"step": "import_page", "key": "staging/<job>/<run>/page-0001.xml"}
    {"step": "finalise", "run": {…}}
    {"step": "end", "run": {…}}
    {"step": "fail", "run": {…}, "error": {"Error": "…", "Cause": "…"}}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from fetch_event import FetchEvent
from pydantic import ValidationError

from erpbridge.batch.fetch import FetchOutcome
from erpbridge.batch.models import Trigger
from erpbridge.batch.workflow import WorkflowRun, check_finalised, check_imported
from erpbridge.errors import ConfigurationError
from erpbridge.wiring.batch import batch_runtime

logger = Logger()


def start(event: dict[str, Any]) -> dict[str, object]:
    try:
        request = FetchEvent.model_validate(event)
    except ValidationError as error:
        raise ConfigurationError(f"workflow start event: {error.errors(include_url=False)}") from None
    trigger = request.trigger or (Trigger.SCHEDULE if request.scheduled_time else Trigger.MANUAL)
    started = batch_runtime().start_run(
        request.job,
        trigger,
        parameters=request.parameters,
        scheduled_time=request.scheduled_time,
        run_id=request.run_id,  # a Run now of the admin API names the run it answered with
        requested_by=request.requested_by,
    )
    if isinstance(started, FetchOutcome):  # locked or a duplicate delivery: the workflow ends here
        return {"skipped": True, "outcome": started.as_dict()}
    return {"skipped": False, "run": started.as_dict()}


def _run(event: dict[str, Any]) -> WorkflowRun:
    if not isinstance(event.get("run"), dict):
        raise ConfigurationError("workflow event: 'run' (the start step's answer) is missing")
    return WorkflowRun.from_dict(event["run"])


def fetch_page(event: dict[str, Any]) -> dict[str, object]:
    run = batch_runtime().fetch_page(_run(event))
    return {"run": run.as_dict()}


def import_page(event: dict[str, Any]) -> dict[str, object]:
    key = event.get("key")
    if not isinstance(key, str):
        raise ConfigurationError("workflow import_page event: 'key' is missing")
    return check_imported(batch_runtime().import_page(key)).as_dict()


def finalise(event: dict[str, Any]) -> dict[str, object]:
    return check_finalised(batch_runtime().finalise_step(_run(event))).as_dict()


def end(event: dict[str, Any]) -> dict[str, object]:
    run = _run(event)
    batch_runtime().end_run(run)
    return {"job": run.job, "run_id": run.run_id, "released": True}


def fail(event: dict[str, Any]) -> dict[str, object]:
    run = _run(event)
    error = event.get("error") or {}
    message = f"{error.get('Error', 'workflow failed')}: {error.get('Cause', '')}".strip(": ")
    batch_runtime().fail_run(run, message)
    logger.error("workflow of %s run %s failed: %s", run.job, run.run_id, message)
    return {"job": run.job, "run_id": run.run_id, "failed": True, "error": message}


STEPS: dict[str, Callable[[dict[str, Any]], dict[str, object]]] = {
    "start": start,
    "fetch_page": fetch_page,
    "import_page": import_page,
    "finalise": finalise,
    "end": end,
    "fail": fail,
}


def is_step(event: dict[str, Any]) -> bool:
    """An event from the workflow (``{"step": …}``), not the function's own trigger."""
    return isinstance(event, dict) and "step" in event


def run_step(event: dict[str, Any], steps: frozenset[str]) -> dict[str, object]:
    """Run the named step, if it is one of ``steps`` (the ones this function may run)."""
    name = str(event.get("step"))
    if name not in steps:
        raise ConfigurationError(f"workflow event: step {name!r} is not one of {', '.join(sorted(steps))}")
    logger.append_keys(step=name)
    return STEPS[name](event)


FETCH_STEPS = frozenset({"start", "fetch_page", "end", "fail"})  # FetchJobFunction: the ERP side
IMPORT_STEPS = frozenset({"import_page", "finalise"})  # ImportStagedFunction: the database side
