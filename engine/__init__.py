"""Customer-status engine: definitions, checks, compiled machines and decisions. No I/O.

definition = load_file("configs/education.yaml")
created = new_customer(definition, "c-42", SystemClock(), facts={"student_name": "李雷"})
options = list_transitions(definition, created.snapshot, Actor("u1", frozenset({"advisor"})), clock)
"""

from .clock import Clock, ManualClock, SystemClock
from .definition import Definition
from .errors import (
    AutomationCycle,
    ClaimConflict,
    ClaimRefused,
    CustomerLocked,
    Diagnostic,
    EngineError,
    FencedOut,
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
    claim,
    complete_item,
    fire,
    fire_timer,
    list_transitions,
    lock_holder,
    may_see_locked,
    new_customer,
    reassign,
    release,
    renew,
    reopen_item,
    timers,
    update_facts,
    view,
)
from .snapshot import SYSTEM, Actor, DueTimer, EffectRecord, HistoryEntry, Outcome, Snapshot, StateEntry, WorkItem

__all__ = [
    "SYSTEM",
    "Actor",
    "AutomationCycle",
    "ClaimConflict",
    "ClaimRefused",
    "Clock",
    "CustomerLocked",
    "Definition",
    "Diagnostic",
    "DueTimer",
    "EffectRecord",
    "EngineError",
    "FencedOut",
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
    "claim",
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
    "reassign",
    "release",
    "renew",
    "reopen_item",
    "timers",
    "update_facts",
    "view",
]
