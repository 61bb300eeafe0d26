"""One typed wrapper per Lua script in lua/: each owns its script's KEYS and ARGV layout, and nothing else
packs script arguments. Scripts run by their SHA (EVALSHA), loaded into Redis when it answers NOSCRIPT."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, NamedTuple

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError

from .connection import Client
from .errors import REDIS_FAILURES, NotReplicated, not_text, unavailable
from .pipe import Pipe


def _source(name: str) -> str:
    return resources.files("crmstatus.server.store").joinpath(f"lua/{name}.lua").read_text("utf-8")


class _Script:
    name: str
    resend = False  # may the pipe send it again when its reply was lost (is running it twice harmless)?

    def __init__(self, client: Client, timeout: float, pipe: Pipe | None = None) -> None:
        self.client = client
        self.pipe = pipe
        self.timeout = timeout
        self.source = _source(self.name)
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()

    async def _run(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            try:
                return await self._evalsha(keys, args)
            except NoScriptError:  # a Redis that has not seen it yet (restarted, or another node): load it
                async with asyncio.timeout(self.timeout):
                    await self.client.script_load(self.source)
                return await self._evalsha(keys, args)
        except REDIS_FAILURES as error:
            raise unavailable(error) from error
        except UnicodeDecodeError as error:
            raise not_text(keys) from error

    async def _evalsha(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """One call, bounded as a whole (retries included): by the pipe itself, or here around redis-py."""
        if self.pipe is not None:
            return await self.pipe.call("EVALSHA", self.sha, len(keys), *keys, *args, resend=self.resend)
        async with asyncio.timeout(self.timeout):
            return await self.client.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)


class Read(_Script):
    """read.lua: the customer's snapshot and, when asked, the command's idempotency record."""

    name = "read"
    resend = True

    async def __call__(self, customer: str, record: str | None) -> tuple[str | None, str | None]:
        document, found = await self._run([customer, record or customer], [])
        return document or None, found or None


class CommitKeys(NamedTuple):
    customer: str
    history: str
    counts: str
    timers: str
    events: str
    idempotency: str
    pool: str  # the pool (public, or a queue's) the customer is in after the change
    pool_before: str  # the one it was in before
    flow: str  # the partition's flow counters of the day (analytics)
    usage: str  # the partition's usage counters (the review report)
    indexes: Sequence[str] = ()  # the index keys the change adds the customer to or removes it from


class CommitArgs(NamedTuple):
    expected_version: int
    version: int
    stored: str  # the new snapshot
    digest: str
    ttl_seconds: int
    result: str  # what an idempotent retry returns
    stream_maxlen: int
    customer_id: str
    event: str
    history: Sequence[str]  # entries, JSON
    counts: Sequence[tuple[str, int]]  # state count field, delta
    cancel: Sequence[str]  # timer members
    schedule: Sequence[tuple[str, int]]  # timer member, due ms
    pool: tuple[str, int]  # 'free' | 'lease' | 'owned', ms
    flow: Sequence[str] = ()  # flow counter fields to increment (analytics)
    usage: Sequence[str] = ()  # usage counter fields to increment (the review report)
    index_changes: Sequence[tuple[int, str, str]] = ()  # (position in CommitKeys.indexes, 'add' | 'rem', member)


class Commit(_Script):
    """commit.lua: the one atomic write of a command. Returns ('ok' | 'replay' | 'mismatch' | 'conflict', value).

    With `replicas` > 0 the write is followed by a WAIT on the same connection (a pipeline), and answered only
    once that many replicas have it, so that losing the master loses no acknowledged change."""

    name = "commit"
    resend = True  # a second run finds the first one's idempotency record and replays it

    def __init__(self, client: Client, timeout: float, pipe: Pipe | None, replicas: int) -> None:
        super().__init__(client, timeout, pipe)
        self.replicas = replicas

    async def __call__(self, keys: CommitKeys, a: CommitArgs) -> tuple[str, str]:
        args: list[Any] = [
            a.expected_version, a.version, a.stored, a.digest, a.ttl_seconds, a.result, a.stream_maxlen,
            a.customer_id, a.event,
            len(a.history), *a.history,
            len(a.counts), *[x for pair in a.counts for x in pair],
            len(a.cancel), *a.cancel,
            len(a.schedule), *[x for member, due in a.schedule for x in (due, member)],
            *a.pool,
            len(a.flow), *a.flow,
            len(a.usage), *a.usage,
            len(a.index_changes), *[x for at, op, member in a.index_changes for x in (11 + at, op, member)],
        ]  # fmt: skip
        every = [keys.customer, keys.history, keys.counts, keys.timers, keys.events, keys.idempotency, keys.pool,
                 keys.pool_before, keys.flow, keys.usage, *keys.indexes]  # fmt: skip
        reply = await (self._run_durably(every, args) if self.replicas else self._run(every, args))
        return str(reply[0]), str(reply[1]) if len(reply) > 1 else ""

    async def _run_durably(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return await self._acknowledged(("EVALSHA", self.sha, len(keys), *keys, *args), keys[0])

    async def confirm(self, record: str, ttl_seconds: int) -> None:
        """With `replicas` > 0: returns once that many replicas have the write that kept the idempotency
        `record`, for a retry that replays it. The record's time to live is renewed, a write that replicas get
        after every write before it, and WAITed for; NotReplicated as for the write itself."""
        if self.replicas:
            await self._acknowledged(("EXPIRE", record, ttl_seconds), record)

    async def _acknowledged(self, command: tuple[Any, ...], key: str) -> Any:
        """`command`, then a WAIT for the replicas on the same connection (a pipeline). A Redis without the
        script yet (NOSCRIPT) has run the first WAIT all the same: the second waits for half what is left."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        try:
            async with asyncio.timeout_at(deadline):
                for attempt in (1, 2):
                    wait_ms = max(1, int((deadline - loop.time()) * 500))  # the rest is for the write itself
                    pipeline = self.client.pipeline(transaction=False)
                    pipeline.execute_command(*command)
                    if isinstance(self.client, RedisCluster):  # WAIT has no key: send it to the writing node
                        node = self.client.get_node_from_key(key)
                        pipeline.execute_command("WAIT", self.replicas, wait_ms, target_nodes=node)
                    else:
                        pipeline.execute_command("WAIT", self.replicas, wait_ms)
                    try:
                        reply, acknowledged = await pipeline.execute()
                        break
                    except NoScriptError:
                        if attempt == 2:
                            raise
                        await self.client.script_load(self.source)
        except REDIS_FAILURES as error:
            raise unavailable(error) from error
        if int(acknowledged) < self.replicas:
            raise NotReplicated(
                f"the change is written but only {acknowledged} of {self.replicas} replicas confirmed it in time: "
                "retry with the same idempotency key to confirm it"
            )
        return reply


class ReserveClaim(_Script):
    """reserve_claim.lua: count a new claim against a rep's caps. Returns 'ok', 'held' or 'daily'."""

    name = "reserve_claim"

    async def __call__(
        self, held: str, daily: str, customer_id: str, lease_ms: int, now_ms: int, max_held: int | None,
        max_daily: int | None,
    ) -> str:  # fmt: skip
        caps = ["" if cap is None else cap for cap in (max_held, max_daily)]
        return str(await self._run([held, daily], [customer_id, lease_ms, now_ms, *caps]))


class UnreserveClaim(_Script):
    name = "unreserve_claim"

    async def __call__(self, held: str, daily: str, customer_id: str, keep_hold: bool) -> None:
        await self._run([held, daily], [customer_id, "1" if keep_hold else ""])


class ReleaseIdentity(_Script):
    """release_identity.lua: release a reservation (`replacement` None) or replace it, if it is `expected`."""

    name = "release_identity"

    async def __call__(self, identity: str, expected: str, replacement: str | None = None) -> bool:
        return bool(await self._run([identity], [expected, replacement or ""]))


class ClaimTimers(_Script):
    """claim_timers.lua: lease up to `limit` due timers of one partition. Returns (member, lease score, due ms)."""

    name = "claim_timers"
    resend = True  # timers a lost run claimed come due again when their lease ends

    async def __call__(self, timers: str, now_ms: int, lease_ms: int, limit: int) -> list[tuple[str, int, int]]:
        reply = await self._run([timers], [now_ms, lease_ms, limit])
        return [(reply[n], int(reply[n + 1]), int(float(reply[n + 2]))) for n in range(0, len(reply), 3)]


class SettleTimer(_Script):
    name = "settle_timer"
    resend = True  # a second run finds the lease gone and settles nothing

    async def __call__(self, timers: str, member: str, lease: int, due_ms: int | None) -> None:
        await self._run([timers], [member, lease, "" if due_ms is None else due_ms])


@dataclass(frozen=True, slots=True)
class EraseKeys:
    customer: str
    history: str
    counts: str
    timers: str
    events: str
    pool: str
    audit: str
    indexes: Sequence[str] = ()  # the index keys the customer is in


@dataclass(frozen=True, slots=True)
class EraseArgs:
    version: int  # as read: refused when the customer changed since
    stream_maxlen: int
    customer_id: str
    event: str
    audit: str
    counts: Sequence[str]  # state count fields to decrement
    cancel: Sequence[str]  # timer members
    index_members: Sequence[str] = ()  # its member in each of EraseKeys.indexes


class Erase(_Script):
    """erase.lua: erase one customer in one atomic write. Returns ('ok' | 'conflict', current version)."""

    name = "erase"

    async def __call__(self, keys: EraseKeys, a: EraseArgs) -> tuple[str, str]:
        every = [keys.customer, keys.history, keys.counts, keys.timers, keys.events, keys.pool, keys.audit,
                 *keys.indexes]  # fmt: skip
        args = [a.version, a.stream_maxlen, a.customer_id, a.event, a.audit, len(a.counts), *a.counts,
                len(a.cancel), *a.cancel, len(a.index_members), *a.index_members]  # fmt: skip
        reply = await self._run(every, args)
        return str(reply[0]), str(reply[1]) if len(reply) > 1 else ""


class PublishDefinition(_Script):
    """publish_definition.lua: store a version as a draft. Returns ('ok', '', '') or ('taken', document, latest)."""

    name = "publish_definition"
    resend = True  # the same text again is accepted as published

    async def __call__(self, texts: str, status: str, latest: str, rid: str, document: str, draft: str,
                       latest_field: str, version: int, shared_rid: str) -> tuple[str, str, int]:  # fmt: skip
        reply = await self._run([texts, status, latest], [rid, document, draft, latest_field, version, shared_rid])
        return (str(reply[0]), str(reply[1]), int(reply[2])) if len(reply) > 1 else (str(reply[0]), "", 0)


class ShipDefinitions(_Script):
    """ship_definitions.lua: publish a release's versions, all or none. Returns the ids published with another
    text (then nothing was written)."""

    name = "ship_definitions"
    resend = True  # the same texts again are published already

    async def __call__(self, texts: str, status: str, latest: str,
                       versions: Sequence[tuple[str, str, str, str, int]]) -> list[str]:  # fmt: skip
        reply = await self._run([texts, status, latest], [arg for version in versions for arg in version])
        return [str(rid) for rid in reply[1:]]


class PromoteDefinition(_Script):
    """promote_definition.lua: approve, activate or ship a version. Returns ('ok', replaced key) or ('refused',
    status)."""

    name = "promote_definition"

    async def __call__(self, status: str, active: str, shipped: str, op: str, key: str, by: str, at_ms: int,
                       field: str = "", approval_required: bool = True,
                       version: int = 0) -> tuple[str, str]:  # fmt: skip
        reply = await self._run(
            [status, active, shipped], [op, key, by, at_ms, field, "1" if approval_required else "0", version]
        )
        return str(reply[0]), str(reply[1])


class Scripts:
    """Every script, registered on one client (and sent through its pipe, when it has one: pipe.py)."""

    def __init__(self, client: Client, timeout: float, durable_replicas: int = 0, pipe: Pipe | None = None) -> None:
        self.client = client
        self.pipe = pipe
        self.timeout = timeout  # seconds one store call may take in all (CRMSTATUS_REDIS_TIMEOUT)
        self.read = Read(client, timeout, pipe)
        self.commit = Commit(client, timeout, pipe, durable_replicas)
        self.reserve_claim = ReserveClaim(client, timeout, pipe)
        self.unreserve_claim = UnreserveClaim(client, timeout, pipe)
        self.release_identity = ReleaseIdentity(client, timeout, pipe)
        self.claim_timers = ClaimTimers(client, timeout, pipe)
        self.settle_timer = SettleTimer(client, timeout, pipe)
        self.erase = Erase(client, timeout, pipe)
        self.publish_definition = PublishDefinition(client, timeout, pipe)
        self.ship_definitions = ShipDefinitions(client, timeout, pipe)
        self.promote_definition = PromoteDefinition(client, timeout, pipe)
