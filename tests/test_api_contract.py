"""The API as other programs see it: committed stubs match the protos, and a non-Python client works."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BUF_VERSION = "1.75.0"


def test_committed_stubs_are_what_make_proto_generates(tmp_path):
    protos = sorted(str(p.relative_to(ROOT / "proto")) for p in (ROOT / "proto").rglob("*.proto"))
    plugin = Path(sys.executable).parent / "protoc-gen-mypy_grpc"
    command = [sys.executable, "-m", "grpc_tools.protoc", "-I", str(ROOT / "proto"),
               f"--plugin=protoc-gen-mypy_grpc={plugin}", f"--python_out={tmp_path}", f"--pyi_out={tmp_path}",
               f"--grpc_python_out={tmp_path}", f"--mypy_grpc_out={tmp_path}", *protos]  # fmt: skip
    subprocess.run(command, check=True, cwd=ROOT / "proto", capture_output=True)
    generated = {p.relative_to(tmp_path): p.read_text() for p in tmp_path.rglob("*.py*")}
    committed = {p.relative_to(ROOT): p.read_text() for p in (ROOT / "crmstatus").rglob("*_pb2*.py*")}
    assert generated.keys() == committed.keys(), "stubs missing or left over: run `make proto`"
    stale = [str(name) for name, text in generated.items() if committed[name] != text]
    assert not stale, f"stale stubs, run `make proto`: {stale}"


@pytest.fixture(scope="session")
def buf(tmp_path_factory) -> str:
    """The buf CLI from the npm registry; the test is skipped, saying why, where it cannot be installed."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: cannot fetch @bufbuild/buf for the non-Python client test")
    prefix = tmp_path_factory.mktemp("buf")
    install = subprocess.run(
        [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", f"@bufbuild/buf@{BUF_VERSION}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    binary = prefix / "node_modules" / ".bin" / "buf"
    if install.returncode != 0 or not binary.exists():
        pytest.skip(f"@bufbuild/buf could not be installed from npm: {install.stderr.strip()[-300:]}")
    return str(binary)


def test_buf_curl_drives_the_service_through_reflection(buf, served):
    _, port = served
    headers = ["-H", "x-crm-tenant: acme", "-H", "x-crm-actor: adv-chen", "-H", "x-crm-roles: advisor",
               "-H", "authorization: Bearer token-acme"]  # fmt: skip

    def call(method: str, body: dict) -> dict:
        done = subprocess.run(
            [buf, "curl", "--protocol", "grpc", "--http2-prior-knowledge", *headers, "-d", json.dumps(body),
             f"http://127.0.0.1:{port}/crmstatus.v1.CustomerStatusService/{method}"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    created = call(
        "CreateCustomer", {"customerId": "curl-1", "definition": "education", "facts": {"student_name": "韩梅梅"}}
    )
    assert created["result"]["customer"]["version"] == "1"
    call("FireEvent", {"customerId": "curl-1", "event": "book_trial"})
    listed = call("ListTransitions", {"customerId": "curl-1", "dimension": "learner"})
    enroll = next(t for t in listed["transitions"] if t["event"] == "enroll")
    assert enroll["reasons"][0]["kind"] == "BLOCK_REASON_KIND_GUARD"


def test_timestamps_are_what_protobuf_itself_would_make():
    from datetime import UTC, datetime, timedelta, timezone

    from google.protobuf import timestamp_pb2

    from crmstatus.server.wire.convert import timestamp

    for moment in (
        datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
        datetime(2026, 1, 5, 17, 0, tzinfo=timezone(timedelta(hours=8))),
    ):
        expected = timestamp_pb2.Timestamp()
        expected.FromDatetime(moment)
        assert timestamp(moment) == expected
