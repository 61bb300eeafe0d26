"""The `crmstatus` command line: validate definitions, and start the service."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from engine.loader import load_all


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crmstatus", description="Customer-status engine for CRMs.")
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check definition files; exit 1 with every problem found")
    validate.add_argument("paths", nargs="+", help="definition files or folders of them")
    serve = commands.add_parser("serve", help="load the definitions and start the service")
    serve.add_argument("--config-dir", default="configs", help="folder of definition files (default: configs)")
    args = parser.parse_args(argv)
    if args.command == "validate":
        return _validate(args.paths)
    return _serve(args.config_dir)


def _validate(paths: Sequence[str]) -> int:
    definitions, problems = load_all(paths)
    for problem in problems:
        print(problem, file=sys.stderr)
    for definition in definitions:
        print(f"ok  {definition.key:<24} {definition.file}")
    files = {p.file for p in problems}
    print(f"{len(definitions)} valid, {len(files)} with problems ({len(problems)} diagnostics)")
    return 1 if problems else 0


def _serve(config_dir: str) -> int:
    definitions, problems = load_all([config_dir])
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("not starting: fix the definitions above first", file=sys.stderr)
        return 1
    print(f"{'definition':<24} {'industry':<12} {'dimensions':>10} {'states':>7} {'transitions':>12}  owner")
    for d in definitions:
        states = sum(len(dim.states) for dim in d.dimensions.values())
        transitions = sum(len(dim.transitions) for dim in d.dimensions.values())
        print(f"{d.key:<24} {d.industry:<12} {len(d.dimensions):>10} {states:>7} {transitions:>12}  {d.owner}")
    print("definitions loaded; the gRPC service is not part of this build yet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
