"""How far each series strays from its own baseline, point by point. Pure functions.

A series' normal range is what its baseline showed: the median, and the distance from the median to the 1st and
99th percentiles (its normal extremes), never narrower than three robust standard deviations (1.4826 x MAD), 1 %
of the median for gauges, or three Poisson standard deviations for counts (a count of 0 or 1 in a quiet baseline
is not news). A point's *excess* is its distance from the median in units of that range, minus one: 0 anywhere
inside the normal extremes, 1 at twice the normal extreme deviation. Only the bad direction counts when the name
says which it is (latency and errors up, availability down; traffic both ways).

What was already abnormal at the first point of the window is not new: a series' excess is measured above its
level at the window's start, so a long-standing condition (or a baseline taken from another period) does not
pass for the cause of a fresh symptom. The strength of a point is log2(1 + excess), so a hundredfold outlier does
not drown every other signal.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.ai.rca.model import Signal

MIN_BASELINE_POINTS = 12

_FAMILIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("availability", re.compile(r"availab|success|uptime|apdex|\bsla\b", re.I)),
    ("errors", re.compile(r"error|fail|exception|5xx|timeout|refus|reject|fault|crash", re.I)),
    ("latency", re.compile(r"latenc|duration|delay|response.?time|elapsed|_time\b|\btime_|rtt|p9\d", re.I)),
    ("saturation", re.compile(r"cpu|mem|heap|gc|disk|pool|connection|thread|saturat|queue|lag|backlog|oom|"
                              r"\bfd\b|file.?desc|inode|load|util|usage|restart|throttl|swap", re.I)),
    ("traffic", re.compile(r"request|throughput|rps|qps|traffic|count|calls|hits|invocation", re.I)),
)
# +1: only an increase is trouble; -1: only a decrease; 0: either.
_DIRECTION = {"availability": -1, "errors": 1, "latency": 1, "saturation": 1, "traffic": 0, "other": 0}


def family(name: str) -> str:
    for fam, pattern in _FAMILIES:
        if pattern.search(name):
            return fam
    return "other"


def direction(fam: str) -> int:
    return _DIRECTION[fam]


@dataclass(frozen=True, slots=True)
class Normal:
    """A series' normal range from its baseline."""

    median: float
    up: float  # distance from the median to the normal high extreme
    down: float  # ... to the normal low extreme


def normal_range(median: float, mad: float, q01: float, q99: float, *, count: bool) -> Normal:
    floor = max(3 * 1.4826 * mad, 3 * math.sqrt(max(abs(median), 1.0)) if count else 0.01 * abs(median), 1e-12)
    return Normal(median, max(q99 - median, floor), max(median - q01, floor))


def poisson_range(expected: float) -> Normal:
    """For counts with a known expected value per step (error logs, failing spans)."""
    spread = 3 * math.sqrt(max(expected, 1.0))
    return Normal(expected, spread, spread)


def binomial_range(trials: int, ratio: float) -> Normal:
    """Failures among `trials` when `ratio` of them failed in the baseline."""
    spread = 3 * math.sqrt(max(trials * ratio * (1 - ratio), 1.0))
    return Normal(trials * ratio, spread, spread)


def excess(value: float, normal: Normal, sign: int) -> float:
    if value != value:  # NaN: no data is not an anomaly
        return 0.0
    delta = value - normal.median
    if delta > 0 and sign >= 0:
        return max(0.0, delta / normal.up - 1)
    if delta < 0 and sign <= 0:
        return max(0.0, -delta / normal.down - 1)
    return 0.0


def strengths(values: Sequence[tuple[int, float]], normals: Sequence[Normal] | Normal, sign: int,
              absent_at_start: bool = False) -> tuple[tuple[int, float], ...]:
    """Per point, the strength of what is new since the window's first point. `absent_at_start`: the series
    (a count: error logs, failing spans) had no point at the window's start, so its level there was zero."""
    if not values:
        return ()
    if isinstance(normals, Normal):
        normals = [normals] * len(values)
    raw = [excess(v, n, sign) for (_, v), n in zip(values, normals, strict=True)]
    start = 0.0 if absent_at_start else raw[0]
    return tuple((t, math.log2(1 + max(0.0, e - start))) for (t, _), e in zip(values, raw, strict=True))


def evidence_id(kind: str, *parts: str) -> str:
    digest = hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:12]
    return f"ev:{kind}:{digest}"


def onset(points: Iterable[tuple[int, float]], threshold: float) -> int | None:
    return next((t for t, s in points if s >= threshold), None)


# -- from the observability service's window comparison to signals ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Baseline:
    count: int
    median: float
    mad: float
    q01: float
    q99: float


def metric_signal(*, ci_id: str, service: str, metric_name: str, labels: dict[str, str], metric_type: str,
                  baseline: Baseline, points: Sequence[tuple[int, float]], source_url: str) -> Signal | None:
    if baseline.count < MIN_BASELINE_POINTS or not points:
        return None
    fam = family(metric_name + " " + " ".join(labels.values()))
    normal = normal_range(baseline.median, baseline.mad, baseline.q01, baseline.q99, count=metric_type == "sum")
    label_text = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    peak_value = max((v for _, v in points), key=lambda v: abs(v - baseline.median))
    return Signal(
        evidence_id=evidence_id("metric", service, metric_name, label_text), ci_id=ci_id, kind="metric",
        family=fam, title=f"{metric_name}{{{label_text}}}" if label_text else metric_name,
        points=strengths(points, normal, direction(fam)), source_url=source_url,
        detail={"metric": metric_name, "labels": labels, "metric_type": metric_type,
                "baseline_median": baseline.median, "baseline_q01": baseline.q01, "baseline_q99": baseline.q99,
                "baseline_points": baseline.count, "peak": peak_value})


def operation_signals(*, ci_id: str, service: str, operation: str, baseline_spans: int, baseline_errors: int,
                      baseline_p95: Baseline, steps: Sequence[tuple[int, int, int, float]], sample_message: str,
                      errors_url: str, latency_url: str, window_start_ns: int = 0,
                      step_ns: int = 0) -> list[Signal]:
    """Two signals per operation: failing spans (against the baseline's error ratio, binomial spread) and the
    p95 duration per step (against its baseline like any series). Steps without spans are absent: an operation
    first seen after the window's start had no failures there."""
    out = []
    ratio = baseline_errors / baseline_spans if baseline_spans else 0.0
    errors = [(t, float(e)) for t, _, e, _ in steps]
    normals = [binomial_range(n, ratio) for _, n, _, _ in steps]
    if any(e for _, e in errors):
        out.append(Signal(
            evidence_id=evidence_id("span", service, operation, "errors"), ci_id=ci_id, kind="span",
            family="errors", title=f"failing spans of {operation}",
            points=strengths(errors, normals, 1, _late(errors, window_start_ns, step_ns)),
            source_url=errors_url,
            detail={"operation": operation, "window_errors": int(sum(e for _, e in errors)),
                    "window_spans": sum(n for _, n, _, _ in steps), "baseline_error_ratio": round(ratio, 6),
                    "sample_status_message": sample_message[:300]}))
    if baseline_p95.count >= MIN_BASELINE_POINTS:
        normal = normal_range(baseline_p95.median, baseline_p95.mad, baseline_p95.q01, baseline_p95.q99,
                              count=False)
        latency = [(t, p) for t, _, _, p in steps]
        out.append(Signal(
            evidence_id=evidence_id("span", service, operation, "latency"), ci_id=ci_id, kind="span",
            family="latency", title=f"p95 duration of {operation}", points=strengths(latency, normal, 1),
            source_url=latency_url,
            detail={"operation": operation, "baseline_p95_ms": baseline_p95.median,
                    "peak_p95_ms": max((p for _, p in latency), default=0.0)}))
    return out


def _late(points: Sequence[tuple[int, float]], window_start_ns: int, step_ns: int) -> bool:
    return bool(points) and step_ns > 0 and points[0][0] >= window_start_ns + step_ns


def log_signal(*, ci_id: str, service: str, template: str, level: str, baseline_count: int, baseline_steps: int,
               points: Sequence[tuple[int, float]], sample: str, source_url: str, window_start_ns: int = 0,
               step_ns: int = 0) -> Signal:
    """Error logs of one template: counts per step against the baseline's rate (Poisson spread). Steps without
    such a log are absent: a template first seen after the window's start counted zero there."""
    expected = baseline_count / max(baseline_steps, 1)
    return Signal(
        evidence_id=evidence_id("log", service, template), ci_id=ci_id, kind="log",
        family="errors" if level in ("error", "fatal") else family(template), title=f"{level} logs: {template[:120]}",
        points=strengths(points, poisson_range(expected), 1, _late(points, window_start_ns, step_ns)),
        source_url=source_url,
        detail={"template": template, "level": level, "window_count": int(sum(v for _, v in points)),
                "baseline_count": baseline_count, "sample": sample[:300]})
