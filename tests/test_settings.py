"""Settings are validated once and fail with a message naming the setting, never echoing secrets."""

from __future__ import annotations

import pytest

from erpbridge.errors import ConfigurationError
from erpbridge.settings import load_settings


def test_defaults_need_only_a_security_key() -> None:
    settings = load_settings(
        {"ERPBRIDGE_ERP_URL": "http://127.0.0.1:8090/x", "ERPBRIDGE_ERP_SECURITY_KEY": "k"}
    )
    assert settings.erp_auth == "key"
    assert settings.erp_security_key is not None
    assert settings.erp_security_key.get_secret_value() == "k"
    assert settings.soap_namespace == "urn:microsoft-dynamics-schemas/codeunit/DWWebService"


def test_missing_credentials_name_the_setting() -> None:
    with pytest.raises(ConfigurationError, match="ERPBRIDGE_ERP_USER"):
        load_settings({"ERPBRIDGE_ERP_AUTH": "basic", "ERPBRIDGE_ERP_PASSWORD": "hunter2"})


def test_wrong_value_names_the_setting_and_hides_the_value() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({"ERPBRIDGE_ERP_AUTH": "none", "ERPBRIDGE_ERP_TIMEOUT_S": "s3cr3t-not-a-number"})
    assert "ERPBRIDGE_ERP_TIMEOUT_S" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


def test_oauth2_token_url_defaults_from_tenant() -> None:
    settings = load_settings(
        {
            "ERPBRIDGE_ERP_AUTH": "oauth2",
            "ERPBRIDGE_ERP_TENANT": "contoso",
            "ERPBRIDGE_ERP_CLIENT_ID": "app",
            "ERPBRIDGE_ERP_CLIENT_SECRET": "secret",
        }
    )
    assert settings.token_url == "https://login.microsoftonline.com/contoso/oauth2/v2.0/token"


def test_secrets_are_not_in_repr() -> None:
    settings = load_settings({"ERPBRIDGE_ERP_SECURITY_KEY": "topsecret"})
    assert "topsecret" not in repr(settings)
    assert "topsecret" not in str(settings.model_dump())


def test_secrets_manager_values_fill_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws

    with mock_aws():
        boto3.client("secretsmanager").create_secret(
            Name="erpbridge/dev/erp", SecretString='{"erp_security_key": "from-secrets-manager"}'
        )
        settings = load_settings({"ERPBRIDGE_SECRETS_NAME": "erpbridge/dev/erp"})
    assert settings.erp_security_key is not None
    assert settings.erp_security_key.get_secret_value() == "from-secrets-manager"


def test_degradation_choices_are_validated() -> None:
    with pytest.raises(ConfigurationError, match="ERPBRIDGE_DEGRADE_PRICES"):
        load_settings({"ERPBRIDGE_ERP_AUTH": "none", "ERPBRIDGE_DEGRADE_PRICES": "cache-stale,guess"})
    with pytest.raises(ConfigurationError, match="ERPBRIDGE_DEGRADE_CHECKOUT"):
        load_settings({"ERPBRIDGE_ERP_AUTH": "none", "ERPBRIDGE_DEGRADE_CHECKOUT": "maybe"})


def test_every_setting_is_in_exactly_one_section() -> None:
    from erpbridge.settings import Settings

    names = [name for section in Settings.sections() for name in section.model_fields]
    assert sorted(names) == sorted(Settings.model_fields), (
        "a section repeats a name, or a field has no section"
    )


def test_ssm_and_secrets_values_read_as_the_environment_does() -> None:
    """Every section through the same path: a list as JSON, a number, a live and an admin setting."""
    import boto3
    from moto import mock_aws

    env = {
        "ERPBRIDGE_ERP_AUTH": "none",
        "ERPBRIDGE_ORDER_EXPORT_BATCH": "10",
        "ERPBRIDGE_SSM_PATH": "/eb/read-as-env",
    }
    with mock_aws():
        ssm = boto3.client("ssm")
        ssm.put_parameter(
            Name="/eb/read-as-env/admin_operators", Value='["arn:aws:iam::1:role/Ops"]', Type="String"
        )
        ssm.put_parameter(Name="/eb/read-as-env/order_export_batch", Value="40", Type="String")
        boto3.client("secretsmanager").create_secret(
            Name="eb/read-as-env",
            SecretString='{"order_max_attempts": 9, "jwt_algorithms": ["RS256", "ES256"]}',
        )
        settings = load_settings({**env, "ERPBRIDGE_SECRETS_NAME": "eb/read-as-env"})
    assert settings.admin_operators == ("arn:aws:iam::1:role/Ops",)
    assert settings.order_export_batch == 40  # SSM wins over the environment
    assert settings.order_max_attempts == 9
    assert settings.jwt_algorithms == ("RS256", "ES256")


def test_a_wrong_live_or_admin_setting_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="ERPBRIDGE_ORDER_EXPORT_BATCH"):
        load_settings({"ERPBRIDGE_ERP_AUTH": "none", "ERPBRIDGE_ORDER_EXPORT_BATCH": "0"})
    with pytest.raises(ConfigurationError, match="ERPBRIDGE_ADMIN_OPERATORS"):
        load_settings({"ERPBRIDGE_ERP_AUTH": "none", "ERPBRIDGE_ADMIN_OPERATORS": "not json"})
