"""The `crmstatus` command line: validate definitions, and start the service."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import replace

from crmstatus.engine.loader import load_all


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crmstatus", description="Customer-status engine for CRMs.")
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check definition files; exit 1 with every problem found")
    validate.add_argument("paths", nargs="+", help="definition files or folders of them")
    serve = commands.add_parser("serve", help="start the gRPC service (settings from the environment)")
    serve.add_argument("--listen", help="HOST:PORT (default: $CRMSTATUS_LISTEN or 127.0.0.1:50051)")
    serve.add_argument("--config-dir", help="folder of definition files (default: $CRMSTATUS_CONFIG_DIR or configs)")
    commands.add_parser("worker", help="run only the timer worker (settings from the environment)")
    args = parser.parse_args(argv)
    if args.command == "validate":
        return _validate(args.paths)
    if args.command == "worker":
        return _worker()
    return _serve(args.listen, args.config_dir)


def _validate(paths: Sequence[str]) -> int:
    definitions, problems = load_all(paths)
    for problem in problems:
        print(problem, file=sys.stderr)
    for definition in definitions:
        print(f"ok  {definition.key:<24} {definition.file}")
    files = {p.file for p in problems}
    print(f"{len(definitions)} valid, {len(files)} with problems ({len(problems)} diagnostics)")
    return 1 if problems else 0


def _serve(listen: str | None, config_dir: str | None) -> int:
    from .app import serve
    from .settings import Settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("transitions").setLevel(logging.WARNING)  # it logs every state change at INFO
    settings = Settings.from_env()
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
    if not settings.dev_mode and not settings.tokens:
        print("not starting: set CRMSTATUS_TOKENS (tenant=token,...) or CRMSTATUS_DEV_MODE=1", file=sys.stderr)
        return 1
    serve(settings)
    return 0


def _worker() -> int:
    import signal

    from crmstatus.engine.clock import SystemClock

    from .catalog import Catalog
    from .redis_client import RedisConnection
    from .settings import Settings
    from .store import Store
    from .timer_worker import TimerWorker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    if settings.redis_url is None:
        print("not starting: a stand-alone worker needs REDIS_URL (the servers' Redis)", file=sys.stderr)
        return 1
    connection = RedisConnection(settings)
    worker = TimerWorker(Store(connection.client, Catalog.load(settings.config_dir), settings, SystemClock()),
                         interval=settings.timer_interval_seconds)  # fmt: skip
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: worker.stop())
    print(f"crmstatus timer worker on {connection.url}")
    worker.run_forever()
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
