"""All configuration in one typed object, read from the environment once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = None  # redis://, rediss:// or unix://; None starts an embedded Redis
    config_dir: str = "configs"
    partitions: int = 1  # slots a tenant's data is spread over (Redis Cluster); see server/keys.py
    idempotency_ttl_seconds: int = 24 * 3600
    event_stream_maxlen: int = 100_000  # per partition; older events are trimmed (approximately)
    redis_timeout_seconds: float = 2.0
    redis_retries: int = 3

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            redis_url=env.get("REDIS_URL") or None,
            config_dir=env.get("CRMSTATUS_CONFIG_DIR", defaults.config_dir),
            partitions=int(env.get("CRMSTATUS_PARTITIONS", defaults.partitions)),
            idempotency_ttl_seconds=int(env.get("CRMSTATUS_IDEMPOTENCY_TTL", defaults.idempotency_ttl_seconds)),
            event_stream_maxlen=int(env.get("CRMSTATUS_EVENT_STREAM_MAXLEN", defaults.event_stream_maxlen)),
            redis_timeout_seconds=float(env.get("CRMSTATUS_REDIS_TIMEOUT", defaults.redis_timeout_seconds)),
            redis_retries=int(env.get("CRMSTATUS_REDIS_RETRIES", defaults.redis_retries)),
        )
