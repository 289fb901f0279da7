"""The golden-price audit: are the prices the API serves the prices Business Central quotes?

A sample of customers × products × quantities × currencies, drawn from the shop database, is
priced twice: as the live API serves it (in-process, through the live price use case: from the
ERP now, from the cache, a stale cache entry or the shop database's batch-imported price while the
ERP is down) and as BC quotes it now (asked directly, bypassing the cache). The shop database's
batch-imported price is compared too, for every sample: it is what a fallback would show.

Each comparison has an *origin* (what served the figure) and an *outcome*:

| outcome | when |
| --- | --- |
| ``match`` | both amounts within :data:`TOLERANCE` (in the price's currency), or neither side has one |
| ``mismatch`` | both have an amount and they differ by more than the tolerance |
| ``missing`` | one side has an amount, the other none (a fallback without a figure, no batch price) |
| ``not_quoted`` | BC could not be asked (down, busy, its request limit reached): nothing to compare |

The mismatch rate (the metric ``PriceAuditMismatchRate`` and its alarm) is mismatches over matches
plus mismatches of what the API served; the batch prices have their own rate. A run is recorded
like a batch run (job ``price-audit``) with the report in its record. The sample is drawn in groups
of up to :data:`GROUP_SIZE` products per customer and currency, so it costs few ERP requests; every
request goes through the ERP client's shared limiter (the quotes wait the batch budget); once a
quote is refused as busy (the limit reached, BC's 429/503), the rest of that endpoint's sample is
not asked.

Several shops (docs/erp-endpoints.md): each shop audited gets its own sample of its customers and
products, and each probe is priced and quoted at the ERP endpoint serving its shop and currency.
The report has the counts, the largest difference and the examples per endpoint besides the total.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from erpbridge.batch.models import RunRecord, Trigger, new_run_id
from erpbridge.batch.price_audit_values import (
    SERVED_ORIGINS,
    Candidates,
    Figure,
    Origin,
    Outcome,
    Probe,
    ProductRef,
    Quote,
    amount_text,
)
from erpbridge.errors import ErpBusyError, ErpError, ProtocolError, XmlError

if TYPE_CHECKING:
    from erpbridge.batch.ports import AuditCandidates, FreshQuotes, RunRecorder, ServedPrices

JOB = "price-audit"
SCHEDULE = "cron(0 5 * * ? *)"  # template.yaml PriceAuditFunction, UTC (a test keeps them equal)
TOLERANCE = Decimal("0.005")
GROUP_SIZE = 10  # probes per (customer, currency): one ERP request each way for the group
MAX_EXAMPLES = 10  # mismatching examples a report keeps (the largest difference is kept apart)
_STALE_RUN_S = 3600  # a run still "running" after this long was killed: its slot may run again
DEFAULT_ENDPOINT = "default"  # the endpoint of every probe when no router is given


@dataclass(frozen=True)
class Comparison:
    probe: Probe
    origin: Origin
    outcome: Outcome
    served: Figure | None
    quoted: Figure | None
    compared_field: str | None = None  # "price" or "price_with_vat"
    difference: Decimal | None = None  # served − quoted
    endpoint: str = DEFAULT_ENDPOINT  # the ERP endpoint that served and quoted it

    def as_dict(self) -> dict[str, object]:
        def amounts(figure: Figure | None) -> dict[str, str | None] | None:
            if figure is None:
                return None
            return {"price": amount_text(figure.price), "price_with_vat": amount_text(figure.price_with_vat)}

        return {
            **self.probe.as_dict(),
            "endpoint": self.endpoint,
            "origin": str(self.origin),
            "outcome": str(self.outcome),
            "served": amounts(self.served),
            "quoted": amounts(self.quoted),
            "field": self.compared_field,
            "difference": amount_text(self.difference),
        }


# --- sampling ---------------------------------------------------------------------------------


def draw_sample(candidates: Candidates, size: int, rng: random.Random) -> list[Probe]:
    """Up to ``size`` distinct probes: groups of up to :data:`GROUP_SIZE` products for one customer
    and currency, each at quantity 1 or one of its price-break quantities. Every combination when
    there are no more than ``size`` of them."""
    if not candidates.customers or not candidates.products or not candidates.currencies:
        return []
    shop = candidates.shop
    buyers = len(candidates.customers) * len(candidates.currencies)
    per_buyer = sum(len(_quantities(candidates, product)) for product in candidates.products)
    if buyers * per_buyer <= size:  # counted first: thousands of customers × products never fit a list
        every = {
            Probe(customer, currency, product.product_id, product.variant_id, product.unit, quantity, shop)
            for customer in candidates.customers
            for currency in candidates.currencies
            for product in candidates.products
            for quantity in _quantities(candidates, product)
        }
        return sorted(every, key=_order)
    chosen: set[Probe] = set()
    attempts = 0
    while len(chosen) < size and attempts < size * 20:
        attempts += 1
        customer = rng.choice(list(candidates.customers))
        currency = rng.choice(list(candidates.currencies))
        group = min(GROUP_SIZE, size - len(chosen), len(candidates.products))
        for product in rng.sample(list(candidates.products), group):
            quantity = rng.choice(_quantities(candidates, product))
            chosen.add(
                Probe(
                    customer, currency, product.product_id, product.variant_id, product.unit, quantity, shop
                )
            )
    return sorted(chosen, key=_order)[:size]


def _quantities(candidates: Candidates, product: ProductRef) -> list[Decimal]:
    """1 and the product's price-break quantities."""
    return list(dict.fromkeys([Decimal(1), *candidates.price_breaks.get(product.product_id, ())]))


def _order(probe: Probe) -> tuple[str, str, str, str, str, str, Decimal]:
    return (
        probe.shop,
        probe.customer or "",
        probe.currency,
        probe.product_id,
        probe.variant_id,
        probe.unit,
        probe.quantity,
    )


def groups(probes: Sequence[Probe]) -> list[list[Probe]]:
    """The probes by (shop, customer, currency), in order: one price request each way per group."""
    by_buyer: dict[tuple[str, str | None, str], list[Probe]] = {}
    for probe in probes:
        by_buyer.setdefault((probe.shop, probe.customer, probe.currency), []).append(probe)
    return list(by_buyer.values())


# --- comparing --------------------------------------------------------------------------------


def compare(probe: Probe, origin: Origin, served: Figure | None, quote: Quote) -> Comparison:
    """One figure against BC's quote (``served`` None: no figure, e.g. no batch price)."""
    if quote.figure is None:
        return Comparison(probe, origin, Outcome.NOT_QUOTED, served, None)
    quoted = quote.figure
    have = served or Figure()
    for name in ("price", "price_with_vat"):
        ours, theirs = getattr(have, name), getattr(quoted, name)
        if ours is not None and theirs is not None:
            difference = ours - theirs
            outcome = Outcome.MATCH if abs(difference) <= TOLERANCE else Outcome.MISMATCH
            return Comparison(probe, origin, outcome, served, quoted, name, difference)
    if _empty(have) and _empty(quoted):
        return Comparison(probe, origin, Outcome.MATCH, served, quoted)
    return Comparison(probe, origin, Outcome.MISSING, served, quoted)


def _empty(figure: Figure) -> bool:
    return figure.price is None and figure.price_with_vat is None


@dataclass(frozen=True)
class Tally:
    matches: int = 0
    mismatches: int = 0
    missing: int = 0
    not_quoted: int = 0

    @property
    def rate(self) -> float:
        """Mismatches in percent of the comparisons with an amount on both sides (0 when none)."""
        compared = self.matches + self.mismatches
        return round(100.0 * self.mismatches / compared, 2) if compared else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "matches": self.matches,
            "mismatches": self.mismatches,
            "missing": self.missing,
            "not_quoted": self.not_quoted,
            "mismatch_rate": self.rate,
        }


def tally(comparisons: Iterable[Comparison]) -> Tally:
    counts = dict.fromkeys(Outcome, 0)
    for comparison in comparisons:
        counts[comparison.outcome] += 1
    return Tally(
        counts[Outcome.MATCH], counts[Outcome.MISMATCH], counts[Outcome.MISSING], counts[Outcome.NOT_QUOTED]
    )


@dataclass(frozen=True)
class ShopSample:
    """What one shop's sample was drawn from."""

    shop: str
    sampled: int
    whole_catalogue: bool  # no products recorded for the shop: drawn from every product

    def as_dict(self) -> dict[str, object]:
        return {
            "sampled": self.sampled,
            "products": "whole catalogue" if self.whole_catalogue else "the shop's own",
        }


@dataclass(frozen=True)
class AuditReport:
    """What one audit found (``as_dict`` is what the run record keeps); :meth:`at` is one ERP
    endpoint's part of it."""

    sampled: int
    seed: int
    comparisons: tuple[Comparison, ...]
    run_id: str | None = None
    quote_errors: tuple[str, ...] = ()  # why BC could not be asked, distinct reasons
    endpoint_errors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # the same, per endpoint
    shops: tuple[ShopSample, ...] = ()

    def of(self, *origins: Origin) -> list[Comparison]:
        return [c for c in self.comparisons if c.origin in origins]

    @property
    def endpoints(self) -> list[str]:
        """The endpoints audited, the default first."""
        names = {c.endpoint for c in self.comparisons}
        return sorted(names, key=lambda name: (name != DEFAULT_ENDPOINT, name))

    def at(self, endpoint: str) -> AuditReport:
        """The part of the report of one ERP endpoint."""
        mine = tuple(c for c in self.comparisons if c.endpoint == endpoint)
        errors = tuple(self.endpoint_errors.get(endpoint, ()))
        sampled = len({c.probe for c in mine})
        return AuditReport(
            sampled, self.seed, mine, self.run_id, errors, {endpoint: errors} if errors else {}
        )

    @property
    def unchecked(self) -> list[str]:
        """The endpoints BC answered none of the probes for."""
        return [name for name in self.endpoints if self.at(name).nothing_quoted]

    @property
    def served(self) -> Tally:
        return tally(self.of(*SERVED_ORIGINS))

    @property
    def batch(self) -> Tally:
        return tally(self.of(Origin.BATCH))

    @property
    def mismatches(self) -> list[Comparison]:
        """Every mismatch, the largest difference first (served before batch on a tie)."""
        found = [c for c in self.comparisons if c.outcome is Outcome.MISMATCH]
        return sorted(
            found, key=lambda c: (-abs(c.difference or Decimal(0)), c.origin is Origin.BATCH, _order(c.probe))
        )

    @property
    def largest(self) -> Comparison | None:
        """The served mismatch with the largest difference (else the batch one)."""
        ranked = self.mismatches
        served = [c for c in ranked if c.origin is not Origin.BATCH]
        return served[0] if served else ranked[0] if ranked else None

    @property
    def nothing_quoted(self) -> bool:
        """BC answered none of the probes: the audit could not check anything."""
        return bool(self.comparisons) and all(c.outcome is Outcome.NOT_QUOTED for c in self.comparisons)

    def _findings(self) -> dict[str, object]:
        largest = self.largest
        return {
            "served": self.served.as_dict(),
            "batch": self.batch.as_dict(),
            "largest": largest.as_dict() if largest is not None else None,
            "examples": [c.as_dict() for c in self.mismatches[:MAX_EXAMPLES]],
            "quote_errors": list(self.quote_errors),
        }

    def as_dict(self) -> dict[str, object]:
        findings = self._findings()
        return {
            "sampled": self.sampled,
            "seed": self.seed,
            "tolerance": str(TOLERANCE),
            "served": findings.pop("served"),
            "batch": findings.pop("batch"),
            "by_origin": {str(origin): tally(self.of(origin)).as_dict() for origin in Origin},
            **findings,
            "shops": {sample.shop: sample.as_dict() for sample in self.shops},
            "by_endpoint": {
                name: {"sampled": part.sampled, **part._findings()}
                for name, part in ((name, self.at(name)) for name in self.endpoints)
            },
        }


# --- the use case -----------------------------------------------------------------------------


def _one_endpoint(probe: Probe) -> str:
    return DEFAULT_ENDPOINT


def audit_prices(
    probes: Sequence[Probe],
    *,
    served: ServedPrices,
    quotes: FreshQuotes,
    seed: int,
    endpoint_of: Callable[[Probe], str] = _one_endpoint,
) -> AuditReport:
    """Price every probe as served, from the shop database and as quoted by BC, and compare.

    ``endpoint_of`` names the ERP endpoint of a probe (its shop and currency): the comparisons are
    labelled with it, and an endpoint found busy is not asked for the rest of its probes."""
    comparisons: list[Comparison] = []
    errors: dict[str, dict[str, None]] = {}  # endpoint → distinct reasons
    busy: dict[str, str] = {}  # endpoint → why the rest of its probes are not asked (its limit reached)
    for group in groups(probes):
        endpoint = endpoint_of(group[0])
        answers = served.serve(group)  # first: a cache miss asks the ERP (and fills the cache)
        batch = served.batch(group)
        if endpoint in busy:
            quoted = [Quote(None, busy[endpoint])] * len(group)
        else:
            try:
                quoted = [Quote(figure) for figure in quotes.quote(group)]
            except (ErpError, ProtocolError, XmlError) as error:  # not sent, not answered, unreadable
                reason = f"{type(error).__name__}: {error}"
                errors.setdefault(endpoint, {})[reason] = None
                quoted = [Quote(None, reason)] * len(group)
                if isinstance(error, ErpBusyError):
                    busy[endpoint] = f"not asked: BC was busy ({reason})"
        for probe, answer, shop, quote in zip(group, answers, batch, quoted, strict=True):
            for comparison in (
                compare(probe, answer.origin, answer.figure, quote),
                compare(probe, Origin.BATCH, shop, quote),
            ):
                comparisons.append(replace(comparison, endpoint=endpoint))
    every = dict.fromkeys(reason for reasons in errors.values() for reason in reasons)
    return AuditReport(
        len(probes),
        seed,
        tuple(comparisons),
        quote_errors=tuple(every),
        endpoint_errors={name: tuple(reasons) for name, reasons in errors.items()},
    )


@dataclass(frozen=True)
class AuditRun:
    """An audit as a recorded run: None ``report`` when the schedule slot had run already."""

    run_id: str
    report: AuditReport | None
    error: str | None = None


def run_price_audit(
    *,
    candidates: AuditCandidates,
    served: ServedPrices,
    quotes: FreshQuotes,
    runs: RunRecorder,
    sample: int,
    trigger: Trigger,
    seed: int | None = None,
    scheduled_time: datetime | None = None,
    now: datetime | None = None,
    shops: Sequence[str] = ("",),
    endpoint_of: Callable[[Probe], str] = _one_endpoint,
    parameters: Mapping[str, str] | None = None,
) -> AuditRun:
    """Draw a sample of up to ``sample`` probes for each of ``shops`` ("": the default shop), audit
    it and record the run (job ``price-audit``, with ``parameters`` besides sample and seed).

    The run fails (and says why) when the sample is empty or BC quoted none of an endpoint's part
    of it; mismatches do not fail it: they are the report, the metric and its alarm.
    """
    started = now or datetime.now(UTC)
    seed = seed if seed is not None else random.SystemRandom().randrange(1 << 31)
    run_id = new_run_id(started, scheduled_time=scheduled_time)
    record = RunRecord(
        job=JOB,
        run_id=run_id,
        trigger=trigger,
        started_at=started,
        parameters={"sample": str(sample), "seed": str(seed), **(parameters or {})},
    )
    if not runs.create(record, stale_before=started - timedelta(seconds=_STALE_RUN_S)):
        return AuditRun(run_id, None)  # a duplicate delivery of this schedule slot
    try:
        probes: list[Probe] = []
        samples: list[ShopSample] = []
        for shop in dict.fromkeys(shops):
            found = candidates.read(shop)
            # The default shop's draw is the one a seed always gave; another shop's is its own.
            drawn = draw_sample(found, sample, random.Random(f"{seed}/{shop}" if shop else seed))
            probes += drawn
            samples.append(ShopSample(shop, len(drawn), found.whole_catalogue))
        report = audit_prices(probes, served=served, quotes=quotes, seed=seed, endpoint_of=endpoint_of)
    except Exception as error:
        runs.finish_audit(
            JOB, run_id, audit=None, ended_at=datetime.now(UTC), error=f"{type(error).__name__}: {error}"
        )
        raise
    report = replace(report, run_id=run_id, shops=tuple(samples))
    failure = None
    unchecked = report.unchecked
    if not probes:
        failure = "nothing to sample: the shop database has no customers, products or currencies"
    elif report.nothing_quoted:
        failure = "BC quoted none of the sample: " + "; ".join(report.quote_errors)
    elif unchecked:
        failure = "; ".join(
            f"BC quoted none of endpoint {name}'s sample: " + "; ".join(report.endpoint_errors.get(name, ()))
            for name in unchecked
        )
    runs.finish_audit(JOB, run_id, audit=report.as_dict(), ended_at=datetime.now(UTC), error=failure)
    return AuditRun(run_id, report, failure)


def last_run_summary(record: RunRecord | None) -> str:
    """One line on an audit's run for the job lists (the audit is no job file of mappings/)."""
    if record is None:
        return "no run yet"
    head = f"last run {record.run_id} {record.status.value}"
    served = (record.audit or {}).get("served")
    if record.error:
        return f"{head}: {record.error}"
    if not isinstance(served, dict):
        return head
    compared = served["matches"] + served["mismatches"]
    return (
        f"{head}: {served['mismatches']} of {compared} served prices differ ({served['mismatch_rate']:g} %)"
    )
