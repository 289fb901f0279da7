"""The live integration: prices, baskets, orders, customer documents and health for the storefront.

Use cases here are pure: they talk to the ERP, the caches, the shop database and the object store
only through the ports in :mod:`erpbridge.live.ports`. Adapters live in :mod:`erpbridge.adapters`;
:mod:`erpbridge.wiring.live` wires them from the settings.
"""
