"""Sub-commands of `erpbridge`: each module here exposes ``register(app: typer.Typer) -> None``."""
