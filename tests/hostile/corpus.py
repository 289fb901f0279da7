"""The hostile-file corpus: staged files built at test time (never committed), each with what the
importer must answer.

Every file is a ``tables`` document for the ``fetch-customer-data`` job (``AccessUser`` keyed by
``AccessUserExternalID``). The large cases are written in a few large writes, or as sparse files:
a hole reads as NUL bytes, which costs no disk and no time to write, and libxml2's push parser
buffers them exactly like any other content of an unterminated value, comment or name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

MiB = 1024 * 1024
JOB = "fetch-customer-data"

DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'
ROOT = b'<tables version="1.0" ExportIsDone="true">\n'
HEAD = DECLARATION + ROOT
TABLE = b'<table tableName="AccessUser">\n'
END = b"</table>\n</tables>\n"


@dataclass(frozen=True)
class Hole:
    """``size`` NUL bytes, written as a hole in a sparse file."""

    size: int


Part = bytes | Hole


def user(number: int, *, name: bytes | None = None, key: bytes | None = None) -> bytes:
    key = key if key is not None else b"C%06d" % number
    name = name if name is not None else b"User %d" % number
    return (
        b'<item table="AccessUser">'
        b'<column columnName="AccessUserExternalID"><![CDATA[' + key + b"]]></column>"
        b'<column columnName="AccessUserName"><![CDATA[' + name + b"]]></column>"
        b'<column columnName="AccessUserCustomerNumber">%d</column>'
        b"</item>\n" % number
    )


def users(count: int, start: int = 0) -> bytes:
    return b"".join(user(n) for n in range(start, start + count))


def repeated(piece: bytes, total: int) -> Iterable[bytes]:
    """``total`` bytes (rounded down to whole pieces) of ``piece`` in writes of 4 MiB."""
    block = piece * max(1, (4 * MiB) // len(piece))
    whole, rest = divmod(total // len(piece), len(block) // len(piece))
    for _ in range(whole):
        yield block
    yield piece * rest


def write(path: Path, parts: Iterable[Part]) -> Path:
    with path.open("wb") as out:
        for part in parts:
            if isinstance(part, Hole):
                out.seek(part.size, 1)
            else:
                out.write(part)
        out.truncate()
    return path


# Rows before the hostile part: the importer has started staging them when the file is refused.
PREFIX_ROWS = 1_000


def _prefixed(*parts: Part) -> list[Part]:
    return [HEAD, TABLE, users(PREFIX_ROWS), *parts]


def _billion_laughs() -> list[Part]:
    entities = b"".join(
        b'<!ENTITY lol%d "%s">' % (n, b"".join([b"&lol%d;" % (n - 1)] * 10)) for n in range(1, 10)
    )
    return [
        b'<?xml version="1.0"?>\n<!DOCTYPE tables [<!ENTITY lol0 "lol">',
        entities,
        b"]>\n<tables>&lol9;</tables>",
    ]


def _external_entity(declaration: bytes, use: bytes) -> list[Part]:
    return [DECLARATION, b"<!DOCTYPE tables [", declaration, b"]>\n", ROOT, TABLE, use, END]


def _duplicate_keys() -> list[Part]:
    rows = [user(n) for n in range(50_000)]
    for n in range(20_000, 50_000):  # 30,000 rows share one key
        rows[n] = user(n, key=b"C020000")
    return [HEAD, TABLE, b"".join(rows), END]


def _unknown_tables() -> list[Part]:
    items = b"".join(
        b'<item table="Unknown%d"><column columnName="Value">%d</column></item>\n' % (n, n)
        for n in range(150_000)
    )
    return [HEAD, TABLE, items, END]


def _unknown_columns() -> list[Part]:
    rows = [users(1)] + [
        user(n).replace(b"</item>", b'<column columnName="Surprise%d">x</column></item>' % n)
        for n in range(1, 20_000)
    ]
    return [HEAD, TABLE, b"".join(rows), END]


@dataclass(frozen=True)
class Case:
    """One hostile file and the importer's expected answer."""

    id: str
    build: Callable[[], list[Part]]
    message: str  # a regular expression the CLI's output must match
    exit_code: int = 1
    postgres: bool = False  # the verdict comes after rows reached the database: on PostgreSQL too
    imported: int = 0  # AccessUser rows the file adds (accepted files)
    large: bool = False  # gigabytes of input or tens of MB written: the slower tier

    def matches(self, output: str) -> bool:
        """Whether ``output`` (its whitespace collapsed: the console wraps lines) says ``message``."""
        return re.search(self.message, " ".join(output.split())) is not None


DOCTYPE = "declares a DOCTYPE; DTDs and entities are refused"

CASES: tuple[Case, ...] = (
    Case("billion-laughs", _billion_laughs, DOCTYPE),
    Case(
        "xxe-file",
        lambda: _external_entity(b'<!ENTITY x SYSTEM "file:///etc/passwd">', user(1, name=b"&x;")),
        DOCTYPE,
    ),
    Case(
        "xxe-url",
        lambda: _external_entity(b'<!ENTITY x SYSTEM "http://127.0.0.1:9/x">', user(1, name=b"&x;")),
        DOCTYPE,
    ),
    Case(
        "xxe-parameter-entity",
        lambda: _external_entity(b'<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;', user(1)),
        DOCTYPE,
    ),
    Case(
        "deep-nesting-100k",
        lambda: [HEAD, TABLE, b"<item>" * 100_000, b"</item>" * 100_000, END],
        r"nest deeper than the parser's limit of 256 levels",
    ),
    Case(
        "huge-text-64MB",
        lambda: _prefixed(
            b'<item><column columnName="AccessUserName">', *repeated(b"a", 64 * MiB), b"</column></item>", END
        ),
        r"a text is longer than the parser's limit of 10,000,000 bytes",
        large=True,
    ),
    Case(
        "huge-attribute-400MB",
        lambda: _prefixed(
            b'<item><column columnName="AccessUserName" x="', Hole(400 * MiB), b'">a</column>', END
        ),
        r"holds more than 16,777,216 bytes without completing an item: the value of attribute x of <column>",
        postgres=True,
        large=True,
    ),
    Case(
        "huge-comment-200MB",
        lambda: _prefixed(b"<!--", Hole(200 * MiB), b"-->", END),
        r"without completing an item: a comment starting at byte [\d,]+ is still not closed",
        large=True,
    ),
    Case(
        "huge-column-name-200MB",
        lambda: _prefixed(b'<item><column columnName="', Hole(200 * MiB), b'">a</column></item>', END),
        r"without completing an item: the value of attribute columnName of <column>",
        large=True,
    ),
    Case(
        "huge-element-name-64MB",
        lambda: _prefixed(b"<item><", *repeated(b"n", 64 * MiB), b"/></item>", END),
        r"without completing an item: an element name \(n{40}… \([\d,]+ bytes\)\) starting at byte",
        large=True,
    ),
    Case(
        "long-column-name-1MB",
        lambda: _prefixed(b'<item><column columnName="', b"n" * MiB, b'">a</column></item>', END),
        r"has a column name of 1,048,576 characters, more than 255",
    ),
    Case(
        "million-elements-in-one-item",
        lambda: _prefixed(b'<item><column columnName="AccessUserName">', *repeated(b"a<b/>", 5 * MiB), END),
        r"holds more than 100,000 elements and attributes without completing an item",
        postgres=True,
    ),
    Case(
        "200k-attributes-on-one-element",
        lambda: _prefixed(
            b'<item><column columnName="AccessUserName" ',
            b"".join(b'a%d="" ' % n for n in range(200_000)),
            b"/></item>",
            END,
        ),
        r"holds more than 100,000 elements and attributes without completing an item",
    ),
    Case(
        "invalid-utf8",
        lambda: _prefixed(user(PREFIX_ROWS, name=b"caf\xe9 \xff\xfe"), END),
        r"is not valid UTF-8 text",
    ),
    Case(
        "truncated",
        lambda: [HEAD, TABLE, users(PREFIX_ROWS)[:-500]],
        r"is not well-formed XML: it ends before the document does \(truncated\?\)",
        postgres=True,
    ),
    Case(
        "million-empty-items",
        lambda: [HEAD, TABLE, *repeated(b"<item/>", 7_000_000), END],
        r"key column AccessUserExternalID is not mapped",
    ),
    Case(
        "one-bad-row-in-50000",
        lambda: [HEAD, TABLE, users(41_234), user(41_234, name=b"x" * MiB), users(8_765, 41_235), END],
        r"AccessUser row 41235 column AccessUserName value 'x{120}… \(1,048,576 characters\)': "
        r"longer than 255 characters",
        postgres=True,
    ),
    Case(
        "duplicate-keys",
        _duplicate_keys,
        r"AccessUser row 50000 column AccessUserExternalID value 'C020000': duplicate key: 30000 rows",
        postgres=True,
    ),
    Case(
        "unknown-tables",
        _unknown_tables,
        r"149,900 rows of more tables with no mapping ignored \(only the first 100 such tables are named\) "
        r"warning: source table Unknown0: no mapping, 1 rows ignored",
        exit_code=0,
        postgres=True,
    ),
    Case(
        "unknown-columns",
        _unknown_columns,
        r"columns Surprise1 are not in the table's first row.*"
        r"more columns that are not in the first row are not listed",
        exit_code=0,
        postgres=True,
        imported=20_000,
    ),
)
