"""Word lists for the generated data set (English, Danish, German), so names look like a real catalogue."""

from __future__ import annotations

# Category tree: (top-level names per language, [(child names, [grandchild nouns …]), …]).
# Each leaf carries nouns (per language) used to name the items filed under it.
CATEGORY_TREE: list[
    tuple[tuple[str, str, str], list[tuple[tuple[str, str, str], list[tuple[str, str, str]]]]]
] = [
    (
        ("Furniture", "Møbler", "Möbel"),
        [
            (("Chairs", "Stole", "Stühle"), [("Chair", "Stol", "Stuhl"), ("Stool", "Taburet", "Hocker")]),
            (("Desks", "Skriveborde", "Schreibtische"), [("Desk", "Skrivebord", "Schreibtisch")]),
            (
                ("Tables", "Borde", "Tische"),
                [("Table", "Bord", "Tisch"), ("Side Table", "Sidebord", "Beistelltisch")],
            ),
            (
                ("Storage", "Opbevaring", "Aufbewahrung"),
                [("Shelf", "Reol", "Regal"), ("Cabinet", "Skab", "Schrank")],
            ),
        ],
    ),
    (
        ("Lighting", "Belysning", "Beleuchtung"),
        [
            (("Desk Lamps", "Bordlamper", "Tischlampen"), [("Desk Lamp", "Bordlampe", "Tischlampe")]),
            (("Floor Lamps", "Gulvlamper", "Stehlampen"), [("Floor Lamp", "Gulvlampe", "Stehlampe")]),
            (("Bulbs", "Pærer", "Leuchtmittel"), [("LED Bulb", "LED-pære", "LED-Lampe")]),
        ],
    ),
    (
        ("Office Supplies", "Kontorartikler", "Büromaterial"),
        [
            (
                ("Paper", "Papir", "Papier"),
                [("Copy Paper", "Kopipapir", "Kopierpapier"), ("Notebook", "Notesbog", "Notizbuch")],
            ),
            (
                ("Writing", "Skriveredskaber", "Schreibgeräte"),
                [("Pen", "Kuglepen", "Kugelschreiber"), ("Marker", "Tusch", "Marker")],
            ),
            (
                ("Filing", "Arkivering", "Ablage"),
                [("Binder", "Ringbind", "Ordner"), ("Folder", "Mappe", "Mappe")],
            ),
        ],
    ),
    (
        ("Electronics", "Elektronik", "Elektronik"),
        [
            (("Monitors", "Skærme", "Monitore"), [("Monitor", "Skærm", "Monitor")]),
            (
                ("Keyboards", "Tastaturer", "Tastaturen"),
                [("Keyboard", "Tastatur", "Tastatur"), ("Mouse", "Mus", "Maus")],
            ),
            (
                ("Cables", "Kabler", "Kabel"),
                [("USB Cable", "USB-kabel", "USB-Kabel"), ("Adapter", "Adapter", "Adapter")],
            ),
            (
                ("Audio", "Lyd", "Audio"),
                [("Headset", "Headset", "Headset"), ("Speaker", "Højttaler", "Lautsprecher")],
            ),
        ],
    ),
    (
        ("Outdoor", "Udendørs", "Outdoor"),
        [
            (
                ("Garden Furniture", "Havemøbler", "Gartenmöbel"),
                [("Garden Chair", "Havestol", "Gartenstuhl"), ("Parasol", "Parasol", "Sonnenschirm")],
            ),
            (("Grills", "Grill", "Grills"), [("Grill", "Grill", "Grill")]),
        ],
    ),
    (
        ("Kitchen", "Køkken", "Küche"),
        [
            (
                ("Coffee", "Kaffe", "Kaffee"),
                [("Coffee Maker", "Kaffemaskine", "Kaffeemaschine"), ("Mug", "Krus", "Becher")],
            ),
            (("Cookware", "Gryder", "Kochgeschirr"), [("Pan", "Pande", "Pfanne"), ("Pot", "Gryde", "Topf")]),
        ],
    ),
]

ADJECTIVES: list[tuple[str, str, str]] = [
    ("Classic", "Klassisk", "Klassisch"),
    ("Modern", "Moderne", "Modern"),
    ("Compact", "Kompakt", "Kompakt"),
    ("Ergonomic", "Ergonomisk", "Ergonomisch"),
    ("Premium", "Premium", "Premium"),
    ("Basic", "Basis", "Basis"),
    ("Deluxe", "Deluxe", "Deluxe"),
    ("Nordic", "Nordisk", "Nordisch"),
    ("Urban", "Urban", "Urban"),
    ("Solid", "Solid", "Massiv"),
    ("Light", "Let", "Leicht"),
    ("Pro", "Pro", "Profi"),
]

MODEL_NAMES = [
    "Aalborg",
    "Berlin",
    "Cadiz",
    "Dover",
    "Esbjerg",
    "Fulda",
    "Genova",
    "Hamburg",
    "Ibiza",
    "Jena",
    "Kolding",
    "Lund",
    "Malmö",
    "Nantes",
    "Odense",
    "Paris",
    "Quimper",
    "Roskilde",
    "Sevilla",
    "Toulouse",
    "Ulm",
    "Vejle",
    "Wien",
    "York",
    "Zürich",
    "Athen",
    "Bergen",
    "Calais",
    "Dublin",
    "Essen",
]

VARIANT_GROUPS: list[tuple[str, tuple[str, str, str], list[tuple[str, tuple[str, str, str], str]]]] = [
    (
        "COLOR",
        ("Color", "Farve", "Farbe"),
        [
            ("RED", ("Red", "Rød", "Rot"), "#C0392B"),
            ("BLUE", ("Blue", "Blå", "Blau"), "#2E86C1"),
            ("BLACK", ("Black", "Sort", "Schwarz"), "#000000"),
            ("WHITE", ("White", "Hvid", "Weiß"), "#FFFFFF"),
            ("GREEN", ("Green", "Grøn", "Grün"), "#239B56"),
            ("GREY", ("Grey", "Grå", "Grau"), "#808B96"),
        ],
    ),
    (
        "SIZE",
        ("Size", "Størrelse", "Größe"),
        [
            ("S", ("Small", "Lille", "Klein"), ""),
            ("M", ("Medium", "Mellem", "Mittel"), ""),
            ("L", ("Large", "Stor", "Groß"), ""),
            ("XL", ("Extra large", "Ekstra stor", "Extra groß"), ""),
        ],
    ),
    (
        "MATERIAL",
        ("Material", "Materiale", "Material"),
        [
            ("OAK", ("Oak", "Eg", "Eiche"), ""),
            ("STEEL", ("Steel", "Stål", "Stahl"), ""),
            ("PLASTIC", ("Plastic", "Plast", "Kunststoff"), ""),
        ],
    ),
]

COMPANY_FIRST = [
    "Adatum",
    "Alpine",
    "Blue Yonder",
    "Coho",
    "Contoso",
    "Fabrikam",
    "Fourth Coffee",
    "Litware",
    "Lucerne",
    "Margie's",
    "Northwind",
    "Proseware",
    "Relecloud",
    "School of Fine Art",
    "Southridge",
    "Tailspin",
    "Trey",
    "Wide World",
    "Wingtip",
    "Woodgrove",
    "Graphic Design",
    "Humongous",
]
COMPANY_SUFFIX = ["Corporation", "Ltd.", "GmbH", "A/S", "Trading", "Supplies", "Group", "& Co.", "Partners"]

FIRST_NAMES = [
    "Anna",
    "Bo",
    "Clara",
    "David",
    "Emma",
    "Frederik",
    "Greta",
    "Hans",
    "Ida",
    "Jonas",
    "Karin",
    "Lars",
    "Maria",
    "Niels",
    "Olivia",
    "Peter",
    "Rasmus",
    "Sofie",
    "Thomas",
    "Ulla",
    "Viktor",
    "Wiebke",
]
LAST_NAMES = [
    "Andersen",
    "Berg",
    "Christensen",
    "Dahl",
    "Eriksen",
    "Fischer",
    "Gruber",
    "Hansen",
    "Jensen",
    "Krüger",
    "Larsen",
    "Müller",
    "Nielsen",
    "Olsen",
    "Petersen",
    "Schmidt",
    "Schulz",
    "Weber",
]
JOB_TITLES = ["Purchaser", "Office Manager", "CEO", "Accountant", "Store Manager", "Assistant"]
STREETS = [
    "Main Street",
    "Station Road",
    "Harbour Lane",
    "Market Square",
    "Park Avenue",
    "Mill Road",
    "Church Street",
    "Lake View",
    "Industrial Park",
    "King's Road",
    "Nørregade",
    "Bahnhofstraße",
]
CITIES: dict[str, list[tuple[str, str]]] = {
    "DE": [("10115", "Berlin"), ("20095", "Hamburg"), ("80331", "München"), ("50667", "Köln")],
    "DK": [("1050", "København K"), ("8000", "Aarhus C"), ("5000", "Odense C")],
    "NL": [("1011", "Amsterdam"), ("3011", "Rotterdam")],
    "FR": [("75001", "Paris"), ("69001", "Lyon")],
    "SE": [("111 20", "Stockholm"), ("411 01", "Göteborg")],
    "AT": [("1010", "Wien"), ("8010", "Graz")],
    "BE": [("1000", "Bruxelles"), ("2000", "Antwerpen")],
    "GB": [("SW1A 1AA", "London"), ("M1 1AE", "Manchester")],
    "US": [("98052", "Redmond"), ("10001", "New York"), ("60601", "Chicago")],
    "NO": [("0150", "Oslo"), ("5003", "Bergen")],
    "CH": [("8001", "Zürich"), ("3011", "Bern")],
}
SHIP_TO_CODES = ["MAIN", "WAREHOUSE", "SOUTH", "NORTH"]
SHIPPING_AGENTS = ["DHL", "UPS", "GLS", "FEDEX"]
