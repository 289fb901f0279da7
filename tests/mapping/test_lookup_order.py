"""A lookup into a table the same file writes sees every row of that table read before it."""

from __future__ import annotations

from mapping_support import Shop

JOB = """
batch_rows: 2
mappings:
  - {source: AccessUser, destination: AccessUser, keys: [AccessUserExternalID]}
  - source: AccessUserAddress
    destination: AccessUserAddress
    keys: [AccessUserAddressExternalId]
    columns:
      - destination: AccessUserAddressUserID
        lookup: {table: AccessUser, match: AccessUserExternalID, value: AccessUserID}
"""


def test_addresses_interleaved_with_their_users_all_find_their_user(shop: Shop) -> None:
    # As Business Central exports customers: each customer, then its ship-to addresses. With two
    # addresses per customer the address batch fills before the user batch that holds its user.
    rows = []
    for number in range(1, 7):
        rows.append(
            ("AccessUser", {"AccessUserExternalID": f"C{number}", "AccessUserName": f"Customer {number}"})
        )
        for suffix in ("a", "b"):
            rows.append(
                (
                    "AccessUserAddress",
                    {
                        "AccessUserAddressExternalId": f"C{number}{suffix}",
                        "AccessUserAddressUserID": f"C{number}",
                    },
                )
            )
    report = shop.run(JOB, rows)
    assert report.ok, report.errors
    assert report.tables["AccessUserAddress"].inserted == 12
    assert report.tables["AccessUserAddress"].skipped == 0
    assert not [w for w in report.warnings if "found no match" in w]
    linked = shop.rows(
        'SELECT a."AccessUserAddressExternalId", u."AccessUserExternalID" FROM "AccessUserAddress" a '
        'JOIN "AccessUser" u ON u."AccessUserID" = a."AccessUserAddressUserID" ORDER BY 1'
    )
    assert linked == [(f"C{n}{s}", f"C{n}") for n in range(1, 7) for s in ("a", "b")]
