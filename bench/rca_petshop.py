"""Benchmark: root-cause analysis on the PetShop dataset (Hardt et al., amazon-science/petshop-root-cause-analysis),
through Vigil's own HTTP API, with no LLM.

Starts everything on this machine as `vigil up` does (a local Kafka broker, the five services and the gateway as
separate processes) with telemetry kept for ten years (the dataset is from 2023, and a row older than its
retention is dropped on insert). For every scenario directory (one with a graph.csv) of --dataset:

- the call graph becomes CMDB items and relations (bulk import): an edge A -> B means A calls B, so A
  `depends_on` B (B failing hurts A). X-Ray node types become CI classes (`*.elb.*_remote` load_balancer, other
  `_remote` nodes remote_endpoint, DynamoDB and SQL databases database, SQS queue, S3 storage, API Gateway
  api_gateway, Lambda function, ECS service, `_client` client, other AWS services saas);
- the metrics go to observability with their real timestamps (POST /api/metrics): latency and availability as
  gauges labelled by their statistic, requests as delta sums;
- the normal data (`noissue/metrics.csv`) is the baseline. A scenario without one (the temporal ones of the
  train split) takes the normal data of every other scenario of the directory, ingested into its own tenant
  with their real timestamps, as its baseline: the same application, measured on other days;
- every issue (`<split>/issue_N/` with metrics.csv and target.json, whatever the split is called) gets an
  incident on its target node, and `POST /api/rca` with `at` = the target time, the window = the span of the
  issue's data, the baseline = the normal data's span. Issues whose spans overlap go to separate tenants.

Then, for specificity, windows of normal data (the same length as an issue's, from the second half of each
`noissue` file, against the normal data before them) are analysed the same way: no cause should be named.

Prints top-1 and top-3 recall of the ground-truth root cause per scenario and overall, specificity, and the
latency of POST /api/rca (p50/p99) beside a bare GET /api/incidents/{id} measured in the same run.

    .venv/bin/python bench/rca_petshop.py --dataset ../shared/datasets/petshop [--normal-windows 12]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("VIGIL_CACHE_DIR", str(REPO / ".cache"))

from tests.support import api  # noqa: E402
from vigil.stack import Stack  # noqa: E402

BATCH = 5000
STEP = 300  # the dataset's resolution (CloudWatch 5-minute statistics)


@dataclass
class Table:
    """metrics.csv: (node, metric, statistic) -> [(unix seconds, value)], NaN cells left out."""

    series: dict[tuple[str, str, str], list[tuple[float, float]]]
    times: list[float]

    @classmethod
    def read(cls, path: Path) -> Table:
        with path.open() as f:
            rows = list(csv.reader(f))
        nodes, metrics, stats = rows[0][1:], rows[1][1:], rows[2][1:]
        body = [r for r in rows[3:] if r and r[0] and r[0] != "unix_timestamp"]
        times = [float(r[0]) for r in body]
        series: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
        for j, key in enumerate(zip(nodes, metrics, stats, strict=True)):
            points = []
            for t, r in zip(times, body, strict=True):
                cell = r[j + 1] if j + 1 < len(r) else ""
                if cell not in ("", "nan", "NaN"):
                    value = float(cell)
                    if math.isfinite(value):
                        points.append((t, value))
            if points:
                series.setdefault(key, []).extend(points)
        return cls(series, times)

    def span(self) -> tuple[float, float]:
        return min(self.times), max(self.times) + STEP

    def slice(self, start: float, end: float) -> Table:
        return Table({k: [p for p in v if start <= p[0] < end] for k, v in self.series.items()},
                     [t for t in self.times if start <= t < end])


@dataclass
class Issue:
    name: str
    table: Table
    target: str
    target_time: float
    root_cause: str | None


@dataclass
class Scenario:
    name: str
    edges: list[tuple[str, str]]
    nodes: list[str]
    normal: Table | None
    issues: list[Issue] = field(default_factory=list)


def read_graph(path: Path) -> tuple[list[str], list[tuple[str, str]]]:
    with path.open() as f:
        rows = list(csv.reader(f))
    names = rows[0][1:]
    edges = [(row[0], names[j]) for row in rows[1:] for j, cell in enumerate(row[1:])
             if cell.strip() not in ("", "0", "0.0") and row[0] != names[j]]
    return sorted(set(names) | {r[0] for r in rows[1:]}), edges


def load(dataset: Path) -> list[Scenario]:
    scenarios = []
    for graph in sorted(dataset.glob("*/graph.csv")):
        root = graph.parent
        nodes, edges = read_graph(graph)
        normal = root / "noissue" / "metrics.csv"
        scenario = Scenario(root.name, edges, nodes, Table.read(normal) if normal.exists() else None)
        for target in sorted(root.glob("*/issue_*/target.json"), key=lambda p: (p.parent.parent.name,
                                                                               int(p.parent.name.split("_")[-1]))):
            meta = json.loads(target.read_text())
            scenario.issues.append(Issue(f"{target.parent.parent.name}/{target.parent.name}",
                                         Table.read(target.parent / "metrics.csv"), meta["target"]["node"],
                                         float(meta["target"]["timestamp"]),
                                         (meta.get("root_cause") or {}).get("node")))
        scenarios.append(scenario)
    return scenarios


def ci_class(node: str) -> str:
    """The CMDB class of an X-Ray node, from its type suffix."""
    n = node.lower()
    if n.endswith("_remote"):
        return "load_balancer" if ".elb." in n else "remote_endpoint"
    for key, cls in (("dynamodb", "database"), ("database::sql", "database"), ("::sqs", "queue"),
                     ("::s3", "storage"), ("apigateway", "api_gateway"), ("lambda", "function"), ("::ecs", "service"),
                     ("_client", "client")):
        if key in n:
            return cls
    return "saas" if "_aws::" in n or n.startswith("aws::") else "service"


def metric_items(table: Table) -> list[dict]:
    items = []
    for (node, metric, stat), points in table.series.items():
        counted = metric == "requests"
        for t, v in points:
            item = {"name": metric, "service": node, "value": v, "timestamp": t,
                    "type": "sum" if counted else "gauge", "attributes": {"statistic": stat}}
            if counted:
                item["temporality"] = "delta"
            items.append(item)
    return items


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat().replace("+00:00", "Z")


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] * 1000 if s else float("nan")


async def post(client: api.TenantClient, path: str, payload: dict, status: int = 0) -> dict:
    resp = await client.post(path, payload)
    if resp.status >= 400 or (status and resp.status != status):
        raise SystemExit(f"POST {path}: {resp.status} {str(resp.body)[:500]}")
    return resp.body["data"]


def lanes(issues: list[Issue]) -> list[list[Issue]]:
    """Issues whose data spans overlap go to different lanes (tenants), so no analysis sees another's data."""
    out: list[list[Issue]] = []
    for issue in sorted(issues, key=lambda i: i.table.span()[0]):
        start, _ = issue.table.span()
        for lane in out:
            if all(other.table.span()[1] + STEP <= start or issue.table.span()[1] + STEP <= other.table.span()[0]
                   for other in lane):
                lane.append(issue)
                break
        else:
            out.append([issue])
    return out


@dataclass
class Tenant:
    client: api.TenantClient
    refs: dict[str, str]


async def make_tenant(session, tenant_url: str, control_url: str, name: str, scenario: Scenario,
                      baseline: list[Table]) -> Tenant:
    client = (await api.tenant(session, tenant_url, control_url, name, roles=("admin",)))["admin"]
    made = await post(client, "/api/cmdb/import", {
        "items": [{"name": n, "class": ci_class(n), "ref": n} for n in scenario.nodes],
        "relations": [{"source_id": a, "target_id": b, "type": "depends_on"} for a, b in scenario.edges]})
    for table in baseline:
        await ingest(client, table)
    return Tenant(client, made["refs"])


async def ingest(client: api.TenantClient, table: Table) -> None:
    items = metric_items(table)
    for i in range(0, len(items), BATCH):
        await post(client, "/api/metrics", {"metrics": items[i:i + BATCH]}, status=202)


async def wait_ingested(client: api.TenantClient, table: Table) -> None:
    """The last point of the last batch is queryable (a tenant's batches are consumed in order)."""
    (node, metric, stat), points = max(table.series.items(), key=lambda kv: kv[1][-1][0])
    t = points[-1][0]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        got = await client.get("/api/metrics/query", params={
            "metric_name": metric, "service": node, "start": iso(t - 3600), "end": iso(t + 60), "step": "60s",
            "aggregation": "rate" if metric == "requests" else "avg", "label": f"statistic={stat}"})
        if got.status == 200 and any(p for s in got.body["data"]["series"] for p in s["points"]):
            return
        await asyncio.sleep(1)
    raise SystemExit("telemetry not queryable after 10 minutes")


async def analyse(client: api.TenantClient, ci: str, target: str, at: float, window: tuple[float, float],
                  baseline: tuple[float, float], latencies: list[float], anchors: list[float]) -> dict:
    incident = await post(client, "/api/incidents", {"title": f"{target}: SLO violated", "severity": "P2",
                                                     "source": "petshop", "ci_ids": [ci]})
    started = time.perf_counter()
    result = await post(client, "/api/rca", {
        "incident_id": incident["id"], "at": iso(at),
        "window": {"start": iso(window[0]), "end": iso(window[1])},
        "baseline": {"start": iso(baseline[0]), "end": iso(baseline[1])}})
    latencies.append(time.perf_counter() - started)
    started = time.perf_counter()
    await client.get(f"/api/incidents/{incident['id']}")
    anchors.append(time.perf_counter() - started)
    return result


def clip(span: tuple[float, float], days: int = 31) -> tuple[float, float]:
    return max(span[0], span[1] - days * 86400 + STEP), span[1]


async def run(args) -> None:
    scenarios = load(Path(args.dataset))
    if not scenarios:
        raise SystemExit(f"no scenario (a directory with graph.csv) in {args.dataset}")
    normals = {s.name: s.normal for s in scenarios if s.normal is not None}
    data_dir = Path(tempfile.mkdtemp(prefix="vigil-bench-rca-"))
    retention = json.dumps({"free": 3650, "pro": 3650, "enterprise": 3650})
    stack = Stack(data_dir=data_dir, ephemeral_ports=True, env={
        "VIGIL_OPERATOR_EMAIL": api.OPERATOR_EMAIL, "VIGIL_OPERATOR_PASSWORD": api.OPERATOR_PASSWORD,
        "VIGIL_LOG_LEVEL": "WARNING", "VIGIL_MAX_BODY_BYTES": str(16 * 1024 * 1024),
        "VIGIL_TELEMETRY_RETENTION_DAYS": retention, "VIGIL_LLM_BASE_URL": ""})
    latencies: list[float] = []
    anchors: list[float] = []
    report: list[tuple[str, int, int, int]] = []
    misses: list[str] = []
    normal_named = normal_total = 0
    started_all = time.perf_counter()
    try:
        stack.env["VIGIL_KAFKA_BOOTSTRAP"] = await asyncio.to_thread(stack.start_kafka)
        await asyncio.to_thread(stack.start)
        tenant_url = f"http://127.0.0.1:{stack.ports['tenant']}"
        control_url = f"http://127.0.0.1:{stack.ports['control']}"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=900)) as session:
            for scenario in scenarios:
                own = scenario.normal is not None
                baseline_tables = [scenario.normal] if own else [normals[n] for n in sorted(normals)]
                if not baseline_tables:
                    raise SystemExit(f"{scenario.name}: no normal data in the dataset to take a baseline from")
                spans = [t.span() for t in baseline_tables]
                baseline = clip((min(s[0] for s in spans), max(s[1] for s in spans)))
                slug = re.sub(r"[^a-z0-9]+", "-", scenario.name.lower()).strip("-")[:40]
                hits1 = hits3 = 0
                for lane_no, lane in enumerate(lanes(scenario.issues) or [[]]):
                    tenant = await make_tenant(session, tenant_url, control_url, f"ps-{slug}-{lane_no}", scenario,
                                               baseline_tables)
                    for issue in lane:
                        await ingest(tenant.client, issue.table)
                    for table in [*baseline_tables, *(i.table for i in lane)]:
                        await wait_ingested(tenant.client, table)
                    for issue in lane:
                        window = issue.table.span()
                        result = await analyse(tenant.client, tenant.refs[issue.target], issue.target,
                                               issue.target_time, window, baseline,
                                               latencies, anchors)
                        names = [c["ci_name"] for c in result["causes"]]
                        hit1 = names[:1] == [issue.root_cause]
                        hit3 = issue.root_cause in names[:3]
                        hits1 += hit1
                        hits3 += hit3
                        if not hit1:
                            misses.append(f"{scenario.name}/{issue.name}: truth {issue.root_cause}, ranked "
                                          f"{names[:3]}")
                    if lane_no == 0 and own and args.normal_windows:
                        normal_named_here, total_here = await specificity(tenant, scenario, args.normal_windows,
                                                                          latencies, anchors)
                        normal_named += normal_named_here
                        normal_total += total_here
                report.append((scenario.name, len(scenario.issues), hits1, hits3))
    finally:
        await asyncio.to_thread(stack.stop)
    print(f"PetShop RCA through the gateway, no LLM ({args.dataset}); wall time {time.perf_counter() - started_all:.0f}s")
    print(f"  {'scenario':<22} {'issues':>6} {'top-1':>7} {'top-3':>7}")
    total = sum(r[1] for r in report)
    for name, n, h1, h3 in report:
        print(f"  {name:<22} {n:>6} {h1 / n if n else 0:>7.2f} {h3 / n if n else 0:>7.2f}")
    if total:
        print(f"  {'overall':<22} {total:>6} {sum(r[2] for r in report) / total:>7.2f} "
              f"{sum(r[3] for r in report) / total:>7.2f}")
    if normal_total:
        print(f"  specificity (no cause named on {normal_total} windows of normal data): "
              f"{(normal_total - normal_named) / normal_total:.2f}")
    print(f"  POST /api/rca  p50 {pct(latencies, 0.5):.0f} ms  p99 {pct(latencies, 0.99):.0f} ms  "
          f"({len(latencies)} analyses); GET /api/incidents/{{id}} p50 {pct(anchors, 0.5):.1f} ms "
          f"(ratio {pct(latencies, 0.5) / max(pct(anchors, 0.5), 1e-9):.0f}x)")
    for miss in misses:
        print(f"  top-1 miss: {miss}")


async def specificity(tenant: Tenant, scenario: Scenario, windows: int, latencies: list[float],
                      anchors: list[float]) -> tuple[int, int]:
    """Windows of normal data analysed against the normal data before them: a named cause is a false alarm."""
    normal = scenario.normal
    assert normal is not None
    length = max((len(i.table.times) for i in scenario.issues), default=5)
    targets = sorted({i.target for i in scenario.issues}) or [scenario.nodes[0]]
    times = normal.times
    first = len(times) // 2
    stride = max(length, (len(times) - first - length) // max(windows, 1))
    named = total = 0
    for k in range(windows):
        i = first + k * stride
        if i + length >= len(times):
            break
        window = (times[i], times[i + length - 1] + STEP)
        target = targets[k % len(targets)]
        result = await analyse(tenant.client, tenant.refs[target], target, times[i + length // 2], window,
                               clip((times[0], window[0])), latencies, anchors)
        named += bool(result["causes"])
        total += 1
    return named, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="a directory of scenarios (each with graph.csv)")
    parser.add_argument("--normal-windows", type=int, default=12,
                        help="windows of normal data per scenario for specificity (0: none)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

