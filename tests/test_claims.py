"""Collision-free claims (撞单 prevention): leases, fencing, locked details, reassignment, the public pool."""

from __future__ import annotations

import asyncio
import random
import re
import threading
import uuid
from collections import Counter, defaultdict
from datetime import timedelta

import grpc
import pytest
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from crmstatus.engine import (
    Actor,
    Claim,
    ClaimConflict,
    ClaimRefused,
    FencedOut,
    Fire,
    Reassign,
    Release,
    UpdateFacts,
    decide,
    load_definition,
    view,
)
from crmstatus.engine.errors import InvalidRequest, PermissionDenied
from crmstatus.server.application.catalog import Catalog
from crmstatus.v1 import customer_status_service_pb2 as cs
from crmstatus.v1 import customer_status_service_pb2_grpc as cs_grpc
from tests.conftest import TOKENS
from tests.customers import Customer, actor
from tests.service import Service

LI, WANG, ZHAO = actor("rep-li", "sales"), actor("rep-wang", "sales"), actor("mgr-zhao", "manager")


# -- the rules, in the engine --------------------------------------------------------------------------------


def test_a_claim_is_a_lease_with_a_new_fence_token_and_puts_the_customer_in_follow_up(definitions, clock):
    customer = Customer(definitions["b2b"], clock)
    customer.snapshot = decide(definitions["b2b"], customer.snapshot, Claim(), LI, clock.now()).snapshot
    snapshot = customer.snapshot
    assert (snapshot.owner, snapshot.fence, snapshot.lease_until) == ("rep-li", 1, clock.now() + timedelta(days=7))
    assert snapshot.state("team") == "跟进中"  # the definition's claim event followed in the same change
    with pytest.raises(ClaimConflict) as held:
        decide(definitions["b2b"], snapshot, Claim(), WANG, clock.now())
    assert (held.value.holder, held.value.until) == ("rep-li", clock.now() + timedelta(days=7))


def test_a_lapsed_claim_can_be_taken_over_and_the_old_token_is_fenced_out(definitions, clock):
    b2b = definitions["b2b"]
    first = decide(b2b, Customer(b2b, clock).snapshot, Claim(), LI, clock.now()).snapshot
    clock.advance(timedelta(days=7, seconds=1))
    second = decide(b2b, first, Claim(), WANG, clock.now()).snapshot
    assert (second.owner, second.fence) == ("rep-wang", 2)
    stale = Actor("rep-li", frozenset({"sales"}), fence_token=1)
    with pytest.raises(FencedOut, match="fence token 1 is stale"):
        decide(b2b, second, UpdateFacts({"effective_contacts": 9}), stale, clock.now())
    with pytest.raises(FencedOut):
        decide(b2b, second, Fire("ask_for_help"), stale, clock.now())
    with pytest.raises(FencedOut):
        decide(b2b, second, Release(), stale, clock.now())


def test_claiming_again_after_ones_own_lease_lapsed_is_a_fresh_claim(definitions, clock):
    b2b = definitions["b2b"]
    first = decide(b2b, Customer(b2b, clock).snapshot, Claim(), LI, clock.now()).snapshot
    assert decide(b2b, first, Claim(), LI, clock.now()).snapshot.fence == 1  # while it holds: a renewal, same token
    clock.advance(timedelta(days=8))
    again = decide(b2b, first, Claim(), LI, clock.now()).snapshot
    assert (again.fence, again.lease_until) == (2, clock.now() + timedelta(days=7))
    with pytest.raises(FencedOut):
        decide(b2b, again, Release(), Actor("rep-li", frozenset({"sales"}), fence_token=1), clock.now())


def _released_by_li(b2b, clock):
    """A b2b customer rep-li claimed and released just now: in its cooldown."""
    held = decide(b2b, Customer(b2b, clock).snapshot, Claim(), LI, clock.now()).snapshot
    holder = Actor("rep-li", frozenset({"sales"}), fence_token=held.fence)
    return decide(b2b, held, Release(), holder, clock.now()).snapshot


def test_an_ex_owner_waits_out_its_cooldown_before_claiming_again(definitions, clock):
    b2b = definitions["b2b"]
    free = _released_by_li(b2b, clock)
    assert (free.owner, free.state("team")) == (None, "新分配")
    with pytest.raises(ClaimRefused, match="may claim it again from") as refused:
        decide(b2b, free, Claim(), LI, clock.now())
    assert refused.value.reason == "COOLDOWN"
    assert decide(b2b, free, Claim(), WANG, clock.now()).snapshot.owner == "rep-wang"
    clock.advance(timedelta(days=30))
    assert decide(b2b, free, Claim(), LI, clock.now()).snapshot.owner == "rep-li"


def test_an_ex_owner_cannot_take_the_customer_back_by_firing_the_claim_event_during_its_cooldown(definitions, clock):
    b2b = definitions["b2b"]
    free = _released_by_li(b2b, clock)
    customer = Customer(b2b, clock)
    customer.snapshot = free
    until = free.former["rep-li"].isoformat()
    (reason,) = customer.options(LI)["start_follow_up"].reasons  # start_follow_up makes whoever fires it the owner
    assert (reason.kind.value, reason.subject) == ("COOLDOWN", "rep-li")
    assert reason.message == f"rep-li lost this customer recently and may take it again from {until}"
    with pytest.raises(Exception, match="not allowed"):
        customer.fire("start_follow_up", LI)
    assert decide(b2b, free, Fire("start_follow_up"), WANG, clock.now()).snapshot.owner == "rep-wang"
    clock.advance(timedelta(days=30))
    assert decide(b2b, free, Fire("start_follow_up"), LI, clock.now()).snapshot.owner == "rep-li"


def test_an_ex_owner_the_customer_is_reassigned_to_has_no_cooldown_left_for_it(definitions, clock):
    b2b = definitions["b2b"]
    held = decide(b2b, Customer(b2b, clock).snapshot, Claim(), LI, clock.now()).snapshot
    moved = decide(b2b, held, Reassign("rep-wang", "li is on leave"), ZHAO, clock.now()).snapshot
    assert "rep-li" in moved.former
    back = decide(b2b, moved, Reassign("rep-li", "li is back"), ZHAO, clock.now()).snapshot
    assert "rep-li" not in back.former and "rep-wang" in back.former


def test_only_a_manager_reassigns_and_always_with_a_reason(definitions, clock):
    b2b = definitions["b2b"]
    held = decide(b2b, Customer(b2b, clock).snapshot, Claim(), LI, clock.now()).snapshot
    with pytest.raises(PermissionDenied):
        decide(b2b, held, Reassign("rep-wang", "mine now"), WANG, clock.now())
    with pytest.raises(InvalidRequest, match="needs a reason"):
        decide(b2b, held, Reassign("rep-wang", " "), ZHAO, clock.now())
    for owner in ("system", "\x00", " rep-wang", ""):  # the engine's own actor, or no name a caller can have
        with pytest.raises(InvalidRequest, match="owner"):
            decide(b2b, held, Reassign(owner, "rep-li is on leave"), ZHAO, clock.now())
    outcome = decide(b2b, held, Reassign("rep-wang", "rep-li is on leave"), ZHAO, clock.now())
    assert (outcome.snapshot.owner, outcome.snapshot.fence) == ("rep-wang", 2)
    (entry,) = outcome.history
    assert (entry.trigger, entry.actor, entry.reason) == (
        "reassign",
        "mgr-zhao",
        "rep-li → rep-wang: rep-li is on leave",
    )


def test_reassigning_to_the_current_owner_gives_a_fresh_lease_and_token(definitions, clock):
    b2b = definitions["b2b"]
    held = decide(b2b, Customer(b2b, clock).snapshot, Claim(), LI, clock.now()).snapshot
    clock.advance(timedelta(days=8))  # rep-li's lease lapsed: anyone may claim the customer
    kept = decide(b2b, held, Reassign("rep-li", "keep it with li"), ZHAO, clock.now()).snapshot
    assert (kept.owner, kept.fence, kept.lease_until) == ("rep-li", 2, clock.now() + timedelta(days=7))
    assert "rep-li" not in kept.former  # no cooldown for keeping it
    with pytest.raises(ClaimConflict):
        decide(b2b, kept, Claim(), WANG, clock.now())


def test_a_claim_keeps_other_reps_out_even_where_the_state_is_not_locked(definitions, clock):
    b2b = definitions["b2b"]
    customer = Customer(b2b, clock)
    customer.snapshot = decide(b2b, customer.snapshot, Claim(), LI, clock.now()).snapshot
    customer.fire("ask_for_help", LI)  # 跟进中 → 需要协作: not a locked state, still rep-li's customer
    blocked = customer.options(WANG)["back_to_follow_up"]
    assert [r.message for r in blocked.reasons] == [
        f"claimed by rep-li until {customer.snapshot.lease_until.isoformat()}"
    ]
    with pytest.raises(Exception, match="not allowed"):
        customer.fire("back_to_follow_up", WANG)
    with pytest.raises(ClaimConflict):
        customer.update(WANG, effective_contacts=3)
    customer.fire("back_to_follow_up", ZHAO)  # managers may


def test_others_see_a_locked_customer_redacted(definitions, clock):
    b2b = definitions["b2b"]
    customer = Customer(b2b, clock, phone="13800138000", effective_contacts=2)
    held = decide(b2b, customer.snapshot, Claim(), LI, clock.now()).snapshot
    seen = view(b2b, held, WANG)
    assert seen.redacted and seen.facts == {} and seen.owner == "rep-li"
    assert seen.state("team") == "跟进中"
    assert view(b2b, held, LI).facts["phone"] == "13800138000"
    assert not view(b2b, held, ZHAO).redacted


# -- caps, through the store -----------------------------------------------------------------------------------

CAPPED = """
name: capped
industry: test
version: 1
owner: qa@crm.example
roles: {sales: {}}
claims: {protection: P1D, max_held: 2, max_daily: 3}
dimensions:
  team:
    states:
      open: {initial: true}
      closed: {}
    transitions:
      - {event: close, from: open, to: closed, roles: [sales]}
      - {event: reopen, from: closed, to: open, roles: [sales]}
"""


@pytest.fixture
async def capped_store(store):
    definitions = [*store.catalog, load_definition(CAPPED, "capped.yaml")]
    capped = await Service.connect(store.settings, Catalog(definitions), store.clock)
    yield capped
    await capped.close()


async def test_claim_caps_per_rep_held_at_once_and_per_day(capped_store, tenant):
    store = capped_store
    for n in range(5):
        await store.create_customer(tenant, f"k-{n}", "capped", LI)
    first, second = await store.claim(tenant, "k-0", LI), await store.claim(tenant, "k-1", LI)
    with pytest.raises(ClaimRefused) as refused:
        await store.claim(tenant, "k-2", LI)
    assert refused.value.reason == "HELD_CAP"
    await store.release(tenant, "k-0", Actor(LI.id, LI.roles, fence_token=first.snapshot.fence))
    await store.claim(tenant, "k-2", LI)  # holds 2 again, third claim today
    await store.release(tenant, "k-1", Actor(LI.id, LI.roles, fence_token=second.snapshot.fence))
    with pytest.raises(ClaimRefused) as refused:
        await store.claim(tenant, "k-3", LI)
    assert refused.value.reason == "DAILY_CAP"
    assert (await store.get_customer(tenant, "k-3"))[1].owner is None  # a refused claim changes nothing
    store.clock.advance(timedelta(days=1))  # a new day, and the held leases lapsed
    await store.claim(tenant, "k-3", LI)
    await store.claim(tenant, "k-4", LI)


async def _three_capped(store, tenant: str):
    """Customers k-0, k-1 and k-2 (capped: a rep holds 2 at most), and the commit script to wrap."""
    for n in range(3):
        await store.create_customer(tenant, f"k-{n}", "capped", LI)
    scripts = store.app.store.customers.scripts
    return scripts, scripts.commit, []


@pytest.mark.parametrize("lost", ["not replicated", "answer lost", "answer lost, then another write"])
async def test_a_claim_written_though_its_call_failed_counts_against_the_caps(capped_store, tenant, monkeypatch, lost):
    from crmstatus.server.store.errors import NotReplicated, StoreUnavailable

    store = capped_store
    scripts, commit, calls = await _three_capped(store, tenant)

    async def written_then_failed(*args):
        calls.append(args)
        reply = await commit(*args)  # Redis applied it; the caller hears of a failure all the same
        if len(calls) > 1:  # the other write
            return reply
        if lost == "not replicated":
            raise NotReplicated("only 0 of 1 replicas confirmed it")
        if lost.endswith("another write"):  # before the claim's own read after the failure
            await store.fire(tenant, "k-0", "close", LI)
        raise StoreUnavailable("the answer was lost")

    monkeypatch.setattr(scripts, "commit", written_then_failed)
    with pytest.raises(StoreUnavailable):
        await store.claim(tenant, "k-0", LI, idempotency_key="claim-k-0")
    monkeypatch.undo()
    assert (await store.claim(tenant, "k-0", LI, idempotency_key="claim-k-0")).replayed  # the retry confirms it
    await store.claim(tenant, "k-1", LI)
    with pytest.raises(ClaimRefused) as refused:  # rep-li holds k-0 and k-1: max_held is 2
        await store.claim(tenant, "k-2", LI)
    assert refused.value.reason == "HELD_CAP"


async def test_a_claim_that_lost_to_another_and_then_failed_does_not_count(capped_store, tenant, monkeypatch):
    from crmstatus.server.store.errors import NotReplicated

    store = capped_store
    scripts, commit, calls = await _three_capped(store, tenant)

    async def lost_then_failed(*args):
        calls.append(args)
        if len(calls) == 1:  # rep-wang's claim lands first: rep-li's write finds another version, writes nothing
            await store.claim(tenant, "k-0", WANG)
            await commit(*args)
            raise NotReplicated("only 0 of 1 replicas confirmed it")
        return await commit(*args)

    monkeypatch.setattr(scripts, "commit", lost_then_failed)
    with pytest.raises(NotReplicated):
        await store.claim(tenant, "k-0", LI)
    monkeypatch.undo()
    assert (await store.get_customer(tenant, "k-0"))[1].owner == "rep-wang"
    await store.claim(tenant, "k-1", LI)
    await store.claim(tenant, "k-2", LI)  # rep-li holds two: k-0 was never its


async def test_a_tenant_may_set_its_own_claim_lease(store, tenant):
    from crmstatus.server.application import claim_protection
    from crmstatus.server.settings import Settings

    settings = Settings.from_env({"CRMSTATUS_CLAIM_PROTECTION": f"{tenant}=P2D"})
    assert settings.claim_protection == {tenant: "P2D"}
    with pytest.raises(ValueError, match="not a duration"):
        Settings.from_env({"CRMSTATUS_CLAIM_PROTECTION": f"{tenant}=2 days"})
    tailored = await Service.connect(store.settings, Catalog(store.catalog, claim_protection(settings)), store.clock)
    await tailored.create_customer(tenant, "c-1", "b2b", LI)
    assert (await tailored.claim(tenant, "c-1", LI)).snapshot.lease_until == store.clock.now() + timedelta(days=2)
    await store.create_customer(tenant + "x", "c-1", "b2b", LI)  # other tenants keep the definition's 7 days
    assert (await tailored.claim(tenant + "x", "c-1", LI)).snapshot.lease_until == store.clock.now() + timedelta(days=7)
    await tailored.close()


# -- through the gRPC server ------------------------------------------------------------------------------------


def md(rep: str, roles: str = "sales", tenant: str = "globex"):
    return [
        ("x-crm-tenant", tenant),
        ("x-crm-actor", rep),
        ("x-crm-roles", roles),
        ("authorization", f"Bearer {TOKENS[tenant]}"),
    ]


@pytest.fixture
def api(served):
    with grpc.insecure_channel(f"127.0.0.1:{served[1]}") as channel:
        yield cs_grpc.CustomerStatusServiceStub(channel)


def _error(call) -> tuple[grpc.StatusCode, dict[str, str], str]:
    with pytest.raises(grpc.RpcError) as error:
        call()
    info = error_details_pb2.ErrorInfo()
    rpc_status.from_call(error.value).details[0].Unpack(info)
    return error.value.code(), dict(info.metadata), info.reason


@pytest.mark.single_redis
def test_sixty_four_claimers_on_each_of_a_thousand_customers_give_exactly_one_owner(api):
    batch = uuid.uuid4().hex[:6]
    ids = [f"race-{batch}-{n}" for n in range(1000)]
    for customer in ids:
        api.CreateCustomer(cs.CreateCustomerRequest(customer_id=customer, definition="b2b"), metadata=md("setup"))
    winners: dict[str, list[str]] = defaultdict(list)
    told: Counter = Counter()
    capped: Counter = Counter()
    wrong: list[str] = []
    lock = threading.Lock()

    def claimer(n: int) -> None:
        rep = f"rep-{n:02d}"
        order = ids[:]
        random.Random(n).shuffle(order)
        for customer in order:
            try:
                reply = api.ClaimCustomer(cs.ClaimCustomerRequest(customer_id=customer), metadata=md(rep))
                with lock:
                    winners[customer].append(rep)
                assert reply.fence_token >= 1
            except grpc.RpcError as error:
                info = error_details_pb2.ErrorInfo()
                rpc_status.from_call(error).details[0].Unpack(info)
                with lock:
                    if info.reason == "CUSTOMER_CLAIMED":
                        told[(customer, info.metadata["holder"])] += 1
                    elif info.reason == "CLAIM_CAP_REACHED":
                        capped[rep] += 1
                    else:
                        wrong.append(f"{customer}: {info.reason}")

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not wrong, wrong[:5]
    assert sorted(winners) == sorted(ids), "a customer was left without an owner"
    assert all(len(reps) == 1 for reps in winners.values()), "a customer got two owners"
    for (customer, holder), _ in told.items():
        assert holder == winners[customer][0], f"{customer}: loser told {holder}, owner is {winners[customer][0]}"
    assert sum(told.values()) + sum(capped.values()) == 63 * 1000
    for customer in ids[:50]:
        owner = api.GetCustomer(
            cs.GetCustomerRequest(customer_id=customer), metadata=md("mgr", "manager")
        ).customer.owner
        assert owner == winners[customer][0]


def test_a_stale_holder_is_fenced_out_of_every_write(api, served):
    clock = served[0].clock
    customer = f"fence-{uuid.uuid4().hex[:8]}"
    api.CreateCustomer(cs.CreateCustomerRequest(customer_id=customer, definition="b2b"), metadata=md("setup"))
    li = api.ClaimCustomer(cs.ClaimCustomerRequest(customer_id=customer), metadata=md("rep-li"))
    clock.advance(timedelta(days=7, minutes=1))  # rep-li is slow: its lease lapses
    wang = api.ClaimCustomer(cs.ClaimCustomerRequest(customer_id=customer), metadata=md("rep-wang"))
    assert wang.fence_token == li.fence_token + 1
    old = cs.CommandOptions(fence_token=li.fence_token)
    writes = [
        lambda: api.FireEvent(
            cs.FireEventRequest(customer_id=customer, event="ask_for_help", options=old), metadata=md("rep-li")
        ),
        lambda: api.UpdateFacts(
            cs.UpdateFactsRequest(customer_id=customer, facts=_facts(effective_contacts=5), options=old),
            metadata=md("rep-li"),
        ),
        lambda: api.RenewClaim(
            cs.RenewClaimRequest(customer_id=customer, fence_token=li.fence_token), metadata=md("rep-li")
        ),
        lambda: api.ReleaseCustomer(
            cs.ReleaseCustomerRequest(customer_id=customer, fence_token=li.fence_token), metadata=md("rep-li")
        ),
    ]
    for write in writes:
        code, metadata, reason = _error(write)
        assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "STALE_FENCE_TOKEN")
        assert metadata["holder"] == "rep-wang"
    code, _, reason = _error(
        lambda: api.UpdateFacts(
            cs.UpdateFactsRequest(customer_id=customer, facts=_facts(effective_contacts=5)), metadata=md("rep-li")
        )
    )  # without a token: the customer is locked to its new owner
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "CUSTOMER_LOCKED")
    current = cs.CommandOptions(fence_token=wang.fence_token)
    api.UpdateFacts(
        cs.UpdateFactsRequest(customer_id=customer, facts=_facts(effective_contacts=5), options=current),
        metadata=md("rep-wang"),
    )


def _facts(**values) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


def test_non_owners_get_a_redacted_view_and_cannot_write_managers_reassign_with_a_reason(api):
    customer = f"lock-{uuid.uuid4().hex[:8]}"
    api.CreateCustomer(
        cs.CreateCustomerRequest(customer_id=customer, definition="b2b", facts=_facts(phone="13800138000")),
        metadata=md("setup"),
    )
    api.ClaimCustomer(cs.ClaimCustomerRequest(customer_id=customer), metadata=md("rep-li"))
    seen = api.GetCustomer(cs.GetCustomerRequest(customer_id=customer), metadata=md("rep-wang")).customer
    assert seen.redacted and seen.owner == "rep-li" and not seen.facts.fields
    assert api.GetCustomer(cs.GetCustomerRequest(customer_id=customer), metadata=md("rep-li")).customer.facts["phone"]
    code, metadata, reason = _error(
        lambda: api.ClaimCustomer(cs.ClaimCustomerRequest(customer_id=customer), metadata=md("rep-wang"))
    )
    assert (code, reason, metadata["holder"]) == (grpc.StatusCode.FAILED_PRECONDITION, "CUSTOMER_CLAIMED", "rep-li")
    assert metadata["until"]
    code, _, reason = _error(
        lambda: api.FireEvent(cs.FireEventRequest(customer_id=customer, event="ask_for_help"), metadata=md("rep-wang"))
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    code, _, _ = _error(
        lambda: api.ReassignCustomer(
            cs.ReassignCustomerRequest(customer_id=customer, owner="rep-wang"), metadata=md("mgr-zhao", "manager")
        )
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    moved = api.ReassignCustomer(
        cs.ReassignCustomerRequest(customer_id=customer, owner="rep-wang", reason="rep-li is on leave"),
        metadata=md("mgr-zhao", "manager"),
    )
    assert moved.result.customer.owner == "rep-wang"
    latest = api.GetHistory(cs.GetHistoryRequest(customer_id=customer, page_size=1), metadata=md("rep-wang")).entries[0]
    assert (latest.trigger, latest.actor, latest.reason) == (
        "reassign",
        "mgr-zhao",
        "rep-li → rep-wang: rep-li is on leave",
    )


def test_the_pool_rule_reminds_then_returns_an_idle_customer_and_watchers_see_it(api, served):
    server = served[0]
    clock = server.clock
    customer = f"pool-{uuid.uuid4().hex[:8]}"
    api.CreateCustomer(
        cs.CreateCustomerRequest(customer_id=customer, definition="b2b"), metadata=md("setup", tenant="acme")
    )
    free = {
        c.customer_id
        for c in api.ListPool(cs.ListPoolRequest(page_size=1000), metadata=md("rep-li", tenant="acme")).customers
    }
    assert customer in free
    claimed = api.ClaimCustomer(cs.ClaimCustomerRequest(customer_id=customer), metadata=md("rep-li", tenant="acme"))
    token = cs.CommandOptions(fence_token=claimed.fence_token)
    api.UpdateFacts(
        cs.UpdateFactsRequest(
            customer_id=customer, facts=_facts(last_contact_at=clock.now().isoformat()), options=token
        ),
        metadata=md("rep-li", tenant="acme"),
    )
    api.RenewClaim(
        cs.RenewClaimRequest(customer_id=customer, fence_token=claimed.fence_token),
        metadata=md("rep-li", tenant="acme"),
    )
    free = {
        c.customer_id
        for c in api.ListPool(cs.ListPoolRequest(page_size=1000), metadata=md("rep-li", tenant="acme")).customers
    }
    assert customer not in free

    watch = api.WatchEvents(cs.WatchEventsRequest(), metadata=md("rep-li", tenant="acme"))
    position = dict(watch.initial_metadata())["x-crm-watch-position"]
    watch.cancel()
    clock.advance(timedelta(days=12, minutes=1))  # the advance reminder
    server.sweep(["acme"])
    seen = api.GetCustomer(cs.GetCustomerRequest(customer_id=customer), metadata=md("rep-li", tenant="acme")).customer
    assert next(s.state for s in seen.states if s.dimension == "team") == "即将回收"
    assert [(w.kind, w.name, w.role) for w in seen.open_work] == [("alert", "recycle_soon", "sales")]
    clock.advance(timedelta(days=2))  # 14 days without follow-up: back to the pool
    server.sweep(["acme"])
    seen = api.GetCustomer(cs.GetCustomerRequest(customer_id=customer), metadata=md("rep-li", tenant="acme")).customer
    assert (seen.owner, next(s.state for s in seen.states if s.dimension == "team")) == ("", "新分配")
    free = {
        c.customer_id
        for c in api.ListPool(cs.ListPoolRequest(page_size=1000), metadata=md("rep-li", tenant="acme")).customers
    }
    assert customer in free
    code, _, reason = _error(
        lambda: api.ClaimCustomer(cs.ClaimCustomerRequest(customer_id=customer), metadata=md("rep-li", tenant="acme"))
    )
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "CLAIM_COOLDOWN")  # the ex-owner waits

    resumed = api.WatchEvents(cs.WatchEventsRequest(after_event_id=position), metadata=md("rep-li", tenant="acme"))
    triggers = []
    for event in resumed:
        if event.customer_id == customer:
            triggers += [(h.trigger, h.event) for h in event.history]
            if ("timer", "recycle_to_pool") in triggers:
                break
    resumed.cancel()
    assert ("timer", "recycle_warning") in triggers


def test_a_non_owner_reading_a_locked_customer_through_every_read_and_stream_sees_none_of_its_facts(api, served):
    from crmstatus.v1 import definition_service_pb2 as ds
    from crmstatus.v1 import definition_service_pb2_grpc as ds_grpc

    customer, secret = f"hide-{uuid.uuid4().hex[:8]}", "Secret Trading 987"
    watch = api.WatchEvents(cs.WatchEventsRequest(), metadata=md("rep-wang"))
    feed = api.WatchEvents(cs.WatchEventsRequest(), metadata=md("crm-sync", "integration"))
    watch.initial_metadata(), feed.initial_metadata()  # both streams are in place: they get every later change
    api.CreateCustomer(cs.CreateCustomerRequest(customer_id=customer, definition="b2b"), metadata=md("setup"))
    api.ClaimCustomer(cs.ClaimCustomerRequest(customer_id=customer), metadata=md("rep-li"))
    api.UpdateFacts(
        cs.UpdateFactsRequest(customer_id=customer, facts=_facts(company_name=secret, effective_contacts=2),
                              options=cs.CommandOptions(reason=f"called {secret}")),
        metadata=md("rep-li"),
    )  # fmt: skip
    api.UpdateFacts(cs.UpdateFactsRequest(customer_id=customer, facts=_facts(abnormal_transaction=True)),
                    metadata=md("erp", "integration"))  # fmt: skip
    wang = md("rep-wang")
    answers = [
        api.GetCustomer(cs.GetCustomerRequest(customer_id=customer), metadata=wang),
        api.ListTransitions(cs.ListTransitionsRequest(customer_id=customer), metadata=wang),
        api.GetHistory(cs.GetHistoryRequest(customer_id=customer), metadata=wang),
        api.GetStateCounts(cs.GetStateCountsRequest(definition="b2b"), metadata=wang),
        api.ListPool(cs.ListPoolRequest(), metadata=wang),
        api.CheckAction(cs.CheckActionRequest(customer_id=customer, action="payment", attributes=_facts(amount=8e4)),
                        metadata=wang),
    ]  # fmt: skip
    with grpc.insecure_channel(f"127.0.0.1:{served[1]}") as channel:
        answers.append(ds_grpc.DefinitionServiceStub(channel).GetDefinitionDiagram(
            ds.GetDefinitionDiagramRequest(customer_id=customer), metadata=wang
        ))  # fmt: skip
    events = [next(e for e in watch if e.customer_id == customer) for _ in range(4)]
    full = [next(e for e in feed if e.customer_id == customer) for _ in range(4)]
    watch.cancel()
    feed.cancel()
    seen = "".join(str(message) for message in [*answers, *events])
    assert secret not in seen and "effective_contacts = 2" not in seen and "company_name" not in seen
    # denied, without the customer's limit (50000; a timestamp's nanos may hold those digits)
    assert not answers[5].allowed and not re.search(r"(?<!\d)50000(?!\d)", seen)
    assert secret in str(full)  # the integration feed carries what each change wrote
    owner = api.GetHistory(cs.GetHistoryRequest(customer_id=customer), metadata=md("rep-li"))
    assert secret in str(owner)  # and the owner reads it all


async def test_a_rep_claiming_one_customer_twice_at_once_keeps_it_in_their_held_customers(store, tenant):
    held = store.keys(tenant).held(LI.id)
    for n, key in enumerate((None, "claim-1")):  # a double submit; a retry with its idempotency key
        customer = f"twice-{n}"
        await store.create_customer(tenant, customer, "b2b", LI)
        await asyncio.gather(*(store.claim(tenant, customer, LI, idempotency_key=key) for _ in range(2)),
                             return_exceptions=True)  # fmt: skip
        assert (await store.get_customer(tenant, customer))[1].owner == LI.id
        assert await store.client.zscore(held, customer) is not None  # the caps count it
    await store.create_customer(tenant, "raced", "b2b", LI)
    results = await asyncio.gather(store.claim(tenant, "raced", LI), store.claim(tenant, "raced", WANG),
                                   return_exceptions=True)  # fmt: skip
    owner = (await store.get_customer(tenant, "raced"))[1].owner
    loser = WANG if owner == LI.id else LI
    assert sum(isinstance(r, ClaimConflict) for r in results) == 1
    assert await store.client.zscore(store.keys(tenant).held(loser.id), "raced") is None  # nothing held for the loser
