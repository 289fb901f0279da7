"""The operator console's use cases (admin API): jobs, runs, failed files, mappings, orders, health.

Ports only (``erpbridge.admin.ports``); ``erpbridge.wiring.admin`` builds them from the settings.
"""
