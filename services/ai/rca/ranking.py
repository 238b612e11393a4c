"""Ranking the probable causes of an incident: deterministic and explainable. Pure: no I/O.

Candidates are the incident's CIs and everything upstream of them by failure direction (what their trouble could
come from). Each candidate is scored from its signals (see signals.py) and from what is known around it:

- **anomaly**: per point of the window, the sum of its two strongest signals' strengths (two series telling the
  same story corroborate each other; one noisy percentile alone does not), taken at the moments that matter.
- **time**: the symptom's onset is the first anomalous point of the incident's own CIs (else the incident's
  time). A cause precedes its effects: only a candidate's points from a little before the symptom's anomalous
  points up to them count (`lead`, in units of the data's resolution); an onset up to `lag` after the symptom's
  is marked down (`late`), a later one rules the candidate out.
- **propagation**: blame the deepest anomalous dependency whose own dependencies are healthy. A candidate with an
  anomalous dependency that went wrong earlier is explained by it (strongly: `earlier_dependency_ratio`), or in
  the same step (in proportion to their strengths), and loses that share (`explain_weight`). A pass-through CI
  (load balancer, proxy, gateway, remote endpoint) with no observed dependency is a boundary of what Vigil can
  see: the fault may be behind it, so it keeps `boundary` of its score.
- **coverage**: each anomalous dependent (a CI that depends on the candidate and went wrong no earlier) is
  explained by it, and adds `coverage` to its score.
- **changes**: an implemented change on the candidate that began shortly before its onset multiplies its score by
  up to 1 + `change_bonus` (halved every `change_half_life`); a change long before counts for nothing. A CI
  with no telemetry at all but a change just before the symptom counts as anomalous from the change's start,
  with strength `unobserved_change_score` x the change's weight: a suspect, and an explanation of what depends
  on it in proportion to the change's weight (how recent it is).
- **topology**: a mild preference for the nearer of two otherwise equal candidates (`depth_decay` per hop).

A cause is named when its score reaches `name_threshold`, or `quiet_symptom_threshold` when the incident's
own CIs are observed and show nothing anomalous (a claim then needs much stronger evidence). Otherwise the result
says that nothing anomalous was found.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from services.ai.rca.model import CI, ChangeRecord, Neighbourhood, Signal

MINUTE = 60 * 1_000_000_000
# CI classes that other CIs depend on (errors there read as a dependency outage, not an error spike).
# CI classes that forward calls to something else: their latency and errors may be those of what is behind them.
PASS_THROUGH_CLASSES = frozenset({"load_balancer", "proxy", "api_gateway", "remote_endpoint", "network", "dns", "cdn"})
DEPENDENCY_CLASSES = frozenset({"database", "queue", "cache", "storage", "network", "dns", "load_balancer", "saas",
                                "cloud_account", "k8s_cluster", "k8s_node", "server", "virtual_machine"})
IMPLEMENTED_CHANGE = {"implement": 1.0, "review": 1.0, "closed": 1.0, "scheduled": 0.5}


@dataclass(frozen=True, slots=True)
class RankingParams:
    anomaly_threshold: float = 0.5
    symptom_threshold: float = 0.5
    name_threshold: float = 1.0
    quiet_symptom_threshold: float = 3.0
    corroboration: int = 2
    lead: int = 2
    lag: int = 1
    late: float = 0.8
    explain_weight: float = 0.8
    earlier_dependency_ratio: float = 2.0
    boundary: float = 0.6
    coverage: float = 0.15
    depth_decay: float = 0.05
    change_bonus: float = 1.0
    change_half_life_ns: int = 30 * MINUTE
    change_horizon_ns: int = 24 * 60 * MINUTE
    unobserved_change_score: float = 3.0
    max_causes: int = 5


@dataclass(frozen=True, slots=True)
class RankedCause:
    ci: CI
    score: float
    confidence: float
    confidence_label: str
    hypothesis: str
    onset_ns: int | None
    signal_ids: tuple[str, ...]
    change_ids: tuple[str, ...]
    factors: dict[str, float]
    explained_dependents: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Ranking:
    causes: tuple[RankedCause, ...]
    symptom_onset_ns: int | None
    symptom_strength: float
    # Signals anomalous at the moments that matter, by CI (what the evidence list shows).
    relevant: dict[str, tuple[Signal, ...]] = field(default_factory=dict)
    relevant_changes: tuple[ChangeRecord, ...] = ()

    @property
    def outcome(self) -> str:
        return "cause_identified" if self.causes else "nothing_anomalous"


def ci_strength(signals: list[Signal], corroboration: int) -> dict[int, float]:
    """Per time point, the sum of the `corroboration` strongest signal strengths of one CI."""
    at: dict[int, list[float]] = defaultdict(list)
    for s in signals:
        for t, v in s.points:
            at[t].append(v)
    return {t: sum(sorted(vs, reverse=True)[:corroboration]) for t, vs in sorted(at.items())}


def relevant_times(symptom: dict[int, float], threshold: float, incident_ns: int, resolution_ns: int,
                   params: RankingParams) -> tuple[int | None, list[tuple[int, int]]]:
    """The symptom's onset and the time ranges in which a cause's anomaly counts."""
    hot = [t for t, v in symptom.items() if v >= threshold]
    lead, lag = params.lead * resolution_ns, params.lag * resolution_ns
    if hot:
        return hot[0], [(t - lead, t) for t in hot]
    return None, [(incident_ns - lead, incident_ns + lag)]


def _within(t: int, ranges: list[tuple[int, int]]) -> bool:
    return any(lo <= t <= hi for lo, hi in ranges)


def change_weight(change: ChangeRecord, anchor_ns: int, resolution_ns: int, params: RankingParams) -> float:
    """0..1: how much a change explains trouble that began at anchor (recent and implemented: near 1)."""
    status = IMPLEMENTED_CHANGE.get(change.status, 0.0)
    if not status or change.start_ns > anchor_ns + resolution_ns:
        return 0.0
    gap = max(0, anchor_ns - change.start_ns)
    if gap > params.change_horizon_ns:
        return 0.0
    return status * math.exp(-gap * math.log(2) / params.change_half_life_ns)


def hypothesis(ci: CI, signals: list[Signal], change: float) -> str:
    if change >= 0.25:
        return "bad_change"
    if not signals:
        return "unknown"
    fam = max(signals, key=lambda s: s.peak).family
    if fam == "saturation":
        return "resource_exhaustion"
    if fam in ("errors", "availability"):
        return "dependency_outage" if ci.cls in DEPENDENCY_CLASSES else "error_spike"
    if fam == "latency":
        return "latency_degradation"
    if fam == "traffic":
        return "traffic_surge"
    return "unknown"


def confidence(score: float, runner_up: float) -> tuple[float, str]:
    absolute = 1 - math.exp(-score / 3)
    margin = (score - runner_up) / score if score > 0 else 0.0
    value = round(absolute * (0.5 + 0.5 * margin), 3)
    return value, "high" if value >= 0.6 else "medium" if value >= 0.35 else "low"


def rank(hood: Neighbourhood, signals: list[Signal], changes: list[ChangeRecord], incident_ns: int,
         resolution_ns: int, params: RankingParams | None = None) -> Ranking:
    params = params or RankingParams()
    theta = params.anomaly_threshold
    by_ci: dict[str, list[Signal]] = defaultdict(list)
    for s in signals:
        by_ci[s.ci_id].append(s)
    strength = {c: ci_strength(by_ci[c], params.corroboration) for c in hood.cis}
    symptom: dict[int, float] = defaultdict(float)
    for c in hood.incident_ci_ids:
        for t, v in strength.get(c, {}).items():
            symptom[t] = max(symptom[t], v)
    symptom = dict(sorted(symptom.items()))
    symptom_strength = max(symptom.values(), default=0.0)
    symptom_onset, ranges = relevant_times(symptom, params.symptom_threshold, incident_ns, resolution_ns, params)
    anchor = symptom_onset if symptom_onset is not None else incident_ns

    changes_by_ci: dict[str, list[ChangeRecord]] = defaultdict(list)
    for ch in changes:
        for c in ch.ci_ids:
            if c in hood.cis:
                changes_by_ci[c].append(ch)

    peak: dict[str, float] = {}
    onset: dict[str, int | None] = {}
    for c in hood.cis:
        counted = [(t, v) for t, v in strength[c].items() if _within(t, ranges)]
        peak[c] = max((v for _, v in counted), default=0.0)
        onset[c] = next((t for t, v in counted if v >= theta), None)
        if not by_ci[c]:
            # No telemetry: a change just before the symptom is all that can be seen, and is a suspect.
            recent = [(change_weight(ch, anchor, resolution_ns, params), ch.start_ns) for ch in changes_by_ci[c]]
            weight, started = max(recent, default=(0.0, None))
            if weight > 0:
                peak[c], onset[c] = params.unobserved_change_score * weight, started

    def anomalous(c: str) -> bool:
        return peak.get(c, 0.0) >= theta and onset.get(c) is not None

    relevant = {c: tuple(sorted((s for s in by_ci[c] if any(v >= theta and _within(t, ranges) for t, v in s.points)),
                                key=lambda s: -s.peak)) for c in hood.cis}
    relevant = {c: sigs for c, sigs in relevant.items() if sigs}
    latest = anchor + params.lag * resolution_ns

    scored: list[tuple[float, str, dict[str, float], tuple[str, ...], tuple[str, ...]]] = []
    for c in hood.cis:
        if not anomalous(c) or onset[c] > latest:  # a cause precedes its effects
            continue
        observed = bool(by_ci[c])
        weights = {ch.evidence_id: change_weight(ch, onset[c], resolution_ns, params) for ch in changes_by_ci[c]}
        weights = {k: w for k, w in weights.items() if w > 0}
        change = max(weights.values(), default=0.0)
        deps = hood.dependencies.get(c, frozenset())
        explained = 0.0
        for d in deps:
            if d != c and anomalous(d) and onset[d] <= onset[c]:
                if not by_ci[d]:  # an unobserved dependency changed just before: explained as recent as it is
                    explained = max(explained, peak[d] / params.unobserved_change_score)
                    continue
                ratio = params.earlier_dependency_ratio if onset[d] < onset[c] else 1.0
                explained = max(explained, min(1.0, ratio * peak[d] / peak[c]))
        root = 1 - params.explain_weight * explained
        passes_through = hood.cis[c].cls in PASS_THROUGH_CLASSES and not any(by_ci[d] for d in deps if d != c)
        boundary = params.boundary if passes_through else 1.0
        covered = tuple(u for u in hood.dependents(c) if anomalous(u) and onset[u] >= onset[c])
        coverage = 1 + params.coverage * len(covered)
        late = 1.0 if onset[c] <= anchor else params.late
        topo = 1 / (1 + params.depth_decay * hood.depth.get(c, 0))
        changed = 1 + params.change_bonus * change if observed else 1.0
        score = peak[c] * root * boundary * coverage * late * topo * changed
        factors = {"anomaly": round(peak[c], 3), "propagation": round(root, 3), "boundary": boundary,
                   "coverage": round(coverage, 3), "time": late, "topology": round(topo, 3),
                   "change": round(change, 3), "observed": 1.0 if observed else 0.0}
        scored.append((score, c, factors, tuple(weights), covered))

    scored.sort(key=lambda x: (-x[0], hood.depth.get(x[1], 99), x[1]))
    # The incident's CIs are observed and show nothing: a claim needs much stronger evidence.
    quiet = symptom_onset is None and any(by_ci[c] for c in hood.incident_ci_ids)
    needed = params.quiet_symptom_threshold if quiet else params.name_threshold
    named = [x for x in scored if x[0] >= needed][: params.max_causes]
    causes = []
    for i, (score, c, factors, change_ids, covered) in enumerate(named):
        runner_up = named[i + 1][0] if i + 1 < len(named) else 0.0
        conf, label = confidence(score, runner_up)
        sigs = list(relevant.get(c, ()))
        causes.append(RankedCause(
            ci=hood.cis[c], score=round(score, 4), confidence=conf, confidence_label=label,
            hypothesis=hypothesis(hood.cis[c], sigs, factors.get("change", 0.0)), onset_ns=onset[c],
            signal_ids=tuple(s.evidence_id for s in sigs), change_ids=change_ids, factors=factors,
            explained_dependents=covered))
    cited = {i for cause in causes for i in cause.change_ids}
    return Ranking(causes=tuple(causes), symptom_onset_ns=symptom_onset, symptom_strength=round(symptom_strength, 4),
                   relevant=relevant, relevant_changes=tuple(ch for ch in changes if ch.evidence_id in cited))
