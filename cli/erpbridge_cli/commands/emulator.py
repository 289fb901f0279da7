"""``erpbridge emulator``: run the Business Central plug-in unit emulator in the foreground."""

from __future__ import annotations

import gc
import signal
import threading
from datetime import date
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command(name="emulator")(emulator)


def emulator(
    port: Annotated[int, typer.Option(help="HTTP port of the SOAP service (0 = a free port)")] = 8090,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="Seed of the generated data (same seed, same data)")] = 1,
    products: Annotated[int, typer.Option(min=1, help="Number of items")] = 1000,
    customers: Annotated[int, typer.Option(min=1, help="Number of customers")] = 50,
    auth: Annotated[str, typer.Option(help="none | key | basic | oauth2")] = "none",
    security_key: Annotated[
        str | None, typer.Option(help="Key expected in X-Security-Key (auth key)")
    ] = None,
    user: Annotated[str | None, typer.Option(help="User name (auth basic)")] = None,
    password: Annotated[
        str | None, typer.Option(help="Password / web service access key (auth basic)")
    ] = None,
    client_id: Annotated[str | None, typer.Option(help="OAuth2 client id (auth oauth2)")] = None,
    client_secret: Annotated[str | None, typer.Option(help="OAuth2 client secret (auth oauth2)")] = None,
    tenant: Annotated[str, typer.Option(help="Tenant in the URLs")] = "tenant",
    environment: Annotated[str, typer.Option(help="Environment in the SOAP URL")] = "production",
    company: Annotated[str, typer.Option(help="Company in the SOAP URL")] = "CRONUS",
    latency_ms: Annotated[float, typer.Option(min=0, help="Latency added to every SOAP request")] = 0.0,
    control_port: Annotated[int, typer.Option(help="Port of the always-up control listener (0 = free)")] = 0,
    work_date: Annotated[str | None, typer.Option(help="BC work date YYYY-MM-DD (default: today)")] = None,
    dedup: Annotated[
        bool,
        typer.Option(
            "--dedup/--no-dedup",
            help="--no-dedup: every order create commits a new sales order (no duplicate protection)",
        ),
    ] = True,
    bc_limits: Annotated[
        bool,
        typer.Option(
            "--bc-limits/--no-bc-limits",
            help="Answer 429 beyond BC online's per-principal limits (5 at once, 6,000 per 5 minutes)",
        ),
    ] = False,
) -> None:
    """Start the BC emulator (SOAP codeunit DWWebService) and serve until Ctrl+C."""
    from bc_emulator.auth import AUTH_MODES
    from bc_emulator.limits import LimitsSpec
    from bc_emulator.server import Emulator, EmulatorConfig

    if auth not in AUTH_MODES:
        raise typer.BadParameter(f"must be one of {', '.join(AUTH_MODES)}", param_hint="--auth")
    overrides: dict[str, object] = {
        name: value
        for name, value in {
            "security_key": security_key,
            "user": user,
            "password": password,
            "client_id": client_id,
            "client_secret": client_secret,
        }.items()
        if value is not None
    }
    today = None
    if work_date:
        try:
            today = date.fromisoformat(work_date)
        except ValueError:
            raise typer.BadParameter("use YYYY-MM-DD", param_hint="--work-date") from None
    config = EmulatorConfig(
        port=port,
        host=host,
        seed=seed,
        products=products,
        customers=customers,
        auth=auth,
        tenant=tenant,
        environment=environment,
        company=company,
        latency_ms=latency_ms,
        control_port=control_port,
        today=today,
        dedup=dedup,
        limits=LimitsSpec() if bc_limits else None,
        **overrides,  # type: ignore[arg-type]
    )
    try:
        emu = Emulator(config).start()
    except OSError as error:
        typer.secho(f"error: cannot listen on {host}:{port}: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    # Installed before the banner: whoever waits for the banner may send SIGTERM right away.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # The data set is millions of long-lived objects: keep the cyclic GC from rescanning them
    # while requests are served (this process is the emulator's own).
    gc.collect()
    gc.freeze()
    typer.echo("BC emulator (Dynamicweb plug-in unit, codeunit DWWebService) is running.")
    typer.echo(f"  SOAP URL     {emu.soap_url}")
    if auth == "oauth2":
        typer.echo(f"  token URL    {emu.token_url}")
    typer.echo(f"  control API  {emu.control_url}")
    typer.echo(f"  data         seed {seed}, {products} items, {customers} customers")
    typer.echo(f"  auth         {auth}")
    if not dedup:
        typer.echo("  orders       no duplicate protection: every create commits a new sales order")
    if bc_limits:
        typer.echo("  limits       BC online's: 5 requests at once, 6,000 per 5 minutes per principal (429)")
    for name, value in emu.credentials().items():
        typer.echo(f"    {name:<20} {value}")
    typer.echo("Point erpbridge at it with:")
    for name, value in emu.settings_env().items():
        typer.echo(f"  export {name}='{value}'")
    typer.echo("Ctrl+C stops it.")

    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
        typer.echo("stopped.")
