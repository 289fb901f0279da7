"""The emulator over real HTTP: every request kind with every auth mode, SOAP and auth errors.

Requests are hand-built SOAP envelopes sent with ``requests`` (the contract of contracts.md), plus
erpbridge's own ``SoapErpClient`` per auth mode, so both sides of the contract meet.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
import requests
from lxml import etree

from bc_emulator.server import Emulator
from bc_emulator.soap import SoapFault, build_request_envelope, read_response
from erpbridge.protocol.order_request import (
    OrderDocument,
    OrderHeader,
    OrderLine,
    build_order_request,
)
from erpbridge.protocol.request_builders import (
    ProductQuery,
    build_get_item,
    build_get_list,
    build_get_pdf,
    build_ping,
    build_product_info_request,
)
from erpbridge.protocol.response_parsers import (
    decode_pdf,
    parse_document,
    parse_document_list,
    parse_order_response,
    parse_product_info,
)
from erpbridge.protocol.tables import parse_tables

AUTH_MODES = ["none", "key", "basic", "oauth2"]
SOAP_OPEN = b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body>"
SOAP_CLOSE = b"</soap:Body></soap:Envelope>"
CODEUNIT_NS = b"urn:microsoft-dynamics-schemas/codeunit/DWWebService"


def inner(response: requests.Response) -> str:
    assert response.status_code == 200, response.text[:500]
    return read_response(response.content)


def fault_message(response: requests.Response) -> str:
    assert response.status_code == 500, response.text[:500]
    with pytest.raises(SoapFault) as caught:
        read_response(response.content)
    return caught.value.message


def order(emulator: Emulator, order_id: str, *, quantity: int = 2, items: int = 2) -> OrderDocument:
    dataset = emulator.dispatcher.bc.dataset
    customer = dataset.customers[0]
    lines = [
        OrderLine(
            line_id=f"L{n}",
            order_id=order_id,
            product_id=item.no,
            product_number=item.no,
            product_name=item.names.get("ENU", item.no),
            quantity=quantity,
        )
        for n, item in enumerate(dataset.items[:items], start=1)
    ]
    header = OrderHeader(
        order_id=order_id,
        customer_access_user_external_id=customer.no,
        customer_number=customer.no,
        customer_name=customer.name,
        customer_country_code=customer.country_code,
    )
    return OrderDocument(header=header, lines=lines)


def first_document(emulator: Emulator, doc_type: str) -> tuple[str, str]:
    """(customer no, document no) of some customer's document of that type."""
    bc = emulator.dispatcher.bc
    for customer in bc.dataset.customers:
        rows, total = bc.list_documents(doc_type, customer.no, 1, 1)
        if total:
            number = next(v for k, v in rows[0].items() if k in ("OrderNumber", "No", "DocumentNo") and v)
            return customer.no, str(number)
    raise AssertionError(f"the data set has no {doc_type}")


# --- every request kind, every auth mode --------------------------------------------------------


@pytest.fixture(params=AUTH_MODES)
def any_auth_emulator(request: pytest.FixtureRequest, emulator_factory: Callable[..., Emulator]) -> Emulator:
    return emulator_factory(auth=request.param)


def test_ping_answers_an_empty_tables_document(any_auth_emulator: Emulator) -> None:
    document = parse_tables(inner(any_auth_emulator.call(build_ping())))
    assert document.root_tag == "tables"
    assert document.items == []


def test_product_info_prices_every_requested_product(any_auth_emulator: Emulator) -> None:
    dataset = any_auth_emulator.dispatcher.bc.dataset
    items = dataset.items[:50]
    request = build_product_info_request(
        [ProductQuery(item.no, quantity=1) for item in items],
        customer_number=dataset.customers[0].no,
        unit_prices=False,
        anonymous_user_key="Anonymous",
    )
    infos = parse_product_info(inner(any_auth_emulator.call(request)), anonymous_user_key="Anonymous")
    assert sorted(info.product_id for info in infos.values()) == sorted(item.no for item in items)
    for info in infos.values():
        assert info.price is not None and info.price > 0
        assert info.price_with_vat is not None and info.price_with_vat >= info.price


def test_calculate_order_returns_totals_and_creates_nothing(any_auth_emulator: Emulator) -> None:
    request = build_order_request(order(any_auth_emulator, "CART-1"), create=False)
    result = parse_order_response(inner(any_auth_emulator.call(request)), create=False)
    assert result.total_with_vat is not None and result.total_with_vat > 0
    assert len([line for line in result.lines if line.is_product]) == 2
    assert any_auth_emulator.control.sales_orders() == []


def test_create_order_assigns_a_sales_order_number(any_auth_emulator: Emulator) -> None:
    request = build_order_request(order(any_auth_emulator, "ORDER-1"), create=True)
    result = parse_order_response(inner(any_auth_emulator.call(request)), create=True)
    assert result.created
    assert result.erp_order_id
    stored = any_auth_emulator.control.sales_order("ORDER-1")
    assert stored is not None and stored["no"] == result.erp_order_id


def test_get_list_pages_a_customers_invoices(any_auth_emulator: Emulator) -> None:
    customer_no, _ = first_document(any_auth_emulator, "Invoice")
    request = build_get_list("Invoice", customer_no, request_amount=2, first_item=1)
    listing = parse_document_list(inner(any_auth_emulator.call(request)))
    assert listing.total_count is not None and listing.total_count >= 1
    assert 1 <= len(listing.items) <= 2


def test_get_item_returns_header_and_lines(any_auth_emulator: Emulator) -> None:
    customer_no, number = first_document(any_auth_emulator, "Invoice")
    detail = parse_document(inner(any_auth_emulator.call(build_get_item("Invoice", customer_no, number))))
    assert number in detail.header.values()
    assert detail.lines


def test_get_pdf_returns_a_base64_pdf(any_auth_emulator: Emulator) -> None:
    customer_no, number = first_document(any_auth_emulator, "Invoice")
    text = inner(any_auth_emulator.call(build_get_pdf("Invoice", number, customer_no)))
    pdf = decode_pdf(text)
    assert pdf.startswith(b"%PDF")
    assert b"%%EOF" in pdf[-64:]


@pytest.mark.parametrize("auth", AUTH_MODES)
def test_batch_fetch_answers_every_family(auth: str, emulator_factory: Callable[..., Emulator]) -> None:
    small = emulator_factory(auth=auth, products=40, customers=5)
    request = (
        '<GetEcomData shopID="SHOP7"><tables><Products type="all"/><ProductGroups type="all"/>'
        '<Currencies type="all"/><Countries type="all"/><Units type="all"/><Languages type="all"/>'
        '<Manufacturers type="all"/><RelatedProducts type="all"/><Customers type="all"/>'
        '<Prices type="all"/><Stock type="all"/></tables></GetEcomData>'
    )
    response = small.call(request)
    assert response.headers.get("Transfer-Encoding") == "chunked"
    document = parse_tables(inner(response))
    assert document.export_is_done
    for table in ("EcomProducts", "EcomGroups", "EcomCurrencies", "EcomCountries", "EcomLanguages"):
        assert document.rows(table), table
    for table in ("EcomManufacturers", "EcomProductsRelated", "AccessUser", "EcomPrices"):
        assert document.rows(table), table
    assert any("SHOP7" in (value or "") for row in document.rows("EcomProducts") for value in row.values())


@pytest.mark.parametrize("auth", AUTH_MODES)
def test_erpbridge_client_talks_to_the_emulator(auth: str, emulator_factory: Callable[..., Emulator]) -> None:
    from erpbridge.erp.client import SoapErpClient
    from erpbridge.erp.ports import RequestKind
    from erpbridge.settings import load_settings

    emulator = emulator_factory(auth=auth)
    client = SoapErpClient(load_settings(env=emulator.settings_env()))
    assert client.ping()
    dataset = emulator.dispatcher.bc.dataset
    request = build_product_info_request(
        [ProductQuery(dataset.items[0].no)], customer_number=None, anonymous_user_key="Anonymous"
    )
    infos = parse_product_info(
        client.call(request, kind=RequestKind.PRODUCT_INFO), anonymous_user_key="Anonymous"
    )
    assert [info.product_id for info in infos.values()] == [dataset.items[0].no]
    created = parse_order_response(
        client.call(
            build_order_request(order(emulator, "CLIENT-1"), create=True), kind=RequestKind.CREATE_ORDER
        ),
        create=True,
    )
    assert created.created


# --- idempotent create and order export ---------------------------------------------------------


def test_the_same_order_sent_twice_yields_one_sales_order(emulator: Emulator) -> None:
    request = build_order_request(order(emulator, "WEB-42"), create=True)
    first = parse_order_response(inner(emulator.call(request)), create=True)
    second = parse_order_response(inner(emulator.call(request)), create=True)
    assert first.erp_order_id == second.erp_order_id
    assert first.total_with_vat == second.total_with_vat
    assert [o["shop_order_id"] for o in emulator.control.sales_orders()] == ["WEB-42"]


def test_scheduled_export_of_an_order_created_live_returns_the_same_sales_order(emulator: Emulator) -> None:
    live = parse_order_response(
        inner(emulator.call(build_order_request(order(emulator, "WEB-7"), create=True))), create=True
    )
    export_request = build_order_request(order(emulator, "WEB-7"), create=True, submit_type="ScheduledTask")
    exported = parse_order_response(inner(emulator.call(export_request)), create=True)
    assert exported.erp_order_id == live.erp_order_id
    kinds = [r["kind"] for r in emulator.control.requests()]
    assert kinds == ["create_order", "export_order"]


def test_different_orders_get_different_sales_orders(emulator: Emulator) -> None:
    a = parse_order_response(
        inner(emulator.call(build_order_request(order(emulator, "A"), create=True))), create=True
    )
    b = parse_order_response(
        inner(emulator.call(build_order_request(order(emulator, "B"), create=True))), create=True
    )
    assert a.erp_order_id != b.erp_order_id


def test_a_created_order_appears_in_the_customers_open_orders(emulator: Emulator) -> None:
    created = parse_order_response(
        inner(emulator.call(build_order_request(order(emulator, "OPEN-1"), create=True))), create=True
    )
    customer_no = emulator.dispatcher.bc.dataset.customers[0].no
    listing = parse_document_list(
        inner(emulator.call(build_get_list("OpenOrder", customer_no, request_amount=50, first_item=1)))
    )
    assert any(created.erp_order_id in row.values() for row in listing.items)


def test_an_order_for_an_unknown_item_is_a_fault_with_bcs_message(emulator: Emulator) -> None:
    document = order(emulator, "BAD-1")
    bad_line = OrderLine(
        line_id="L9", order_id="BAD-1", product_id="NO-SUCH-ITEM", product_number="NO-SUCH-ITEM"
    )
    request = build_order_request(OrderDocument(header=document.header, lines=[bad_line]), create=True)
    assert "NO-SUCH-ITEM" in fault_message(emulator.call(request))
    assert emulator.control.sales_orders() == []


def test_unknown_products_are_left_out_of_a_product_info_answer(emulator: Emulator) -> None:
    known = emulator.dispatcher.bc.dataset.items[0].no
    request = build_product_info_request(
        [ProductQuery(known), ProductQuery("NO-SUCH")], customer_number=None, anonymous_user_key="Anonymous"
    )
    assert [
        info.product_id
        for info in parse_product_info(inner(emulator.call(request)), anonymous_user_key="Anonymous").values()
    ] == [known]


def test_get_item_of_an_unknown_document_is_a_fault(emulator: Emulator) -> None:
    customer_no, _ = first_document(emulator, "Invoice")
    assert "does not exist" in fault_message(
        emulator.call(build_get_item("Invoice", customer_no, "INV-NONE"))
    )


# --- the SOAP layer ---------------------------------------------------------------------------


def test_get_on_the_soap_url_returns_a_wsdl_describing_process(emulator: Emulator) -> None:
    response = requests.get(emulator.soap_url, headers=emulator.request_headers(), timeout=5)
    assert response.status_code == 200
    wsdl = etree.fromstring(response.content)
    ns = {"w": "http://schemas.xmlsoap.org/wsdl/", "s": "http://schemas.xmlsoap.org/wsdl/soap/"}
    assert wsdl.xpath("//w:portType/w:operation/@name", namespaces=ns) == ["Process"]
    assert wsdl.xpath("//s:operation/@soapAction", namespaces=ns) == [
        "urn:microsoft-dynamics-schemas/codeunit/DWWebService:Process"
    ]
    assert wsdl.xpath("//s:address/@location", namespaces=ns) == [emulator.soap_url]


def post(emulator: Emulator, body: bytes, **header_overrides: str) -> requests.Response:
    headers = {**emulator.request_headers(), **header_overrides}
    return requests.post(emulator.soap_url, data=body, headers=headers, timeout=5)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body>",
            "not well-formed",
        ),
        (b"<Envelope/>", "SOAP 1.1 Envelope"),
        (
            SOAP_OPEN + b"<Other xmlns='" + CODEUNIT_NS + b"'/>" + SOAP_CLOSE,
            "not found in service",
        ),
        (
            SOAP_OPEN + b"<Process xmlns='" + CODEUNIT_NS + b"'/>" + SOAP_CLOSE,
            "Parameter request in method Process in service DWWebService is null",
        ),
        (
            b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]>"
            b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'/>",
            "SOAP envelope",
        ),
    ],
    ids=["truncated", "not-soap", "wrong-method", "no-parameter", "dtd"],
)
def test_a_malformed_envelope_gets_a_soap_fault(emulator: Emulator, body: bytes, expected: str) -> None:
    assert expected in fault_message(post(emulator, body))
    assert emulator.control.sales_orders() == []


def test_a_wrong_soap_action_gets_a_soap_fault(emulator: Emulator) -> None:
    response = post(emulator, build_request_envelope(build_ping()), SOAPAction='"urn:other:Process"')
    assert "does not match the HTTP SOAP Action" in fault_message(response)


def test_a_wrong_content_type_gets_415(emulator: Emulator) -> None:
    response = post(emulator, build_request_envelope(build_ping()), **{"Content-Type": "application/json"})
    assert response.status_code == 415


@pytest.mark.parametrize(
    ("request_xml", "expected"),
    [
        ("<GetSomething/>", "<GetSomething> is not supported"),
        ("<GetEcomData><tables><Products type='all'", "not well-formed"),
        (
            "<GetEcomData><tables><Frobnicators type='all'/></tables></GetEcomData>",
            "Unknown table 'Frobnicators'",
        ),
        ("<GetEcomData><tables><Currencies type='some'/></tables></GetEcomData>", "type="),
        ("<tables referenceName='Other'/>", "referenceName"),
        ("<GetList type='Invoice' customerID='X' requestAmount='ten'/>", "not an integer"),
    ],
)
def test_a_request_it_does_not_understand_gets_a_fault_naming_the_problem(
    emulator: Emulator, request_xml: str, expected: str
) -> None:
    assert expected in fault_message(emulator.call(request_xml))


def test_unknown_paths_are_404(emulator: Emulator) -> None:
    response = requests.post(emulator.base_url + "/tenant/production/WS/CRONUS/Codeunit/Other", timeout=5)
    assert response.status_code == 404


def test_a_response_declares_utf16_as_bc_does(emulator: Emulator) -> None:
    assert inner(emulator.call(build_ping())).startswith('<?xml version="1.0" encoding="utf-16"?>')


# --- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "headers", "challenge"),
    [
        ("key", {}, "SecurityKey"),
        ("key", {"X-Security-Key": "wrong"}, "SecurityKey"),
        ("basic", {}, "Basic"),
        ("basic", {"Authorization": "Basic " + base64.b64encode(b"EMULATOR:wrong").decode()}, "Basic"),
        ("oauth2", {}, "Bearer authorization_uri="),
        ("oauth2", {"Authorization": "Bearer not-a-token"}, 'error="invalid_token"'),
    ],
)
def test_wrong_or_missing_credentials_get_401_with_a_challenge(
    emulator_factory: Callable[..., Emulator], auth: str, headers: dict[str, str], challenge: str
) -> None:
    emulator = emulator_factory(auth=auth)
    base = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{emulator.service.soap_action}"'}
    response = requests.post(
        emulator.soap_url, data=build_request_envelope(build_ping()), headers={**base, **headers}, timeout=5
    )
    assert response.status_code == 401
    assert challenge in response.headers["WWW-Authenticate"]
    assert emulator.control.counters()["auth_failures"] == 1


def token_request(emulator: Emulator, **overrides: str) -> requests.Response:
    form = {
        "grant_type": "client_credentials",
        "client_id": emulator.config.client_id,
        "client_secret": emulator.config.client_secret,
        "scope": "https://api.businesscentral.dynamics.com/.default",
        **overrides,
    }
    return requests.post(emulator.token_url, data=form, timeout=5)


def test_the_token_endpoint_issues_bearer_tokens_that_expire(
    emulator_factory: Callable[..., Emulator],
) -> None:
    emulator = emulator_factory(auth="oauth2")
    answer = token_request(emulator).json()
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] > 0
    assert emulator.call(build_ping()).status_code == 200
    token = answer["access_token"]
    assert post_with_token(emulator, token).status_code == 200
    assert emulator.control.expire_tokens() >= 1
    expired = post_with_token(emulator, token)
    assert expired.status_code == 401
    assert "expired" in expired.headers["WWW-Authenticate"]


def post_with_token(emulator: Emulator, token: str) -> requests.Response:
    return requests.post(
        emulator.soap_url,
        data=build_request_envelope(build_ping()),
        headers=emulator.request_headers(token=token),
        timeout=5,
    )


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "someone-else"}, 400, "unauthorized_client"),
        ({"scope": "https://graph.microsoft.com/.default"}, 400, "invalid_scope"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
    ],
)
def test_the_token_endpoint_refuses_bad_requests_as_entra_id_does(
    emulator_factory: Callable[..., Emulator], overrides: dict[str, str], status: int, error: str
) -> None:
    emulator = emulator_factory(auth="oauth2")
    response = token_request(emulator, **overrides)
    assert response.status_code == status
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert body["error_description"].startswith("AADSTS")


def test_the_token_endpoint_accepts_client_secret_basic(emulator_factory: Callable[..., Emulator]) -> None:
    emulator = emulator_factory(auth="oauth2")
    response = requests.post(
        emulator.token_url,
        data={
            "grant_type": "client_credentials",
            "scope": "https://api.businesscentral.dynamics.com/.default",
        },
        auth=(emulator.config.client_id, emulator.config.client_secret),
        timeout=5,
    )
    assert response.status_code == 200


def test_a_token_for_another_tenant_is_refused(emulator_factory: Callable[..., Emulator]) -> None:
    emulator = emulator_factory(auth="oauth2")
    response = requests.post(emulator.base_url + "/other-tenant/oauth2/v2.0/token", data={}, timeout=5)
    assert response.status_code == 400
    assert "AADSTS90002" in response.json()["error_description"]


def test_settings_env_is_accepted_by_erpbridge_settings(emulator_factory: Callable[..., Emulator]) -> None:
    from erpbridge.settings import load_settings

    for auth in AUTH_MODES:
        settings = load_settings(env=emulator_factory(auth=auth).settings_env())
        assert settings.erp_auth == auth


# --- HTTP details other clients rely on -------------------------------------------------------


def test_expect_100_continue_is_honoured_as_dotnet_clients_send_it(emulator: Emulator) -> None:
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(emulator.soap_url)
    body = build_request_envelope(build_ping())
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    connection.putrequest("POST", url.path)
    for name, value in {**emulator.request_headers(), "Expect": "100-continue"}.items():
        connection.putheader(name, value)
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders()
    interim = connection.sock.recv(64)  # type: ignore[union-attr]
    assert interim.startswith(b"HTTP/1.1 100 Continue")
    connection.send(body)
    response = connection.getresponse()
    assert response.status == 200
    assert read_response(response.read()).startswith("<?xml")


def test_concurrent_requests_are_all_answered(emulator: Emulator) -> None:
    from concurrent.futures import ThreadPoolExecutor

    items = emulator.dispatcher.bc.dataset.items[:40]
    requests_xml = [
        build_product_info_request(
            [ProductQuery(item.no)], customer_number=None, anonymous_user_key="Anonymous"
        )
        for item in items
    ]
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(
            pool.map(
                lambda xml: parse_product_info(inner(emulator.call(xml)), anonymous_user_key="Anonymous"),
                requests_xml,
            )
        )
    assert [next(iter(a.values())).product_id for a in answers] == [item.no for item in items]


def test_the_same_order_sent_concurrently_yields_one_sales_order(emulator: Emulator) -> None:
    from concurrent.futures import ThreadPoolExecutor

    request = build_order_request(order(emulator, "RACE-1"), create=True)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(lambda _: parse_order_response(inner(emulator.call(request)), create=True), range(8))
        )
    assert len({result.erp_order_id for result in results}) == 1
    assert len(emulator.control.sales_orders()) == 1


# --- request fields reach the ERP logic ---------------------------------------------------------


def test_unit_currency_and_variant_of_a_product_request_are_honoured(emulator: Emulator) -> None:
    dataset = emulator.dispatcher.bc.dataset
    item = next(i for i in dataset.items if len(i.units) > 1 and i.variant_ids)
    other_unit = item.units[1]
    queries = [
        ProductQuery(item.no, variant_id=item.variant_ids[0]),
        ProductQuery(item.no, variant_id=item.variant_ids[0], unit_id=other_unit.code),
    ]
    eur = parse_product_info(
        inner(
            emulator.call(
                build_product_info_request(queries, customer_number=None, anonymous_user_key="Anonymous")
            )
        ),
        anonymous_user_key="Anonymous",
    )
    usd = parse_product_info(
        inner(
            emulator.call(
                build_product_info_request(
                    queries, customer_number=None, currency_code="USD", anonymous_user_key="Anonymous"
                )
            )
        ),
        anonymous_user_key="Anonymous",
    )
    base_key, unit_key = list(eur)
    assert eur[base_key].variant_id == item.variant_ids[0]
    base_price, unit_price = eur[base_key].price, eur[unit_key].price
    assert base_price is not None and unit_price is not None
    assert unit_price > base_price * other_unit.qty_per_unit / 2  # a box costs many pieces (less discounts)
    assert usd[base_key].price != base_price


def test_product_fields_sent_as_columns_are_accepted_too(emulator: Emulator) -> None:
    item = emulator.dispatcher.bc.dataset.items[3]
    request = (
        '<GetEcomData AccessUserCustomerNumber="Anonymous"><tables><Products type="filter"><Product>'
        f'<column columnName="ProductId">{item.no}</column><column columnName="Quantity">2</column>'
        f'<column columnName="ProductIdentifier">{item.no}..</column>'
        "</Product></Products></tables></GetEcomData>"
    )
    infos = parse_product_info(inner(emulator.call(request)), anonymous_user_key="Anonymous")
    assert list(infos) == [f"{item.no}.."]


def test_custom_product_fields_are_echoed(emulator: Emulator) -> None:
    item = emulator.dispatcher.bc.dataset.items[0]
    request = (
        '<GetEcomData><tables><Products type="filter"><Product>'
        f"<ProductId>{item.no}</ProductId><ProductIdentifier>{item.no}..</ProductIdentifier>"
        '<Engraving isCustomField="True">ABC</Engraving>'
        "</Product></Products></tables></GetEcomData>"
    )
    document = parse_tables(inner(emulator.call(request)))
    assert document.rows("EcomProducts")[0]["Engraving"] == "ABC"


def test_list_search_and_sort_attributes_reach_the_erp(emulator: Emulator) -> None:
    customer_no, number = first_document(emulator, "Invoice")

    def listing(**options: Any) -> Any:
        xml = build_get_list("Invoice", customer_no, request_amount=100, first_item=1, **options)
        return parse_document_list(inner(emulator.call(xml)))

    everything = listing()
    found = listing(search_field="No", search_value=number)
    assert found.total_count is not None and everything.total_count is not None
    assert 1 <= found.total_count <= everything.total_count
    assert found.items and len(found.items) == found.total_count
    assert all(number in (row["No"] or "") for row in found.items)
    ascending = [row["No"] for row in listing(sort_by_field="No", sort_direction="Asc").items]
    assert len(ascending) >= 2 and len(set(ascending)) >= 2  # the order check below compares something
    assert ascending == sorted(ascending)
