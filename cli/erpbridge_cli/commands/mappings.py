"""``erpbridge mappings check [JOB] [--sample FILE]`` and ``erpbridge mappings show JOB``.

In AWS mode (:mod:`erpbridge_cli.admin_client`) both ask the admin API's mapping resource: the
deployed job files, checked against the live shop database's schema and the job's newest staged
page (no ``--sample``); the same tables and exit codes as here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from erpbridge.errors import ErpBridgeError
from erpbridge_cli.admin_client import AdminApiClient, admin_api
from erpbridge_cli.commands._batch_common import (
    JobArgument,
    JsonOption,
    column,
    command_group,
    complete_job,
    console,
    fail,
    known_job,
    mappings_folder,
    print_json,
    shop_database,
    table,
)
from erpbridge_cli.commands.db import DatabaseUrl

mappings_app = command_group("Job mappings: validate them, show how columns map.")

MappingsDir = Annotated[
    Path | None,
    typer.Option(
        "--mappings",
        envvar="ERPBRIDGE_MAPPINGS_DIR",
        help="job files folder (default: the project's mappings/)",
        show_default=False,
    ),
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
    "derived": "derived",
}


@mappings_app.command("check")
def check(
    job: Annotated[
        str | None,
        typer.Argument(
            help="job id (default: every job with an import section)", autocompletion=complete_job
        ),
    ] = None,
    sample: Annotated[
        Path | None,
        typer.Option("--sample", exists=True, dir_okay=False, help="a staged XML file to check against"),
    ] = None,
    database_url: DatabaseUrl = None,
    mappings: MappingsDir = None,
) -> None:
    """Validate mappings against the live database schema (and a sample file); list every problem."""
    from erpbridge.mapping.check import check_mapping
    from erpbridge.mapping.jobfile import list_job_ids, load_job
    from erpbridge.shopdb.engine import engine_for
    from erpbridge.shopdb.introspect import read_schema

    remote = admin_api()
    if remote is not None:
        if sample is not None:
            raise fail("--sample is local: in AWS mode the job's newest staged page is the sample", 2)
        checked = _remote_problems(remote, job)
    else:
        folder = mappings_folder(mappings)
        ids = [known_job(job, folder)] if job else list_job_ids(folder)
        engine = engine_for(shop_database(database_url))
        try:
            jobs = [load_job(job_id, folder) for job_id in ids]
            checking = [d for d in jobs if d.import_ is not None or job is not None]
            checked = []
            if checking:
                schema = read_schema(engine)  # once, for every job checked
                checked = [
                    (d.id, [(p.severity, p.mapping, p.message) for p in check_mapping(d, schema, sample)])
                    for d in checking
                ]
        except ErpBridgeError as error:
            raise fail(str(error)) from None
    _print_problems(checked)


def _remote_problems(remote: AdminApiClient, job: str | None) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """The problems the admin API's mapping page lists, per job, as ``check_mapping`` gives them."""
    ids = [job] if job else [j["job"] for j in remote.jobs()]
    checked = []
    for job_id in ids:
        view = remote.mapping(job_id)
        if not view["tables"] and job is None:
            continue  # no import section
        problems = [
            (p["severity"], f"{t['source']} → {t['destination']}", p["message"])
            for t in view["tables"]
            for p in t["problems"]
        ]
        problems += [(p["severity"], p["mapping"], p["message"]) for p in view["problems"]]
        checked.append((job_id, problems))
    return checked


def _print_problems(checked: list[tuple[str, list[tuple[str, str, str]]]]) -> None:
    """Each job's problems (severity, mapping, message); exit 1 when any is an error."""
    errors = 0
    for job_id, problems in checked:
        errors += sum(1 for severity, _, _ in problems if severity == "error")
        if not problems:
            console.print(f"[green]✓[/green] {job_id}: no problems")
            continue
        found = table(f"{job_id}: {len(problems)} problem(s)")
        for name in ("severity", "mapping", "problem"):
            column(found, name)
        for severity, mapping, message in problems:
            style = "red" if severity == "error" else "yellow"
            found.add_row(f"[{style}]{severity}[/{style}]", mapping, message)
        console.print(found)
    if errors:
        raise typer.Exit(1)


@mappings_app.command("show")
def show(
    job: JobArgument,
    sample: Annotated[
        Path | None,
        typer.Option("--sample", exists=True, dir_okay=False, help="a staged XML file (shows name matches)"),
    ] = None,
    database_url: DatabaseUrl = None,
    mappings: MappingsDir = None,
    as_json: JsonOption = False,
) -> None:
    """The job's table mappings and, per table, its column mappings: matched by name, explicit, constant."""
    from erpbridge.mapping.jobfile import load_job
    from erpbridge.mapping.planner import plan_mapping
    from erpbridge.protocol.streaming import StreamingTableReader
    from erpbridge.shopdb.engine import engine_for
    from erpbridge.shopdb.introspect import read_schema

    remote = admin_api()
    if remote is not None:
        if sample is not None:
            raise fail("--sample is local: in AWS mode the job's newest staged page is the sample", 2)
        view = remote.mapping(job)
        if not view["tables"]:
            raise fail(f"job {job} has no import section", 2)
        shown = [_remote_mapping_view(t, by_name_listed=view["sample"] is not None) for t in view["tables"]]
        if as_json:
            print_json({"job": job, "mappings": shown})
            return
        _print_mappings(job, shown, sample_given=view["sample"] is not None)
        return
    folder = mappings_folder(mappings)
    known_job(job, folder)
    url = shop_database(database_url)
    try:
        definition = load_job(job, folder)
        if definition.import_ is None:
            raise fail(f"job {job} has no import section", 2)
        schema = read_schema(engine_for(url))
        first_rows: dict[str, list[str]] = {}
        if sample is not None:
            with sample.open("rb") as stream:
                for table_name, row in StreamingTableReader(stream, what="sample").rows():
                    first_rows.setdefault(table_name.lower(), list(row))
    except ErpBridgeError as error:
        raise fail(str(error)) from None
    imports = definition.import_for()
    shown = []
    for mapping in imports.mappings:
        columns = first_rows.get(mapping.source.lower()) if sample is not None else None
        plan, problems = plan_mapping(
            mapping, schema.table(mapping.destination), columns, imports, resolve_table=schema.table
        )
        shown.append(_mapping_view(mapping, plan, problems, by_name_listed=sample is not None))
    if as_json:
        print_json({"job": job, "mappings": shown})
        return
    _print_mappings(job, shown, sample_given=sample is not None)


def _mapping_view(mapping: Any, plan: Any, problems: Any, *, by_name_listed: bool) -> dict[str, Any]:
    """One table mapping as data: what the table and the JSON output show."""
    from erpbridge.admin.mappings import column_rules, removal_rule

    columns: list[dict[str, Any]] = []
    unmapped: list[str] = []
    if plan is not None:
        for column_plan in plan.columns:
            columns.append(
                {
                    "destination": column_plan.destination.name,
                    "type": column_plan.destination.type_name,
                    "source": repr(column_plan.constant)
                    if column_plan.constant is not None
                    else " + ".join(column_plan.sources),
                    "how": column_plan.origin,
                    "rules": column_rules(plan, column_plan),
                }
            )
        for relation in plan.relations:
            columns.append(
                {
                    "destination": relation.relation.relation_table,
                    "type": "relation",
                    "source": relation.list_source,
                    "how": "derived",
                    "rules": ["replaces the owner's relations"],
                }
            )
        unmapped = list(plan.unmapped_sources)
    return {
        "source": mapping.source,
        "destination": mapping.destination,
        "active": mapping.active,
        "mode": mapping.mode.value,
        "keys": list(mapping.keys),
        "removal": None if removal_rule(mapping) == "none" else removal_rule(mapping),
        "conditions": len(mapping.conditions),
        "auto_map": bool(mapping.auto_map),
        "columns_matched_by_name_listed": by_name_listed,
        "columns": columns,
        "not_mapped": unmapped,
        "problems": [{"severity": p.severity, "message": p.message} for p in problems],
    }


def _remote_mapping_view(mapping: dict[str, Any], *, by_name_listed: bool) -> dict[str, Any]:
    """One table mapping of the admin API's mapping page, as :func:`_mapping_view` shows it."""
    return {
        "source": mapping["source"],
        "destination": mapping["destination"],
        "active": mapping["active"],
        "mode": mapping["mode"],
        "keys": list(mapping["key_columns"]),
        "removal": None if mapping["removal"] == "none" else mapping["removal"],
        "conditions": mapping["conditions"],
        "auto_map": mapping["auto_map"],
        "columns_matched_by_name_listed": by_name_listed,
        "columns": [
            {
                "destination": c["destination"],
                "type": c["type_name"],
                "source": c["source"],
                "how": c["origin"],
                "rules": list(c["rules"]),
            }
            for c in mapping["columns"]
        ],
        "not_mapped": list(mapping["not_mapped"]),
        "problems": list(mapping["problems"]),
    }


def _print_mappings(job: str, shown: list[dict[str, Any]], *, sample_given: bool) -> None:
    overview = table(f"{job}: table mappings")
    for name in ("source", "destination", "mode", "keys", "removal", "conditions"):
        column(overview, name)
    for view in shown:
        overview.add_row(
            view["source"] + ("" if view["active"] else " (inactive)"),
            view["destination"],
            view["mode"],
            ", ".join(view["keys"]) or "primary key",
            view["removal"] or "—",
            str(view["conditions"]) if view["conditions"] else "—",
        )
    console.print(overview)
    if not sample_given:
        console.print(
            "[dim]without --sample, columns matched by name cannot be listed (they come from the file)[/dim]"
        )
    for view in shown:
        columns = table(f"{view['source']} → {view['destination']}")
        for name in ("destination column", "type", "source", "how", "rules"):
            column(columns, name)
        for entry in view["columns"]:
            how = entry["how"]
            style = "blue" if how == "derived" else ORIGIN_STYLE.get(how, "white")
            columns.add_row(
                entry["destination"],
                entry["type"],
                entry["source"],
                f"[{style}]{ORIGIN_TEXT.get(how, how)}[/{style}]",
                ", ".join(entry["rules"]),
            )
        if view["not_mapped"]:
            columns.caption = f"not mapped: {', '.join(view['not_mapped'])}"
        if view["auto_map"] and not sample_given:
            columns.caption = "+ every source column whose name matches a destination column (auto_map)"
        console.print(columns)
        for problem in view["problems"]:
            style = "red" if problem["severity"] == "error" else "yellow"
            console.print(f"  [{style}]{problem['severity']}[/{style}]: {problem['message']}")


def register(app: typer.Typer) -> None:
    app.add_typer(mappings_app, name="mappings")
