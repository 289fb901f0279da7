"""The emulated Business Central's data: a deterministic data set, generated from a seed.

``Dataset.generate(seed=1, products=1000, customers=50, *, reference_date=date(2026, 1, 1))``
    Same arguments → same data (one ``random.Random(seed)``, no global random). 1000 products /
    50 customers take about 30 ms; 100,000 products about 2 s.

The ERP's behaviour on top of it (prices, orders, documents, PDFs, batch exports) is
:class:`bc_emulator.business_central.BusinessCentral`.
"""

from __future__ import annotations

import gc
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from bc_emulator import _names
from bc_emulator._model import (
    DOC_CREDIT,
    DOC_INVOICE,
    DOC_OPEN_ORDER,
    DOC_SHIPMENT,
    DOCUMENT_TYPES,
    SALES_TYPE_ALL,
    SALES_TYPE_CUSTOMER,
    SALES_TYPE_DISC_GROUP,
    SALES_TYPE_PRICE_GROUP,
    ZERO,
    BcError,
    Category,
    Contact,
    Country,
    Currency,
    Customer,
    DocumentLine,
    InvoiceDiscountTier,
    Item,
    ItemUnit,
    Language,
    LineDiscount,
    Location,
    Manufacturer,
    Row,
    SalesDocument,
    SalesPrice,
    ShipToAddress,
    UnitOfMeasure,
    VariantGroup,
    VariantOption,
    fmt_bool,
    fmt_date,
    fmt_number,
    mix,
    money,
)

__all__ = [
    "DOCUMENT_TYPES",
    "DOC_CREDIT",
    "DOC_INVOICE",
    "DOC_OPEN_ORDER",
    "DOC_SHIPMENT",
    "BcError",
    "Dataset",
    "DocumentLine",
    "Row",
    "SalesDocument",
    "fmt_bool",
    "fmt_date",
    "fmt_number",
]

DEFAULT_REFERENCE_DATE = date(2026, 1, 1)
LCY = "EUR"
HOME_COUNTRY = "DE"
ANONYMOUS_KEYS = frozenset({"", "anonymous"})

# Customer price groups: code → (description, prices in this group include VAT).
PRICE_GROUPS: dict[str, tuple[str, bool]] = {
    "RETAIL": ("Retail customers (prices incl. VAT)", True),
    "WHOLESALE": ("Wholesale", False),
    "DEALER": ("Dealers", False),
    "VIP": ("Key accounts", False),
}
PRICE_GROUP_FACTORS = {"RETAIL": (95, 99), "WHOLESALE": (82, 90), "DEALER": (76, 85), "VIP": (70, 80)}
CUSTOMER_DISC_GROUPS = ("SMALL", "MEDIUM", "LARGE")
ITEM_DISC_GROUPS = ("A", "B", "C")
DISC_GROUP_MATRIX: dict[tuple[str, str], int] = {
    ("LARGE", "A"): 10,
    ("LARGE", "B"): 7,
    ("LARGE", "C"): 5,
    ("MEDIUM", "A"): 6,
    ("MEDIUM", "B"): 4,
    ("SMALL", "A"): 2,
}
INVOICE_DISCOUNTS: dict[str, list[tuple[int, int]]] = {
    "STD": [(0, 0), (2000, 2)],
    "LARGE": [(0, 0), (1000, 2), (5000, 5)],
}


# --- the data set --------------------------------------------------------------------------------


@dataclass
class Dataset:
    """Everything the emulated BC company holds. Build with ``Dataset.generate``."""

    seed: int
    reference_date: date
    languages: list[Language]
    currencies: dict[str, Currency]
    countries: dict[str, Country]
    units: dict[str, UnitOfMeasure]
    locations: list[Location]
    manufacturers: list[Manufacturer]
    categories: list[Category]
    variant_groups: dict[str, VariantGroup]
    variant_options: dict[str, VariantOption]
    items: list[Item]
    customers: list[Customer]
    sales_prices: dict[str, list[SalesPrice]]  # item no → its price list lines
    item_line_discounts: dict[str, list[LineDiscount]]  # item no → item-level line discounts
    group_line_discounts: dict[str, list[LineDiscount]]  # item disc group → group-level line discounts
    invoice_discounts: dict[str, list[InvoiceDiscountTier]]
    lcy_code: str = LCY
    home_country: str = HOME_COUNTRY
    item_by_no: dict[str, Item] = field(default_factory=dict, repr=False)
    customer_by_no: dict[str, Customer] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.item_by_no = {it.no: it for it in self.items}
        self.customer_by_no = {c.no: c for c in self.customers}

    @property
    def default_language(self) -> Language:
        return self.languages[0]

    # -- lookups -----------------------------------------------------------------------------------

    def find_item(self, product_id: str, product_number: str = "") -> Item | None:
        item = self.item_by_no.get(product_id) or self.item_by_no.get(product_number)
        if item is None and product_id:
            item = self.item_by_no.get(product_id.upper())
        return item

    def find_customer(self, customer_no: str | None) -> Customer | None:
        if not customer_no or customer_no.strip().lower() in ANONYMOUS_KEYS:
            return None
        return self.customer_by_no.get(customer_no.strip())

    def stock(self, item: Item, variant_id: str = "", location: Location | None = None) -> Decimal:
        """Stock in base units at one location (None = all), derived from (seed, item, variant) so
        it costs no memory. A master with variants has the sum of its variants' stock."""
        if item.item_type != 0:
            return ZERO
        if not variant_id and item.variant_ids:
            return Decimal(sum(self._variant_stock(item, v, location) for v in item.variant_ids))
        return Decimal(self._variant_stock(item, variant_id, location))

    def location_stock(self, item: Item, variant_id: str = "") -> list[int]:
        """Base-unit stock of one item/variant per location, in ``locations`` order."""
        variant_index = item.variant_ids.index(variant_id) + 1 if variant_id in item.variant_ids else 0
        h = mix(self.seed, (item.index << 8) | variant_index)
        result = []
        for k in range(len(self.locations)):
            if k and k % 3 == 0:
                h = mix(h, k)
            part = (h >> (21 * (k % 3))) & 0x1FFFFF
            # about one in ten is out of stock at a location
            result.append(0 if part % 10 == 0 else (part >> 4) % 250)
        return result

    def _variant_stock(self, item: Item, variant_id: str, location: Location | None) -> int:
        per_location = self.location_stock(item, variant_id)
        if location is None:
            return sum(per_location)
        return per_location[self.locations.index(location)]

    def vat_pct(self, item: Item, country_code: str | None, posting_group: str | None = None) -> Decimal:
        """VAT % of ``item`` sold with this VAT country and business posting group (empty: the
        country's own group): DOMESTIC charges the home country's rate, EU the VAT country's
        (destination VAT), EXPORT none."""
        return self.vat_rate(item.vat_prod_posting_group, country_code, posting_group)

    def vat_rate(
        self, product_group: str, country_code: str | None, posting_group: str | None = None
    ) -> Decimal:
        """:meth:`vat_pct` for a VAT product posting group (STANDARD, REDUCED)."""
        country = self.countries.get((country_code or "").upper()) or self.countries[self.home_country]
        group = (posting_group or country.vat_bus_posting_group).upper()
        if group == "EXPORT":
            return ZERO
        if group == "DOMESTIC":
            country = self.countries[self.home_country]
        return country.vat_rates.get(product_group, ZERO)

    # -- generation --------------------------------------------------------------------------------

    @classmethod
    def generate(
        cls,
        seed: int = 1,
        products: int = 1000,
        customers: int = 50,
        *,
        reference_date: date = DEFAULT_REFERENCE_DATE,
    ) -> Dataset:
        """Build the company's data. Deterministic: the same arguments give the same data."""
        if products < 1 or customers < 1:
            raise ValueError("products and customers must be at least 1")
        # Generation allocates millions of small objects and frees none: the cyclic GC would only
        # rescan them over and over (a third of the time at 100,000 products).
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return _Generator(seed, products, customers, reference_date).build()
        finally:
            if gc_was_enabled:
                gc.enable()


class _Generator:
    def __init__(self, seed: int, products: int, customers: int, reference_date: date) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.n_products = products
        self.n_customers = customers
        self.ref = reference_date
        self.price_seq = itertools.count(1)
        self.disc_seq = itertools.count(1)

    def _price_id(self) -> str:
        return f"SP{next(self.price_seq):07d}"

    def _disc_id(self) -> str:
        return f"LD{next(self.disc_seq):07d}"

    def _all_customers_price(self, item_no: str, amount: Decimal, **terms: Any) -> SalesPrice:
        """A price list line for every customer (sales type All), rounded to the cent."""
        return SalesPrice(self._price_id(), item_no, SALES_TYPE_ALL, "", money(amount), **terms)

    def build(self) -> Dataset:
        languages = [
            Language("ENU", "en", "English", "English"),
            Language("DAN", "da", "Danish", "Dansk"),
            Language("DEU", "de", "German", "Deutsch"),
        ]
        self.lang_codes = [lang.code for lang in languages]
        currencies = {
            c.code: c
            for c in [
                Currency("EUR", "Euro", "€", Decimal(1)),
                Currency("USD", "US dollar", "$", Decimal("1.0850")),
                Currency("GBP", "British pound", "£", Decimal("0.8550")),
                Currency("DKK", "Danish krone", "kr.", Decimal("7.4600")),
                Currency("SEK", "Swedish krona", "kr", Decimal("11.2000")),
                Currency("NOK", "Norwegian krone", "kr", Decimal("11.7000")),
                Currency("CHF", "Swiss franc", "CHF", Decimal("0.9400")),
            ]
        }

        def rates(std: str, red: str) -> dict[str, Decimal]:
            return {"STANDARD": Decimal(std), "REDUCED": Decimal(red)}

        countries = {
            c.code2: c
            for c in [
                Country("DE", "DEU", "276", "Germany", "EUR", "de-DE", "DOMESTIC", rates("19", "7")),
                Country("DK", "DNK", "208", "Denmark", "DKK", "da-DK", "EU", rates("25", "25")),
                Country("NL", "NLD", "528", "Netherlands", "EUR", "nl-NL", "EU", rates("21", "9")),
                Country("FR", "FRA", "250", "France", "EUR", "fr-FR", "EU", rates("20", "5.5")),
                Country("SE", "SWE", "752", "Sweden", "SEK", "sv-SE", "EU", rates("25", "12")),
                Country("AT", "AUT", "040", "Austria", "EUR", "de-AT", "EU", rates("20", "10")),
                Country("BE", "BEL", "056", "Belgium", "EUR", "nl-BE", "EU", rates("21", "6")),
                Country("GB", "GBR", "826", "United Kingdom", "GBP", "en-GB", "EXPORT", rates("0", "0")),
                Country("NO", "NOR", "578", "Norway", "NOK", "nb-NO", "EXPORT", rates("0", "0")),
                Country("CH", "CHE", "756", "Switzerland", "CHF", "de-CH", "EXPORT", rates("0", "0")),
                Country(
                    "US",
                    "USA",
                    "840",
                    "United States",
                    "USD",
                    "en-US",
                    "EXPORT",
                    rates("0", "0"),
                    Decimal("7.25"),
                ),
            ]
        }
        self.country_codes = list(countries)
        units = {
            u.code: u
            for u in [
                UnitOfMeasure("PCS", {"ENU": "Piece", "DAN": "Stk.", "DEU": "Stück"}),
                UnitOfMeasure("PACK", {"ENU": "Pack", "DAN": "Pakke", "DEU": "Packung"}),
                UnitOfMeasure("BOX", {"ENU": "Box", "DAN": "Kasse", "DEU": "Karton"}),
                UnitOfMeasure("PALLET", {"ENU": "Pallet", "DAN": "Palle", "DEU": "Palette"}),
            ]
        }
        locations = [
            Location(1, "MAIN", "Main warehouse"),
            Location(2, "EAST", "East warehouse"),
            Location(3, "WEST", "West warehouse"),
        ]
        manufacturers = self._manufacturers()
        categories, leaves = self._categories()
        variant_groups, variant_options = self._variants()
        sales_prices: dict[str, list[SalesPrice]] = {}
        item_discounts: dict[str, list[LineDiscount]] = {}
        items = self._items(leaves, manufacturers, variant_groups, sales_prices, item_discounts)
        group_discounts = self._group_discounts()
        customers = self._customers(items, sales_prices, item_discounts)
        invoice_discounts = {
            code: [InvoiceDiscountTier(code, Decimal(amount), Decimal(pct)) for amount, pct in tiers]
            for code, tiers in INVOICE_DISCOUNTS.items()
        }
        return Dataset(
            seed=self.seed,
            reference_date=self.ref,
            languages=languages,
            currencies=currencies,
            countries=countries,
            units=units,
            locations=locations,
            manufacturers=manufacturers,
            categories=categories,
            variant_groups=variant_groups,
            variant_options=variant_options,
            items=items,
            customers=customers,
            sales_prices=sales_prices,
            item_line_discounts=item_discounts,
            group_line_discounts=group_discounts,
            invoice_discounts=invoice_discounts,
        )

    def _names3(self, words: tuple[str, str, str]) -> dict[str, str]:
        return dict(zip(self.lang_codes, words, strict=True))

    def _manufacturers(self) -> list[Manufacturer]:
        rng = self.rng
        count = max(10, min(200, self.n_products // 50))
        result = []
        for i in range(count):
            base = _names.COMPANY_FIRST[i % len(_names.COMPANY_FIRST)]
            suffix = "" if i < len(_names.COMPANY_FIRST) else f" {i // len(_names.COMPANY_FIRST) + 1}"
            country = rng.choice(self.country_codes)
            zip_code, city = rng.choice(_names.CITIES[country])
            slug = base.lower().replace(" ", "").replace("'", "") + suffix.strip()
            result.append(
                Manufacturer(
                    id=f"MANU{i + 1:04d}",
                    name=f"{base} Manufacturing{suffix}",
                    city=city,
                    zip=zip_code,
                    country=country,
                    phone=f"+{rng.randint(10, 99)} {rng.randint(1000000, 9999999)}",
                    email=f"sales@{slug}.example",
                    web=f"https://www.{slug}.example",
                )
            )
        return result

    def _categories(self) -> tuple[list[Category], list[tuple[str, list[tuple[str, str, str]]]]]:
        categories: list[Category] = []
        leaves: list[tuple[str, list[tuple[str, str, str]]]] = []
        n = itertools.count(1)
        for top_sort, (top_names, children) in enumerate(_names.CATEGORY_TREE, start=1):
            top_no = next(n)
            top_id = f"GROUP{top_no}"
            categories.append(Category(top_id, f"{top_no:03d}", self._names3(top_names), "", top_sort * 10))
            for child_sort, (child_names, nouns) in enumerate(children, start=1):
                child_no = next(n)
                child_id = f"GROUP{child_no}"
                categories.append(
                    Category(child_id, f"{child_no:03d}", self._names3(child_names), top_id, child_sort * 10)
                )
                if len(nouns) > 1:
                    # A third level: one sub-category per noun, so the tree is three deep in places.
                    for leaf_sort, noun in enumerate(nouns, start=1):
                        leaf_no = next(n)
                        leaf_id = f"GROUP{leaf_no}"
                        categories.append(
                            Category(leaf_id, f"{leaf_no:03d}", self._names3(noun), child_id, leaf_sort * 10)
                        )
                        leaves.append((leaf_id, [noun]))
                else:
                    leaves.append((child_id, nouns))
        return categories, leaves

    def _variants(self) -> tuple[dict[str, VariantGroup], dict[str, VariantOption]]:
        groups: dict[str, VariantGroup] = {}
        options: dict[str, VariantOption] = {}
        for group_id, group_names, opts in _names.VARIANT_GROUPS:
            groups[group_id] = VariantGroup(group_id, self._names3(group_names), tuple(o[0] for o in opts))
            for option_id, option_names, color in opts:
                options[option_id] = VariantOption(option_id, group_id, self._names3(option_names), color)
        return groups, options

    def _price_lines(
        self,
        item: Item,
        rand: Callable[[], float],
        randrange: Callable[..., int],
        sample: Callable[[Sequence[str], int], list[str]],
    ) -> list[SalesPrice]:
        """The item's price list lines (its draws come from the same stream as the item's)."""
        ref = self.ref
        no, unit_price, units, variant_ids = item.no, item.unit_price, item.units, item.variant_ids
        group_codes = list(PRICE_GROUPS)
        lines: list[SalesPrice] = []
        if rand() < 0.25:  # an all-customers special price, often a dated campaign
            dated = rand() < 0.5
            start = ref - timedelta(days=randrange(0, 90)) if dated else None
            end = ref + timedelta(days=randrange(30, 900)) if dated else None
            percent = (85, 90, 95)[randrange(3)]
            lines.append(
                self._all_customers_price(
                    no, unit_price * percent / 100, starting_date=start, ending_date=end
                )
            )
        if rand() < 0.05:  # a campaign that has not started yet
            lines.append(
                self._all_customers_price(
                    no,
                    unit_price * 60 / 100,
                    starting_date=ref + timedelta(days=3650),
                    ending_date=ref + timedelta(days=3680),
                )
            )
        if rand() < 0.3:  # quantity breaks for everybody
            for min_qty, percent in ((10, 95), (50, 90), (100, 86))[: randrange(1, 4)]:
                lines.append(
                    self._all_customers_price(
                        no, unit_price * percent / 100, minimum_quantity=Decimal(min_qty)
                    )
                )
        if rand() < 0.45:  # customer price group prices
            for code in sample(group_codes, randrange(1, 3)):
                lo, hi = PRICE_GROUP_FACTORS[code]
                factor = Decimal(randrange(lo, hi + 1)) / 100
                incl_vat = PRICE_GROUPS[code][1]
                amount = unit_price * factor
                if incl_vat:
                    vat = Decimal(7 if item.vat_prod_posting_group == "REDUCED" else 19)
                    amount = amount * (100 + vat) / 100
                lines.append(
                    SalesPrice(
                        self._price_id(),
                        no,
                        SALES_TYPE_PRICE_GROUP,
                        code,
                        money(amount),
                        price_includes_vat=incl_vat,
                        allow_line_disc=code != "VIP",
                    )
                )
        r = rand()
        if r < 0.1:  # prices fixed in a foreign currency
            lines.append(
                self._all_customers_price(
                    no, unit_price * Decimal("1.0850") * Decimal("0.97"), currency_code="USD"
                )
            )
        if r < 0.05:
            lines.append(
                self._all_customers_price(
                    no, unit_price * Decimal("0.8550") * Decimal("0.98"), currency_code="GBP"
                )
            )
        box = next((u for u in units if u.code == "BOX"), None)
        if box is not None and rand() < 0.5:  # a cheaper price per box
            lines.append(
                self._all_customers_price(no, unit_price * box.qty_per_unit * Decimal("0.9"), unit_code="BOX")
            )
        if variant_ids and rand() < 0.25:  # the last variant (e.g. XL, oak) costs more
            lines.append(
                self._all_customers_price(no, unit_price * Decimal("1.1"), variant_id=variant_ids[-1])
            )
        return lines

    def _items(
        self,
        leaves: list[tuple[str, list[tuple[str, str, str]]]],
        manufacturers: list[Manufacturer],
        variant_groups: dict[str, VariantGroup],
        sales_prices: dict[str, list[SalesPrice]],
        item_discounts: dict[str, list[LineDiscount]],
    ) -> list[Item]:
        rng = self.rng
        rand = rng.random

        def randrange(start: int, stop: int | None = None) -> int:
            # random.randrange costs ~1 µs a call; this is 5x cheaper and just as deterministic.
            if stop is None:
                return int(rand() * start)
            return start + int(rand() * (stop - start))

        def sample(population: Sequence[str], k: int) -> list[str]:
            return sorted(population, key=lambda _: rand())[:k]

        lang_codes = self.lang_codes
        adjectives = _names.ADJECTIVES
        models = _names.MODEL_NAMES
        n_products = self.n_products
        n_manu = len(manufacturers)
        n_leaves = len(leaves)
        variant_patterns = [("COLOR",), ("SIZE",), ("COLOR", "SIZE"), ("MATERIAL",), ("COLOR", "MATERIAL")]
        items: list[Item] = []
        pcs = ItemUnit("PCS", 1)
        for i in range(n_products):
            no = f"P{i + 1:06d}"
            leaf_id, nouns = leaves[randrange(n_leaves)]
            noun = nouns[randrange(len(nouns))]
            adj = adjectives[randrange(len(adjectives))]
            model = models[randrange(len(models))]
            names = {lang: f"{adj[k]} {noun[k]} {model}" for k, lang in enumerate(lang_codes)}
            cents = randrange(199, 50000)
            unit_price = Decimal(cents).scaleb(-2)
            unit_cost = Decimal(cents * randrange(45, 75) // 100).scaleb(-2)
            units = [pcs]
            r = rand()
            if r < 0.2:
                units.append(ItemUnit("PACK", 6))
            if r < 0.45:
                units.append(ItemUnit("BOX", (10, 12, 24)[randrange(3)]))
            if r < 0.05:
                units.append(ItemUnit("PALLET", 480))
            category_ids: tuple[str, ...] = (leaf_id,)
            if rand() < 0.1:
                other = leaves[randrange(n_leaves)][0]
                if other != leaf_id:
                    category_ids = (leaf_id, other)
            variant_group_ids: tuple[str, ...] = ()
            variant_ids: tuple[str, ...] = ()
            if rand() < 0.3:
                variant_group_ids = variant_patterns[randrange(len(variant_patterns))]
                chosen: list[list[str]] = []
                for gid in variant_group_ids:
                    all_opts = variant_groups[gid].options
                    k = randrange(2, len(all_opts) + 1)
                    picked = set(sample(all_opts, k))
                    chosen.append([o for o in all_opts if o in picked])
                variant_ids = tuple(".".join(combo) for combo in itertools.product(*chosen))
            related: tuple[str, ...] = ()
            if rand() < 0.2 and n_products > 1:
                related = tuple(
                    dict.fromkeys(
                        f"P{j + 1:06d}"
                        for j in (randrange(n_products) for _ in range(randrange(1, 4)))
                        if j != i
                    )
                )
            item = Item(
                index=i,
                no=no,
                names=names,
                unit_price=unit_price,
                unit_cost=unit_cost,
                base_unit="PCS",
                units=tuple(units),
                category_ids=category_ids,
                manufacturer_id=manufacturers[randrange(n_manu)].id,
                vat_prod_posting_group="REDUCED" if rand() < 0.1 else "STANDARD",
                item_disc_group=ITEM_DISC_GROUPS[randrange(3)],
                weight=Decimal(randrange(1, 5000)).scaleb(-2),
                ean=f"57{mix(self.seed, i) % 10**11:011d}",
                item_type=1 if rand() < 0.02 else 0,
                variant_group_ids=variant_group_ids,
                variant_ids=variant_ids,
                related_item_nos=related,
                blocked=rand() < 0.005,
            )
            items.append(item)

            lines = self._price_lines(item, rand, randrange, sample)
            if lines:
                sales_prices[no] = lines
            if rand() < 0.1:  # an item line discount for the MEDIUM group from 20 units
                item_discounts.setdefault(no, []).append(
                    LineDiscount(
                        self._disc_id(),
                        SALES_TYPE_DISC_GROUP,
                        "MEDIUM",
                        item_no=no,
                        discount_pct=Decimal(8),
                        minimum_quantity=Decimal(20),
                    )
                )
        return items

    def _group_discounts(self) -> dict[str, list[LineDiscount]]:
        result: dict[str, list[LineDiscount]] = {}
        for (cust_group, item_group), pct in DISC_GROUP_MATRIX.items():
            result.setdefault(item_group, []).append(
                LineDiscount(
                    self._disc_id(),
                    SALES_TYPE_DISC_GROUP,
                    cust_group,
                    item_disc_group=item_group,
                    discount_pct=Decimal(pct),
                )
            )
        result.setdefault("C", []).append(
            LineDiscount(
                self._disc_id(),
                SALES_TYPE_ALL,
                "",
                item_disc_group="C",
                discount_pct=Decimal(3),
                minimum_quantity=Decimal(100),
            )
        )
        return result

    def _customers(
        self,
        items: list[Item],
        sales_prices: dict[str, list[SalesPrice]],
        item_discounts: dict[str, list[LineDiscount]],
    ) -> list[Customer]:
        rng = self.rng
        country_weights = {
            "DE": 40,
            "DK": 10,
            "NL": 8,
            "FR": 6,
            "SE": 6,
            "AT": 6,
            "BE": 4,
            "GB": 8,
            "NO": 4,
            "CH": 3,
            "US": 5,
        }
        countries = list(country_weights)
        weights = list(country_weights.values())
        language_by_country = {"DE": "DEU", "AT": "DEU", "CH": "DEU", "DK": "DAN"}
        currency_by_country = {"DK": "DKK", "SE": "SEK", "GB": "GBP", "NO": "NOK", "CH": "CHF", "US": "USD"}
        contact_seq = itertools.count(1)
        customers: list[Customer] = []
        used_names: set[str] = set()
        n_items = len(items)
        for i in range(self.n_customers):
            no = str(10000 + 10 * i)
            country = rng.choices(countries, weights)[0]
            zip_code, city = rng.choice(_names.CITIES[country])
            name = f"{rng.choice(_names.COMPANY_FIRST)} {rng.choice(_names.COMPANY_SUFFIX)}"
            if name in used_names:
                name = f"{name} {city}"
            used_names.add(name)
            slug = "".join(ch for ch in name.lower() if ch.isalnum())[:20] + str(i)
            currency = currency_by_country.get(country, "") if rng.random() < 0.6 else ""
            price_group = rng.choices(["", "RETAIL", "WHOLESALE", "DEALER", "VIP"], [30, 20, 25, 15, 10])[0]
            contacts = tuple(
                Contact(
                    no=f"CT{next(contact_seq):06d}",
                    customer_no=no,
                    first_name=(first := rng.choice(_names.FIRST_NAMES)),
                    last_name=(last := rng.choice(_names.LAST_NAMES)),
                    email=f"{first.lower()}.{last.lower()}@{slug}.example".replace("ü", "ue"),
                    phone=f"+{rng.randint(10, 99)} {rng.randint(1000000, 9999999)}",
                    job_title=rng.choice(_names.JOB_TITLES),
                )
                for _ in range(rng.randint(1, 3))
            )
            ship_to = tuple(
                ShipToAddress(
                    customer_no=no,
                    code=code,
                    name=f"{name} – {code.title()}",
                    address=f"{rng.randint(1, 200)} {rng.choice(_names.STREETS)}",
                    address2="",
                    zip=(addr := rng.choice(_names.CITIES[country]))[0],
                    city=addr[1],
                    country_code=country,
                    phone=f"+{rng.randint(10, 99)} {rng.randint(1000000, 9999999)}",
                    email=f"goods-in@{slug}.example",
                )
                for code in _names.SHIP_TO_CODES[: rng.randint(0, 3)]
            )
            customer = Customer(
                index=i,
                no=no,
                name=name,
                address=f"{rng.randint(1, 200)} {rng.choice(_names.STREETS)}",
                address2=rng.choice(["", "", "", "Building B", "2nd floor"]),
                zip=zip_code,
                city=city,
                country_code=country,
                email=f"info@{slug}.example",
                phone=f"+{rng.randint(10, 99)} {rng.randint(1000000, 9999999)}",
                currency_code=currency,
                price_group=price_group,
                disc_group=rng.choices(["", *CUSTOMER_DISC_GROUPS], [40, 25, 20, 15])[0],
                invoice_disc_code=rng.choices(["", "STD", "LARGE"], [50, 35, 15])[0],
                allow_line_disc=rng.random() < 0.95,
                language_code=language_by_country.get(country, "ENU"),
                contacts=contacts,
                ship_to=ship_to,
                blocked=False,
            )
            # Draw of a payment-terms field that was never used: kept so the seeded data is unchanged.
            rng.choice(["14 DAYS", "30 DAYS", "1M(8D)"])
            customers.append(customer)
            # Customer-specific agreements: net prices on some items, line discounts on others.
            for _ in range(min(n_items, rng.randint(5, 25))):
                item = items[rng.randrange(n_items)]
                factor = Decimal(rng.randint(70, 90)) / 100
                sales_prices.setdefault(item.no, []).append(
                    SalesPrice(
                        self._price_id(),
                        item.no,
                        SALES_TYPE_CUSTOMER,
                        no,
                        money(item.unit_price * factor),
                        minimum_quantity=Decimal(rng.choice([0, 0, 0, 5, 25])),
                    )
                )
            for _ in range(min(n_items, 3)):
                item = items[rng.randrange(n_items)]
                item_discounts.setdefault(item.no, []).append(
                    LineDiscount(
                        self._disc_id(),
                        SALES_TYPE_CUSTOMER,
                        no,
                        item_no=item.no,
                        discount_pct=Decimal(rng.choice([5, 12, 15])),
                    )
                )
        return customers
