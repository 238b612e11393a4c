"""A Jepsen-style workload and count checker for the fault suite.

Clients drive a steady load through the gateway: incident creates and transitions, CMDB item creates, ITSM
change creates, log ingest, alerts through the generic alert door. Every operation goes into a history with whether the client got an
acknowledgement (a 2xx). An attempt that fails (5xx, 429, a 409 "still in progress", connection refused or
reset, a timeout) is retried as a careful client would: the same request with the same `Idempotency-Key`
(POST) or the same target state (PATCH), until the load's give-up time. A write never acknowledged may be
lost, and may also exist (the failure may have come after the commit); nothing may exist twice.

After the load ends and the system settles, the checker counts, per kind of write:

    acknowledged  writes a client got a 2xx for
    found         acknowledged writes that exist exactly once
    lost          acknowledged writes that do not exist
    duplicated    writes (acknowledged or not) that exist more than once

for the stored state (read back through the API), for the Kafka events of acknowledged writes (every domain
topic read from the start by an idempotent consumer: deduplicated by CloudEvent id, so a relay re-send is
not a duplicate but the same fact published twice under two ids is), for every accepted telemetry record
(queryable exactly once), and for every accepted alert (stored once with one decision, and that decision
published once); and it checks that the incident references are 1..N, none skipped, none reused.

A new kind of write: subclass Writer with `prepare` (set-up before the load, e.g. an integration), `step`
(one operation through the API, recorded with `Workload.record`), `stored` (how many times each operation's
record exists) and `expected_event` (the CloudEvent an acknowledged operation must have produced, if any), and
add it to `default_writers()`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.support import api
from vigil.incident.v1 import alerts_pb2, incident_pb2
from vigil.runtime import topics
from vigil.runtime.cloudevents import CloudEvent

ATTEMPT_TIMEOUT = aiohttp.ClientTimeout(total=20)


@dataclass
class Op:
    writer: str
    key: str  # unique per operation: the marker the client wrote (a title, a name, a log body)
    acked: bool = False
    id: str = ""  # the server's id of what was written, once acknowledged
    extra: str = ""  # e.g. the status a transition moved to
    attempts: list[str] = field(default_factory=list)  # the outcome of each attempt: "201", "503", "connection"
    acked_at: float = 0.0  # time.monotonic() of the acknowledgement

    def ack(self, resource_id: str = "") -> None:
        self.acked, self.id, self.acked_at = True, resource_id or self.id, time.monotonic()


@dataclass
class Row:
    """One line of the table: a kind of check under one fault."""

    check: str
    acknowledged: int = 0
    found: int = 0
    lost: int = 0
    duplicated: int = 0
    note: str = ""
    examples: list[str] = field(default_factory=list)  # what was lost or doubled, with its attempts


# -- the client ---------------------------------------------------------------------------------------------


def _retryable(resp: api.Response) -> bool:
    if resp.status >= 500 or resp.status == 429:
        return True
    # The first attempt with this Idempotency-Key still runs (or its gateway died holding the claim).
    return resp.status == 409 and "in progress" in str(resp.body)


class Workload:
    def __init__(self, client: api.TenantClient, tag: str, writers: list[Writer] | None = None,
                 clients_per_writer: int = 1, pause: float = 0.05, admin: api.TenantClient | None = None) -> None:
        self.client = client
        self.admin = admin  # for writers whose set-up needs the admin role (an alert integration)
        self.tag = tag  # unique per scenario: every marker starts with it
        self.writers = writers if writers is not None else default_writers()
        self.clients_per_writer = clients_per_writer
        self.pause = pause
        self.history: list[Op] = []
        self.attempts: Counter = Counter()  # outcome of every attempt: "201", "503", "connection", ...
        self.started = datetime.now(UTC)
        self.stopping = asyncio.Event()
        self.give_up_at = float("inf")
        self._seq = itertools.count(1)

    def marker(self, what: str) -> str:
        return f"{self.tag}-{what}-{next(self._seq)}"

    def record(self, op: Op) -> Op:
        self.history.append(op)
        return op

    async def send(self, method: str, path: str, body: dict, idempotent: bool = True,
                   trail: list[str] | None = None, headers: dict[str, str] | None = None,
                   client: api.TenantClient | None = None) -> api.Response | None:
        """One logical request, retried until acknowledged, refused for good, or the give-up time. The outcome
        of every attempt is appended to `trail` (an operation's history)."""
        headers = {**({"Idempotency-Key": uuid.uuid4().hex} if idempotent and method == "POST" else {}),
                   **(headers or {})}
        delay = 0.1
        while True:
            try:
                resp = await (client or self.client).call(method, path, json=body, headers=headers,
                                                          timeout=ATTEMPT_TIMEOUT)
                outcome = str(resp.status)
            except (aiohttp.ClientError, TimeoutError) as exc:
                outcome = "timeout" if isinstance(exc, TimeoutError) else "connection"
                resp = None
            self.attempts[outcome] += 1
            if trail is not None:
                trail.append(outcome)
            if resp is not None and (resp.status < 300 or not _retryable(resp)):
                return resp
            if time.monotonic() > self.give_up_at:
                return None
            await asyncio.sleep(min(delay, 1.0))  # sooner than Retry-After: the test wants to hit the fault
            delay *= 2

    async def run(self) -> None:
        """Until `stopping` is set: each writer has its own clients (a fault that stalls one kind of write
        does not stall the others)."""
        for writer in self.writers:
            await writer.prepare(self)

        async def client(writer: Writer) -> None:
            while not self.stopping.is_set():
                await writer.step(self)
                await asyncio.sleep(self.pause)  # a steady load, not a flood: the checks read it all back

        await asyncio.gather(*(client(w) for w in self.writers for _ in range(self.clients_per_writer)))

    async def stop(self, finish_within: float = 60.0) -> None:
        """Stop starting operations; those in flight retry until acknowledged or `finish_within` passes."""
        self.give_up_at = time.monotonic() + finish_within
        self.stopping.set()

    async def pages(self, path: str, params: str = "") -> list[dict]:
        """Every item of an offset-paged list."""
        items: list[dict] = []
        while True:
            resp = await self.send("GET", f"{path}?limit=200&offset={len(items)}{params}", {}, idempotent=False)
            assert resp is not None and resp.status == 200, (path, resp and resp.body)
            page = resp.body["data"]["items"]
            items += page
            if len(page) < 200:
                return items


# -- what the load writes ------------------------------------------------------------------------------------


class Writer:
    name = ""

    async def prepare(self, w: Workload) -> None:
        """Before the load starts."""

    async def step(self, w: Workload) -> None:
        raise NotImplementedError

    async def stored(self, w: Workload) -> Counter:
        """How many times each operation's record exists, by Op.key."""
        raise NotImplementedError

    def expected_event(self, op: Op) -> tuple[str, str, str] | None:
        """(CloudEvent type, Kafka key, extra) an acknowledged operation must have published once."""
        return None


class IncidentCreates(Writer):
    name = "incident.create"

    def __init__(self, cis: CiCreates) -> None:
        self.cis = cis
        self.open: deque[tuple[str, str]] = deque()  # (id, status) of acknowledged incidents to move on
        self.listed: list[dict] = []

    async def step(self, w: Workload) -> None:
        op = w.record(Op(self.name, w.marker("inc")))
        ci_ids = self.cis.acked[-1:]  # the incident service asks the CMDB for their blast radius
        resp = await w.send("POST", "/api/incidents", {"title": op.key, "severity": "P3", "ci_ids": ci_ids},
                            trail=op.attempts)
        if resp is not None and resp.status == 201:
            op.ack(resp.body["data"]["id"])
            self.open.append((op.id, "triggered"))

    async def stored(self, w: Workload) -> Counter:
        self.listed = await w.pages("/api/incidents")
        return Counter(i["title"] for i in self.listed)

    def expected_event(self, op: Op):
        return ("incident.created", op.id, "")


NEXT_STATUS = {"triggered": "open", "open": "acknowledged"}


class IncidentTransitions(Writer):
    name = "incident.transition"

    def __init__(self, creates: IncidentCreates) -> None:
        self.creates = creates

    async def step(self, w: Workload) -> None:
        if not self.creates.open:
            await asyncio.sleep(0.05)
            return
        incident_id, status = self.creates.open.popleft()
        target = NEXT_STATUS[status]
        op = w.record(Op(self.name, f"{incident_id}:{target}", id=incident_id, extra=target))
        # A retried PATCH after a lost answer finds the status already set: a no-op, answered 200.
        resp = await w.send("PATCH", f"/api/incidents/{incident_id}", {"status": target}, idempotent=False,
                            trail=op.attempts)
        if resp is not None and resp.status == 200 and resp.body["data"]["status"] == target:
            op.ack()
            if target in NEXT_STATUS:
                self.creates.open.append((incident_id, target))

    async def stored(self, w: Workload) -> Counter:
        found: Counter = Counter()
        ids = {op.id for op in w.history if op.writer == self.name}
        for incident_id in ids:
            resp = await w.send("GET", f"/api/incidents/{incident_id}/timeline", {}, idempotent=False)
            for entry in resp.body["data"]["items"]:
                if entry["kind"] == "transitioned":
                    found[f"{incident_id}:{entry['to_status']}"] += 1
        return found

    def expected_event(self, op: Op):
        return ("incident.transitioned", op.id, op.extra)


class CiCreates(Writer):
    name = "ci.create"

    def __init__(self) -> None:
        self.acked: list[str] = []

    async def step(self, w: Workload) -> None:
        op = w.record(Op(self.name, w.marker("ci")))
        resp = await w.send("POST", "/api/cmdb/items", {"name": op.key, "class": "service"}, trail=op.attempts)
        if resp is not None and resp.status == 201:
            op.ack(resp.body["data"]["id"])
            self.acked.append(op.id)

    async def stored(self, w: Workload) -> Counter:
        return Counter(i["name"] for i in await w.pages("/api/cmdb/items"))

    def expected_event(self, op: Op):
        return ("ci.created", op.id, "")


class ChangeCreates(Writer):
    name = "change.create"

    async def step(self, w: Workload) -> None:
        op = w.record(Op(self.name, w.marker("chg")))
        start = datetime.now(UTC) + timedelta(days=1)
        resp = await w.send("POST", "/api/itsm/changes", {
            "title": op.key, "requested_start": start.isoformat(),
            "requested_end": (start + timedelta(hours=1)).isoformat()}, trail=op.attempts)
        if resp is not None and resp.status == 201:
            op.ack(resp.body["data"]["id"])

    async def stored(self, w: Workload) -> Counter:
        return Counter(i["title"] for i in await w.pages("/api/itsm/changes"))

    def expected_event(self, op: Op):
        return ("change.created", op.id, "")


LOG_BATCH = 10


class LogIngest(Writer):
    """One operation per log record; a batch of them is one request (acknowledged together, 202)."""

    name = "telemetry.log"

    async def step(self, w: Workload) -> None:
        trail: list[str] = []  # one request for the batch: its records share the history
        ops = [w.record(Op(self.name, w.marker("log"), attempts=trail)) for _ in range(LOG_BATCH)]
        resp = await w.send("POST", "/api/logs", {"logs": [
            {"service": w.tag, "body": op.key, "level": "info"} for op in ops]}, trail=trail)
        if resp is not None and resp.status == 202:
            for op in ops:
                op.ack()

    async def stored(self, w: Workload) -> Counter:
        found: Counter = Counter()
        cursor = ""
        since = int(w.started.timestamp()) - 60
        while True:
            resp = await w.send("GET", f"/api/logs?service={w.tag}&from={since}&limit=1000"
                                + (f"&cursor={cursor}" if cursor else ""), {}, idempotent=False)
            assert resp is not None and resp.status == 200, resp and resp.body
            found.update(item["body"] for item in resp.body["data"]["items"])
            cursor = resp.body["data"]["next_cursor"]
            if not cursor:
                return found


class AlertIngest(Writer):
    """One alert per operation through the generic door with an integration key (as an alert source sends them:
    no Idempotency-Key, so a retry after a lost answer is another alert, which the checker does not count
    against the first). Each fingerprint sees firing, resolved, firing, resolved: created, resolved, reopened,
    resolved, so the incidents open, auto-resolve and reopen under the fault.

    An acknowledged alert is the id the 202 named: it must be stored exactly once with its decision, and that
    decision published exactly once as `alert.<decision>` naming it (a `duplicate` publishes nothing)."""

    name = "alert.ingest"

    def __init__(self) -> None:
        self.key = ""
        self.integration_id = ""
        self.sent = 0
        self.decisions: dict[str, tuple[str, str]] = {}  # alert id -> (decision, fingerprint), once stored

    async def prepare(self, w: Workload) -> None:
        assert w.admin is not None, "the alert writer needs an admin to create its integration"
        resp = await w.send("POST", "/api/integrations", {"name": f"{w.tag}-generic", "type": "generic"},
                            client=w.admin)
        assert resp is not None and resp.status == 201, resp and resp.body
        self.key, self.integration_id = resp.body["data"]["key"], resp.body["data"]["integration"]["id"]

    async def step(self, w: Workload) -> None:
        n, self.sent = self.sent, self.sent + 1
        op = w.record(Op(self.name, w.marker("alert")))
        resp = await w.send("POST", "/api/alerts/generic", {"alerts": [{
            "title": op.key, "fingerprint": f"{w.tag}-fp-{n // 4}", "status": ("firing", "resolved")[n % 2],
            "severity": "warning", "labels": {"marker": op.key}}]}, idempotent=False, trail=op.attempts,
            headers={"Authorization": f"Bearer {self.key}"})
        if resp is not None and resp.status == 202:
            op.ack(resp.body["data"]["alert_ids"][0])

    async def stored(self, w: Workload) -> Counter:
        """How many times each acknowledged alert (the id its 202 named) is stored, by operation key."""
        alerts = await w.pages("/api/alerts", f"&integration_id={self.integration_id}")
        self.decisions = {a["id"]: (a["decision"], a["fingerprint"]) for a in alerts}
        found = Counter(a["id"] for a in alerts)
        return Counter({op.key: found[op.id] for op in w.history if op.writer == self.name and op.acked})

    def expected_event(self, op: Op):
        decision, fingerprint = self.decisions.get(op.id, ("", ""))
        if decision == "duplicate":
            return None  # changes nothing, publishes nothing
        return (f"alert.{decision or 'decided'}", f"{self.integration_id}/{fingerprint}"[:200], op.id)


def default_writers() -> list[Writer]:
    """The writers of a workload, in the order each worker runs them."""
    cis = CiCreates()
    creates = IncidentCreates(cis)
    return [cis, creates, IncidentTransitions(creates), ChangeCreates(), LogIngest(), AlertIngest()]


# -- the checker ---------------------------------------------------------------------------------------------


def count_rows(writer: Writer, ops: list[Op], stored: Counter) -> Row:
    row = Row(writer.name)
    for op in ops:
        n = stored.get(op.key, 0)
        if n > 1:
            row.duplicated += 1
        if op.acked:
            row.acknowledged += 1
            if n == 0:
                row.lost += 1
            elif n == 1:
                row.found += 1
        if n > 1 or (op.acked and n == 0):
            row.examples.append(f"{op.key} found {n}x, acknowledged={op.acked}, attempts {op.attempts}")
    return row


def reference_row(incidents: list[dict]) -> Row:
    numbers = Counter(int(i["reference"].removeprefix("INC-")) for i in incidents)
    reused = sum(1 for n in numbers.values() if n > 1)
    skipped = len(set(range(1, max(numbers, default=0) + 1)) - set(numbers))
    return Row("incident.reference", acknowledged=len(incidents), found=len(numbers), lost=skipped,
               duplicated=reused, note="lost = numbers skipped, duplicated = numbers reused")


async def domain_events(bootstrap: str, tenant_id: str) -> tuple[Counter, int]:
    """Every domain event of a tenant, as an idempotent consumer sees them: (type, key, extra) counted once per
    CloudEvent id; and how many deliveries were dropped as re-sends of an id already seen."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics.DOMAIN_TOPICS))
    finally:
        await admin.close()
    partitions = [TopicPartition(d["topic"], p["partition"]) for d in described if d["error_code"] == 0
                  for p in d["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    seen: set[str] = set()
    facts: Counter = Counter()
    resent = 0
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        async def behind() -> bool:
            return any([await consumer.position(tp) < end for tp, end in ends.items()])

        while await behind():
            for messages in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for m in messages:
                    event = CloudEvent.from_kafka(m.headers, m.value)
                    if event.tenant_id != tenant_id:
                        continue
                    if event.id in seen:
                        resent += 1
                        continue
                    seen.add(event.id)
                    extra = ""
                    if event.type == "incident.transitioned":
                        extra = incident_pb2.IncidentEvent.FromString(m.value).to_status
                    elif event.type.startswith("alert."):  # one event per alert: which alert it decided
                        extra = alerts_pb2.AlertEvent.FromString(m.value).alert.id
                    facts[(event.type, m.key.decode(), extra)] += 1
    finally:
        await consumer.stop()
    return facts, resent


def event_row(writers: list[Writer], history: list[Op], facts: Counter, resent: int) -> Row:
    row = Row("kafka events", note=f"{resent} re-sent deliveries absorbed by CloudEvent id")
    by_name = {w.name: w for w in writers}
    for op in history:
        if not op.acked:
            continue
        expected = by_name[op.writer].expected_event(op)
        if expected is None:
            continue
        row.acknowledged += 1
        n = facts.get(expected, 0)
        row.found += n == 1
        row.lost += n == 0
        row.duplicated += n > 1
        if n != 1:
            row.examples.append(f"{expected} published {n}x (under distinct ids), attempts {op.attempts}")
    return row


async def check(w: Workload, bootstrap: str, settle_seconds: float = 60.0) -> list[Row]:
    """Count until every check passes or `settle_seconds` pass (events wait in outboxes, telemetry in Kafka,
    while the system settles); return the last counts."""
    deadline = time.monotonic() + settle_seconds
    while True:
        rows: list[Row] = []
        for writer in w.writers:
            ops = [op for op in w.history if op.writer == writer.name]
            rows.append(count_rows(writer, ops, await writer.stored(w)))
            if isinstance(writer, IncidentCreates):
                rows.append(reference_row(writer.listed))
        facts, resent = await domain_events(bootstrap, w.client.tenant_id)
        rows.append(event_row(w.writers, w.history, facts, resent))
        if all(r.lost == 0 and r.duplicated == 0 for r in rows) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(1.0)


OUTCOMES: list[Outcome] = []  # every scenario's counts, printed as one table at the end of the session


@dataclass
class Outcome:
    fault: str
    rows: list[Row]
    attempts: Counter = field(default_factory=Counter)
    phases: dict[str, float] = field(default_factory=dict)  # seconds spent loading, recovering, checking

    @property
    def seconds(self) -> float:
        return sum(self.phases.values())


def table(outcomes: list[Outcome]) -> str:
    head = ("fault", "check", "acknowledged", "found", "lost", "duplicated")
    lines = [head]
    for o in outcomes:
        for i, r in enumerate(o.rows):
            lines.append((o.fault if i == 0 else "", r.check, str(r.acknowledged), str(r.found), str(r.lost),
                          str(r.duplicated)))
        failed = sum(v for k, v in o.attempts.items() if not k.startswith("2"))
        lines.append(("", f"(attempts {sum(o.attempts.values())}, failed {failed}: "
                          + (", ".join(f"{k}×{v}" for k, v in sorted(o.attempts.items()) if not k.startswith("2"))
                             or "none")
                          + f"; {o.seconds:.0f}s: " + ", ".join(f"{k} {v:.0f}s" for k, v in o.phases.items())
                          + ")", "", "", "", ""))
        for r in o.rows:
            lines += [("", f"({r.check}: {example})", "", "", "", "") for example in r.examples[:5]]
    widths = [max(len(line[i]) for line in lines if not line[1].startswith("(")) for i in range(6)]
    out = []
    for line in lines:
        if line[1].startswith("("):
            out.append(" " * (widths[0] + 2) + line[1])
        else:
            out.append("  ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(line)))
    return "\n".join(out)
