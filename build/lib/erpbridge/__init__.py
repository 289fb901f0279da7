"""erpbridge: the shared library of the Lambda layer (protocol, ERP client, mapping, shop database)."""

__version__ = "0.1.0"
