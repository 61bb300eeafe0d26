"""Customer-status engine: definitions, checks, compiled machines and decisions. No I/O.

definition = load_file("configs/education.yaml")
created = new_customer(definition, "c-42", SystemClock(), facts={"student_name": "李雷"})
options = list_transitions(definition, created.snapshot, Actor("u1", frozenset({"advisor"})), clock)
"""

from .clock import Clock, ManualClock, SystemClock
from .definition import Definition
from .errors import (
    AutomationCycle,
    CustomerLocked,
    Diagnostic,
    EngineError,
    InvalidDefinition,
    InvalidFactValue,
    Reason,
    ReasonKind,
    StaleTimer,
    TransitionNotAllowed,
    UnknownName,
)
from .loader import load_all, load_definition, load_file
from .runtime import (
    TransitionOption,
    complete_item,
    fire,
    fire_timer,
    list_transitions,
    lock_holder,
    may_see_locked,
    new_customer,
    reopen_item,
    timers,
    update_facts,
)
from .snapshot import SYSTEM, Actor, DueTimer, EffectRecord, HistoryEntry, Outcome, Snapshot, StateEntry, WorkItem

__all__ = [
    "SYSTEM",
    "Actor",
    "AutomationCycle",
    "Clock",
    "CustomerLocked",
    "Definition",
    "Diagnostic",
    "DueTimer",
    "EffectRecord",
    "EngineError",
    "HistoryEntry",
    "InvalidDefinition",
    "InvalidFactValue",
    "ManualClock",
    "Outcome",
    "Reason",
    "ReasonKind",
    "Snapshot",
    "StaleTimer",
    "StateEntry",
    "SystemClock",
    "TransitionNotAllowed",
    "TransitionOption",
    "UnknownName",
    "WorkItem",
    "complete_item",
    "fire",
    "fire_timer",
    "list_transitions",
    "load_all",
    "load_definition",
    "load_file",
    "lock_holder",
    "may_see_locked",
    "new_customer",
    "reopen_item",
    "timers",
    "update_facts",
]  # fmt: skip
