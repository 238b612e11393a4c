"""From gathered evidence and a ranking to a result: the evidence list (with stable ids and source links), the
causes with their explanations, and the template summary used when no LLM writes the narrative. Pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from services.ai.rca.model import Cause, ChangeRecord, Evidence, Gathered, RcaResult, Sentence, Signal
from services.ai.rca.ranking import Ranking, RankingParams, change_weight

NS = 1_000_000_000
HYPOTHESES = {
    "bad_change": "a change made shortly before the trouble",
    "resource_exhaustion": "resource exhaustion",
    "error_spike": "a spike of errors",
    "latency_degradation": "degraded latency",
    "dependency_outage": "an outage of a dependency",
    "traffic_surge": "a surge of traffic",
    "unknown": "an anomaly of unknown kind",
}
MAX_SIGNALS_PER_CAUSE = 6
MAX_CONTEXT_SIGNALS = 15
MAX_CHANGES = 20


def at(ns: int | None) -> datetime | None:
    return datetime.fromtimestamp(ns / NS, tz=UTC) if ns is not None else None


def clock(ns: int | None) -> str:
    return at(ns).strftime("%Y-%m-%d %H:%M:%S UTC") if ns is not None else "unknown"


def _num(value: float) -> str:
    return f"{value:.4g}"


def describe(s: Signal) -> str:
    """One line on what a signal shows."""
    d = s.detail
    if s.kind == "metric":
        normal = f"normal {_num(d['baseline_q01'])}..{_num(d['baseline_q99'])}"
        return f"{s.title} reached {_num(d['peak'])} ({normal}, median {_num(d['baseline_median'])})"
    if s.kind == "log":
        return (f"{d['level']} logs \"{d['template'][:100]}\": {d['window_count']} in the window, "
                f"{d['baseline_count']} in the baseline")
    if s.family == "errors":
        return (f"{d['window_errors']} failing spans of {d['operation']} out of {d['window_spans']} "
                f"(baseline error ratio {d['baseline_error_ratio']:.2%})")
    return f"p95 duration of {d['operation']} reached {_num(d['peak_p95_ms'])} ms (baseline {_num(d['baseline_p95_ms'])} ms)"


def signal_evidence(s: Signal, g: Gathered, threshold: float) -> Evidence:
    ci = g.hood.cis.get(s.ci_id)
    onset = next((t for t, v in s.points if v >= threshold), None)
    detail = {**s.detail, "description": describe(s), "family": s.family}
    return Evidence(id=s.evidence_id, kind=s.kind, ci_id=s.ci_id, ci_name=ci.name if ci else s.ci_id,
                    service=ci.service if ci else "", title=s.title, detail=detail, source_url=s.source_url,
                    strength=round(s.peak, 3), onset=at(onset))


def change_evidence(ch: ChangeRecord, g: Gathered, anchor_ns: int, weight: float) -> Evidence:
    names = [g.hood.cis[c].name for c in ch.ci_ids if c in g.hood.cis]
    minutes = round((anchor_ns - ch.start_ns) / NS / 60)
    timing = f"began {minutes} min before the trouble" if minutes >= 0 else f"began {-minutes} min after"
    return Evidence(
        id=ch.evidence_id, kind="change", ci_id=next((c for c in ch.ci_ids if c in g.hood.cis), ""),
        ci_name=", ".join(names), service="", title=f"{ch.reference} {ch.title}",
        detail={"reference": ch.reference, "status": ch.status, "ci_ids": list(ch.ci_ids), "start": at(ch.start_ns),
                "end": at(ch.end_ns), "description": f"change {ch.reference} \"{ch.title}\" ({ch.status}) {timing}",
                "weight": round(weight, 3)},
        source_url=ch.source_url, strength=round(weight, 3), onset=at(ch.start_ns))


def topology_evidence(ci_id: str, g: Gathered) -> Evidence:
    ci = g.hood.cis[ci_id]
    names = [g.hood.cis[c].name if c in g.hood.cis else c for c in g.hood.path.get(ci_id, (ci_id,))]
    depth = g.hood.depth.get(ci_id, 0)
    if depth == 0:
        description = f"{ci.name} is one of the incident's CIs"
    else:
        description = (f"{ci.name} ({ci.cls or 'CI'}) is {depth} hop(s) upstream of the incident's CIs: "
                       + " <- ".join(reversed(names)))
    origin = g.hood.path.get(ci_id, (ci_id,))[0]
    return Evidence(id=f"ev:ci:{ci_id}", kind="topology", ci_id=ci_id, ci_name=ci.name, service=ci.service,
                    title=f"{ci.name} in the dependency graph",
                    detail={"class": ci.cls, "criticality": ci.criticality, "depth": depth, "path": names,
                            "description": description,
                            "dependencies": sorted(g.hood.cis[d].name for d in g.hood.dependencies.get(ci_id, ())
                                                   if d in g.hood.cis and d != ci_id)},
                    source_url=f"/api/cmdb/impact?ci_id={origin}&direction=upstream" if depth else
                    f"/api/cmdb/items/{ci_id}")


def build(g: Gathered, ranking: Ranking, params: RankingParams, *, result_id: str, tenant_id: str, trigger: str,
          requested_by: str, created_at: datetime, completed_at: datetime) -> RcaResult:
    theta = params.anomaly_threshold
    evidence: dict[str, Evidence] = {}

    def add(e: Evidence) -> None:
        evidence.setdefault(e.id, e)

    anchor = ranking.symptom_onset_ns if ranking.symptom_onset_ns is not None else int(g.at.timestamp() * NS)
    causes: list[Cause] = []
    for i, rc in enumerate(ranking.causes, start=1):
        ids: list[str] = []
        for s in ranking.relevant.get(rc.ci.id, ())[:MAX_SIGNALS_PER_CAUSE]:
            add(signal_evidence(s, g, theta))
            ids.append(s.evidence_id)
        for ch in g.changes:
            if ch.evidence_id in rc.change_ids:
                add(change_evidence(ch, g, rc.onset_ns or anchor, change_weight(ch, rc.onset_ns or anchor,
                                                                                g.resolution_ns, params)))
                ids.append(ch.evidence_id)
        add(topology_evidence(rc.ci.id, g))
        ids.append(f"ev:ci:{rc.ci.id}")
        causes.append(Cause(
            rank=i, ci_id=rc.ci.id, ci_name=rc.ci.name, service=rc.ci.service, score=rc.score,
            confidence=rc.confidence, confidence_label=rc.confidence_label, hypothesis=rc.hypothesis,
            explanation=explain(rc, g, ranking, anchor), evidence_ids=tuple(ids), onset=at(rc.onset_ns),
            factors=rc.factors))
    for c in g.hood.incident_ci_ids:
        for s in ranking.relevant.get(c, ())[:4]:
            add(signal_evidence(s, g, theta))
    context = sorted((s for sigs in ranking.relevant.values() for s in sigs if s.evidence_id not in evidence),
                     key=lambda s: -s.peak)
    for s in context[:MAX_CONTEXT_SIGNALS]:
        add(signal_evidence(s, g, theta))
    for ch in g.changes[-MAX_CHANGES:]:
        add(change_evidence(ch, g, anchor, change_weight(ch, anchor, g.resolution_ns, params)))
    summary = summarise(g, ranking, causes, evidence)
    return RcaResult(
        id=result_id, tenant_id=tenant_id, incident_id=g.incident.id, incident_reference=g.incident.reference,
        status="completed", mode="deterministic", outcome=ranking.outcome, summary=summary, causes=tuple(causes),
        evidence=tuple(evidence.values()), narrative=(), narrative_status="none", window=g.window,
        baseline=g.baseline, symptom_onset=at(ranking.symptom_onset_ns), candidates_considered=len(g.hood.cis),
        gaps=tuple(g.gaps), trigger=trigger, requested_by=requested_by, created_at=created_at,
        completed_at=completed_at, duration_ms=int((completed_at - created_at).total_seconds() * 1000))


def explain(rc, g: Gathered, ranking: Ranking, anchor: int) -> str:
    parts = [f"{rc.ci.name}: {HYPOTHESES[rc.hypothesis]}"]
    if rc.onset_ns is not None:
        lead = round((anchor - rc.onset_ns) / NS / 60)
        timing = (f"{lead} min before the symptom" if lead > 0 else "with the symptom" if lead == 0
                  else f"{-lead} min after the symptom")
        parts.append(f"deviating from {clock(rc.onset_ns)} ({timing})")
    sigs = ranking.relevant.get(rc.ci.id, ())
    if sigs:
        parts.append("; ".join(describe(s) for s in sigs[:2]))
    if rc.factors.get("propagation", 1.0) >= 0.99 and rc.factors.get("observed", 1.0):
        parts.append("its own dependencies stayed healthy")
    elif rc.factors.get("propagation", 1.0) < 0.99:
        parts.append("an anomalous dependency explains part of it")
    if rc.explained_dependents:
        parts.append("it explains the trouble of " + ", ".join(g.hood.cis[c].name for c in rc.explained_dependents))
    for ch in g.changes:
        if ch.evidence_id in rc.change_ids:
            parts.append(f"change {ch.reference} \"{ch.title}\" began {round((anchor - ch.start_ns) / NS / 60)} min "
                         "before the trouble")
    return "; ".join(parts) + "."


def summarise(g: Gathered, ranking: Ranking, causes: list[Cause], evidence: dict[str, Evidence]) -> str:
    incident_cis = ", ".join(g.hood.cis[c].name for c in g.hood.incident_ci_ids if c in g.hood.cis) or "its CIs"
    window = f"between {clock(int(g.window.start.timestamp() * NS))} and {clock(int(g.window.end.timestamp() * NS))}"
    gaps = f" Not consulted: {'; '.join(g.gaps)}." if g.gaps else ""
    if not causes:
        considered = len(g.hood.cis)
        if not g.hood.cis:
            return f"The incident names no configuration item, so there is nothing to analyse.{gaps}"
        return (f"Nothing anomalous was found: the telemetry of {considered} CI(s) ({incident_cis} and what they "
                f"depend on) stayed within its baseline {window}, and no implemented change on them explains the "
                f"trouble. No cause is named.{gaps}")
    top = causes[0]
    text = (f"Probable cause: {top.ci_name} ({HYPOTHESES[top.hypothesis]}), confidence {top.confidence_label} "
            f"({top.confidence:.2f}). {top.explanation}")
    if ranking.symptom_onset_ns is not None:
        text += f" The symptom on {incident_cis} began at {clock(ranking.symptom_onset_ns)}."
    if len(causes) > 1:
        text += " Also considered: " + ", ".join(f"{c.ci_name} ({c.score:.2f})" for c in causes[1:4]) + "."
    return text + gaps


def with_narrative(result: RcaResult, sentences: tuple[Sentence, ...], dropped, completed: datetime) -> RcaResult:
    text = " ".join(s.text for s in sentences)
    return replace(result, mode="llm", narrative=sentences, narrative_status="done", summary=text or result.summary,
                   dropped_claims=tuple(dropped), completed_at=completed, llm_error="")
