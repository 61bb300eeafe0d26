"""Definitions as governed data: a tenant reaches only its own versions and the shared ones, the shared ones
need a second person's approval whatever a tenant's exemption, malformed mappings are diagnostics, and a
replica answers for a version another one just activated."""

from __future__ import annotations

import pytest

from crmstatus.engine import Actor
from crmstatus.engine.errors import InvalidDefinition, UnknownName
from crmstatus.engine.loader import load_definition
from crmstatus.server.application.catalog import RELEASE, Catalog
from crmstatus.server.application.errors import DefinitionNotFound, LifecycleRefused
from crmstatus.server.application.model import Caller, Listing
from crmstatus.server.settings import Settings
from tests.conftest import CONFIGS, PARTITIONS
from tests.service import Service

EDUCATION = (CONFIGS / "education.yaml").read_text("utf-8")
EDU_V2 = EDUCATION.replace("version: 1", "version: 2", 1).replace("remaining_lessons <= 5", "remaining_lessons <= 6", 1)
ADMIN = Actor("ana", frozenset({"admin"}))
APPROVER = Actor("bo", frozenset({"approver"}))
SALES = Actor("rep-1", frozenset({"sales"}))
MANAGER = Actor("mgr", frozenset({"manager"}))
B2B = (CONFIGS / "b2b.yaml").read_text("utf-8")
B2B_V2 = B2B.replace("version: 1", "version: 2", 1).replace("重点", "关键")


async def _replica(redis_url, definitions, clock) -> Service:
    """The application on `redis_url`, its catalog connected to the registry (as app.py does)."""
    catalog = Catalog(definitions.values())
    service = await Service.connect(Settings(redis_url=redis_url, partitions=PARTITIONS), catalog, clock)
    await catalog.connect(service.app.store.registry, clock.now())
    return service


@pytest.fixture
async def app(own_redis, definitions, clock):
    """A replica on a Redis of its own."""
    service = await _replica(f"redis://127.0.0.1:{own_redis.port}", definitions, clock)
    yield service
    await service.close()


@pytest.fixture
async def replicas(redis_url, definitions, clock):
    """Two replicas sharing the test Redis (single or cluster)."""
    services = [await _replica(redis_url, definitions, clock) for _ in range(2)]
    yield services
    for service in services:
        await service.close()


async def _statuses(app, tenant):
    return {
        (v.text.scope, v.text.key): (v.status.status, v.in_use)
        for v in await app.app.definitions.versions(Caller(tenant, ADMIN), "education")
    }


async def test_a_tenant_cannot_read_another_tenants_version_through_a_crafted_name(app):
    defs = app.app.definitions
    secret = EDU_V2.replace("remaining_lessons <= 6", "remaining_lessons <= 4242", 1)
    await defs.publish(Caller("acme", ADMIN), secret, "education.yaml")
    # globex names acme's version by its registry id
    with pytest.raises(DefinitionNotFound, match="acme:education"):
        await defs.get(Caller("globex", ADMIN), "acme:education", 2)
    with pytest.raises(DefinitionNotFound, match="acme:education"):
        await defs.activate(Caller("globex", ADMIN), "acme:education", 2)
    assert "4242" in (await defs.get(Caller("acme", ADMIN), "education", 2)).source


async def test_creating_a_customer_on_a_crafted_name_is_a_clear_refusal(app):
    await app.app.definitions.publish(Caller("acme", ADMIN), EDU_V2, "education.yaml")
    with pytest.raises(DefinitionNotFound):
        await app.create_customer("globex", "c-1", "acme:education", SALES, definition_version=2)


async def test_a_tenant_without_approval_cannot_activate_the_platforms_unapproved_draft(app):
    defs = app.app.definitions
    defs.approval_optional = frozenset({"acme"})  # CRMSTATUS_APPROVAL_OPTIONAL=acme: acme's OWN drafts need no approval
    await defs.publish(Caller("platform", ADMIN), EDU_V2, "education.yaml")  # a shared draft, not yet approved
    with pytest.raises(LifecycleRefused, match="draft that needs a second person's approval"):
        await defs.activate(Caller("acme", ADMIN), "education", 2)
    created = await app.create_customer("acme", "c-1", "education", SALES)
    assert created.snapshot.definition_version == 1, "acme's new customers run on the platform's unapproved draft"


def test_a_mapping_with_a_malformed_drop_list_is_a_diagnostic(definitions):
    from crmstatus.engine.migration import load_mapping

    old, new = definitions["b2b"], load_definition(B2B_V2, "b2b.yaml")
    text = "definition: b2b\nfrom: 1\nto: 2\nstates: {lifecycle: {重点: 关键}}\nfacts:\n  drop: [{phone: x}]\n"
    with pytest.raises(InvalidDefinition, match="write a fact's name here"):
        load_mapping(text, old, new)


async def test_rolling_back_to_the_shared_version_retires_the_tenants_own(app):
    defs = app.app.definitions
    await defs.publish(Caller("acme", ADMIN), EDU_V2, "education.yaml")
    await defs.approve(Caller("acme", APPROVER), "education", 2)
    await defs.activate(Caller("acme", ADMIN), "education", 2)
    # acme rolls back to the shared default
    await defs.activate(Caller("acme", ADMIN), "education", 1)
    statuses = await _statuses(app, "acme")
    assert statuses[("", "education@1")] == ("active", True)
    # "The version it replaces is retired" (definition_service.proto): acme's v2 is no longer used by anyone
    assert statuses[("acme", "education@2")] == ("retired", False)


async def _publish(app, tenant: str, text: str, version: int, file: str = "b2b.yaml", activate: bool = True) -> None:
    defs, name = app.app.definitions, text.partition("name: ")[2].partition("\n")[0]
    await defs.publish(Caller(tenant, ADMIN), text, file)
    await defs.approve(Caller(tenant, APPROVER), name, version)
    if activate:
        await defs.activate(Caller(tenant, ADMIN), name, version)


def _b2b_as(name: str) -> tuple[str, str]:
    """b2b's v1 and v2 texts under another name; v2 has a new state 关键 where v1 has 重点."""
    v1 = B2B.replace("name: b2b", f"name: {name}", 1)
    return v1, v1.replace("version: 1", "version: 2", 1).replace("重点", "关键")


async def _key_customer(app, tenant: str, customer_id: str, definition: str) -> None:
    """A customer in the lifecycle's 重点 state (关键 in the v2 texts)."""
    await app.create_customer(tenant, customer_id, definition, SALES, facts={"effective_contacts": 5})
    await app.fire(tenant, customer_id, "promote", SALES)


async def _listed(app, tenant: str, definition: str, state: str) -> list[str]:
    found, _ = await app.app.queries.listing(Caller(tenant, MANAGER), Listing(definition, "lifecycle", state))
    return [customer_id for customer_id, _ in found]


async def test_a_replica_lists_a_state_of_a_version_another_replica_just_activated(replicas, tenant, monkeypatch):
    monkeypatch.setattr("crmstatus.server.application.catalog.TEXTS_FRESH", 3600)  # however slow this machine
    a, b = replicas
    name = f"rv_{tenant[2:]}"
    v1, v2 = _b2b_as(name)
    await _publish(a, tenant, v1, 1, f"{name}.yaml")
    assert await _listed(b, tenant, name, "潜在") == []  # replica b has read the published versions: v1 only
    await _publish(a, tenant, v2, 2, f"{name}.yaml")  # through replica a
    await _key_customer(a, tenant, "k-1", name)
    assert await _listed(b, tenant, name, "关键") == ["k-1"]


async def test_a_state_only_an_older_version_has_lists_the_customers_still_on_it(app, tenant):
    await _key_customer(app, tenant, "old-1", "b2b")  # on b2b v1, in 重点
    await _publish(app, tenant, B2B_V2, 2)  # v2 calls it 关键; old-1 is not migrated yet
    await _key_customer(app, tenant, "new-1", "b2b")
    assert await _listed(app, tenant, "b2b", "重点") == ["old-1"]
    assert await _listed(app, tenant, "b2b", "关键") == ["new-1"]
    with pytest.raises(UnknownName, match="unknown state of lifecycle '关'"):
        await _listed(app, tenant, "b2b", "关")


async def test_a_shared_version_shipped_under_a_number_a_tenant_used_runs_the_customers_created_on_it(app, tenant):
    own = EDU_V2.replace("remaining_lessons <= 6", "remaining_lessons <= 7", 1)  # the tenant's variant, not activated
    await _publish(app, tenant, own, 2, "education.yaml", activate=False)
    await _publish(app, "platform", EDU_V2, 2, "education.yaml")  # later the platform makes its own v2 the default
    await app.create_customer(tenant, "s-1", "education", SALES)  # on the shared v2
    shared = load_definition(EDU_V2, "education.yaml")
    definition, snapshot = await app.get_customer(tenant, "s-1")
    assert (definition.key, definition.digest) == ("education@2", shared.digest)
    changed = await app.update_facts(tenant, "s-1", {"remaining_lessons": 3}, SALES)
    assert changed.snapshot.version == snapshot.version + 1
    await app.create_customer(tenant, "o-1", "education", SALES, definition_version=2)  # a version named: its own
    assert (await app.get_customer(tenant, "o-1"))[0].digest == load_definition(own, "education.yaml").digest


async def test_a_migration_from_a_number_two_texts_share_moves_the_customers_of_its_own_text(app, tenant):
    from crmstatus.server.application.migration import Selection

    own = EDU_V2.replace("remaining_lessons <= 6", "remaining_lessons <= 7", 1)  # the tenant's v2, not activated
    await _publish(app, tenant, own, 2, "education.yaml", activate=False)
    await _publish(app, "platform", EDU_V2, 2, "education.yaml")  # the shared v2, the default
    await app.create_customer(tenant, "s-1", "education", SALES)  # on the shared text
    await app.create_customer(tenant, "o-1", "education", SALES, definition_version=2)  # on the tenant's own
    await _publish(app, tenant, own.replace("version: 2", "version: 3", 1), 3, "education.yaml", activate=False)
    mapping, caller = "definition: education\nfrom: 2\nto: 3\n", Caller(tenant, ADMIN)
    plan = await app.app.migrations.plan(caller, mapping, Selection())
    assert (plan.migrated, plan.unmappable) == (1, 1)
    (shared,) = plan.unmapped
    assert shared.customer_id == "s-1" and "another text of education@2" in shared.reasons[0]
    (done,) = [r async for r in app.app.migrations.apply(caller, mapping, Selection()) if r.done]
    assert (done.migrated, done.unmappable) == (1, 1)
    assert (await app.get_customer(tenant, "o-1"))[1].definition_version == 3
    assert (await app.get_customer(tenant, "s-1"))[1].definition_version == 2


async def test_a_shared_version_taking_a_tenants_number_later_lists_the_tenants_customers_once(app, tenant):
    await _publish(app, tenant, B2B_V2, 2)  # the tenant's own b2b@2
    await _key_customer(app, tenant, "t-1", "b2b")
    shared = B2B_V2.replace("P90D", "P80D", 1)  # later the platform publishes a b2b@2 of its own
    await _publish(app, "platform", shared, 2, activate=False)
    assert await _listed(app, tenant, "b2b", "关键") == ["t-1"]


async def _shared_active(app, name: str = "education") -> str | None:
    return (await app.app.store.registry.active([f"|{name}"]))[0]


async def test_a_replica_starting_again_keeps_an_admins_rollback_and_an_older_release_keeps_the_newer(app, clock):
    registry, v2 = app.app.store.registry, load_definition(EDU_V2, "education.yaml")
    edu_v1 = load_definition(EDUCATION, "education.yaml")
    release = Catalog([edu_v1, v2])  # a release shipping education v2 starts: v2 becomes the shared default
    await release.connect(registry, clock.now())
    assert await _shared_active(app) == "education@2"
    await app.app.definitions.activate(Caller("platform", ADMIN), "education", 1)  # the platform rolls back
    await Catalog([edu_v1, v2]).connect(registry, clock.now())  # a replica of that release starts again
    assert await _shared_active(app) == "education@1", "a restart undid the platform admin's rollback"
    await Catalog([edu_v1]).connect(registry, clock.now())  # and one of the release before
    assert await _shared_active(app) == "education@1"
    v3 = load_definition(EDU_V2.replace("version: 2", "version: 3", 1), "education.yaml")
    await Catalog([edu_v1, v2, v3]).connect(registry, clock.now())  # the next release's v3 is the default again
    assert await _shared_active(app) == "education@3"


async def test_a_rollback_made_before_releases_kept_a_record_survives_the_first_start_that_keeps_one(app, clock):
    registry, release = app.app.store.registry, [load_definition(t, "education.yaml") for t in (EDUCATION, EDU_V2)]
    await Catalog(release).connect(registry, clock.now())  # v2 shipped and made the shared default
    await app.app.definitions.activate(Caller("platform", ADMIN), "education", 1)  # the platform rolls back
    await app.app.store.client.delete("crm:{registry}:shipped")  # as a release that kept no record left it
    await Catalog(release).connect(registry, clock.now())
    assert await _shared_active(app) == "education@1", "the first start keeping a record undid the rollback"
    await Catalog(release).connect(registry, clock.now())
    assert await _shared_active(app) == "education@1"
    v3 = load_definition(EDU_V2.replace("version: 2", "version: 3", 1), "education.yaml")
    await Catalog([*release, v3]).connect(registry, clock.now())  # a newer release's version still takes over
    assert await _shared_active(app) == "education@3"


async def test_a_newer_version_an_older_release_replaced_in_a_race_before_records_is_the_default_again(app, clock):
    registry, release = app.app.store.registry, [load_definition(t, "education.yaml") for t in (EDUCATION, EDU_V2)]
    await Catalog(release).connect(registry, clock.now())  # a release made v2 the shared default
    # an older release starting alongside, before releases kept a record, activated its own newest after that
    await registry.activate("education@1", "|education", RELEASE, clock.now(), True)
    await app.app.store.client.delete("crm:{registry}:shipped")
    await Catalog(release).connect(registry, clock.now())  # the upgrade to a release keeping the record
    assert await _shared_active(app) == "education@2", "no admin rolled back, yet v2 stayed retired"


async def test_a_reload_refused_for_one_edited_version_publishes_none_of_the_others(app, clock, tmp_path):
    registry = app.app.store.registry
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir()
    theirs.mkdir()
    (theirs / "education.yaml").write_text(EDU_V2, "utf-8")  # another replica's release shipped education v2
    other = Catalog([])
    await other.connect(registry, clock.now())
    await other.reload(str(theirs), clock.now())
    edited = EDU_V2.replace("remaining_lessons <= 6", "remaining_lessons <= 7", 1)  # v2 with another text
    (ours / "education.yaml").write_text(edited, "utf-8")
    (ours / "b2b.yaml").write_text(B2B_V2, "utf-8")
    catalog = app.app.catalog
    with pytest.raises(InvalidDefinition, match="education@2 is published and its text changed"):
        await catalog.reload(str(ours), clock.now())
    assert await registry.first_text(["b2b@2"]) is None, "b2b v2 was published by a reload that was refused"
    assert await _shared_active(app, "b2b") == "b2b@1"


async def test_a_tenants_version_taken_by_a_shared_one_is_told_a_number_that_is_free(app):
    from crmstatus.server.application.errors import VersionTaken

    defs, acme = app.app.definitions, Caller("acme", ADMIN)
    own = EDUCATION.replace("remaining_lessons <= 5", "remaining_lessons <= 4", 1)  # acme's variant, as version 1
    with pytest.raises(VersionTaken, match="give the new text version 2 "):
        await defs.publish(acme, own, "education.yaml")  # the shared education@1 has that number
    await defs.publish(acme, own.replace("version: 1", "version: 2", 1), "education.yaml")


async def test_a_registry_that_lost_which_versions_are_active_gets_the_shipped_defaults_again(app):
    await app.app.store.client.delete("crm:{registry}:active")  # evicted, say; the rest of the registry is there
    created = await app.create_customer("acme", "c-1", "b2b", SALES)
    assert created.snapshot.definition_version == 1


async def _whole_hash_reads(app) -> int:
    stats = await app.app.store.client.info("commandstats")
    return int(stats.get("cmdstat_hgetall", {}).get("calls", 0))


async def test_customers_of_a_definition_with_no_active_version_are_listed(app, tenant):
    mine = B2B.replace("name: b2b", "name: mine", 1)
    await _publish(app, tenant, mine, 1, "mine.yaml", activate=False)  # approved, never activated
    await app.create_customer(tenant, "m-1", "mine", SALES, definition_version=1)
    assert await _listed(app, tenant, "mine", "潜在") == ["m-1"]
    before = await _whole_hash_reads(app)
    for _ in range(3):
        assert await _listed(app, tenant, "mine", "潜在") == ["m-1"]
    assert await _whole_hash_reads(app) == before, "every listing read the registry's documents and statuses"


async def test_a_version_another_tenant_numbers_alike_does_not_hide_a_tenants_new_one(replicas, tenant, monkeypatch):
    monkeypatch.setattr("crmstatus.server.application.catalog.TEXTS_FRESH", 3600)
    a, b = replicas
    name, other = f"rn_{tenant[2:]}", f"{tenant}-other"
    v1, v2 = _b2b_as(name)
    for owner in (other, tenant):  # another tenant's own v1 and v2, read by replica b; then the tenant's own
        await _publish(a, owner, v1, 1, f"{name}.yaml")
        await _publish(a, owner, v2, 2, f"{name}.yaml")
        if owner == other:
            assert await _listed(b, other, name, "关键") == []
    await _key_customer(a, tenant, "k-1", name)
    assert await _listed(b, tenant, name, "关键") == ["k-1"]


async def test_a_version_this_release_cannot_compile_is_left_out_and_tried_once(app, tenant, caplog):
    from crmstatus.server.store.codec import VersionStatus, VersionText

    newer = B2B.replace("version: 1", "version: 3", 1).replace("dimensions:", "dimensions_v9:", 1)  # a newer language
    text = VersionText("b2b@3", "", "b2b.yaml", newer, "f" * 64, "release", app.clock.now())
    await app.app.store.registry.ship([(text, "b2b", 3)], VersionStatus("approved", ""))
    await app.create_customer(tenant, "c-1", "b2b", SALES)
    registry, read = app.app.store.registry, []
    first_text = registry.first_text

    async def counted(rids):
        read.extend(rid for rid in rids if rid.endswith("b2b@3"))
        return await first_text(rids)

    registry.first_text = counted
    for _ in range(3):
        assert await _listed(app, tenant, "b2b", "潜在") == ["c-1"]
    assert sum("b2b@3 cannot be used by this release" in r.getMessage() for r in caplog.records) == 1
    assert len(read) == 2, "its document was fetched again at every listing"  # the tenant's own id, the shared one


async def test_a_definition_whose_every_version_this_release_cannot_compile_is_not_found(app, tenant):
    from crmstatus.server.store.codec import VersionStatus, VersionText

    newer = B2B.replace("name: b2b", "name: futur", 1).replace("dimensions:", "dimensions_v9:", 1)
    text = VersionText("futur@1", "", "futur.yaml", newer, "e" * 64, "release", app.clock.now())
    await app.app.store.registry.ship([(text, "futur", 1)], VersionStatus("approved", ""))
    with pytest.raises(DefinitionNotFound, match="no version of 'futur' can be used by this release"):
        await _listed(app, tenant, "futur", "潜在")
    with pytest.raises(DefinitionNotFound, match="'futur@1' cannot be used by this release: its text, published by"):
        await app.create_customer(tenant, "f-1", "futur", SALES, definition_version=1)


async def test_versions_are_compiled_off_the_event_loop_and_a_published_one_once(replicas, tenant, monkeypatch):
    """Up to a megabyte of text takes seconds to compile: the event loop goes on answering every other call."""
    import asyncio
    import threading

    from crmstatus.server.application import catalog, definitions

    compiled = []

    def watched(text, file, stored=False):
        compiled.append(threading.current_thread() is threading.main_thread())  # the event loop's thread
        return load_definition(text, file, stored)

    monkeypatch.setattr(catalog, "load_definition", watched)
    monkeypatch.setattr(definitions, "load_definition", watched)
    a, b = replicas
    await _publish(a, tenant, EDU_V2, 2, "education.yaml")  # publish, approve and activate through replica a
    await a.app.definitions.compiled(Caller(tenant, ADMIN))
    await a.create_customer(tenant, "s-1", "education", SALES)
    assert compiled == [False]  # compiled once, when published, in a thread
    # replica b compiles it from the registry once, however many calls need it at the same moment
    await asyncio.gather(*(b.create_customer(tenant, f"s-{n}", "education", SALES) for n in range(2, 6)))
    assert compiled == [False, False]


async def test_the_definition_listings_leave_out_a_version_this_release_cannot_compile(app, tenant):
    # Shipped by a newer release during a rolling upgrade: every tenant sees the shared versions.
    from crmstatus.server.store.codec import VersionStatus, VersionText

    newer = EDUCATION.replace("version: 1", "version: 7", 1).replace("dimensions:", "dimensions_v9:", 1)
    text = VersionText("education@7", "", "education.yaml", newer, "d" * 64, "release", app.clock.now())
    await app.app.store.registry.ship([(text, "education", 7)], VersionStatus("approved", ""))
    defs, caller = app.app.definitions, Caller(tenant, ADMIN)
    assert "education@1" in {d.key for d in await defs.published(caller)}
    assert "education@7" not in {d.key for d in await defs.published(caller)}
    assert [v.text.key for v, _ in await defs.compiled(caller, "education")] == ["education@1"]


async def test_listings_read_which_versions_exist_not_every_versions_document(app, tenant, monkeypatch):
    """A replica lists customers often; the registry holds every tenant's documents (tens of KB each)."""
    monkeypatch.setattr("crmstatus.server.application.catalog.TEXTS_FRESH", 0)  # re-read at every listing
    await app.create_customer(tenant, "c-1", "b2b", SALES)
    before = await _whole_hash_reads(app)
    for _ in range(3):
        assert await _listed(app, tenant, "b2b", "潜在") == ["c-1"]
    assert await _whole_hash_reads(app) == before


async def test_a_flow_report_shows_the_states_only_an_older_version_has(app, tenant, clock):
    await _key_customer(app, tenant, "old-1", "b2b")  # entered 重点 on v1
    await _publish(app, tenant, B2B_V2, 2)  # v2 calls it 关键
    today = clock.now().date()
    report = await app.app.analytics.flow(Caller(tenant, MANAGER), "b2b", "lifecycle", today, today)
    entered = {flow.state: flow.entered for flow in report.states}
    assert entered["重点"] == 1 and entered["关键"] == 0
    assert [flow.state for flow in report.states][-1] == "重点"  # after v2's own states


async def test_a_flow_report_takes_its_states_from_the_active_version_not_a_newer_draft(app, tenant, clock):
    await _key_customer(app, tenant, "c-1", "b2b")
    await app.app.definitions.publish(Caller(tenant, ADMIN), B2B_V2, "b2b.yaml")  # a draft, never approved
    today = clock.now().date()
    report = await app.app.analytics.flow(Caller(tenant, MANAGER), "b2b", "lifecycle", today, today)
    assert [flow.state for flow in report.states] == list(app.catalog.get("b2b").dimensions["lifecycle"].states)


async def test_an_older_release_finding_no_active_version_activates_the_newest_a_release_shipped(app, clock):
    registry = app.app.store.registry
    v1, v2 = load_definition(EDUCATION, "education.yaml"), load_definition(EDU_V2, "education.yaml")
    await Catalog([v1, v2]).connect(registry, clock.now())
    await app.app.store.client.delete("crm:{registry}:active")  # lost
    await Catalog([v1]).connect(registry, clock.now())  # a replica of the release before starts
    assert await _shared_active(app) == "education@2"
    await Catalog([v1, v2]).connect(registry, clock.now())
    assert await _shared_active(app) == "education@2"
