"""Entry point of the `erpbridge` command.

Each module in :mod:`erpbridge_cli.commands` registers its own sub-commands, so command groups
(emulator, db, mappings, jobs, runs, import, orders, serve) live in their own files.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from typing import Annotated

import typer

from erpbridge.errors import ErpBridgeError
from erpbridge_cli import commands
from erpbridge_cli.commands._batch_common import command_group, fail
from erpbridge_cli.project import HOME_VARIABLE, Project, find_project, project_settings

app = command_group(
    "Connect a web shop to Business Central: run jobs, inspect runs and orders, start the emulator.\n\n"
    "Every command works on the project's state folder (<project>/.erpbridge/, the one `make run` "
    "fills) and job files (<project>/mappings/); the project is $ERPBRIDGE_HOME, else the nearest "
    "folder upwards with a mappings/ folder, else this checkout. Exit codes: 0 done, 1 the operation "
    "failed, 2 bad arguments or settings (nothing was done).\n\n"
    "AWS mode: with --admin-url, $ERPBRIDGE_ADMIN_URL or --stack/$ERPBRIDGE_STACK, the orders, jobs, "
    "runs, mappings and health commands ask the deployed stack's admin API, signed with your AWS "
    "credentials: no database, ERP or secrets are needed here; `console` opens the stack's console "
    "in your browser through a signing proxy on 127.0.0.1.",
    name="erpbridge",
    add_completion=True,
)


@app.callback()
def _project(
    ctx: typer.Context,
    admin_url: Annotated[
        str | None,
        typer.Option(
            "--admin-url",
            help="AWS mode: the deployed stack's admin API (stack output AdminApiUrl; "
            "or $ERPBRIDGE_ADMIN_URL); requests are signed with your AWS credentials",
            show_default=False,
        ),
    ] = None,
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack",
            help="AWS mode: the deployed stack whose AdminApiUrl output to use (or $ERPBRIDGE_STACK)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Fill in the project's defaults (state folder, database, job files) for this command."""
    from erpbridge.settings import get_settings
    from erpbridge_cli.admin_client import use_target

    use_target(admin_url, stack)
    ctx.call_on_close(lambda: use_target(None, None))

    try:
        project = Project(find_project())
    except ErpBridgeError as error:
        if os.environ.get(HOME_VARIABLE):  # a project named, and not there
            raise fail(str(error), 2) from None
        return  # no project: commands that need job files say so (`emulator`, `version` need none)
    ctx.with_resource(project_settings(project))
    get_settings.cache_clear()
    ctx.call_on_close(get_settings.cache_clear)


@app.command()
def version() -> None:
    """Print the erpbridge version."""
    from erpbridge import __version__

    typer.echo(__version__)


def _register_commands() -> None:
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_commands()


def main() -> None:
    try:
        app()
    except ErpBridgeError as error:
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
