"""A window of telemetry beside a baseline period, for root-cause analysis: what a valid comparison is, which
step the window is bucketed by, and what comes back. No gRPC or SQL here; `comparison_store.py` runs the queries.

A metric series' baseline statistics are those of its single observations (one pass over the baseline, however
long, without grouping by time); its window values are averages per step. An average beyond the normal extremes
of single observations is a real shift, not noise; and where the data is no denser than the step (the usual
case: scrapes every 15 s to 5 min, steps of a minute or more) the two are the same thing. Operations (a p95 is a
per-step statistic by nature) and error-log templates (counts per step against the baseline's rate) are grouped
by the step on both sides."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from services.observability.service import NS, STEPS, TimeRange, check_window
from vigil.runtime.context import CallContext
from vigil.runtime.errors import FieldError, ValidationFailed

MAX_SERVICES = 500
DEFAULT_LIMIT = 5000
MAX_LIMIT = 20000
MAX_WINDOW_NS = 7 * 86400 * NS
MAX_BASELINE_NS = 31 * 86400 * NS
TARGET_STEPS = 60


@dataclass(frozen=True, slots=True)
class Comparison:
    services: tuple[str, ...]
    window: TimeRange
    baseline: TimeRange
    step_seconds: int = 0
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True, slots=True)
class BaselineStats:
    count: int = 0
    median: float = 0.0
    mad: float = 0.0
    q01: float = 0.0
    q99: float = 0.0
    mean: float = 0.0
    stddev: float = 0.0


@dataclass(frozen=True, slots=True)
class SeriesProfile:
    metric_name: str
    service: str
    labels: dict[str, str]
    metric_type: str
    baseline: BaselineStats
    points: list[tuple[int, float]]  # (step start ns, value)


@dataclass(frozen=True, slots=True)
class OperationStep:
    at_ns: int
    spans: int
    errors: int
    p95_ms: float


@dataclass(frozen=True, slots=True)
class OperationProfile:
    service: str
    operation: str
    baseline_spans: int
    baseline_errors: int
    baseline_p95_ms: BaselineStats
    steps: list[OperationStep]
    sample_status_message: str = ""
    sample_trace_id: str = ""


@dataclass(frozen=True, slots=True)
class LogTemplateProfile:
    service: str
    template: str
    level: str
    baseline_count: int
    points: list[tuple[int, float]]
    first_ns: int
    last_ns: int
    sample: str = ""
    sample_trace_id: str = ""


@dataclass(frozen=True, slots=True)
class ComparisonResult:
    step_seconds: int
    baseline_steps: int
    series: list[SeriesProfile] = field(default_factory=list)
    operations: list[OperationProfile] = field(default_factory=list)
    log_templates: list[LogTemplateProfile] = field(default_factory=list)


class ComparisonStore(Protocol):
    async def series(self, tenant_id: str, query: Comparison) -> list[SeriesProfile]: ...
    async def operations(self, tenant_id: str, query: Comparison) -> list[OperationProfile]: ...
    async def log_templates(self, tenant_id: str, query: Comparison,
                            rules: tuple[tuple[str, str], ...]) -> list[LogTemplateProfile]: ...


def choose_step(window: TimeRange, requested: int = 0) -> int:
    """The requested step, or the smallest query step that keeps the window to about TARGET_STEPS buckets."""
    if requested:
        return requested
    seconds = (window.end_ns - window.start_ns) // NS
    return next((s for s in STEPS if seconds / s <= TARGET_STEPS), STEPS[-1])


def validate(query: Comparison) -> None:
    errors: list[FieldError] = []
    if not query.services:
        errors.append(FieldError("services", "name at least one service"))
    if len(query.services) > MAX_SERVICES:
        errors.append(FieldError("services", f"at most {MAX_SERVICES} services"))
    if any(not s or len(s) > 256 for s in query.services):
        errors.append(FieldError("services", "each service name has 1 to 256 characters"))
    check_window(errors, query.window, "from", "to", MAX_WINDOW_NS)
    check_window(errors, query.baseline, "baseline_from", "baseline_to", MAX_BASELINE_NS)
    if query.baseline.start_ns < query.window.end_ns and query.window.start_ns < query.baseline.end_ns:
        errors.append(FieldError("baseline_to", "the baseline must not overlap the window"))
    if query.step_seconds and query.step_seconds not in STEPS:
        errors.append(FieldError("step_seconds", "unknown step"))
    if not 1 <= query.limit <= MAX_LIMIT:
        errors.append(FieldError("limit", f"must be between 1 and {MAX_LIMIT}"))
    if errors:
        raise ValidationFailed("invalid window comparison", errors)


class WindowComparison:
    def __init__(self, store: ComparisonStore) -> None:
        self.store = store

    async def compare(self, ctx: CallContext, query: Comparison) -> ComparisonResult:
        from services.observability.service import TEMPLATE_RULES

        validate(query)
        step = choose_step(query.window, query.step_seconds)
        query = Comparison(query.services, query.window, query.baseline, step, query.limit)
        baseline_steps = max(1, (query.baseline.end_ns - query.baseline.start_ns) // (step * NS))
        series, operations, templates = await asyncio.gather(
            self.store.series(ctx.tenant_id, query), self.store.operations(ctx.tenant_id, query),
            self.store.log_templates(ctx.tenant_id, query, TEMPLATE_RULES))
        return ComparisonResult(step_seconds=step, baseline_steps=baseline_steps, series=series,
                                operations=operations, log_templates=templates)
