"""The `crmstatus` command line: validate definitions, and start the service."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmstatus.engine import diagram, scenarios
from crmstatus.engine.definition import Definition
from crmstatus.engine.errors import Diagnostic, InvalidDefinition, did_you_mean
from crmstatus.engine.loader import SCENARIOS, load_all, load_file, read_text, scenario_files
from crmstatus.engine.source import load_yaml

if TYPE_CHECKING:
    from .settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crmstatus", description="Customer-status engine for CRMs.")
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check definition files; exit 1 with every problem found")
    validate.add_argument("paths", nargs="+", help="definition files or folders of them")
    validate.add_argument("--format", choices=["text", "json"], default="text", help="json: for editors and CI")
    validate.add_argument("--lang", choices=["zh", "en"], default=default_lang(), help="default: from the locale")
    test = commands.add_parser("test", help="run scenario tests (scenarios/*.yaml) on a simulated clock")
    test.add_argument("paths", nargs="+", help="scenario files, or folders with scenarios/ folders in them")
    test.add_argument("--coverage", action="store_true", help="list the states and transitions no scenario reaches")
    test.add_argument("--lang", choices=["zh", "en"], default=default_lang(), help="default: from the locale")
    simulate = commands.add_parser("simulate", help="print a scenario's timeline: time, event, from → to, effects")
    simulate.add_argument("file", help="a scenario file, or a definition with scenarios/ beside it")
    simulate.add_argument("--scenario", help="the scenario's name (default: the first)")
    graph = commands.add_parser("graph", help="draw a definition: one diagram per dimension, or the one asked for")
    graph.add_argument("file", help="a definition file")
    graph.add_argument("--dimension", help="only this dimension (default: all)")
    graph.add_argument("--format", choices=["mermaid", "dot", "svg"], default="mermaid", help="svg needs Graphviz")
    serve = commands.add_parser("serve", help="start the gRPC service (settings from the environment)")
    serve.add_argument("--listen", help="HOST:PORT (default: $CRMSTATUS_LISTEN or 127.0.0.1:50051)")
    serve.add_argument("--config-dir", help="folder of definition files (default: $CRMSTATUS_CONFIG_DIR or configs)")
    serve.add_argument(
        "--processes", type=int, default=1, metavar="N", help="N server processes sharing the listen port"
    )
    commands.add_parser("worker", help="run only the timer worker (settings from the environment)")
    commands.add_parser("config", help="print the settings in effect (from the environment), secrets masked")
    probe = commands.add_parser("health", help="ask a server's health (exit 0 when SERVING): for probes")
    probe.add_argument("address", help="HOST:PORT")
    probe.add_argument("--service", default="", help="one service's health (default: the server's)")
    probe.add_argument("--tls-ca", help="PEM file of the CA that signed the server's certificate (TLS)")
    probe.add_argument("--timeout", type=float, default=3.0, help="seconds (default 3)")
    report = commands.add_parser("report", help="a dimension's flow over a period: a table and two SVG charts")
    report.add_argument("address", help="HOST:PORT of a server")
    report.add_argument("--tenant", required=True)
    report.add_argument("--definition", required=True)
    report.add_argument("--dimension", default="lifecycle")
    report.add_argument("--from", dest="start", required=True, help="first day, 2026-01-01")
    report.add_argument("--to", dest="end", required=True, help="last day, 2026-01-31")
    report.add_argument("--svg", metavar="FOLDER", help="write funnel.svg and time_in_state.svg there")
    report.add_argument("--actor", default="report", help="who asks (x-crm-actor)")
    report.add_argument("--token", default=os.environ.get("CRMSTATUS_TOKEN", ""), help="default: $CRMSTATUS_TOKEN")
    _registry_commands(commands)
    _admin_commands(commands)
    args = parser.parse_args(argv)
    if args.command in REGISTRY_COMMANDS:
        return _registry(args)
    if args.command in ADMIN_COMMANDS:
        from . import admin  # gRPC and progress bars, loaded for these commands only

        return admin.run(args)
    if args.command == "report":
        return _report(args)
    if args.command == "validate":
        return _validate(args.paths, args.format, args.lang)
    if args.command == "test":
        return _test(args.paths, args.coverage, args.lang)
    if args.command == "simulate":
        return _simulate(args.file, args.scenario)
    if args.command == "graph":
        return _graph(args.file, args.dimension, args.format)
    if args.command == "worker":
        return _worker()
    if args.command == "config":
        return _config()
    if args.command == "health":
        return _health(args.address, args.service, args.tls_ca, args.timeout)
    return _serve(args.listen, args.config_dir, args.processes)


def default_lang() -> str:
    """Chinese when the locale says so (LC_ALL, LC_MESSAGES or LANG, as gettext reads them), else English."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def _config() -> int:
    from .settings import Settings, SettingsError

    try:
        described = Settings.describe()
    except SettingsError as error:
        print(f"crmstatus: {error}", file=sys.stderr)
        return 2
    for name, value in described:
        print(f"{name}={value}")
    return 0


def _health(address: str, service: str, tls_ca: str | None, timeout: float) -> int:
    """Print the status; exit 0 when SERVING, 1 when not serving or not answering."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    if tls_ca:
        with open(tls_ca, "rb") as file:
            channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(file.read()))
    else:
        channel = grpc.insecure_channel(address)
    with channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
        except grpc.RpcError as error:
            print(f"{address}: {error.code().name}: {error.details()}", file=sys.stderr)
            return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
    print(f"{address}: {status}")
    return 0 if answer.status == health_pb2.HealthCheckResponse.SERVING else 1


def _report(args: argparse.Namespace) -> int:
    """Print the flow report and, with --svg, write its charts; exit 1 when the server refuses."""
    import grpc

    from crmstatus.v1 import customer_status_service_pb2 as cs
    from crmstatus.v1 import customer_status_service_pb2_grpc as cs_grpc

    from .report import table, write_charts

    metadata = [("x-crm-tenant", args.tenant), ("x-crm-actor", args.actor)]
    if args.token:
        metadata.append(("authorization", f"Bearer {args.token}"))
    request = cs.GetFlowReportRequest(definition=args.definition, dimension=args.dimension, start_date=args.start,
                                      end_date=args.end)  # fmt: skip
    with grpc.insecure_channel(args.address) as channel:
        try:
            answer = cs_grpc.CustomerStatusServiceStub(channel).GetFlowReport(
                request, metadata=tuple(metadata), timeout=30
            )
        except grpc.RpcError as error:
            print(f"{args.address}: {error.code().name}: {error.details()}", file=sys.stderr)
            return 1
    print(f"{args.definition} · {args.dimension} · {args.start} … {args.end}")
    print(table(answer))
    if args.svg:
        for path in write_charts(answer, args.svg, f"{args.definition} {args.dimension} {args.start} … {args.end}"):
            print(f"wrote {path}")
    return 0


ADMIN_COMMANDS = ("migrate", "import", "review")


def _admin_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    migrate = commands.add_parser("migrate", help="plan (--plan) or run (--apply) a mapped migration of customers")
    migrate.add_argument("address", help="HOST:PORT of a server")
    migrate.add_argument("mapping", help="the mapping document (YAML): definition, from, to, states, facts …")
    mode = migrate.add_mutually_exclusive_group(required=True)
    mode.add_argument("--plan", action="store_true", help="the dry run: what would happen, writing nothing")
    mode.add_argument("--apply", action="store_true", help="migrate, each customer atomically; safe to run again")
    migrate.add_argument("--state", action="append", default=[], metavar="DIMENSION=STATE",
                         help="only customers in this state of the old version (repeatable)")  # fmt: skip
    migrate.add_argument("--ids", metavar="FILE", help="only the customer ids in this file, one per line")
    migrate.add_argument("--batch", type=int, default=500, help="customers per progress report (default 500)")
    imports = commands.add_parser("import", help="bring customers over from a CSV or JSON Lines file")
    imports.add_argument("address", help="HOST:PORT of a server")
    imports.add_argument("file", help="customers.csv or customers.jsonl (see the format in the README)")
    imports.add_argument("--definition", required=True, help="the definition every row is on (unless it names one)")
    imports.add_argument("--version", type=int, default=0, help="its version (default: the active one)")
    review = commands.add_parser("review", help="states never entered and transitions never fired of a version")
    review.add_argument("address", help="HOST:PORT of a server")
    review.add_argument("name", help="the definition")
    review.add_argument("version", type=int, nargs="?", default=0, help="its version (default: the active one)")
    for command in (migrate, imports, review):
        command.add_argument("--tenant", required=True)
        command.add_argument("--actor", required=True, help="who does it (x-crm-actor)")
        command.add_argument("--roles", default="admin", help="x-crm-roles (default: admin)")
        command.add_argument("--token", default=os.environ.get("CRMSTATUS_TOKEN", ""), help="default: $CRMSTATUS_TOKEN")


REGISTRY_COMMANDS = ("publish", "approve", "activate", "versions", "diff")


def _registry_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    helps = {
        "publish": "store a definition file as a draft version of the tenant (nothing stored when broken)",
        "approve": "approve a draft someone else published (role approver)",
        "activate": "make a version the one the tenant's new customers get (role admin)",
        "versions": "list the tenant's definition versions with their status",
        "diff": "what changed between two versions of a definition, for a reviewer",
    }
    for name, text in helps.items():
        command = commands.add_parser(name, help=text)
        command.add_argument("address", help="HOST:PORT of a server")
        if name == "publish":
            command.add_argument("file", help="the definition file")
        elif name == "versions":
            command.add_argument("name", nargs="?", default="", help="one definition (default: all)")
        else:
            command.add_argument("name", help="the definition")
            command.add_argument("version", type=int, help="its version (diff: the old one)")
        if name == "diff":
            command.add_argument("new_version", type=int, help="the new version")
        command.add_argument("--tenant", required=True)
        command.add_argument("--actor", required=True, help="who does it (x-crm-actor)")
        command.add_argument("--roles", default="admin", help="x-crm-roles (default: admin)")
        command.add_argument("--token", default=os.environ.get("CRMSTATUS_TOKEN", ""), help="default: $CRMSTATUS_TOKEN")


def _registry(args: argparse.Namespace) -> int:
    """One DefinitionService call for a registry command; exit 1 when the server refuses, with its reasons."""
    import grpc

    from crmstatus.v1 import definition_service_pb2 as ds
    from crmstatus.v1 import definition_service_pb2_grpc as ds_grpc

    from .admin import call_metadata, refused

    metadata = call_metadata(args)
    content = ""
    if args.command == "publish":
        try:
            content = read_text(args.file)
        except OSError as error:
            print(f"crmstatus publish: cannot read {args.file}: {error.strerror or error}", file=sys.stderr)
            return 1
        except InvalidDefinition as error:  # not UTF-8: where
            print(f"crmstatus publish: {error}", file=sys.stderr)
            return 1
    with grpc.insecure_channel(args.address) as channel:
        api = ds_grpc.DefinitionServiceStub(channel)
        calls: dict[str, Callable[[], Any]] = {
            "publish": lambda: api.PublishDefinition(ds.PublishDefinitionRequest(
                content=content, file_name=args.file), metadata=metadata, timeout=30),
            "approve": lambda: api.ApproveDefinition(ds.ApproveDefinitionRequest(name=args.name, version=args.version),
                                                     metadata=metadata, timeout=30),
            "activate": lambda: api.ActivateDefinition(ds.ActivateDefinitionRequest(
                name=args.name, version=args.version), metadata=metadata, timeout=30),
            "versions": lambda: api.ListDefinitionVersions(ds.ListDefinitionVersionsRequest(name=args.name),
                                                           metadata=metadata, timeout=30),
            "diff": lambda: api.DiffDefinitions(ds.DiffDefinitionsRequest(
                name=args.name, old_version=args.version, new_version=args.new_version), metadata=metadata, timeout=30),
        }  # fmt: skip
        try:
            answer: Any = calls[args.command]()
        except grpc.RpcError as error:
            refused(args.address, error)
            return 1
    if args.command == "diff":
        print(answer.text)
        return 0
    for version in answer.versions if args.command == "versions" else [answer.version]:
        status = ds.VersionStatus.Name(version.status).removeprefix("VERSION_STATUS_").lower()
        whose = version.tenant or "shared"
        mark = " *in use*" if version.in_use else ""
        moved = f"approved by {version.approved_by}; " if version.approved_by else ""
        moved += f"activated by {version.activated_by}; " if version.activated_by else ""
        print(f"{version.definition.name}@{version.definition.version} ({whose}) {status}{mark} — published by "
              f"{version.published_by}; {moved}digest {version.definition.digest[:12]}")  # fmt: skip
    return 0


def _validate(paths: Sequence[str], output: str = "text", lang: str = "en") -> int:
    definitions, problems = load_all(paths)
    if output == "json":
        report = {
            "valid": [{"definition": d.key, "file": d.file} for d in definitions],
            "diagnostics": [_as_json(problem, lang) for problem in problems],
        }
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 1 if problems else 0
    for problem in problems:
        print(problem.render(lang), file=sys.stderr)
    for definition in definitions:
        print(f"ok  {definition.key:<24} {definition.file}")
    files = {p.file for p in problems}
    print(f"{len(definitions)} valid, {len(files)} with problems ({len(problems)} diagnostics)")
    return 1 if problems else 0


def _serve(listen: str | None, config_dir: str | None, processes: int) -> int:
    from .settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"crmstatus: {error}", file=sys.stderr)
        return 2
    configure_logging(settings)
    if listen:
        settings = replace(settings, listen=listen)
    if config_dir:
        settings = replace(settings, config_dir=config_dir)
    _, problems = load_all([settings.config_dir])
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("not starting: fix the definitions above first", file=sys.stderr)
        return 1
    if not settings.dev_mode and not (settings.tokens or settings.jwt_secrets or settings.jwt_jwks):
        print("not starting: set CRMSTATUS_TOKENS (tenant=token,...), CRMSTATUS_JWT_SECRETS or CRMSTATUS_JWT_JWKS, "
              "or CRMSTATUS_DEV_MODE=1", file=sys.stderr)  # fmt: skip
        return 1
    if not (settings.dev_mode or settings.tls_cert or settings.behind_tls_proxy):
        print("not starting: bearer tokens would travel in plaintext: set CRMSTATUS_TLS_CERT and CRMSTATUS_TLS_KEY, "
              "or CRMSTATUS_BEHIND_TLS_PROXY=1 when a proxy or mesh ends TLS", file=sys.stderr)  # fmt: skip
        return 1
    if processes > 1:
        return _serve_processes(settings, processes)
    if processes < 1:
        print("not starting: --processes takes a number of at least 1", file=sys.stderr)
        return 2
    return _serve_one(settings)


def configure_logging(settings: Settings) -> None:
    """Log lines on stderr at CRMSTATUS_LOG_LEVEL: one JSON object each (CRMSTATUS_LOG_FORMAT=json, the
    default: what log pipelines parse), or plain text."""
    from pythonjsonlogger.orjson import OrjsonFormatter  # a call's line in 22 µs, where the json module takes 33

    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(OrjsonFormatter("%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"))
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler], force=True)
    logging.getLogger("transitions").setLevel(logging.WARNING)  # it logs every state change at INFO
    if settings.tracing:
        _export_traces()


def _export_traces() -> None:
    """Spans go to the OTLP endpoint the standard OTEL_* variables name (default localhost:4317)."""
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME",
                                                                                        "crmstatus")}))  # fmt: skip
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


def _serve_one(settings: Settings) -> int:
    from .app import StartupError, serve
    from .settings import SettingsError

    try:
        asyncio.run(serve(settings))
    except (StartupError, SettingsError) as error:
        print(f"crmstatus: not starting: {error}", file=sys.stderr)
        return 1
    return 0


def _serve_processes(settings: Settings, processes: int) -> int:
    """Several servers on one port (SO_REUSEPORT: the kernel spreads connections over them), one per core, so
    that one service uses more than one core. They share Redis, so each must be told where it is."""
    import multiprocessing

    if settings.redis_url is None:
        print("not starting: several processes need REDIS_URL (an embedded Redis each would split the data)",
              file=sys.stderr)  # fmt: skip
        return 1
    if settings.listen.endswith(":0"):
        print("not starting: several processes need a fixed port to share, not port 0", file=sys.stderr)
        return 1
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_child, args=(replace(settings, reuse_port=True),), name=f"crmstatus-{n}")
        for n in range(processes)
    ]
    for child in children:
        child.start()

    def forward(number: int, _frame: object) -> None:
        for child in children:
            if child.pid is not None and child.is_alive():
                os.kill(child.pid, number)

    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, forward)
    for child in children:
        child.join()
    return max(abs(child.exitcode or 0) for child in children)


def _child(settings: Settings) -> None:
    configure_logging(settings)
    sys.exit(_serve_one(settings))


def _worker() -> int:
    from .settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"crmstatus: {error}", file=sys.stderr)
        return 2
    configure_logging(settings)
    if settings.redis_url is None:
        print("not starting: a stand-alone worker needs REDIS_URL (the servers' Redis)", file=sys.stderr)
        return 1
    from .app import StartupError

    try:
        asyncio.run(_run_worker(settings))
    except (StartupError, SettingsError) as error:
        print(f"crmstatus: not starting: {error}", file=sys.stderr)
        return 1
    return 0


async def _run_worker(settings: Settings) -> None:
    from crmstatus.engine.clock import SystemClock

    from .app import open_application

    connection, app = await open_application(settings, SystemClock())
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, app.timers.stop)
    print(f"crmstatus timer worker on {connection.url}", flush=True)
    await app.timers.run()
    await connection.close()


def _as_json(problem: Diagnostic, lang: str) -> dict[str, object]:
    message, hint = problem.text(lang)
    return {"file": problem.file, "line": problem.line, "column": problem.column, "path": problem.path,
            "severity": problem.severity, "message": message, "hint": hint}  # fmt: skip


def _stories(file: Path) -> tuple[Definition, scenarios.ScenarioFile]:
    """A scenario file and the definition it names (relative to the file); InvalidDefinition if either is bad."""
    try:
        text = read_text(file)
    except OSError as error:
        raise InvalidDefinition([Diagnostic(str(file), 1, 1, "", f"cannot read the file: {error}")]) from None
    source = scenarios.parse(text, str(file))
    return load_file(file.parent / source.definition), source


def _test(paths: Sequence[str], coverage: bool, lang: str) -> int:
    files = scenario_files(paths)
    if not files:
        print(f"no scenario files (scenarios/*.yaml) under {', '.join(paths)}", file=sys.stderr)
        return 1
    passed = failed = 0
    by_definition: dict[str, tuple[Definition, list[scenarios.Result]]] = {}
    for file in files:
        try:
            definition, source = _stories(file)
        except InvalidDefinition as error:
            for problem in error.diagnostics:
                print(problem.render(lang), file=sys.stderr)
            failed += 1
            continue
        results = scenarios.run_all(definition, source)
        by_definition.setdefault(definition.key, (definition, []))[1].extend(results)
        for result in results:
            passed, failed = (passed + 1, failed) if result.passed else (passed, failed + 1)
            print(f"{'ok  ' if result.passed else 'FAIL'} {definition.key:<20} {result.scenario.name}")
            for failure in result.failures:
                print(failure, file=sys.stderr)
    if coverage:
        for definition, results in by_definition.values():
            missing = scenarios.uncovered(definition, results)
            print(f"coverage {definition.key}: {len(missing)} not reached by any scenario")
            for line in missing:
                print(f"  {line}")
    print(f"{passed} scenarios passed, {failed} failed")
    return 1 if failed else 0


def _simulate(file: str, name: str | None) -> int:
    path = Path(file)
    candidates = [path] if "scenarios" in _top_keys(path) else scenario_files([path.parent / SCENARIOS])
    try:
        for candidate in candidates:
            definition, source = _stories(candidate)
            if candidate != path and Path(definition.file).resolve() != path.resolve():
                continue
            chosen = [s for s in source.scenarios if name is None or s.name == name]
            if chosen:
                result = scenarios.run(definition, source, chosen[0])
                print(f"{definition.key} — {chosen[0].name}")
                for line in timeline(result, definition.timezone):
                    print(line)
                return 1 if result.failures else 0
    except InvalidDefinition as error:
        for problem in error.diagnostics:
            print(problem, file=sys.stderr)
        return 1
    print(f"no scenario {name!r} for {file}", file=sys.stderr)
    return 1


def _top_keys(path: Path) -> set[str]:
    try:
        data = load_yaml(read_text(path), str(path)).data
    except (OSError, InvalidDefinition):  # read again where it is used, which reports why
        return set()
    return set(data) if isinstance(data, dict) else set()


def timeline(result: scenarios.Result, zone: tzinfo) -> list[str]:
    """The customer's story, one line per change: time, step, event, from → to, effects, timers scheduled."""
    lines = []
    for moment in result.timeline:
        at = moment.at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        lines.append(f"{at}  {moment.step}")
        for entry in moment.history:
            if entry.to_state:
                lines.append(f"    {entry.dimension}: {entry.from_state} → {entry.to_state}  ({entry.event}, "
                             f"{entry.trigger})")  # fmt: skip
            elif entry.facts_changed:
                lines.append(f"    facts: {', '.join(f'{k}={v}' for k, v in entry.facts_changed.items())}")
        for effect in moment.effects:
            detail = ", ".join(f"{k}={v}" for k, v in effect.detail.items())
            lines.append(f"    effect {effect.kind}: {detail}")
        for timer in moment.scheduled:
            due = timer.due.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            lines.append(f"    timer  {timer.dimension}: {timer.event or 'reminder'} at {due}")
    for failure in result.failures:
        lines.append(f"FAIL {failure}")
    return lines


def _graph(file: str, dimension: str | None, output: str) -> int:
    try:
        definition = load_file(file)
    except InvalidDefinition as error:
        for problem in error.diagnostics:
            print(problem, file=sys.stderr)
        return 1
    if dimension is not None and dimension not in definition.dimensions:
        known = ", ".join(definition.dimensions)
        print(f"unknown dimension {dimension!r}{did_you_mean(dimension, definition.dimensions)}; known: {known}",
              file=sys.stderr)  # fmt: skip
        return 1
    if output == "mermaid":
        print(diagram.to_mermaid(definition, dimension), end="")
        return 0
    dot = diagram.to_dot(definition, dimension)
    if output == "dot":
        print(dot, end="")
        return 0
    try:
        rendered = subprocess.run(["dot", "-Tsvg"], input=dot.encode(), capture_output=True, check=True, timeout=60)
    except FileNotFoundError:
        print("svg needs Graphviz's `dot`: install it (apt-get install graphviz), or use --format dot", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(f"dot could not render the diagram: {error.stderr.decode(errors='replace')}", file=sys.stderr)
        return 1
    sys.stdout.write(rendered.stdout.decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
