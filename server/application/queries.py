"""Reading customers: as the caller may see them, the transitions open to the caller, history, counts, pool."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from crmstatus.engine.clock import Clock
from crmstatus.engine.commands import (
    Denial,
    TransitionOption,
    authorize,
    find_timer,
    is_hidden,
    list_transitions,
    redacted_history,
    view,
)
from crmstatus.engine.definition import Definition
from crmstatus.engine.diagram import Overlay
from crmstatus.engine.errors import InvalidRequest, UnknownName, quote
from crmstatus.engine.ids import check_customer_id
from crmstatus.engine.snapshot import HistoryEntry, Snapshot
from crmstatus.server.store import Store
from crmstatus.server.store.codec import decode_index_member, due_ms, moment, ms
from crmstatus.server.store.errors import CustomerNotFound

from .catalog import Catalog
from .definitions import draw
from .model import Caller, Listing


class Queries:
    def __init__(self, store: Store, catalog: Catalog, clock: Clock) -> None:
        self.store = store
        self.catalog = catalog
        self.clock = clock

    async def snapshot(self, tenant: str, customer_id: str) -> tuple[Definition, Snapshot]:
        """The customer as stored, with the definition it is pinned to (as its tenant runs it)."""
        check_customer_id(customer_id)
        found = await self.store.customers.read(self.store.keys(tenant), customer_id)
        if found is None:
            raise CustomerNotFound(tenant, customer_id)
        definition = await self.catalog.resolve(tenant, *found.pinned)
        return definition, found.snapshot(definition)

    async def customer(self, caller: Caller, customer_id: str) -> tuple[Definition, Snapshot]:
        """The customer as the caller may see it (redacted while someone else holds its lock)."""
        definition, snapshot = await self.snapshot(caller.tenant, customer_id)
        return definition, view(definition, snapshot, caller.actor)

    async def transitions(
        self, caller: Caller, customer_id: str, dimension: str = ""
    ) -> tuple[int, list[TransitionOption]]:
        """The customer's version, and every transition (of one dimension, or all) with why it is blocked."""
        definition, snapshot = await self.snapshot(caller.tenant, customer_id)
        if dimension and dimension not in definition.dimensions:
            raise InvalidRequest(f"definition {definition.key} has no dimension {quote(dimension)}")
        options = list_transitions(definition, snapshot, caller.actor, self.clock.now())
        return snapshot.version, [o for o in options if not dimension or o.dimension == dimension]

    async def diagram(self, caller: Caller, customer_id: str, dimension: str, form: str) -> str:
        """The customer's definition drawn with the customer on it: its states, and what the caller may do."""
        definition, snapshot = await self.snapshot(caller.tenant, customer_id)
        options = list_transitions(definition, snapshot, caller.actor, self.clock.now())
        current = {name: entry.state for name, entry in snapshot.states.items()}
        return draw(definition, dimension, form, Overlay(current, options))

    async def history(
        self, caller: Caller, customer_id: str, *, limit: int = 50, newest_first: bool = True,
        page_token: str | None = None,
    ) -> tuple[list[HistoryEntry], str | None]:  # fmt: skip
        definition, snapshot = await self.snapshot(caller.tenant, customer_id)
        entries, token = await self.store.queries.history(
            self.store.keys(caller.tenant), customer_id, limit=limit, newest_first=newest_first, page_token=page_token
        )
        return (redacted_history(entries) if is_hidden(definition, snapshot, caller.actor) else entries), token

    async def state_counts(self, caller: Caller, definition: str = "") -> list[tuple[str, int, str, str, int]]:
        """(definition, version, dimension, state, customers), sorted; of one definition or all (one the tenant
        does not have is DefinitionNotFound, not an empty answer)."""
        counts = await self.store.queries.state_counts(self.store.keys(caller.tenant))
        found = []
        for (key, dimension, state), count in sorted(counts.items()):
            name, _, version = key.partition("@")
            if not definition or name == definition:
                found.append((name, int(version), dimension, state, count))
        if definition and not found:
            await self.catalog.every_version(caller.tenant, definition)  # DefinitionNotFound when it has none
        return found

    async def listing(self, caller: Caller, wanted: Listing) -> tuple[list[tuple[str, datetime | None]], str | None]:
        """One page of the customers in a state of an indexed dimension (oldest entry first, or newest; only
        those in it since before a moment: stalled), or held by an owner, or in a queue (by id); with the
        token of the next page."""
        keys = self.store.keys(caller.tenant)
        if len(wanted.page_token) > 300:
            raise InvalidRequest("a page token is what an earlier page returned")
        if len(wanted.owner) > 128 or len(wanted.queue) > 128:
            raise InvalidRequest("an owner or a queue is named in at most 128 characters")
        if not (wanted.owner or wanted.queue or wanted.definition):
            raise InvalidRequest("list by one of: a state (definition, dimension and state), an owner or a queue")
        below = None
        if wanted.owner or wanted.queue:
            if wanted.definition or wanted.dimension or wanted.state or wanted.longer_than is not None or (
                wanted.owner and wanted.queue
            ):  # fmt: skip
                raise InvalidRequest("list by one of: a state, an owner or a queue")
            if wanted.queue:
                await self._known_queue(caller, wanted.queue)
            index = keys.owned_by if wanted.owner else keys.in_queue
            per_part = [index(part, wanted.owner or wanted.queue) for part in range(keys.partitions)]
        else:
            if not (wanted.dimension and wanted.state):
                raise InvalidRequest("a listing by state names the definition, one of its dimensions and the state")
            if wanted.longer_than is not None and wanted.longer_than < timedelta(0):
                raise InvalidRequest("longer_than is a duration of zero or more")
            per_part = [keys.in_state(part, d.key, wanted.dimension, wanted.state)
                        for d in await self._indexed(caller, wanted) for part in range(keys.partitions)]  # fmt: skip
            if wanted.longer_than is not None:
                try:
                    below = f"{ms(self.clock.now() - wanted.longer_than):013d}"
                except (OverflowError, ValueError, OSError):
                    raise InvalidRequest("longer_than reaches beyond the calendar") from None
        if wanted.page_token:
            _check_page_token(wanted.page_token, by_state=not (wanted.owner or wanted.queue))
        members = await self.store.queries.index_page(
            per_part, wanted.limit, wanted.page_token or None, below, wanted.newest_first
        )
        token = members[-1] if len(members) == wanted.limit else None
        if wanted.owner or wanted.queue:
            return [(member, None) for member in members], token
        return [decode_index_member(member) for member in members], token

    async def _indexed(self, caller: Caller, wanted: Listing) -> list[Definition]:
        """The versions of the definition the tenant's customers may be on whose `dimension` is indexed and has
        `state`: a state only an older version has still lists the customers not migrated yet."""
        dimension, state = wanted.dimension, wanted.state
        versions = await self.catalog.every_version(caller.tenant, wanted.definition)
        having = [d for d in versions if dimension in d.dimensions]
        if not having:
            raise UnknownName(f"dimension of {wanted.definition}", dimension,
                              {name for d in versions for name in d.dimensions})  # fmt: skip
        with_state = [d for d in having if state in d.dimensions[dimension].states]
        if not with_state:
            raise UnknownName(
                f"state of {dimension}", state, {s for d in having for s in d.dimensions[dimension].states}
            )
        found = [d for d in with_state if d.dimensions[dimension].indexed]
        if not found:
            raise InvalidRequest(f"dimension {quote(dimension)} of {wanted.definition} is not indexed: its definition "
                                 "marks it `indexed: true` to list its customers per state")  # fmt: skip
        return found

    async def pool(self, caller: Caller, limit: int = 100, queue: str = "") -> list[tuple[str, datetime]]:
        """Customers free to claim now (unowned, or their lease lapsed), longest free first, with since when:
        those in no queue, or those in `queue` (which some definition of the tenant declares)."""
        if queue:
            await self._known_queue(caller, queue)
        free = await self.store.queries.pool(self.store.keys(caller.tenant), ms(self.clock.now()), limit, queue)
        return [(customer_id, moment(since)) for customer_id, since in free]

    async def _known_queue(self, caller: Caller, queue: str) -> None:
        """UnknownName unless some definition the tenant's customers may be on declares `queue`."""
        known = {name for d in await self.catalog.every_definition(caller.tenant) for name in d.queues}
        if queue not in known:
            raise UnknownName("queue", queue, known)

    async def check_action(
        self, caller: Caller, customer_id: str, action: str, attributes: Mapping[str, Any]
    ) -> tuple[Denial, ...]:
        """Every restriction of the customer that denies `action` with these attributes (none: allowed)."""
        definition, snapshot = await self.snapshot(caller.tenant, customer_id)
        hidden = is_hidden(definition, snapshot, caller.actor)
        return authorize(definition, snapshot, action, attributes, hidden=hidden)

    async def timer_due(self, tenant: str, customer_id: str, timer_key: str) -> int | None:
        """When the customer's timer is due (ms), or None when it (or the customer) no longer has it."""
        try:
            definition, snapshot = await self.snapshot(tenant, customer_id)
        except CustomerNotFound:
            return None
        timer = find_timer(definition, snapshot, timer_key)
        return due_ms(timer.due) if timer else None


def _check_page_token(token: str, by_state: bool) -> None:
    """A listing's page token is the last customer of a page (by state: the millisecond it entered the state,
    13 digits or more, then its id): another text would start a page anywhere."""
    entered, bar, customer_id = token.partition("|") if by_state else ("0" * 13, "|", token)
    try:
        check_customer_id(customer_id)
        returned = bar and len(entered) >= 13 and entered.removeprefix("-").isdigit() and entered.isascii()
    except InvalidRequest:
        returned = False
    if not returned:
        raise InvalidRequest(f"page token {quote(token)} was not returned by this listing")
