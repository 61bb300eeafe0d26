"""The Redis store against a real Redis: atomic versioned writes, idempotency, history, counts, timers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from crmstatus.engine import Actor, TransitionNotAllowed
from crmstatus.engine.errors import InvalidRequest, PermissionDenied
from crmstatus.server.application.errors import DefinitionNotFound
from crmstatus.server.store import codec
from crmstatus.server.store.codec import ms
from crmstatus.server.store.errors import CustomerExists, CustomerNotFound, IdempotencyMismatch, VersionConflict
from crmstatus.server.store.keys import Keys

REP = Actor("rep-li", frozenset({"sales"}))
MANAGER = Actor("mgr", frozenset({"manager"}))


async def test_a_created_customer_reads_back_equal(store, tenant):
    created = await store.create_customer(tenant, "c-1", "b2b", REP, facts={"effective_contacts": 2, "phone": "138"})
    definition, snapshot = await store.get_customer(tenant, "c-1")
    assert definition.key == "b2b@1"
    assert snapshot == created.snapshot
    assert snapshot.version == 1


async def test_every_change_bumps_the_version_and_appends_history(store, tenant):
    await store.create_customer(tenant, "c-1", "b2b", REP)
    await store.update_facts(tenant, "c-1", {"effective_contacts": 4}, REP)
    result = await store.fire(tenant, "c-1", "promote", REP, reason="budget confirmed")
    assert result.snapshot.version == 3
    entries, _ = await store.history(tenant, "c-1", newest_first=False)
    assert [(e.version, e.trigger, e.event) for e in entries] == [
        (1, "create", ""),
        (2, "facts", ""),
        (2, "auto", "qualify"),
        (2, "emit", "open_opportunity"),
        (3, "caller", "promote"),
    ]
    assert entries[-1].reason == "budget confirmed"
    assert entries[1].facts_changed == {"effective_contacts": 4}


async def test_a_stale_expected_version_is_a_conflict_and_changes_nothing(store, tenant):
    await store.create_customer(tenant, "c-1", "b2b", REP, facts={"effective_contacts": 4})
    await store.fire(tenant, "c-1", "start_follow_up", REP)
    with pytest.raises(VersionConflict, match="is at version 2, not 1"):
        await store.fire(tenant, "c-1", "promote", REP, expected_version=1)
    _, snapshot = await store.get_customer(tenant, "c-1")
    assert (snapshot.version, snapshot.state("lifecycle")) == (2, "意向")
    assert (await store.fire(tenant, "c-1", "promote", REP, expected_version=2)).snapshot.version == 3


async def test_a_command_another_writer_beats_at_every_attempt_says_so_without_a_version_it_never_gave(store, tenant):
    from crmstatus.engine.commands import UpdateFacts
    from crmstatus.server.application.commands import CONFLICT_RETRIES

    await store.create_customer(tenant, "c-1", "b2b", REP)
    customers, write, others = store.app.store.customers, store.app.store.customers.write, []

    async def another_writer_first(keys, decided):  # each attempt, a real write of someone else lands first
        if decided.outcome.history[0].event == "start_follow_up":
            others.append(len(others) + 1)
            await store.run(tenant, "c-1", UpdateFacts({"effective_contacts": len(others)}), REP)
        return await write(keys, decided)

    customers.write = another_writer_first
    try:
        with pytest.raises(VersionConflict, match=f"changed while this command was decided, {CONFLICT_RETRIES} times"):
            await store.fire(tenant, "c-1", "start_follow_up", REP)
    finally:
        customers.write = write
    entries, _ = await store.history(tenant, "c-1")
    assert len(others) == CONFLICT_RETRIES and max(entry.version for entry in entries) == 1 + CONFLICT_RETRIES
    assert "start_follow_up" not in {entry.event for entry in entries}


async def test_a_keyed_command_that_changed_nothing_is_remembered_so_its_retry_changes_nothing_later(store, tenant):
    from crmstatus.engine.commands import UpdateFacts

    await store.create_customer(tenant, "c-1", "b2b", REP, facts={"company_name": "A"})
    first = await store.run(tenant, "c-1", UpdateFacts({"company_name": "A"}), REP, idempotency_key="k-1")
    assert (first.history, first.replayed, first.snapshot.version) == ((), False, 1)
    await store.run(tenant, "c-1", UpdateFacts({"company_name": "B"}), REP)  # someone else, meanwhile
    retry = await store.run(tenant, "c-1", UpdateFacts({"company_name": "A"}), REP, idempotency_key="k-1")
    assert (retry.history, retry.replayed, retry.snapshot.version) == ((), True, 1), "the retry was applied anew"
    _, snapshot = await store.get_customer(tenant, "c-1")
    assert (snapshot.version, snapshot.facts["company_name"]) == (2, "B")
    with pytest.raises(IdempotencyMismatch):
        await store.run(tenant, "c-1", UpdateFacts({"company_name": "C"}), REP, idempotency_key="k-1")


async def test_a_refused_transition_stores_nothing(store, tenant):
    await store.create_customer(tenant, "c-1", "b2b", REP)
    with pytest.raises(TransitionNotAllowed):
        await store.fire(tenant, "c-1", "sign", REP)
    entries, _ = await store.history(tenant, "c-1")
    assert len(entries) == 1
    assert (await store.get_customer(tenant, "c-1"))[1].version == 1


async def test_unknown_customers_and_bad_ids_are_refused(store, tenant):
    with pytest.raises(CustomerNotFound):
        await store.fire(tenant, "nobody", "promote", REP)
    with pytest.raises(CustomerNotFound):
        await store.history(tenant, "nobody")
    with pytest.raises(InvalidRequest, match="customer id"):
        await store.get_customer(tenant, "has space")
    with pytest.raises(InvalidRequest, match="tenant"):
        await store.get_customer("Bad Tenant", "c-1")
    with pytest.raises(InvalidRequest, match="customer id"):  # another key than c-1's: never the same customer
        await store.create_customer(tenant, "c-1\n", "b2b", REP)
    with pytest.raises(InvalidRequest, match="tenant"):
        await store.create_customer(tenant + "\n", "c-1", "b2b", REP)
    with pytest.raises(DefinitionNotFound, match="unknown definition 'b2c' \\(did you mean 'b2b'\\?\\)"):
        await store.create_customer(tenant, "c-1", "b2c", REP)


async def test_a_customer_id_is_created_once(store, tenant):
    await store.create_customer(tenant, "c-1", "b2b", REP)
    with pytest.raises(CustomerExists, match="'c-1' already exists"):
        await store.create_customer(tenant, "c-1", "education", REP)
    assert (await store.get_customer(tenant, "c-1"))[0].name == "b2b"


async def test_a_duplicate_identity_is_refused_with_the_existing_customer(store, tenant):
    await store.create_customer(tenant, "c-1", "b2b", REP, identities={"phone": "138 0013 8000", "email": "Li@Star.cn"})
    with pytest.raises(CustomerExists) as error:
        await store.create_customer(
            tenant,
            "c-2",
            "b2b",
            REP,
            identities={"company_registration": "91310000-MA1FL4", "phone": "+86-138-0013-8000"},
        )
    assert error.value.existing_id == "c-1"
    assert error.value.identity == "phone 8613800138000"
    with pytest.raises(CustomerNotFound):
        await store.get_customer(tenant, "c-2")
    # the refused customer's other identity was released: another customer may use it
    await store.create_customer(tenant, "c-3", "b2b", REP, identities={"company_registration": "91310000MA1FL4"})
    with pytest.raises(CustomerExists, match="'c-1'"):
        await store.create_customer(tenant, "c-4", "b2b", REP, identities={"email": "li@star.cn "})
    for phone in ("１３８００１３８０００", "＋８６ １３８ ００１３ ８０００"):  # typed with a Chinese input method
        with pytest.raises(CustomerExists, match="'c-1'"):
            await store.create_customer(tenant, "c-5", "b2b", REP, identities={"phone": phone})
    for kind, value in (("phone", "١٣٨٠٠١٣٨٠٠٠"), ("email", "li@" + "x" * 250 + ".cn")):
        with pytest.raises(InvalidRequest, match=f"{kind} .* is not"):
            await store.create_customer(tenant, "c-5", "b2b", REP, identities={kind: value})


class Crash(BaseException):
    """The process dying between reserving a customer's identities and writing it."""


async def test_an_identity_left_reserved_by_a_create_that_died_binds_nobody_for_long(store, tenant, monkeypatch):
    from crmstatus.server.store.identities import STALE_AFTER

    identities = store.app.store.customers.identities

    async def die(*args):
        raise Crash

    with monkeypatch.context() as patched:
        patched.setattr(store.app.store.customers, "write", die)
        patched.setattr(identities, "release", die)  # nothing is undone: the process is gone
        with pytest.raises(Crash):
            await store.create_customer(tenant, "ghost", "b2b", REP, identities={"phone": "13900000000"})
    with pytest.raises(CustomerExists, match="'ghost'"):  # its create may still be on its way
        await store.create_customer(tenant, "c-1", "b2b", REP, identities={"phone": "139 0000 0000"})
    store.clock.advance(STALE_AFTER + timedelta(seconds=1))  # long past any create's time bound
    await store.create_customer(tenant, "c-1", "b2b", REP, identities={"phone": "139 0000 0000"})
    with pytest.raises(CustomerExists, match="'c-1'"):  # and now it binds to the customer that exists
        await store.create_customer(tenant, "c-2", "b2b", REP, identities={"phone": "13900000000"})


async def test_a_create_that_fails_after_reserving_releases_its_identities_at_once(store, tenant, monkeypatch):
    from crmstatus.server.store.errors import StoreUnavailable

    async def unavailable(*args):
        raise StoreUnavailable("the state store is unavailable: injected")

    with monkeypatch.context() as patched:
        patched.setattr(store.app.store.customers, "write", unavailable)
        with pytest.raises(StoreUnavailable):
            await store.create_customer(tenant, "c-1", "b2b", REP, identities={"email": "wang@example.cn"})
    await store.create_customer(tenant, "c-2", "b2b", REP, identities={"email": "wang@example.cn"})


async def test_a_create_whose_answer_is_lost_after_redis_wrote_it_keeps_its_identities(store, tenant, monkeypatch):
    from crmstatus.server.store.errors import StoreUnavailable

    customers = store.app.store.customers
    write = customers.write

    async def written_but_unanswered(*args):
        await write(*args)
        raise StoreUnavailable("the state store is unavailable: no answer in time")

    with monkeypatch.context() as patched:
        patched.setattr(customers, "write", written_but_unanswered)
        with pytest.raises(StoreUnavailable):
            await store.create_customer(tenant, "c-1", "b2b", REP, identities={"email": "wang@example.cn"})
    assert (await store.get_customer(tenant, "c-1"))[1].identities == {"email": "wang@example.cn"}
    with pytest.raises(CustomerExists, match="'c-1' already exists with identity email"):
        await store.create_customer(tenant, "c-2", "b2b", REP, identities={"email": "wang@example.cn"})


async def test_a_customer_stored_as_bytes_that_are_not_text_is_stored_data_error_and_others_go_on(store, tenant):
    from crmstatus.server.store.errors import StoredDataError

    await store.create_customer(tenant, "c-1", "b2b", REP)
    await store.create_customer(tenant, "c-2", "b2b", REP)
    await store.app.store.client.set(store.keys(tenant).customer("c-1"), b"1\n{\xff\xfe")
    for attempt in (store.get_customer(tenant, "c-1"), store.fire(tenant, "c-1", "start_follow_up", REP)):
        with pytest.raises(StoredDataError, match=r"bytes that are not UTF-8 text under crm:.*:c:c-1"):
            await attempt
    assert (await store.fire(tenant, "c-2", "start_follow_up", REP)).snapshot.version == 2


async def test_the_next_command_on_this_process_reads_the_snapshot_its_last_write_left(store, tenant, monkeypatch):
    """A command decodes no snapshot this process wrote last (codec.known); a text written anywhere else, here
    one restored over the customer's key, is decoded and read as stored."""

    decoded = []
    monkeypatch.setattr(codec, "VERIFY_DECODED", False)  # which decodes every kept one again
    monkeypatch.setattr(codec, "_DECODED", {})  # kept by earlier tests: this one writes the same texts
    monkeypatch.setattr(codec, "_decode_snapshot", lambda *args, decode=codec._decode_snapshot: decoded.append(
        args[1]) or decode(*args))  # fmt: skip
    await store.create_customer(tenant, "c-1", "b2b", REP)
    key = store.keys(tenant).customer("c-1")
    first = await store.app.store.client.get(key)
    await store.fire(tenant, "c-1", "start_follow_up", REP)
    await store.fire(tenant, "c-1", "ask_for_help", REP)
    assert decoded == []
    await store.app.store.client.set(key, first.replace("1\n", "3\n", 1))  # version 3, as created
    _, snapshot = await store.get_customer(tenant, "c-1")
    assert (snapshot.version, snapshot.state("lifecycle"), decoded) == (3, "潜在", ["c-1"])


def test_a_kept_snapshot_that_is_not_what_its_text_decodes_to_fails_the_tests(definitions):
    """The check the tests run at every use of a kept snapshot (conftest: VERIFY_DECODED) finds one that
    differs from its text, even only in a value's type."""
    from crmstatus.engine.commands import new_customer

    b2b = definitions["b2b"]
    snapshot = new_customer(b2b, "c-kept", REP, codec.moment(1_767_600_000_000), {"effective_contacts": 2}).snapshot
    text = codec.encode_snapshot(b2b, snapshot)
    codec.known(b2b, text, snapshot)
    assert codec.decode_snapshot(b2b, "c-kept", text) is snapshot
    codec.known(b2b, text, snapshot._replace(facts={"effective_contacts": 2.0}))
    with pytest.raises(AssertionError, match="kept snapshot differs"):
        codec.decode_snapshot(b2b, "c-kept", text)


def test_the_snapshots_a_process_keeps_are_bounded_in_number_and_size(definitions, monkeypatch):
    from crmstatus.engine.commands import new_customer

    monkeypatch.setattr(codec, "_DECODED", {})
    monkeypatch.setattr(codec, "DECODED_KEPT", 8)
    b2b, at = definitions["b2b"], codec.moment(1_767_600_000_000)
    for n in range(20):
        snapshot = new_customer(b2b, f"c-{n}", REP, at).snapshot
        codec.known(b2b, codec.encode_snapshot(b2b, snapshot), snapshot)
        assert len(codec._DECODED) <= 8
    large = new_customer(b2b, "c-large", REP, at, {"phone": "1" * 2100, "company_name": "x" * 2100}).snapshot
    codec.known(b2b, codec.encode_snapshot(b2b, large), large)
    assert "c-large" not in codec._DECODED


async def test_identities_are_per_tenant(store, tenant):
    await store.create_customer(tenant, "c-1", "b2b", REP, identities={"phone": "13800138000"})
    await store.create_customer(tenant + "-other", "c-1", "b2b", REP, identities={"phone": "13800138000"})


async def test_a_retried_command_with_the_same_idempotency_key_is_applied_once(store, tenant):
    await store.create_customer(tenant, "c-1", "b2b", REP, facts={"effective_contacts": 4})
    first = await store.fire(tenant, "c-1", "promote", REP, idempotency_key="req-1")
    await store.update_facts(tenant, "c-1", {"web_visits_30d": 3}, REP)
    again = await store.fire(tenant, "c-1", "promote", REP, idempotency_key="req-1")
    assert again.replayed and not first.replayed
    assert again.snapshot == first.snapshot
    assert again.history == first.history
    assert again.effects == first.effects
    assert (await store.get_customer(tenant, "c-1"))[1].version == 3
    assert [e.event for e in (await store.history(tenant, "c-1"))[0]].count("promote") == 1


async def test_the_same_idempotency_key_with_another_request_is_refused(store, tenant):
    await store.create_customer(tenant, "c-1", "b2b", REP, facts={"effective_contacts": 4})
    await store.fire(tenant, "c-1", "promote", REP, idempotency_key="req-1")
    with pytest.raises(IdempotencyMismatch, match="req-1"):
        await store.fire(tenant, "c-1", "lose", REP, idempotency_key="req-1")
    with pytest.raises(IdempotencyMismatch):
        await store.update_facts(tenant, "c-1", {"effective_contacts": 9}, REP, idempotency_key="req-1")


async def test_idempotency_records_expire_after_a_day(store, tenant):
    await store.create_customer(tenant, "c-1", "b2b", REP, idempotency_key="create-1")
    ttl = await store.client.ttl(store.keys(tenant).idempotency("c-1", "create-1"))
    assert 24 * 3600 - 5 <= ttl <= 24 * 3600
    assert (await store.create_customer(tenant, "c-1", "b2b", REP, idempotency_key="create-1")).replayed


async def test_history_pages_newest_or_oldest_first(store, tenant):
    await store.create_customer(tenant, "c-1", "b2b", REP)
    for n in range(1, 8):
        await store.update_facts(tenant, "c-1", {"web_visits_30d": n}, REP)
    page, token = await store.history(tenant, "c-1", limit=3)
    assert [e.version for e in page] == [8, 7, 6]
    page, token = await store.history(tenant, "c-1", limit=3, page_token=token)
    assert [e.version for e in page] == [5, 4, 3]
    page, token = await store.history(tenant, "c-1", limit=3, page_token=token)
    assert ([e.version for e in page], token) == ([2, 1], None)
    oldest, token = await store.history(tenant, "c-1", limit=5, newest_first=False)
    assert [e.version for e in oldest] == [1, 2, 3, 4, 5]
    assert [e.version for e in (await store.history(tenant, "c-1", newest_first=False, page_token=token))[0]] == [
        6,
        7,
        8,
    ]
    with pytest.raises(InvalidRequest, match="page token"):
        await store.history(tenant, "c-1", page_token="x")


async def test_state_counts_follow_every_change_across_partitions(store, tenant):
    for n in range(6):
        await store.create_customer(tenant, f"c-{n}", "b2b", REP)
    for n in range(4):
        await store.update_facts(tenant, f"c-{n}", {"effective_contacts": 4}, REP)
    await store.fire(tenant, "c-0", "promote", REP)
    counts = await store.state_counts(tenant)
    lifecycle = {state: n for (d, dim, state), n in counts.items() if dim == "lifecycle"}
    assert lifecycle == {"潜在": 2, "意向": 3, "重点": 1}
    assert len({store.keys(tenant).part(f"c-{n}") for n in range(6)}) > 1  # the tenant spans partitions


async def test_timers_are_scheduled_moved_and_cancelled_with_the_state(store, tenant, clock):
    keys = store.keys(tenant)
    timers_key = keys.timers(keys.part("c-1"))
    await store.create_customer(tenant, "c-1", "b2b", REP, facts={"last_response_at": clock.now().isoformat()})
    due = dict(await store.client.zrange(timers_key, 0, -1, withscores=True))
    assert due["c-1|lifecycle:1:0"] == ms(clock.now() + timedelta(days=83))  # the advance reminder
    assert due["c-1|lifecycle:1:1"] == ms(clock.now() + timedelta(days=90))
    assert not [member for member in due if "follow_up" in member]  # no opportunity yet: nothing to stall
    await store.update_facts(tenant, "c-1", {"effective_contacts": 4}, REP)  # leaves 潜在: its timers go
    assert await store.client.zscore(timers_key, "c-1|lifecycle:1:0") is None
    assert await store.client.zscore(timers_key, "c-1|lifecycle:1:1") is None
    assert await store.client.zscore(timers_key, "c-1|follow_up:2:0") == ms(clock.now() + timedelta(days=14))
    later = clock.now() + timedelta(days=3)
    await store.update_facts(tenant, "c-1", {"last_response_at": later.isoformat()}, REP)
    assert await store.client.zscore(timers_key, "c-1|follow_up:2:0") == ms(later + timedelta(days=14))


async def test_every_change_is_published_on_the_tenant_event_stream(store, tenant):
    await store.create_customer(tenant, "c-1", "b2b", REP)
    await store.update_facts(tenant, "c-1", {"effective_contacts": 4}, REP)
    keys = store.keys(tenant)
    events = await store.client.xrange(keys.events(keys.part("c-1")))
    assert [(fields["c"], fields["v"]) for _, fields in events] == [("c-1", "1"), ("c-1", "2")]
    assert '"e":"qualify"' in events[1][1]["d"]


async def test_all_keys_of_a_customer_share_one_cluster_slot_tag(store, tenant):
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
    assert len(tags) == 1
    assert tags.pop().startswith(f"{tenant}:p{part}~")


@pytest.mark.parametrize("partitions", [3, 16, 64, 256])
def test_a_tenants_partitions_take_one_slot_range_each_so_they_spread_over_every_master(partitions):
    from redis.crc import key_slot

    keys = Keys("acme", partitions)
    slots = [key_slot(keys.counts(part).encode()) for part in range(partitions)]
    for part, slot in enumerate(slots):
        assert part * 16384 // partitions <= slot < (part + 1) * 16384 // partitions


async def test_an_idempotent_retry_returns_exactly_the_first_answer_at_any_clock_precision(store, tenant):
    store.clock.advance(timedelta(microseconds=123_456))  # a system clock has microseconds; the store keeps ms
    first = await store.create_customer(tenant, "c-1", "b2b", REP, idempotency_key="create-1")
    again = await store.create_customer(tenant, "c-1", "b2b", REP, idempotency_key="create-1")
    assert again.replayed and (again.snapshot, again.history, again.effects) == (
        first.snapshot, first.history, first.effects
    )  # fmt: skip
    update = {"effective_contacts": 4}
    first = await store.update_facts(tenant, "c-1", update, REP, idempotency_key="u-1")
    again = await store.update_facts(tenant, "c-1", update, REP, idempotency_key="u-1")
    assert (again.snapshot, again.history, again.effects) == (first.snapshot, first.history, first.effects)
    assert (await store.get_customer(tenant, "c-1"))[1] == first.snapshot  # and so does every later read


ADMIN = Actor("dpo-wu", frozenset({"admin"}))


async def _keys_naming(store, pattern: str) -> list[str]:
    return [key async for key in store.client.scan_iter(match=pattern, count=1000)]


async def test_erasing_a_customer_leaves_nothing_of_it_but_an_audit_entry_without_its_details(store, tenant, clock):
    keys = store.keys(tenant)
    phone = {"phone": "+86 138 0013 8000"}
    facts = {"company_name": "星河科技", "last_contact_at": clock.now().isoformat()}
    await store.create_customer(tenant, "gone", "b2b", REP, facts=facts, identities=phone)
    await store.create_customer(tenant, "kept", "b2b", REP)
    await store.claim(tenant, "gone", REP)
    await store.update_facts(tenant, "gone", {"effective_contacts": 4}, REP, idempotency_key="k-1")
    before = await store.state_counts(tenant)
    _, snapshot = await store.get_customer(tenant, "gone")
    assert len(await _keys_naming(store, f"*{tenant}*:c:gone*")) >= 3  # snapshot, history, idempotency record
    assert len(await _keys_naming(store, f"*{tenant}*:id:*")) == 1
    with pytest.raises(PermissionDenied):
        await store.erase(tenant, "gone", MANAGER, "asked to")
    with pytest.raises(InvalidRequest):
        await store.erase(tenant, "gone", ADMIN, " ")
    with pytest.raises(VersionConflict):
        await store.erase(tenant, "gone", ADMIN, "data subject request #42", expected_version=1)

    assert await store.erase(tenant, "gone", ADMIN, "data subject request #42") == snapshot.version

    assert await _keys_naming(store, f"*{tenant}*:c:gone*") == []  # snapshot, history, idempotency records
    assert await _keys_naming(store, f"*{tenant}*:id:*") == []  # its phone is no key name any more
    assert "gone" not in codec._DECODED  # nor does this process keep it
    for part in range(keys.partitions):
        for key in (keys.timers(part), keys.pool(part), keys.pool(part, "senior_sales")):
            assert not [m for m in await store.client.zrange(key, 0, -1) if m.startswith("gone")], key
    assert await store.client.zrange(keys.held(REP.id), 0, -1) == []
    part = keys.part("gone")
    indexes = [keys.in_state(part, "b2b@1", name, entry.state) for name, entry in snapshot.states.items()]
    for key in [*indexes, keys.owned_by(part, REP.id)]:
        assert not [m for m in await store.client.zrange(key, 0, -1) if m.endswith("gone")], key
    kept = keys.in_state(keys.part("kept"), "b2b@1", "lifecycle", "潜在")
    assert [m for m in await store.client.zrange(kept, 0, -1) if m.endswith("|kept")]  # its neighbour is listed
    after = await store.state_counts(tenant)
    for dimension, entry in snapshot.states.items():
        field = ("b2b@1", dimension, entry.state)
        assert after.get(field, 0) == before[field] - 1
    with pytest.raises(CustomerNotFound):
        await store.get_customer(tenant, "gone")
    with pytest.raises(CustomerNotFound):
        await store.erase(tenant, "gone", ADMIN, "again")
    assert (await store.get_customer(tenant, "kept"))[1].version == 1  # its neighbour is untouched
    await store.create_customer(tenant, "new", "b2b", REP, identities=phone)  # the phone is free at once

    (audit,) = [entry for part in range(keys.partitions) for entry in await store.client.xrange(keys.audit(part))]
    fields = audit[1]
    assert fields["c"] == "gone" and "data subject request #42" in fields["a"] and "dpo-wu" in fields["a"]
    assert "星河" not in fields["a"] and "138" not in fields["a"]
    stream = keys.events(keys.part("gone"))
    last = [fields for _, fields in await store.client.xrange(stream) if fields["c"] == "gone"][-1]
    assert '"t":"erase"' in last["d"] and "星河" not in last["d"]


async def test_a_create_losing_to_the_same_customer_keeps_the_identities_the_winner_holds(store, tenant, monkeypatch):
    customers, phone = store.app.store.customers, {"phone": "138 0013 8000"}
    write, second, turn = customers.write, [], iter((True,))

    async def first_waits_for_the_second(keys, change):
        if next(turn, False):  # the first create has reserved the phone; the same customer's second goes by
            second.append(await store.create_customer(tenant, "x", "b2b", REP, identities=phone))
        return await write(keys, change)

    monkeypatch.setattr(customers, "write", first_waits_for_the_second)
    with pytest.raises(CustomerExists):
        await store.create_customer(tenant, "x", "b2b", REP, identities=phone)
    monkeypatch.undo()
    assert second[0].snapshot.identities == {"phone": "8613800138000"}
    with pytest.raises(CustomerExists, match="'x'"):  # the phone stays x's
        await store.create_customer(tenant, "y", "b2b", REP, identities={"phone": "13800138000"})


async def test_an_erasure_with_no_version_given_erases_the_customer_as_a_change_meanwhile_left_it(
    store, tenant, monkeypatch
):
    customers = store.app.store.customers
    await store.create_customer(tenant, "busy", "b2b", REP)
    erase, turn = customers.erase, iter((True,))

    async def changed_meanwhile(*args):
        if next(turn, False):  # read at version 1; a rep's update lands before the erasure's write
            await store.update_facts(tenant, "busy", {"effective_contacts": 2}, REP)
        await erase(*args)

    monkeypatch.setattr(customers, "erase", changed_meanwhile)
    assert await store.erase(tenant, "busy", ADMIN, "data subject request #43") == 2
    with pytest.raises(CustomerNotFound):
        await store.get_customer(tenant, "busy")


async def test_a_create_written_but_not_confirmed_by_its_replicas_keeps_its_identities(store, tenant, monkeypatch):
    from crmstatus.server.store.errors import NotReplicated

    customers = store.app.store.customers
    write = customers.write

    async def written_unconfirmed(keys, change):
        await write(keys, change)
        raise NotReplicated("the change is written but only 0 of 1 replicas confirmed it in time: injected")

    monkeypatch.setattr(customers, "write", written_unconfirmed)
    with pytest.raises(NotReplicated):
        await store.create_customer(tenant, "c-1", "b2b", REP, identities={"email": "zhao@example.cn"})
    monkeypatch.undo()
    with pytest.raises(CustomerExists, match="'c-1'"):  # the email is the written customer's
        await store.create_customer(tenant, "c-2", "b2b", REP, identities={"email": "zhao@example.cn"})


async def test_a_durable_write_to_a_redis_without_the_script_yet_says_how_many_replicas_confirmed_it(
    store, redis_url, catalog, clock, tenant, request
):  # fmt: skip
    """After a restart Redis has no script: the first WAIT ran beside the refused EVALSHA, and the second waits for
    what is left of the call's time. The single test Redis has no replica (NotReplicated, not a timeout); each
    master of the test cluster has one (written and confirmed)."""
    from crmstatus.server.settings import Settings
    from crmstatus.server.store.errors import NotReplicated
    from tests.conftest import PARTITIONS
    from tests.service import Service

    durable = Settings(redis_url=redis_url, partitions=PARTITIONS, durable_replicas=1, redis_timeout_seconds=1.0)
    service = await Service.connect(durable, catalog, clock)
    try:
        await service.app.store.client.script_flush()
        if request.node.callspec.params["redis_url"] == "cluster":
            assert (await service.create_customer(tenant, "n-1", "b2b", REP)).snapshot.version == 1
            return
        with pytest.raises(NotReplicated, match="only 0 of 1 replicas confirmed it"):
            await service.create_customer(tenant, "n-1", "b2b", REP)
    finally:
        await service.close()


async def test_a_retry_confirms_a_durable_write_only_once_the_replicas_have_it(store, redis_url, catalog, clock,
                                                                                 tenant, request):  # fmt: skip
    # The single test Redis has no replica: no write to it is ever confirmed, the first one nor its retries. Each
    # of the test cluster's masters has one: a retry is confirmed.
    from crmstatus.server.settings import Settings
    from crmstatus.server.store.errors import NotReplicated
    from tests.conftest import PARTITIONS
    from tests.service import Service

    await store.create_customer(tenant, "warm", "b2b", REP)  # Redis knows the scripts: one WAIT per call below
    durable = Settings(redis_url=redis_url, partitions=PARTITIONS, durable_replicas=1, redis_timeout_seconds=1.0)
    service = await Service.connect(durable, catalog, clock)
    try:
        if request.node.callspec.params["redis_url"] == "cluster":
            await service.create_customer(tenant, "d-1", "b2b", REP, idempotency_key="create-d-1")
            retried = await service.create_customer(tenant, "d-1", "b2b", REP, idempotency_key="create-d-1")
            assert retried.replayed
            return
        with pytest.raises(NotReplicated):
            await service.create_customer(tenant, "d-1", "b2b", REP, idempotency_key="create-d-1")
        with pytest.raises(NotReplicated, match="retry with the same idempotency key"):
            await service.create_customer(tenant, "d-1", "b2b", REP, idempotency_key="create-d-1")
    finally:
        await service.close()
