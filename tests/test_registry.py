"""Governed definitions: versions published, approved and activated per tenant in the registry every replica
shares, with the refusals that keep a tenant's rules its own and a broken text out."""

from __future__ import annotations

import subprocess
import sys

import grpc
import pytest
import redis

from crmstatus.v1 import customer_status_service_pb2 as cs
from crmstatus.v1 import customer_status_service_pb2_grpc as cs_grpc
from crmstatus.v1 import definition_service_pb2 as ds
from crmstatus.v1 import definition_service_pb2_grpc as ds_grpc
from tests.cluster import free_port
from tests.conftest import CONFIGS, ROOT, TOKENS, clean_env
from tests.test_fleet import _lines
from tests.test_grpc import failure, who

EDUCATION = (CONFIGS / "education.yaml").read_text("utf-8")
V2 = EDUCATION.replace("version: 1", "version: 2", 1).replace("remaining_lessons <= 5", "remaining_lessons <= 6", 1)
ADMIN, APPROVER = who("ana", "admin"), who("bo", "approver")


def _serve(redis_port: int, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    tokens = ",".join(f"{tenant}={token}" for tenant, token in TOKENS.items())
    process = subprocess.Popen(
        [sys.executable, "-m", "crmstatus.server.cli", "serve", "--listen", f"127.0.0.1:{port}"],
        env={**clean_env(), "REDIS_URL": f"redis://127.0.0.1:{redis_port}", "CRMSTATUS_TOKENS": tokens,
             "CRMSTATUS_BEHIND_TLS_PROXY": "1", "CRMSTATUS_TIMER_WORKER": "0", **(env or {})},
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    assert any("; definitions:" in line for line in _lines(process.stdout, 1))
    return process, port


@pytest.fixture
def two_servers(own_redis):
    """Two server processes on one Redis: (definitions and customers of the first, of the second)."""
    a, port_a = _serve(own_redis.port)
    b, port_b = _serve(own_redis.port)
    with grpc.insecure_channel(f"127.0.0.1:{port_a}") as to_a, grpc.insecure_channel(f"127.0.0.1:{port_b}") as to_b:
        yield (ds_grpc.DefinitionServiceStub(to_a), cs_grpc.CustomerStatusServiceStub(to_a),
               ds_grpc.DefinitionServiceStub(to_b), cs_grpc.CustomerStatusServiceStub(to_b))  # fmt: skip
    for process in (a, b):
        process.terminate()
        assert process.wait(30) == 0


@pytest.fixture
def one_server(own_redis):
    process, port = _serve(own_redis.port)
    yield port
    process.terminate()
    assert process.wait(30) == 0


def _create(api, customer_id: str, tenant: str = "acme") -> cs.Customer:
    request = cs.CreateCustomerRequest(customer_id=customer_id, definition="education")
    return api.CreateCustomer(request, metadata=who(tenant=tenant)).result.customer


def _statuses(definitions, tenant: str = "acme") -> dict[tuple[str, int], tuple[str, bool]]:
    listed = definitions.ListDefinitionVersions(ds.ListDefinitionVersionsRequest(name="education"),
                                                metadata=who(tenant=tenant))  # fmt: skip
    return {(v.tenant, v.definition.version): (ds.VersionStatus.Name(v.status), v.in_use) for v in listed.versions}


def test_a_version_activated_through_one_server_is_what_the_other_gives_new_customers(two_servers):
    defs_a, _, defs_b, customers_b = two_servers
    before = _create(customers_b, "s-old")
    published = defs_a.PublishDefinition(ds.PublishDefinitionRequest(content=V2, file_name="education.yaml"),
                                         metadata=ADMIN).version  # fmt: skip
    assert (published.tenant, published.status, published.published_by) == ("acme", ds.VERSION_STATUS_DRAFT, "ana")
    assert _create(customers_b, "s-draft").definition_version == 1  # a draft changes nothing yet
    code, reason, _ = failure(lambda: customers_b.CreateCustomer(cs.CreateCustomerRequest(
        customer_id="s-on-draft", definition="education", definition_version=2), metadata=who()))  # fmt: skip
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "DEFINITION_LIFECYCLE")
    defs_a.ApproveDefinition(ds.ApproveDefinitionRequest(name="education", version=2), metadata=APPROVER)
    activated = defs_a.ActivateDefinition(ds.ActivateDefinitionRequest(name="education", version=2), metadata=ADMIN)
    assert (activated.version.status, activated.version.approved_by) == (ds.VERSION_STATUS_ACTIVE, "bo")
    # at once on the other server, without a restart or a reload
    assert _create(customers_b, "s-new").definition_version == 2
    got = customers_b.GetCustomer(cs.GetCustomerRequest(customer_id="s-old"), metadata=who()).customer
    assert (got.definition_version, got.version) == (1, before.version)  # existing customers stay on theirs
    assert _statuses(defs_b) == {
        ("", 1): ("VERSION_STATUS_ACTIVE", False),
        ("acme", 2): ("VERSION_STATUS_ACTIVE", True),
    }
    # another tenant goes on with the shared default, and cannot see or use acme's version
    assert _create(customers_b, "s-globex", tenant="globex").definition_version == 1
    assert _statuses(defs_b, "globex") == {("", 1): ("VERSION_STATUS_ACTIVE", True)}
    code, reason, _ = failure(lambda: customers_b.CreateCustomer(cs.CreateCustomerRequest(
        customer_id="s-x", definition="education", definition_version=2), metadata=who(tenant="globex")))  # fmt: skip
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "DEFINITION_NOT_FOUND")
    diff = defs_b.DiffDefinitions(ds.DiffDefinitionsRequest(name="education", old_version=1, new_version=2),
                                  metadata=who())  # fmt: skip
    assert [(c.kind, c.before, c.after) for c in diff.changes if c.kind == "guard"] != []
    assert "remaining_lessons <= 6" in diff.text


def test_a_broken_text_is_refused_with_its_diagnostics_and_nothing_is_stored(one_server):
    port = one_server
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        defs = ds_grpc.DefinitionServiceStub(channel)
        before = _statuses(defs)
        broken = V2.replace("version: 2", "version: 3").replace("remaining_lessons <= 6", "remaining_lessons <=", 1)
        code, reason, details = failure(lambda: defs.PublishDefinition(
            ds.PublishDefinitionRequest(content=broken, file_name="edu.yaml"), metadata=ADMIN))  # fmt: skip
        assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_DEFINITION")
        subjects = [v.subject for d in details for v in getattr(d, "violations", [])]
        assert subjects and all(s.startswith("edu.yaml:") and s.count(":") == 2 for s in subjects), subjects
        assert _statuses(defs) == before  # nothing stored; what is active stays active


def test_approval_and_tenancy_refusals(one_server):
    port = one_server
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        defs = ds_grpc.DefinitionServiceStub(channel)
        v7 = V2.replace("version: 2", "version: 7")
        defs.PublishDefinition(ds.PublishDefinitionRequest(content=v7), metadata=ADMIN)
        activate = ds.ActivateDefinitionRequest(name="education", version=7)
        approve = ds.ApproveDefinitionRequest(name="education", version=7)
        # activation without the approval acme needs
        assert failure(lambda: defs.ActivateDefinition(activate, metadata=ADMIN))[:2] == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "DEFINITION_LIFECYCLE",
        )
        # self-approval, even with the approver role
        assert failure(lambda: defs.ApproveDefinition(approve, metadata=who("ana", "admin,approver")))[:2] == (
            grpc.StatusCode.PERMISSION_DENIED,
            "PERMISSION_DENIED",
        )
        # publishing without the admin role
        assert (
            failure(lambda: defs.PublishDefinition(ds.PublishDefinitionRequest(content=v7), metadata=APPROVER))[0]
            == grpc.StatusCode.PERMISSION_DENIED
        )
        # globex's admin and approver cannot touch acme's version
        for call, metadata in ((defs.ApproveDefinition, who("gb", "approver", tenant="globex")),
                               (defs.ActivateDefinition, who("ga", "admin", tenant="globex"))):  # fmt: skip
            request = approve if call is defs.ApproveDefinition else activate
            assert failure(lambda c=call, r=request, m=metadata: c(r, metadata=m))[:2] == (
                grpc.StatusCode.NOT_FOUND,
                "DEFINITION_NOT_FOUND",
            )
        # nor can acme's admin change the shared defaults: activating a shared version changes only acme's choice
        defs.ActivateDefinition(ds.ActivateDefinitionRequest(name="education", version=1), metadata=ADMIN)
        shared_draft = EDUCATION.replace("version: 1", "version: 8", 1)
        defs.PublishDefinition(
            ds.PublishDefinitionRequest(content=shared_draft), metadata=who("pa", "admin", tenant="platform")
        )
        assert failure(lambda: defs.ApproveDefinition(ds.ApproveDefinitionRequest(name="education", version=8),
                                                      metadata=APPROVER))[0] == grpc.StatusCode.NOT_FOUND  # fmt: skip
        assert _statuses(defs, "globex")[("", 8)] == ("VERSION_STATUS_DRAFT", False)
        assert (
            failure(lambda: defs.ReloadDefinitions(ds.ReloadDefinitionsRequest(), metadata=ADMIN))[0]
            == grpc.StatusCode.PERMISSION_DENIED
        )
        # the same name@version with another text is refused, naming the next free number
        code, reason, _ = failure(lambda: defs.PublishDefinition(
            ds.PublishDefinitionRequest(content=v7.replace("<= 6", "<= 4")), metadata=ADMIN))  # fmt: skip
        assert (code, reason) == (grpc.StatusCode.ALREADY_EXISTS, "DEFINITION_VERSION_EXISTS")


def test_a_redis_that_lost_its_data_gets_the_shipped_defaults_again(own_redis):
    process, port = _serve(own_redis.port)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            redis.Redis(port=own_redis.port).flushall()
            assert _create(cs_grpc.CustomerStatusServiceStub(channel), "r-1").definition_version == 1
    finally:
        process.terminate()
        process.wait(30)


def test_the_command_line_publishes_approves_activates_lists_and_compares(one_server, tmp_path):
    address = f"127.0.0.1:{one_server}"
    (tmp_path / "education.yaml").write_text(V2, "utf-8")

    def crmstatus(*args: str, actor: str = "ana", roles: str = "admin") -> subprocess.CompletedProcess[str]:
        every = [*args, "--tenant", "acme", "--actor", actor, "--roles", roles, "--token", TOKENS["acme"]]
        return subprocess.run([sys.executable, "-m", "crmstatus.server.cli", *every], cwd=ROOT, env=clean_env(),
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    published = crmstatus("publish", address, str(tmp_path / "education.yaml"))
    assert published.returncode == 0, published.stderr
    assert "education@2 (acme) draft — published by ana" in published.stdout
    refused = crmstatus("activate", address, "education", "2")
    assert refused.returncode == 1 and "needs a second person's approval" in refused.stderr
    assert crmstatus("approve", address, "education", "2", actor="bo", roles="approver").returncode == 0
    assert crmstatus("activate", address, "education", "2").returncode == 0
    listed = crmstatus("versions", address, "education").stdout.splitlines()
    assert [line.split(" —")[0] for line in listed] == [
        "education@1 (shared) active",
        "education@2 (acme) active *in use*",
    ]
    compared = crmstatus("diff", address, "education", "1", "2")
    assert compared.returncode == 0 and "remaining_lessons <= 6" in compared.stdout
    broken = tmp_path / "broken.yaml"
    broken.write_text(V2.replace("version: 2", "version: 3").replace("to: ", "to:: ", 1), "utf-8")
    failed = crmstatus("publish", address, str(broken))
    assert failed.returncode == 1 and f"{broken}:" in failed.stderr
