"""Shop database migrations in AWS: run on every deploy (a CloudFormation custom resource in
template.yaml, re-run whenever the common layer changes) and on demand
(``erpbridge db upgrade --function NAME``, or a console test event ``{}``).

Idempotent: applied migrations are skipped, so a second run reports nothing applied. A custom
resource is always answered (SUCCESS or FAILED with the reason), so a failed migration fails the
deployment instead of leaving CloudFormation waiting for an hour; deleting the stack leaves the
database alone.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from erpbridge.settings import get_settings
from erpbridge.shopdb.migrate import current_revision, upgrade

logger = Logger()
PHYSICAL_ID = "erpbridge-shop-database-migrations"


def migrate() -> dict[str, Any]:
    """Apply the pending migrations; say which, and where the database is now."""
    database_url = get_settings().database_url
    applied = upgrade(database_url)
    report = {"applied": applied, "current": current_revision(database_url)}
    logger.info("migrations done", extra=report)
    return report


@logger.inject_lambda_context  # logs the event where POWERTOOLS_LOGGER_LOG_EVENT=true (dev only)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "ResponseURL" in (event or {}) and "RequestType" in event:
        return _custom_resource(event)
    return migrate()


def _custom_resource(event: dict[str, Any]) -> dict[str, Any]:
    status, reason, data = "SUCCESS", "", {}
    if event["RequestType"] in ("Create", "Update"):
        try:
            report = migrate()
            data = {"Applied": ",".join(report["applied"]) or "none", "Current": report["current"] or ""}
            reason = f"applied {data['Applied']}; database at {data['Current']}"
        except Exception as error:  # answered, never left hanging: the deployment fails and rolls back
            logger.exception("migrations failed")
            status, reason = "FAILED", f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
    body = {
        "Status": status,
        "Reason": reason or "nothing to do on delete (the database is kept)",
        "PhysicalResourceId": PHYSICAL_ID,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": data,
    }
    # The pre-signed URL wants no content type (it is part of the signature).
    answer = requests.put(
        event["ResponseURL"], data=json.dumps(body), headers={"Content-Type": ""}, timeout=30
    )
    answer.raise_for_status()
    return body
