"""Adapters over JSON Web Tokens (PyJWT): the storefront's customer-scoped bearer tokens."""
