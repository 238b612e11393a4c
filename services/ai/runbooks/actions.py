"""What acting steps do: `http` calls to automation endpoints (with the address rules below) and `vigil` actions
(an incident note, an incident transition, a change request), performed over gRPC as the person who started the
run, in the run's tenant.

HTTP targets: only http and https; no redirects followed (a 3xx is an answer); addresses in private, loopback,
link-local, multicast, reserved or unspecified ranges are refused unless VIGIL_RUNBOOK_HTTP_ALLOW_PRIVATE is set
or the host is listed in VIGIL_RUNBOOK_HTTP_ALLOWED_HOSTS. Names are checked when they are resolved, by the
resolver the connection then uses, so a name cannot resolve to a public address for the check and a private one
for the call. Every call carries `Idempotency-Key: <run id>:<step id>:<attempt>` so an endpoint that honours it
can tell a retried step from a new one."""

from __future__ import annotations

import ipaddress
import json
import socket
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from services.ai.clients import Clients
from services.ai.runbooks.model import Run
from vigil.incident.v1 import incident_pb2
from vigil.itsm.v1 import itsm_pb2
from vigil.runtime import context
from vigil.runtime.clock import now
from vigil.runtime.context import CallContext
from vigil.runtime.errors import VigilError
from vigil.runtime.grpcio import call

MAX_BODY = 4096


class StepFailed(Exception):
    pass


def blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified)


class AddressPolicy:
    def __init__(self, allow_private: bool, allowed_hosts: str) -> None:
        self.allow_private = allow_private
        self.allowed = {h.strip().lower() for h in allowed_hosts.split(",") if h.strip()}

    def permits(self, host: str) -> bool:
        return self.allow_private or host.lower() in self.allowed

    def check_url(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StepFailed(f"refused target {url!r}: only http:// and https:// URLs with a host")
        host = parts.hostname
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return host  # a name: checked by the resolver when it is resolved
        if blocked(ip) and not self.permits(host):
            raise StepFailed(f"refused target {host}: a private, loopback or reserved address (allow it with "
                             "VIGIL_RUNBOOK_HTTP_ALLOWED_HOSTS)")
        return host


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing names that resolve to addresses the policy does not permit."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self.inner = aiohttp.ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET,
                      ) -> list[ResolveResult]:
        found = await self.inner.resolve(host, port, family)
        if not self.policy.permits(host):
            for entry in found:
                if blocked(ipaddress.ip_address(entry["host"])):
                    # aiohttp reports a resolver's OSError as a connection error of this request.
                    raise OSError(f"refused target {host}: resolves to {entry['host']}, a private or reserved "
                                  "address (allow it with VIGIL_RUNBOOK_HTTP_ALLOWED_HOSTS)")
        return found

    async def close(self) -> None:
        await self.inner.close()


class HttpCaller:
    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                resolver=GuardedResolver(self.policy), limit=50))
        return self._session

    async def call(self, rendered: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        url = str(rendered["url"])
        self.policy.check_url(url)
        method = rendered.get("method", "POST")
        headers = {str(k): str(v) for k, v in (rendered.get("headers") or {}).items()}
        headers.setdefault("Idempotency-Key", idempotency_key)
        body = rendered.get("body")
        kwargs: dict[str, Any] = {"headers": headers, "allow_redirects": False,
                                  "timeout": aiohttp.ClientTimeout(total=float(rendered.get("timeout_seconds", 10)))}
        if isinstance(body, dict | list):
            kwargs["json"] = body
        elif body is not None:
            kwargs["data"] = str(body).encode()
        try:
            async with self.session().request(method, url, **kwargs) as resp:
                raw = await resp.content.read(MAX_BODY + 1)
                status = resp.status
                is_json = resp.content_type == "application/json"
        except TimeoutError:
            raise StepFailed(f"{method} {url}: no answer within {rendered.get('timeout_seconds', 10)}s") from None
        except aiohttp.ClientError as exc:
            raise StepFailed(f"{method} {url}: {exc}") from None
        text = raw[:MAX_BODY].decode(errors="replace")
        output: dict[str, Any] = {"status": status, "body": text}
        if is_json and len(raw) <= MAX_BODY:
            try:
                output["body"] = json.loads(text)
            except ValueError:
                pass
        expected = rendered.get("expected_status") or []
        codes = expected if isinstance(expected, list) else [expected]
        ok = status in codes if codes else 200 <= status < 300
        if not ok:
            raise StepFailed(f"{method} {url} answered {status}, expected "
                             f"{', '.join(map(str, codes)) if codes else '2xx'}: {text[:200]}")
        return output

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class VigilActions:
    """Incident notes and transitions and change requests, as the run's starter in the run's tenant."""

    def __init__(self, clients: Clients) -> None:
        self.clients = clients

    async def perform(self, run: Run, rendered: dict[str, Any]) -> dict[str, Any]:
        ctx = CallContext(tenant_id=run.tenant_id, actor=run.started_by, role=run.started_by_role)
        token = context.bind(ctx)
        try:
            return await self._perform(run, rendered)
        except VigilError as err:
            raise StepFailed(f"{rendered.get('action')}: {err.code}: {err.message}") from None
        finally:
            context.reset(token)

    async def _perform(self, run: Run, c: dict[str, Any]) -> dict[str, Any]:
        action = c["action"]
        if action in ("incident.note", "incident.transition") and run.incident is None:
            raise StepFailed(f"{action} needs a run started for an incident")
        if action == "incident.note":
            resp = await call(self.clients.incident.AddNote(incident_pb2.AddNoteRequest(
                id=run.incident.id, message=str(c["message"])[:5000])))
            return {"entry_id": resp.entry.id}
        if action == "incident.transition":
            current = (await call(self.clients.incident.GetIncident(
                incident_pb2.GetIncidentRequest(id=run.incident.id)))).incident
            if current.status == c["to_status"]:
                return {"status": current.status, "changed": False}
            resp = await call(self.clients.incident.TransitionIncident(incident_pb2.TransitionIncidentRequest(
                id=run.incident.id, to_status=str(c["to_status"]), note=str(c.get("note", ""))[:5000])))
            return {"status": resp.incident.status, "changed": True}
        start = now()
        request = itsm_pb2.CreateChangeRequest(
            title=str(c["title"])[:500], description=str(c.get("description", ""))[:20000],
            type=str(c.get("type", "emergency")), risk_level=str(c.get("risk_level", "medium")),
            implementation_plan=str(c.get("implementation_plan", f"runbook {run.runbook_name} run {run.id}")),
            rollback_plan=str(c.get("rollback_plan", "")),
            ci_ids=[str(x) for x in (c.get("ci_ids") or (run.incident.ci_ids if run.incident else ()))][:100])
        request.requested_start.FromDatetime(start)
        request.requested_end.FromDatetime(start + timedelta(minutes=int(c.get("duration_minutes", 60))))
        change = (await call(self.clients.itsm.CreateChange(request))).change
        return {"change_id": change.id, "reference": change.reference, "status": change.status}
