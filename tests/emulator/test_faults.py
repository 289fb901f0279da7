"""Each fault the emulator injects, seen from a client over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests
from lxml import etree

from bc_emulator.control import ControlError
from bc_emulator.faults import FaultInjector, FaultSpec
from bc_emulator.server import Emulator
from bc_emulator.soap import SoapFault, read_response
from erpbridge.protocol.order_request import (
    OrderDocument,
    OrderHeader,
    OrderLine,
    build_order_request,
)
from erpbridge.protocol.request_builders import build_ping
from erpbridge.protocol.response_parsers import parse_order_response

BATCH = '<GetEcomData><tables><Products type="all"/></tables></GetEcomData>'


def create_request(emulator: Emulator, order_id: str) -> bytes:
    dataset = emulator.dispatcher.bc.dataset
    customer = dataset.customers[0]
    item = dataset.items[0]
    document = OrderDocument(
        header=OrderHeader(order_id=order_id, customer_number=customer.no, customer_name=customer.name),
        lines=[
            OrderLine(line_id="1", order_id=order_id, product_id=item.no, product_number=item.no, quantity=1)
        ],
    )
    return build_order_request(document, create=True)


def statuses(emulator: Emulator, count: int) -> list[int]:
    return [emulator.call(build_ping(), timeout=5).status_code for _ in range(count)]


def test_added_latency_delays_the_answer(emulator: Emulator) -> None:
    emulator.control.set_faults(latency_ms=150)
    started = time.perf_counter()
    assert emulator.call(build_ping()).status_code == 200
    assert time.perf_counter() - started >= 0.15


def test_latency_from_a_distribution_is_seeded() -> None:
    def draws(seed: int) -> list[float]:
        injector = FaultInjector(
            FaultSpec(seed=seed, latency_ms=5, latency_jitter_ms=20, latency_distribution="exponential")
        )
        return [injector.decide("ping").latency_s for _ in range(10)]

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)
    assert all(value >= 0.005 for value in draws(3))


def test_error_rate_answers_500_with_a_soap_fault(emulator: Emulator) -> None:
    emulator.control.set_faults(error_rate=1.0, error_message="Navision says no.")
    response = emulator.call(create_request(emulator, "E-1"))
    assert response.status_code == 500
    with pytest.raises(SoapFault, match="Navision says no"):
        read_response(response.content)
    assert emulator.control.sales_orders() == []
    assert emulator.control.requests()[-1]["fault"] == "error"


@pytest.mark.parametrize(("rate", "status"), [("busy_429_rate", 429), ("busy_503_rate", 503)])
def test_busy_answers_carry_retry_after(emulator: Emulator, rate: str, status: int) -> None:
    emulator.control.set_faults(**{rate: 1.0, "retry_after_s": 7})
    response = emulator.call(build_ping())
    assert response.status_code == status
    assert response.headers["Retry-After"] == "7"


def test_a_reset_connection_raises_on_the_client_and_creates_nothing(emulator: Emulator) -> None:
    emulator.control.set_faults(reset_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        emulator.call(create_request(emulator, "R-1"))
    assert emulator.control.sales_orders() == []


def test_a_hanging_request_times_the_client_out(emulator: Emulator) -> None:
    emulator.control.set_faults(hang_rate=1.0, hang_s=30)
    with pytest.raises(requests.Timeout):
        emulator.call(build_ping(), timeout=0.3)
    emulator.control.release_hanging()
    emulator.control.clear_faults()
    assert emulator.call(build_ping()).status_code == 200


def test_a_down_window_refuses_connections_until_it_is_over(emulator: Emulator) -> None:
    emulator.control.down()
    with pytest.raises(requests.ConnectionError) as refused:
        emulator.call(build_ping(), timeout=2)
    assert "refused" in str(refused.value).lower()
    assert emulator.control.info()["down"] is True  # the control listener stays up
    emulator.control.up()
    assert emulator.call(build_ping()).status_code == 200


def test_a_timed_down_window_ends_by_itself(emulator: Emulator) -> None:
    emulator.control.set_faults(down_for_s=0.3)
    with pytest.raises(requests.ConnectionError):
        emulator.call(build_ping(), timeout=2)
    deadline = time.monotonic() + 5
    while emulator.is_down and time.monotonic() < deadline:
        time.sleep(0.05)
    assert emulator.call(build_ping()).status_code == 200


def test_going_down_cuts_open_keep_alive_connections(emulator: Emulator) -> None:
    session = requests.Session()
    headers = emulator.request_headers()
    from bc_emulator.soap import build_request_envelope

    body = build_request_envelope(build_ping())
    assert session.post(emulator.soap_url, data=body, headers=headers, timeout=5).status_code == 200
    emulator.go_down()
    with pytest.raises(requests.ConnectionError):
        session.post(emulator.soap_url, data=body, headers=headers, timeout=2)
    emulator.come_up()


def test_commit_then_drop_creates_the_order_but_loses_the_answer(emulator: Emulator) -> None:
    emulator.control.set_faults(commit_then_drop_rate=1.0, kinds=["create_order"], times=1)
    request = create_request(emulator, "LOST-1")
    with pytest.raises(requests.ConnectionError):
        emulator.call(request)
    stored = emulator.control.sales_order("LOST-1")
    assert stored is not None
    # The shop re-sends after the lost answer: the same sales order comes back, no second one.
    result = parse_order_response(read_response(emulator.call(request).content), create=True)
    assert result.erp_order_id == stored["no"]
    assert len(emulator.control.sales_orders()) == 1


def test_commit_then_drop_never_hits_requests_that_commit_nothing(emulator: Emulator) -> None:
    emulator.control.set_faults(commit_then_drop_rate=1.0)
    assert emulator.call(build_ping()).status_code == 200


def test_a_malformed_answer_is_not_a_well_formed_envelope(emulator: Emulator) -> None:
    emulator.control.set_faults(malformed_rate=1.0)
    response = emulator.call(build_ping())
    assert response.status_code == 200
    with pytest.raises(etree.XMLSyntaxError):
        read_response(response.content)


def test_a_truncated_answer_breaks_off_mid_body(emulator: Emulator) -> None:
    emulator.control.set_faults(truncated_rate=1.0)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        emulator.call(build_ping())


def test_a_truncated_stream_breaks_off_mid_body(emulator_factory: Callable[..., Emulator]) -> None:
    small = emulator_factory(auth="key", products=100, customers=5)
    small.control.set_faults(truncated_rate=1.0)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        small.call(BATCH)


def test_slow_streaming_limits_the_transfer_rate(emulator_factory: Callable[..., Emulator]) -> None:
    small = emulator_factory(auth="key", products=20, customers=5)
    size = len(small.call(BATCH).content)
    rate = size * 4  # a quarter of a second for the whole answer
    small.control.set_faults(stream_bytes_per_s=rate)
    started = time.perf_counter()
    response = small.call(BATCH)
    elapsed = time.perf_counter() - started
    assert len(response.content) == size
    assert elapsed >= 0.2


def test_kinds_restrict_faults_to_those_requests(emulator: Emulator) -> None:
    emulator.control.set_faults(error_rate=1.0, kinds=["create_order"])
    assert emulator.call(build_ping()).status_code == 200
    assert emulator.call(create_request(emulator, "K-1")).status_code == 500


def test_skip_and_times_pick_which_requests_fail(emulator: Emulator) -> None:
    emulator.control.set_faults(error_rate=1.0, skip=1, times=2)
    assert statuses(emulator, 5) == [200, 500, 500, 200, 200]


def test_the_same_seed_gives_the_same_faults(emulator: Emulator) -> None:
    emulator.control.set_faults(error_rate=0.5, busy_429_rate=0.2, seed=11)
    first = statuses(emulator, 30)
    emulator.control.set_faults(error_rate=0.5, busy_429_rate=0.2, seed=11)
    assert statuses(emulator, 30) == first
    assert {200, 500, 429} <= set(first)
    emulator.control.set_faults(error_rate=0.5, busy_429_rate=0.2, seed=12)
    assert statuses(emulator, 30) != first


def test_faults_given_at_start_survive_reset(emulator_factory: Callable[..., Emulator]) -> None:
    flaky = emulator_factory(auth="none", faults=FaultSpec(busy_503_rate=1.0, retry_after_s=2))
    assert flaky.call(build_ping()).status_code == 503
    flaky.control.reset()
    assert flaky.call(build_ping()).status_code == 503


def test_a_bad_fault_spec_is_refused(emulator: Emulator) -> None:
    with pytest.raises(ControlError, match="error_rate"):
        emulator.control.set_faults(error_rate=2)
    with pytest.raises(ControlError, match="unknown fault settings"):
        emulator.control.set_faults(eror_rate=0.5)
    with pytest.raises(ControlError, match="unknown request kinds"):
        emulator.control.set_faults(kinds=["pong"])


def test_erpbridge_client_sees_each_fault_as_its_typed_error(emulator: Emulator) -> None:
    from erpbridge.erp.client import SoapErpClient
    from erpbridge.erp.ports import RequestKind
    from erpbridge.errors import ErpBusyError, ErpFaultError, ErpOutcomeUnknownError, ErpUnavailableError
    from erpbridge.settings import load_settings

    env = {
        **emulator.settings_env(),
        "ERPBRIDGE_ERP_MAX_RETRIES": "0",
        "ERPBRIDGE_ERP_BREAKER_FAILURES": "100",
    }
    client = SoapErpClient(load_settings(env=env))
    emulator.control.set_faults(error_rate=1.0, error_message="Item is blocked.")
    with pytest.raises(ErpFaultError) as fault:
        client.call(build_ping(), kind=RequestKind.PING)
    assert "Item is blocked." in str(fault.value.erp_message)
    emulator.control.set_faults(busy_429_rate=1.0, retry_after_s=3)
    with pytest.raises(ErpBusyError) as busy:
        client.call(build_ping(), kind=RequestKind.PING)
    assert busy.value.retry_after_s == 3
    emulator.control.set_faults(commit_then_drop_rate=1.0)
    with pytest.raises(ErpOutcomeUnknownError):
        client.call(create_request(emulator, "C-1"), kind=RequestKind.CREATE_ORDER)
    emulator.control.clear_faults()
    emulator.control.down()
    with pytest.raises(ErpUnavailableError):
        client.call(build_ping(), kind=RequestKind.PING)
    emulator.control.up()


@pytest.mark.parametrize("fault", ["malformed_rate", "truncated_rate"])
def test_a_broken_answer_comes_after_the_order_was_created(emulator: Emulator, fault: str) -> None:
    emulator.control.set_faults(**{fault: 1.0, "kinds": ["create_order"]})
    with pytest.raises((etree.XMLSyntaxError, requests.exceptions.ChunkedEncodingError)):
        read_response(emulator.call(create_request(emulator, f"BROKEN-{fault}")).content)
    assert emulator.control.sales_order(f"BROKEN-{fault}") is not None


def test_the_token_endpoint_fails_only_when_named(emulator_factory: Callable[..., Emulator]) -> None:
    oauth = emulator_factory(auth="oauth2")
    form = {
        "grant_type": "client_credentials",
        "client_id": oauth.config.client_id,
        "client_secret": oauth.config.client_secret,
        "scope": "https://api.businesscentral.dynamics.com/.default",
    }
    oauth.control.set_faults(error_rate=1.0)
    assert requests.post(oauth.token_url, data=form, timeout=5).status_code == 200
    oauth.control.set_faults(busy_503_rate=1.0, retry_after_s=4, kinds=["token"])
    busy = requests.post(oauth.token_url, data=form, timeout=5)
    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "4"
    oauth.control.set_faults(error_rate=1.0, kinds=["token"])
    assert requests.post(oauth.token_url, data=form, timeout=5).json()["error"] == "server_error"
    oauth.control.set_faults(reset_rate=1.0, kinds=["token"])
    with pytest.raises(requests.ConnectionError):
        requests.post(oauth.token_url, data=form, timeout=5)
