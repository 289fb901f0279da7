"""Wiring: the one room that builds each entry point's object graph from the settings.

``wiring.live`` builds the live API's services, ``wiring.batch`` the batch jobs' runtime (fetch,
import) and Export Failed Orders' order service; ``wiring.orders`` holds the order graph both of
them use; ``wiring.admin`` the operator console's use cases over both. Nothing else in
``erpbridge`` imports :mod:`erpbridge.adapters`.
"""
