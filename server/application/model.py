"""The application's inputs and outputs, shared by the wire, the timer worker and the command line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from crmstatus.engine.definition import Definition
from crmstatus.engine.errors import InvalidRequest
from crmstatus.engine.snapshot import Actor, EffectRecord, HistoryEntry, Snapshot


@dataclass(frozen=True, slots=True)
class Caller:
    tenant: str
    actor: Actor

    def holding(self, fence_token: int) -> Caller:
        """The caller writing on behalf of its claim with this fence token (0: no claim)."""
        if not fence_token:
            return self
        if fence_token < 0:
            raise InvalidRequest(f"fence token {fence_token} is none a claim gave: tokens count from 1")
        return Caller(self.tenant, replace(self.actor, fence_token=fence_token))


@dataclass(frozen=True, slots=True)
class Options:
    """How a command is applied: pinned to a version, and/or made safe to retry with an idempotency key."""

    expected_version: int | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class NewCustomer:
    customer_id: str
    definition: str
    definition_version: int | None = None  # None: the latest
    facts: Mapping[str, Any] = field(default_factory=dict)
    identities: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImportRow:
    """A customer brought over from another system: its current states (dimension → state, since when)."""

    customer_id: str
    definition: str
    definition_version: int | None = None
    states: Mapping[str, tuple[str, datetime | None]] = field(default_factory=dict)
    facts: Mapping[str, Any] = field(default_factory=dict)
    identities: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Imported:
    """What became of one row: 'created', 'exists' (taken already: nothing changed) or 'refused' (why)."""

    customer_id: str
    status: str
    reason: str = ""
    version: int = 0


class Change(NamedTuple):
    """What a command did, with the definition the customer is pinned to (as its tenant runs it)."""

    definition: Definition
    snapshot: Snapshot
    effects: tuple[EffectRecord, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    replayed: bool = False  # True when an idempotency key returned the result stored by an earlier call


@dataclass(frozen=True, slots=True)
class Listing:
    """Which customers to list: those in `state` of an indexed `dimension` of `definition` (oldest entry first,
    or newest; with `longer_than`: only those in it longer than that), or those `owner` holds, or those in
    `queue` (by id); a page of `limit` after `page_token`."""

    definition: str = ""
    dimension: str = ""
    state: str = ""
    owner: str = ""
    queue: str = ""
    longer_than: timedelta | None = None
    newest_first: bool = False
    limit: int = 100
    page_token: str = ""
