"""Migrations between definition versions: the mapping document checked against both versions, the dry run,
and each customer moved atomically with its history entry, state counts, indexes and timers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crmstatus.engine import Actor
from crmstatus.engine.commands import new_customer
from crmstatus.engine.errors import InvalidDefinition, InvalidRequest, PermissionDenied
from crmstatus.engine.loader import load_definition
from crmstatus.engine.migration import Migrated, Unmappable, load_mapping, migrate
from crmstatus.engine.rules import timers
from crmstatus.server.application.catalog import Catalog
from crmstatus.server.application.migration import Selection
from crmstatus.server.application.model import Caller
from crmstatus.server.settings import Settings
from crmstatus.server.store.keys import Keys
from tests.conftest import CONFIGS, PARTITIONS
from tests.service import Service

B2B = (CONFIGS / "b2b.yaml").read_text("utf-8")
# v2: 重点 is now 关键, and 潜在 customers go to telemarketing after 60 days, not 90
B2B_V2 = (
    B2B.replace("version: 1", "version: 2", 1).replace("重点", "关键").replace("- after: P90D ", "- after: P60D ", 1)
)
MAPPING = "definition: b2b\nfrom: 1\nto: 2\nstates:\n  lifecycle:\n    重点: 关键\n"
UNMAPPED = "definition: b2b\nfrom: 1\nto: 2\n"  # 重点 customers have nowhere to go
ADMIN = Actor("ana", frozenset({"admin"}))
SALES = Actor("rep-1", frozenset({"sales"}))


@pytest.fixture(scope="module")
def versions(definitions):
    return definitions["b2b"], load_definition(B2B_V2, "b2b.yaml")


@pytest.fixture
async def service(redis_url, definitions, versions, clock):
    catalog = Catalog([*definitions.values(), versions[1]])
    service = await Service.connect(Settings(redis_url=redis_url, partitions=PARTITIONS), catalog, clock)
    yield service
    await service.close()


async def _create(service, tenant: str, customer_id: str, definition: str, actor: Actor, **given):
    return await service.create_customer(tenant, customer_id, definition, actor, definition_version=1, **given)


async def _get(service, tenant: str, customer_id: str):
    return (await service.get_customer(tenant, customer_id))[1]


def _problems(text: str, versions) -> list[str]:
    with pytest.raises(InvalidDefinition) as raised:
        load_mapping(text, *versions)
    return [f"{d.line}:{d.column} {d.path}: {d.message}" for d in raised.value.diagnostics]


def test_a_mapping_is_checked_against_both_versions_with_positions(versions):
    text = ("definition: b2b\nfrom: 1\nto: 2\nstates:\n  lifecycle:\n    重点: 重要\n    已签: 签约\n  nowhere: {}\n"
            "facts:\n  rename: {effective_contacts: contacts}\n  defaults: {effective_contacts: many}\n"
            "checklists: {signing: keep}\n")  # fmt: skip
    assert _problems(text, versions) == [
        "6:9 states.lifecycle.重点: '重要' is not a state of lifecycle in v2 (it has 潜在, 意向, 关键, 签约, 流失)",
        "7:5 states.lifecycle.已签: lifecycle has no state '已签' in v1",
        "8:3 states.nowhere: dimension 'nowhere' is not in both versions",
        "10:32 facts.rename.effective_contacts: v2 has no fact 'contacts' to rename effective_contacts to",
        "11:34 facts.defaults.effective_contacts: effective_contacts is of type int: "
        "expected a whole number, got 'many'",
        "12:23 checklists.signing: write carry (keep what is done) or reset (start over)",
    ]


def test_a_fact_the_new_version_drops_must_be_accounted_for(versions):
    old = versions[0]
    fewer = load_definition(B2B_V2.replace("company_name", "legal_name"), "b2b.yaml")
    problems = _problems(UNMAPPED, (old, fewer))
    assert any("fact 'company_name' is not in v2: rename it (facts.rename) or drop it (facts.drop)" in p
               for p in problems)  # fmt: skip
    renamed = load_mapping(UNMAPPED + "facts:\n  rename: {company_name: legal_name}\n", old, fewer)
    assert renamed.renamed == {"company_name": "legal_name"}


def test_a_rename_that_would_merge_two_values_is_refused(versions):
    """Two values meeting in one fact would silently lose one of them on every customer that has both."""
    both = MAPPING + "facts:\n  rename: {phone: company_name}\n"
    assert _problems(both, versions) == [
        "8:19 facts.rename.phone: phone cannot take the name company_name: v1 has a fact company_name that "
        "customers keep. Rename that one away or drop it first (facts.drop)"
    ]
    legal = load_definition(B2B_V2.replace("company_name", "legal_name"), "b2b.yaml")
    twice = MAPPING + "facts:\n  rename: {phone: legal_name, company_name: legal_name}\n"
    assert _problems(twice, (versions[0], legal)) == [
        "8:45 facts.rename.company_name: phone is renamed to legal_name already: two values cannot share one fact"
    ]
    swapped = load_mapping(MAPPING + "facts:\n  rename: {phone: company_name, company_name: phone}\n", *versions)
    replaced = load_mapping(MAPPING + "facts:\n  rename: {phone: company_name}\n  drop: [company_name]\n", *versions)
    assert swapped.renamed == {"phone": "company_name", "company_name": "phone"}
    assert replaced.dropped == {"company_name"}


def test_a_swap_and_a_replacing_rename_keep_each_value_where_the_mapping_says(versions, clock):
    old, _ = versions
    now = clock.now()
    customer = new_customer(old, "c-1", SALES, now, {"phone": "+86 1", "company_name": "ACME"}).snapshot
    for extra, expected in (
        ("  rename: {phone: company_name, company_name: phone}\n", {"phone": "ACME", "company_name": "+86 1"}),
        ("  rename: {phone: company_name}\n  drop: [company_name]\n", {"company_name": "+86 1"}),
    ):
        moved = migrate(load_mapping(MAPPING + "facts:\n" + extra, *versions), customer, ADMIN, now)
        assert isinstance(moved, Migrated)
        kept = {n: v for n, v in moved.outcome.snapshot.facts.items() if n in ("phone", "company_name")}
        assert kept == expected


def test_a_customer_whose_state_requires_a_fact_the_mapping_drops_or_renames_away_is_not_moved(versions, clock):
    old, new = versions
    now = clock.now()
    signed = new_customer(old, "c-1", SALES, now, {"contract_end_date": "2026-12-31"}).snapshot
    signed = signed._replace(states={**signed.states, "lifecycle": signed.states["lifecycle"]._replace(state="签约")})
    assert "contract_end_date" in new.dimensions["lifecycle"].states["签约"].requires
    for facts in ("  drop: [contract_end_date]\n", "  rename: {contract_end_date: phone}\n  drop: [phone]\n"):
        moved = migrate(load_mapping(MAPPING + "facts:\n" + facts, old, new), signed, ADMIN, now)
        assert isinstance(moved, Unmappable), facts
        assert "lifecycle 签约 requires fact contract_end_date, which the customer does not have" in moved.reasons
    kept = migrate(load_mapping(MAPPING, old, new), signed, ADMIN, now)
    assert isinstance(kept, Migrated) and kept.outcome.snapshot.facts["contract_end_date"]


def test_a_migrated_customer_is_exactly_what_the_store_reads_back_when_no_done_item_is_left(versions, clock):
    """The new version renames the only item done: the checklist is left with nothing done, which the store keeps
    as no entry at all (a kept copy of the customer must be the value its stored text decodes to)."""
    from crmstatus.engine import Claim, CompleteItem, decide
    from crmstatus.server.store import codec

    old, now = versions[0], clock.now()
    renamed = load_definition(B2B_V2.replace("contract_approval", "legal_review"), "b2b.yaml")
    customer = decide(old, new_customer(old, "c-1", SALES, now).snapshot, Claim(), SALES, now).snapshot
    customer = decide(old, customer, CompleteItem("signing", "contract_approval"), SALES, now).snapshot
    moved = migrate(load_mapping(MAPPING + "checklists: {signing: carry}\n", old, renamed), customer, ADMIN, now)
    assert isinstance(moved, Migrated)
    after = moved.outcome.snapshot
    assert (
        after.checklists
        == {}
        == codec._decode_snapshot(renamed, "c-1", codec.encode_snapshot(renamed, after)).checklists
    )


async def test_migrating_moves_states_counts_indexes_and_timers_and_keeps_time_in_state(service, tenant, clock):
    created = clock.now()
    await _create(service, tenant, "m-potential", "b2b", SALES)
    await _create(service, tenant, "m-key", "b2b", SALES, facts={"effective_contacts": 5})
    await service.fire(tenant, "m-key", "promote", SALES)
    clock.advance(timedelta(days=30))
    caller, everyone = Caller(tenant, ADMIN), Selection()
    plan = await service.app.migrations.plan(caller, MAPPING, everyone)
    assert (plan.selected, plan.migrated, plan.unmappable, plan.already) == (2, 2, 0, 0)
    assert plan.moves[("lifecycle", "重点", "关键")] == 1 and plan.moves[("lifecycle", "潜在", "潜在")] == 1
    assert (await _get(service, tenant, "m-key")).definition_version == 1  # the plan wrote nothing

    reports = [r async for r in service.app.migrations.apply(caller, MAPPING, everyone)]
    assert reports[-1].done and (reports[-1].migrated, reports[-1].moves) == (plan.migrated, plan.moves)
    key = await _get(service, tenant, "m-key")
    assert (key.definition_version, key.states["lifecycle"].state) == (2, "关键")
    potential = await _get(service, tenant, "m-potential")
    assert potential.states["lifecycle"].since == created  # 30 days in 潜在 already: the 60 days count from then
    entries, _ = await service.history(tenant, "m-key", limit=10, newest_first=True, page_token=None)
    assert (entries[0].trigger, entries[0].actor, entries[0].reason) == (
        "migrate", "ana", "migrated v1 → v2: lifecycle 重点 → 关键")  # fmt: skip
    counts = await service.state_counts(tenant)
    assert counts[("b2b@2", "lifecycle", "关键")] == 1 and counts[("b2b@2", "lifecycle", "潜在")] == 1
    assert not any(definition == "b2b@1" for definition, _, _ in counts)
    due = await service.app.store.client.zscore(service.keys(tenant).timers(service.keys(tenant).part("m-potential")),
                                                "m-potential|lifecycle:1:1")  # fmt: skip
    assert due == (created + timedelta(days=60)).timestamp() * 1000

    again = [r async for r in service.app.migrations.apply(caller, MAPPING, everyone)]
    assert (again[-1].migrated, again[-1].already) == (0, 2)


async def test_unmappable_customers_are_listed_with_reasons_and_left_as_they_are(service, tenant):
    await _create(service, tenant, "u-key", "b2b", SALES, facts={"effective_contacts": 5})
    await service.fire(tenant, "u-key", "promote", SALES)
    await _create(service, tenant, "u-potential", "b2b", SALES)
    caller = Caller(tenant, ADMIN)
    before = await _get(service, tenant, "u-key")
    reports = [r async for r in service.app.migrations.apply(caller, UNMAPPED, Selection())]
    assert (reports[-1].migrated, reports[-1].unmappable) == (1, 1)
    assert reports[-1].unmapped == [
        Unmappable("u-key", ("lifecycle is 重点, which v2 does not have: map it under states.lifecycle",))
    ]
    assert await _get(service, tenant, "u-key") == before


async def test_a_selection_by_state_or_id_takes_only_those_and_migrating_needs_admin(service, tenant):
    for n in range(3):
        await _create(service, tenant, f"s-{n}", "b2b", SALES, facts={"effective_contacts": 5 * (n % 2)})
    caller = Caller(tenant, ADMIN)
    by_state = await service.app.migrations.plan(caller, MAPPING, Selection(states=(("lifecycle", "意向"),)))
    lifecycle = {move: n for move, n in by_state.moves.items() if move[0] == "lifecycle"}
    assert (by_state.selected, lifecycle) == (1, {("lifecycle", "意向", "意向"): 1})
    by_id = await service.app.migrations.plan(caller, MAPPING, Selection(customer_ids=("s-0", "s-2", "nobody")))
    assert by_id.selected == 2
    for odd in ("a b", ""):  # no customer can have it: a mistake in the list, not a customer erased meanwhile
        with pytest.raises(InvalidRequest, match="customer id"):
            await service.app.migrations.plan(caller, MAPPING, Selection(customer_ids=("s-0", odd)))
    with pytest.raises(PermissionDenied):
        await service.app.migrations.plan(Caller(tenant, SALES), MAPPING, Selection())


def test_the_engine_cancels_every_old_timer_and_schedules_the_new_ones(versions, definitions, clock):
    from crmstatus.engine.commands import new_customer

    old, new = versions
    customer = new_customer(old, "e-1", SALES, clock.now()).snapshot
    result = migrate(load_mapping(MAPPING, old, new), customer, ADMIN, clock.now() + timedelta(days=1))
    assert isinstance(result, Migrated)
    assert set(result.outcome.cancelled) == {t.key for t in timers(old, customer)}
    assert {t.key: t.due for t in result.outcome.scheduled} == {
        t.key: t.due for t in timers(new, result.outcome.snapshot)
    }
    assert result.outcome.snapshot.version == customer.version + 1


def _contents(client) -> dict[str, bytes]:
    """Every key of the Redis and its serialised value; the short-lived idempotency records of the
    writes that created the customers are left out (they expire on their own while the test runs)."""
    keys = sorted(k for k in client.scan_iter(count=10_000) if b":idem:own-" not in k)
    pipeline = client.pipeline(transaction=False)
    for key in keys:
        pipeline.dump(key)
    return dict(zip(keys, pipeline.execute(), strict=True))


async def _populate(port: int, definitions, clock, customers: int) -> list[str]:
    """Customers of acme on b2b v1, written in-process on the servers' Redis: most in 潜在, 4% in 意向, 1% in 重点."""
    catalog = Catalog(list(definitions.values()))
    service = await Service.connect(Settings(redis_url=f"redis://127.0.0.1:{port}", partitions=PARTITIONS),
                                    catalog, clock)  # fmt: skip
    import asyncio

    gate = asyncio.Semaphore(64)

    async def one(n: int) -> None:
        async with gate:
            contacts = 5 if n % 100 < 5 else 0
            await _create(service, "acme", f"k-{n}", "b2b", SALES, facts={"effective_contacts": contacts})
            if n % 100 == 0:
                await service.fire("acme", f"k-{n}", "promote", SALES)

    await asyncio.gather(*(one(n) for n in range(customers)))
    await service.close()
    return [f"k-{n}" for n in range(customers) if n % 100 == 0]


@pytest.mark.single_redis
def test_ten_thousand_customers_planned_then_migrated_through_a_crash_once_each(own_redis, definitions, clock):
    import asyncio

    import grpc
    import redis

    from crmstatus.v1 import definition_service_pb2 as ds
    from crmstatus.v1 import definition_service_pb2_grpc as ds_grpc
    from tests.test_grpc import who
    from tests.test_registry import _serve

    key_customers = asyncio.run(_populate(own_redis.port, definitions, clock, 10_000))
    client = redis.Redis(port=own_redis.port)
    first, port = _serve(own_redis.port)
    admin = who("ana", "admin")
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        api = ds_grpc.DefinitionServiceStub(channel)
        api.PublishDefinition(ds.PublishDefinitionRequest(content=B2B_V2, file_name="b2b.yaml"), metadata=admin)
        api.ApproveDefinition(ds.ApproveDefinitionRequest(name="b2b", version=2), metadata=who("bo", "approver"))
        before = _contents(client)
        plan = api.PlanMigration(ds.PlanMigrationRequest(mapping=UNMAPPED), metadata=admin, timeout=300).report
        assert _contents(client) == before  # the dry run wrote nothing
        assert (plan.selected, plan.migrated, plan.unmappable, plan.already_migrated) == (10_000, 9_900, 100, 0)
        assert sorted(u.customer_id for u in plan.unmapped) == sorted(key_customers)
        assert plan.timers_cancelled > 9_900 and plan.timers_scheduled > 9_900
        stream = api.MigrateCustomers(ds.MigrateCustomersRequest(mapping=UNMAPPED, batch_size=500), metadata=admin)
        assert not next(stream).report.done
        first.kill()  # half-way: the process is gone, not stopped
        first.wait(30)
    # (an idempotency record SCAN finds may expire before it is read)
    on_v2 = sum(1 for key in client.scan_iter(match=b"crm:{acme:*:c:k-*", _type="string")
                if b'"dv":2' in (client.get(key) or b"")[:60])  # fmt: skip
    assert 0 < on_v2 < 9_900

    second, port = _serve(own_redis.port)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        api = ds_grpc.DefinitionServiceStub(channel)
        request = ds.MigrateCustomersRequest(mapping=UNMAPPED, batch_size=2000)
        reports = [answer.report for answer in api.MigrateCustomers(request, metadata=admin, timeout=300)]
        final = reports[-1]
        assert final.done and len(reports) > 2
        assert (final.migrated + final.already_migrated, final.unmappable) == (plan.migrated, plan.unmappable)
        assert final.already_migrated == on_v2
        counts = {(m.dimension, m.from_state, m.to_state): m.customers for m in plan.moves}
        assert counts[("lifecycle", "潜在", "潜在")] == 9_500 and counts[("lifecycle", "意向", "意向")] == 400

        settled = _contents(client)
        again = [answer.report for answer in api.MigrateCustomers(request, metadata=admin, timeout=300)][-1]
        assert (again.migrated, again.already_migrated, again.unmappable) == (0, 9_900, 100)
        assert _contents(client) == settled  # a second run changes nothing
    second.terminate()
    assert second.wait(30) == 0

    keys = Keys("acme", PARTITIONS)
    pipeline = client.pipeline(transaction=False)
    for n in range(10_000):
        pipeline.xrange(keys.history(f"k-{n}"))
    histories = pipeline.execute()
    migrated = [sum(1 for _, fields in h if b'"t":"migrate"' in fields[b"e"]) for h in histories]
    assert [migrated[n] for n in range(10_000) if n % 100] == [1] * 9_900  # once each, through the crash
    assert [migrated[n] for n in range(10_000) if not n % 100] == [0] * 100  # the unmappable, untouched
    for customer in key_customers:
        assert before[keys.customer(customer).encode()] == client.dump(keys.customer(customer))


async def test_the_review_report_names_what_a_workload_never_used_and_what_its_rules_refused(service, tenant):
    from crmstatus.engine.errors import TransitionNotAllowed

    for n in range(3):
        await _create(service, tenant, f"r-{n}", "b2b", SALES, facts={"effective_contacts": 5 if n == 0 else 0})
    await service.fire(tenant, "r-0", "promote", SALES)
    for _ in range(2):
        with pytest.raises(TransitionNotAllowed):  # the signing checklist is open
            await service.fire(tenant, "r-0", "sign", SALES)
    report = await service.app.analytics.review(Caller(tenant, ADMIN), "b2b", 1)
    lifecycle = {state: n for (dimension, state), n in report.entered.items() if dimension == "lifecycle"}
    assert lifecycle == {"潜在": 3, "意向": 1, "重点": 1, "签约": 0, "流失": 0}
    assert {("lifecycle", "签约"), ("lifecycle", "流失")} <= set(report.unused_states)
    fired = {t.event: n for t, n in report.fired.items() if t.dimension == "lifecycle"}
    assert (fired["qualify"], fired["promote"], fired["sign"], fired["lose"]) == (1, 1, 0, 0)
    unused = {t.event for t in report.unused_transitions if t.dimension == "lifecycle"}
    assert {"sign", "lose"} <= unused and not {"qualify", "promote"} & unused
    assert {t.event: n for t, n in report.blocked.items() if n} == {"sign": 2}
    text = report.text()
    assert "lifecycle.签约" in text and "lifecycle.sign (重点 → 签约)" in text
    assert "Refused 2× by its rules: lifecycle.sign (重点 → 签约) (signing)" in text


def test_the_command_line_plans_applies_and_reviews(own_redis, tmp_path):
    import subprocess
    import sys

    import grpc

    from crmstatus.v1 import customer_status_service_pb2 as cs
    from crmstatus.v1 import customer_status_service_pb2_grpc as cs_grpc
    from crmstatus.v1 import definition_service_pb2 as ds
    from crmstatus.v1 import definition_service_pb2_grpc as ds_grpc
    from tests.conftest import ROOT, TOKENS, clean_env
    from tests.test_grpc import who
    from tests.test_registry import _serve

    server, port = _serve(own_redis.port)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        definitions, customers = ds_grpc.DefinitionServiceStub(channel), cs_grpc.CustomerStatusServiceStub(channel)
        definitions.PublishDefinition(ds.PublishDefinitionRequest(content=B2B_V2), metadata=who("ana", "admin"))
        definitions.ApproveDefinition(
            ds.ApproveDefinitionRequest(name="b2b", version=2), metadata=who("bo", "approver")
        )
        for n, contacts in enumerate((0, 5)):
            customers.CreateCustomer(cs.CreateCustomerRequest(customer_id=f"cl-{n}", definition="b2b",
                                     facts={"effective_contacts": contacts}), metadata=who("rep", "sales"))  # fmt: skip
        customers.FireEvent(cs.FireEventRequest(customer_id="cl-1", event="promote"), metadata=who("rep", "sales"))
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING, "utf-8")
    tenant = ["--tenant", "acme", "--actor", "ana", "--token", TOKENS["acme"]]

    def crmstatus(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "crmstatus.server.cli", *args, *tenant]
        return subprocess.run(command, cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=120)

    plan = crmstatus("migrate", f"127.0.0.1:{port}", str(mapping), "--plan")
    assert plan.returncode == 0, plan.stderr
    assert "b2b v1 → v2: 2 selected, would migrate 2, 0 cannot be moved" in plan.stdout
    assert "  lifecycle: 重点 → 关键: 1" in plan.stdout
    applied = crmstatus("migrate", f"127.0.0.1:{port}", str(mapping), "--apply", "--state", "lifecycle=重点")
    assert applied.returncode == 0, applied.stderr
    assert "1 selected, migrated 1" in applied.stdout and "migrating" in applied.stderr  # the progress bar
    broken = tmp_path / "broken.yaml"
    broken.write_text(MAPPING.replace("关键", "要点"), "utf-8")
    refused = crmstatus("migrate", f"127.0.0.1:{port}", str(broken), "--plan")
    assert refused.returncode == 1 and "broken.yaml:6:" in refused.stderr and "'要点' is not a state" in refused.stderr
    saved_in_gbk = tmp_path / "gbk.yaml"
    saved_in_gbk.write_bytes(MAPPING.encode("gbk"))
    refused = crmstatus("migrate", f"127.0.0.1:{port}", str(saved_in_gbk), "--plan")
    assert refused.returncode == 1 and "is not UTF-8 text" in refused.stderr and "gbk.yaml:" in refused.stderr
    review = crmstatus("review", f"127.0.0.1:{port}", "b2b", "2")
    assert review.returncode == 0, review.stderr
    assert review.stdout.startswith("b2b@2: how its customers used it") and "lifecycle.流失" in review.stdout
    server.terminate()
    assert server.wait(30) == 0


async def test_a_retry_after_a_migration_gets_the_first_answer_as_it_was_given(service, tenant):
    await _create(service, tenant, "m-retry", "b2b", SALES, facts={"effective_contacts": 5})
    first = await service.fire(tenant, "m-retry", "promote", SALES, idempotency_key="req-7")
    [r async for r in service.app.migrations.apply(Caller(tenant, ADMIN), MAPPING, Selection())]
    assert (await _get(service, tenant, "m-retry")).definition_version == 2
    again = await service.fire(tenant, "m-retry", "promote", SALES, idempotency_key="req-7")  # on v1, replayed
    assert again.replayed and (again.snapshot, again.history) == (first.snapshot, first.history)
    assert again.snapshot.states["lifecycle"].state == "重点"


REMINDER_THEN_RECYCLE = """\
          - after: P83D                  # a week ahead: remind the owner that the customer will move
            alert: {name: telemarketing_soon, role: sales, severity: info}
          - after: P90D                  # 90 days in 潜在 → telemarketing re-nurtures it
            event: recycle_to_telemarketing
"""


async def test_a_timer_a_migration_puts_in_the_place_of_one_that_fired_fires_when_due(
    redis_url, definitions, clock, tenant
):
    assert REMINDER_THEN_RECYCLE in B2B
    sooner = B2B.replace("version: 1", "version: 2", 1).replace(
        REMINDER_THEN_RECYCLE, "          - {after: P80D, event: recycle_to_telemarketing}\n")  # fmt: skip
    catalog = Catalog([*definitions.values(), load_definition(sooner, "b2b.yaml")])
    service = await Service.connect(Settings(redis_url=redis_url, partitions=PARTITIONS), catalog, clock)
    try:
        await _create(service, tenant, "m-timer", "b2b", SALES)
        clock.advance(timedelta(days=83))
        await service.app.timers.sweep([tenant])  # v1's reminder, the stay's first timer, fires
        assert [w.name for w in (await _get(service, tenant, "m-timer")).work] == ["telemarketing_soon"]
        [r async for r in service.app.migrations.apply(Caller(tenant, ADMIN), "definition: b2b\nfrom: 1\nto: 2\n",
                                                          Selection())]  # fmt: skip
        await service.app.timers.sweep([tenant])  # v2's first timer of the same stay: 80 days, long due
        assert (await _get(service, tenant, "m-timer")).queue == "telemarketing"
    finally:
        await service.close()
