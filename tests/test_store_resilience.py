"""The store under stress: 16 writers on the same customers, and Redis going away and coming back."""

from __future__ import annotations

import asyncio
import random
import signal
from collections import defaultdict

import pytest
import redis.exceptions

from crmstatus.engine import Actor, TransitionNotAllowed, list_transitions
from crmstatus.server.settings import Settings
from crmstatus.server.store.errors import StoreUnavailable, VersionConflict
from tests.service import Service

EVERYONE = Actor(
    "ops",
    frozenset(
        {
            "sales",
            "senior_sales",
            "manager",
            "compliance",
            "telemarketing",
            "account_manager",
            "finance",
            "customer_success",
            "marketing",
            "service",
        }
    ),
)
FACTS = ["effective_contacts", "web_visits_30d", "overdue_days", "complaint_level", "core_usage_days_30d"]


async def test_sixteen_writers_leave_one_unbroken_history_per_customer(store, tenant, clock, redis_url):
    customers = [f"c-{n}" for n in range(6)]
    for customer in customers:
        await store.create_customer(tenant, customer, "b2b", EVERYONE)
    acknowledged: dict[str, list[int]] = defaultdict(list)
    pinned_conflicts = []
    writers = [await Service.connect(store.settings, store.catalog, clock) for _ in range(16)]  # 16 clients

    async def writer(seed: int) -> None:
        rng, service = random.Random(seed), writers[seed]
        for _ in range(25):
            customer = rng.choice(customers)
            definition, snapshot = await service.get_customer(tenant, customer)
            try:
                if rng.random() < 0.5:
                    listed = list_transitions(definition, snapshot, EVERYONE, clock.now())
                    option = rng.choice([o for o in listed if o.allowed])
                    pin = snapshot.version if rng.random() < 0.3 else None
                    code = option.reason_codes[0] if option.reason_codes else ""  # the listing says when one is due
                    result = await service.fire(tenant, customer, option.event, EVERYONE, reason=code,
                                                expected_version=pin)  # fmt: skip
                else:
                    fact = rng.choice(FACTS)
                    result = await service.update_facts(tenant, customer, {fact: rng.randint(0, 40)}, EVERYONE)
            except TransitionNotAllowed:
                continue  # another writer moved the customer first
            except VersionConflict:
                pinned_conflicts.append(customer)
                continue
            if result.history:
                acknowledged[customer].append(result.snapshot.version)

    await asyncio.gather(*(writer(seed) for seed in range(16)))
    for service in writers:
        await service.close()

    assert sum(map(len, acknowledged.values())) > 200
    assert pinned_conflicts, "pinned versions never raced: the test did not exercise compare-and-set"
    for customer in customers:
        entries, token = await store.history(tenant, customer, limit=1000, newest_first=False)
        assert token is None
        versions = [e.version for e in entries]
        assert versions == sorted(versions), "history out of order"
        chain = sorted(set(versions))
        _, snapshot = await store.get_customer(tenant, customer)
        assert chain == list(range(1, snapshot.version + 1)), f"{customer}: gaps or forks in {chain}"
        acked = acknowledged[customer]
        assert len(acked) == len(set(acked)), f"{customer}: two writes acknowledged with one version"
        assert set(acked) == set(chain) - {1}, f"{customer}: acknowledged writes missing or unacknowledged ones kept"
        firsts = [e for e in entries if e.trigger in ("caller", "facts", "create")]
        assert len(firsts) == len(chain), f"{customer}: a version holds more than one command"


async def test_redis_down_is_a_clear_error_and_the_store_recovers_without_a_restart(own_redis, catalog, clock, tenant):
    settings = Settings(redis_url=f"redis://127.0.0.1:{own_redis.port}", redis_timeout_seconds=0.3, redis_retries=1)
    store = await Service.connect(settings, catalog, clock)
    await store.create_customer(tenant, "c-1", "b2b", EVERYONE)

    own_redis.signal(signal.SIGSTOP)  # frozen: every call times out
    with pytest.raises(StoreUnavailable, match="unavailable"):
        await store.update_facts(tenant, "c-1", {"effective_contacts": 4}, EVERYONE, idempotency_key="u-1")
    own_redis.signal(signal.SIGCONT)
    # the timed-out write may or may not have landed: retrying with its key applies it exactly once
    retried = await store.update_facts(tenant, "c-1", {"effective_contacts": 4}, EVERYONE, idempotency_key="u-1")
    assert retried.snapshot.version == 2
    assert (await store.get_customer(tenant, "c-1"))[1].state("lifecycle") == "意向"

    own_redis.stop()  # gone: connections are refused
    with pytest.raises(StoreUnavailable):
        await store.get_customer(tenant, "c-1")
    with pytest.raises(StoreUnavailable):
        await store.create_customer(tenant, "c-2", "b2b", EVERYONE)
    own_redis.start()  # back, empty (it keeps nothing on disk): the same store object works again
    await store.create_customer(tenant, "c-2", "b2b", EVERYONE)
    assert (await store.get_customer(tenant, "c-2"))[1].version == 1
    await store.close()


@pytest.mark.parametrize(
    "failure",
    [
        redis.exceptions.MovedError("3999 127.0.0.1:6381"),
        redis.exceptions.AskError("3999 127.0.0.1:6381"),
        redis.exceptions.TryAgainError("TRYAGAIN multiple keys request during rehashing of slot"),
        redis.exceptions.ClusterDownError("CLUSTERDOWN The cluster is down"),
        redis.exceptions.MasterDownError("MASTERDOWN Link with MASTER is down"),
        redis.exceptions.ReadOnlyError("READONLY You can't write against a read only replica."),
        redis.exceptions.BusyLoadingError("LOADING Redis is loading the dataset in memory"),
        redis.exceptions.SlotNotCoveredError("slot 3999 is not covered by the cluster"),
        redis.exceptions.ClusterError("TTL exhausted."),
        redis.exceptions.ConnectionError("Connection refused"),
    ],
    ids=lambda failure: type(failure).__name__,
)
async def test_what_a_cluster_answers_in_a_failover_reaches_callers_as_unavailable(failure):
    from crmstatus.server.store.errors import store_errors

    with pytest.raises(StoreUnavailable, match="the state store is unavailable"):
        async with store_errors(1.0):
            raise failure
