"""The names callers give tenants and customers: checked before they become part of any key."""

from __future__ import annotations

import re

from .errors import InvalidRequest, quote

_TENANT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_CUSTOMER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def check_tenant(tenant: str) -> str:
    if not _TENANT.fullmatch(tenant):
        raise InvalidRequest(
            f"tenant {quote(tenant)} must be 1-63 of a-z, 0-9, _ and -, starting with a letter or digit"
        )
    return tenant


def check_customer_id(customer_id: str) -> str:
    if not _CUSTOMER.fullmatch(customer_id):
        raise InvalidRequest(f"customer id {quote(customer_id)} must be 1-128 of A-Z, a-z, 0-9, '.', '_', ':' and '-'")
    # A customer's keys are its id with these suffixes (`…:history`, `…:idem:<key>`): an id holding one would
    # share keys with another customer's history or idempotency records.
    if ":idem:" in customer_id or customer_id.endswith(":history"):
        raise InvalidRequest(f"customer id {quote(customer_id)} may not hold ':idem:' nor end in ':history'")
    return customer_id
