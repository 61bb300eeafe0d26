"""Shared fixtures: the shipped definitions (loaded once), a manual clock, and actors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.clock import ManualClock
from engine.definition import Definition
from engine.loader import load_all

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"


@pytest.fixture(scope="session")
def definitions() -> dict[str, Definition]:
    loaded, problems = load_all([CONFIGS])
    assert not problems, "\n".join(map(str, problems))
    return {d.name: d for d in loaded}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
