"""SOAP 1.1 as Business Central's codeunit web services speak it (DWWebService, method Process).

In: ``<soap:Envelope><soap:Body><Process xmlns="urn:…/DWWebService"><request>ESCAPED XML</request>
</Process></soap:Body></soap:Envelope>``. Out: ``Process_Result`` with the response in the same
``request`` parameter (BC returns ``var`` parameters under their own name). Faults are HTTP 500
with a ``s:Fault`` in BC's shape. The inner response is text inside an element, so it is
XML-escaped; big responses are escaped chunk by chunk while they stream.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from lxml import etree

from erpbridge.errors import XmlError
from erpbridge.protocol.xmlsafe import XmlLimits, parse_xml

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
NAV_ERROR_NS = "urn:microsoft-dynamics-schemas/error"
SERIALIZATION_NS = "http://schemas.microsoft.com/2003/10/Serialization/"
# The envelope is small except for its one text parameter; allow big requests (order XML), no more.
ENVELOPE_LIMITS = XmlLimits(max_bytes=64 * 1024 * 1024, max_depth=16, max_text_bytes=48 * 1024 * 1024)


@dataclass(frozen=True)
class SoapService:
    """Names of the codeunit service (configurable: the plug-in unit does not publish them)."""

    service: str = "DWWebService"
    method: str = "Process"
    parameter: str = "request"

    @property
    def namespace(self) -> str:
        return f"urn:microsoft-dynamics-schemas/codeunit/{self.service}"

    @property
    def soap_action(self) -> str:
        return f"{self.namespace}:{self.method}"


class SoapRequestError(Exception):
    """The HTTP body is not a SOAP request this service accepts. Answered with a SOAP fault."""

    def __init__(self, message: str, *, faultcode: str = "s:Client") -> None:
        self.faultcode = faultcode
        super().__init__(message)


def check_soap_action(header_value: str | None, service: SoapService) -> None:
    """BC (WCF underneath) dispatches on SOAPAction: a missing or foreign action is a fault."""
    action = (header_value or "").strip().strip('"')
    if action != service.soap_action:
        raise SoapRequestError(
            f"The SOAP action specified on the message, '{action}', does not match the HTTP SOAP Action, "
            f"'{service.soap_action}'.",
            faultcode="a:ActionNotSupported",
        )


def parse_request(body: bytes, service: SoapService) -> str:
    """Return the request XML text carried by a Process call, or raise :class:`SoapRequestError`."""
    try:
        root = parse_xml(body, limits=ENVELOPE_LIMITS, what="SOAP envelope")
    except XmlError as error:
        raise SoapRequestError(f"The SOAP envelope is not well-formed XML: {error}") from None
    if root.tag != f"{{{SOAP_ENV_NS}}}Envelope":
        raise SoapRequestError(f"Expected a SOAP 1.1 Envelope ({SOAP_ENV_NS}), got {root.tag!r}.")
    body_el = root.find(f"{{{SOAP_ENV_NS}}}Body")
    if body_el is None:
        raise SoapRequestError("The SOAP envelope has no Body.")
    calls = [child for child in body_el if isinstance(child.tag, str)]
    if len(calls) != 1:
        raise SoapRequestError(f"The SOAP Body must hold exactly one element, found {len(calls)}.")
    call = calls[0]
    if call.tag != f"{{{service.namespace}}}{service.method}":
        raise SoapRequestError(
            f"Method {call.tag!r} is not found in service {service.service} "
            f"(expected {{{service.namespace}}}{service.method}).",
            faultcode="a:Microsoft.Dynamics.Nav.Service.WebServices.ServiceBrokerException",
        )
    parameter = call.find(f"{{{service.namespace}}}{service.parameter}")
    if parameter is None:
        raise SoapRequestError(
            f"Parameter {service.parameter} in method {service.method} "
            f"in service {service.service} is null! ",
            faultcode="a:Microsoft.Dynamics.Nav.Service.WebServices.ServiceBrokerException",
        )
    if len(parameter):
        raise SoapRequestError(
            f"Parameter {service.parameter} must be text (the request XML escaped), not child elements."
        )
    return parameter.text or ""


def build_request_envelope(request_xml: str | bytes, service: SoapService | None = None) -> bytes:
    """The request side of the contract (for tests and other callers that are not erpbridge)."""
    service = service or SoapService()
    text = request_xml.decode("utf-8") if isinstance(request_xml, bytes) else request_xml
    return (
        f'<soap:Envelope xmlns:soap="{SOAP_ENV_NS}"><soap:Body>'
        f'<{service.method} xmlns="{service.namespace}"><{service.parameter}>{escape_text(text)}'
        f"</{service.parameter}></{service.method}></soap:Body></soap:Envelope>"
    ).encode()


class SoapFault(Exception):
    """A fault read back from a response body (see :func:`read_response`)."""

    def __init__(self, faultcode: str, message: str) -> None:
        self.faultcode = faultcode
        self.message = message
        super().__init__(f"{faultcode}: {message}")


def read_response(body: bytes, service: SoapService | None = None) -> str:
    """The inner response text of a Process_Result envelope; :class:`SoapFault` for a fault.

    For tests and other callers; erpbridge has its own client (``erpbridge.erp``).
    """
    service = service or SoapService()
    # The inner text of a batch answer can pass libxml2's 10 MB text-node limit: lift that limit
    # (huge_tree) here, never entities or DTDs. erpbridge's client streams instead.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
    if b"<!DOCTYPE" in body[:4096]:
        raise ValueError("a DOCTYPE in a SOAP response")
    root = etree.fromstring(body, parser)
    fault = root.find(f"{{{SOAP_ENV_NS}}}Body/{{{SOAP_ENV_NS}}}Fault")
    if fault is not None:
        raise SoapFault(fault.findtext("faultcode") or "", fault.findtext("faultstring") or "")
    parameter = root.find(
        f"{{{SOAP_ENV_NS}}}Body/{{{service.namespace}}}{service.method}_Result/{{{service.namespace}}}{service.parameter}"
    )
    if parameter is None:
        raise ValueError(f"no {service.method}_Result/{service.parameter} in the SOAP response")
    return parameter.text or ""


def escape_text(text: str) -> str:
    # \r is escaped so a CR inside the inner document survives XML line-end normalisation.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _head(service: SoapService) -> str:
    return (
        f'<Soap:Envelope xmlns:Soap="{SOAP_ENV_NS}"><Soap:Body>'
        f'<{service.method}_Result xmlns="{service.namespace}"><{service.parameter}>'
    )


def _tail(service: SoapService) -> str:
    return f"</{service.parameter}></{service.method}_Result></Soap:Body></Soap:Envelope>"


def escape_bytes(data: bytes) -> bytes:
    """:func:`escape_text` on UTF-8 bytes (safe: multi-byte sequences never contain ASCII bytes)."""
    return data.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;").replace(b"\r", b"&#13;")


def build_response(inner: bytes, service: SoapService) -> bytes:
    """The Process_Result envelope around the inner response (UTF-8 bytes)."""
    return _head(service).encode("utf-8") + escape_bytes(inner) + _tail(service).encode("utf-8")


def stream_response(
    inner_chunks: Iterable[bytes], service: SoapService, *, chunk_bytes: int = 256 * 1024
) -> Iterator[bytes]:
    """The same envelope as :func:`build_response`, produced piece by piece (memory stays flat)."""
    buffer: list[bytes] = [_head(service).encode("utf-8")]
    size = 0
    for chunk in inner_chunks:
        escaped = escape_bytes(chunk)
        buffer.append(escaped)
        size += len(escaped)
        if size >= chunk_bytes:
            yield b"".join(buffer)
            buffer = []
            size = 0
    buffer.append(_tail(service).encode("utf-8"))
    yield b"".join(buffer)


# The fault code of a failure that may pass when sent again (SOAP 1.1 ``Server``); BC's own
# application errors (``Error()`` in AL: a refusal of the request) carry NavCSideException.
SERVER_FAULT = "s:Server"


def build_fault(
    message: str, *, faultcode: str = "a:Microsoft.Dynamics.Nav.Types.Exceptions.NavCSideException"
) -> bytes:
    """BC's fault shape: the message in faultstring (xml:lang en-US) and again in detail/string."""
    text = escape_text(message)
    code_ns = f' xmlns:a="{NAV_ERROR_NS}"' if faultcode.startswith("a:") else ""
    return (
        f'<s:Envelope xmlns:s="{SOAP_ENV_NS}"><s:Body><s:Fault>'
        f"<faultcode{code_ns}>{faultcode}</faultcode>"
        f'<faultstring xml:lang="en-US">{text}</faultstring>'
        f'<detail><string xmlns="{SERIALIZATION_NS}">{text}</string></detail>'
        "</s:Fault></s:Body></s:Envelope>"
    ).encode()


def build_wsdl(service: SoapService, location: str) -> bytes:
    """The WSDL BC serves on GET of a codeunit's SOAP URL, reduced to the one method."""
    ns = service.namespace
    m = service.method
    p = service.parameter
    wsdl_soap = "http://schemas.xmlsoap.org/wsdl/soap/"
    return f"""<?xml version="1.0" encoding="utf-8"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:tns="{ns}" targetNamespace="{ns}">
  <types>
    <schema xmlns="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified" targetNamespace="{ns}">
      <element name="{m}">
        <complexType><sequence>
          <element minOccurs="1" maxOccurs="1" name="{p}" type="string"/>
        </sequence></complexType>
      </element>
      <element name="{m}_Result">
        <complexType><sequence>
          <element minOccurs="1" maxOccurs="1" name="{p}" type="string"/>
        </sequence></complexType>
      </element>
    </schema>
  </types>
  <message name="{m}"><part name="parameters" element="tns:{m}"/></message>
  <message name="{m}_Result"><part name="parameters" element="tns:{m}_Result"/></message>
  <portType name="{service.service}_Port">
    <operation name="{m}">
      <input name="{m}" message="tns:{m}"/>
      <output name="{m}_Result" message="tns:{m}_Result"/>
    </operation>
  </portType>
  <binding name="{service.service}_Binding" type="tns:{service.service}_Port">
    <binding xmlns="{wsdl_soap}" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="{m}">
      <operation xmlns="{wsdl_soap}" soapAction="{service.soap_action}" style="document"/>
      <input name="{m}"><body xmlns="{wsdl_soap}" use="literal"/></input>
      <output name="{m}_Result"><body xmlns="{wsdl_soap}" use="literal"/></output>
    </operation>
  </binding>
  <service name="{service.service}">
    <port name="{service.service}_Port" binding="tns:{service.service}_Binding">
      <address xmlns="{wsdl_soap}" location="{escape_text(location)}"/>
    </port>
  </service>
</definitions>
""".encode()
