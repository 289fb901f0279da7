"""``JobLauncher`` in AWS: a Run now as the schedules start a job.

An ordinary job: the fetch function invoked asynchronously (its imports follow from the staged
files' S3 events). A ``long_running`` job: an execution of the long-run workflow (template.yaml
``LongRunWorkflow``), named after the run, so a second start of the same run is refused by Step
Functions instead of fetching twice. The event carries the run id and the operator in both cases.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from erpbridge.admin.ports import RunNow
from erpbridge.batch.models import Trigger

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient


class AwsJobLauncher:
    def __init__(
        self,
        fetch_function: str,
        workflow_arn: str | None = None,
        *,
        lambda_client: LambdaClient | None = None,
        sfn_client: Any = None,  # boto3 stepfunctions client (no stubs installed),
    ) -> None:
        self._function = fetch_function
        self._workflow = workflow_arn
        self._lambda = lambda_client
        self._sfn = sfn_client

    def launch(self, run: RunNow) -> None:
        event: dict[str, Any] = {
            "job": run.job,
            "parameters": dict(run.parameters),
            "trigger": str(Trigger.MANUAL),
            "run_id": run.run_id,
            "requested_by": run.requested_by,
        }
        if run.long_running and self._workflow:
            self._sfn_client().start_execution(
                stateMachineArn=self._workflow, name=run.run_id, input=json.dumps(event)
            )
            return
        self._lambda_client().invoke(
            FunctionName=self._function, InvocationType="Event", Payload=json.dumps(event).encode()
        )

    def launch_import(self, bucket: str, key: str, requested_by: str) -> None:
        """Nothing to do: the object's S3 event starts its import."""

    def _lambda_client(self) -> LambdaClient:
        if self._lambda is None:
            import boto3

            self._lambda = boto3.client("lambda")
        return self._lambda

    def _sfn_client(self) -> Any:
        if self._sfn is None:
            import boto3

            self._sfn = boto3.client("stepfunctions")
        return self._sfn
