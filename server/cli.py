"""The `crmstatus` command line: validate definitions, and start the service."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from crmstatus.engine.errors import Diagnostic
from crmstatus.engine.loader import load_all

if TYPE_CHECKING:
    from .settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crmstatus", description="Customer-status engine for CRMs.")
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check definition files; exit 1 with every problem found")
    validate.add_argument("paths", nargs="+", help="definition files or folders of them")
    validate.add_argument("--format", choices=["text", "json"], default="text", help="json: for editors and CI")
    validate.add_argument("--lang", choices=["zh", "en"], default=default_lang(), help="default: from the locale")
    serve = commands.add_parser("serve", help="start the gRPC service (settings from the environment)")
    serve.add_argument("--listen", help="HOST:PORT (default: $CRMSTATUS_LISTEN or 127.0.0.1:50051)")
    serve.add_argument("--config-dir", help="folder of definition files (default: $CRMSTATUS_CONFIG_DIR or configs)")
    commands.add_parser("worker", help="run only the timer worker (settings from the environment)")
    args = parser.parse_args(argv)
    if args.command == "validate":
        return _validate(args.paths, args.format, args.lang)
    if args.command == "worker":
        return _worker()
    return _serve(args.listen, args.config_dir)


def default_lang() -> str:
    """Chinese when the locale says so (LC_ALL, LC_MESSAGES or LANG, as gettext reads them), else English."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


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


def _as_json(problem: Diagnostic, lang: str) -> dict[str, object]:
    message, hint = problem.text(lang)
    return {"file": problem.file, "line": problem.line, "column": problem.column, "path": problem.path,
            "severity": problem.severity, "message": message, "hint": hint}  # fmt: skip


def _serve(listen: str | None, config_dir: str | None) -> int:
    from .app import ListenError, serve
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
    try:
        asyncio.run(serve(settings))
    except ListenError as error:
        print(f"crmstatus: {error}", file=sys.stderr)
        return 1
    return 0


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
    asyncio.run(_run_worker(settings))
    return 0


async def _run_worker(settings: Settings) -> None:
    from crmstatus.engine.clock import SystemClock

    from .application import Application, claim_protection
    from .application.catalog import Catalog
    from .store import Store
    from .store.connection import RedisConnection

    connection = RedisConnection(settings)
    catalog = Catalog.load(settings.config_dir, claim_protection(settings))
    app = Application(Store(connection.client, settings), catalog, settings, SystemClock())
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, app.timers.stop)
    print(f"crmstatus timer worker on {connection.url}", flush=True)
    await app.timers.run()
    await connection.close()


if __name__ == "__main__":
    sys.exit(main())
