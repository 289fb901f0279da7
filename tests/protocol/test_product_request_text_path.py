"""The product-info request has two writers: a text template for the usual request (the live price
path builds one per cache miss) and lxml for everything else. They must write the same bytes."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from erpbridge.protocol import request_builders
from erpbridge.protocol.request_builders import ProductQuery, build_product_info_request
from erpbridge.protocol.xmlsafe import parse_xml

# Plain characters, characters XML must escape, and non-ASCII text.
ALPHABET = "AZaz09-_. /&<>\"'æøåé€"


def random_text(rng: random.Random, *, allow_empty: bool = True) -> str:
    length = rng.randint(0 if allow_empty else 1, 8)
    return "".join(rng.choice(ALPHABET) for _ in range(length))


def random_query(rng: random.Random) -> ProductQuery:
    return ProductQuery(
        product_id=random_text(rng, allow_empty=False),
        variant_id=random_text(rng),
        number=rng.choice([None, random_text(rng)]),
        unit_id=random_text(rng),
        language_id=random_text(rng),
        quantity=rng.choice([1, 2, Decimal("2.5"), Decimal("10.004"), 0.5]),
    )


def build_both(
    monkeypatch: pytest.MonkeyPatch, queries: list[ProductQuery], **options: object
) -> tuple[bytes, bytes]:
    fast = build_product_info_request(queries, **options)  # type: ignore[arg-type]
    with monkeypatch.context() as patched:
        patched.setattr(request_builders, "_product_info_text", lambda *args, **kwargs: None)
        reference = build_product_info_request(queries, **options)  # type: ignore[arg-type]
    return fast, reference


@pytest.mark.parametrize("seed", range(40))
def test_text_writer_and_lxml_writer_agree(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    rng = random.Random(seed)
    queries = [random_query(rng) for _ in range(rng.randint(1, 6))]
    options = {
        "customer_number": rng.choice([None, random_text(rng, allow_empty=False)]),
        "currency_code": random_text(rng),
        "vat_country_code": random_text(rng),
        "vat_posting_group": random_text(rng),
        "unit_prices": rng.choice([True, False]),
    }
    fast, reference = build_both(monkeypatch, queries, **options)
    assert fast == reference


def test_escaped_values_reach_the_erp_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    query = ProductQuery(product_id='A&B<"1">', variant_id="V>1", unit_id="PCS")
    fast, reference = build_both(monkeypatch, [query], customer_number="C&1")
    assert fast == reference
    root = parse_xml(fast)
    assert root.get("ExternalUserId") == "C&1"
    assert root.findtext("tables/Products/Product/ProductId") == 'A&B<"1">'
    assert root.findtext("tables/Products/Product/ProductVariantId") == "V>1"
