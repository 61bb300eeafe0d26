import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CustomerView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CUSTOMER_VIEW_UNSPECIFIED: _ClassVar[CustomerView]
    CUSTOMER_VIEW_BASIC: _ClassVar[CustomerView]
    CUSTOMER_VIEW_FULL: _ClassVar[CustomerView]

class BlockReasonKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BLOCK_REASON_KIND_UNSPECIFIED: _ClassVar[BlockReasonKind]
    BLOCK_REASON_KIND_WRONG_STATE: _ClassVar[BlockReasonKind]
    BLOCK_REASON_KIND_ROLE: _ClassVar[BlockReasonKind]
    BLOCK_REASON_KIND_LOCKED: _ClassVar[BlockReasonKind]
    BLOCK_REASON_KIND_GUARD: _ClassVar[BlockReasonKind]
    BLOCK_REASON_KIND_FACT_UNSET: _ClassVar[BlockReasonKind]
    BLOCK_REASON_KIND_CHECKLIST: _ClassVar[BlockReasonKind]
    BLOCK_REASON_KIND_REQUIRED_FACT: _ClassVar[BlockReasonKind]
    BLOCK_REASON_KIND_COOLDOWN: _ClassVar[BlockReasonKind]
CUSTOMER_VIEW_UNSPECIFIED: CustomerView
CUSTOMER_VIEW_BASIC: CustomerView
CUSTOMER_VIEW_FULL: CustomerView
BLOCK_REASON_KIND_UNSPECIFIED: BlockReasonKind
BLOCK_REASON_KIND_WRONG_STATE: BlockReasonKind
BLOCK_REASON_KIND_ROLE: BlockReasonKind
BLOCK_REASON_KIND_LOCKED: BlockReasonKind
BLOCK_REASON_KIND_GUARD: BlockReasonKind
BLOCK_REASON_KIND_FACT_UNSET: BlockReasonKind
BLOCK_REASON_KIND_CHECKLIST: BlockReasonKind
BLOCK_REASON_KIND_REQUIRED_FACT: BlockReasonKind
BLOCK_REASON_KIND_COOLDOWN: BlockReasonKind

class Label(_message.Message):
    __slots__ = ("zh", "en")
    ZH_FIELD_NUMBER: _ClassVar[int]
    EN_FIELD_NUMBER: _ClassVar[int]
    zh: str
    en: str
    def __init__(self, zh: _Optional[str] = ..., en: _Optional[str] = ...) -> None: ...

class Customer(_message.Message):
    __slots__ = ("customer_id", "definition", "definition_version", "version", "states", "facts", "scores", "checklists", "owner", "queue", "restrictions", "open_work", "lease_expire_time", "redacted")
    class ScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    CHECKLISTS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    RESTRICTIONS_FIELD_NUMBER: _ClassVar[int]
    OPEN_WORK_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    REDACTED_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    definition: str
    definition_version: int
    version: int
    states: _containers.RepeatedCompositeFieldContainer[DimensionState]
    facts: _struct_pb2.Struct
    scores: _containers.ScalarMap[str, float]
    checklists: _containers.RepeatedCompositeFieldContainer[ChecklistProgress]
    owner: str
    queue: str
    restrictions: _struct_pb2.Struct
    open_work: _containers.RepeatedCompositeFieldContainer[WorkItem]
    lease_expire_time: _timestamp_pb2.Timestamp
    redacted: bool
    def __init__(self, customer_id: _Optional[str] = ..., definition: _Optional[str] = ..., definition_version: _Optional[int] = ..., version: _Optional[int] = ..., states: _Optional[_Iterable[_Union[DimensionState, _Mapping]]] = ..., facts: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., scores: _Optional[_Mapping[str, float]] = ..., checklists: _Optional[_Iterable[_Union[ChecklistProgress, _Mapping]]] = ..., owner: _Optional[str] = ..., queue: _Optional[str] = ..., restrictions: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., open_work: _Optional[_Iterable[_Union[WorkItem, _Mapping]]] = ..., lease_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., redacted: _Optional[bool] = ...) -> None: ...

class WorkItem(_message.Message):
    __slots__ = ("kind", "name", "role", "dimension", "state", "event", "raise_time", "due_time", "severity")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    RAISE_TIME_FIELD_NUMBER: _ClassVar[int]
    DUE_TIME_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    role: str
    dimension: str
    state: str
    event: str
    raise_time: _timestamp_pb2.Timestamp
    due_time: _timestamp_pb2.Timestamp
    severity: str
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[str] = ..., dimension: _Optional[str] = ..., state: _Optional[str] = ..., event: _Optional[str] = ..., raise_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., due_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., severity: _Optional[str] = ...) -> None: ...

class DimensionState(_message.Message):
    __slots__ = ("dimension", "state", "label", "since", "locked")
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    LOCKED_FIELD_NUMBER: _ClassVar[int]
    dimension: str
    state: str
    label: Label
    since: _timestamp_pb2.Timestamp
    locked: bool
    def __init__(self, dimension: _Optional[str] = ..., state: _Optional[str] = ..., label: _Optional[_Union[Label, _Mapping]] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., locked: _Optional[bool] = ...) -> None: ...

class ChecklistProgress(_message.Message):
    __slots__ = ("checklist", "items")
    CHECKLIST_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    checklist: str
    items: _containers.RepeatedCompositeFieldContainer[ChecklistItem]
    def __init__(self, checklist: _Optional[str] = ..., items: _Optional[_Iterable[_Union[ChecklistItem, _Mapping]]] = ...) -> None: ...

class ChecklistItem(_message.Message):
    __slots__ = ("item", "label", "done", "completed_by", "complete_time", "evidence")
    ITEM_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_BY_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_TIME_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    item: str
    label: Label
    done: bool
    completed_by: str
    complete_time: _timestamp_pb2.Timestamp
    evidence: str
    def __init__(self, item: _Optional[str] = ..., label: _Optional[_Union[Label, _Mapping]] = ..., done: _Optional[bool] = ..., completed_by: _Optional[str] = ..., complete_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., evidence: _Optional[str] = ...) -> None: ...

class BlockReason(_message.Message):
    __slots__ = ("kind", "subject", "description")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    kind: BlockReasonKind
    subject: str
    description: str
    def __init__(self, kind: _Optional[_Union[BlockReasonKind, str]] = ..., subject: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class TransitionOption(_message.Message):
    __slots__ = ("dimension", "event", "from_states", "to_state", "label", "automatic", "allowed", "reasons", "reason_codes")
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    FROM_STATES_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    AUTOMATIC_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    REASON_CODES_FIELD_NUMBER: _ClassVar[int]
    dimension: str
    event: str
    from_states: _containers.RepeatedScalarFieldContainer[str]
    to_state: str
    label: Label
    automatic: bool
    allowed: bool
    reasons: _containers.RepeatedCompositeFieldContainer[BlockReason]
    reason_codes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, dimension: _Optional[str] = ..., event: _Optional[str] = ..., from_states: _Optional[_Iterable[str]] = ..., to_state: _Optional[str] = ..., label: _Optional[_Union[Label, _Mapping]] = ..., automatic: _Optional[bool] = ..., allowed: _Optional[bool] = ..., reasons: _Optional[_Iterable[_Union[BlockReason, _Mapping]]] = ..., reason_codes: _Optional[_Iterable[str]] = ...) -> None: ...

class Effect(_message.Message):
    __slots__ = ("kind", "dimension", "event", "detail")
    KIND_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    kind: str
    dimension: str
    event: str
    detail: _struct_pb2.Struct
    def __init__(self, kind: _Optional[str] = ..., dimension: _Optional[str] = ..., event: _Optional[str] = ..., detail: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class HistoryEntry(_message.Message):
    __slots__ = ("version", "time", "actor", "trigger", "event", "dimension", "from_state", "to_state", "reason", "definition_version", "facts_changed")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_VERSION_FIELD_NUMBER: _ClassVar[int]
    FACTS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    version: int
    time: _timestamp_pb2.Timestamp
    actor: str
    trigger: str
    event: str
    dimension: str
    from_state: str
    to_state: str
    reason: str
    definition_version: int
    facts_changed: _struct_pb2.Struct
    def __init__(self, version: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., trigger: _Optional[str] = ..., event: _Optional[str] = ..., dimension: _Optional[str] = ..., from_state: _Optional[str] = ..., to_state: _Optional[str] = ..., reason: _Optional[str] = ..., definition_version: _Optional[int] = ..., facts_changed: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
