"""The sample events in events/ are what the handlers accept."""

from __future__ import annotations

import json

from batch_support import ROOT

FETCH_JOBS = {"fetch-shop-data", "fetch-customer-data", "fetch-stock-level", "fetch-prices"}


def test_sample_fetch_events_name_real_jobs() -> None:
    from fetch_event import FetchEvent

    for path in sorted((ROOT / "events").glob("fetch-*.json")):
        event = FetchEvent.model_validate(json.loads(path.read_text()))
        assert event.job in FETCH_JOBS, path.name
        if "<aws." in path.read_text():
            assert event.scheduled_time is None  # the console sample runs as a manual run


def test_the_s3_sample_event_names_a_staged_page() -> None:
    from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent

    from erpbridge.batch.models import StagedObject

    event = S3EventBridgeNotificationEvent(
        json.loads((ROOT / "events" / "s3-object-created.json").read_text())
    )
    assert event.detail_type == "Object Created"
    staged = StagedObject.parse(event.detail.object.key)
    assert staged.job in FETCH_JOBS and staged.name == "page-0001.xml"
    assert staged.archive_key.startswith("archive/") and staged.failed_key.startswith("failed/")


def test_the_price_audit_sample_event_runs_as_a_manual_audit() -> None:
    from audit_prices import AuditEvent

    event = AuditEvent.model_validate(json.loads((ROOT / "events" / "audit-prices.json").read_text()))
    assert event.sample == 200 and event.scheduled_time is None  # Scheduler's placeholder, verbatim
