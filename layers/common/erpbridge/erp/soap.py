"""The BC codeunit SOAP envelope: build requests, read results and faults, discover names from WSDL.

Contract (DESIGN.md, contracts "SOAP contract"): POST a SOAP 1.1 envelope whose body is
``<Process xmlns="urn:microsoft-dynamics-schemas/codeunit/DWWebService"><request>ESCAPED
XML</request></Process>`` with ``SOAPAction: "<namespace>:<method>"``; the answer holds the response
as escaped text in ``<Process_Result><request>``. Service, namespace, method and parameter names are
settings because the vendor does not publish them; :func:`contract_from_wsdl` reads them from the
service's WSDL instead. All parsing goes through the hardened parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final
from xml.sax.saxutils import escape

from erpbridge.errors import (
    ConfigurationError,
    ErpFaultError,
    ErpRejectedError,
    ErpResponseError,
    ProtocolError,
    XmlError,
)
from erpbridge.protocol.xmlsafe import XmlLimits, parse_xml
from erpbridge.settings import ErpSettings

SOAP_ENV_NS: Final = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL_NS: Final = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP_NS: Final = "http://schemas.xmlsoap.org/wsdl/soap/"
XSD_NS: Final = "http://www.w3.org/2001/XMLSchema"

# Whole responses read by call(): the result text is one XML text node, which libxml2 caps at
# 10 MB with huge_tree off; larger bodies go through the streaming extractor instead.
CALL_LIMITS: Final = XmlLimits(max_bytes=10 * 1024 * 1024, max_depth=32, max_text_bytes=10 * 1024 * 1024)
FAULT_LIMITS: Final = XmlLimits(max_bytes=1024 * 1024, max_depth=32, max_text_bytes=256 * 1024)
WSDL_LIMITS: Final = XmlLimits(max_bytes=4 * 1024 * 1024, max_depth=48, max_text_bytes=256 * 1024)
# A literal CR would reach the ERP as LF (XML line-end normalisation); the reference keeps it.
_TEXT_ENTITIES: Final = {"\r": "&#xD;"}


@dataclass(frozen=True)
class SoapContract:
    """The names one codeunit method is called by."""

    namespace: str
    method: str
    parameter: str
    result_parameter: str
    soap_action: str

    @property
    def result_element(self) -> str:
        return f"{self.method}_Result"

    @classmethod
    def from_settings(cls, settings: ErpSettings) -> SoapContract:
        namespace = settings.soap_namespace
        method = settings.erp_soap_method
        return cls(
            namespace=namespace,
            method=method,
            parameter=settings.erp_soap_parameter,
            result_parameter=settings.erp_soap_parameter,
            soap_action=f"{namespace}:{method}",
        )


def build_envelope(contract: SoapContract, request_xml: bytes) -> bytes:
    """The SOAP request carrying ``request_xml`` as escaped text of the parameter element."""
    try:
        text = request_xml.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ProtocolError(f"request XML is not UTF-8 (byte {error.start}); nothing was sent") from None
    namespace = escape(contract.namespace, {'"': "&quot;"})
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_ENV_NS}"><soap:Body>'
        f'<{contract.method} xmlns="{namespace}">'
        f"<{contract.parameter}>{escape(text, _TEXT_ENTITIES)}</{contract.parameter}>"
        f"</{contract.method}></soap:Body></soap:Envelope>"
    ).encode()


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _find_local(element: Any, name: str) -> Any:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _body(root: Any, what: str) -> Any:
    if _local(root.tag) != "Envelope" or not str(root.tag).startswith("{" + SOAP_ENV_NS):
        raise ErpResponseError(f"{what} is not a SOAP 1.1 envelope (root is {root.tag!r})")
    body = _find_local(root, "Body")
    if body is None:
        raise ErpResponseError(f"{what} has no SOAP Body")
    return body


# Words of a fault that is about the web service itself, not about the request's content.
SERVICE_FAULT: Final = re.compile(
    r"not published|no web service|unknown (soap )?(action|method|operation)|"
    r"(service|method|operation|codeunit|action)\b.{0,60}\b(not found|does not exist|"
    r"is not (valid|defined|recogni[sz]ed))",
    re.IGNORECASE,
)
# Fault codes of a business refusal: SOAP 1.1's ``Client`` ("do not resend it unchanged") and BC's
# application errors (an AL ``Error()``: ``…NavCSideException``, ``…NavNCLDialogException``).
# Anything else (``Server``, runtime and SQL exceptions, no code) is a failure that may pass later.
_REFUSAL_CODES: Final = ("Client", "CSideException", "DialogException")
# An application error that is about the moment, not the request: it may pass when sent again.
_TRANSIENT_FAULT: Final = re.compile(
    r"\b(locked|deadlock\w*|lock (request|timeout)|timed out|time-?out|try again|temporar\w*)\b",
    re.IGNORECASE,
)


def _fault(root: Any) -> tuple[str, str] | None:
    """(faultcode, faultstring) of a SOAP fault envelope, or None when it holds no fault."""
    try:
        body = _body(root, "SOAP response")
    except ErpResponseError:
        return None
    fault = _find_local(body, "Fault")
    if fault is None:
        return None
    code_element = _find_local(fault, "faultcode")
    code = ((code_element.text if code_element is not None else None) or "").strip()
    faultstring = _find_local(fault, "faultstring")
    text = (faultstring.text if faultstring is not None else None) or ""
    return code, (text or code or "SOAP fault without a message").strip()


def is_refusal(code: str, message: str) -> bool:
    """Whether a fault is the ERP refusing the request's content (see ``_REFUSAL_CODES``)."""
    name = code.rsplit(":", 1)[-1].rsplit(".", 1)[-1]
    return (
        name.endswith(_REFUSAL_CODES)
        and not _TRANSIENT_FAULT.search(message)
        and not SERVICE_FAULT.search(message)
    )


def _fault_error(code: str, message: str, *, status: int) -> ErpFaultError:
    kind = ErpRejectedError if is_refusal(code, message) else ErpFaultError
    where = f" (HTTP {status})" if status != 200 else ""
    return kind(f"ERP reported a fault{where}: {message}", erp_message=message, status=status)


def fault_from_body(body: bytes, *, status: int) -> ErpFaultError:
    """The typed error for a fault answer (HTTP 500, or a fault inside a 200)."""
    fault: tuple[str, str] | None = None
    try:
        fault = _fault(parse_xml(body, limits=FAULT_LIMITS, what="SOAP fault"))
    except XmlError:
        fault = None
    if fault is not None:
        return _fault_error(*fault, status=status)
    return ErpFaultError(f"ERP failed with HTTP {status} and no readable SOAP fault", status=status)


def parse_result(contract: SoapContract, body: bytes) -> str:
    """The (unescaped) text of the result parameter; a SOAP fault raises :class:`ErpFaultError`."""
    try:
        root = parse_xml(body, limits=CALL_LIMITS, what="SOAP response")
    except XmlError as error:
        raise ErpResponseError(f"ERP response is not usable XML: {error}") from error
    fault = _fault(root)
    if fault is not None:
        raise _fault_error(*fault, status=200)
    parameter = _result_parameter(contract, _body(root, "SOAP response"))
    if len(parameter):
        raise ErpResponseError(f"SOAP <{contract.result_parameter}> holds elements instead of escaped text")
    text: str = parameter.text or ""
    return text


def _result_parameter(contract: SoapContract, body: Any) -> Any:
    result = _find_local(body, contract.result_element)
    if result is None:
        raise ErpResponseError(f"SOAP response has no <{contract.result_element}> element")
    parameter = _find_local(result, contract.result_parameter)
    if parameter is None:
        raise ErpResponseError(
            f"SOAP response has no <{contract.result_parameter}> in <{contract.result_element}>"
        )
    return parameter


def check_stripped_envelope(contract: SoapContract, envelope: bytes) -> None:
    """Check the envelope of a streamed response (its result text cut out) with the hardened parser."""
    try:
        root = parse_xml(envelope, limits=FAULT_LIMITS, what="SOAP envelope")
    except XmlError as error:
        raise ErpResponseError(f"SOAP envelope is not valid: {error}") from error
    parameter = _result_parameter(contract, _body(root, "SOAP envelope"))
    if len(parameter):
        raise ErpResponseError(f"SOAP <{contract.result_parameter}> holds elements instead of text")


def contract_from_wsdl(wsdl: bytes, *, preferred: SoapContract) -> SoapContract:
    """Read namespace, SOAPAction and parameter names of ``preferred.method`` from a WSDL document.

    When the WSDL has exactly one operation it is used whatever its name; otherwise the configured
    method must be among them.
    """
    try:
        root = parse_xml(wsdl, limits=WSDL_LIMITS, what="WSDL")
    except XmlError as error:
        raise ErpResponseError(f"WSDL is not usable XML: {error}") from error
    if root.tag != f"{{{WSDL_NS}}}definitions":
        raise ErpResponseError(f"WSDL root is {root.tag!r}, not wsdl:definitions")
    namespace = root.get("targetNamespace") or preferred.namespace
    operations = [op.get("name") for op in root.iterfind(f"{{{WSDL_NS}}}portType/{{{WSDL_NS}}}operation")]
    operations = [name for name in operations if name]
    if preferred.method in operations:
        method = preferred.method
    elif len(operations) == 1:
        method = operations[0]
    else:
        raise ConfigurationError(
            f"ERPBRIDGE_ERP_SOAP_METHOD={preferred.method!r} is not an operation of the WSDL "
            f"(it has: {', '.join(operations) or 'none'})"
        )
    soap_action = f"{namespace}:{method}"
    for binding_op in root.iterfind(f"{{{WSDL_NS}}}binding/{{{WSDL_NS}}}operation"):
        if binding_op.get("name") == method:
            soap_op = binding_op.find(f"{{{WSDL_SOAP_NS}}}operation")
            if soap_op is not None and soap_op.get("soapAction"):
                soap_action = soap_op.get("soapAction")
    request_params = _schema_sequence(root, method)
    result_params = _schema_sequence(root, f"{method}_Result")
    parameter = _pick(request_params, preferred.parameter, "request parameter", method)
    if parameter in result_params:
        result_parameter = parameter
    elif "return_value" in result_params:
        result_parameter = "return_value"
    else:
        result_parameter = _pick(result_params, parameter, "result parameter", f"{method}_Result")
    return SoapContract(
        namespace=namespace,
        method=method,
        parameter=parameter,
        result_parameter=result_parameter,
        soap_action=soap_action,
    )


def _schema_sequence(root: Any, element_name: str) -> list[str]:
    for element in root.iterfind(f"{{{WSDL_NS}}}types/{{{XSD_NS}}}schema/{{{XSD_NS}}}element"):
        if element.get("name") == element_name:
            return [
                child.get("name")
                for child in element.iterfind(f".//{{{XSD_NS}}}sequence/{{{XSD_NS}}}element")
                if child.get("name")
            ]
    return []


def _pick(names: list[str], preferred: str, what: str, element: str) -> str:
    if preferred in names:
        return preferred
    if len(names) == 1:
        return names[0]
    raise ConfigurationError(
        f"ERPBRIDGE_ERP_SOAP_PARAMETER={preferred!r} is not the WSDL's {what} of {element} "
        f"(it has: {', '.join(names) or 'none'})"
    )
