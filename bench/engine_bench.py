"""Engine decision time next to a raw `transitions` trigger (same run, interleaved), and cold start.

Prints figures; fails nothing. Goal: an engine decision within 3x of a raw trigger.
    python -m bench.engine_bench
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from transitions import Machine

from crmstatus.engine import SYSTEM, Actor, Fire, UpdateFacts, decide, list_transitions, new_customer
from crmstatus.engine.loader import load_all

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
ROUNDS, NUMBER = 7, 2000


def per_call_us(action: Callable[[], object]) -> float:
    return timeit.timeit(action, number=NUMBER) / NUMBER * 1e6


def raw_trigger() -> Callable[[], object]:
    """A two-state machine bound to a model the usual way: the floor any decision sits on."""

    class Model:
        pass

    model = Model()
    Machine(model=model, states=["a", "b"], initial="a", auto_transitions=False,
            transitions=[{"trigger": "go", "source": "a", "dest": "b"},
                         {"trigger": "back", "source": "b", "dest": "a"}])  # fmt: skip
    return lambda: model.trigger("go" if model.state == "a" else "back")  # type: ignore[attr-defined]


def engine_cases() -> dict[str, Callable[[], object]]:
    definitions = {d.name: d for d in load_all([CONFIGS])[0]}
    b2b, education = definitions["b2b"], definitions["education"]
    now = datetime(2026, 1, 5, tzinfo=UTC)
    rep, advisor = Actor("rep", frozenset({"sales"})), Actor("adv", frozenset({"advisor"}))
    facts = {"effective_contacts": 4, "last_order_at": now, "orders_12m": 5, "satisfaction": 7.0}
    intent = new_customer(b2b, "c-1", SYSTEM, now, facts).snapshot
    following = decide(b2b, intent, Fire("start_follow_up"), rep, now).snapshot
    fresh = new_customer(b2b, "c-3", SYSTEM, now).snapshot
    trial = decide(
        education, new_customer(education, "c-2", SYSTEM, now).snapshot, Fire("book_trial"), advisor, now
    ).snapshot
    return {
        "fire b2b promote (queue + emit effects)": lambda: decide(b2b, intent, Fire("promote"), rep, now),
        "fire b2b ask_for_help (locked dim)": lambda: decide(b2b, following, Fire("ask_for_help"), rep, now),
        "fire education book_trial→lose": lambda: decide(education, trial, Fire("lose"), advisor, now),
        "update_facts b2b → 4 scores, auto qualify": lambda: decide(
            b2b, fresh, UpdateFacts({"effective_contacts": 4}), rep, now),
        "list_transitions b2b (54, all reasons)": lambda: list_transitions(b2b, intent, rep, now),
    }  # fmt: skip


def decision_time() -> None:
    raw = raw_trigger()
    cases = engine_cases()
    samples: dict[str, list[float]] = {"raw transitions trigger": [], **{name: [] for name in cases}}
    for _ in range(ROUNDS):  # interleaved, so machine noise hits every case alike
        samples["raw transitions trigger"].append(per_call_us(raw))
        for name, action in cases.items():
            samples[name].append(per_call_us(action))
    floor = statistics.median(samples["raw transitions trigger"])
    print(f"{'decision (median of ' + str(ROUNDS) + ' rounds)':<44} {'µs':>8} {'× raw':>7}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:<44} {median:8.1f} {median / floor:7.2f}")
    print("goal: a single-event decision (fire) within 3.00 × raw; update_facts and list_transitions do more")


def cold_start() -> None:
    script = (
        "import time; t0 = time.perf_counter(); from crmstatus.engine.loader import load_all; "
        "t1 = time.perf_counter(); "
        f"found, problems = load_all([{str(CONFIGS)!r}]); t2 = time.perf_counter(); "
        "assert not problems; "
        "print(f'{len(found)} {(t1 - t0) * 1e3:.1f} {(t2 - t1) * 1e3:.1f}')"
    )
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
            for _ in range(3)]  # fmt: skip
    count = runs[0][0]
    imports = statistics.median(float(r[1]) for r in runs)
    loading = statistics.median(float(r[2]) for r in runs)
    print(f"cold start: import {imports:.0f} ms, load + check + compile {count} definitions {loading:.0f} ms "
          f"(median of 3 fresh processes)")  # fmt: skip


if __name__ == "__main__":
    decision_time()
    cold_start()
