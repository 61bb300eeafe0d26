"""All configuration in one typed object, read from the environment once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from crmstatus.engine.facts import parse_duration


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = None  # REDIS_URL: redis://, rediss:// or unix://; None starts an embedded Redis
    config_dir: str = "configs"  # CRMSTATUS_CONFIG_DIR
    listen: str = "127.0.0.1:50051"  # CRMSTATUS_LISTEN
    # CRMSTATUS_TOKENS="acme=token-a,globex=token-b": each tenant's bearer token.
    tokens: Mapping[str, str] = field(default_factory=dict)
    dev_mode: bool = False  # CRMSTATUS_DEV_MODE=1: no token needed (local development only)
    partitions: int = 1  # CRMSTATUS_PARTITIONS: slots a tenant is spread over (Redis Cluster); server/keys.py
    idempotency_ttl_seconds: int = 24 * 3600  # CRMSTATUS_IDEMPOTENCY_TTL
    event_stream_maxlen: int = 100_000  # CRMSTATUS_EVENT_STREAM_MAXLEN, per partition, trimmed approximately
    redis_timeout_seconds: float = 2.0  # CRMSTATUS_REDIS_TIMEOUT
    redis_retries: int = 3  # CRMSTATUS_REDIS_RETRIES, with exponential backoff
    workers: int = 32  # CRMSTATUS_WORKERS: threads serving calls (each watcher holds one)
    max_concurrent_rpcs: int = 256  # CRMSTATUS_MAX_CONCURRENT_RPCS: beyond it calls get RESOURCE_EXHAUSTED
    max_message_bytes: int = 4 * 1024 * 1024  # CRMSTATUS_MAX_MESSAGE_BYTES
    shutdown_grace_seconds: float = 10.0  # CRMSTATUS_SHUTDOWN_GRACE: in-flight calls may finish
    # CRMSTATUS_CLAIM_PROTECTION="acme=P3D,globex=P14D": a tenant's own claim lease, over the definition's.
    claim_protection: Mapping[str, str] = field(default_factory=dict)
    timer_worker: bool = True  # CRMSTATUS_TIMER_WORKER=0: this server fires no timers (`crmstatus worker` does)
    timer_interval_seconds: float = 1.0  # CRMSTATUS_TIMER_INTERVAL: pause between sweeps

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        d = cls()
        return cls(
            redis_url=env.get("REDIS_URL") or None,
            config_dir=env.get("CRMSTATUS_CONFIG_DIR", d.config_dir),
            listen=env.get("CRMSTATUS_LISTEN", d.listen),
            tokens=_pairs(env.get("CRMSTATUS_TOKENS", ""), "CRMSTATUS_TOKENS"),
            dev_mode=env.get("CRMSTATUS_DEV_MODE", "") in ("1", "true", "yes"),
            partitions=int(env.get("CRMSTATUS_PARTITIONS", d.partitions)),
            idempotency_ttl_seconds=int(env.get("CRMSTATUS_IDEMPOTENCY_TTL", d.idempotency_ttl_seconds)),
            event_stream_maxlen=int(env.get("CRMSTATUS_EVENT_STREAM_MAXLEN", d.event_stream_maxlen)),
            redis_timeout_seconds=float(env.get("CRMSTATUS_REDIS_TIMEOUT", d.redis_timeout_seconds)),
            redis_retries=int(env.get("CRMSTATUS_REDIS_RETRIES", d.redis_retries)),
            workers=int(env.get("CRMSTATUS_WORKERS", d.workers)),
            max_concurrent_rpcs=int(env.get("CRMSTATUS_MAX_CONCURRENT_RPCS", d.max_concurrent_rpcs)),
            max_message_bytes=int(env.get("CRMSTATUS_MAX_MESSAGE_BYTES", d.max_message_bytes)),
            shutdown_grace_seconds=float(env.get("CRMSTATUS_SHUTDOWN_GRACE", d.shutdown_grace_seconds)),
            claim_protection=_durations(env.get("CRMSTATUS_CLAIM_PROTECTION", ""), "CRMSTATUS_CLAIM_PROTECTION"),
            timer_worker=env.get("CRMSTATUS_TIMER_WORKER", "1") not in ("0", "false", "no"),
            timer_interval_seconds=float(env.get("CRMSTATUS_TIMER_INTERVAL", d.timer_interval_seconds)),
        )


def _durations(text: str, variable: str) -> dict[str, str]:
    found = _pairs(text, variable)
    for value in found.values():
        parse_duration(value)  # refuse a bad value at start-up, not on a customer
    return found


def _pairs(text: str, variable: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if any(len(pair) != 2 or not pair[0].strip() or not pair[1].strip() for pair in pairs):
        raise ValueError(f"{variable} is tenant=value pairs separated by commas")
    return {tenant.strip(): value.strip() for tenant, value in pairs}
