"""``erpbridge db upgrade``: create or upgrade the shop database schema (idempotent)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from erpbridge.errors import ErpBridgeError
from erpbridge_cli.commands._batch_common import (
    command_group,
    invoke_function,
    safe_url,
    settings,
    sqlite_file,
)

console = Console()

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="ERPBRIDGE_DATABASE_URL",
        help="SQLAlchemy URL of the shop database (default: $ERPBRIDGE_DATABASE_URL, else the "
        "project's .erpbridge/shop.db, the one `make run` fills)",
        show_default=False,
    ),
]

db_app = command_group("The shop database: schema migrations.")


FunctionOption = Annotated[
    str | None,
    typer.Option(
        "--function",
        envvar="ERPBRIDGE_MIGRATE_FUNCTION",
        help="the deployed migration function (stack output MigrateFunctionName): run the migrations "
        "in AWS, with the function's own database access (default: $ERPBRIDGE_MIGRATE_FUNCTION)",
    ),
]


@db_app.command("upgrade")
def upgrade_command(database_url: DatabaseUrl = None, function: FunctionOption = None) -> None:
    """Apply every pending migration (safe to run again: applied migrations are skipped)."""
    if function:
        report = invoke_function(function, "migrations", {}, wait=True) or {}
        applied, current = report.get("applied", []), report.get("current")
        for revision in applied:
            console.print(f"applied [bold]{revision}[/bold]")
        if not applied:
            console.print("already up to date")
        console.print(f"the database of {function} is at [bold]{current}[/bold]")
        return

    import sqlalchemy as sa

    from erpbridge.shopdb.migrate import current_revision, upgrade

    database_url = database_url or settings().database_url
    file = sqlite_file(database_url)
    if file is not None:  # a new local database: its folder too
        file.parent.mkdir(parents=True, exist_ok=True)
    try:
        applied = upgrade(database_url)
    except (ErpBridgeError, sa.exc.SQLAlchemyError) as error:
        console.print(f"[red]error:[/red] cannot upgrade {safe_url(database_url)}: {error}")
        raise typer.Exit(1) from None
    if applied:
        for revision in applied:
            console.print(f"applied [bold]{revision}[/bold]")
    else:
        console.print("already up to date")
    console.print(f"{safe_url(database_url)} is at [bold]{current_revision(database_url)}[/bold]")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
