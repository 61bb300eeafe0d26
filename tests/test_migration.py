"""Migrations between definition versions: the mapping document checked against both versions, the dry run,
and each customer moved atomically with its history entry, state counts, indexes and timers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crmstatus.engine import Actor
from crmstatus.engine.errors import InvalidDefinition, PermissionDenied
from crmstatus.engine.loader import load_definition
from crmstatus.engine.migration import Migrated, Unmappable, load_mapping, migrate
from crmstatus.engine.rules import timers
from crmstatus.server.application.catalog import Catalog
from crmstatus.server.application.migration import Selection
from crmstatus.server.application.model import Caller
from crmstatus.server.settings import Settings
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
