"""The house: one installable package, layers that only import downwards, and every error with a status."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import zipfile
from pathlib import Path

import crmstatus
from crmstatus.engine.errors import CrmStatusError
from tests.conftest import ROOT


def test_the_wheel_holds_exactly_one_top_level_package(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir",
         str(tmp_path), str(ROOT)],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("crmstatus-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")} == {"crmstatus"}
    for packaged in ("crmstatus/engine/schema/definition.schema.json", "crmstatus/server/store/lua/commit.lua",
                     "crmstatus/v1/customer_pb2.py", "crmstatus/server/wire/customers.py"):  # fmt: skip
        assert packaged in names


def test_imports_follow_the_layers():
    linter = Path(sys.executable).parent / "lint-imports"
    run = subprocess.run([str(linter)], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "4 kept, 0 broken" in run.stdout


def _every_module() -> None:
    for module in pkgutil.walk_packages(crmstatus.__path__, "crmstatus."):
        if not module.name.startswith("crmstatus.v1"):
            importlib.import_module(module.name)


def _subclasses(root: type) -> set[type]:
    found = set()
    for child in root.__subclasses__():
        found |= {child, *_subclasses(child)}
    return found


def test_every_error_class_has_its_own_status():
    from crmstatus.server.wire.status import TABLE

    _every_module()
    mapped = {kind for kind, _, _ in TABLE}
    bases = {kind for kind in _subclasses(CrmStatusError) if kind.__name__.endswith("Error")}  # roots of a layer
    unmapped = sorted(k.__qualname__ for k in _subclasses(CrmStatusError) - mapped - bases)
    assert not unmapped, f"errors without a gRPC status in wire/status.py: {unmapped}"
    codes = [code for _, code, _ in TABLE]
    from google.rpc import code_pb2

    assert code_pb2.INTERNAL not in codes and code_pb2.UNKNOWN not in codes
