"""What only a deployment would show, read from the SAM template and its translator expansion:
alarms that can notify someone and watch metrics the code emits, secrets readable only where they
are needed, the optional VPC, safe rollouts, async failure destinations, and samconfig
environments that give every required parameter a value."""

from __future__ import annotations

import json
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from erpbridge_cli.template_check import expand

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ALARM_PRINCIPAL = "cloudwatch.amazonaws.com"


@cache
def expanded() -> dict[str, Any]:
    return expand(TEMPLATE)


@cache
def source() -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    return dict(yaml_parse(TEMPLATE.read_text()))


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in expanded()["Resources"].items() if r["Type"] == kind}


def _ref(value: Any) -> str | None:
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return None


def _emitted_metric_names() -> set[str]:
    """Every metric name the functions and the layer publish (literal names in the code)."""
    # A name handed to Powertools, or a (name, value, MetricUnit.…) figure published in a loop.
    pattern = re.compile(
        r"""(?:add_metric\(name=|single_metric\(name=|Metric\()\s*["']([A-Za-z0-9]+)["']"""
        r"""|\(\s*["']([A-Za-z0-9]+)["'],[^,()]+,\s*MetricUnit\."""
    )
    names: set[str] = set()
    for folder in ("functions", "layers/common/erpbridge"):
        for path in (ROOT / folder).rglob("*.py"):
            names.update(name for match in pattern.findall(path.read_text()) for name in match if name)
    names.update(
        re.findall(
            r'PriceSource\.\w+: "(\w+)"', (ROOT / "layers/common/erpbridge/live/prices.py").read_text()
        )
    )
    return names


def test_every_alarm_notifies_a_topic_cloudwatch_can_publish_to() -> None:
    alarms = resources("AWS::CloudWatch::Alarm")
    topics = resources("AWS::SNS::Topic")
    keys = resources("AWS::KMS::Key")
    assert len(alarms) >= 14
    for name, alarm in alarms.items():
        actions = alarm["Properties"].get("AlarmActions", [])
        assert actions, f"{name} notifies no one"
        for action in actions:
            topic = topics[_ref(action) or ""]
            key_ref = topic["Properties"].get("KmsMasterKeyId")
            assert key_ref != "alias/aws/sns", f"{name}: CloudWatch cannot use the AWS-managed SNS key"
            if key_ref is None:
                continue
            policy = keys[_ref(key_ref) or ""]["Properties"]["KeyPolicy"]
            granted: set[str] = set()
            for statement in policy["Statement"]:
                principals = statement.get("Principal", {}).get("Service", [])
                principals = [principals] if isinstance(principals, str) else principals
                if statement["Effect"] == "Allow" and ALARM_PRINCIPAL in principals:
                    actions_granted = statement["Action"]
                    granted.update([actions_granted] if isinstance(actions_granted, str) else actions_granted)
            assert "kms:Decrypt" in granted and any(a.startswith("kms:GenerateDataKey") for a in granted), (
                name
            )


def test_an_alarm_email_is_subscribed_when_given() -> None:
    subscription = source()["Resources"]["AlarmSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Protocol"] == "email"


def test_every_custom_metric_an_alarm_watches_is_emitted_by_the_code() -> None:
    emitted = _emitted_metric_names()
    watched = {
        alarm["Properties"]["MetricName"]
        for alarm in resources("AWS::CloudWatch::Alarm").values()
        if not str(alarm["Properties"].get("Namespace", "AWS/")).startswith("AWS/")
    }
    assert watched >= {"FilesFailed", "OrdersDeadLettered", "PricesFromFallback", "BreakerOpened"}
    assert watched <= emitted, f"alarms watch metrics nothing emits: {sorted(watched - emitted)}"


def test_metrics_and_their_alarms_are_scoped_by_stage() -> None:
    namespace = source()["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    assert namespace == {"Fn::Sub": "erpbridge/${Stage}"}
    for name, alarm in resources("AWS::CloudWatch::Alarm").items():
        ns = alarm["Properties"]["Namespace"]
        if not str(ns).startswith("AWS/"):
            assert ns == {"Fn::Sub": "erpbridge/${Stage}"}, name


def test_the_dashboard_is_valid_json_and_shows_only_emitted_metrics() -> None:
    body = resources("AWS::CloudWatch::Dashboard")["OperationsDashboard"]["Properties"]["DashboardBody"]
    text = body["Fn::Sub"][0]
    for placeholder in ("AWS::Region", "AWS::StackName", "Stage", "Namespace"):
        text = text.replace("${" + placeholder + "}", "x")
    widgets = json.loads(text)["widgets"]
    shown = {m[1] for w in widgets for m in w["properties"]["metrics"] if m[0] == "x"}
    assert shown and shown <= _emitted_metric_names(), sorted(shown - _emitted_metric_names())


def _secret_names_readable_by(function: str) -> set[str]:
    policies = source()["Resources"][function]["Properties"]["Policies"]
    names: set[str] = set()
    for policy in policies:
        if isinstance(policy, dict) and "AWSSecretsManagerGetSecretValuePolicy" in policy:
            arn = policy["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"]["Fn::Sub"]
            names.add(json.dumps(arn[1]["Name"]))
    return {"erp" if "ErpSecretsName" in n else "db" if "DbSecretName" in n else n for n in names}


@pytest.mark.parametrize(
    ("function", "secrets"),
    [
        ("FetchJobFunction", {"erp"}),
        ("ImportStagedFunction", {"db"}),
        ("LiveApiFunction", {"erp", "db"}),
        ("AdminApiFunction", {"erp", "db"}),
        ("ExportFailedOrdersFunction", {"erp", "db"}),
        ("PriceAuditFunction", {"erp", "db"}),
        ("MigrateFunction", {"db"}),
    ],
)
def test_each_function_reads_only_the_secrets_it_needs(function: str, secrets: set[str]) -> None:
    assert _secret_names_readable_by(function) == secrets
    variables = source()["Resources"][function]["Properties"]["Environment"]["Variables"]
    assert ("ERPBRIDGE_SECRETS_NAME" in variables) == ("erp" in secrets)
    assert ("ERPBRIDGE_DB_SECRET_NAME" in variables) == ("db" in secrets)


def test_vpc_placement_and_the_proxy_are_optional() -> None:
    template = source()
    vpc = template["Globals"]["Function"]["VpcConfig"]
    assert vpc["Fn::If"][0] == "InVpc" and vpc["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    assert template["Parameters"]["SubnetIds"]["Default"] == ""
    for name in ("DbProxy", "DbProxyRole", "DbProxyTargetGroup"):
        assert template["Resources"][name]["Condition"] == "UseDbProxy"
    live = template["Resources"]["LiveApiFunction"]["Properties"]["Environment"]["Variables"]
    assert live["ERPBRIDGE_DB_HOST"]["Fn::If"][0] == "UseDbProxy"
    importer = template["Resources"]["ImportStagedFunction"]["Properties"]["Environment"]["Variables"]
    assert "ERPBRIDGE_DB_HOST" not in importer  # long transactions connect direct
    # Every function in the expansion gets the conditional VPC config.
    for name, function in resources("AWS::Lambda::Function").items():
        assert function["Properties"]["VpcConfig"]["Fn::If"][0] == "InVpc", name


def test_the_live_function_rolls_out_behind_an_alias_with_alarm_rollback() -> None:
    groups = resources("AWS::CodeDeploy::DeploymentGroup")
    (group,) = groups.values()
    alarms = {item["Name"]["Ref"] for item in group["Properties"]["AlarmConfiguration"]["Alarms"]}
    assert alarms == {"LiveApiFunctionErrorsAlarm", "LiveApi5xxRateAlarm"}
    assert group["Properties"]["AutoRollbackConfiguration"]["Enabled"] is True
    assert resources("AWS::Lambda::Alias")


def test_every_asynchronously_invoked_function_has_a_failure_destination() -> None:
    template = source()["Resources"]
    for name in (
        "FetchJobFunction",
        "ImportStagedFunction",
        "ExportFailedOrdersFunction",
        "PriceAuditFunction",
    ):
        config = template[name]["Properties"]["EventInvokeConfig"]
        assert config["DestinationConfig"]["OnFailure"]["Type"] == "SQS", name
    assert template["MigrateFunction"]["Properties"]["EventInvokeConfig"]["MaximumRetryAttempts"] == 0


def test_whole_events_are_logged_in_dev_only() -> None:
    variables = source()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_LOGGER_LOG_EVENT"] == {"Fn::If": ["IsDev", "true", "false"]}
    for path in (ROOT / "functions").rglob("*.py"):
        assert "log_event=True" not in path.read_text(), path.name


def test_gateway_refusals_have_the_error_body_shape() -> None:
    responses = source()["Resources"]["LiveApi"]["Properties"]["GatewayResponses"]
    assert {"DEFAULT_4XX", "DEFAULT_5XX", "THROTTLED", "INVALID_API_KEY", "INTEGRATION_TIMEOUT"} <= set(
        responses
    )
    for name, response in responses.items():
        body = response["ResponseTemplates"]["application/json"]
        sample = json.loads(body.replace("$context.error.messageString", '"refused"'))
        assert set(sample) >= {"error", "message"}, name


def test_migrations_run_on_deploy_when_the_layer_changes() -> None:
    migrations = source()["Resources"]["DatabaseMigrations"]
    assert migrations["Properties"]["ServiceToken"] == {"Fn::GetAtt": ["MigrateFunction", "Arn"]}
    assert migrations["Properties"]["LayerVersion"] == {"Ref": "CommonLayer"}


@pytest.mark.parametrize("environment", ["default", "test", "prod"])
def test_every_samconfig_environment_is_complete(environment: str) -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    deploy = config[environment]["deploy"]["parameters"]
    assert config[environment]["global"]["parameters"]["stack_name"]
    overrides = dict(re.findall(r'(\w+)="([^"]*)"', deploy["parameter_overrides"]))
    expected_stage = {"default": "dev"}.get(environment, environment)
    assert overrides["Stage"] == expected_stage
    for name, parameter in source()["Parameters"].items():
        if "Default" not in parameter:
            assert name in overrides, f"{environment}: parameter {name} has no default and no value"
    for name in ("ErpUrl", "ErpSecretsName", "DbSecretName", "LogRetentionDays", "AlarmEmail"):
        assert name in overrides, f"{environment}: {name} is not stated"
    unknown = set(overrides) - set(source()["Parameters"])
    assert not unknown, f"{environment}: samconfig names parameters the template lacks: {unknown}"
