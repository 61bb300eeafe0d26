"""The Redis store against a real Redis: atomic versioned writes, idempotency, history, counts, timers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from crmstatus.engine import Actor, TransitionNotAllowed
from crmstatus.engine.errors import (
    CustomerExists,
    CustomerNotFound,
    DefinitionNotFound,
    IdempotencyMismatch,
    InvalidRequest,
    VersionConflict,
)
from crmstatus.server.codec import ms

REP = Actor("rep-li", frozenset({"sales"}))
MANAGER = Actor("mgr", frozenset({"manager"}))


def test_a_created_customer_reads_back_equal(store, tenant):
    created = store.create_customer(tenant, "c-1", "b2b", REP, facts={"effective_contacts": 2, "phone": "138"})
    definition, snapshot = store.get_customer(tenant, "c-1")
    assert definition.key == "b2b@1"
    assert snapshot == created.snapshot
    assert snapshot.version == 1


def test_every_change_bumps_the_version_and_appends_history(store, tenant):
    store.create_customer(tenant, "c-1", "b2b", REP)
    store.update_facts(tenant, "c-1", {"effective_contacts": 4}, REP)
    result = store.fire(tenant, "c-1", "promote", REP, reason="budget confirmed")
    assert result.snapshot.version == 3
    entries, _ = store.history(tenant, "c-1", newest_first=False)
    assert [(e.version, e.trigger, e.event) for e in entries] == [
        (1, "create", ""),
        (2, "facts", ""),
        (2, "auto", "qualify"),
        (3, "caller", "promote"),
    ]
    assert entries[-1].reason == "budget confirmed"
    assert entries[1].facts_changed == {"effective_contacts": 4}


def test_a_stale_expected_version_is_a_conflict_and_changes_nothing(store, tenant):
    store.create_customer(tenant, "c-1", "b2b", REP, facts={"effective_contacts": 4})
    store.fire(tenant, "c-1", "start_follow_up", REP)
    with pytest.raises(VersionConflict, match="is at version 2, not 1"):
        store.fire(tenant, "c-1", "promote", REP, expected_version=1)
    _, snapshot = store.get_customer(tenant, "c-1")
    assert (snapshot.version, snapshot.state("lifecycle")) == (2, "意向")
    assert store.fire(tenant, "c-1", "promote", REP, expected_version=2).snapshot.version == 3


def test_a_refused_transition_stores_nothing(store, tenant):
    store.create_customer(tenant, "c-1", "b2b", REP)
    with pytest.raises(TransitionNotAllowed):
        store.fire(tenant, "c-1", "sign", REP)
    entries, _ = store.history(tenant, "c-1")
    assert len(entries) == 1
    assert store.get_customer(tenant, "c-1")[1].version == 1


def test_unknown_customers_and_bad_ids_are_refused(store, tenant):
    with pytest.raises(CustomerNotFound):
        store.fire(tenant, "nobody", "promote", REP)
    with pytest.raises(CustomerNotFound):
        store.history(tenant, "nobody")
    with pytest.raises(InvalidRequest, match="customer id"):
        store.get_customer(tenant, "has space")
    with pytest.raises(InvalidRequest, match="tenant"):
        store.get_customer("Bad Tenant", "c-1")
    with pytest.raises(DefinitionNotFound, match="unknown definition 'b2c' \\(did you mean 'b2b'\\?\\)"):
        store.create_customer(tenant, "c-1", "b2c", REP)


def test_a_customer_id_is_created_once(store, tenant):
    store.create_customer(tenant, "c-1", "b2b", REP)
    with pytest.raises(CustomerExists, match="'c-1' already exists"):
        store.create_customer(tenant, "c-1", "education", REP)
    assert store.get_customer(tenant, "c-1")[0].name == "b2b"


def test_a_duplicate_identity_is_refused_with_the_existing_customer(store, tenant):
    store.create_customer(tenant, "c-1", "b2b", REP, identities={"phone": "138 0013 8000", "email": "Li@Star.cn"})
    with pytest.raises(CustomerExists) as error:
        store.create_customer(
            tenant,
            "c-2",
            "b2b",
            REP,
            identities={"company_registration": "91310000-MA1FL4", "phone": "+86-138-0013-8000"},
        )
    assert error.value.existing_id == "c-1"
    assert error.value.identity == "phone 8613800138000"
    with pytest.raises(CustomerNotFound):
        store.get_customer(tenant, "c-2")
    # the refused customer's other identity was released: another customer may use it
    store.create_customer(tenant, "c-3", "b2b", REP, identities={"company_registration": "91310000MA1FL4"})
    with pytest.raises(CustomerExists, match="'c-1'"):
        store.create_customer(tenant, "c-4", "b2b", REP, identities={"email": "li@star.cn "})


def test_identities_are_per_tenant(store, tenant):
    store.create_customer(tenant, "c-1", "b2b", REP, identities={"phone": "13800138000"})
    store.create_customer(tenant + "-other", "c-1", "b2b", REP, identities={"phone": "13800138000"})


def test_a_retried_command_with_the_same_idempotency_key_is_applied_once(store, tenant):
    store.create_customer(tenant, "c-1", "b2b", REP, facts={"effective_contacts": 4})
    first = store.fire(tenant, "c-1", "promote", REP, idempotency_key="req-1")
    store.update_facts(tenant, "c-1", {"web_visits_30d": 3}, REP)
    again = store.fire(tenant, "c-1", "promote", REP, idempotency_key="req-1")
    assert again.replayed and not first.replayed
    assert again.snapshot == first.snapshot
    assert again.history == first.history
    assert again.effects == first.effects
    assert store.get_customer(tenant, "c-1")[1].version == 3
    assert [e.event for e in store.history(tenant, "c-1")[0]].count("promote") == 1


def test_the_same_idempotency_key_with_another_request_is_refused(store, tenant):
    store.create_customer(tenant, "c-1", "b2b", REP, facts={"effective_contacts": 4})
    store.fire(tenant, "c-1", "promote", REP, idempotency_key="req-1")
    with pytest.raises(IdempotencyMismatch, match="req-1"):
        store.fire(tenant, "c-1", "lose", REP, idempotency_key="req-1")
    with pytest.raises(IdempotencyMismatch):
        store.update_facts(tenant, "c-1", {"effective_contacts": 9}, REP, idempotency_key="req-1")


def test_idempotency_records_expire_after_a_day(store, tenant):
    store.create_customer(tenant, "c-1", "b2b", REP, idempotency_key="create-1")
    ttl = store.client.ttl(store.keys(tenant).idempotency("c-1", "create-1"))
    assert 24 * 3600 - 5 <= ttl <= 24 * 3600
    assert store.create_customer(tenant, "c-1", "b2b", REP, idempotency_key="create-1").replayed


def test_history_pages_newest_or_oldest_first(store, tenant):
    store.create_customer(tenant, "c-1", "b2b", REP)
    for n in range(1, 8):
        store.update_facts(tenant, "c-1", {"web_visits_30d": n}, REP)
    page, token = store.history(tenant, "c-1", limit=3)
    assert [e.version for e in page] == [8, 7, 6]
    page, token = store.history(tenant, "c-1", limit=3, page_token=token)
    assert [e.version for e in page] == [5, 4, 3]
    page, token = store.history(tenant, "c-1", limit=3, page_token=token)
    assert ([e.version for e in page], token) == ([2, 1], None)
    oldest, token = store.history(tenant, "c-1", limit=5, newest_first=False)
    assert [e.version for e in oldest] == [1, 2, 3, 4, 5]
    assert [e.version for e in store.history(tenant, "c-1", newest_first=False, page_token=token)[0]] == [6, 7, 8]
    with pytest.raises(InvalidRequest, match="page token"):
        store.history(tenant, "c-1", page_token="x")


def test_state_counts_follow_every_change_across_partitions(store, tenant):
    for n in range(6):
        store.create_customer(tenant, f"c-{n}", "b2b", REP)
    for n in range(4):
        store.update_facts(tenant, f"c-{n}", {"effective_contacts": 4}, REP)
    store.fire(tenant, "c-0", "promote", REP)
    counts = store.state_counts(tenant)
    lifecycle = {state: n for (d, dim, state), n in counts.items() if dim == "lifecycle"}
    assert lifecycle == {"潜在": 2, "意向": 3, "重点": 1}
    assert len({store.keys(tenant).part(f"c-{n}") for n in range(6)}) > 1  # the tenant spans partitions


def test_timers_are_scheduled_moved_and_cancelled_with_the_state(store, tenant, clock):
    keys = store.keys(tenant)
    timers_key = keys.timers(keys.part("c-1"))
    store.create_customer(tenant, "c-1", "b2b", REP, facts={"last_response_at": clock.now().isoformat()})
    due = dict(store.client.zrange(timers_key, 0, -1, withscores=True))
    assert due["c-1|lifecycle:1:0"] == ms(clock.now() + timedelta(days=83))  # the advance reminder
    assert due["c-1|lifecycle:1:1"] == ms(clock.now() + timedelta(days=90))
    assert due["c-1|follow_up:1:0"] == ms(clock.now() + timedelta(days=14))
    later = clock.now() + timedelta(days=3)
    store.update_facts(tenant, "c-1", {"last_response_at": later.isoformat()}, REP)
    assert store.client.zscore(timers_key, "c-1|follow_up:1:0") == ms(later + timedelta(days=14))
    store.update_facts(tenant, "c-1", {"effective_contacts": 4}, REP)  # leaves 潜在: its timer goes
    assert store.client.zscore(timers_key, "c-1|lifecycle:1:0") is None
    assert store.client.zscore(timers_key, "c-1|lifecycle:1:1") is None


def test_every_change_is_published_on_the_tenant_event_stream(store, tenant):
    store.create_customer(tenant, "c-1", "b2b", REP)
    store.update_facts(tenant, "c-1", {"effective_contacts": 4}, REP)
    keys = store.keys(tenant)
    events = store.client.xrange(keys.events(keys.part("c-1")))
    assert [(fields["c"], fields["v"]) for _, fields in events] == [("c-1", "1"), ("c-1", "2")]
    assert '"e":"qualify"' in events[1][1]["d"]


def test_all_keys_of_a_customer_share_one_cluster_slot_tag(store, tenant):
    keys = store.keys(tenant)
    part = keys.part("c-1")
    names = [
        keys.customer("c-1"),
        keys.history("c-1"),
        keys.idempotency("c-1", "k"),
        keys.counts(part),
        keys.timers(part),
        keys.events(part),
    ]
    tags = {re.search(r"\{(.*?)\}", name)[1] for name in names}
    assert tags == {f"{tenant}:p{part}"}
