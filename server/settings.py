"""All configuration in one typed object, read from the environment once."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crmstatus.engine.facts import parse_duration


class SettingsError(ValueError):
    """A bad environment variable; the message is one line naming it and the form it accepts."""


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = None  # REDIS_URL: redis://, rediss:// or unix://; None: embedded (dev mode only)
    # CRMSTATUS_REDIS_MODE: auto asks the server whether it is a node of a Redis Cluster; single or cluster force it.
    redis_mode: str = "auto"
    config_dir: str = "configs"  # CRMSTATUS_CONFIG_DIR
    listen: str = "127.0.0.1:50051"  # CRMSTATUS_LISTEN
    # CRMSTATUS_TOKENS="acme=token-a,globex=token-b": each tenant's bearer token.
    tokens: Mapping[str, str] = field(default_factory=dict)
    dev_mode: bool = False  # CRMSTATUS_DEV_MODE=1: no token needed (local development only)
    # CRMSTATUS_JWT_SECRETS="acme=secret,...": a tenant's callers present JWTs signed with its secret (HS256).
    jwt_secrets: Mapping[str, str] = field(default_factory=dict)
    # CRMSTATUS_JWT_JWKS="acme=/etc/crmstatus/acme.jwks,...": or verified with the public keys of a JWKS file.
    jwt_jwks: Mapping[str, str] = field(default_factory=dict)
    jwt_audience: str = "crmstatus"  # CRMSTATUS_JWT_AUDIENCE: the `aud` tokens must carry
    platform_tenant: str = "platform"  # CRMSTATUS_PLATFORM_TENANT: whose admins manage what all tenants share
    # TLS for the gRPC port: CRMSTATUS_TLS_CERT and CRMSTATUS_TLS_KEY (PEM files); CRMSTATUS_TLS_CLIENT_CA: clients
    # must present a certificate signed by it (mTLS).
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    behind_tls_proxy: bool = False  # CRMSTATUS_BEHIND_TLS_PROXY=1: plaintext here, TLS ended by a proxy or mesh
    # CRMSTATUS_PARTITIONS: hash slots a tenant is spread over (store/keys.py), recorded in Redis at first start.
    partitions: int = 16
    idempotency_ttl_seconds: int = 24 * 3600  # CRMSTATUS_IDEMPOTENCY_TTL
    event_stream_maxlen: int = 100_000  # CRMSTATUS_EVENT_STREAM_MAXLEN, per partition, trimmed approximately
    redis_timeout_seconds: float = 2.0  # CRMSTATUS_REDIS_TIMEOUT
    redis_retries: int = 3  # CRMSTATUS_REDIS_RETRIES, with exponential backoff
    # CRMSTATUS_DURABLE_REPLICAS: a write is acknowledged only once this many replicas have it (WAIT); 0: off.
    durable_replicas: int = 0
    redis_connections: int = 512  # CRMSTATUS_REDIS_CONNECTIONS: Redis round trips in flight at once, per process
    max_concurrent_rpcs: int = 2048  # CRMSTATUS_MAX_CONCURRENT_RPCS (streams count): beyond it RESOURCE_EXHAUSTED
    max_message_bytes: int = 4 * 1024 * 1024  # CRMSTATUS_MAX_MESSAGE_BYTES
    shutdown_grace_seconds: float = 10.0  # CRMSTATUS_SHUTDOWN_GRACE: in-flight calls may finish
    # CRMSTATUS_CLAIM_PROTECTION="acme=P3D,globex=P14D": a tenant's own claim lease, over the definition's.
    claim_protection: Mapping[str, str] = field(default_factory=dict)
    timer_worker: bool = True  # CRMSTATUS_TIMER_WORKER=0: this server fires no timers (`crmstatus worker` does)
    timer_interval_seconds: float = 1.0  # CRMSTATUS_TIMER_INTERVAL: pause between sweeps
    # CRMSTATUS_APPROVAL_OPTIONAL="acme,globex": tenants whose admins may activate a definition version nobody
    # approved; every other tenant's (and the shared defaults') need a second person's approval first.
    approval_optional: frozenset[str] = frozenset()
    # CRMSTATUS_HEALTH_INTERVAL: how often health checks Redis and the timer worker.
    health_interval_seconds: float = 2.0
    log_format: str = "json"  # CRMSTATUS_LOG_FORMAT: json (one object per line) or text
    log_level: str = "info"  # CRMSTATUS_LOG_LEVEL: debug, info (a line per call), warning or error
    metrics_listen: str = ""  # CRMSTATUS_METRICS_LISTEN: HOST:PORT of the Prometheus /metrics endpoint; empty: none
    # CRMSTATUS_TRACING=1: OpenTelemetry spans for every call, exported over OTLP as the standard OTEL_* variables
    # say (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, ...).
    tracing: bool = False
    reuse_port: bool = False  # set by `crmstatus serve --processes N`: its processes share one port

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every variable; an unset or empty one keeps its default, a bad one raises SettingsError."""
        return cls._read(_Env(os.environ if env is None else env))

    @classmethod
    def describe(cls, env: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
        """Every variable with the value in effect (its default when unset), secrets masked: what
        `crmstatus config` prints."""
        recording = _Recording(os.environ if env is None else env)
        cls._read(recording)  # type: ignore[arg-type]  # reads as an _Env does
        return [(name, _masked(name, value)) for name, value in recording.seen.items()]

    @classmethod
    def _read(cls, e: _Env) -> Settings:
        d = cls()
        settings = cls(
            redis_url=e.redis_url("REDIS_URL"),
            redis_mode=e.choice("CRMSTATUS_REDIS_MODE", d.redis_mode, ("auto", "single", "cluster")),
            config_dir=e.text("CRMSTATUS_CONFIG_DIR", d.config_dir),
            listen=e.listen("CRMSTATUS_LISTEN", d.listen),
            tokens=e.pairs("CRMSTATUS_TOKENS", "token"),
            dev_mode=e.boolean("CRMSTATUS_DEV_MODE", d.dev_mode),
            jwt_secrets=e.pairs("CRMSTATUS_JWT_SECRETS", "secret"),
            jwt_jwks=e.files("CRMSTATUS_JWT_JWKS"),
            jwt_audience=e.text("CRMSTATUS_JWT_AUDIENCE", d.jwt_audience),
            platform_tenant=e.text("CRMSTATUS_PLATFORM_TENANT", d.platform_tenant),
            tls_cert=e.file("CRMSTATUS_TLS_CERT"),
            tls_key=e.file("CRMSTATUS_TLS_KEY"),
            tls_client_ca=e.file("CRMSTATUS_TLS_CLIENT_CA"),
            behind_tls_proxy=e.boolean("CRMSTATUS_BEHIND_TLS_PROXY", d.behind_tls_proxy),
            partitions=e.whole("CRMSTATUS_PARTITIONS", d.partitions, minimum=1, maximum=MAX_PARTITIONS),
            idempotency_ttl_seconds=e.whole("CRMSTATUS_IDEMPOTENCY_TTL", d.idempotency_ttl_seconds, minimum=1),
            event_stream_maxlen=e.whole("CRMSTATUS_EVENT_STREAM_MAXLEN", d.event_stream_maxlen, minimum=1),
            redis_timeout_seconds=e.seconds("CRMSTATUS_REDIS_TIMEOUT", d.redis_timeout_seconds),
            redis_retries=e.whole("CRMSTATUS_REDIS_RETRIES", d.redis_retries, minimum=0),
            durable_replicas=e.whole("CRMSTATUS_DURABLE_REPLICAS", d.durable_replicas, minimum=0),
            redis_connections=e.whole("CRMSTATUS_REDIS_CONNECTIONS", d.redis_connections, minimum=2),
            max_concurrent_rpcs=e.whole("CRMSTATUS_MAX_CONCURRENT_RPCS", d.max_concurrent_rpcs, minimum=1),
            max_message_bytes=e.whole("CRMSTATUS_MAX_MESSAGE_BYTES", d.max_message_bytes, minimum=1024),
            shutdown_grace_seconds=e.seconds("CRMSTATUS_SHUTDOWN_GRACE", d.shutdown_grace_seconds, zero_ok=True),
            claim_protection=e.durations("CRMSTATUS_CLAIM_PROTECTION"),
            timer_worker=e.boolean("CRMSTATUS_TIMER_WORKER", d.timer_worker),
            timer_interval_seconds=e.seconds("CRMSTATUS_TIMER_INTERVAL", d.timer_interval_seconds),
            approval_optional=e.tenants("CRMSTATUS_APPROVAL_OPTIONAL"),
            health_interval_seconds=e.seconds("CRMSTATUS_HEALTH_INTERVAL", d.health_interval_seconds),
            log_format=e.choice("CRMSTATUS_LOG_FORMAT", d.log_format, ("json", "text")),
            log_level=e.choice("CRMSTATUS_LOG_LEVEL", d.log_level, ("debug", "info", "warning", "error")),
            metrics_listen=e.listen("CRMSTATUS_METRICS_LISTEN", d.metrics_listen),
            tracing=e.boolean("CRMSTATUS_TRACING", d.tracing),
        )
        if bool(settings.tls_cert) != bool(settings.tls_key):
            raise SettingsError("CRMSTATUS_TLS_CERT, CRMSTATUS_TLS_KEY: expected both (certificate and key) or neither")
        if settings.tls_client_ca and not settings.tls_cert:
            raise SettingsError("CRMSTATUS_TLS_CLIENT_CA: expected with CRMSTATUS_TLS_CERT and CRMSTATUS_TLS_KEY")
        return settings


_TENANT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")  # as engine/ids.py checks a call's tenant
MAX_PARTITIONS = 256  # each partition gets a slot of its own range (store/keys.py)


class _Recording:
    """An _Env that remembers each variable it read and the value it gave."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._reader = _Env(env)
        self.seen: dict[str, Any] = {}

    def __getattr__(self, attribute: str) -> Any:
        method = getattr(self._reader, attribute)

        def read(name: str, *args: Any, **kwargs: Any) -> Any:
            value = method(name, *args, **kwargs)
            self.seen[name] = value
            return value

        return read


_SECRET_VALUES = ("CRMSTATUS_TOKENS", "CRMSTATUS_JWT_SECRETS")


def _masked(name: str, value: Any) -> str:
    if name in _SECRET_VALUES:
        return ",".join(f"{tenant}=***" for tenant in value)
    if name == "REDIS_URL" and value:
        return re.sub(r"//([^@/]*)@", "//***@", value)  # user and password
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return "" if value is None else str(value)


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class _Env:
    """Typed readers over the environment. Values are stripped; unset or empty means the default."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def _get(self, name: str) -> str:
        return self._env.get(name, "").strip()

    def text(self, name: str, default: str) -> str:
        return self._get(name) or default

    def whole(self, name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
        text = self._get(name)
        if not text:
            return default
        # str.isdigit alone would take "²" or Arabic-Indic digits; int() alone would take "1_000" and " +3".
        within = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
        if not (text.isascii() and text.isdigit()) or not minimum <= int(text) <= (maximum or int(text)):
            raise SettingsError(f"{name}: expected a whole number {within}, got {text!r}")
        return int(text)

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        text = self._get(name).lower()
        if not text:
            return default
        if text not in choices:
            raise SettingsError(f"{name}: expected one of {', '.join(choices)}, got {self._get(name)!r}")
        return text

    def seconds(self, name: str, default: float, *, zero_ok: bool = False) -> float:
        text = self._get(name)
        if not text:
            return default
        form = "a number of seconds of at least 0" if zero_ok else "a number of seconds greater than 0"
        try:
            value = float(text)
        except ValueError:
            raise SettingsError(f"{name}: expected {form}, got {text!r}") from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok) or "_" in text:
            raise SettingsError(f"{name}: expected {form}, got {text!r}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        text = self._get(name).lower()
        if not text:
            return default
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise SettingsError(f"{name}: expected 1/0, true/false, yes/no or on/off, got {self._get(name)!r}")

    def listen(self, name: str, default: str) -> str:
        text = self._get(name)
        if not text:
            return default
        host, colon, port = text.rpartition(":")
        if not (colon and host and port.isascii() and port.isdigit() and int(port) <= 65535):
            raise SettingsError(f"{name}: expected HOST:PORT with a port from 0 to 65535, got {text!r}")
        return text

    def redis_url(self, name: str) -> str | None:
        text = self._get(name)
        if not text:
            return None
        if not text.startswith(_REDIS_SCHEMES):
            # Never echo the value: a URL may carry a password. Its scheme is enough to see the mistake.
            scheme, sep, _ = text.partition("://")
            got = f"one starting with {scheme + sep!r}" if sep and "@" not in scheme else "a value without one"
            raise SettingsError(f"{name}: expected a URL starting with redis://, rediss:// or unix://, got {got}")
        return text

    def pairs(self, name: str, what: str) -> dict[str, str]:
        # The values may be secrets (tokens), so messages name the tenant or the position, never the value.
        found: dict[str, str] = {}
        items = [item for item in self._get(name).split(",") if item.strip()]
        for position, item in enumerate(items, 1):
            tenant, equals, value = item.partition("=")
            tenant, value = tenant.strip(), value.strip()
            if not (equals and tenant and value):
                raise SettingsError(
                    f"{name}: expected tenant={what} pairs separated by commas, item {position} is not one"
                )
            found[tenant] = value
        return found

    def tenants(self, name: str) -> frozenset[str]:
        found = frozenset(item.strip() for item in self._get(name).split(",") if item.strip())
        for tenant in found:
            if not _TENANT.fullmatch(tenant):
                raise SettingsError(f"{name}: expected tenant names separated by commas, {tenant!r} is not one")
        return found

    def file(self, name: str) -> str:
        text = self._get(name)
        if text and not os.path.isfile(text):
            raise SettingsError(f"{name}: expected the path of a readable file, got {text!r}")
        return text

    def files(self, name: str) -> dict[str, str]:
        found = self.pairs(name, "file")
        for tenant, path in found.items():
            if not os.path.isfile(path):
                raise SettingsError(f"{name}: expected tenant=file pairs, {tenant}'s {path!r} is not a readable file")
        return found

    def durations(self, name: str) -> dict[str, str]:
        found = self.pairs(name, "duration")
        for tenant, value in found.items():
            try:
                parse_duration(value)  # refuse a bad value at start-up, not on a customer
            except ValueError as error:
                raise SettingsError(f"{name}: expected tenant=duration pairs, {tenant}'s {error}") from None
        return found
