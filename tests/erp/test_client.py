"""The ERP client against a Business Central stand-in over real HTTP."""

from __future__ import annotations

import base64
import email.utils
import io
import logging
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from erp.conftest import FakeClock, RecordingSleep, settings_for
from erp.fake_bc import (
    FakeBC,
    drop,
    envelope,
    fault,
    hang,
    ok,
    raw,
    status,
    trickle,
    truncated,
    wsdl,
)
from erpbridge.erp.breaker import CircuitOpenError
from erpbridge.erp.client import SoapErpClient
from erpbridge.erp.ports import BreakerPhase, RequestKind
from erpbridge.errors import (
    ConfigurationError,
    ErpAuthError,
    ErpBusyError,
    ErpFaultError,
    ErpMisconfiguredError,
    ErpOutcomeUnknownError,
    ErpRejectedError,
    ErpResponseError,
    ErpTimeoutError,
    ErpUnavailableError,
    ProtocolError,
)

MakeClient = Callable[..., SoapErpClient]
READ = RequestKind.PRODUCT_INFO
CREATE = RequestKind.CREATE_ORDER
ORDER = b'<?xml version="1.0" encoding="utf-8"?><tables source="LiveIntegration"><x a="&amp;"/></tables>'


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/WS/Codeunit/DWWebService"


@pytest.fixture
def server_factory() -> Any:
    servers: list[FakeBC] = []

    def make(**fields: Any) -> FakeBC:
        server = FakeBC(**fields).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


# -- the SOAP contract ---------------------------------------------------------------------------


def test_call_sends_the_codeunit_envelope_and_returns_the_unescaped_response(
    bc: FakeBC, make_client: MakeClient
) -> None:
    bc.then(ok('<?xml version="1.0" encoding="utf-16"?><tables><c>A &amp; B &lt; C</c></tables>'))
    answer = make_client().call(ORDER, kind=RequestKind.CALCULATE_ORDER)

    assert answer == '<?xml version="1.0" encoding="utf-8"?><tables><c>A &amp; B &lt; C</c></tables>'
    (post,) = bc.soap_posts
    assert post.headers["content-type"] == "text/xml; charset=utf-8"
    assert post.headers["soapaction"] == '"urn:microsoft-dynamics-schemas/codeunit/DWWebService:Process"'
    assert (
        b'<soap:Body><Process xmlns="urn:microsoft-dynamics-schemas/codeunit/DWWebService"><request>'
        b'&lt;?xml version="1.0" encoding="utf-8"?&gt;&lt;tables source="LiveIntegration"&gt;'
        b'&lt;x a="&amp;amp;"/&gt;&lt;/tables&gt;</request></Process></soap:Body>'
    ) in post.body


def test_a_request_that_is_not_utf8_is_refused_before_sending(bc: FakeBC, make_client: MakeClient) -> None:
    with pytest.raises(ProtocolError, match="not UTF-8"):
        make_client().call(b"<q>\xff</q>", kind=CREATE)
    assert bc.soap_posts == []


def test_ping_sends_get_ecom_data(bc: FakeBC, make_client: MakeClient) -> None:
    assert make_client().ping() is True
    assert b"<request>&lt;GetEcomData&gt;&lt;/GetEcomData&gt;</request>" in bc.soap_posts[0].body


def test_configured_soap_names_are_used(bc: FakeBC, make_client: MakeClient) -> None:
    bc.then(ok("<r/>", method="Run", parameter="xml", namespace="urn:custom"))
    client = make_client(erp_soap_method="Run", erp_soap_parameter="xml", erp_soap_namespace="urn:custom")
    assert client.call(b"<q/>", kind=READ) == "<r/>"
    post = bc.soap_posts[0]
    assert post.headers["soapaction"] == '"urn:custom:Run"'
    assert b'<Run xmlns="urn:custom"><xml>&lt;q/&gt;</xml></Run>' in post.body


def test_wsdl_discovery_reads_names_once(bc: FakeBC, make_client: MakeClient) -> None:
    bc.wsdl_body = wsdl(method="Run", parameter="requestXml", namespace="urn:custom:DW")
    bc.then(*[ok("<r/>", method="Run", parameter="requestXml", namespace="urn:custom:DW")] * 2)
    client = make_client(erp_soap_discover_wsdl=True, erp_soap_method="Other")

    assert client.call(b"<q/>", kind=READ) == "<r/>"
    assert client.call(b"<q/>", kind=READ) == "<r/>"
    assert [r.method for r in bc.requests] == ["GET", "POST", "POST"]
    assert bc.requests[0].headers["x-security-key"] == bc.security_key  # the WSDL needs auth too
    assert bc.soap_posts[0].headers["soapaction"] == '"urn:custom:DW:Run"'
    assert b'<Run xmlns="urn:custom:DW"><requestXml>' in bc.soap_posts[0].body


def test_wsdl_without_the_configured_method_is_a_configuration_error(
    bc: FakeBC, make_client: MakeClient
) -> None:
    bc.wsdl_body = wsdl(method="Process", extra_ops=("Export",))
    client = make_client(erp_soap_discover_wsdl=True, erp_soap_method="Run")
    with pytest.raises(ConfigurationError, match=r"ERPBRIDGE_ERP_SOAP_METHOD='Run'.*Process, Export"):
        client.call(b"<q/>", kind=READ)


# -- authentication ------------------------------------------------------------------------------


def test_security_key_goes_in_the_configured_header(server_factory: Any, make_client: MakeClient) -> None:
    server = server_factory(auth="key", key_header="X-Api-Key")
    client = make_client(server)
    assert client.call(b"<q/>", kind=READ)
    assert server.soap_posts[0].headers["x-api-key"] == server.security_key
    assert "x-security-key" not in server.soap_posts[0].headers


def test_wrong_security_key_is_an_auth_error_without_retry(bc: FakeBC, make_client: MakeClient) -> None:
    client = make_client(erp_security_key="wrong")
    with pytest.raises(ErpAuthError, match="HTTP 401"):
        client.call(b"<q/>", kind=READ)
    assert len(bc.soap_posts) == 1


def test_basic_auth(server_factory: Any, make_client: MakeClient) -> None:
    server = server_factory(auth="basic")
    assert make_client(server).call(b"<q/>", kind=READ)
    expected = base64.b64encode(f"{server.user}:{server.password}".encode()).decode()
    assert server.soap_posts[0].headers["authorization"] == f"Basic {expected}"
    with pytest.raises(ErpAuthError):
        make_client(server, erp_password="nope").call(b"<q/>", kind=READ)


def test_oauth2_token_is_fetched_once_and_cached(server_factory: Any, make_client: MakeClient) -> None:
    server = server_factory(auth="oauth2")
    client = make_client(server, erp_scope="https://api.businesscentral.dynamics.com/.default")
    for _ in range(3):
        client.call(b"<q/>", kind=READ)
    assert len(server.token_requests) == 1
    assert server.token_requests[0] == {
        "grant_type": ["client_credentials"],
        "client_id": [server.client_id],
        "client_secret": [server.client_secret],
        "scope": ["https://api.businesscentral.dynamics.com/.default"],
    }
    assert {p.headers["authorization"] for p in server.soap_posts} == {"Bearer token-1-opaque"}


def test_oauth2_token_is_renewed_shortly_before_expiry(
    server_factory: Any, make_client: MakeClient, clock: FakeClock
) -> None:
    server = server_factory(auth="oauth2", token_lifetime=300)
    client = make_client(server)
    client.call(b"<q/>", kind=READ)
    clock.advance(230)  # 70 s left: still used
    client.call(b"<q/>", kind=READ)
    assert len(server.token_requests) == 1
    clock.advance(20)  # 50 s left: inside the 60 s margin, renewed before it can expire on the way
    client.call(b"<q/>", kind=READ)
    assert len(server.token_requests) == 2
    assert server.soap_posts[-1].headers["authorization"] == "Bearer token-2-opaque"


def test_oauth2_refreshes_once_on_401(server_factory: Any, make_client: MakeClient) -> None:
    server = server_factory(auth="oauth2")
    client = make_client(server)
    client.call(b"<q/>", kind=CREATE)
    server.revoke_tokens()  # e.g. the token was revoked in Entra before it expired
    assert client.call(b"<q/>", kind=CREATE)
    assert len(server.token_requests) == 2
    assert len(server.soap_posts) == 3


def test_oauth2_gives_up_after_one_refresh(
    server_factory: Any, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = server_factory(auth="oauth2")
    monkeypatch.setattr(server, "authorised", lambda headers: False)  # BC does not know the app
    with pytest.raises(ErpAuthError, match="HTTP 401"):
        make_client(server).call(b"<q/>", kind=READ)
    assert len(server.token_requests) == 2
    assert len(server.soap_posts) == 2


def test_oauth2_wrong_client_secret_is_an_auth_error(server_factory: Any, make_client: MakeClient) -> None:
    server = server_factory(auth="oauth2")
    with pytest.raises(ErpAuthError, match="invalid_client"):
        make_client(server, erp_client_secret="wrong").call(b"<q/>", kind=READ)
    assert server.soap_posts == []


def test_unreachable_token_endpoint_means_not_sent(
    bc: FakeBC, server_factory: Any, make_client: MakeClient
) -> None:
    server = server_factory(auth="oauth2")
    client = make_client(server, erp_token_url=closed_port_url())
    with pytest.raises(ErpUnavailableError, match="token endpoint") as caught:
        client.call(ORDER, kind=CREATE)
    assert not isinstance(caught.value, ErpOutcomeUnknownError)
    assert server.soap_posts == []


def test_token_endpoint_hiccup_is_retried_for_reads_and_does_not_trip_the_breaker(
    server_factory: Any, make_client: MakeClient, sleep: RecordingSleep
) -> None:
    server = server_factory(auth="oauth2")
    server.token_script.append(status(503))
    client = make_client(server, erp_breaker_failures=1)
    assert client.call(b"<q/>", kind=READ)
    assert len(server.token_requests) == 2
    assert len(sleep.calls) == 1
    assert client.breaker.phase is BreakerPhase.CLOSED


# -- retries -------------------------------------------------------------------------------------


def test_reads_retry_gateway_errors_with_capped_exponential_backoff(
    bc: FakeBC, make_client: MakeClient, sleep: RecordingSleep
) -> None:
    bc.then(status(502), status(504), drop(), status(503), ok("<r/>"))
    client = make_client(erp_max_retries=4, erp_retry_backoff_s=0.5, erp_retry_backoff_max_s=2.0)
    assert client.call(b"<q/>", kind=RequestKind.GET_LIST) == "<r/>"
    # equal jitter (jitter source fixed at 0.5 here): 3/4 of 0.5, 1, 2, 2 (capped)
    assert sleep.calls == [0.375, 0.75, 1.5, 1.5]
    assert len(bc.soap_posts) == 5


def test_jitter_keeps_each_wait_between_half_and_full_backoff(bc: FakeBC, clock: FakeClock) -> None:
    waits: list[float] = []
    bc.then(status(503), status(503), status(503), ok())
    client = SoapErpClient(settings_for(bc, erp_retry_backoff_s=1.0), clock=clock, sleep=waits.append)
    client.call(b"<q/>", kind=READ)
    assert len(waits) == 3
    for wait, ceiling in zip(waits, [1.0, 2.0, 4.0], strict=True):
        assert ceiling / 2 <= wait <= ceiling


@pytest.mark.parametrize("code", [429, 503])
def test_retry_after_is_honoured(
    bc: FakeBC, make_client: MakeClient, sleep: RecordingSleep, code: int
) -> None:
    bc.then(status(code, headers={"Retry-After": "7"}), ok("<r/>"))
    assert make_client().call(b"<q/>", kind=READ) == "<r/>"
    assert sleep.calls == [7.0]


def test_retry_after_longer_than_we_wait_gives_up_with_the_hint(
    bc: FakeBC, make_client: MakeClient, sleep: RecordingSleep
) -> None:
    bc.then(status(429, headers={"Retry-After": "120"}))
    with pytest.raises(ErpBusyError) as caught:
        make_client(erp_retry_after_max_s=30).call(b"<q/>", kind=READ)
    assert caught.value.retry_after_s == 120
    assert sleep.calls == []
    assert len(bc.soap_posts) == 1


def test_retries_exhausted_raise_the_last_typed_error(bc: FakeBC, make_client: MakeClient) -> None:
    bc.then(*[status(503, headers={"Retry-After": "1"})] * 4)
    with pytest.raises(ErpBusyError, match="HTTP 503"):
        make_client(erp_max_retries=3).call(b"<q/>", kind=READ)
    assert len(bc.soap_posts) == 4


def test_read_timeout_is_retried_for_reads(bc: FakeBC, make_client: MakeClient) -> None:
    bc.then(hang(1.0), ok("<r/>"))
    started = time.monotonic()
    assert make_client(erp_timeout_s=0.3).call(b"<q/>", kind=READ) == "<r/>"
    assert time.monotonic() - started < 1.0
    assert len(bc.soap_posts) == 2


def test_reads_give_up_with_a_timeout_error(bc: FakeBC, make_client: MakeClient) -> None:
    bc.then(hang(0.6), hang(0.6))
    with pytest.raises(ErpTimeoutError) as caught:
        make_client(erp_timeout_s=0.2, erp_max_retries=1).call(b"<q/>", kind=READ)
    assert not isinstance(caught.value, ErpOutcomeUnknownError)


def test_a_body_that_trickles_past_the_timeout_is_a_timeout(bc: FakeBC) -> None:
    bc.then(trickle("<r>" + "x" * 10_000 + "</r>", pieces=20, pause_s=0.05))
    client = SoapErpClient(settings_for(bc, erp_timeout_s=0.3, erp_max_retries=0))  # real clock
    with pytest.raises(ErpTimeoutError, match="body not complete"):
        client.call(b"<q/>", kind=READ)


@pytest.mark.parametrize(
    ("code", "kind", "error"),
    [
        (404, READ, ErpUnavailableError),
        (408, READ, ErpTimeoutError),
        (408, CREATE, ErpOutcomeUnknownError),
        (403, READ, ErpAuthError),
        (400, READ, ErpFaultError),
    ],
)
def test_other_statuses_are_typed_and_not_retried(
    bc: FakeBC, make_client: MakeClient, code: int, kind: RequestKind, error: type[Exception]
) -> None:
    bc.then(status(code), ok())
    with pytest.raises(error, match=f"HTTP {code}"):
        make_client().call(b"<q/>", kind=kind)
    assert len(bc.soap_posts) == 1


def test_retry_after_as_an_http_date(bc: FakeBC, make_client: MakeClient, sleep: RecordingSleep) -> None:
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    bc.then(status(503, headers={"Retry-After": when}), ok("<r/>"))
    assert make_client().call(b"<q/>", kind=READ) == "<r/>"
    (waited,) = sleep.calls
    assert 17 <= waited <= 20


# -- create order: never retried blindly ---------------------------------------------------------


@pytest.mark.parametrize("kind", [RequestKind.CREATE_ORDER, RequestKind.EXPORT_ORDER])
def test_create_timeout_after_sending_is_outcome_unknown(
    bc: FakeBC, make_client: MakeClient, kind: RequestKind
) -> None:
    bc.then(hang(0.8), ok())
    with pytest.raises(ErpOutcomeUnknownError, match="may or may not have been applied"):
        make_client(erp_timeout_s=0.3).call(ORDER, kind=kind)
    time.sleep(0.6)
    assert len(bc.soap_posts) == 1  # sent once, never again


def test_create_connection_dropped_after_sending_is_outcome_unknown(
    bc: FakeBC, make_client: MakeClient
) -> None:
    bc.then(drop(), ok())
    with pytest.raises(ErpOutcomeUnknownError):
        make_client().call(ORDER, kind=CREATE)
    assert len(bc.soap_posts) == 1


def test_create_connection_refused_is_not_sent(make_client: MakeClient, sleep: RecordingSleep) -> None:
    with pytest.raises(ErpUnavailableError, match="not sent") as caught:
        make_client(erp_url=closed_port_url()).call(ORDER, kind=CREATE)
    assert not isinstance(caught.value, ErpOutcomeUnknownError | ErpTimeoutError)
    assert sleep.calls == []


def test_create_busy_is_not_retried_and_says_not_processed(bc: FakeBC, make_client: MakeClient) -> None:
    bc.then(status(429, headers={"Retry-After": "2"}), ok())
    with pytest.raises(ErpBusyError, match="not processed") as caught:
        make_client().call(ORDER, kind=CREATE)
    assert caught.value.retry_after_s == 2
    assert len(bc.soap_posts) == 1


def test_create_bad_gateway_is_outcome_unknown(bc: FakeBC, make_client: MakeClient) -> None:
    bc.then(status(502), ok())
    with pytest.raises(ErpOutcomeUnknownError):
        make_client().call(ORDER, kind=CREATE)
    assert len(bc.soap_posts) == 1


def test_read_connection_refused_is_retried_then_unavailable(
    make_client: MakeClient, sleep: RecordingSleep
) -> None:
    with pytest.raises(ErpUnavailableError, match="could not be reached"):
        make_client(erp_url=closed_port_url(), erp_max_retries=2).call(b"<q/>", kind=READ)
    assert len(sleep.calls) == 2


# -- faults --------------------------------------------------------------------------------------


def test_http_500_fault_carries_the_erp_message_and_is_not_retried(
    bc: FakeBC, make_client: MakeClient
) -> None:
    bc.then(fault("The Customer does not exist. Identification fields and values: No.='C999'"), ok())
    with pytest.raises(ErpFaultError) as caught:
        make_client().call(b"<q/>", kind=READ)
    assert (
        caught.value.erp_message
        == "The Customer does not exist. Identification fields and values: No.='C999'"
    )
    assert caught.value.status == 500
    assert "C999" in str(caught.value)
    assert len(bc.soap_posts) == 1


APPLICATION_ERROR = "a:Microsoft.Dynamics.Nav.Types.Exceptions.NavCSideException"


@pytest.mark.parametrize(
    ("faultcode", "message", "refusal"),
    [
        (APPLICATION_ERROR, "The Item does not exist. Identification fields and values: No.='X1'", True),
        ("a:Microsoft.Dynamics.Nav.Types.NavNCLDialogException", "Item 1000 is blocked.", True),
        ("s:Client", "OrderId must have a value in the order request.", True),
        (APPLICATION_ERROR, "The Sales Header table is locked by another user. Try again later.", False),
        (APPLICATION_ERROR, "We cannot complete the operation: a deadlock occurred.", False),
        ("s:Server", "Injected fault: the ERP failed to process the request.", False),
        (
            "a:Microsoft.Dynamics.Nav.Service.WebServices.ServiceBrokerException",
            "Method Foo not found",
            False,
        ),
        ("", "An unexpected error occurred", False),
    ],
)
def test_a_fault_is_a_refusal_only_when_the_application_refuses_the_request(
    bc: FakeBC, make_client: MakeClient, faultcode: str, message: str, refusal: bool
) -> None:
    bc.then(fault(message, faultcode=faultcode), ok())
    with pytest.raises(ErpFaultError) as caught:
        make_client().call(b"<q/>", kind=CREATE)
    assert isinstance(caught.value, ErpRejectedError) is refusal
    assert caught.value.erp_message == message
    assert len(bc.soap_posts) == 1  # neither is retried


def test_fault_inside_a_200_is_a_fault(bc: FakeBC, make_client: MakeClient) -> None:
    bc.then(fault("Item blocked", code=200))
    with pytest.raises(ErpFaultError, match="Item blocked"):
        make_client().call(b"<q/>", kind=READ)


def test_500_without_a_soap_fault_is_still_a_fault(bc: FakeBC, make_client: MakeClient) -> None:
    bc.then(status(500, b"<html>Internal Server Error</html>"))
    with pytest.raises(ErpFaultError, match="HTTP 500") as caught:
        make_client().call(b"<q/>", kind=READ)
    assert caught.value.erp_message is None


@pytest.mark.parametrize(
    "body",
    [
        b"not xml at all",
        b"<Envelope/>",
        envelope("x").replace(b"Process_Result", b"Other_Result"),
        envelope("").replace(b"<request></request>", b"<request><tables/></request>"),
    ],
)
def test_unusable_200_is_a_response_error(bc: FakeBC, make_client: MakeClient, body: bytes) -> None:
    bc.then(raw(body))
    with pytest.raises(ErpResponseError):
        make_client().call(b"<q/>", kind=READ)
    assert len(bc.soap_posts) == 1


def test_large_response_is_unescaped_without_the_parser_text_limit(
    bc: FakeBC, make_client: MakeClient
) -> None:
    inner = "<tables>" + '<c n="a&amp;b">x &lt; y</c>' * 500_000 + "</tables>"  # ~12 MB inner text
    bc.then(ok(inner))
    assert make_client().call(b"<q/>", kind=RequestKind.GET_PDF) == inner


def test_redirects_are_not_followed_so_the_key_stays_home(bc: FakeBC, make_client: MakeClient) -> None:
    bc.then(status(307, headers={"Location": "http://elsewhere.example/steal?x=1"}))
    client = make_client()
    with pytest.raises(
        ErpMisconfiguredError, match=r"redirects \(HTTP 307\) to http://elsewhere.example/steal;"
    ):
        client.call(ORDER, kind=CREATE)
    assert len(bc.soap_posts) == 1
    assert client.status().setting == "ERPBRIDGE_ERP_URL"  # a wrong URL, not an answer


# -- circuit breaker and status ------------------------------------------------------------------


def test_breaker_opens_after_consecutive_connection_failures_then_probes_and_closes(
    bc: FakeBC, make_client: MakeClient, clock: FakeClock
) -> None:
    client = make_client(erp_breaker_failures=2, erp_breaker_cooldown_s=30, erp_max_retries=0)
    bc.then(drop(), drop())
    for _ in range(2):
        with pytest.raises(ErpTimeoutError):
            client.call(b"<q/>", kind=READ)
    assert client.breaker.phase is BreakerPhase.OPEN

    with pytest.raises(CircuitOpenError, match="not sent"):
        client.call(ORDER, kind=CREATE)
    assert len(bc.soap_posts) == 2  # refused without contacting the ERP

    clock.advance(30)
    assert client.call(b"<q/>", kind=READ)  # the half-open probe
    assert client.breaker.phase is BreakerPhase.CLOSED
    assert len(bc.soap_posts) == 3


def test_failed_probe_reopens_the_breaker(bc: FakeBC, make_client: MakeClient, clock: FakeClock) -> None:
    client = make_client(erp_breaker_failures=1, erp_breaker_cooldown_s=30, erp_max_retries=0)
    bc.then(status(503), status(503))
    with pytest.raises(ErpBusyError):
        client.call(b"<q/>", kind=READ)
    assert client.breaker.phase is BreakerPhase.OPEN
    clock.advance(31)
    with pytest.raises(ErpBusyError):
        client.call(b"<q/>", kind=READ)
    assert client.breaker.phase is BreakerPhase.OPEN
    with pytest.raises(CircuitOpenError):
        client.call(b"<q/>", kind=READ)
    assert len(bc.soap_posts) == 2


def test_faults_do_not_open_the_breaker(bc: FakeBC, make_client: MakeClient) -> None:
    client = make_client(erp_breaker_failures=2)
    bc.then(*[fault("posting error")] * 3)
    for _ in range(3):
        with pytest.raises(ErpFaultError):
            client.call(b"<q/>", kind=READ)
    assert client.breaker.phase is BreakerPhase.CLOSED


def test_status_is_cached_for_its_ttl(bc: FakeBC, make_client: MakeClient, clock: FakeClock) -> None:
    client = make_client(erp_status_ttl_s=60)
    first = client.status()
    assert first.reachable and first.breaker_state is BreakerPhase.CLOSED and first.last_success is not None
    clock.advance(59)
    assert client.status() is first
    assert len(bc.soap_posts) == 1
    clock.advance(2)
    client.status()
    assert len(bc.soap_posts) == 2


def test_status_reports_down_and_open_breaker_without_calling(
    bc: FakeBC, make_client: MakeClient, clock: FakeClock
) -> None:
    client = make_client(erp_status_ttl_s=10, erp_breaker_failures=1, erp_max_retries=0)
    assert client.status().reachable
    last_success = client.status().last_success
    bc.then(drop())
    with pytest.raises(ErpTimeoutError):
        client.call(b"<q/>", kind=READ)
    down = client.status()  # refreshed by the failed call, no ping
    assert not down.reachable
    assert down.breaker_state is BreakerPhase.OPEN
    assert down.last_success == last_success
    clock.advance(11)
    assert not client.status().reachable  # breaker still cooling down: no ping sent
    assert len(bc.soap_posts) == 2


def test_ping_reports_false_when_the_erp_is_down(make_client: MakeClient, sleep: RecordingSleep) -> None:
    client = make_client(erp_url=closed_port_url())
    assert client.ping() is False
    assert sleep.calls == []  # the probe itself is not retried


# -- streaming -----------------------------------------------------------------------------------


def test_stream_writes_the_unescaped_document_to_a_file_or_callable(
    bc: FakeBC, make_client: MakeClient
) -> None:
    rows = "".join(
        f'<item table="EcomProducts"><column columnName="ProductId">P{i} &amp; Co</column></item>'
        for i in range(40_000)
    )
    inner = (
        f'<?xml version="1.0" encoding="utf-16"?><tables ExportIsDone="false"><table>{rows}</table></tables>'
    )
    expected = inner.replace("utf-16", "utf-8").encode()
    bc.then(ok(inner), ok(inner))
    client = make_client()

    file_sink = io.BytesIO()
    result = client.stream(b"<GetEcomData/>", file_sink)
    assert file_sink.getvalue() == expected
    assert result.bytes_written == len(expected) and result.export_is_done is False

    chunks: list[bytes] = []
    client.stream(b"<GetEcomData/>", chunks.append)
    assert len(chunks) > 1 and b"".join(chunks) == expected


def test_stream_retries_a_cut_connection_only_before_anything_was_written(
    bc: FakeBC, make_client: MakeClient
) -> None:
    small = '<tables ExportIsDone="true"><x/></tables>'
    bc.then(truncated(small), ok(small))
    sink = io.BytesIO()
    assert make_client().stream(b"<q/>", sink).export_is_done is True
    assert sink.getvalue() == small.encode()

    big = "<tables>" + "<row>data &amp; more</row>" * 200_000 + "</tables>"
    bc.then(truncated(big), ok(big))
    with pytest.raises(ErpTimeoutError, match="connection lost"):
        make_client().stream(b"<q/>", io.BytesIO())
    assert len(bc.soap_posts) == 3  # the big one was not re-sent: the sink already had half of it


def test_stream_fault_is_a_fault(bc: FakeBC, make_client: MakeClient) -> None:
    bc.then(fault("Shop ID missing"))
    with pytest.raises(ErpFaultError, match="Shop ID missing"):
        make_client().stream(b"<q/>", io.BytesIO())


# -- secrets -------------------------------------------------------------------------------------


def test_no_secret_reaches_logs_errors_or_reprs(
    server_factory: Any, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets: set[str] = set()
    texts: list[str] = []
    for mode in ("key", "basic", "oauth2"):
        server = server_factory(auth=mode)
        secrets |= {server.security_key, server.password, server.client_secret}
        secrets.add(base64.b64encode(f"{server.user}:{server.password}".encode()).decode())
        client = make_client(server)
        texts.append(repr(client))
        client.call(b"<q/>", kind=READ)
        server.then(status(503), fault("boom"))
        with pytest.raises(ErpFaultError) as fault_error:
            client.call(b"<q/>", kind=READ)
        texts.append(str(fault_error.value))
        for wrong in ({"erp_security_key": "x"}, {"erp_password": "x"}, {"erp_client_secret": "x"}):
            try:
                make_client(server, **wrong).call(b"<q/>", kind=READ)
            except Exception as error:  # whatever it is, its text must be clean
                texts.append(repr(error) + str(error))
        secrets |= set(server.valid_tokens)
    everything = caplog.text + "\n".join(texts)
    assert "token-1-opaque" in secrets
    for secret in secrets:
        assert secret not in everything
