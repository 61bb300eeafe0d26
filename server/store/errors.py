"""What the store raises: a customer absent or already present, a concurrent change, a reused idempotency
key, stored data that does not fit its definition, and Redis out of reach (mapped where it enters)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import redis.exceptions

from crmstatus.engine.errors import CrmStatusError, quote
from crmstatus.server import metrics


class StoreError(CrmStatusError):
    """Base of the store's errors."""


class CustomerNotFound(StoreError):
    def __init__(self, tenant: str, customer_id: str) -> None:
        self.tenant = tenant
        self.customer_id = customer_id
        super().__init__(f"customer {quote(customer_id)} not found in tenant {quote(tenant)}")


class CustomerExists(StoreError):
    """A customer with this id, or with one of these identity keys, already exists in the tenant."""

    def __init__(self, existing_id: str, identity: str = "") -> None:
        self.existing_id = existing_id
        self.identity = identity
        why = f" with identity {identity}" if identity else ""
        super().__init__(f"customer {existing_id!r} already exists{why}")


class VersionConflict(StoreError):
    """The customer changed since it was read: re-read and retry."""

    def __init__(self, customer_id: str, expected: int, actual: int, message: str = "") -> None:
        self.customer_id = customer_id
        self.expected = expected
        self.actual = actual
        stale = f"customer {customer_id!r} is at version {actual}, not {expected}: re-read and retry"
        super().__init__(message or stale)


class IdempotencyMismatch(StoreError):
    """An idempotency key was reused for a different request."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"idempotency key {key!r} was already used for a different request")


class StoredDataError(StoreError):
    """Stored data does not fit the definition it is pinned to."""


class EventsTrimmed(StoreError):
    """Events after a watcher's position may be gone from the event streams (trimmed to their length, or the
    streams lost with Redis's data): resuming would skip them silently."""

    def __init__(self, parts: Sequence[int]) -> None:
        self.parts = tuple(parts)
        super().__init__(
            f"events after this event id may have been trimmed from the event stream of partition "
            f"{', '.join(map(str, self.parts))} (each keeps about CRMSTATUS_EVENT_STREAM_MAXLEN events): read the "
            "customers you follow again, then watch from the next change (without after_event_id)"
        )


class StoreUnavailable(StoreError):
    """The state store cannot be reached; nothing was changed. The one error worth a blind retry."""


class NotReplicated(StoreUnavailable):
    """The change is written, but fewer replicas than asked confirmed it in time: a retry with the same
    idempotency key confirms it (or finds it lost with a failed-over master)."""


def unavailable(error: Exception) -> StoreUnavailable:
    if metrics.ENABLED:
        metrics.REDIS_ERRORS.inc()
    return StoreUnavailable(f"the state store is unavailable: {error or 'no answer in time'}")


def not_text(keys: Sequence[str]) -> StoredDataError:
    return StoredDataError(
        f"Redis holds bytes that are not UTF-8 text under {', '.join(dict.fromkeys(keys)) or 'a key read'}: "
        "something other than this service wrote there"
    )


_X = redis.exceptions
# Redis out of reach or not ready, and what a Redis Cluster answers while its slots move or a replica takes
# over (MOVED and ASK beyond the client's redirections, TRYAGAIN, CLUSTERDOWN, READONLY, LOADING, a slot no
# node serves yet). The client retries them inside the call's time bound; what is left means "try again".
REDIS_FAILURES = (
    _X.ConnectionError, _X.TimeoutError, TimeoutError, _X.ClusterError, _X.ClusterDownError, _X.AskError,
    _X.TryAgainError, _X.ReadOnlyError, _X.SlotNotCoveredError, _X.RedisClusterException,
)  # fmt: skip


@asynccontextmanager
async def store_errors(seconds: float) -> AsyncIterator[None]:
    """One store call, bounded as a whole (redis-py's retries included), its failures as StoreUnavailable.
    Script calls do the same in scripts.py, without the cost of a context manager."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except REDIS_FAILURES as error:
        raise unavailable(error) from error
    except UnicodeDecodeError as error:
        raise not_text(()) from error
