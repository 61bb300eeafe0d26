"""The scripts' own path to a single Redis: one connection that every command in flight shares, pipelined.

A call writes its packed command and waits for its reply; Redis answers one connection's commands in order,
so replies are matched to callers first in, first out as they arrive (hiredis parses them). That skips what
redis-py's pooled call does around each command (pool lock, retry wrapper, per-call bookkeeping) and lets
one read from the socket answer several callers. A caller that gives up (its time bound passed, or it was
cancelled) leaves its place in the queue: its reply is read and dropped, so later replies stay matched.

Every call is bounded as a whole (`timeout`, retries included) without a timer of its own: replies come in
order, so the oldest call waiting is the first to run out of time, and one timer, set for its deadline, is
all a connection needs (an `asyncio.timeout` per call cost about 12 µs, two per command). A call unanswered
by its deadline fails with TimeoutError and the connection is dropped (it may be dead without a word).

A lost connection fails the calls waiting on it with ConnectionError; the next call connects again, up to
`retries` times with backoff. A command already written is sent again only by a caller that says it may run
twice (a read; a commit, which finds its idempotency record, see application/commands.py): Redis may have
run it and only the reply been lost. Only for plain TCP and unix sockets without a credential provider: TLS and
Redis Cluster go through redis-py (connection.py).
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import hiredis
import redis.asyncio as redis
from redis._parsers.base import BaseParser
from redis.exceptions import ConnectionError, InvalidResponse

BACKOFF_SECONDS = (0.02, 0.04, 0.08, 0.16, 0.32, 0.5)  # before reconnect attempt n (as connection.py's Retry)


class _Protocol(asyncio.Protocol):
    """One connection: packed commands out, replies in, each to the oldest caller still waiting."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader(encoding="utf-8", replyError=BaseParser.parse_error, protocolError=InvalidResponse)
        self.waiting: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()  # with deadlines
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.lost: ConnectionError | None = None
        self.watch: asyncio.TimerHandle | None = None  # set for the oldest waiting call's deadline

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while True:
            try:
                reply = self.reader.gets()
            except UnicodeDecodeError as error:  # a value that is not text: read whole, its caller's failure alone
                reply = error
            except InvalidResponse as error:  # not RESP: nothing after it can be matched
                self._fail(ConnectionError(f"Redis sent what is not a reply: {error}"))
                self.abort()
                return
            if reply is False:
                return
            waiter = self.waiting.popleft()[0]
            if waiter.done():  # its caller gave up
                continue
            if isinstance(reply, Exception):
                waiter.set_exception(reply)
            else:
                waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError(f"the connection to Redis was lost{f': {exc}' if exc else ''}"))

    def _fail(self, error: ConnectionError) -> None:
        self.lost = self.lost or error
        while self.waiting:
            waiter = self.waiting.popleft()[0]
            if not waiter.done():
                waiter.set_exception(error)
        if self.watch is not None:
            self.watch.cancel()
            self.watch = None

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def send(self, packed: bytes, deadline: float) -> asyncio.Future[Any]:
        if self.lost is not None:
            raise self.lost
        assert self.transport is not None
        waiter = self.loop.create_future()
        self.waiting.append((waiter, deadline))
        self.transport.write(packed)
        if self.watch is None:
            self.watch = self.loop.call_at(deadline, self._check)
        return waiter

    def _check(self) -> None:
        """The oldest call's deadline came: fail it if it is still unanswered, else wait for the next one's."""
        self.watch = None
        if not self.waiting:
            return
        waiter, deadline = self.waiting[0]
        if deadline > self.loop.time():
            self.watch = self.loop.call_at(deadline, self._check)
            return
        if not waiter.done():
            waiter.set_exception(TimeoutError("Redis did not answer in time"))
        self.abort()  # the calls behind it fail with ConnectionError and try again on a new connection


class Pipe:
    """The shared connection of one process (one event loop), opened on first use."""

    def __init__(self, options: dict[str, Any], unix: bool, retries: int, timeout: float) -> None:
        self.options = options
        self.unix = unix
        self.retries = retries
        self.timeout = timeout  # seconds for a whole call, retries included
        self._protocol: _Protocol | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connecting: asyncio.Task[_Protocol] | None = None

    @classmethod
    def for_client(cls, client: redis.Redis, retries: int, timeout: float) -> Pipe | None:
        """A pipe to the Redis `client` connects to, when it is one the pipe can reach (see the module)."""
        pool = client.connection_pool
        options = pool.connection_kwargs
        kind = pool.connection_class
        if issubclass(kind, redis.SSLConnection) or options.get("credential_provider") is not None:
            return None
        unix = issubclass(kind, redis.UnixDomainSocketConnection)
        return cls(options, unix, retries, timeout)

    async def call(self, *args: Any, resend: bool = False) -> Any:
        """Send one command and return its reply; TimeoutError past `timeout`, ConnectionError after `retries`.
        A command written before its connection failed may have run: it is sent again only when `resend` says
        running it twice is harmless (a read; a commit, which finds its idempotency record), else the caller
        gets the ConnectionError."""
        packed = hiredis.pack_command(args)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        for attempt in range(self.retries + 1):
            written = False
            try:
                protocol = self._protocol
                if protocol is None or protocol.lost is not None or self._loop is not loop:
                    async with asyncio.timeout_at(deadline):
                        protocol = await self._connect()
                reply = protocol.send(packed, deadline)
                written = True
                return await reply
            except TimeoutError:  # out of time (an OSError too): no retry
                raise
            except (ConnectionError, OSError) as error:
                if attempt == self.retries or (written and not resend):
                    raise error if isinstance(error, ConnectionError) else ConnectionError(str(error)) from error
                pause = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]
                if loop.time() + pause >= deadline:
                    raise TimeoutError("Redis did not answer in time") from error
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    def reset(self) -> None:
        """Drop the connection: on close, and before a new one takes its place (an unanswered call drops its
        connection itself, see _Protocol._check)."""
        if self._protocol is not None:
            self._protocol.abort()
        self._protocol = None

    async def _connect(self) -> _Protocol:
        """One connection attempt at a time, however many callers find the pipe closed."""
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.get_running_loop().create_task(self._open())
        return await asyncio.shield(self._connecting)

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        o = self.options
        async with asyncio.timeout(o.get("socket_connect_timeout") or 5):
            if self.unix:
                _, protocol = await loop.create_unix_connection(_Protocol, o["path"])
            else:
                _, protocol = await loop.create_connection(_Protocol, o.get("host", "localhost"), o.get("port", 6379))
            handshake: list[tuple[Any, ...]] = []
            if o.get("password"):
                handshake.append(("AUTH", *([o["username"]] if o.get("username") else []), o["password"]))
            if o.get("db"):
                handshake.append(("SELECT", o["db"]))
            try:
                for command in handshake:
                    await protocol.send(hiredis.pack_command(command), loop.time() + self.timeout)
            except BaseException:
                protocol.abort()
                raise
        self.reset()
        self._protocol, self._loop = protocol, loop
        return protocol
