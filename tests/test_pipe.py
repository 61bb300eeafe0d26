"""The scripts' shared, pipelined connection (store/pipe.py) against a real Redis: every reply reaches the caller
that sent its command, whatever the others do meanwhile (fail, give up, lose the connection)."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as redis
from redis.exceptions import ConnectionError, NoScriptError, ResponseError

from crmstatus.server.store.pipe import Pipe

ECHO = "return ARGV[1]"
REFUSE = "return redis.error_reply('refused ' .. ARGV[1])"


@pytest.fixture
async def client(own_redis):
    client = redis.Redis(host="127.0.0.1", port=own_redis.port, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def pipe(client):
    pipe = Pipe.for_client(client, retries=2, timeout=5)
    assert pipe is not None
    yield pipe
    pipe.reset()


async def test_many_callers_in_flight_each_get_their_own_reply(pipe):
    async def one(n: int) -> object:
        try:
            return await pipe.call("EVAL", REFUSE if n % 7 == 0 else ECHO, 0, str(n))
        except ResponseError as error:
            return error

    replies = await asyncio.gather(*(one(n) for n in range(500)))

    for n, reply in enumerate(replies):
        if n % 7 == 0:
            assert isinstance(reply, ResponseError) and str(reply) == f"refused {n}"
        else:
            assert reply == str(n)


async def test_a_caller_that_gives_up_leaves_the_next_reply_to_the_next_caller(pipe):
    assert await pipe.call("PING") == "PONG"  # connected: the next call writes at once
    abandoned = asyncio.create_task(pipe.call("EVAL", ECHO, 0, "first"))
    await asyncio.sleep(0)  # it has written its command and waits for the reply
    abandoned.cancel()

    assert await pipe.call("EVAL", ECHO, 0, "second") == "second"
    assert abandoned.cancelled()


async def test_errors_keep_their_redis_py_types(pipe):
    with pytest.raises(NoScriptError):
        await pipe.call("EVALSHA", "0" * 40, 0)
    with pytest.raises(ResponseError, match="unknown command"):
        await pipe.call("NO-SUCH-COMMAND")
    assert await pipe.call("EVAL", "return {1, 'two', {3}}", 0) == [1, "two", [3]]


async def test_a_reply_that_is_not_utf8_fails_its_own_caller_alone(pipe, client):
    await client.set("garbled", b"\xff\xfe not text")
    connection = await pipe.call("CLIENT", "ID")

    async def one(n: int) -> object:
        try:
            return await pipe.call("GET", "garbled") if n == 50 else await pipe.call("EVAL", ECHO, 0, str(n))
        except UnicodeDecodeError as error:
            return error

    replies = await asyncio.gather(*(one(n) for n in range(100)))

    assert isinstance(replies[50], UnicodeDecodeError)
    assert [r for n, r in enumerate(replies) if n != 50] == [str(n) for n in range(100) if n != 50]
    assert await pipe.call("CLIENT", "ID") == connection  # the connection goes on


async def test_a_connection_redis_drops_is_opened_again_by_the_next_call(pipe, client):
    first = await pipe.call("CLIENT", "ID")
    assert await client.client_kill_filter(_id=first) == 1

    # (written before the pipe saw the connection go, it is sent again: it may run twice)
    assert await pipe.call("EVAL", ECHO, 0, "after", resend=True) == "after"
    assert await pipe.call("CLIENT", "ID") != first


async def test_a_redis_that_is_gone_is_a_connection_error_after_the_retries(own_redis, client):
    pipe = Pipe.for_client(client, retries=1, timeout=5)
    assert pipe is not None
    own_redis.stop()

    with pytest.raises(ConnectionError):
        await pipe.call("PING")

    own_redis.start()  # back on the same port: the same pipe works again
    assert await pipe.call("PING") == "PONG"
    pipe.reset()


async def test_it_logs_in_and_selects_the_database_the_url_names(own_redis, client):
    await client.config_set("requirepass", "s3cret")
    url = f"redis://default:s3cret@127.0.0.1:{own_redis.port}/2"
    other = redis.Redis.from_url(url, decode_responses=True)
    pipe = Pipe.for_client(other, retries=0, timeout=5)
    assert pipe is not None

    await pipe.call("SET", "written", "through the pipe")

    assert await other.get("written") == "through the pipe"  # database 2, as the URL says
    assert await client.execute_command("AUTH", "s3cret") and await client.get("written") is None  # not 0
    pipe.reset()
    await other.aclose()


def test_tls_goes_through_redis_py():
    assert Pipe.for_client(redis.Redis.from_url("rediss://127.0.0.1:6390"), retries=0, timeout=5) is None


async def test_calls_unanswered_in_time_fail_and_the_next_call_goes_on_a_new_connection(client):
    pipe = Pipe.for_client(client, retries=2, timeout=0.3)
    assert pipe is not None
    first = await pipe.call("CLIENT", "ID")
    stuck = asyncio.create_task(pipe.call("DEBUG", "SLEEP", "0.6"))  # Redis answers nothing for 0.6 s
    await asyncio.sleep(0)
    behind = asyncio.create_task(pipe.call("EVAL", ECHO, 0, "behind", resend=True))

    for call in (stuck, behind):
        with pytest.raises(TimeoutError):
            await call
    assert not pipe._protocol or pipe._protocol.lost  # the silent connection was dropped
    assert await pipe.call("EVAL", ECHO, 0, "after") == "after"
    assert await pipe.call("CLIENT", "ID") != first
    pipe.reset()


async def test_a_command_whose_reply_was_lost_is_sent_again_only_if_it_may_run_twice(own_redis, client):
    """The connection drops after Redis ran a command, before its reply arrived: the command is not sent
    again unless its caller said that is harmless (a counter would count twice, an approval be refused)."""
    losses = [True]  # the first reply on a connection that pops one is lost with its connection

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream, up_writer = await asyncio.open_connection("127.0.0.1", own_redis.port)
        lose = bool(losses and losses.pop())

        async def to_redis() -> None:
            while data := await reader.read(65536):
                up_writer.write(data)

        async def to_caller() -> None:
            while data := await upstream.read(65536):
                if lose:
                    writer.transport.abort()
                    up_writer.close()
                    return
                writer.write(data)

        await asyncio.gather(to_redis(), to_caller(), return_exceptions=True)

    proxy = await asyncio.start_server(relay, "127.0.0.1", 0)
    pipe = Pipe({"host": "127.0.0.1", "port": proxy.sockets[0].getsockname()[1]}, unix=False, retries=2, timeout=5)
    with pytest.raises(ConnectionError):
        await pipe.call("INCR", "once")
    assert await client.get("once") == "1"  # it ran, once

    losses.append(True)
    assert await pipe.call("INCR", "again", resend=True) == 2  # ran, reply lost, sent again on a new connection
    pipe.reset()
    proxy.close()
