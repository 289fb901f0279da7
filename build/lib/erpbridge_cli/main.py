"""Entry point of the `erpbridge` command.

Each module in :mod:`erpbridge_cli.commands` registers its own sub-commands, so command groups
(emulator, db, mappings, jobs, runs, import, orders, serve) live in their own files.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from erpbridge.errors import ErpBridgeError
from erpbridge_cli import commands

app = typer.Typer(
    name="erpbridge",
    help="Connect a web shop to Business Central: run jobs, inspect runs and orders, start the emulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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
