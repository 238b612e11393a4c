"""What a root-cause analysis is made of: the neighbourhood of an incident's CIs in the CMDB, the signals seen in
telemetry, the changes, and the result (evidence, ranked causes, narrative). Plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Kinds of evidence and their id prefixes: ids are stable (the same observation, the same id, in every analysis).
EVIDENCE_KINDS = ("metric", "log", "span", "change", "topology")


@dataclass(frozen=True, slots=True)
class CI:
    id: str
    name: str
    cls: str = ""
    criticality: str = ""
    # The service name its telemetry carries (attribute service_name / service.name, else its name).
    service: str = ""


@dataclass(frozen=True, slots=True)
class Neighbourhood:
    """The incident's CIs and what could have caused their trouble (their upstream, by failure direction)."""

    incident_ci_ids: tuple[str, ...]
    cis: dict[str, CI]
    # Hops from the nearest incident CI (0 for the incident's own CIs).
    depth: dict[str, int]
    # CI ids from an incident CI to this one.
    path: dict[str, tuple[str, ...]]
    # Direct dependencies by failure direction: dependencies[c] fail -> c hurts.
    dependencies: dict[str, frozenset[str]]
    downstream_count: int = 0

    @property
    def candidate_ids(self) -> list[str]:
        return sorted(self.cis, key=lambda c: (self.depth.get(c, 99), self.cis[c].name, c))

    def dependents(self, ci_id: str) -> list[str]:
        return [c for c, deps in self.dependencies.items() if ci_id in deps and c != ci_id]


@dataclass(frozen=True, slots=True)
class Signal:
    """One series (metric, operation errors or latency, error-log template) of one CI, scored against its
    own baseline: per point, the strength of what is new in the window (0: normal)."""

    evidence_id: str
    ci_id: str
    kind: str
    # latency, errors, availability, saturation, traffic, other: what kind of trouble it shows.
    family: str
    title: str
    points: tuple[tuple[int, float], ...]
    detail: dict[str, Any] = field(default_factory=dict)
    source_url: str = ""

    @property
    def peak(self) -> float:
        return max((s for _, s in self.points), default=0.0)


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    evidence_id: str
    reference: str
    title: str
    status: str
    ci_ids: tuple[str, ...]
    start_ns: int
    end_ns: int
    change_id: str = ""
    source_url: str = ""


@dataclass(frozen=True, slots=True)
class Evidence:
    id: str
    kind: str
    ci_id: str
    ci_name: str
    service: str
    title: str
    detail: dict[str, Any]
    source_url: str
    strength: float = 0.0
    onset: datetime | None = None


@dataclass(frozen=True, slots=True)
class Cause:
    rank: int
    ci_id: str
    ci_name: str
    service: str
    score: float
    confidence: float
    confidence_label: str
    hypothesis: str
    explanation: str
    evidence_ids: tuple[str, ...]
    onset: datetime | None
    factors: dict[str, float]


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    evidence_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DroppedClaim:
    text: str
    reason: str
    evidence_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class RcaResult:
    id: str
    tenant_id: str
    incident_id: str
    incident_reference: str
    status: str
    mode: str
    outcome: str
    summary: str
    causes: tuple[Cause, ...]
    evidence: tuple[Evidence, ...]
    narrative: tuple[Sentence, ...]
    narrative_status: str
    window: Window | None
    baseline: Window | None
    symptom_onset: datetime | None
    candidates_considered: int
    gaps: tuple[str, ...]
    trigger: str
    requested_by: str
    created_at: datetime
    completed_at: datetime | None = None
    duration_ms: int = 0
    llm_error: str = ""
    dropped_claims: tuple[DroppedClaim, ...] = ()
    error: str = ""
    feedback_correct: int = 0
    feedback_incorrect: int = 0


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    reference: str
    title: str
    severity: str
    ci_ids: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Gathered:
    incident: Incident
    at: datetime
    window: Window
    baseline: Window
    hood: Neighbourhood
    signals: list[Signal]
    changes: list[ChangeRecord]
    resolution_ns: int
    gaps: list[str]
