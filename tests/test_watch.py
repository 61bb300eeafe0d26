"""WatchEvents on one process: many watchers of a tenant share one Redis reader, and each still gets every
change once, in order; one that resumes from an older position catches up and then follows live."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest

from crmstatus.engine import Actor
from crmstatus.engine.commands import UpdateFacts
from crmstatus.server.application.model import Caller
from crmstatus.server.settings import Settings
from crmstatus.server.store.errors import EventsTrimmed
from crmstatus.v1 import customer_status_service_pb2 as cs
from crmstatus.v1 import customer_status_service_pb2_grpc as cs_grpc
from tests.conftest import PARTITIONS, TOKENS
from tests.service import Service

METADATA = [("x-crm-tenant", "globex"), ("x-crm-actor", "adv-chen"), ("x-crm-roles", "advisor"),
            ("authorization", f"Bearer {TOKENS['globex']}")]  # fmt: skip


async def _versions_of(stream, customer_id: str, count: int) -> list[int]:
    seen = []
    async for event in stream:
        if event.customer_id == customer_id:
            seen.append(event.version)
            if len(seen) == count:
                return seen
    raise AssertionError("the stream ended")


async def test_forty_watchers_of_one_tenant_each_get_every_change_once(served):
    customer = f"w-{uuid.uuid4().hex[:8]}"
    async with grpc.aio.insecure_channel(f"127.0.0.1:{served[1]}") as channel:
        api = cs_grpc.CustomerStatusServiceStub(channel)
        streams = [api.WatchEvents(cs.WatchEventsRequest(), metadata=METADATA) for _ in range(40)]
        await asyncio.gather(*(stream.initial_metadata() for stream in streams))
        await api.CreateCustomer(cs.CreateCustomerRequest(customer_id=customer, definition="education"),
                                 metadata=METADATA)  # fmt: skip
        await api.FireEvent(cs.FireEventRequest(customer_id=customer, event="book_trial"), metadata=METADATA)
        seen = await asyncio.wait_for(asyncio.gather(*(_versions_of(s, customer, 2) for s in streams)), 20)
        assert seen == [[1, 2]] * 40
        for stream in streams:
            stream.cancel()


async def test_a_watcher_resuming_while_others_follow_catches_up_then_follows_live(served):
    customer = f"w-{uuid.uuid4().hex[:8]}"
    async with grpc.aio.insecure_channel(f"127.0.0.1:{served[1]}") as channel:
        api = cs_grpc.CustomerStatusServiceStub(channel)
        follower = api.WatchEvents(cs.WatchEventsRequest(), metadata=METADATA)  # keeps the tenant's reader busy
        await follower.initial_metadata()
        await api.CreateCustomer(cs.CreateCustomerRequest(customer_id=customer, definition="education"),
                                 metadata=METADATA)  # fmt: skip
        first = None
        async for event in follower:
            if event.customer_id == customer:
                first = event
                break
        assert first is not None and first.version == 1
        await api.FireEvent(cs.FireEventRequest(customer_id=customer, event="book_trial"), metadata=METADATA)
        resumed = api.WatchEvents(cs.WatchEventsRequest(after_event_id=first.event_id), metadata=METADATA)
        await resumed.initial_metadata()
        await api.UpdateFacts(cs.UpdateFactsRequest(customer_id=customer, facts=_facts(remaining_lessons=4)),
                              metadata=METADATA)  # fmt: skip
        assert await asyncio.wait_for(_versions_of(resumed, customer, 2), 20) == [2, 3]  # missed, then live
        assert await asyncio.wait_for(_versions_of(follower, customer, 2), 20) == [2, 3]
        follower.cancel()
        resumed.cancel()


async def test_watchers_wait_for_the_next_event_and_their_tenants_reader_stops_with_the_last_one(store, tenant):
    watch, caller = store.app.watch, Caller(tenant, Actor("crm-sync", frozenset({"integration"})))
    _, positions = await watch.start(caller, "")
    arrived: asyncio.Queue = asyncio.Queue()

    async def follow() -> None:
        async for _, event in watch.follow(caller, positions, lambda: True):
            await arrived.put(event)

    followers = [asyncio.create_task(follow()) for _ in range(2)]
    await store.create_customer(tenant, "c-1", "education", caller.actor)
    assert [(await arrived.get()).customer_id for _ in followers] == ["c-1", "c-1"]
    for follower in followers:  # as gRPC cancels a stream's task when its call ends
        assert tenant in watch._tenants
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
    assert tenant not in watch._tenants


@pytest.fixture
async def trimming(redis_url, catalog, clock, request):
    """The application with event streams that keep about `maxlen` events (1 unless the test's `maxlen` mark says
    otherwise): Redis trims them a node (100 entries) at a time."""
    mark = request.node.get_closest_marker("maxlen")
    settings = Settings(redis_url=redis_url, partitions=PARTITIONS, event_stream_maxlen=mark.args[0] if mark else 1)
    service = await Service.connect(settings, catalog, clock)
    yield service
    await service.close()


async def _first_event(watch, caller, token: str):
    _, positions = await watch.start(caller, token)
    async for _, event in watch.follow(caller, positions, lambda: True):
        return event
    raise AssertionError("the stream ended")


async def test_a_watcher_resuming_after_events_were_trimmed_away_is_told_instead_of_missing_them(trimming, tenant):
    watch, caller = trimming.app.watch, Caller(tenant, Actor("crm-sync", frozenset({"integration"})))
    await trimming.create_customer(tenant, "c-1", "education", caller.actor)
    gone, _ = await watch.start(caller, "")  # right after the creation's event
    for n in range(250):  # each an event in c-1's partition: all but the last node are trimmed
        await trimming.run(tenant, "c-1", UpdateFacts({"remaining_lessons": 40 + n % 2}), caller.actor)
    with pytest.raises(EventsTrimmed, match="may have been trimmed") as trimmed:
        await _first_event(watch, caller, gone)
    assert trimmed.value.parts == (trimming.keys(tenant).part("c-1"),)
    kept, _ = await watch.start(caller, "")
    await trimming.run(tenant, "c-1", UpdateFacts({"remaining_lessons": 7}), caller.actor)
    assert (await _first_event(watch, caller, kept)).version == 252


@pytest.mark.maxlen(300)
async def test_a_catch_up_overtaken_by_trimming_is_told_instead_of_skipping_events(trimming, tenant):
    watch, caller = trimming.app.watch, Caller(tenant, Actor("crm-sync", frozenset({"integration"})))
    await trimming.create_customer(tenant, "c-1", "education", caller.actor)  # version 1
    _, positions = await watch.start(caller, "")  # right after the creation's event
    for n in range(200):  # versions 2..201: nothing trimmed yet
        await trimming.run(tenant, "c-1", UpdateFacts({"remaining_lessons": 40 + n % 2}), caller.actor)
    follow = watch.follow(caller, positions, lambda: True)
    seen = [(await anext(follow))[1].version]  # the catch-up has begun, and its client is slow
    for n in range(600):  # versions 202..801: the stream is trimmed past where the catch-up stands
        await trimming.run(tenant, "c-1", UpdateFacts({"remaining_lessons": 40 + n % 2}), caller.actor)
    with pytest.raises(EventsTrimmed):
        while seen[-1] < 801:
            seen.append((await anext(follow))[1].version)
    await follow.aclose()
    assert seen == list(range(2, len(seen) + 2)), "events were skipped before the watcher was told"


async def test_a_watcher_that_started_on_empty_streams_resumes_with_every_event(store, tenant):
    watch, caller = store.app.watch, Caller(tenant, Actor("crm-sync", frozenset({"integration"})))
    empty, _ = await watch.start(caller, "")
    await store.create_customer(tenant, "c-1", "education", caller.actor)
    assert (await _first_event(watch, caller, empty)).customer_id == "c-1"


async def test_over_grpc_a_resume_after_trimmed_events_ends_out_of_range_with_the_partitions(redis_url):
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    from crmstatus.server.settings import Settings as Serving
    from tests.conftest import CONFIGS, Served

    settings = Serving(redis_url=redis_url, listen="127.0.0.1:0", tokens=TOKENS, config_dir=str(CONFIGS),
                       partitions=PARTITIONS, timer_worker=False, event_stream_maxlen=1)  # fmt: skip
    server, customer = Served(settings), f"w-{uuid.uuid4().hex[:8]}"
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            api = cs_grpc.CustomerStatusServiceStub(channel)
            await api.CreateCustomer(cs.CreateCustomerRequest(customer_id=customer, definition="education"),
                                     metadata=METADATA)  # fmt: skip
            opened = api.WatchEvents(cs.WatchEventsRequest(), metadata=METADATA)
            token = dict(await opened.initial_metadata())["x-crm-watch-position"]
            opened.cancel()
            for n in range(250):  # all in the customer's partition: its stream is trimmed past the token
                update = cs.UpdateFactsRequest(customer_id=customer, facts=_facts(remaining_lessons=n % 2))
                await api.UpdateFacts(update, metadata=METADATA)
            resumed = api.WatchEvents(cs.WatchEventsRequest(after_event_id=token), metadata=METADATA)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                async for _ in resumed:
                    raise AssertionError("an event after trimmed ones was delivered")
        assert refused.value.code() == grpc.StatusCode.OUT_OF_RANGE
        assert "may have been trimmed" in refused.value.details()
        info = error_details_pb2.ErrorInfo()
        rpc_status.from_call(refused.value).details[0].Unpack(info)
        assert info.reason == "EVENTS_TRIMMED" and info.metadata["partitions"]
    finally:
        server.stop()


def _facts(**values):
    from google.protobuf import struct_pb2

    message = struct_pb2.Struct()
    message.update(values)
    return message
