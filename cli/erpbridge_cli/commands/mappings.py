"""``erpbridge mappings check [JOB] [--sample FILE]`` and ``erpbridge mappings show JOB``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from erpbridge.errors import ErpBridgeError
from erpbridge_cli.commands.db import DEFAULT_DATABASE_URL, DatabaseUrl

console = Console()
mappings_app = typer.Typer(help="Job mappings: validate them, show how columns map.", no_args_is_help=True)

MappingsDir = Annotated[
    Path | None,
    typer.Option("--mappings", envvar="ERPBRIDGE_MAPPINGS_DIR", help="job files folder (default ./mappings)"),
]

ORIGIN_STYLE = {
    "name": "green",
    "explicit": "cyan",
    "constant": "magenta",
    "shop": "magenta",
    "language": "magenta",
}
ORIGIN_TEXT = {
    "name": "matched by name",
    "explicit": "explicit",
    "constant": "constant",
    "shop": "job shop",
    "language": "job language",
}


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(1)


@mappings_app.command("check")
def check(
    job: Annotated[
        str | None, typer.Argument(help="job id (default: every job with an import section)")
    ] = None,
    sample: Annotated[
        Path | None,
        typer.Option("--sample", exists=True, dir_okay=False, help="a staged XML file to check against"),
    ] = None,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    mappings: MappingsDir = None,
) -> None:
    """Validate mappings against the live database schema (and a sample file); list every problem."""
    from erpbridge.mapping.check import check_mapping
    from erpbridge.mapping.jobfile import list_job_ids, load_job
    from erpbridge.shopdb.engine import engine_for

    try:
        ids = [job] if job else list_job_ids(mappings)
        jobs = [load_job(job_id, mappings) for job_id in ids]
        engine = engine_for(database_url)
        errors = 0
        for definition in jobs:
            if definition.import_ is None and job is None:
                continue
            problems = check_mapping(definition, engine, sample)
            errors += sum(1 for p in problems if p.severity == "error")
            if not problems:
                console.print(f"[green]✓[/green] {definition.id}: no problems")
                continue
            table = Table(title=f"{definition.id}: {len(problems)} problem(s)", title_justify="left")
            table.add_column("severity")
            table.add_column("mapping")
            table.add_column("problem", overflow="fold")
            for problem in problems:
                style = "red" if problem.severity == "error" else "yellow"
                table.add_row(f"[{style}]{problem.severity}[/{style}]", problem.mapping, problem.message)
            console.print(table)
    except ErpBridgeError as error:
        raise _fail(str(error)) from None
    if errors:
        raise typer.Exit(1)


@mappings_app.command("show")
def show(
    job: Annotated[str, typer.Argument(help="job id, e.g. fetch-shop-data")],
    sample: Annotated[
        Path | None,
        typer.Option("--sample", exists=True, dir_okay=False, help="a staged XML file (shows name matches)"),
    ] = None,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    mappings: MappingsDir = None,
) -> None:
    """The job's table mappings and, per table, its column mappings: matched by name, explicit, constant."""
    from erpbridge.admin.mappings import column_rules, removal_rule
    from erpbridge.mapping.jobfile import load_job
    from erpbridge.mapping.rules import plan_mapping
    from erpbridge.protocol.streaming import StreamingTableReader
    from erpbridge.shopdb.engine import engine_for
    from erpbridge.shopdb.introspect import read_schema

    try:
        definition = load_job(job, mappings)
        if definition.import_ is None:
            raise _fail(f"job {job} has no import section")
        schema = read_schema(engine_for(database_url))
        first_rows: dict[str, list[str]] = {}
        if sample is not None:
            with sample.open("rb") as stream:
                for table_name, row in StreamingTableReader(stream, what="sample").rows():
                    first_rows.setdefault(table_name.lower(), list(row))
    except ErpBridgeError as error:
        raise _fail(str(error)) from None
    imports = definition.import_for()
    overview = Table(title=f"{job}: table mappings", title_justify="left")
    for column in ("source", "destination", "mode", "keys", "removal", "conditions"):
        overview.add_column(column)
    for mapping in imports.mappings:
        removal = removal_rule(mapping).replace("none", "—")
        overview.add_row(
            mapping.source + ("" if mapping.active else " (inactive)"),
            mapping.destination,
            mapping.mode.value,
            ", ".join(mapping.keys) or "primary key",
            removal,
            str(len(mapping.conditions)) if mapping.conditions else "—",
        )
    console.print(overview)
    if sample is None:
        console.print(
            "[dim]without --sample, columns matched by name cannot be listed (they come from the file)[/dim]"
        )
    for mapping in imports.mappings:
        columns = first_rows.get(mapping.source.lower()) if sample is not None else None
        plan, problems = plan_mapping(
            mapping, schema.table(mapping.destination), columns, imports, resolve_table=schema.table
        )
        table = Table(title=f"{mapping.source} → {mapping.destination}", title_justify="left")
        for column in ("destination column", "type", "source", "how", "rules"):
            table.add_column(column)
        if plan is not None:
            for column_plan in plan.columns:
                rules = column_rules(plan, column_plan)
                source = (
                    repr(column_plan.constant)
                    if column_plan.constant is not None
                    else " + ".join(column_plan.sources)
                )
                style = ORIGIN_STYLE.get(column_plan.origin, "white")
                table.add_row(
                    column_plan.destination.name,
                    column_plan.destination.type_name,
                    source,
                    f"[{style}]{ORIGIN_TEXT.get(column_plan.origin, column_plan.origin)}[/{style}]",
                    ", ".join(rules),
                )
            for relation in plan.relations:
                table.add_row(
                    relation.relation.relation_table,
                    "relation",
                    relation.list_source,
                    "[blue]derived[/blue]",
                    "replaces the owner's relations",
                )
            if plan.unmapped_sources:
                table.caption = f"not mapped: {', '.join(plan.unmapped_sources)}"
        if mapping.auto_map and sample is None:
            table.caption = "+ every source column whose name matches a destination column (auto_map)"
        console.print(table)
        for problem in problems:
            style = "red" if problem.severity == "error" else "yellow"
            console.print(f"  [{style}]{problem.severity}[/{style}]: {problem.message}")


def register(app: typer.Typer) -> None:
    app.add_typer(mappings_app, name="mappings")
