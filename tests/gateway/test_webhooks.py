"""Webhooks against a real HTTP receiver: an in-process gateway and incident service (real gRPC, real Kafka,
SQLite), deliveries driven by the incident events on Kafka, a receiver that fails, hangs past the timeout, asks
to slow down and recovers. The retry schedule runs on a clock 100 times faster than real time."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from gateway.webhooks.delivery import JITTER, LADDER
from tests.support import alerts, api
from tests.support.receiver import Received, Receiver
from tests.support.sse import open_stream

pytestmark = pytest.mark.kafka


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def eventually(check, timeout: float = 30.0) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            found = await check()
            if found:
                return found
            await asyncio.sleep(0.1)


async def subscribe(admin: api.TenantClient, url: str, **extra: Any) -> dict[str, Any]:
    made = await admin.post("/api/webhooks", {"url": url, "event_types": ["incident.*"], **extra})
    assert made.status == 201, made.body
    return made.data


async def deliveries(admin: api.TenantClient, webhook_id: str, **query: str) -> list[dict[str, Any]]:
    return (await admin.get(f"/api/webhooks/{webhook_id}/deliveries", params=query)).data["items"]


async def test_signed_ordered_retried_on_the_ladder_and_replayed(outbound_env):
    users = await api.tenant(outbound_env["session"], outbound_env["tenant"], outbound_env["control"])
    admin = users["admin"]
    first_id: list[str] = []
    other_arrived = asyncio.Event()

    async def answer(got: Received) -> web.StreamResponse | int:
        event = got.event
        if event["data"]["title"] != "first":
            if event["data"]["title"] == "second":
                other_arrived.set()
            return 200
        if not first_id:
            first_id.append(got.delivery_id)
        tries = sum(1 for r in receiver.received if r.delivery_id == first_id[0])
        if got.delivery_id != first_id[0] or tries > 3:
            return 200
        if tries == 1:
            return 500
        if tries == 2:
            await asyncio.sleep(2)  # past the 0.5 s timeout: the sender has given up by the time this answers
            return 504
        # Slow down: 30 s on the compressed clock; and keep failing until the other incident's delivery
        # arrived, which shows that this resource's failures held back nothing else.
        await asyncio.wait_for(other_arrived.wait(), 30)
        return web.Response(status=429, headers={"Retry-After": "30"})

    receiver = await Receiver(answer).start()
    try:
        hook = await subscribe(admin, receiver.url + "/hooks/vigil")
        assert hook["secret"].startswith("whsec_") and hook["enabled"] is True
        assert "secret" not in (await admin.get(f"/api/webhooks/{hook['id']}")).data

        first = (await admin.post("/api/incidents", {"title": "first", "severity": "P1"})).data
        for status in ("open", "acknowledged"):
            assert (await admin.patch(f"/api/incidents/{first['id']}", {"status": status})).status == 200
        second = (await admin.post("/api/incidents", {"title": "second", "severity": "P3"})).data

        def first_done(r: Receiver) -> bool:
            return len([x for x in r.successes() if x.event["resource"]["id"] == first["id"]]) >= 3

        await receiver.wait_for(first_done, timeout=60)
    finally:
        await receiver.stop()

    # Every request is signed with the subscription's secret over its raw body, and names itself.
    assert all(r.signed_by(hook["secret"]) for r in receiver.received)
    assert all(r.headers["Vigil-Event"] == r.event["type"] for r in receiver.received)
    # In order per resource: created, then the two transitions; the failing head held back only its own resource.
    done = [r.event for r in receiver.successes() if r.event["resource"]["id"] == first["id"]]
    assert [(e["type"], e["data"]["status"]) for e in done] == [
        ("incident.created", "triggered"), ("incident.transitioned", "open"),
        ("incident.transitioned", "acknowledged")]
    assert done[1]["details"] == {"from_status": "triggered", "to_status": "open", "changed_fields": ["status"]}
    assert done[0]["data"]["reference"] == first["reference"]
    assert done[0]["tenant_id"] == admin.tenant_id
    assert other_arrived.is_set()
    # The first delivery's id is stable across its four attempts.
    tries = [r for r in receiver.received if r.event["id"] == done[0]["id"]]
    assert {r.delivery_id for r in tries} == {first_id[0]}
    assert [r.headers["Vigil-Attempt"] for r in tries] == ["1", "2", "3", "4"]

    listed = await deliveries(admin, hook["id"])
    by_id = {d["id"]: d for d in listed}
    head = by_id[first_id[0]]
    assert (head["status"], head["attempts"], head["last_status_code"]) == ("succeeded", 4, 200)
    detail = (await admin.get(f"/api/webhooks/{hook['id']}/deliveries/{first_id[0]}")).data
    history = detail["history"]
    assert [(a["status_code"], a["outcome"]) for a in history] == [
        (500, "retry"), (None, "retry"), (429, "retry"), (200, "succeeded")]
    assert "timed out" in history[1]["error"]
    assert detail["payload"]["id"] == done[0]["id"]
    # The schedule (on the compressed clock): never before the ladder's step less its jitter, and never before
    # Retry-After.
    times = [at(a["at"]) for a in history]
    for n in (1, 2):
        assert times[n] - times[n - 1] >= timedelta(seconds=LADDER[n - 1] * (1 - JITTER))
    assert times[3] - times[2] >= timedelta(seconds=30)
    assert {d["resource"]["id"] for d in listed} == {first["id"], second["id"]}
    assert all(d["status"] == "succeeded" for d in listed)

    # Replay: the same event (same id, same body) as a new delivery.
    replayed = await admin.post(f"/api/webhooks/{hook['id']}/deliveries/{first_id[0]}/replay")
    assert replayed.status == 202, replayed.body
    assert replayed.data["replay_of"] == first_id[0] and replayed.data["event_id"] == done[0]["id"]
    receiver2 = await Receiver().start()
    try:
        await admin.patch(f"/api/webhooks/{hook['id']}", {"url": receiver2.url + "/again"})
        replay2 = await admin.post(f"/api/webhooks/{hook['id']}/deliveries/{first_id[0]}/replay")
        await receiver2.wait_for(lambda r: any(x.delivery_id == replay2.data["id"] for x in r.successes()))
    finally:
        await receiver2.stop()
    again = next(x for x in receiver2.received if x.delivery_id == replay2.data["id"])
    assert again.event == done[0] and again.signed_by(hook["secret"])


@pytest.mark.gateway_settings(webhook_disable_after_failures=3)
async def test_other_4xx_fail_at_once_and_a_failing_subscription_is_disabled_with_its_reason(outbound_env):
    users = await api.tenant(outbound_env["session"], outbound_env["tenant"], outbound_env["control"])
    admin = users["admin"]
    healthy = False

    async def answer(_: Received) -> int:
        return 200 if healthy else 400

    receiver = await Receiver(answer).start()
    try:
        hook = await subscribe(admin, receiver.url)
        for n in range(3):
            await admin.post("/api/incidents", {"title": f"refused {n}", "severity": "P2"})

        async def disabled() -> dict[str, Any] | None:
            found = (await admin.get(f"/api/webhooks/{hook['id']}")).data
            return found if not found["enabled"] else None

        found = await eventually(disabled)
        assert found["disabled_reason"] == "3 deliveries in a row failed; the last: HTTP 400"
        assert found["consecutive_failures"] == 3 and found["disabled_at"] is not None
        failed = await deliveries(admin, hook["id"], status="failed")
        assert len(failed) == 3 and all(d["attempts"] == 1 and d["next_attempt_at"] is None for d in failed)
        assert len(receiver.received) == 3  # a 400 is not retried

        # Enabling it again clears the reason; new events flow.
        healthy = True
        enabled = await admin.patch(f"/api/webhooks/{hook['id']}", {"enabled": True},
                                    headers={"If-Match": f'"{found["version"]}"'})
        assert enabled.status == 200, enabled.body
        assert (enabled.data["enabled"], enabled.data["disabled_reason"], enabled.data["consecutive_failures"]) \
            == (True, None, 0)
        stale = await admin.patch(f"/api/webhooks/{hook['id']}", {"description": "x"},
                                  headers={"If-Match": f'"{found["version"]}"'})
        assert stale.status == 409
        later = (await admin.post("/api/incidents", {"title": "after", "severity": "P2"})).data
        await receiver.wait_for(lambda r: any(x.event["resource"]["id"] == later["id"] for x in r.successes()))
    finally:
        await receiver.stop()


async def test_ping_rotation_with_overlap_redirects_and_bounded_answers(outbound_env):
    users = await api.tenant(outbound_env["session"], outbound_env["tenant"], outbound_env["control"])
    admin = users["admin"]
    big = b"x" * (2 * 1024 * 1024)

    async def answer(got: Received) -> web.StreamResponse | int:
        if got.path == "/redirect":
            return web.Response(status=302, headers={"Location": "http://127.0.0.1:1/elsewhere"})
        if got.path == "/big":
            return web.Response(status=200, body=big)
        return 204

    receiver = await Receiver(answer).start()
    try:
        hook = await subscribe(admin, receiver.url + "/ok")
        ping = await admin.post(f"/api/webhooks/{hook['id']}/ping")
        assert ping.status == 200, ping.body
        assert (ping.data["status"], ping.data["event_type"], ping.data["attempts"]) == ("succeeded", "webhook.ping", 1)
        assert ping.data["history"][0]["status_code"] == 204
        got = receiver.received[-1]
        assert got.signed_by(hook["secret"]) and got.headers["Vigil-Event"] == "webhook.ping"

        # Rotation with an overlap: both secrets sign; without one, only the new.
        rotated = (await admin.post(f"/api/webhooks/{hook['id']}/rotate-secret", {"overlap_seconds": 3600})).data
        assert rotated["secret"] != hook["secret"] and rotated["previous_secret_expires_at"] is not None
        await admin.post(f"/api/webhooks/{hook['id']}/ping")
        got = receiver.received[-1]
        assert got.signed_by(rotated["secret"]) and got.signed_by(hook["secret"])
        assert got.headers["Vigil-Signature"].count("v1=") == 2
        final = (await admin.post(f"/api/webhooks/{hook['id']}/rotate-secret", {"overlap_seconds": 0})).data
        await admin.post(f"/api/webhooks/{hook['id']}/ping")
        got = receiver.received[-1]
        assert got.signed_by(final["secret"]) and not got.signed_by(rotated["secret"])
        assert not got.signed_by(hook["secret"])

        # A redirect is a failure, not followed; a large answer is read only up to the bound.
        await admin.patch(f"/api/webhooks/{hook['id']}", {"url": receiver.url + "/redirect"})
        redirected = (await admin.post(f"/api/webhooks/{hook['id']}/ping")).data
        assert (redirected["status"], redirected["last_status_code"]) == ("failed", 302)
        assert "not followed" in redirected["last_error"]
        assert all(r.path != "/elsewhere" for r in receiver.received)
        await admin.patch(f"/api/webhooks/{hook['id']}", {"url": receiver.url + "/big"})
        bounded = (await admin.post(f"/api/webhooks/{hook['id']}/ping")).data
        assert bounded["status"] == "succeeded"
        assert len(bounded["history"][0]["response_body"]) == 1024
        # Pings count towards nothing: the run of failures is untouched.
        assert (await admin.get(f"/api/webhooks/{hook['id']}")).data["consecutive_failures"] == 0
    finally:
        await receiver.stop()


@pytest.mark.gateway_settings(webhook_allowed_networks=[])
async def test_targets_in_private_ranges_are_refused_and_input_is_checked(outbound_env):
    users = await api.tenant(outbound_env["session"], outbound_env["tenant"], outbound_env["control"])
    admin = users["admin"]
    for url in ("http://127.0.0.1:9/x", "http://localhost/x", "http://10.1.2.3/x", "http://169.254.169.254/latest",
                "http://[::1]/x", "http://[::ffff:127.0.0.1]/x", "http://0.0.0.0/x", "http://100.64.0.1/x"):
        refused = await admin.post("/api/webhooks", {"url": url, "event_types": ["*"]})
        assert refused.status == 422, (url, refused.body)
        assert refused.body["fields"][0]["field"] == "url"
    for body, field in (({"url": "ftp://example.com/x", "event_types": ["*"]}, "url"),
                        ({"url": "https://user:pw@example.com/x", "event_types": ["*"]}, "url"),
                        ({"url": "https://example.com/x", "event_types": ["incidnet.*"]}, "event_types"),
                        ({"url": "https://example.com/x", "event_types": []}, "event_types"),
                        ({"url": "https://example.com/x", "event_types": ["*"], "secret": "mine"}, "secret")):
        bad = await admin.post("/api/webhooks", body)
        assert bad.status == 422 and bad.body["fields"][0]["field"].startswith(field), (body, bad.body)
    # A viewer reads but never manages webhooks.
    viewer = users["viewer"]
    assert (await viewer.get("/api/webhooks")).status == 200
    assert (await viewer.post("/api/webhooks", {"url": "https://example.com", "event_types": ["*"]})).status == 403
    assert (await users["responder"].post("/api/webhooks", {"url": "https://example.com",
                                                             "event_types": ["*"]})).status == 403


async def test_tenants_never_see_each_others_webhooks(outbound_env):
    session, tenant, control = outbound_env["session"], outbound_env["tenant"], outbound_env["control"]
    mine = (await api.tenant(session, tenant, control))["admin"]
    theirs = (await api.tenant(session, tenant, control))["admin"]
    receiver = await Receiver().start()
    try:
        hook = await subscribe(mine, receiver.url)
        await theirs.post("/api/incidents", {"title": "their incident", "severity": "P1"})
        made = (await mine.post("/api/incidents", {"title": "my incident", "severity": "P1"})).data
        await receiver.wait_for(lambda r: any(x.event["resource"]["id"] == made["id"] for x in r.successes()))
        assert {r.event["tenant_id"] for r in receiver.received} == {mine.tenant_id}
        ping = (await mine.post(f"/api/webhooks/{hook['id']}/ping")).data
        for path in (f"/api/webhooks/{hook['id']}", f"/api/webhooks/{hook['id']}/deliveries",
                     f"/api/webhooks/{hook['id']}/deliveries/{ping['id']}"):
            assert (await theirs.get(path)).status == 404, path
        assert (await theirs.post(f"/api/webhooks/{hook['id']}/ping")).status == 404
        assert (await theirs.delete(f"/api/webhooks/{hook['id']}")).status == 404
        assert (await theirs.get("/api/webhooks")).data["total"] == 0
        assert (await mine.delete(f"/api/webhooks/{hook['id']}")).status == 200
        assert (await mine.get(f"/api/webhooks/{hook['id']}")).status == 404
    finally:
        await receiver.stop()


# Attempts that hang longer than the test: a timed-out attempt's handler would keep hanging at the receiver after
# the sender gave up on it, and the receiver could no longer tell how many attempts the sender has in flight.
@pytest.mark.gateway_settings(webhook_concurrency=8, webhook_concurrency_per_subscription=2,
                              webhook_timeout_seconds=60)
async def test_a_hanging_endpoint_of_one_tenant_does_not_hold_up_another(outbound_env):
    session, tenant, control = outbound_env["session"], outbound_env["tenant"], outbound_env["control"]
    slow = (await api.tenant(session, tenant, control))["admin"]
    fast = (await api.tenant(session, tenant, control))["admin"]
    released = asyncio.Event()
    in_flight = [0, 0]  # now, most

    async def hang(_: Received) -> int:
        in_flight[0] += 1
        in_flight[1] = max(in_flight)
        try:
            await released.wait()
        finally:
            in_flight[0] -= 1
        return 200

    hanging, quick = await Receiver(hang).start(), await Receiver().start()
    try:
        await subscribe(slow, hanging.url)
        await subscribe(fast, quick.url)
        for n in range(12):  # twelve resources: twelve queues, all hanging
            await slow.post("/api/incidents", {"title": f"slow {n}", "severity": "P3"})
        await hanging.wait_for(lambda r: len(r.received) >= 2)
        made = (await fast.post("/api/incidents", {"title": "fast", "severity": "P3"})).data
        await quick.wait_for(lambda r: any(x.event["resource"]["id"] == made["id"] for x in r.successes()))
        # While the other tenant's endpoint had every attempt hanging, and never more than two at once.
        assert hanging.successes() == [] and in_flight[1] <= 2
    finally:
        released.set()
        await hanging.stop()
        await quick.stop()


@pytest.mark.postgres
async def test_two_gateway_replicas_deliver_each_event_once(tmp_path, kafka_bootstrap, postgres_url):
    """Two gateways on one PostgreSQL database and one consumer group, each with its feed and worker: every event
    becomes one delivery, attempted by one of them. The live stream, by contrast, shows every event on each."""
    import aiohttp

    from gateway.app import Runner
    from gateway.config import GatewaySettings
    from services.incident.config import IncidentSettings
    from services.incident.server import build

    service = await build(IncidentSettings(data_dir=tmp_path, grpc_port=0, kafka_bootstrap=kafka_bootstrap,
                                           log_json=False))
    port = await service.start()
    group = f"test-webhooks-{uuid.uuid4().hex}"
    runners = []
    for n in range(2):
        settings = GatewaySettings(
            data_dir=tmp_path / f"gw{n}", tenant_port=0, control_port=0, kafka_bootstrap=kafka_bootstrap,
            database_url=postgres_url, operator_email=api.OPERATOR_EMAIL, operator_password=api.OPERATOR_PASSWORD,
            jwt_secret="a-shared-secret-of-at-least-32-characters", incident_addr=f"127.0.0.1:{port}",
            webhook_allowed_networks=["127.0.0.0/8"], webhook_consumer_group=group, webhook_poll_seconds=0.2)
        runners.append(Runner(settings))
        await runners[-1].start()
    receiver = await Receiver().start()
    try:
        async with aiohttp.ClientSession() as session:
            bases = [runner.gateway.tenant_url for runner in runners]
            control = f"http://127.0.0.1:{runners[0].ports['control']}"
            admin = (await api.tenant(session, bases[0], control))["admin"]
            await subscribe(admin, receiver.url)
            for runner in runners:
                await runner.gateway.events.wait_ready(30)
            streams = [await open_stream(session, base, admin.headers) for base in bases]
            made = []
            for n in range(20):
                admin.base = bases[n % 2]
                made.append((await admin.post("/api/incidents", {"title": f"twice {n}", "severity": "P4"})).data)
            await receiver.wait_for(lambda r: len({x.event["id"] for x in r.successes()}) >= 20, timeout=60)
            streamed = [{m.json["id"] for m in await stream.events(20)} for stream in streams]
            for stream in streams:
                await stream.close()
            await asyncio.sleep(1.0)  # room for a duplicate delivery to show up, if there were one
    finally:
        await receiver.stop()
        for runner in runners:
            await runner.stop()
        await service.stop()
    events = [r.event["id"] for r in receiver.received]
    assert len(events) == len(set(events)) == 20
    assert {r.event["resource"]["id"] for r in receiver.received} == {m["id"] for m in made}
    assert streamed[0] == streamed[1] == set(events)


async def test_concurrent_changes_to_one_subscription_lose_nothing(tmp_path, kafka_bootstrap, database_url):
    """Rotations and conditional changes arriving at once, on SQLite and on PostgreSQL: every rotation lands on
    the one before it (none lost), and of several PATCHes with the same If-Match exactly one wins."""
    import aiohttp

    from gateway.app import Runner
    from gateway.config import GatewaySettings

    settings = GatewaySettings(data_dir=tmp_path, tenant_port=0, control_port=0, kafka_bootstrap=kafka_bootstrap,
                               database_url=database_url, operator_email=api.OPERATOR_EMAIL,
                               operator_password=api.OPERATOR_PASSWORD, webhook_allowed_networks=["127.0.0.0/8"],
                               webhook_consumer_group=f"test-webhooks-{uuid.uuid4().hex}")
    runner = Runner(settings)
    await runner.start()
    try:
        async with aiohttp.ClientSession() as session:
            control = f"http://127.0.0.1:{runner.ports['control']}"
            admin = (await api.tenant(session, runner.gateway.tenant_url, control))["admin"]
            hook = await subscribe(admin, "http://127.0.0.1:9/unused")
            rotated = await asyncio.gather(*(
                admin.post(f"/api/webhooks/{hook['id']}/rotate-secret", {"overlap_seconds": 600})
                for _ in range(10)))
            assert all(r.status == 200 for r in rotated), [r.body for r in rotated]
            secrets = [r.data["secret"] for r in rotated]
            assert len(set(secrets)) == 10
            final = await runner.gateway.webhooks.store.get(admin.tenant_id, hook["id"])
            assert final.version == 11 and final.secret in secrets
            # The chain is whole: each rotation kept the secret it replaced as the previous one.
            assert final.previous_secret in {hook["secret"], *secrets} - {final.secret}
            patches = await asyncio.gather(*(
                admin.patch(f"/api/webhooks/{hook['id']}", {"description": f"writer {n}"},
                            headers={"If-Match": '"11"'}) for n in range(8)))
            assert sorted(p.status for p in patches) == [200] + [409] * 7
            won = next(p for p in patches if p.status == 200).data
            assert (await admin.get(f"/api/webhooks/{hook['id']}")).data["description"] == won["description"]
    finally:
        await runner.stop()


async def test_alerts_through_a_door_are_delivered_and_filtered_by_integration(outbound_env):
    """Alerts posted to the generic door of two integrations: a subscription filtered to one integration gets
    only that one's `alert.*` (and every `incident.created`, which carries no integration); the stream shows
    all of them, with the same event ids as the deliveries."""
    users = await api.tenant(outbound_env["session"], outbound_env["tenant"], outbound_env["control"])
    admin = users["admin"]
    receiver = await Receiver().start()
    try:
        (wanted, wanted_key), (other, other_key) = [await alerts.integration(admin, "generic") for _ in range(2)]
        hook = await subscribe(admin, receiver.url, event_types=["alert.*", "incident.created"],
                               filter={"integration_id": [wanted["id"]], "severity": ["P1"]})
        stream = await open_stream(outbound_env["session"], outbound_env["tenant"], users["viewer"].headers,
                                   types="alert.*")
        alert_ids = {}
        for name, key in (("other", other_key), ("wanted", wanted_key)):
            posted = await outbound_env["session"].post(
                outbound_env["tenant"] + "/api/alerts/generic", headers={"Authorization": f"Bearer {key}"},
                json={"alerts": [{"title": f"{name} down", "fingerprint": name, "severity": "critical"}]})
            assert posted.status == 202, await posted.text()
            (alert_ids[name],) = (await posted.json())["data"]["alert_ids"]
        streamed = {m.json["resource"]["id"]: m.json for m in await stream.events(2, timeout=60)}
        await stream.close()
        assert set(streamed) == set(alert_ids.values())
        assert {e["type"] for e in streamed.values()} == {"alert.created"}
        await receiver.wait_for(lambda r: len(r.successes()) >= 3, timeout=60)
        await asyncio.sleep(1.0)  # an event the filter let through by mistake would arrive meanwhile
    finally:
        await receiver.stop()

    delivered = {(d.event["type"], d.event["resource"]["id"]): d for d in receiver.successes()}
    incidents = {streamed[a]["data"]["incident_id"] for a in alert_ids.values()}
    assert set(delivered) == {("alert.created", alert_ids["wanted"]), *(("incident.created", i) for i in incidents)}
    alert = delivered[("alert.created", alert_ids["wanted"])]
    assert alert.signed_by(hook["secret"]) and alert.event == streamed[alert_ids["wanted"]]
    assert alert.event["data"]["severity"] == "P1" and alert.event["data"]["integration_id"] == wanted["id"]


async def test_events_from_before_a_subscription_existed_are_not_delivered_to_it(outbound_env):
    """A consumer group starting afresh (a new group, or a topic the gateway starts to read) begins at the oldest
    event Kafka keeps; replaying those events through the feed gives a subscription only the ones that occurred
    after it was made."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    from gateway.events.registry import received
    from gateway.webhooks.feed import WebhookFeed
    from gateway.webhooks.service import EVENTS_FROM_SLACK
    from vigil.runtime import topics

    admin = (await api.tenant(outbound_env["session"], outbound_env["tenant"], outbound_env["control"]))["admin"]
    before = (await admin.post("/api/incidents", {"title": "before", "severity": "P3"})).data
    await asyncio.sleep(EVENTS_FROM_SLACK.total_seconds() + 0.3)
    async def ok(_got: Received) -> int:
        return 200

    receiver = await Receiver(ok).start()
    try:
        hook = await subscribe(admin, receiver.url + "/hooks/vigil")
        after = (await admin.post("/api/incidents", {"title": "after", "severity": "P3"})).data
        await eventually(lambda: deliveries(admin, hook["id"]))  # the running feed delivered "after"

        # The whole incident topic from its start, as a consumer group without offsets reads it.
        bootstrap = outbound_env["settings"].kafka_bootstrap
        kafka_admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await kafka_admin.start()
        try:
            described = await kafka_admin.describe_topics([topics.INCIDENT_EVENTS])
        finally:
            await kafka_admin.close()
        parts = [TopicPartition(topics.INCIDENT_EVENTS, p["partition"]) for p in described[0]["partitions"]]
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
        await consumer.start()
        try:
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            records, seen = [], set()
            async with asyncio.timeout(30):
                while {before["id"], after["id"]} - seen:
                    for batch in (await consumer.getmany(timeout_ms=500)).values():
                        records += batch
                        seen |= {e.rendered().resource_id for e in received(batch) if e.rendered() is not None}
        finally:
            await consumer.stop()
        webhooks = outbound_env["gateway"].webhooks
        replayed = WebhookFeed(webhooks.store, outbound_env["clock"], bootstrap="", group_id="",
                               on_enqueued=lambda: None)
        await replayed.handle(records)

        delivered = {d["resource"]["id"] for d in await deliveries(admin, hook["id"])}
        assert after["id"] in delivered
        assert before["id"] not in delivered
    finally:
        await receiver.stop()
