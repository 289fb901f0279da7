"""`erpbridge audit prices [--sample N] [--seed S] [--shop SHOP]`: the golden-price audit, here, now.

Samples customers × products × quantities × currencies from the shop database, per shop of the
ERP endpoint map (or only ``--shop``), prices each as the live API serves it (in this process: its
cache, its fallbacks) and as BC quotes it now (directly, through the shared limiter), each at the
ERP endpoint of its shop, and records the run (job ``price-audit``) with its report. Exit 0:
every price the API served matched; 1: a served price did not, or nothing could be checked; 2: bad
arguments or settings. docs/price-audit.md has the classification and the scheduled job.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import typer

from erpbridge.batch.models import Trigger
from erpbridge.batch.price_audit import AuditReport, Comparison, Tally, tally
from erpbridge.batch.price_audit_values import SERVED_ORIGINS, Origin
from erpbridge.errors import ErpBridgeError, UnknownShopError
from erpbridge_cli.commands._batch_common import (
    JsonOption,
    column,
    command_group,
    console,
    fail,
    print_json,
    settings,
    shop_database,
    table,
)

audit_app = command_group("Audits: are the prices the API serves the prices BC quotes?")


@audit_app.command("prices")
def audit_prices(
    sample: Annotated[
        int | None,
        typer.Option(
            "--sample",
            min=1,
            max=10_000,
            help="combinations to check per shop (default: ERPBRIDGE_PRICE_AUDIT_SAMPLE)",
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", min=0, help="draw the same sample as a run with this seed")
    ] = None,
    shop: Annotated[
        str | None,
        typer.Option("--shop", help="only this shop (default: every shop of the ERP endpoint map)"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Compare served prices with fresh BC quotes; record the run (exit 1 on a mismatch)."""
    from erpbridge.wiring.price_audit import price_auditor

    loaded = settings(needs_erp=True, what="the price audit")
    shop_database(loaded.database_url)
    try:
        run = price_auditor(loaded).run(
            sample=sample or loaded.price_audit_sample, trigger=Trigger.MANUAL, seed=seed, shop=shop
        )
    except UnknownShopError as error:
        raise fail(str(error), 2) from None
    except ErpBridgeError as error:
        raise fail(f"the price audit stopped: {error}") from None
    report = run.report
    if report is None:  # only a scheduled slot can have run already
        raise fail(f"run {run.run_id} exists already", 2)
    if as_json:
        print_json({"run_id": run.run_id, "error": run.error, **report.as_dict()})
    else:
        _print(run.run_id, report, run.error)
    if run.error or report.served.mismatches:  # batch prices lag until the next Fetch Prices
        raise typer.Exit(1)


def _print(run_id: str, report: AuditReport, error: str | None) -> None:
    console.print(f"run {run_id}: {report.sampled} sampled (seed {report.seed}), tolerance 0.005")
    for sample in report.shops:
        products = "every product" if sample.whole_catalogue else "its own products"
        console.print(f"  shop {sample.shop or '(default)'}: {sample.sampled} sampled, {products}")
    if error:
        console.print(f"[red]{error}[/]")
    rows: list[tuple[str, Tally]] = [(str(origin), tally(report.of(origin))) for origin in SERVED_ORIGINS]
    rows += [("served, all", report.served), (str(Origin.BATCH), report.batch)]
    console.print(_tallies("comparisons by origin", "origin", rows))
    endpoints = report.endpoints
    if len(endpoints) > 1:
        parts = [(name, report.at(name)) for name in endpoints]
        console.print(
            _tallies("served prices by ERP endpoint", "endpoint", [(n, p.served) for n, p in parts])
        )
        for name, part in parts:
            if part.largest is not None:
                console.print(f"{name}: largest difference {_difference(part.largest)}")
    largest = report.largest
    if largest is not None:
        console.print(f"largest difference: {_difference(largest)} ({_where(largest)})")
    mismatches = report.mismatches[:10]
    if mismatches:
        examples = table("mismatches (largest first)")
        column(examples, "customer / currency")
        column(examples, "product / quantity")
        column(examples, "origin", no_wrap=True)
        column(examples, "served → BC", justify="right")
        for comparison in mismatches:
            probe = comparison.probe
            variant = f"/{probe.variant_id}" if probe.variant_id else ""
            where = f"\n{probe.shop or '(default)'} at {comparison.endpoint}" if len(endpoints) > 1 else ""
            examples.add_row(
                f"{probe.customer or 'anonymous'}\n{probe.currency}",
                f"{probe.product_id}{variant}\n× {probe.quantity:f}",
                f"{comparison.origin}{where}",
                _difference(comparison),
            )
        console.print(examples)
    for reason in report.quote_errors:
        console.print(f"not quoted: {reason}")


def _tallies(title: str, first: str, rows: list[tuple[str, Tally]]) -> Any:
    shown = table(title)
    column(shown, first, no_wrap=True)
    for name in ("match", "mismatch", "missing", "not quoted", "rate"):
        column(shown, name, justify="right", no_wrap=True)
    for name, counts in rows:
        style = "red" if counts.mismatches else ""
        shown.add_row(
            name,
            str(counts.matches),
            f"[{style}]{counts.mismatches}[/]" if style else "0",
            str(counts.missing),
            str(counts.not_quoted),
            f"{counts.rate:g} %",
        )
    return shown


def _amount(comparison: Comparison, side: Any) -> str:
    value = getattr(side, comparison.compared_field or "price", None) if side is not None else None
    return "-" if value is None else f"{value.normalize():f}"


def _difference(comparison: Comparison) -> str:
    return (
        f"{_amount(comparison, comparison.served)} → {_amount(comparison, comparison.quoted)}"
        f" ({(comparison.difference or Decimal(0)).normalize():+f})"
    )


def _where(comparison: Comparison) -> str:
    probe = comparison.probe
    shop = f"shop {probe.shop}, " if probe.shop else ""
    return (
        f"{shop}{probe.customer or 'anonymous'}, {probe.product_id} × {probe.quantity:f} {probe.currency}, "
        f"{comparison.origin}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
