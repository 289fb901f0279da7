"""The `erpbridge` operator and developer command line (not part of the Lambda artefact)."""
