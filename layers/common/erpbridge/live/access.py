"""Who may read which customer's data.

A request authenticated only by the storefront's API key acts for the shop and may ask for any
customer. A request carrying a customer-scoped token may only touch that token's customer: any
other customer number is 403. Anonymous prices and baskets need no customer, so they are open to both;
an order is placed for a customer, so a customer token can place only its own customer's orders
(an anonymous order placed with it could not even be read back with the same token).
"""

from __future__ import annotations

from dataclasses import dataclass

from erpbridge.live.errors import ForbiddenError


@dataclass(frozen=True)
class Caller:
    customer_number: str | None  # None = the storefront itself (API key only)

    def ensure_may_access(self, customer_number: str | None) -> None:
        if self.customer_number is None or customer_number is None:
            return
        if customer_number != self.customer_number:
            raise ForbiddenError("this token may only access its own customer's data")

    def ensure_may_order_for(self, customer_number: str | None) -> None:
        if self.customer_number is not None and customer_number != self.customer_number:
            raise ForbiddenError("this token may only place orders for its own customer")

    def ensure_may_access_order(self, order_customer: str | None) -> None:
        if self.customer_number is None:
            return
        if order_customer != self.customer_number:
            raise ForbiddenError("this token may only access its own customer's orders")


STOREFRONT = Caller(customer_number=None)
