"""Adapters that need nothing but this machine: folders for the staged files and the order XML
copies, SQLite for the batch runs, locks and claims, memory for the first cache tier. The batch
jobs and the live API run on them without AWS (``make run``, ``erpbridge serve``, the CLI, tests)."""
