"""``erpbridge db upgrade``: create or upgrade the shop database schema (idempotent)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from erpbridge.errors import ErpBridgeError

console = Console()
DEFAULT_DATABASE_URL = "sqlite:///erpbridge.db"

DatabaseUrl = Annotated[
    str,
    typer.Option(
        "--database-url",
        envvar="ERPBRIDGE_DATABASE_URL",
        help="SQLAlchemy URL of the shop database (default: $ERPBRIDGE_DATABASE_URL)",
    ),
]

db_app = typer.Typer(help="The shop database: schema migrations.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade_command(database_url: DatabaseUrl = DEFAULT_DATABASE_URL) -> None:
    """Apply every pending migration (safe to run again: applied migrations are skipped)."""
    import sqlalchemy as sa

    from erpbridge.shopdb.migrate import current_revision, upgrade

    try:
        applied = upgrade(database_url)
    except (ErpBridgeError, sa.exc.SQLAlchemyError) as error:
        console.print(f"[red]error:[/red] cannot upgrade {_safe(database_url)}: {error}")
        raise typer.Exit(1) from None
    if applied:
        for revision in applied:
            console.print(f"applied [bold]{revision}[/bold]")
    else:
        console.print("already up to date")
    console.print(f"{_safe(database_url)} is at [bold]{current_revision(database_url)}[/bold]")


def _safe(database_url: str) -> str:
    """The URL without its password."""
    import sqlalchemy as sa

    try:
        return sa.make_url(database_url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<invalid database URL>"


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
