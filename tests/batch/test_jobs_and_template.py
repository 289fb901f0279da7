"""Job files, sample events and template.yaml agree with each other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from batch_support import ROOT, template_resources

from erpbridge.batch.jobs import BatchJob, list_batch_jobs, load_batch_job
from erpbridge.errors import ConfigurationError
from erpbridge.protocol.xmlsafe import parse_xml
from erpbridge.settings import ErpSettings

MAPPINGS = ROOT / "mappings"
FETCH_JOBS = {"fetch-shop-data", "fetch-customer-data", "fetch-stock-level", "fetch-prices"}


def _schedules() -> dict[tuple[str, str], dict[str, object]]:
    """Template schedules by (job, the run's variant: "" for the job's default parameters)."""
    resources = template_resources()
    events = {
        **resources["FetchJobFunction"]["Properties"]["Events"],
        **resources["LongRunWorkflow"]["Properties"]["Events"],  # long_running jobs
    }
    schedules = {}
    for event in events.values():
        assert event["Type"] == "ScheduleV2"
        properties = event["Properties"]
        given = json.loads(properties["Input"])
        job = load_batch_job(given["job"], MAPPINGS)
        schedules[(job.id, job.variant(given.get("parameters")))] = properties
    return schedules


def test_the_three_fetch_jobs_load_and_build_their_requests() -> None:
    jobs = {job.id: job for job in list_batch_jobs(MAPPINGS)}
    assert set(jobs) >= FETCH_JOBS
    shop = jobs["fetch-shop-data"]
    request = parse_xml(shop.request_xml({"shopID": "SHOP2"}))
    assert request.tag == "GetEcomData" and request.get("shopID") == "SHOP2"
    families = [child.tag for child in request.find("tables")]
    assert families == [
        "Products", "ProductGroups", "Currencies", "Countries", "Units", "Languages", "Manufacturers",
        "RelatedProducts",
    ]  # fmt: skip
    assert [c.tag for c in parse_xml(jobs["fetch-customer-data"].request_xml()).find("tables")] == [
        "Customers"
    ]
    assert [c.tag for c in parse_xml(jobs["fetch-stock-level"].request_xml()).find("tables")] == ["Stock"]
    assert [c.tag for c in parse_xml(jobs["fetch-prices"].request_xml()).find("tables")] == ["Prices"]


def test_an_unknown_request_parameter_is_refused() -> None:
    job = load_batch_job("fetch-shop-data", MAPPINGS)
    with pytest.raises(ConfigurationError, match="unknown parameter 'shopid'"):
        job.request_xml({"shopid": "X"})


def test_every_scheduled_job_has_the_schedule_its_job_file_states() -> None:
    schedules = _schedules()
    expected = {}
    for job in list_batch_jobs(MAPPINGS):
        if job.fetch.schedule:
            expected[(job.id, "")] = (job.fetch.schedule, job.fetch.schedule_timezone)
        for extra in job.fetch.schedules:  # one per shop: the same job with other parameters
            expected[(job.id, job.variant(extra.parameters))] = (extra.schedule, extra.schedule_timezone)
    assert {job for job, _ in schedules} == FETCH_JOBS
    assert set(schedules) == set(expected)
    for key, properties in schedules.items():
        assert properties["ScheduleExpression"] == expected[key][0], key
        assert properties.get("ScheduleExpressionTimezone", "UTC") == expected[key][1], key
        assert "<aws.scheduler.scheduled-time>" in str(properties["Input"])
        assert properties["RetryPolicy"]["MaximumRetryAttempts"] >= 1
        assert "DeadLetterConfig" in properties


def test_a_job_may_point_at_another_erp_with_secrets_by_reference(tmp_path: Path) -> None:
    # The job file with an erp block at the end of its fetch section.
    head, _, tail = (MAPPINGS / "fetch-customer-data.yaml").read_text().partition("import:")
    override = (
        "  erp:\n    url: https://bc.example.com/WS/C/Codeunit/DWWebService\n    auth: basic\n"
        "    user: BATCH\n    password_env: JOB_ERP_PASSWORD\n"
    )
    (tmp_path / "fetch-customer-data.yaml").write_text(head + override + "import:" + tail)
    job: BatchJob = load_batch_job("fetch-customer-data", tmp_path)
    live = ErpSettings(erp_url="http://live.example.com/soap", erp_auth="key", erp_security_key="k")
    settings = job.erp_settings(live, env={"JOB_ERP_PASSWORD": "s3cret"})
    assert str(settings.erp_url) == "https://bc.example.com/WS/C/Codeunit/DWWebService"
    assert settings.erp_auth == "basic" and settings.erp_user == "BATCH"
    assert settings.erp_password is not None and settings.erp_password.get_secret_value() == "s3cret"
    assert settings.erp_timeout_s == live.erp_timeout_s  # the rest comes from the live settings
    with pytest.raises(ConfigurationError, match="JOB_ERP_PASSWORD"):
        job.erp_settings(live, env={})
    # Without an override the job uses the live settings as they are.
    assert load_batch_job("fetch-stock-level", MAPPINGS).erp_settings(live) is live


def test_jobs_list_shows_the_export_failed_orders_schedule_of_the_template() -> None:
    from erpbridge_cli.commands.jobs import EXPORT_SCHEDULE

    events = template_resources()["ExportFailedOrdersFunction"]["Properties"]["Events"]
    assert [event["Properties"]["ScheduleExpression"] for event in events.values()] == [EXPORT_SCHEDULE]


def test_jobs_list_shows_the_price_audit_schedule_of_the_template() -> None:
    from erpbridge.batch.price_audit import SCHEDULE

    events = template_resources()["PriceAuditFunction"]["Properties"]["Events"]
    assert [event["Properties"]["ScheduleExpression"] for event in events.values()] == [SCHEDULE]


SHOP2_SCHEDULE = """  schedules:
    - name: Shop2
      schedule: cron(30 2 * * ? *)
      parameters: {shopID: SHOP2, customModifier: erpbridge-shop2}
"""


def test_a_job_can_have_one_schedule_per_shop_with_its_parameters(tmp_path: Path) -> None:
    head, _, tail = (MAPPINGS / "fetch-shop-data.yaml").read_text().partition("import:")
    (tmp_path / "fetch-shop-data.yaml").write_text(head + SHOP2_SCHEDULE + "import:" + tail)
    job = load_batch_job("fetch-shop-data", tmp_path)
    [extra] = job.fetch.schedules
    assert job.parameters(extra.parameters)["shopID"] == "SHOP2"
    assert job.parameters(extra.parameters)["language"] == "ENU"  # the rest from the defaults
    assert job.variant() == "" and job.variant({"shopID": "SHOP1"}) == ""
    assert len(job.variant(extra.parameters)) == 8 and job.variant(extra.parameters) != job.variant(
        {"shopID": "X"}
    )
    bad = SHOP2_SCHEDULE.replace("shopID: SHOP2", "shop: SHOP2")
    (tmp_path / "fetch-shop-data.yaml").write_text(head + bad + "import:" + tail)
    with pytest.raises(ConfigurationError, match="unknown parameters shop"):
        load_batch_job("fetch-shop-data", tmp_path)
