"""Definitions as governed data: a tenant reaches only its own versions and the shared ones, the shared ones
need a second person's approval whatever a tenant's exemption, malformed mappings are diagnostics, and a
replica answers for a version another one just activated."""

from __future__ import annotations

import pytest

from crmstatus.engine import Actor
from crmstatus.engine.errors import InvalidDefinition
from crmstatus.engine.loader import load_definition
from crmstatus.server.application.catalog import Catalog
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


async def test_listing_a_state_of_a_version_just_activated_on_another_replica_is_an_empty_page(replicas, tenant):
    a, b = replicas
    name = f"rv_{tenant[2:]}"
    v1 = B2B.replace("name: b2b", f"name: {name}", 1)
    v2 = v1.replace("version: 1", "version: 2", 1).replace("重点", "关键")  # v2 has a new state 关键
    for version, text in ((1, v1), (2, v2)):
        await a.app.definitions.publish(Caller(tenant, ADMIN), text, f"{name}.yaml")
        await a.app.definitions.approve(Caller(tenant, APPROVER), name, version)
        if version == 1:
            await a.app.definitions.activate(Caller(tenant, ADMIN), name, 1)
            # replica b serves a listing while v1 is active (and reads the published versions)
            await b.app.queries.listing(Caller(tenant, MANAGER), Listing(name, "lifecycle", "潜在"))
    await a.app.definitions.activate(Caller(tenant, ADMIN), name, 2)  # through replica a
    found, _ = await b.app.queries.listing(Caller(tenant, MANAGER), Listing(name, "lifecycle", "关键"))
    assert found == []


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
