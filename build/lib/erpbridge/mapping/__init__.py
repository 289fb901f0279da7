"""The mapping engine: job files, column rules, and the import of staged tables into the shop database."""
