"""Cursor paging on the real engine (chDB), property-style: random rows with many ties (identical timestamps,
identical bodies, byte-identical records) read with random page sizes come back exactly once each, in the total
order, also while new rows are being inserted between and during the pages. Logs and traces."""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.ingest.rows import log_row, span_row
from services.observability.service import (
    NS,
    LogQuery,
    ObservabilityService,
    TimeRange,
    TraceQuery,
    log_cursor,
    trace_cursor,
)
from services.observability.store import ClickHouse, TelemetryStore
from vigil.runtime.context import CallContext

pytestmark = pytest.mark.clickhouse

BASE = (time.time_ns() // NS - 600) * NS
WINDOW = TimeRange(BASE - 3600 * NS, BASE + 3600 * NS)
# Bounded and reproducible: CI time stays fixed and a failure replays the same examples.
PROPERTY = settings(max_examples=20, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

log_rows = st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["disk full", "disk full", "Überlauf"]),
                              st.sampled_from(["a", "b"])), min_size=1, max_size=45)
page_sizes = st.lists(st.integers(1, 9), min_size=1, max_size=6)
# Rows inserted after page i: (page index, ts offset, body). Offsets below 0 are older than every original row,
# above 3 newer; in between they tie with originals.
late_rows = st.lists(st.tuples(st.integers(0, 8), st.integers(-2, 5), st.sampled_from(["late", "disk full"])),
                     max_size=12)


def logs_of(tenant: str, rows: list[tuple[int, str, str]]) -> bytes:
    return b"".join(log_row(tenant, 7, ts_ns=BASE + ts, service="api", severity="ERROR", severity_no=17, body=body,
                            attributes={"host": host}) for ts, body, host in rows)


async def stored_log_keys(ch: ClickHouse, tenant: str) -> list[tuple[int, int]]:
    rows = await ch.query("SELECT toUnixTimestamp64Nano(Timestamp), RecordId FROM otel_logs WHERE TenantId = {t:String}",
                          {"t": tenant})
    return sorted(((int(a), int(b)) for a, b in rows), reverse=True)


async def page_logs(ch: ClickHouse, tenant: str, sizes: list[int], late: list[tuple[int, int, str]]):
    """Read every page; before page i insert the late rows of i. Returns the keys seen, the keys stored before
    the first page, and the late keys that were behind the cursor when they were inserted."""
    service = ObservabilityService(TelemetryStore(ch))
    ctx = CallContext(tenant)
    original = await stored_log_keys(ch, tenant)
    seen: list[tuple[int, int]] = []
    behind: set[tuple[int, int]] = set()
    cursor = ""
    for i in range(200):
        batch = [r for r in late if r[0] == i]
        if batch and i:
            before = set(await stored_log_keys(ch, tenant))
            await ch.insert_json_rows("otel_logs", logs_of(tenant, [(ts, body, "late") for _, ts, body in batch]),
                                      f"{tenant}-late-{i}")
            position = seen[-1]
            behind |= {k for k in await stored_log_keys(ch, tenant) if k not in before and k < position}
        page, cursor = await service.logs(ctx, LogQuery(WINDOW, levels=("err",), limit=sizes[i % len(sizes)],
                                                        cursor=log_cursor(cursor)))
        seen.extend((r.ts_ns, r.record_id) for r in page)
        if not cursor:
            return seen, original, behind
    raise AssertionError("paging did not end")


@PROPERTY
@given(rows=log_rows, sizes=page_sizes, late=late_rows)
def test_log_pages_hold_every_row_once_in_order(clickhouse, rows, sizes, late):
    tenant = f"t-{secrets.token_hex(6)}"

    async def run():
        await clickhouse.insert_json_rows("otel_logs", logs_of(tenant, rows), f"{tenant}-rows")
        return await page_logs(clickhouse, tenant, sizes, late)

    seen, original, behind = asyncio.run(run())
    assert len(original) == len(rows)  # byte-identical records are still separate rows
    assert seen == sorted(set(seen), reverse=True)  # strictly in (Timestamp, RecordId) descending order: no repeat
    # every row that existed when paging began, plus exactly the late rows that landed behind the cursor
    assert set(seen) == set(original) | behind


def spans_of(tenant: str, spans: list[tuple[str, int, str]]) -> bytes:
    """(trace id, start offset, span id) -> span rows; a span with no parent is its trace's root."""
    return b"".join(span_row(tenant, 7, trace_id=trace, span_id=span, parent_span_id="", name="GET /", kind="Server",
                             service="api", start_ns=BASE + start, end_ns=BASE + start + 1000, status_code="Ok")
                    for trace, start, span in spans)


trace_sets = st.lists(st.tuples(st.integers(0, 2), st.integers(1, 3)), min_size=1, max_size=30)


@PROPERTY
@given(traces=trace_sets, sizes=page_sizes, late=st.lists(st.tuples(st.integers(0, 8), st.integers(0, 40),
                                                                     st.integers(-3, 4)), max_size=10))
def test_trace_pages_hold_every_trace_once_in_order(clickhouse, traces, sizes, late):
    """Traces share start times; while paging, late spans arrive for listed and unlisted traces (moving their
    start earlier) and new traces arrive. Every trace that existed is listed once, with the summary it had."""
    tenant = f"t-{secrets.token_hex(6)}"
    ids = [f"{n:032x}" for n in range(len(traces))]
    spans = [(ids[n], start, f"{n:08x}{k:08x}") for n, (start, count) in enumerate(traces) for k in range(count)]

    async def run():
        ch = clickhouse
        service = ObservabilityService(TelemetryStore(ch))
        ctx = CallContext(tenant)
        await ch.insert_json_rows("otel_traces", spans_of(tenant, spans), f"{tenant}-spans")
        before = {t.trace_id: t for t in (await service.traces(ctx, TraceQuery(WINDOW, limit=1000)))[0]}
        seen = []
        cursor = ""
        for i in range(200):
            batch = [r for r in late if r[0] == i]
            if batch and i:
                # a late span of an existing trace (or of a new one, past the end of ids), earlier than all
                rows = [((ids[n] if n < len(ids) else f"{n + 1000:032x}"), start, secrets.token_hex(8))
                        for _, n, start in batch]
                await ch.insert_json_rows("otel_traces", spans_of(tenant, rows), f"{tenant}-late-{i}")
            page, cursor = await service.traces(ctx, TraceQuery(WINDOW, limit=sizes[i % len(sizes)],
                                                                cursor=trace_cursor(cursor)))
            seen.extend(page)
            if not cursor:
                return before, seen
        raise AssertionError("paging did not end")

    before, seen = asyncio.run(run())
    assert len(before) == len(traces)
    keys = [(-t.start_ns, t.trace_id) for t in seen]
    assert keys == sorted(set(keys))  # strictly in order: no trace twice
    assert {t.trace_id: t for t in seen} == before  # every trace once, as the first page saw it


async def test_pages_read_while_rows_stream_in(clickhouse, tenant_id):
    """A writer inserts batches (ties with the originals, newer and older rows) while a reader pages: the reader
    sees every row that existed exactly once, never a duplicate, always in order."""
    ch = clickhouse
    await ch.insert_json_rows("otel_logs", logs_of(tenant_id, [(0, "same", "x")] * 30 + [(1, "same", "x")] * 30),
                              f"{tenant_id}-base")
    await ch.insert_json_rows("otel_traces", spans_of(tenant_id, [(f"{n:032x}", n % 3, f"{n:016x}") for n in range(40)]),
                              f"{tenant_id}-base-spans")
    original = set(await stored_log_keys(ch, tenant_id))
    service = ObservabilityService(TelemetryStore(ch))
    ctx = CallContext(tenant_id)
    traces_before = {t.trace_id: t for t in (await service.traces(ctx, TraceQuery(WINDOW, limit=1000)))[0]}
    stop = asyncio.Event()

    async def writer():
        n = 0
        while not stop.is_set():
            n += 1
            await ch.insert_json_rows("otel_logs", logs_of(tenant_id, [(n % 3 - 1, "same", "x")] * 5), f"{tenant_id}-w{n}")
            await ch.insert_json_rows("otel_traces", spans_of(tenant_id, [(f"{n % 50:032x}", -n, secrets.token_hex(8))]),
                                      f"{tenant_id}-ws{n}")
            await asyncio.sleep(0)

    task = asyncio.create_task(writer())
    try:
        seen: list[tuple[int, int]] = []
        cursor = ""
        while True:
            page, cursor = await service.logs(ctx, LogQuery(WINDOW, limit=7, cursor=log_cursor(cursor)))
            seen.extend((r.ts_ns, r.record_id) for r in page)
            if not cursor:
                break
        traces = []
        cursor = ""
        while True:
            page, cursor = await service.traces(ctx, TraceQuery(WINDOW, limit=3, cursor=trace_cursor(cursor)))
            traces.extend(page)
            if not cursor:
                break
    finally:
        stop.set()
        await task
    assert seen == sorted(set(seen), reverse=True)
    assert original <= set(seen)
    assert len(await stored_log_keys(ch, tenant_id)) > len(original)  # the writer did write meanwhile
    keys = [(-t.start_ns, t.trace_id) for t in traces]
    assert keys == sorted(set(keys))
    # every trace that existed before is listed once; the snapshot of the first page holds its summary fixed
    listed = {t.trace_id: t for t in traces}
    assert set(traces_before) <= set(listed)
