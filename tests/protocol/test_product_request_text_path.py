"""The product-info request has two writers: a text template for the usual request (the live price
path builds one per cache miss) and lxml for everything else. They must write the same bytes."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from erpbridge.protocol import request_builders
from erpbridge.protocol.request_builders import ProductQuery, build_product_info_request
from erpbridge.protocol.xmlsafe import parse_xml

# Plain and non-ASCII text is the text writer's case; characters XML must escape send the request
# to the lxml writer.
PLAIN = "AZaz09-_. /'æøåé€"
WITH_ESCAPES = PLAIN + '&<>"'


def random_text(rng: random.Random, alphabet: str, *, allow_empty: bool = True) -> str:
    length = rng.randint(0 if allow_empty else 1, 8)
    return "".join(rng.choice(alphabet) for _ in range(length))


def random_query(rng: random.Random, alphabet: str) -> ProductQuery:
    return ProductQuery(
        product_id=random_text(rng, alphabet, allow_empty=False),
        variant_id=random_text(rng, alphabet),
        number=rng.choice([None, random_text(rng, alphabet)]),
        unit_id=random_text(rng, alphabet),
        language_id=random_text(rng, alphabet),
        quantity=rng.choice([1, 2, Decimal("2.5"), Decimal("10.004"), 0.5]),
    )


def build_both(
    monkeypatch: pytest.MonkeyPatch, queries: list[ProductQuery], **options: Any
) -> tuple[bytes, bytes, bool]:
    """(request as built, request built by lxml alone, whether the text writer wrote the first)."""
    options.setdefault("anonymous_user_key", "Anonymous")
    text_writer = request_builders._product_info_text
    used: list[bool] = []

    def spy(*args: Any, **kwargs: Any) -> bytes | None:
        written = text_writer(*args, **kwargs)
        used.append(written is not None)
        return written

    with monkeypatch.context() as patched:
        patched.setattr(request_builders, "_product_info_text", spy)
        built = build_product_info_request(queries, **options)
        patched.setattr(request_builders, "_product_info_text", lambda *args, **kwargs: None)
        by_lxml = build_product_info_request(queries, **options)
    return built, by_lxml, used == [True]


@pytest.mark.parametrize("seed", range(40))
def test_text_writer_and_lxml_writer_agree(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    rng = random.Random(seed)
    alphabet = WITH_ESCAPES if seed % 4 == 0 else PLAIN
    queries = [random_query(rng, alphabet) for _ in range(rng.randint(1, 6))]
    built, by_lxml, text_written = build_both(
        monkeypatch,
        queries,
        customer_number=rng.choice([None, random_text(rng, alphabet, allow_empty=False)]),
        currency_code=random_text(rng, alphabet),
        vat_country_code=random_text(rng, alphabet),
        vat_posting_group=random_text(rng, alphabet),
        unit_prices=rng.choice([True, False]),
    )
    assert built == by_lxml
    if alphabet == PLAIN:
        assert text_written, (
            "plain requests must take the text writer, or this test compares lxml with itself"
        )


def test_escaped_values_reach_the_erp_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    query = ProductQuery(product_id='A&B<"1">', variant_id="V>1", unit_id="PCS")
    built, by_lxml, _ = build_both(monkeypatch, [query], customer_number="C&1")
    assert built == by_lxml
    root = parse_xml(built)
    assert root.get("ExternalUserId") == "C&1"
    assert root.findtext("tables/Products/Product/ProductId") == 'A&B<"1">'
    assert root.findtext("tables/Products/Product/ProductVariantId") == "V>1"
