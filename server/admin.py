"""`crmstatus migrate | import | review`: the long admin operations, as gRPC clients with progress bars.

Import files are CSV or JSON Lines, one customer per row. CSV columns: `customer_id`; `state:<dimension>` and
`since:<dimension>` (ISO 8601, e.g. 2026-03-01T09:00:00+08:00) for each dimension given; `fact:<name>`; and
`identity:<kind>` (phone, email, company_registration). Empty cells are left out. A JSON line is
`{"customer_id": "c-1", "states": {"lifecycle": {"state": "潜在", "since": "2026-03-01T09:00:00+08:00"}},
"facts": {...}, "identities": {...}}`, optionally with its own "definition" and "definition_version".
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from tqdm import tqdm

from crmstatus.engine.errors import InvalidDefinition
from crmstatus.engine.loader import read_text
from crmstatus.v1 import customer_status_service_pb2 as cs
from crmstatus.v1 import customer_status_service_pb2_grpc as cs_grpc
from crmstatus.v1 import definition_service_pb2 as ds
from crmstatus.v1 import definition_service_pb2_grpc as ds_grpc

IMPORT_BATCH = 500  # rows per ImportCustomers call


def call_metadata(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    """Who calls: the command line's --tenant, --actor, --roles and --token."""
    return (
        ("x-crm-tenant", args.tenant), ("x-crm-actor", args.actor), ("x-crm-roles", args.roles),
        *((("authorization", f"Bearer {args.token}"),) if args.token else ()),
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Carry out one admin command; exit 1 when the server refuses (with its reasons) or rows were refused."""
    metadata = call_metadata(args)
    with grpc.insecure_channel(args.address) as channel:
        try:
            if args.command == "migrate":
                return _migrate(ds_grpc.DefinitionServiceStub(channel), args, metadata)
            if args.command == "import":
                return _import(cs_grpc.CustomerStatusServiceStub(channel), args, metadata)
            return _review(ds_grpc.DefinitionServiceStub(channel), args, metadata)
        except grpc.RpcError as error:
            refused(args.address, error)
            return 1
        except (OSError, ValueError, InvalidDefinition) as error:
            print(f"crmstatus {args.command}: {error}", file=sys.stderr)
            return 1


def refused(address: str, error: grpc.RpcError) -> None:
    """The server's refusal on stderr, with every violation it names (a definition's file:line:col problems)."""
    print(f"{address}: {error.code().name}: {error.details()}", file=sys.stderr)
    status = rpc_status.from_call(error)
    for packed in status.details if status else ():
        failure = error_details_pb2.PreconditionFailure()
        if packed.Unpack(failure):
            for violation in failure.violations:
                print(f"  {violation.description}", file=sys.stderr)


def _migrate(api: ds_grpc.DefinitionServiceStub, args: argparse.Namespace, metadata: Any) -> int:
    states = []
    for given in args.state:
        dimension, _, state = given.partition("=")
        if not state:
            raise ValueError(f"--state {given!r}: write DIMENSION=STATE, e.g. lifecycle=潜在")
        states.append(ds.StateRef(dimension=dimension, state=state))
    ids = [line.strip() for line in read_text(args.ids).splitlines() if line.strip()] if args.ids else []
    selection = ds.MigrationSelection(customer_ids=ids, states=states)
    mapping = read_text(args.mapping)
    if args.plan:
        plan = api.PlanMigration(ds.PlanMigrationRequest(mapping=mapping, file_name=args.mapping, selection=selection),
                                 metadata=metadata, timeout=3600).report  # fmt: skip
        _print_report(plan, "would migrate")
        return 0
    request = ds.MigrateCustomersRequest(mapping=mapping, file_name=args.mapping, selection=selection,
                                         batch_size=args.batch)  # fmt: skip
    report = None
    with tqdm(unit=" customers", desc="migrating", file=sys.stderr) as bar:
        for answer in api.MigrateCustomers(request, metadata=metadata):
            report = answer.report
            bar.total = report.selected if report.done else None
            bar.update(report.migrated + report.unmappable - bar.n)
    assert report is not None
    _print_report(report, "migrated")
    return 0


def _print_report(report: ds.MigrationReport, verb: str) -> None:
    print(
        f"{report.migration}: {report.selected:,} selected, {verb} {report.migrated:,}, "
        f"{report.unmappable:,} cannot be moved, {report.already_migrated:,} on the target version already"
    )
    print(f"timers: {report.timers_cancelled:,} cancelled, {report.timers_scheduled:,} scheduled "
          f"({report.timers_overdue:,} due at once)")  # fmt: skip
    for move in report.moves:
        if move.from_state != move.to_state:
            print(f"  {move.dimension}: {move.from_state or '(new)'} → {move.to_state}: {move.customers:,}")
    for customer in report.unmapped:
        print(f"  cannot move {customer.customer_id}: {'; '.join(customer.reasons)}")


def _import(api: cs_grpc.CustomerStatusServiceStub, args: argparse.Namespace, metadata: Any) -> int:
    path = Path(args.file)
    rows = list(_rows(path, args.definition, args.version))
    counts = {cs.IMPORT_STATUS_CREATED: 0, cs.IMPORT_STATUS_EXISTS: 0, cs.IMPORT_STATUS_REFUSED: 0}
    with tqdm(total=len(rows), unit=" rows", desc="importing", file=sys.stderr) as bar:
        for start in range(0, len(rows), IMPORT_BATCH):
            chunk = rows[start : start + IMPORT_BATCH]
            answer = api.ImportCustomers(cs.ImportCustomersRequest(customers=[row for _, row in chunk]),
                                         metadata=metadata, timeout=600)  # fmt: skip
            for (line, _), result in zip(chunk, answer.results, strict=True):
                counts[result.status] += 1
                if result.status == cs.IMPORT_STATUS_REFUSED:
                    tqdm.write(f"{path.name}:{line}: {result.customer_id}: {result.reason}", file=sys.stdout)
            bar.update(len(chunk))
    print(f"{path.name}: {counts[cs.IMPORT_STATUS_CREATED]:,} created, {counts[cs.IMPORT_STATUS_EXISTS]:,} there "
          f"already, {counts[cs.IMPORT_STATUS_REFUSED]:,} refused")  # fmt: skip
    return 1 if counts[cs.IMPORT_STATUS_REFUSED] else 0


def _rows(path: Path, definition: str, version: int) -> Iterator[tuple[int, cs.ImportedCustomer]]:
    """(line number, row) of a CSV or JSON Lines file; a row that cannot be read stops the import before any
    call, naming its line."""
    with io.StringIO(read_text(path).removeprefix("\ufeff"), newline="") as file:  # a byte order mark, as Excel writes
        records: Iterator[tuple[int, Any]]
        convert: Callable[[Any, str, int], cs.ImportedCustomer]
        if path.suffix.lower() == ".csv":
            reader = csv.DictReader(file)
            _check_columns(path, reader.fieldnames or [])
            records, convert = ((reader.line_num, record) for record in reader), _from_csv
        else:
            records, convert = ((n, line) for n, line in enumerate(file, 1) if line.strip()), _from_json_line
        for number, record in records:
            try:
                yield number, convert(record, definition, version)
            except (ValueError, AttributeError, TypeError) as error:
                raise ValueError(f"{path.name}:{number}: this row cannot be read: {error}") from None


COLUMNS = ("state", "since", "fact", "identity")  # prefixes of the columns besides customer_id


def _check_columns(path: Path, columns: Sequence[str]) -> None:
    """A column the import would not read is a mistake in the file, not something to skip quietly."""
    if "customer_id" not in columns:
        raise ValueError(f"{path.name}:1: the first line names the columns, and one of them is customer_id")
    for column in columns:
        kind, _, name = column.partition(":")
        if column != "customer_id" and (kind not in COLUMNS or not name):
            raise ValueError(f"{path.name}:1: column {column!r} is not customer_id, state:<dimension>, "
                             "since:<dimension>, fact:<name> or identity:<kind>")  # fmt: skip


def _from_csv(record: dict[str, str], definition: str, version: int) -> cs.ImportedCustomer:
    row: dict[str, Any] = {"customer_id": record.get("customer_id", ""), "states": {}, "facts": {}, "identities": {}}
    for column, value in record.items():
        if not value or column is None:
            continue
        kind, _, name = column.partition(":")
        if kind == "state":
            row["states"].setdefault(name, {})["state"] = value
        elif kind == "since":
            row["states"].setdefault(name, {})["since"] = value
        elif kind == "fact":
            row["facts"][name] = _cell(value)
        elif kind == "identity":
            row["identities"][name] = value
    return _from_json(row, definition, version)


def _cell(value: str) -> Any:
    """A CSV cell as the value it spells: numbers and true/false as such, the rest as text."""
    try:
        return json.loads(value) if value in ("true", "false") or value.lstrip("-").replace(".", "", 1).isdigit() \
            else value  # fmt: skip
    except json.JSONDecodeError:
        return value


def _from_json_line(line: str, definition: str, version: int) -> cs.ImportedCustomer:
    return _from_json(json.loads(line), definition, version)


def _from_json(row: dict[str, Any], definition: str, version: int) -> cs.ImportedCustomer:
    message = cs.ImportedCustomer(customer_id=str(row.get("customer_id", "")),
                                  definition=row.get("definition", definition),
                                  definition_version=int(row.get("definition_version", version)),
                                  identities={k: str(v) for k, v in row.get("identities", {}).items()})  # fmt: skip
    for dimension, entry in row.get("states", {}).items():
        state = message.states.add(dimension=dimension, state=entry.get("state", ""))
        if entry.get("since"):
            state.since.FromDatetime(datetime.fromisoformat(entry["since"]))
    facts = struct_pb2.Struct()
    facts.update(row.get("facts", {}))
    message.facts.CopyFrom(facts)
    return message


def _review(api: ds_grpc.DefinitionServiceStub, args: argparse.Namespace, metadata: Any) -> int:
    report = api.GetReviewReport(ds.GetReviewReportRequest(name=args.name, version=args.version),
                                 metadata=metadata, timeout=60)  # fmt: skip
    print(report.text)
    return 0
