"""The one exception hierarchy of the engine; the server maps each class to a gRPC status in one place."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a definition file, pointing at the line and column a consultant must edit."""

    file: str
    line: int
    column: int
    path: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {where}{self.message}"


class ReasonKind(StrEnum):
    """Why a transition cannot happen now. Stable codes: clients switch on them."""

    WRONG_STATE = "WRONG_STATE"
    ROLE = "ROLE"
    LOCKED = "LOCKED"
    GUARD = "GUARD"
    FACT_UNSET = "FACT_UNSET"
    CHECKLIST = "CHECKLIST"
    REQUIRED_FACT = "REQUIRED_FACT"


@dataclass(frozen=True)
class Reason:
    kind: ReasonKind
    subject: str  # what failed: a state, role, expression, checklist item or fact
    message: str

    def __str__(self) -> str:
        return self.message


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


class InvalidDefinition(EngineError):
    """A definition file failed to load; carries every diagnostic of the file, not only the first."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class TransitionNotAllowed(EngineError):
    """An event cannot be applied now; `reasons` lists every reason, not just the first."""

    def __init__(self, event: str, reasons: Sequence[Reason]) -> None:
        self.event = event
        self.reasons = tuple(reasons)
        detail = "; ".join(r.message for r in self.reasons)
        super().__init__(f"event {event!r} is not allowed: {detail}")


class ClaimConflict(EngineError):
    """Someone else holds the customer: who, and until when."""

    def __init__(self, holder: str, until: datetime | None) -> None:
        self.holder = holder
        self.until = until
        when = f" until {until.isoformat()}" if until else ""
        super().__init__(f"customer is claimed by {holder}{when}")


class ClaimRefused(EngineError):
    """A claim the rules do not allow: the rep's cooldown on this customer, or a cap."""

    def __init__(self, reason: str, message: str, until: datetime | None = None) -> None:
        self.reason = reason  # COOLDOWN, HELD_CAP or DAILY_CAP
        self.until = until
        super().__init__(message)


class FencedOut(EngineError):
    """A write carried a fence token that is no longer the customer's: its claim lapsed or was taken over."""

    def __init__(self, token: int, current: int, holder: str | None) -> None:
        self.token = token
        self.current = current
        self.holder = holder
        super().__init__(
            f"fence token {token} is stale (the customer's is {current}, held by {holder or 'no one'}): "
            "claim the customer again"
        )


class CustomerLocked(EngineError):
    """The customer is locked by its owner and the actor may neither see its details nor write."""

    def __init__(self, owner: str | None, dimension: str, state: str) -> None:
        self.owner = owner
        self.dimension = dimension
        self.state = state
        holder = f"by {owner}" if owner else "with no owner"
        super().__init__(f"customer is locked {holder} while {dimension} is {state}")


class UnknownName(EngineError):
    """A request names an event, fact, checklist or item the definition does not have."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        self.hint = did_you_mean(name, known)
        super().__init__(f"unknown {kind} {name!r}{self.hint}")


class InvalidFactValue(EngineError):
    """A fact update carries a value of the wrong type, or tries to set a computed score."""

    def __init__(self, fact: str, message: str) -> None:
        self.fact = fact
        super().__init__(f"fact {fact!r}: {message}")


class StaleTimer(EngineError):
    """The timer no longer belongs to the customer: it left the state entry, or the date moved."""


class AutomationCycle(EngineError):
    """Automatic transitions kept firing past the bound: the definition has a cycle of automatic rules."""

    def __init__(self, steps: Sequence[str]) -> None:
        self.steps = tuple(steps)
        tail = " → ".join(self.steps[-8:])
        super().__init__(f"automatic transitions do not settle after {len(self.steps)} steps: … {tail}")


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """A ' (did you mean 'x'?)' hint for a misspelt name, or '' when nothing is close."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


class CustomerNotFound(EngineError):
    def __init__(self, tenant: str, customer_id: str) -> None:
        self.tenant = tenant
        self.customer_id = customer_id
        super().__init__(f"customer {customer_id!r} not found in tenant {tenant!r}")


class CustomerExists(EngineError):
    """A customer with this id, or with one of these identity keys, already exists in the tenant."""

    def __init__(self, existing_id: str, identity: str = "") -> None:
        self.existing_id = existing_id
        self.identity = identity
        why = f" with identity {identity}" if identity else ""
        super().__init__(f"customer {existing_id!r} already exists{why}")


class VersionConflict(EngineError):
    """The customer changed since it was read: re-read and retry."""

    def __init__(self, customer_id: str, expected: int, actual: int) -> None:
        self.customer_id = customer_id
        self.expected = expected
        self.actual = actual
        super().__init__(f"customer {customer_id!r} is at version {actual}, not {expected}: re-read and retry")


class IdempotencyMismatch(EngineError):
    """An idempotency key was reused for a different request."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"idempotency key {key!r} was already used for a different request")


class InvalidRequest(EngineError):
    """A request that can never succeed as sent (malformed id, unknown definition, bad identity)."""


class StoredDataError(EngineError):
    """Stored data does not fit the definition it is pinned to."""


class StoreUnavailable(EngineError):
    """The state store cannot be reached; nothing was changed. The one error worth a blind retry."""


class DefinitionNotFound(EngineError):
    def __init__(self, wanted: str, known: Iterable[str]) -> None:
        self.wanted = wanted
        super().__init__(f"unknown definition {wanted!r}{did_you_mean(wanted, known)}")


class Unauthenticated(EngineError):
    """The call carries no valid token for its tenant."""


class PermissionDenied(EngineError):
    """The caller is known but may not do this (another tenant's data, or a role it lacks)."""
