"""Verified identity (JWT), TLS and mTLS on the gRPC port, and the refusal to take bearer tokens in plaintext."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time

import grpc
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import RSAAlgorithm

from crmstatus.server.settings import Settings, SettingsError
from crmstatus.v1 import customer_status_service_pb2 as cs
from crmstatus.v1 import customer_status_service_pb2_grpc as cs_grpc
from crmstatus.v1 import definition_service_pb2 as ds
from crmstatus.v1 import definition_service_pb2_grpc as ds_grpc
from tests.conftest import CONFIGS, PARTITIONS, ROOT, Served, clean_env

SECRET = "acme-signing-secret-of-enough-length-for-hs256"


def token(tenant: str = "acme", sub: str = "rep-li", roles=("sales",), *, key=SECRET, algorithm="HS256",
          audience="crmstatus", expires_in: int = 300, kid: str | None = None) -> str:  # fmt: skip
    now = int(time.time())
    claims = {"sub": sub, "tenant": tenant, "roles": list(roles), "aud": audience, "iat": now, "exp": now + expires_in}
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid} if kid else None)


def metadata(bearer: str, tenant: str = "acme", **claimed: str) -> list[tuple[str, str]]:
    return [("x-crm-tenant", tenant), ("authorization", f"Bearer {bearer}"), *claimed.items()]


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def jwt_server(redis_url, tmp_path, rsa_key):
    jwks = {"keys": [{**json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key())), "kid": "k1", "alg": "RS256"}]}
    (tmp_path / "globex.jwks").write_text(json.dumps(jwks), "utf-8")
    settings = Settings(
        redis_url=redis_url, listen="127.0.0.1:0", config_dir=str(CONFIGS), timer_worker=False, partitions=PARTITIONS,
        jwt_secrets={"acme": SECRET, "platform": SECRET + "-platform"},
        jwt_jwks={"globex": str(tmp_path / "globex.jwks")},
    )  # fmt: skip
    server = Served(settings)
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield cs_grpc.CustomerStatusServiceStub(channel), ds_grpc.DefinitionServiceStub(channel), tmp_path
    server.stop()


def _refused(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value.code(), raised.value.details()


def test_a_jwt_names_the_caller_and_its_roles_and_metadata_cannot_add_any(jwt_server):
    customers, _, _ = jwt_server
    cid = f"j-{time.monotonic_ns()}"
    customers.CreateCustomer(cs.CreateCustomerRequest(customer_id=cid, definition="b2b"), metadata=metadata(token()))
    claimed = customers.ClaimCustomer(cs.ClaimCustomerRequest(customer_id=cid), metadata=metadata(token()))
    assert claimed.result.customer.owner == "rep-li"  # the actor is the token's subject
    # roles and actor in metadata are ignored: a rep's token cannot act as a manager or as someone else
    pretending = metadata(token(sub="rep-wang"), **{"x-crm-actor": "boss", "x-crm-roles": "manager"})
    code, _ = _refused(lambda: customers.ReassignCustomer(
        cs.ReassignCustomerRequest(customer_id=cid, owner="rep-wang", reason="mine now"), metadata=pretending
    ))  # fmt: skip
    assert code == grpc.StatusCode.PERMISSION_DENIED  # no manager role: the token has none
    seen = customers.GetCustomer(cs.GetCustomerRequest(customer_id=cid), metadata=metadata(token()))
    assert seen.customer.owner == "rep-li"


@pytest.mark.parametrize(
    ("bearer", "expected"),
    [
        (lambda: token(expires_in=-120), "the token has expired"),
        (lambda: token(key="another-secret-entirely-of-enough-length"), "signature does not verify"),
        (lambda: token(audience="billing"), "not meant for this service"),
        (lambda: "not.a.jwt", "the token is not valid"),
    ],
    ids=["expired", "wrong signature", "wrong audience", "garbage"],
)
def test_a_bad_jwt_is_unauthenticated_with_the_reason(jwt_server, bearer, expected):
    customers, _, _ = jwt_server
    code, details = _refused(
        lambda: customers.GetCustomer(cs.GetCustomerRequest(customer_id="x"), metadata=metadata(bearer()))
    )
    assert code == grpc.StatusCode.UNAUTHENTICATED and expected in details


def test_a_jwt_of_one_tenant_is_refused_for_another(jwt_server, rsa_key):
    customers, _, _ = jwt_server
    globex = token("globex", key=rsa_key, algorithm="RS256", kid="k1")
    customers.CreateCustomer(
        cs.CreateCustomerRequest(customer_id=f"g-{time.monotonic_ns()}", definition="b2b"),
        metadata=metadata(globex, tenant="globex"),
    )  # the JWKS key verifies globex's tokens
    code, details = _refused(  # naming acme with globex's token: acme's secret does not verify it
        lambda: customers.GetCustomer(cs.GetCustomerRequest(customer_id="x"), metadata=metadata(globex))
    )
    assert code == grpc.StatusCode.UNAUTHENTICATED
    acme_for_globex = token("acme", key=rsa_key, algorithm="RS256", kid="k1")  # signed right, claims acme
    code, details = _refused(lambda: customers.GetCustomer(
        cs.GetCustomerRequest(customer_id="x"), metadata=metadata(acme_for_globex, tenant="globex")
    ))  # fmt: skip
    assert (code, "another tenant" in details) == (grpc.StatusCode.PERMISSION_DENIED, True)


def test_a_rotated_key_file_is_used_without_a_restart(jwt_server):
    customers, _, folder = jwt_server
    newer = ec.generate_private_key(ec.SECP256R1())
    from jwt.algorithms import ECAlgorithm

    jwks = {"keys": [{**json.loads(ECAlgorithm.to_jwk(newer.public_key())), "kid": "k2", "alg": "ES256"}]}
    path = folder / "globex.jwks"
    path.write_text(json.dumps(jwks), "utf-8")
    os.utime(path, (time.time() + 5, time.time() + 5))  # a new modification time, as a deployment writes one
    fresh = token("globex", key=newer, algorithm="ES256", kid="k2")
    customers.CreateCustomer(
        cs.CreateCustomerRequest(customer_id=f"r-{time.monotonic_ns()}", definition="b2b"),
        metadata=metadata(fresh, tenant="globex"),
    )


def test_a_tenant_admin_cannot_reload_the_definitions_every_tenant_shares(jwt_server):
    _, definitions, _ = jwt_server
    tenant_admin = metadata(token(roles=("admin",)))
    code, details = _refused(
        lambda: definitions.ReloadDefinitions(ds.ReloadDefinitionsRequest(), metadata=tenant_admin)
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED and "platform tenant" in details
    platform = metadata(token("platform", "ops", ("admin",), key=SECRET + "-platform"), tenant="platform")
    assert definitions.ReloadDefinitions(ds.ReloadDefinitionsRequest(), metadata=platform).definitions


# -- TLS -------------------------------------------------------------------------------------------------------


def _certificate(name: str, key, issuer=None, issuer_key=None, *, ca: bool = False) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(issuer or subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )  # fmt: skip
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def _pem(thing) -> bytes:
    if isinstance(thing, x509.Certificate):
        return thing.public_bytes(serialization.Encoding.PEM)
    return thing.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("crmstatus test CA", ca_key, ca=True)
    files = {"ca": _pem(ca)}
    for name in ("server", "client"):
        key = ec.generate_private_key(ec.SECP256R1())
        files[name] = _pem(_certificate("localhost" if name == "server" else name, key, ca.subject, ca_key))
        files[f"{name}_key"] = _pem(key)
    for name, data in files.items():
        (folder / f"{name}.pem").write_bytes(data)
    return folder, files


def _tls_server(redis_url, pki, *, client_ca: bool) -> Served:
    folder, _ = pki
    return Served(Settings(
        redis_url=redis_url, listen="127.0.0.1:0", config_dir=str(CONFIGS), timer_worker=False, partitions=PARTITIONS,
        tokens={"acme": "token-acme"}, tls_cert=str(folder / "server.pem"), tls_key=str(folder / "server_key.pem"),
        tls_client_ca=str(folder / "ca.pem") if client_ca else "",
    ))  # fmt: skip


TLS_NAME = (("grpc.ssl_target_name_override", "localhost"),)
ACME = [("x-crm-tenant", "acme"), ("x-crm-actor", "rep-li"), ("x-crm-roles", "sales"),
        ("authorization", "Bearer token-acme")]  # fmt: skip


def test_the_port_speaks_tls_and_refuses_plaintext(redis_url, pki):
    _, files = pki
    server = _tls_server(redis_url, pki, client_ca=False)
    try:
        credentials = grpc.ssl_channel_credentials(root_certificates=files["ca"])
        with grpc.secure_channel(f"127.0.0.1:{server.port}", credentials, options=TLS_NAME) as channel:
            api = cs_grpc.CustomerStatusServiceStub(channel)
            api.CreateCustomer(cs.CreateCustomerRequest(customer_id=f"t-{time.monotonic_ns()}", definition="b2b"),
                               metadata=ACME)  # fmt: skip
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as plain:
            code, _ = _refused(lambda: cs_grpc.CustomerStatusServiceStub(plain).GetCustomer(
                cs.GetCustomerRequest(customer_id="x"), metadata=ACME, timeout=5
            ))  # fmt: skip
            assert code == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop()


def test_mtls_refuses_a_client_without_a_certificate(redis_url, pki):
    _, files = pki
    server = _tls_server(redis_url, pki, client_ca=True)
    try:
        anonymous = grpc.ssl_channel_credentials(root_certificates=files["ca"])
        with grpc.secure_channel(f"127.0.0.1:{server.port}", anonymous, options=TLS_NAME) as channel:
            code, _ = _refused(lambda: cs_grpc.CustomerStatusServiceStub(channel).GetCustomer(
                cs.GetCustomerRequest(customer_id="x"), metadata=ACME, timeout=5
            ))  # fmt: skip
            assert code == grpc.StatusCode.UNAVAILABLE
        known = grpc.ssl_channel_credentials(files["ca"], files["client_key"], files["client"])
        with grpc.secure_channel(f"127.0.0.1:{server.port}", known, options=TLS_NAME) as channel:
            api = cs_grpc.CustomerStatusServiceStub(channel)
            api.CreateCustomer(cs.CreateCustomerRequest(customer_id=f"m-{time.monotonic_ns()}", definition="b2b"),
                               metadata=ACME)  # fmt: skip
    finally:
        server.stop()


def test_a_production_server_without_tls_refuses_to_take_bearer_tokens():
    env = clean_env()
    env.update(CRMSTATUS_TOKENS="acme=t", REDIS_URL="redis://127.0.0.1:1")
    done = subprocess.run([sys.executable, "-m", "crmstatus.server.cli", "serve"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1
    assert "bearer tokens would travel in plaintext" in done.stderr and "CRMSTATUS_BEHIND_TLS_PROXY=1" in done.stderr


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"CRMSTATUS_TLS_CERT": "/nonexistent.pem", "CRMSTATUS_TLS_KEY": "/nonexistent.pem"},
            "CRMSTATUS_TLS_CERT: expected the path of a readable file",
        ),
        ({"CRMSTATUS_TLS_CERT": __file__}, "expected both (certificate and key) or neither"),
        ({"CRMSTATUS_TLS_CLIENT_CA": __file__}, "CRMSTATUS_TLS_CLIENT_CA: expected with CRMSTATUS_TLS_CERT"),
        ({"CRMSTATUS_JWT_JWKS": "acme=/nonexistent.jwks"}, "acme's '/nonexistent.jwks' is not a readable file"),
        ({"CRMSTATUS_JWT_SECRETS": "acme"}, "CRMSTATUS_JWT_SECRETS: expected tenant=secret pairs"),
        ({"CRMSTATUS_LOG_FORMAT": "xml"}, "CRMSTATUS_LOG_FORMAT: expected one of json, text"),
        ({"CRMSTATUS_METRICS_LISTEN": "9464"}, "CRMSTATUS_METRICS_LISTEN: expected HOST:PORT"),
    ],
)
def test_a_bad_security_or_operations_setting_is_one_line_naming_it(env, expected):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env)
    assert expected in str(raised.value) and "\n" not in str(raised.value)
