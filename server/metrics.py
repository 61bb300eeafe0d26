"""What the service counts, for Prometheus (prometheus-client), served on CRMSTATUS_METRICS_LISTEN.

Counted where it happens: calls, their latency, refused transitions and claims in the wire (which sees each
call's outcome); state changes and timers in the application; Redis failures in the store. Nothing is counted
in a process that serves no endpoint (ENABLED stays False), so that counting costs only where it is read.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

ENABLED = False  # set by `serve`
LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

CALLS = Counter("crmstatus_calls", "gRPC calls answered, by method and status code", ["method", "code"])
CALL_SECONDS = Histogram("crmstatus_call_seconds", "Server time per gRPC call", ["method"], buckets=LATENCY)
TRANSITIONS = Counter(
    "crmstatus_transitions", "State changes, by definition, dimension and event", ["definition", "dimension", "event"]
)
BLOCKED = Counter("crmstatus_blocked", "Refused attempts to change state, by reason kind", ["kind"])
CLAIMS = Counter("crmstatus_claims", "Claims of customers, won or refused (and why)", ["outcome"])
TIMERS_DUE = Counter("crmstatus_timers_due", "Due timers taken by this process's worker")
TIMERS_FIRED = Counter("crmstatus_timers_fired", "Timers fired by this process's worker")
TIMER_LATENESS = Histogram(
    "crmstatus_timer_lateness_seconds", "How late a timer fired after its due time",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)  # fmt: skip
REDIS_ERRORS = Counter("crmstatus_redis_errors", "Store calls that found Redis unavailable or too slow")
OPEN_STREAMS = Gauge("crmstatus_open_streams", "WatchEvents streams open")


def serve(listen: str) -> None:
    """Serve /metrics on HOST:PORT (a thread of prometheus-client's own)."""
    global ENABLED
    host, _, port = listen.rpartition(":")
    start_http_server(int(port), addr=host.strip("[]"))
    ENABLED = True
