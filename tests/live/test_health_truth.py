"""GET /v1/health tells the truth: an ERP that answers as the plug-in unit is ok; a wrong URL, a
refused login or a fault about the web service is *misconfigured* with the setting to check; an
ERP that does not answer is unreachable. Only a real answer counts as the last success. (The BC
emulator over HTTP.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url  # nothing here depends on the database dialect


def _health(live: Any) -> dict[str, Any]:
    answer = live.call("GET", "/v1/health")
    assert answer.status == 200
    return dict(answer.body)


def test_an_erp_that_answers_is_ok_with_its_last_success(live: Any) -> None:
    health = _health(live)
    assert (health["status"], health["erp_reachable"], health["erp_condition"]) == ("ok", True, "ok")
    assert health["last_success"] is not None and health["erp_reason"] is None
    assert health["erp_endpoint"].endswith("/Codeunit/DWWebService")


def test_a_wrong_url_is_misconfigured_not_reachable(
    live_builder: Callable[..., Any], database_url: str, emulator: Any
) -> None:
    env = {**emulator.settings_env(), "ERPBRIDGE_ERP_URL": emulator.soap_url + "Typo"}
    live = live_builder(database_url, env)
    health = _health(live)
    assert (health["status"], health["erp_reachable"], health["erp_condition"]) == (
        "degraded",
        False,
        "misconfigured",
    )
    assert health["erp_setting"] == "ERPBRIDGE_ERP_URL" and "HTTP 404" in health["erp_reason"]
    assert health["last_success"] is None  # a 404 is not an answer


def test_refused_credentials_name_the_credential_settings(
    live_builder: Callable[..., Any], database_url: str, emulator: Any
) -> None:
    env = {**emulator.settings_env(), "ERPBRIDGE_ERP_SECURITY_KEY": "not-the-key"}
    health = _health(live_builder(database_url, env))
    assert (health["erp_reachable"], health["erp_condition"]) == (False, "misconfigured")
    assert "ERPBRIDGE_ERP_SECURITY_KEY" in health["erp_setting"] and health["last_success"] is None


def test_a_fault_about_the_web_service_is_misconfigured(
    live_builder: Callable[..., Any], database_url: str, emulator: Any
) -> None:
    env = {**emulator.settings_env(), "ERPBRIDGE_ERP_SOAP_METHOD": "Proces"}
    health = _health(live_builder(database_url, env))
    assert (health["erp_reachable"], health["erp_condition"]) == (False, "misconfigured")
    assert "ERPBRIDGE_ERP_SOAP_METHOD" in health["erp_setting"] and health["last_success"] is None


def test_an_erp_that_does_not_answer_is_unreachable(live_erp_down: Any) -> None:
    health = _health(live_erp_down)
    assert (health["status"], health["erp_reachable"], health["erp_condition"]) == (
        "degraded",
        False,
        "unreachable",
    )
    assert health["last_success"] is None and health["erp_reason"]


def test_a_wrong_url_opens_the_breaker_so_prices_fall_back_at_once(
    live_builder: Callable[..., Any], database_url: str, emulator: Any
) -> None:
    env = {**emulator.settings_env(), "ERPBRIDGE_ERP_URL": emulator.soap_url + "Typo"}
    live = live_builder(database_url, env, ERPBRIDGE_ERP_BREAKER_FAILURES="2")
    request = {"customer_number": "10000", "items": [{"product_id": "P000001"}]}
    for _ in range(2):
        answer = live.call("POST", "/v1/prices", request)
        assert answer.status == 200 and answer.body["items"][0]["source"] == "fallback"
    health = _health(live)
    assert health["breaker_state"] == "open" and health["erp_condition"] == "misconfigured"
    before = len(emulator.control.requests())
    assert live.call("POST", "/v1/prices", request).body["items"][0]["source"] == "fallback"
    assert len(emulator.control.requests()) == before  # the open breaker stopped asking a wrong address


def test_serve_stops_at_start_naming_a_missing_erp_url(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("ERPBRIDGE_")}
    env["ERPBRIDGE_DATABASE_URL"] = f"sqlite:///{tmp_path}/shop.db"
    env["ERPBRIDGE_ERP_AUTH"] = "none"
    result = subprocess.run(
        [sys.executable, "-m", "erpbridge_cli.main", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "ERPBRIDGE_ERP_URL is not set" in result.stderr + result.stdout
