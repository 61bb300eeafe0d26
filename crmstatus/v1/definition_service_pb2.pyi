import datetime

from crmstatus.v1 import customer_pb2 as _customer_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DiagramFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIAGRAM_FORMAT_UNSPECIFIED: _ClassVar[DiagramFormat]
    DIAGRAM_FORMAT_MERMAID: _ClassVar[DiagramFormat]
    DIAGRAM_FORMAT_DOT: _ClassVar[DiagramFormat]

class VersionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERSION_STATUS_UNSPECIFIED: _ClassVar[VersionStatus]
    VERSION_STATUS_DRAFT: _ClassVar[VersionStatus]
    VERSION_STATUS_APPROVED: _ClassVar[VersionStatus]
    VERSION_STATUS_ACTIVE: _ClassVar[VersionStatus]
    VERSION_STATUS_RETIRED: _ClassVar[VersionStatus]
DIAGRAM_FORMAT_UNSPECIFIED: DiagramFormat
DIAGRAM_FORMAT_MERMAID: DiagramFormat
DIAGRAM_FORMAT_DOT: DiagramFormat
VERSION_STATUS_UNSPECIFIED: VersionStatus
VERSION_STATUS_DRAFT: VersionStatus
VERSION_STATUS_APPROVED: VersionStatus
VERSION_STATUS_ACTIVE: VersionStatus
VERSION_STATUS_RETIRED: VersionStatus

class GetDefinitionDiagramRequest(_message.Message):
    __slots__ = ("name", "version", "dimension", "format", "customer_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    dimension: str
    format: DiagramFormat
    customer_id: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., dimension: _Optional[str] = ..., format: _Optional[_Union[DiagramFormat, str]] = ..., customer_id: _Optional[str] = ...) -> None: ...

class GetDefinitionDiagramResponse(_message.Message):
    __slots__ = ("format", "diagram")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    DIAGRAM_FIELD_NUMBER: _ClassVar[int]
    format: DiagramFormat
    diagram: str
    def __init__(self, format: _Optional[_Union[DiagramFormat, str]] = ..., diagram: _Optional[str] = ...) -> None: ...

class Diagnostic(_message.Message):
    __slots__ = ("file", "line", "column", "path", "message", "hint", "message_zh", "hint_zh")
    FILE_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    HINT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ZH_FIELD_NUMBER: _ClassVar[int]
    HINT_ZH_FIELD_NUMBER: _ClassVar[int]
    file: str
    line: int
    column: int
    path: str
    message: str
    hint: str
    message_zh: str
    hint_zh: str
    def __init__(self, file: _Optional[str] = ..., line: _Optional[int] = ..., column: _Optional[int] = ..., path: _Optional[str] = ..., message: _Optional[str] = ..., hint: _Optional[str] = ..., message_zh: _Optional[str] = ..., hint_zh: _Optional[str] = ...) -> None: ...

class DefinitionSummary(_message.Message):
    __slots__ = ("name", "version", "industry", "owner", "label", "digest", "dimensions")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    industry: str
    owner: str
    label: _customer_pb2.Label
    digest: str
    dimensions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., industry: _Optional[str] = ..., owner: _Optional[str] = ..., label: _Optional[_Union[_customer_pb2.Label, _Mapping]] = ..., digest: _Optional[str] = ..., dimensions: _Optional[_Iterable[str]] = ...) -> None: ...

class ValidateDefinitionRequest(_message.Message):
    __slots__ = ("content", "file_name")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    content: str
    file_name: str
    def __init__(self, content: _Optional[str] = ..., file_name: _Optional[str] = ...) -> None: ...

class ValidateDefinitionResponse(_message.Message):
    __slots__ = ("valid", "diagnostics", "definition")
    VALID_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSTICS_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    diagnostics: _containers.RepeatedCompositeFieldContainer[Diagnostic]
    definition: DefinitionSummary
    def __init__(self, valid: _Optional[bool] = ..., diagnostics: _Optional[_Iterable[_Union[Diagnostic, _Mapping]]] = ..., definition: _Optional[_Union[DefinitionSummary, _Mapping]] = ...) -> None: ...

class ListDefinitionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListDefinitionsResponse(_message.Message):
    __slots__ = ("definitions",)
    DEFINITIONS_FIELD_NUMBER: _ClassVar[int]
    definitions: _containers.RepeatedCompositeFieldContainer[DefinitionSummary]
    def __init__(self, definitions: _Optional[_Iterable[_Union[DefinitionSummary, _Mapping]]] = ...) -> None: ...

class GetDefinitionRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetDefinitionResponse(_message.Message):
    __slots__ = ("definition", "dimensions", "source")
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    definition: DefinitionSummary
    dimensions: _containers.RepeatedCompositeFieldContainer[DimensionInfo]
    source: str
    def __init__(self, definition: _Optional[_Union[DefinitionSummary, _Mapping]] = ..., dimensions: _Optional[_Iterable[_Union[DimensionInfo, _Mapping]]] = ..., source: _Optional[str] = ...) -> None: ...

class DimensionInfo(_message.Message):
    __slots__ = ("name", "label", "states", "transitions")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    TRANSITIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    label: _customer_pb2.Label
    states: _containers.RepeatedCompositeFieldContainer[StateInfo]
    transitions: _containers.RepeatedCompositeFieldContainer[TransitionInfo]
    def __init__(self, name: _Optional[str] = ..., label: _Optional[_Union[_customer_pb2.Label, _Mapping]] = ..., states: _Optional[_Iterable[_Union[StateInfo, _Mapping]]] = ..., transitions: _Optional[_Iterable[_Union[TransitionInfo, _Mapping]]] = ...) -> None: ...

class StateInfo(_message.Message):
    __slots__ = ("name", "label", "initial", "final", "locked", "required_facts")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    INITIAL_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    LOCKED_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FACTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    label: _customer_pb2.Label
    initial: bool
    final: bool
    locked: bool
    required_facts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., label: _Optional[_Union[_customer_pb2.Label, _Mapping]] = ..., initial: _Optional[bool] = ..., final: _Optional[bool] = ..., locked: _Optional[bool] = ..., required_facts: _Optional[_Iterable[str]] = ...) -> None: ...

class TransitionInfo(_message.Message):
    __slots__ = ("event", "from_states", "to_state", "label", "automatic", "roles", "condition", "checklist")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    FROM_STATES_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    AUTOMATIC_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    CHECKLIST_FIELD_NUMBER: _ClassVar[int]
    event: str
    from_states: _containers.RepeatedScalarFieldContainer[str]
    to_state: str
    label: _customer_pb2.Label
    automatic: bool
    roles: _containers.RepeatedScalarFieldContainer[str]
    condition: str
    checklist: str
    def __init__(self, event: _Optional[str] = ..., from_states: _Optional[_Iterable[str]] = ..., to_state: _Optional[str] = ..., label: _Optional[_Union[_customer_pb2.Label, _Mapping]] = ..., automatic: _Optional[bool] = ..., roles: _Optional[_Iterable[str]] = ..., condition: _Optional[str] = ..., checklist: _Optional[str] = ...) -> None: ...

class ReloadDefinitionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReloadDefinitionsResponse(_message.Message):
    __slots__ = ("definitions",)
    DEFINITIONS_FIELD_NUMBER: _ClassVar[int]
    definitions: _containers.RepeatedCompositeFieldContainer[DefinitionSummary]
    def __init__(self, definitions: _Optional[_Iterable[_Union[DefinitionSummary, _Mapping]]] = ...) -> None: ...

class DefinitionVersion(_message.Message):
    __slots__ = ("definition", "tenant", "status", "published_by", "publish_time", "approved_by", "approve_time", "activated_by", "activate_time", "retire_time", "in_use")
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_BY_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_TIME_FIELD_NUMBER: _ClassVar[int]
    APPROVED_BY_FIELD_NUMBER: _ClassVar[int]
    APPROVE_TIME_FIELD_NUMBER: _ClassVar[int]
    ACTIVATED_BY_FIELD_NUMBER: _ClassVar[int]
    ACTIVATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RETIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    IN_USE_FIELD_NUMBER: _ClassVar[int]
    definition: DefinitionSummary
    tenant: str
    status: VersionStatus
    published_by: str
    publish_time: _timestamp_pb2.Timestamp
    approved_by: str
    approve_time: _timestamp_pb2.Timestamp
    activated_by: str
    activate_time: _timestamp_pb2.Timestamp
    retire_time: _timestamp_pb2.Timestamp
    in_use: bool
    def __init__(self, definition: _Optional[_Union[DefinitionSummary, _Mapping]] = ..., tenant: _Optional[str] = ..., status: _Optional[_Union[VersionStatus, str]] = ..., published_by: _Optional[str] = ..., publish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., approved_by: _Optional[str] = ..., approve_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., activated_by: _Optional[str] = ..., activate_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., retire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., in_use: _Optional[bool] = ...) -> None: ...

class PublishDefinitionRequest(_message.Message):
    __slots__ = ("content", "file_name")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    content: str
    file_name: str
    def __init__(self, content: _Optional[str] = ..., file_name: _Optional[str] = ...) -> None: ...

class PublishDefinitionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: DefinitionVersion
    def __init__(self, version: _Optional[_Union[DefinitionVersion, _Mapping]] = ...) -> None: ...

class ApproveDefinitionRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class ApproveDefinitionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: DefinitionVersion
    def __init__(self, version: _Optional[_Union[DefinitionVersion, _Mapping]] = ...) -> None: ...

class ActivateDefinitionRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class ActivateDefinitionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: DefinitionVersion
    def __init__(self, version: _Optional[_Union[DefinitionVersion, _Mapping]] = ...) -> None: ...

class ListDefinitionVersionsRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListDefinitionVersionsResponse(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[DefinitionVersion]
    def __init__(self, versions: _Optional[_Iterable[_Union[DefinitionVersion, _Mapping]]] = ...) -> None: ...

class DiffDefinitionsRequest(_message.Message):
    __slots__ = ("name", "old_version", "new_version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OLD_VERSION_FIELD_NUMBER: _ClassVar[int]
    NEW_VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    old_version: int
    new_version: int
    def __init__(self, name: _Optional[str] = ..., old_version: _Optional[int] = ..., new_version: _Optional[int] = ...) -> None: ...

class DefinitionChange(_message.Message):
    __slots__ = ("change", "kind", "path", "before", "after")
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    change: str
    kind: str
    path: str
    before: str
    after: str
    def __init__(self, change: _Optional[str] = ..., kind: _Optional[str] = ..., path: _Optional[str] = ..., before: _Optional[str] = ..., after: _Optional[str] = ...) -> None: ...

class DiffDefinitionsResponse(_message.Message):
    __slots__ = ("changes", "text")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[DefinitionChange]
    text: str
    def __init__(self, changes: _Optional[_Iterable[_Union[DefinitionChange, _Mapping]]] = ..., text: _Optional[str] = ...) -> None: ...

class MigrationSelection(_message.Message):
    __slots__ = ("customer_ids", "states")
    CUSTOMER_IDS_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    customer_ids: _containers.RepeatedScalarFieldContainer[str]
    states: _containers.RepeatedCompositeFieldContainer[StateRef]
    def __init__(self, customer_ids: _Optional[_Iterable[str]] = ..., states: _Optional[_Iterable[_Union[StateRef, _Mapping]]] = ...) -> None: ...

class StateRef(_message.Message):
    __slots__ = ("dimension", "state")
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    dimension: str
    state: str
    def __init__(self, dimension: _Optional[str] = ..., state: _Optional[str] = ...) -> None: ...

class PlanMigrationRequest(_message.Message):
    __slots__ = ("mapping", "file_name", "selection")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    file_name: str
    selection: MigrationSelection
    def __init__(self, mapping: _Optional[str] = ..., file_name: _Optional[str] = ..., selection: _Optional[_Union[MigrationSelection, _Mapping]] = ...) -> None: ...

class PlanMigrationResponse(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: MigrationReport
    def __init__(self, report: _Optional[_Union[MigrationReport, _Mapping]] = ...) -> None: ...

class MigrateCustomersRequest(_message.Message):
    __slots__ = ("mapping", "file_name", "selection", "batch_size")
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    mapping: str
    file_name: str
    selection: MigrationSelection
    batch_size: int
    def __init__(self, mapping: _Optional[str] = ..., file_name: _Optional[str] = ..., selection: _Optional[_Union[MigrationSelection, _Mapping]] = ..., batch_size: _Optional[int] = ...) -> None: ...

class MigrateCustomersResponse(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: MigrationReport
    def __init__(self, report: _Optional[_Union[MigrationReport, _Mapping]] = ...) -> None: ...

class MigrationMove(_message.Message):
    __slots__ = ("dimension", "from_state", "to_state", "customers")
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    dimension: str
    from_state: str
    to_state: str
    customers: int
    def __init__(self, dimension: _Optional[str] = ..., from_state: _Optional[str] = ..., to_state: _Optional[str] = ..., customers: _Optional[int] = ...) -> None: ...

class UnmappableCustomer(_message.Message):
    __slots__ = ("customer_id", "reasons")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    reasons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, customer_id: _Optional[str] = ..., reasons: _Optional[_Iterable[str]] = ...) -> None: ...

class MigrationReport(_message.Message):
    __slots__ = ("migration", "selected", "migrated", "already_migrated", "unmappable", "moves", "timers_cancelled", "timers_scheduled", "timers_overdue", "unmapped", "done")
    MIGRATION_FIELD_NUMBER: _ClassVar[int]
    SELECTED_FIELD_NUMBER: _ClassVar[int]
    MIGRATED_FIELD_NUMBER: _ClassVar[int]
    ALREADY_MIGRATED_FIELD_NUMBER: _ClassVar[int]
    UNMAPPABLE_FIELD_NUMBER: _ClassVar[int]
    MOVES_FIELD_NUMBER: _ClassVar[int]
    TIMERS_CANCELLED_FIELD_NUMBER: _ClassVar[int]
    TIMERS_SCHEDULED_FIELD_NUMBER: _ClassVar[int]
    TIMERS_OVERDUE_FIELD_NUMBER: _ClassVar[int]
    UNMAPPED_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    migration: str
    selected: int
    migrated: int
    already_migrated: int
    unmappable: int
    moves: _containers.RepeatedCompositeFieldContainer[MigrationMove]
    timers_cancelled: int
    timers_scheduled: int
    timers_overdue: int
    unmapped: _containers.RepeatedCompositeFieldContainer[UnmappableCustomer]
    done: bool
    def __init__(self, migration: _Optional[str] = ..., selected: _Optional[int] = ..., migrated: _Optional[int] = ..., already_migrated: _Optional[int] = ..., unmappable: _Optional[int] = ..., moves: _Optional[_Iterable[_Union[MigrationMove, _Mapping]]] = ..., timers_cancelled: _Optional[int] = ..., timers_scheduled: _Optional[int] = ..., timers_overdue: _Optional[int] = ..., unmapped: _Optional[_Iterable[_Union[UnmappableCustomer, _Mapping]]] = ..., done: _Optional[bool] = ...) -> None: ...

class GetReviewReportRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class StateUse(_message.Message):
    __slots__ = ("dimension", "state", "entered")
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ENTERED_FIELD_NUMBER: _ClassVar[int]
    dimension: str
    state: str
    entered: int
    def __init__(self, dimension: _Optional[str] = ..., state: _Optional[str] = ..., entered: _Optional[int] = ...) -> None: ...

class TransitionUse(_message.Message):
    __slots__ = ("dimension", "event", "from_states", "to_state", "fired", "blocked", "guard")
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    FROM_STATES_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    FIRED_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    GUARD_FIELD_NUMBER: _ClassVar[int]
    dimension: str
    event: str
    from_states: _containers.RepeatedScalarFieldContainer[str]
    to_state: str
    fired: int
    blocked: int
    guard: str
    def __init__(self, dimension: _Optional[str] = ..., event: _Optional[str] = ..., from_states: _Optional[_Iterable[str]] = ..., to_state: _Optional[str] = ..., fired: _Optional[int] = ..., blocked: _Optional[int] = ..., guard: _Optional[str] = ...) -> None: ...

class GetReviewReportResponse(_message.Message):
    __slots__ = ("definition", "states", "transitions", "unused_states", "unused_transitions", "text")
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    TRANSITIONS_FIELD_NUMBER: _ClassVar[int]
    UNUSED_STATES_FIELD_NUMBER: _ClassVar[int]
    UNUSED_TRANSITIONS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    definition: DefinitionSummary
    states: _containers.RepeatedCompositeFieldContainer[StateUse]
    transitions: _containers.RepeatedCompositeFieldContainer[TransitionUse]
    unused_states: _containers.RepeatedCompositeFieldContainer[StateRef]
    unused_transitions: _containers.RepeatedCompositeFieldContainer[TransitionUse]
    text: str
    def __init__(self, definition: _Optional[_Union[DefinitionSummary, _Mapping]] = ..., states: _Optional[_Iterable[_Union[StateUse, _Mapping]]] = ..., transitions: _Optional[_Iterable[_Union[TransitionUse, _Mapping]]] = ..., unused_states: _Optional[_Iterable[_Union[StateRef, _Mapping]]] = ..., unused_transitions: _Optional[_Iterable[_Union[TransitionUse, _Mapping]]] = ..., text: _Optional[str] = ...) -> None: ...
