"""The Business Central plug-in unit protocol: hardened parsing, value formats, the
``tables/table/item/column`` format, request builders, response parsers and a streaming reader.

Pure code: no HTTP, no AWS. The ERP client (``erpbridge.erp``) sends what is built here.
"""

from erpbridge.protocol.formats import (
    format_bool,
    format_datetime,
    format_number,
    parse_bool,
    parse_datetime,
    parse_number,
)
from erpbridge.protocol.xmlsafe import DEFAULT_LIMITS, STREAM_LIMITS, XmlLimits, parse_xml

__all__ = [
    "DEFAULT_LIMITS",
    "STREAM_LIMITS",
    "XmlLimits",
    "format_bool",
    "format_datetime",
    "format_number",
    "parse_bool",
    "parse_datetime",
    "parse_number",
    "parse_xml",
]
