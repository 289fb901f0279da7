"""The long-run workflow: fetch page by page → import the pages → finalise, one step at a time.

A job marked ``long_running: true`` may need longer than one Lambda invocation (15 minutes) to
fetch. In AWS a Step Functions standard workflow (``template.yaml`` ``LongRunWorkflow``) drives it;
each state invokes one thin handler (``functions/batch/workflow_steps.py``) over the steps below,
and carries :class:`WorkflowRun` (JSON) from state to state:

1. ``start`` — take the job's lock and record the run (a duplicate schedule delivery or a run
   still going ends the workflow: ``skipped``);
2. ``fetch_page`` — one invocation per page: stage the next page (renewing the lock meanwhile),
   checkpoint the run record (pages, bytes); repeated until the page says ``ExportIsDone``;
3. ``import_page`` — per staged page (the Map state; the S3-triggered import may get there
   first: the claim makes it one import);
4. ``finalise`` — remove/deactivate-missing once over all pages (:mod:`erpbridge.batch.finalise`);
   :class:`RunNotReadyError` while pages are still being imported (the state retries), a page
   that failed ends the workflow failed;
5. ``end`` — release the lock. On any error the workflow's Catch runs ``fail``: the run is marked
   failed (if its fetch was still going) and the lock released.

The lock is held through all of them: the imports and the finalise renew it with a heartbeat while
they run (:mod:`erpbridge.batch.lease`).

:func:`run_workflow` is the local runner (``erpbridge jobs run``, ``make run``): the same steps in
the same order in one process, so the tests exercise the workflow without AWS.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from erpbridge.batch.fetch import FetchOutcome, FetchResult
from erpbridge.batch.finalise import FinaliseOutcome, FinaliseResult
from erpbridge.batch.importer import ImportOutcome, ImportResult
from erpbridge.batch.models import Trigger
from erpbridge.errors import BatchRunError

logger = logging.getLogger(__name__)


class RunNotReadyError(BatchRunError):
    """The run's pages are not all imported yet: finalise again later (the state retries)."""


class RunBlockedError(BatchRunError):
    """The run cannot be finalised (a page failed or is missing): the workflow ends failed."""


class LockLostError(BatchRunError):
    """Another run took the job's lock (this one's expired between two pages): stop fetching."""


class PageFailedError(BatchRunError):
    """A page was bad input (moved to failed/ with its report): the run cannot be finalised."""


@dataclass(frozen=True)
class WorkflowRun:
    """What the workflow carries from state to state (the Step Functions state's ``run``)."""

    job: str
    run_id: str
    lock_name: str
    owner: str
    parameters: dict[str, str] = field(default_factory=dict)
    pages: int = 0
    bytes: int = 0
    done: bool = False
    keys: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkflowRun:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)

    def add_page(self, key: str, size: int, *, done: bool) -> WorkflowRun:
        return replace(self, pages=self.pages + 1, bytes=self.bytes + size, done=done, keys=[*self.keys, key])


class WorkflowSteps(Protocol):
    """The steps, bound to their adapters (``erpbridge.wiring.batch.BatchRuntime``)."""

    def start_run(
        self,
        job: str,
        trigger: Trigger,
        *,
        parameters: Mapping[str, str] | None = None,
        scheduled_time: datetime | None = None,
    ) -> WorkflowRun | FetchOutcome:
        """The run begun (lock held), or the outcome saying why nothing was begun."""
        ...

    def fetch_page(self, run: WorkflowRun) -> WorkflowRun: ...

    def import_page(self, key: str) -> ImportOutcome: ...

    def finalise_step(self, run: WorkflowRun) -> FinaliseOutcome: ...

    def end_run(self, run: WorkflowRun) -> None: ...

    def fail_run(self, run: WorkflowRun, error: str) -> None: ...


def check_imported(outcome: ImportOutcome) -> ImportOutcome:
    """The ``import_page`` step's verdict: a page that was bad input fails the workflow."""
    if outcome.result is ImportResult.FAILED:
        raise PageFailedError(f"{outcome.key}: {outcome.error}")
    return outcome


def check_finalised(outcome: FinaliseOutcome) -> FinaliseOutcome:
    """The ``finalise`` step's verdict: not ready yet → retry; blocked → the workflow fails."""
    if outcome.result is FinaliseResult.NOT_READY:
        raise RunNotReadyError(f"run {outcome.run_id}: {outcome.reason}")
    if outcome.result in (FinaliseResult.BLOCKED, FinaliseResult.UNKNOWN):
        raise RunBlockedError(f"run {outcome.run_id}: {outcome.reason}")
    return outcome


@dataclass(frozen=True)
class WorkflowResult:
    job: str
    run_id: str
    result: str  # "finalised", "not paged", "already finalised", or the skipped fetch's result
    pages: int = 0
    keys: list[str] = field(default_factory=list)
    imports: list[ImportOutcome] = field(default_factory=list)
    finalised: FinaliseOutcome | None = None
    reason: str | None = None


def run_workflow(
    steps: WorkflowSteps,
    job: str,
    trigger: Trigger,
    *,
    parameters: Mapping[str, str] | None = None,
    scheduled_time: datetime | None = None,
    max_not_ready: int = 3,
) -> WorkflowResult:
    """The workflow in this process, state by state as ``template.yaml`` ``LongRunWorkflow``
    runs it. Errors are raised after the ``fail`` step (the Catch) ran."""
    started = steps.start_run(job, trigger, parameters=parameters, scheduled_time=scheduled_time)
    if isinstance(started, FetchOutcome):
        assert started.result is not FetchResult.FETCHED
        return WorkflowResult(job, started.run_id, str(started.result), reason=started.reason)
    run = started
    try:
        while not run.done:  # FetchPage, then the IsExportDone choice
            run = steps.fetch_page(run)
        imports = [check_imported(steps.import_page(key)) for key in run.keys]  # ImportPages (Map)
        for attempt in range(1, max_not_ready + 1):  # Finalise, with its retry on RunNotReadyError
            try:
                finalised = check_finalised(steps.finalise_step(run))
                break
            except RunNotReadyError:
                if attempt == max_not_ready:
                    raise
        steps.end_run(run)
    except BaseException as error:
        steps.fail_run(run, f"{type(error).__name__}: {error}")
        raise
    return WorkflowResult(
        job, run.run_id, str(finalised.result), run.pages, run.keys, imports, finalised, finalised.reason
    )
