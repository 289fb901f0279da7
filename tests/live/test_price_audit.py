"""The golden-price audit over real HTTP against the BC emulator: what the live price use case
serves (in-process, its own cache and fallbacks) against fresh quotes, a price changed in BC
found while the cache still serves the old one, the shared limiter respected, the run recorded,
the scheduled handler's metric, and in AWS (moto) the storefront's shared cache seen by the audit."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from endpoints_support import nordic_endpoints

from erpbridge.batch.models import RunStatus, Trigger
from erpbridge.batch.price_audit import TOLERANCE, audit_prices
from erpbridge.batch.price_audit_values import Origin, Outcome, Probe
from erpbridge.shopdb.schema import table

PRODUCTS = ("P000001", "P000002", "P000003")
CUSTOMERS = ("10000", "10010")
PRICE_BREAK = Decimal(5)
WRONG_BATCH_PRICE = Decimal("0.01")  # the shop database's P000002 price: not what BC quotes


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """SQLite; the sample's queries run on PostgreSQL in the first test's ``pg`` twin."""
    return sqlite_url


def _shop_rows(database_url: str) -> None:
    """Two currencies, three products (one with a price break at 5), two customers and a batch
    price for P000002 that BC does not quote."""
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        for code, default in (("EUR", True), ("USD", False)):
            conn.execute(
                sa.insert(table("EcomCurrencies")).values(
                    CurrencyCode=code, CurrencyLanguageId="LANG1", CurrencyIsDefault=default
                )
            )
        for product in PRODUCTS:
            conn.execute(
                sa.insert(table("EcomProducts")).values(
                    ProductID=product, ProductLanguageID="LANG1", ProductVariantID="", ProductActive=True
                )
            )
        for customer in CUSTOMERS:
            conn.execute(
                sa.insert(table("AccessUser")).values(
                    AccessUserUserName=customer, AccessUserCustomerNumber=customer
                )
            )
        conn.execute(
            sa.insert(table("EcomPrices")).values(
                PriceID="BREAK",
                PriceProductId="P000001",
                PriceCurrency="EUR",
                PriceQuantity=PRICE_BREAK,
                PriceAmount=Decimal("1"),
                PriceUserCustomerNumber="10000",
            )
        )
        conn.execute(
            sa.insert(table("EcomPrices")).values(
                PriceID="WRONG", PriceProductId="P000002", PriceCurrency="EUR", PriceAmount=WRONG_BATCH_PRICE
            )
        )
    engine.dispose()


P000003_IN_EUR = {"customer_number": "10000", "currency": "EUR", "items": [{"product_id": "P000003"}]}

#: anonymous + 2 customers, × EUR and USD, × P000001 at 1 and 5, P000002 and P000003 at 1
EVERY_COMBINATION = 3 * 2 * 4


def _auditor(live: Any) -> Any:
    from erpbridge.wiring.price_audit import price_auditor

    return price_auditor(live.services.settings, services=live.services)


def _limiter_starts(live: Any) -> int:
    client = live.services.erp._erp  # the SOAP client behind the latency timer
    state = client.limiter.store.load(client.limiter.principal)
    return sum(state.buckets.values())


def _soap_requests(emulator: Any) -> int:
    return len(emulator.control.requests(kind="product_info"))


def _emf(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The metric blobs (CloudWatch embedded metric format) printed so far."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]


def _published(emitted: list[dict[str, Any]], name: str, *, endpoint: str | None = None) -> list[float]:
    """A metric's values with the dimensions {service} (endpoint None: the total, what the alarm
    watches) or {service, endpoint}."""
    dimensions = ["service"] if endpoint is None else ["endpoint", "service"]
    return [
        value
        for blob in emitted
        if name in blob
        and blob.get("endpoint") == endpoint
        and sorted(blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == dimensions
        for value in (blob[name] if isinstance(blob[name], list) else [blob[name]])
    ]


def _audit_everything(live: Any, **options: Any) -> Any:
    return _auditor(live).run(sample=1000, trigger=Trigger.MANUAL, seed=7, **options)


def test_every_served_price_matches_a_fresh_quote_and_the_run_records_it(
    live_factory: Callable[..., Any], emulator: Any
) -> None:
    # GIVEN the shop database's customers, products and currencies, and an empty cache
    live = live_factory()
    _shop_rows(live.database_url)
    # WHEN every combination is audited
    run = _audit_everything(live)
    report = run.report
    # THEN each was served fresh from BC and matched BC's quote
    assert run.error is None and report.sampled == EVERY_COMBINATION
    assert report.served.matches == EVERY_COMBINATION and report.served.mismatches == 0
    assert {c.origin for c in report.of(Origin.FRESH, Origin.CACHED, Origin.STALE)} == {Origin.FRESH}
    assert any(c.probe.quantity == PRICE_BREAK for c in report.comparisons)
    assert {c.probe.customer for c in report.comparisons} == {None, *CUSTOMERS}
    # AND the batch price BC does not quote is reported with its example; absent ones are "missing"
    wrong = [c for c in report.of(Origin.BATCH) if c.outcome is Outcome.MISMATCH]
    assert sorted((c.probe.product_id, c.probe.customer or "", c.probe.quantity) for c in wrong) == [
        ("P000001", "10000", PRICE_BREAK),  # the customer's own price break, in EUR
        ("P000002", "", 1),
        ("P000002", "10000", 1),
        ("P000002", "10010", 1),
    ]
    assert {c.probe.currency for c in wrong} == {"EUR"}
    assert {c.served.price for c in wrong if c.served is not None} == {WRONG_BATCH_PRICE, Decimal(1)}
    assert report.largest is not None and report.largest.origin is Origin.BATCH
    assert report.batch.missing > 0
    # AND every SOAP request the audit sent started through the shared limiter
    assert _soap_requests(emulator) == _limiter_starts(live) > 0
    # AND the run record holds the report
    record = _auditor(live).runs.get(run.run_id, job="price-audit")
    assert record.status is RunStatus.SUCCEEDED and record.trigger is Trigger.MANUAL
    assert record.parameters == {"sample": "1000", "seed": "7"}
    assert record.audit["served"]["matches"] == EVERY_COMBINATION
    assert len(record.audit["examples"]) == 4 and record.audit["largest"] == report.largest.as_dict()
    assert record.audit["tolerance"] == str(TOLERANCE)


@pytest.mark.postgres
def test_the_sample_is_read_from_postgresql_too(
    live_builder: Callable[..., Any], postgres_url: str, emulator: Any
) -> None:
    live = live_builder(postgres_url, emulator.settings_env())
    _shop_rows(postgres_url)
    run = _audit_everything(live)
    assert run.report.sampled == EVERY_COMBINATION and run.report.served.mismatches == 0


def test_a_price_changed_in_bc_is_found_while_the_cache_serves_the_old_one(
    live_factory: Callable[..., Any], emulator: Any
) -> None:
    # GIVEN every combination priced and cached through the live API (over HTTP to the emulator)
    live = live_factory()
    _shop_rows(live.database_url)
    before = _audit_everything(live).report
    old = live.call("POST", "/v1/prices", P000003_IN_EUR)
    assert old.body["items"][0]["source"] == "cache"
    # WHEN BC raises P000003's prices by 10 % and the audit runs within the cache's TTL
    emulator.control.change_price("P000003", "1.10")
    report = _audit_everything(live).report
    # THEN each P000003 combination is a mismatch of a cached price, the others still match
    wrong = [c for c in report.of(Origin.CACHED) if c.outcome is Outcome.MISMATCH]
    assert {c.probe.product_id for c in wrong} == {"P000003"}
    assert len(wrong) == 3 * 2  # anonymous + 2 customers, in EUR and in USD
    assert report.served.matches == EVERY_COMBINATION - len(wrong)
    assert report.served.rate == pytest.approx(100 * len(wrong) / EVERY_COMBINATION, abs=0.01)
    # AND the example is what the API still serves against what BC quotes now
    served_now = live.call("POST", "/v1/prices", P000003_IN_EUR)
    example = next(c for c in wrong if c.probe.customer == "10000" and c.probe.currency == "EUR")
    assert example.served.price == Decimal(str(served_now.body["items"][0]["price"]))
    assert abs(example.quoted.price - example.served.price * Decimal("1.10")) <= Decimal("0.02")
    assert example.difference == example.served.price - example.quoted.price < 0
    # AND the largest difference is the largest of them
    assert report.largest is not None and report.largest.origin is Origin.CACHED
    assert abs(report.largest.difference) == max(abs(c.difference) for c in wrong)
    assert before.served.mismatches == 0


def test_stale_and_fallback_prices_are_compared_with_the_quote_that_follows(
    live_factory: Callable[..., Any], emulator: Any
) -> None:
    # GIVEN P000003 cached, its entry expired, then its price changed in BC
    live = live_factory()
    _shop_rows(live.database_url)
    probes = [Probe("10000", "EUR", product, "", "", Decimal(1)) for product in ("P000002", "P000003")]
    live.call("POST", "/v1/prices", P000003_IN_EUR)
    live.services.cache._clock = lambda: time.time() + 3600  # past the TTL, within the stale window
    emulator.control.change_price("P000003", "1.10")
    # WHEN the API's ERP request fails once (BC answers the audit's own quote right after)
    emulator.control.set_faults(error_rate=1.0, kinds=["product_info"], times=1)
    from erpbridge.wiring.price_audit import DirectQuotes, InProcessServedPrices

    report = audit_prices(
        probes, served=InProcessServedPrices(live.services), quotes=DirectQuotes(live.services), seed=1
    )
    # THEN the stale entry (the old price) and the shop database's price (a fallback) both differ
    served = {c.probe.product_id: c for c in report.comparisons if c.origin is not Origin.BATCH}
    assert served["P000003"].origin is Origin.STALE and served["P000003"].outcome is Outcome.MISMATCH
    assert served["P000002"].origin is Origin.FALLBACK and served["P000002"].outcome is Outcome.MISMATCH
    assert served["P000002"].served.price == WRONG_BATCH_PRICE
    assert report.served.mismatches == 2 and report.served.rate == 100.0


def test_the_audit_stays_within_bc_limits_and_says_what_it_could_not_quote(
    live_factory: Callable[..., Any], emulator: Any
) -> None:
    # GIVEN a limiter that admits 4 requests per window and lets nobody wait
    live = live_factory(
        ERPBRIDGE_ERP_LIMIT_REQUESTS="4",
        ERPBRIDGE_ERP_LIMIT_BATCH_WAIT_S="0",
        ERPBRIDGE_ERP_LIMIT_LIVE_WAIT_S="0",
    )
    _shop_rows(live.database_url)
    # WHEN the audit needs more (a served and a quote request per customer and currency: 12)
    run = _audit_everything(live)
    report = run.report
    # THEN BC got no more than the limit, and what could not be quoted is counted, not compared
    assert _soap_requests(emulator) == _limiter_starts(live) == 4
    assert (
        report.served.not_quoted > 0 and report.served.matches + report.served.not_quoted <= EVERY_COMBINATION
    )
    # (one refusal: once BC's limit was reached, the rest of the sample was not asked)
    assert [reason.split(":")[0] for reason in report.quote_errors] == ["ErpLimitReachedError"]
    assert report.served.mismatches == 0  # a fallback figure is never compared with nothing
    assert run.error is None  # some of the sample was checked


def test_an_audit_that_could_quote_nothing_fails_its_run(
    live_factory: Callable[..., Any], emulator: Any
) -> None:
    live = live_factory()
    _shop_rows(live.database_url)
    emulator.control.down()
    try:
        run = _audit_everything(live)
    finally:
        emulator.control.up()
    assert run.error is not None and run.error.startswith("BC quoted none of the sample")
    record = _auditor(live).runs.get(run.run_id)
    assert record.status is RunStatus.FAILED and record.audit["served"]["not_quoted"] == EVERY_COMBINATION


def test_the_scheduled_handler_records_its_slot_once_and_publishes_the_mismatch_rate(
    live_factory: Callable[..., Any],
    emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    lambda_context: Any,
) -> None:
    import audit_prices as handler

    live = live_factory()
    _shop_rows(live.database_url)
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    handler.auditor.cache_clear()
    slot = datetime(2026, 12, 2, 5, 0, tzinfo=UTC).isoformat()
    try:
        answer = handler.lambda_handler({"sample": 10, "seed": 3, "scheduled_time": slot}, lambda_context)
        again = handler.lambda_handler({"sample": 10, "seed": 3, "scheduled_time": slot}, lambda_context)
    finally:
        handler.auditor.cache_clear()
    assert answer["run_id"] == "20261202T050000Z-sched" and answer["sampled"] == 10
    assert answer["served"]["mismatches"] == 0
    assert again == {"run_id": answer["run_id"], "skipped": True}  # a duplicate delivery of the slot
    emitted = _emf(capsys)
    # the total with the alarm's dimension (template.yaml: service), and the same per endpoint
    assert _published(emitted, "PriceAuditMismatchRate") == [0.0]
    assert _published(emitted, "PriceAuditComparisons") == [10]
    assert _published(emitted, "PriceAuditMismatches") == [0]
    assert _published(emitted, "PriceAuditMismatchRate", endpoint="default") == [0.0]
    assert _published(emitted, "PriceAuditComparisons", endpoint="default") == [10]
    record = _auditor(live).runs.get(answer["run_id"])
    assert record.trigger is Trigger.SCHEDULE and record.audit["sampled"] == 10


def test_the_cli_audits_records_the_run_and_runs_show_has_the_report(
    live_factory: Callable[..., Any], emulator: Any
) -> None:
    from typer.testing import CliRunner

    from erpbridge_cli.main import app

    live = live_factory()
    _shop_rows(live.database_url)
    runner = CliRunner()
    # WHEN `erpbridge audit prices` runs (its own cache: every price fresh from BC)
    as_json = runner.invoke(app, ["audit", "prices", "--sample", "8", "--seed", "2", "--json"])
    assert as_json.exit_code == 0, as_json.output
    body = json.loads(as_json.stdout)
    assert body["sampled"] == 8 and body["seed"] == 2 and body["served"]["mismatches"] == 0
    # THEN the table reads at 80 columns, with the batch price's mismatch as an example
    shown = runner.invoke(app, ["audit", "prices", "--sample", "100"], env={"COLUMNS": "80"})
    assert shown.exit_code == 0, shown.output
    assert max(len(line) for line in shown.output.splitlines()) <= 80
    assert "served, all" in shown.output and "largest difference: 1 → " in shown.output  # P000001 × 5
    # AND the run is in the runs table with its report
    record = runner.invoke(app, ["runs", "show", body["run_id"]], env={"COLUMNS": "80"})
    assert record.exit_code == 0 and "audit: served" in record.output and "price-audit" in record.output
    listed = runner.invoke(app, ["runs", "list", "--job", "price-audit", "--json"])
    assert listed.exit_code == 0 and len(json.loads(listed.stdout)) == 2
    # AND an audit that could quote nothing exits 1
    emulator.control.down()
    try:
        down = runner.invoke(app, ["audit", "prices", "--sample", "4"])
    finally:
        emulator.control.up()
    assert down.exit_code == 1 and "BC quoted none of the sample" in down.output


def test_in_aws_the_scheduled_audit_sees_the_storefronts_cache_and_records_in_dynamodb(
    live_factory: Callable[..., Any],
    emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    lambda_context: Any,
) -> None:
    from moto import mock_aws

    from erpbridge_cli.local_stack import create_tables_from_template

    with mock_aws():
        create_tables_from_template({"CacheTable": "cache", "BreakerTable": "breaker", "RunsTable": "runs"})
        tables = {
            "ERPBRIDGE_CACHE_TABLE": "cache",
            "ERPBRIDGE_BREAKER_TABLE": "breaker",
            "ERPBRIDGE_ERP_LIMITER_TABLE": "breaker",
            "ERPBRIDGE_RUNS_TABLE": "runs",
        }
        # GIVEN the storefront's container priced every combination (into the shared cache)
        live = live_factory(**tables)
        _shop_rows(live.database_url)
        assert _audit_everything(live).report.served.matches == EVERY_COMBINATION
        # WHEN BC changes a price and the scheduled audit runs in its own container
        emulator.control.change_price("P000003", "1.10")
        import audit_prices as handler

        monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
        handler.auditor.cache_clear()
        try:
            answer = handler.lambda_handler({"sample": 1000, "seed": 7}, lambda_context)
        finally:
            handler.auditor.cache_clear()
        # THEN it was served what the storefront is served (the shared cache) and found the change
        assert answer["by_origin"]["cached"]["matches"] + answer["by_origin"]["cached"]["mismatches"] == 24
        assert answer["served"]["mismatches"] == 6 and answer["largest"]["product_id"] == "P000003"
        emitted = _emf(capsys)
        assert _published(emitted, "PriceAuditMismatchRate") == [25.0]
        # AND the run is in the DynamoDB runs table with its report
        from erpbridge.adapters.aws.dynamodb_runs import DynamoDbRunRecorder

        record = DynamoDbRunRecorder("runs").get(answer["run_id"], job="price-audit")
        assert record is not None and record.status is RunStatus.SUCCEEDED
        assert record.audit["served"]["mismatches"] == 6 and len(record.audit["examples"]) == 10


# --- several ERP endpoints (docs/erp-endpoints.md): the second emulator of test_erp_endpoints.py

#: NORDIC's sample: anonymous + 10000 (10010 belongs to another shop), × EUR and USD, × its own
#: products P000001 (at 1 and 5) and P000002
NORDIC_COMBINATIONS = 2 * 2 * 3


def _nordic_rows(database_url: str) -> None:
    """NORDIC holds P000001 and P000002 (its imports recorded them); customer 10010 is OTHER's."""
    from erpbridge.mapping.relations import SHOP_PRODUCTS

    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        held = sa.table(SHOP_PRODUCTS[0], sa.column("shop_id"), sa.column("product_id"))
        conn.execute(sa.insert(held), [{"shop_id": "NORDIC", "product_id": p} for p in PRODUCTS[:2]])
        users = table("AccessUser")
        conn.execute(
            sa.update(users)
            .where(users.c.AccessUserCustomerNumber == "10010")
            .values(AccessUserShopId="OTHER")
        )
    engine.dispose()


@pytest.fixture
def two_shops(live_factory: Callable[..., Any], nordic: Any) -> Any:
    """The live services with endpoint nordic for shop NORDIC, over the shop rows of both shops."""
    live = live_factory(ERPBRIDGE_ERP_ENDPOINTS=nordic_endpoints(nordic))
    _shop_rows(live.database_url)
    _nordic_rows(live.database_url)
    return live


def _limiter_starts_at(live: Any, shop: str) -> tuple[str, int]:
    client = live.services.at(shop).erp._erp
    state = client.limiter.store.load(client.limiter.principal)
    return client.limiter.principal, sum(state.buckets.values())


def test_each_shop_is_audited_at_its_endpoint_and_a_change_in_one_bc_shows_there_only(
    two_shops: Any, emulator: Any, nordic: Any
) -> None:
    # GIVEN two ERP endpoints: the default one and NORDIC's own BC, each shop with its sample
    live = two_shops
    before = _audit_everything(live).report
    assert before.endpoints == ["default", "nordic"] and before.served.mismatches == 0
    assert before.at("default").sampled == EVERY_COMBINATION
    assert before.at("nordic").sampled == NORDIC_COMBINATIONS
    nordic_probes = {c.probe for c in before.at("nordic").comparisons}
    assert {p.shop for p in nordic_probes} == {"NORDIC"}
    assert {p.customer for p in nordic_probes} == {None, "10000"}
    assert {p.product_id for p in nordic_probes} == set(PRODUCTS[:2])
    # WHEN NORDIC's BC raises P000002's prices by 10 % (the default BC does not)
    nordic.control.change_price("P000002", "1.10")
    run = _audit_everything(live)
    report = run.report
    # THEN NORDIC's cached P000002 prices are its endpoint's mismatches; the default stays clean
    wrong = [c for c in report.at("nordic").mismatches if c.origin is not Origin.BATCH]
    assert {(c.probe.shop, c.probe.product_id, c.origin) for c in wrong} == {
        ("NORDIC", "P000002", Origin.CACHED)
    }
    assert len(wrong) == 2 * 2  # anonymous + 10000, in EUR and in USD
    assert report.at("nordic").served.mismatches == 4 and report.at("default").served.mismatches == 0
    assert report.served.mismatches == 4
    assert report.largest is not None and report.largest.endpoint == "nordic"
    # AND the run record reports per endpoint and per shop besides the total
    record = _auditor(live).runs.get(run.run_id, job="price-audit").audit
    assert record["by_endpoint"]["default"]["served"]["mismatches"] == 0
    assert record["by_endpoint"]["nordic"]["served"]["mismatches"] == 4
    assert record["by_endpoint"]["nordic"]["largest"]["product_id"] == "P000002"
    assert {e["endpoint"] for e in record["by_endpoint"]["nordic"]["examples"]} == {"nordic"}
    assert record["shops"] == {
        "": {"sampled": EVERY_COMBINATION, "products": "whole catalogue"},
        "NORDIC": {"sampled": NORDIC_COMBINATIONS, "products": "the shop's own"},
    }
    # AND `erpbridge runs show` has a line per endpoint; its examples name shop and endpoint
    from typer.testing import CliRunner

    from erpbridge_cli.main import app

    shown = CliRunner().invoke(app, ["runs", "show", run.run_id], env={"COLUMNS": "200"})
    assert "audit: served at nordic" in shown.output and "shop NORDIC at nordic: " in shown.output
    # AND each endpoint's requests went through the limiter under its own principal
    default_principal, default_starts = _limiter_starts_at(live, "")
    nordic_principal, nordic_starts = _limiter_starts_at(live, "NORDIC")
    assert default_principal != nordic_principal
    assert default_starts == _soap_requests(emulator) > 0
    assert nordic_starts == _soap_requests(nordic) > 0


def test_the_cli_audits_one_shop_and_the_handler_publishes_the_rate_per_endpoint(
    two_shops: Any,
    emulator: Any,
    nordic: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    lambda_context: Any,
) -> None:
    from typer.testing import CliRunner

    from erpbridge_cli.main import app

    live = two_shops
    nordic.control.change_price("P000001", "1.10")
    runner = CliRunner()
    # WHEN `erpbridge audit prices --shop NORDIC` runs
    shown = runner.invoke(app, ["audit", "prices", "--shop", "NORDIC", "--json"])
    # THEN only NORDIC was sampled, at its endpoint (the default BC was not asked)
    assert shown.exit_code == 0, shown.output  # its own process: every price fresh from NORDIC's BC
    body = json.loads(shown.stdout)
    assert list(body["by_endpoint"]) == ["nordic"] and list(body["shops"]) == ["NORDIC"]
    assert _soap_requests(emulator) == 0 and _soap_requests(nordic) > 0
    assert _auditor(live).runs.get(body["run_id"]).parameters["shop"] == "NORDIC"
    # AND without --shop the table has a line per endpoint, at 80 columns
    table = runner.invoke(app, ["audit", "prices", "--sample", "10"], env={"COLUMNS": "80"})
    assert "served prices by ERP endpoint" in table.output and "shop NORDIC: 10 sampled" in table.output
    assert max(len(line) for line in table.output.splitlines()) <= 80, table.output
    # AND a shop no endpoint serves is refused (exit 2) when the default shops are named
    strict = runner.invoke(
        app, ["audit", "prices", "--shop", "NOWHERE"], env={"ERPBRIDGE_ERP_DEFAULT_SHOPS": '["SHOP1"]'}
    )
    assert strict.exit_code == 2 and "NOWHERE" in strict.output
    # WHEN the scheduled handler audits both endpoints after NORDIC's prices were cached and changed
    import audit_prices as handler

    capsys.readouterr()
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    handler.auditor.cache_clear()
    try:
        handler.lambda_handler({"sample": 1000, "seed": 7}, lambda_context)  # caches both
        nordic.control.change_price("P000001", "1.10")
        capsys.readouterr()
        answer = handler.lambda_handler({"sample": 1000, "seed": 7}, lambda_context)
    finally:
        handler.auditor.cache_clear()
    # THEN the rate is published per endpoint, and the total keeps the alarm's dimension
    emitted = _emf(capsys)
    mismatches = answer["by_endpoint"]["nordic"]["served"]["mismatches"]
    assert mismatches > 0 and answer["by_endpoint"]["default"]["served"]["mismatches"] == 0
    assert _published(emitted, "PriceAuditMismatchRate", endpoint="default") == [0.0]
    nordic_rate = _published(emitted, "PriceAuditMismatchRate", endpoint="nordic")
    assert nordic_rate == [answer["by_endpoint"]["nordic"]["served"]["mismatch_rate"]] and nordic_rate[0] > 0
    assert _published(emitted, "PriceAuditMismatchRate") == [answer["served"]["mismatch_rate"]]
    assert _published(emitted, "PriceAuditMismatches", endpoint="nordic") == [mismatches]


def test_an_endpoint_down_fails_the_run_naming_it_while_the_other_is_audited(
    two_shops: Any, nordic: Any
) -> None:
    live = two_shops
    nordic.go_down()
    try:
        run = _audit_everything(live)
    finally:
        nordic.come_up()
    report = run.report
    assert report.at("default").served.matches == EVERY_COMBINATION  # the default BC was audited
    assert report.at("nordic").served.not_quoted == NORDIC_COMBINATIONS
    assert report.unchecked == ["nordic"]
    assert run.error is not None and run.error.startswith("BC quoted none of endpoint nordic's sample")
    assert _auditor(live).runs.get(run.run_id).status is RunStatus.FAILED
