"""Evidence scoring and cause ranking (pure): signals against their baselines, propagation along dependencies,
time, changes, thresholds, hypotheses and confidence."""

from __future__ import annotations

import math

import pytest

from services.ai.rca import signals as sg
from services.ai.rca.model import CI, ChangeRecord, Neighbourhood, Signal
from services.ai.rca.ranking import RankingParams, change_weight, rank

MIN = 60 * 1_000_000_000
T = 1_000_000 * MIN  # the incident's time
BASE = sg.Baseline(count=500, median=100.0, mad=5.0, q01=85.0, q99=120.0)


def hood(edges: dict[str, list[str]], incident: tuple[str, ...] = ("web",), classes: dict[str, str] | None = None,
         depth: dict[str, int] | None = None) -> Neighbourhood:
    """edges: ci -> its dependencies (what it depends on). Every named CI is a candidate."""
    names = set(edges) | {d for ds in edges.values() for d in ds} | set(incident)
    cis = {n: CI(n, n, (classes or {}).get(n, "service"), service=n) for n in names}
    if depth is None:
        depth = {c: 0 for c in incident}
        frontier = list(incident)
        while frontier:
            nxt = []
            for c in frontier:
                for d in edges.get(c, []):
                    if d not in depth:
                        depth[d] = depth[c] + 1
                        nxt.append(d)
            frontier = nxt
    return Neighbourhood(incident, cis, depth, {n: () for n in names},
                         {n: frozenset(edges.get(n, [])) for n in names})


def series(ci: str, values: list[float], name: str = "latency_ms", baseline: sg.Baseline = BASE,
           start: int = T - 10 * MIN) -> Signal:
    points = [(start + i * MIN, v) for i, v in enumerate(values)]
    s = sg.metric_signal(ci_id=ci, service=ci, metric_name=name, labels={}, metric_type="gauge", baseline=baseline,
                         points=points, source_url=f"/api/metrics/query?metric_name={name}&service={ci}")
    assert s is not None
    return s


FLAT = [100.0] * 16
# Normal until the 10th minute (the incident's time), then far out.
SPIKE = [100.0] * 10 + [600.0] * 6
EARLY_SPIKE = [100.0] * 8 + [600.0] * 8


def test_excess_and_strength_follow_the_baseline():
    normal = sg.normal_range(100, 2, 85, 120, count=False)
    assert sg.excess(110, normal, 1) == 0  # inside the normal extremes
    assert sg.excess(160, normal, 1) == pytest.approx(2.0)  # three times the normal upward deviation
    # A wide MAD widens the normal range beyond the percentiles (three robust standard deviations).
    assert sg.normal_range(100, 10, 85, 120, count=False).up == pytest.approx(3 * 1.4826 * 10)
    assert sg.excess(40, normal, 1) == 0  # latency down is not trouble
    assert sg.excess(40, normal, 0) == pytest.approx(60 / 15 - 1)
    assert sg.excess(float("nan"), normal, 0) == 0
    # A flat baseline still has a floor: 1 % of the median for gauges, Poisson spread for counts.
    assert sg.normal_range(100, 0, 100, 100, count=False).up == pytest.approx(1.0)
    assert sg.normal_range(0, 0, 0, 0, count=True).up == pytest.approx(3.0)
    strengths = sg.strengths([(1, 100.0), (2, 700.0)], normal, 1)
    assert strengths[0][1] == 0 and strengths[1][1] == pytest.approx(math.log2(30))  # excess 600 / 20 - 1


def test_an_anomaly_present_at_the_window_start_is_not_new():
    normal = sg.normal_range(100, 2, 85, 120, count=False)
    chronic = sg.strengths([(1, 600.0), (2, 600.0), (3, 640.0)], normal, 1)
    assert [v for _, v in chronic] == [0, 0, pytest.approx(math.log2(1 + 40 / 20))]


def test_families_and_directions_come_from_names():
    assert sg.family("http_server_duration_p99") == "latency"
    assert sg.family("availability") == "availability" and sg.direction("availability") == -1
    assert sg.family("db_pool_connections_in_use") == "saturation"
    assert sg.family("errors_total") == "errors"
    assert sg.family("requests") == "traffic" and sg.direction("traffic") == 0
    assert sg.evidence_id("metric", "api", "latency") == sg.evidence_id("metric", "api", "latency")
    assert sg.evidence_id("metric", "api", "latency").startswith("ev:metric:")


def test_the_deepest_anomalous_dependency_with_healthy_dependencies_is_blamed():
    h = hood({"web": ["api"], "api": ["db", "cache"], "db": ["disk"]}, classes={"db": "database"})
    sigs = [series("web", SPIKE), series("api", SPIKE), series("db", EARLY_SPIKE), series("cache", FLAT),
            series("disk", FLAT)]
    r = rank(h, sigs, [], T, MIN)
    assert r.outcome == "cause_identified"
    assert [c.ci.id for c in r.causes][:1] == ["db"]
    top = r.causes[0]
    assert top.hypothesis == "latency_degradation" and top.factors["propagation"] == 1.0
    # api went wrong after db: explained, ranked below
    api = next(c for c in r.causes if c.ci.id == "api") if any(c.ci.id == "api" for c in r.causes) else None
    assert api is None or api.score < top.score / 2
    assert set(top.explained_dependents) == {"api"}


def test_a_dependency_that_went_wrong_first_beats_the_service_above_it_even_when_weaker():
    h = hood({"web": ["api"], "api": ["db"]}, classes={"db": "database"})
    weaker_earlier = [100.0] * 8 + [200.0] * 8
    r = rank(h, [series("web", SPIKE), series("api", SPIKE), series("db", weaker_earlier)], [], T, MIN)
    assert r.causes[0].ci.id == "db"
    # In the same step, a much weaker dependency explains only its share: the service keeps the blame.
    same_step = [100.0] * 10 + [130.0] * 6
    r = rank(h, [series("web", SPIKE), series("api", SPIKE), series("db", same_step)], [], T, MIN)
    assert r.causes[0].ci.id == "api"


def test_a_boundary_ci_yields_to_an_observed_one_with_healthy_dependencies():
    # Two views of one fault: the service (its own dependencies observed and healthy) and an endpoint with no
    # observed dependencies; the endpoint's series deviates a little more.
    h = hood({"web": ["svc", "endpoint"], "svc": ["store"]}, classes={"endpoint": "load_balancer"})
    stronger = [100.0] * 10 + [700.0] * 6
    r = rank(h, [series("web", SPIKE), series("svc", SPIKE), series("endpoint", stronger),
                 series("store", FLAT)], [], T, MIN)
    assert [c.ci.id for c in r.causes][:2] == ["svc", "endpoint"]
    assert r.causes[1].factors["boundary"] == RankingParams().boundary


def test_downstream_and_unrelated_anomalies_are_never_candidates():
    # "shop" depends on web (downstream of the incident) and "batch" is unrelated: neither is in the
    # neighbourhood, so their signals are ignored however strong.
    h = hood({"web": ["api"]})
    r = rank(h, [series("web", SPIKE), series("api", EARLY_SPIKE), series("shop", [100.0] * 5 + [9000.0] * 11),
                 series("batch", [9000.0] * 16)], [], T, MIN)
    assert [c.ci.id for c in r.causes] == ["api"] or r.causes[0].ci.id == "api"
    assert all(c.ci.id in h.cis for c in r.causes)


def test_nothing_anomalous_names_no_cause():
    h = hood({"web": ["api", "db"]})
    r = rank(h, [series("web", FLAT), series("api", FLAT), series("db", [100, 104, 97, 110, 99] + [100.0] * 11)],
             [], T, MIN)
    assert r.causes == () and r.outcome == "nothing_anomalous"


def test_a_quiet_symptom_needs_much_stronger_evidence():
    h = hood({"web": ["api"]})
    mild = [100.0] * 10 + [150.0] * 6  # strength ~1.2: enough beside a visible symptom, not beside a quiet one
    assert rank(h, [series("web", FLAT), series("api", mild)], [], T, MIN).causes == ()
    assert "api" in [c.ci.id for c in rank(h, [series("web", SPIKE), series("api", mild)], [], T, MIN).causes]
    assert rank(h, [series("web", FLAT), series("api", SPIKE)], [], T, MIN).causes[0].ci.id == "api"
    # With no telemetry on the incident's CI at all, the normal threshold applies.
    assert rank(h, [series("api", mild)], [], T, MIN).causes[0].ci.id == "api"


def test_an_anomaly_after_the_symptom_does_not_count():
    h = hood({"web": ["api", "db"]})
    late = [100.0] * 14 + [900.0] * 2  # four minutes after the symptom began: an effect, not the cause
    r = rank(h, [series("web", SPIKE), series("api", late), series("db", SPIKE)], [], T, MIN)
    assert [c.ci.id for c in r.causes][0] == "db"
    assert "api" not in [c.ci.id for c in r.causes]


def change(ci: str, minutes_before: int, ref: str = "CHG-00000001", status: str = "implement") -> ChangeRecord:
    return ChangeRecord(evidence_id=f"ev:change:{ref}", reference=ref, title="deploy", status=status, ci_ids=(ci,),
                        start_ns=T - minutes_before * MIN, end_ns=T - minutes_before * MIN + 30 * MIN)


def test_a_recent_change_lifts_its_ci_and_a_change_long_before_does_not():
    h = hood({"web": ["api", "db"]})
    sigs = [series("web", SPIKE), series("api", SPIKE), series("db", SPIKE)]
    recent = rank(h, sigs, [change("api", 5, "CHG-00000002")], T, MIN)
    assert recent.causes[0].ci.id == "api" and recent.causes[0].hypothesis == "bad_change"
    assert recent.causes[0].change_ids == ("ev:change:CHG-00000002",)
    old = rank(h, sigs, [change("api", 3 * 24 * 60, "CHG-00000003")], T, MIN)
    assert old.causes[0].factors["change"] == 0 and old.causes[0].hypothesis != "bad_change"
    assert change_weight(change("api", 30), T, MIN, RankingParams()) == pytest.approx(0.5, rel=0.01)
    assert change_weight(change("api", 5, status="new"), T, MIN, RankingParams()) == 0  # never implemented
    assert change_weight(change("api", -20), T, MIN, RankingParams()) == 0  # began after the trouble


def test_an_unobserved_ci_with_a_change_just_before_is_a_suspect():
    h = hood({"web": ["api", "firewall"]})
    r = rank(h, [series("web", SPIKE), series("api", FLAT)], [change("firewall", 4)], T, MIN)
    assert r.causes[0].ci.id == "firewall" and r.causes[0].hypothesis == "bad_change"
    assert r.causes[0].factors["observed"] == 0 and r.causes[0].change_ids == ("ev:change:CHG-00000001",)
    # The same change a day earlier explains nothing: the symptom's CI is its own best explanation.
    r = rank(h, [series("web", SPIKE), series("api", FLAT)], [change("firewall", 26 * 60)], T, MIN)
    assert [c.ci.id for c in r.causes] == ["web"]


def test_hypotheses_follow_the_strongest_signal_and_the_class():
    h = hood({"web": ["db"]}, classes={"db": "database"})
    errors = series("db", [0.0] * 10 + [50.0] * 6, name="errors_total",
                    baseline=sg.Baseline(500, 0, 0, 0, 1))
    r = rank(h, [series("web", SPIKE), errors], [], T, MIN)
    assert r.causes[0].hypothesis == "dependency_outage"
    h2 = hood({"web": ["api"]})
    pool = series("api", [10.0] * 10 + [100.0] * 6, name="db_pool_in_use", baseline=sg.Baseline(500, 10, 1, 8, 12))
    assert rank(h2, [series("web", SPIKE), pool], [], T, MIN).causes[0].hypothesis == "resource_exhaustion"


def test_confidence_reflects_strength_and_margin():
    h = hood({"web": ["a", "b"]})
    clear = rank(h, [series("web", SPIKE), series("a", [100.0] * 8 + [5000.0] * 8), series("b", FLAT)], [], T, MIN)
    close = rank(h, [series("web", SPIKE), series("a", EARLY_SPIKE), series("b", EARLY_SPIKE)], [], T, MIN)
    assert clear.causes[0].confidence_label == "high"
    assert close.causes[0].confidence < clear.causes[0].confidence
    assert close.causes[0].confidence_label in ("low", "medium")


def test_operation_and_log_signals():
    ops = sg.operation_signals(
        ci_id="api", service="api", operation="GET /x", baseline_spans=10_000, baseline_errors=10,
        baseline_p95=sg.Baseline(100, 20, 2, 15, 30), steps=[(1, 100, 0, 21.0), (2, 100, 60, 400.0)],
        sample_message="boom", errors_url="e", latency_url="l")
    errors, latency = ops
    assert errors.family == "errors" and errors.points[0][1] == 0 and errors.points[1][1] > 3
    assert latency.family == "latency" and latency.points[1][1] > 3
    new = sg.log_signal(ci_id="api", service="api", template="connection refused to <ip>", level="error",
                        baseline_count=0, baseline_steps=100, points=[(1, 2.0), (2, 40.0)], sample="x",
                        source_url="u")
    assert new.points[0][1] == 0 and new.points[1][1] > 3
    steady = sg.log_signal(ci_id="api", service="api", template="cache miss", level="error", baseline_count=1000,
                           baseline_steps=100, points=[(1, 10.0), (2, 12.0)], sample="x", source_url="u")
    assert steady.peak == 0


def test_a_count_first_seen_inside_the_window_started_from_zero():
    # Logs of a new error exist only from the fault on: their first bucket is not "the level at the start".
    new = sg.log_signal(ci_id="db", service="db", template="FATAL: too many connections", level="error",
                        baseline_count=0, baseline_steps=100, points=[(T + i * MIN, 30.0) for i in range(5)],
                        sample="x", source_url="u", window_start_ns=T - 60 * MIN, step_ns=MIN)
    assert all(v > 3 for _, v in new.points)
    # The same counts present from the window's first step on are an old condition: nothing new.
    old = sg.log_signal(ci_id="db", service="db", template="FATAL: too many connections", level="error",
                        baseline_count=0, baseline_steps=100, points=[(T + i * MIN, 30.0) for i in range(5)],
                        sample="x", source_url="u", window_start_ns=T, step_ns=MIN)
    assert old.peak == 0
