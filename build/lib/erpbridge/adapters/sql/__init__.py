"""Adapters over the shop database (SQLAlchemy Core; SQLite and PostgreSQL)."""
