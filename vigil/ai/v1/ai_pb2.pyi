import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from vigil.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TimeWindow(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    def __init__(self, start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RunRcaRequest(_message.Message):
    __slots__ = ("incident_id", "window", "baseline", "at")
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    incident_id: str
    window: TimeWindow
    baseline: TimeWindow
    at: _timestamp_pb2.Timestamp
    def __init__(self, incident_id: _Optional[str] = ..., window: _Optional[_Union[TimeWindow, _Mapping]] = ..., baseline: _Optional[_Union[TimeWindow, _Mapping]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Evidence(_message.Message):
    __slots__ = ("id", "kind", "ci_id", "ci_name", "service", "title", "detail", "source_url", "strength", "onset")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CI_ID_FIELD_NUMBER: _ClassVar[int]
    CI_NAME_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_URL_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_FIELD_NUMBER: _ClassVar[int]
    ONSET_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    ci_id: str
    ci_name: str
    service: str
    title: str
    detail: _struct_pb2.Struct
    source_url: str
    strength: float
    onset: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ..., ci_id: _Optional[str] = ..., ci_name: _Optional[str] = ..., service: _Optional[str] = ..., title: _Optional[str] = ..., detail: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., source_url: _Optional[str] = ..., strength: _Optional[float] = ..., onset: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RcaCause(_message.Message):
    __slots__ = ("rank", "ci_id", "ci_name", "service", "score", "confidence", "confidence_label", "hypothesis", "explanation", "evidence_ids", "onset", "factors")
    class FactorsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    RANK_FIELD_NUMBER: _ClassVar[int]
    CI_ID_FIELD_NUMBER: _ClassVar[int]
    CI_NAME_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_LABEL_FIELD_NUMBER: _ClassVar[int]
    HYPOTHESIS_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_IDS_FIELD_NUMBER: _ClassVar[int]
    ONSET_FIELD_NUMBER: _ClassVar[int]
    FACTORS_FIELD_NUMBER: _ClassVar[int]
    rank: int
    ci_id: str
    ci_name: str
    service: str
    score: float
    confidence: float
    confidence_label: str
    hypothesis: str
    explanation: str
    evidence_ids: _containers.RepeatedScalarFieldContainer[str]
    onset: _timestamp_pb2.Timestamp
    factors: _containers.ScalarMap[str, float]
    def __init__(self, rank: _Optional[int] = ..., ci_id: _Optional[str] = ..., ci_name: _Optional[str] = ..., service: _Optional[str] = ..., score: _Optional[float] = ..., confidence: _Optional[float] = ..., confidence_label: _Optional[str] = ..., hypothesis: _Optional[str] = ..., explanation: _Optional[str] = ..., evidence_ids: _Optional[_Iterable[str]] = ..., onset: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., factors: _Optional[_Mapping[str, float]] = ...) -> None: ...

class NarrativeSentence(_message.Message):
    __slots__ = ("text", "evidence_ids")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_IDS_FIELD_NUMBER: _ClassVar[int]
    text: str
    evidence_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, text: _Optional[str] = ..., evidence_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DroppedClaim(_message.Message):
    __slots__ = ("text", "reason", "evidence_ids")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_IDS_FIELD_NUMBER: _ClassVar[int]
    text: str
    reason: str
    evidence_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, text: _Optional[str] = ..., reason: _Optional[str] = ..., evidence_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class FeedbackSummary(_message.Message):
    __slots__ = ("correct", "incorrect")
    CORRECT_FIELD_NUMBER: _ClassVar[int]
    INCORRECT_FIELD_NUMBER: _ClassVar[int]
    correct: int
    incorrect: int
    def __init__(self, correct: _Optional[int] = ..., incorrect: _Optional[int] = ...) -> None: ...

class RcaResult(_message.Message):
    __slots__ = ("id", "incident_id", "incident_reference", "status", "mode", "outcome", "summary", "causes", "evidence", "narrative", "narrative_status", "llm_error", "dropped_claims", "window", "baseline", "symptom_onset", "candidates_considered", "gaps", "trigger", "requested_by", "feedback", "created_at", "completed_at", "duration_ms", "error")
    ID_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    CAUSES_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    NARRATIVE_FIELD_NUMBER: _ClassVar[int]
    NARRATIVE_STATUS_FIELD_NUMBER: _ClassVar[int]
    LLM_ERROR_FIELD_NUMBER: _ClassVar[int]
    DROPPED_CLAIMS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    SYMPTOM_ONSET_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_CONSIDERED_FIELD_NUMBER: _ClassVar[int]
    GAPS_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    id: str
    incident_id: str
    incident_reference: str
    status: str
    mode: str
    outcome: str
    summary: str
    causes: _containers.RepeatedCompositeFieldContainer[RcaCause]
    evidence: _containers.RepeatedCompositeFieldContainer[Evidence]
    narrative: _containers.RepeatedCompositeFieldContainer[NarrativeSentence]
    narrative_status: str
    llm_error: str
    dropped_claims: _containers.RepeatedCompositeFieldContainer[DroppedClaim]
    window: TimeWindow
    baseline: TimeWindow
    symptom_onset: _timestamp_pb2.Timestamp
    candidates_considered: int
    gaps: _containers.RepeatedScalarFieldContainer[str]
    trigger: str
    requested_by: str
    feedback: FeedbackSummary
    created_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    duration_ms: int
    error: str
    def __init__(self, id: _Optional[str] = ..., incident_id: _Optional[str] = ..., incident_reference: _Optional[str] = ..., status: _Optional[str] = ..., mode: _Optional[str] = ..., outcome: _Optional[str] = ..., summary: _Optional[str] = ..., causes: _Optional[_Iterable[_Union[RcaCause, _Mapping]]] = ..., evidence: _Optional[_Iterable[_Union[Evidence, _Mapping]]] = ..., narrative: _Optional[_Iterable[_Union[NarrativeSentence, _Mapping]]] = ..., narrative_status: _Optional[str] = ..., llm_error: _Optional[str] = ..., dropped_claims: _Optional[_Iterable[_Union[DroppedClaim, _Mapping]]] = ..., window: _Optional[_Union[TimeWindow, _Mapping]] = ..., baseline: _Optional[_Union[TimeWindow, _Mapping]] = ..., symptom_onset: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., candidates_considered: _Optional[int] = ..., gaps: _Optional[_Iterable[str]] = ..., trigger: _Optional[str] = ..., requested_by: _Optional[str] = ..., feedback: _Optional[_Union[FeedbackSummary, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration_ms: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class RunRcaResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: RcaResult
    def __init__(self, result: _Optional[_Union[RcaResult, _Mapping]] = ...) -> None: ...

class GetRcaRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetRcaResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: RcaResult
    def __init__(self, result: _Optional[_Union[RcaResult, _Mapping]] = ...) -> None: ...

class ListRcasRequest(_message.Message):
    __slots__ = ("incident_id", "page")
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    incident_id: str
    page: _common_pb2.PageRequest
    def __init__(self, incident_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListRcasResponse(_message.Message):
    __slots__ = ("items", "page")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[RcaResult]
    page: _common_pb2.PageInfo
    def __init__(self, items: _Optional[_Iterable[_Union[RcaResult, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class RcaFeedback(_message.Message):
    __slots__ = ("id", "rca_id", "verdict", "actual_cause_ci_id", "actual_cause", "comment", "actor", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    RCA_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_CAUSE_CI_ID_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_CAUSE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    rca_id: str
    verdict: str
    actual_cause_ci_id: str
    actual_cause: str
    comment: str
    actor: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., rca_id: _Optional[str] = ..., verdict: _Optional[str] = ..., actual_cause_ci_id: _Optional[str] = ..., actual_cause: _Optional[str] = ..., comment: _Optional[str] = ..., actor: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordRcaFeedbackRequest(_message.Message):
    __slots__ = ("rca_id", "verdict", "actual_cause_ci_id", "actual_cause", "comment")
    RCA_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_CAUSE_CI_ID_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_CAUSE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    rca_id: str
    verdict: str
    actual_cause_ci_id: str
    actual_cause: str
    comment: str
    def __init__(self, rca_id: _Optional[str] = ..., verdict: _Optional[str] = ..., actual_cause_ci_id: _Optional[str] = ..., actual_cause: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class RecordRcaFeedbackResponse(_message.Message):
    __slots__ = ("feedback", "summary")
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    feedback: RcaFeedback
    summary: FeedbackSummary
    def __init__(self, feedback: _Optional[_Union[RcaFeedback, _Mapping]] = ..., summary: _Optional[_Union[FeedbackSummary, _Mapping]] = ...) -> None: ...

class GetRcaFeedbackSummaryRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetRcaFeedbackSummaryResponse(_message.Message):
    __slots__ = ("analyses", "with_feedback", "correct", "incorrect", "accuracy", "by_hypothesis")
    class ByHypothesisEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: FeedbackSummary
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[FeedbackSummary, _Mapping]] = ...) -> None: ...
    ANALYSES_FIELD_NUMBER: _ClassVar[int]
    WITH_FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    CORRECT_FIELD_NUMBER: _ClassVar[int]
    INCORRECT_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    BY_HYPOTHESIS_FIELD_NUMBER: _ClassVar[int]
    analyses: int
    with_feedback: int
    correct: int
    incorrect: int
    accuracy: float
    by_hypothesis: _containers.MessageMap[str, FeedbackSummary]
    def __init__(self, analyses: _Optional[int] = ..., with_feedback: _Optional[int] = ..., correct: _Optional[int] = ..., incorrect: _Optional[int] = ..., accuracy: _Optional[float] = ..., by_hypothesis: _Optional[_Mapping[str, FeedbackSummary]] = ...) -> None: ...

class AiSettings(_message.Message):
    __slots__ = ("auto_rca_severities", "llm_enabled", "runbook_blast_radius_approval", "version", "updated_by", "updated_at")
    AUTO_RCA_SEVERITIES_FIELD_NUMBER: _ClassVar[int]
    LLM_ENABLED_FIELD_NUMBER: _ClassVar[int]
    RUNBOOK_BLAST_RADIUS_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    auto_rca_severities: _containers.RepeatedScalarFieldContainer[str]
    llm_enabled: bool
    runbook_blast_radius_approval: int
    version: int
    updated_by: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, auto_rca_severities: _Optional[_Iterable[str]] = ..., llm_enabled: _Optional[bool] = ..., runbook_blast_radius_approval: _Optional[int] = ..., version: _Optional[int] = ..., updated_by: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetSettingsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetSettingsResponse(_message.Message):
    __slots__ = ("settings",)
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    settings: AiSettings
    def __init__(self, settings: _Optional[_Union[AiSettings, _Mapping]] = ...) -> None: ...

class UpdateSettingsRequest(_message.Message):
    __slots__ = ("update_mask", "settings", "expected_version")
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    update_mask: _containers.RepeatedScalarFieldContainer[str]
    settings: AiSettings
    expected_version: int
    def __init__(self, update_mask: _Optional[_Iterable[str]] = ..., settings: _Optional[_Union[AiSettings, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateSettingsResponse(_message.Message):
    __slots__ = ("settings",)
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    settings: AiSettings
    def __init__(self, settings: _Optional[_Union[AiSettings, _Mapping]] = ...) -> None: ...

class RunbookParameter(_message.Message):
    __slots__ = ("name", "type", "default", "required", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    default: _struct_pb2.Value
    required: bool
    description: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., default: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., required: _Optional[bool] = ..., description: _Optional[str] = ...) -> None: ...

class RunbookStep(_message.Message):
    __slots__ = ("id", "name", "kind", "description", "config")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    kind: str
    description: str
    config: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., description: _Optional[str] = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Runbook(_message.Message):
    __slots__ = ("id", "name", "description", "status", "version", "tags", "parameters", "steps", "source", "generator", "incident_id", "rca_id", "hypothesis", "created_by", "updated_by", "created_at", "updated_at", "llm_error")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    RCA_ID_FIELD_NUMBER: _ClassVar[int]
    HYPOTHESIS_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    LLM_ERROR_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    status: str
    version: int
    tags: _containers.RepeatedScalarFieldContainer[str]
    parameters: _containers.RepeatedCompositeFieldContainer[RunbookParameter]
    steps: _containers.RepeatedCompositeFieldContainer[RunbookStep]
    source: str
    generator: str
    incident_id: str
    rca_id: str
    hypothesis: str
    created_by: str
    updated_by: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    llm_error: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., status: _Optional[str] = ..., version: _Optional[int] = ..., tags: _Optional[_Iterable[str]] = ..., parameters: _Optional[_Iterable[_Union[RunbookParameter, _Mapping]]] = ..., steps: _Optional[_Iterable[_Union[RunbookStep, _Mapping]]] = ..., source: _Optional[str] = ..., generator: _Optional[str] = ..., incident_id: _Optional[str] = ..., rca_id: _Optional[str] = ..., hypothesis: _Optional[str] = ..., created_by: _Optional[str] = ..., updated_by: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., llm_error: _Optional[str] = ...) -> None: ...

class RunbookContent(_message.Message):
    __slots__ = ("name", "description", "tags", "parameters", "steps")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    parameters: _containers.RepeatedCompositeFieldContainer[RunbookParameter]
    steps: _containers.RepeatedCompositeFieldContainer[RunbookStep]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., parameters: _Optional[_Iterable[_Union[RunbookParameter, _Mapping]]] = ..., steps: _Optional[_Iterable[_Union[RunbookStep, _Mapping]]] = ...) -> None: ...

class GenerateRunbookRequest(_message.Message):
    __slots__ = ("incident_id", "description", "rca_summary")
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RCA_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    incident_id: str
    description: str
    rca_summary: str
    def __init__(self, incident_id: _Optional[str] = ..., description: _Optional[str] = ..., rca_summary: _Optional[str] = ...) -> None: ...

class GenerateRunbookResponse(_message.Message):
    __slots__ = ("runbook",)
    RUNBOOK_FIELD_NUMBER: _ClassVar[int]
    runbook: Runbook
    def __init__(self, runbook: _Optional[_Union[Runbook, _Mapping]] = ...) -> None: ...

class CreateRunbookRequest(_message.Message):
    __slots__ = ("content", "status")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    content: RunbookContent
    status: str
    def __init__(self, content: _Optional[_Union[RunbookContent, _Mapping]] = ..., status: _Optional[str] = ...) -> None: ...

class CreateRunbookResponse(_message.Message):
    __slots__ = ("runbook",)
    RUNBOOK_FIELD_NUMBER: _ClassVar[int]
    runbook: Runbook
    def __init__(self, runbook: _Optional[_Union[Runbook, _Mapping]] = ...) -> None: ...

class GetRunbookRequest(_message.Message):
    __slots__ = ("id", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    version: int
    def __init__(self, id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetRunbookResponse(_message.Message):
    __slots__ = ("runbook",)
    RUNBOOK_FIELD_NUMBER: _ClassVar[int]
    runbook: Runbook
    def __init__(self, runbook: _Optional[_Union[Runbook, _Mapping]] = ...) -> None: ...

class ListRunbooksRequest(_message.Message):
    __slots__ = ("page", "status", "q", "tag")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    Q_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    status: _containers.RepeatedScalarFieldContainer[str]
    q: str
    tag: str
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., status: _Optional[_Iterable[str]] = ..., q: _Optional[str] = ..., tag: _Optional[str] = ...) -> None: ...

class ListRunbooksResponse(_message.Message):
    __slots__ = ("items", "page")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Runbook]
    page: _common_pb2.PageInfo
    def __init__(self, items: _Optional[_Iterable[_Union[Runbook, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class UpdateRunbookRequest(_message.Message):
    __slots__ = ("id", "update_mask", "content", "status", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    update_mask: _containers.RepeatedScalarFieldContainer[str]
    content: RunbookContent
    status: str
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., update_mask: _Optional[_Iterable[str]] = ..., content: _Optional[_Union[RunbookContent, _Mapping]] = ..., status: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateRunbookResponse(_message.Message):
    __slots__ = ("runbook",)
    RUNBOOK_FIELD_NUMBER: _ClassVar[int]
    runbook: Runbook
    def __init__(self, runbook: _Optional[_Union[Runbook, _Mapping]] = ...) -> None: ...

class DeleteRunbookRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteRunbookResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RunStep(_message.Message):
    __slots__ = ("index", "step_id", "name", "kind", "status", "output", "error", "decided_by", "decision_comment", "started_at", "completed_at", "attempts", "rendered")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    DECISION_COMMENT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    RENDERED_FIELD_NUMBER: _ClassVar[int]
    index: int
    step_id: str
    name: str
    kind: str
    status: str
    output: _struct_pb2.Struct
    error: str
    decided_by: str
    decision_comment: str
    started_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    attempts: int
    rendered: _struct_pb2.Struct
    def __init__(self, index: _Optional[int] = ..., step_id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., status: _Optional[str] = ..., output: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., error: _Optional[str] = ..., decided_by: _Optional[str] = ..., decision_comment: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attempts: _Optional[int] = ..., rendered: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class BlackoutHit(_message.Message):
    __slots__ = ("id", "name", "start", "end")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ActiveChange(_message.Message):
    __slots__ = ("id", "reference", "status", "ci_ids")
    ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CI_IDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    reference: str
    status: str
    ci_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., reference: _Optional[str] = ..., status: _Optional[str] = ..., ci_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Preflight(_message.Message):
    __slots__ = ("decision", "reasons", "target_ci_ids", "blackouts", "active_changes", "blast_radius", "highest_criticality", "gaps")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    TARGET_CI_IDS_FIELD_NUMBER: _ClassVar[int]
    BLACKOUTS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_CHANGES_FIELD_NUMBER: _ClassVar[int]
    BLAST_RADIUS_FIELD_NUMBER: _ClassVar[int]
    HIGHEST_CRITICALITY_FIELD_NUMBER: _ClassVar[int]
    GAPS_FIELD_NUMBER: _ClassVar[int]
    decision: str
    reasons: _containers.RepeatedScalarFieldContainer[str]
    target_ci_ids: _containers.RepeatedScalarFieldContainer[str]
    blackouts: _containers.RepeatedCompositeFieldContainer[BlackoutHit]
    active_changes: _containers.RepeatedCompositeFieldContainer[ActiveChange]
    blast_radius: int
    highest_criticality: str
    gaps: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, decision: _Optional[str] = ..., reasons: _Optional[_Iterable[str]] = ..., target_ci_ids: _Optional[_Iterable[str]] = ..., blackouts: _Optional[_Iterable[_Union[BlackoutHit, _Mapping]]] = ..., active_changes: _Optional[_Iterable[_Union[ActiveChange, _Mapping]]] = ..., blast_radius: _Optional[int] = ..., highest_criticality: _Optional[str] = ..., gaps: _Optional[_Iterable[str]] = ...) -> None: ...

class RunbookRun(_message.Message):
    __slots__ = ("id", "runbook_id", "runbook_name", "runbook_version", "incident_id", "status", "dry_run", "parameters", "started_by", "current_step_index", "total_steps", "steps", "preflight", "outputs", "created_at", "updated_at", "completed_at", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    RUNBOOK_ID_FIELD_NUMBER: _ClassVar[int]
    RUNBOOK_NAME_FIELD_NUMBER: _ClassVar[int]
    RUNBOOK_VERSION_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    STARTED_BY_FIELD_NUMBER: _ClassVar[int]
    CURRENT_STEP_INDEX_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    PREFLIGHT_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    runbook_id: str
    runbook_name: str
    runbook_version: int
    incident_id: str
    status: str
    dry_run: bool
    parameters: _struct_pb2.Struct
    started_by: str
    current_step_index: int
    total_steps: int
    steps: _containers.RepeatedCompositeFieldContainer[RunStep]
    preflight: Preflight
    outputs: _struct_pb2.Struct
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, id: _Optional[str] = ..., runbook_id: _Optional[str] = ..., runbook_name: _Optional[str] = ..., runbook_version: _Optional[int] = ..., incident_id: _Optional[str] = ..., status: _Optional[str] = ..., dry_run: _Optional[bool] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., started_by: _Optional[str] = ..., current_step_index: _Optional[int] = ..., total_steps: _Optional[int] = ..., steps: _Optional[_Iterable[_Union[RunStep, _Mapping]]] = ..., preflight: _Optional[_Union[Preflight, _Mapping]] = ..., outputs: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class ExecuteRunbookRequest(_message.Message):
    __slots__ = ("runbook_id", "incident_id", "dry_run", "parameters")
    RUNBOOK_ID_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    runbook_id: str
    incident_id: str
    dry_run: bool
    parameters: _struct_pb2.Struct
    def __init__(self, runbook_id: _Optional[str] = ..., incident_id: _Optional[str] = ..., dry_run: _Optional[bool] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ExecuteRunbookResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: RunbookRun
    def __init__(self, run: _Optional[_Union[RunbookRun, _Mapping]] = ...) -> None: ...

class GetRunbookRunRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetRunbookRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: RunbookRun
    def __init__(self, run: _Optional[_Union[RunbookRun, _Mapping]] = ...) -> None: ...

class ListRunbookRunsRequest(_message.Message):
    __slots__ = ("page", "incident_id", "runbook_id", "status")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    RUNBOOK_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    incident_id: str
    runbook_id: str
    status: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., incident_id: _Optional[str] = ..., runbook_id: _Optional[str] = ..., status: _Optional[_Iterable[str]] = ...) -> None: ...

class ListRunbookRunsResponse(_message.Message):
    __slots__ = ("items", "page")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[RunbookRun]
    page: _common_pb2.PageInfo
    def __init__(self, items: _Optional[_Iterable[_Union[RunbookRun, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class DecideRunbookStepRequest(_message.Message):
    __slots__ = ("run_id", "decision", "comment", "step_id")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    decision: str
    comment: str
    step_id: str
    def __init__(self, run_id: _Optional[str] = ..., decision: _Optional[str] = ..., comment: _Optional[str] = ..., step_id: _Optional[str] = ...) -> None: ...

class DecideRunbookStepResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: RunbookRun
    def __init__(self, run: _Optional[_Union[RunbookRun, _Mapping]] = ...) -> None: ...

class CancelRunbookRunRequest(_message.Message):
    __slots__ = ("id", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    reason: str
    def __init__(self, id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelRunbookRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: RunbookRun
    def __init__(self, run: _Optional[_Union[RunbookRun, _Mapping]] = ...) -> None: ...

class CopilotQueryRequest(_message.Message):
    __slots__ = ("query", "persona")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    PERSONA_FIELD_NUMBER: _ClassVar[int]
    query: str
    persona: str
    def __init__(self, query: _Optional[str] = ..., persona: _Optional[str] = ...) -> None: ...

class Citation(_message.Message):
    __slots__ = ("id", "kind", "title", "url")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    title: str
    url: str
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ..., title: _Optional[str] = ..., url: _Optional[str] = ...) -> None: ...

class ToolCall(_message.Message):
    __slots__ = ("name", "arguments", "ok", "summary")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    name: str
    arguments: _struct_pb2.Struct
    ok: bool
    summary: str
    def __init__(self, name: _Optional[str] = ..., arguments: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., ok: _Optional[bool] = ..., summary: _Optional[str] = ...) -> None: ...

class CopilotQueryResponse(_message.Message):
    __slots__ = ("answer", "mode", "persona", "citations", "tool_calls", "understood", "llm_error", "dropped_citations")
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PERSONA_FIELD_NUMBER: _ClassVar[int]
    CITATIONS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    UNDERSTOOD_FIELD_NUMBER: _ClassVar[int]
    LLM_ERROR_FIELD_NUMBER: _ClassVar[int]
    DROPPED_CITATIONS_FIELD_NUMBER: _ClassVar[int]
    answer: str
    mode: str
    persona: str
    citations: _containers.RepeatedCompositeFieldContainer[Citation]
    tool_calls: _containers.RepeatedCompositeFieldContainer[ToolCall]
    understood: bool
    llm_error: str
    dropped_citations: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, answer: _Optional[str] = ..., mode: _Optional[str] = ..., persona: _Optional[str] = ..., citations: _Optional[_Iterable[_Union[Citation, _Mapping]]] = ..., tool_calls: _Optional[_Iterable[_Union[ToolCall, _Mapping]]] = ..., understood: _Optional[bool] = ..., llm_error: _Optional[str] = ..., dropped_citations: _Optional[_Iterable[str]] = ...) -> None: ...

class CopilotQueryStreamRequest(_message.Message):
    __slots__ = ("query", "persona")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    PERSONA_FIELD_NUMBER: _ClassVar[int]
    query: str
    persona: str
    def __init__(self, query: _Optional[str] = ..., persona: _Optional[str] = ...) -> None: ...

class CopilotQueryStreamResponse(_message.Message):
    __slots__ = ("tool_call", "answer")
    TOOL_CALL_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    tool_call: ToolCall
    answer: CopilotQueryResponse
    def __init__(self, tool_call: _Optional[_Union[ToolCall, _Mapping]] = ..., answer: _Optional[_Union[CopilotQueryResponse, _Mapping]] = ...) -> None: ...

class RcaEvent(_message.Message):
    __slots__ = ("envelope", "result")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    envelope: _common_pb2.EventEnvelope
    result: RcaResult
    def __init__(self, envelope: _Optional[_Union[_common_pb2.EventEnvelope, _Mapping]] = ..., result: _Optional[_Union[RcaResult, _Mapping]] = ...) -> None: ...

class RunbookRunEvent(_message.Message):
    __slots__ = ("envelope", "run", "step_index")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    STEP_INDEX_FIELD_NUMBER: _ClassVar[int]
    envelope: _common_pb2.EventEnvelope
    run: RunbookRun
    step_index: int
    def __init__(self, envelope: _Optional[_Union[_common_pb2.EventEnvelope, _Mapping]] = ..., run: _Optional[_Union[RunbookRun, _Mapping]] = ..., step_index: _Optional[int] = ...) -> None: ...
