"""Batch integration: fetch a job's data from the ERP into staging, import staged files.

Use cases: :func:`erpbridge.batch.fetch.run_fetch` and
:func:`erpbridge.batch.importer.import_staged_object`; their ports are in
:mod:`erpbridge.batch.ports`, the run model in :mod:`erpbridge.batch.models`.
"""
