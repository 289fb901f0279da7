"""Shop database migrations, applied in file-name order by :func:`erpbridge.shopdb.migrate.upgrade`.

Add a migration: create ``mNNNN_<what>.py`` here (the next free number; two authors picking the
same number is fine — the name is the revision, so both run, in name order) with

    def upgrade(connection: sqlalchemy.engine.Connection) -> None: ...

It runs once per database, in its own transaction, and is recorded in ``erpbridge_migrations``.
Never edit a released migration; add a new one. Use SQLAlchemy Core (``Table.create``,
``op``-free ``ALTER TABLE`` via ``connection.execute(sa.text(...))``) so it runs on every dialect.
"""
