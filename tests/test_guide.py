"""The worked example of configs/README.md is a new industry written from the guide alone: its files (kept in
tests/guide) are the ones the guide shows, and they validate, graph and pass their own scenarios."""

from __future__ import annotations

import re
from pathlib import Path

from crmstatus.server.cli import main
from tests.conftest import CONFIGS

GUIDE = Path(__file__).parent / "guide"


def _shown_in_readme() -> dict[str, str]:
    text = (CONFIGS / "README.md").read_text("utf-8")
    return dict(re.findall(r"<!-- file: (\S+) -->\n```yaml\n(.*?)```", text, flags=re.S))


def test_the_guide_shows_the_example_files_verbatim():
    shown = _shown_in_readme()
    assert set(shown) == {"car_service.yaml", "scenarios/car_service.yaml"}
    for name, text in shown.items():
        assert (GUIDE / name).read_text("utf-8") == text


def test_the_new_industry_validates_graphs_and_passes_its_scenarios(capsys):
    assert main(["validate", str(GUIDE)]) == 0
    assert "1 valid, 0 with problems" in capsys.readouterr().out
    for dimension in ("service", "inspection"):
        assert main(["graph", str(GUIDE / "car_service.yaml"), "--dimension", dimension, "--format", "svg"]) == 0
        assert "</svg>" in capsys.readouterr().out
    assert main(["test", "--coverage", str(GUIDE)]) == 0
    out = capsys.readouterr().out
    assert "3 scenarios passed, 0 failed" in out
    assert "coverage car_service@1: 0 not reached by any scenario" in out
