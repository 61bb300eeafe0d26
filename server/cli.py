"""The `crmstatus` command line: validate definitions, and start the service."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from crmstatus.engine.loader import load_all

if TYPE_CHECKING:
    from .settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crmstatus", description="Customer-status engine for CRMs.")
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check definition files; exit 1 with every problem found")
    validate.add_argument("paths", nargs="+", help="definition files or folders of them")
    serve = commands.add_parser("serve", help="start the gRPC service (settings from the environment)")
    serve.add_argument("--listen", help="HOST:PORT (default: $CRMSTATUS_LISTEN or 127.0.0.1:50051)")
    serve.add_argument("--config-dir", help="folder of definition files (default: $CRMSTATUS_CONFIG_DIR or configs)")
    serve.add_argument(
        "--processes", type=int, default=1, metavar="N", help="N server processes sharing the listen port"
    )
    commands.add_parser("worker", help="run only the timer worker (settings from the environment)")
    args = parser.parse_args(argv)
    if args.command == "validate":
        return _validate(args.paths)
    if args.command == "worker":
        return _worker()
    return _serve(args.listen, args.config_dir, args.processes)


def _validate(paths: Sequence[str]) -> int:
    definitions, problems = load_all(paths)
    for problem in problems:
        print(problem, file=sys.stderr)
    for definition in definitions:
        print(f"ok  {definition.key:<24} {definition.file}")
    files = {p.file for p in problems}
    print(f"{len(definitions)} valid, {len(files)} with problems ({len(problems)} diagnostics)")
    return 1 if problems else 0


def _serve(listen: str | None, config_dir: str | None, processes: int) -> int:
    from .settings import Settings, SettingsError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("transitions").setLevel(logging.WARNING)  # it logs every state change at INFO
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"crmstatus: {error}", file=sys.stderr)
        return 2
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
    if processes > 1:
        return _serve_processes(settings, processes)
    if processes < 1:
        print("not starting: --processes takes a number of at least 1", file=sys.stderr)
        return 2
    return _serve_one(settings)


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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s")
    sys.exit(_serve_one(settings))


def _worker() -> int:
    from .settings import Settings, SettingsError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"crmstatus: {error}", file=sys.stderr)
        return 2
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


if __name__ == "__main__":
    sys.exit(main())
