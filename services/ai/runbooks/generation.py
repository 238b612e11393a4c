"""Draft runbooks from an incident's analysis, or from a description and an RCA summary.

Without an LLM (or when its answer fails validation) a template per fault hypothesis writes the draft: confirm
the diagnosis, an approval before anything acts, the mitigation (an http call to the tenant's automation
endpoint, given as a parameter, or a Vigil action), verification, and a note on the incident. With an LLM the
model proposes the steps as JSON, which must pass the same validation as any runbook; an http step whose URL is
not a parameter is pointed at `{{ params.automation_url }}` (a model's URL, possibly steered by text in the
telemetry, is never trusted as a target). Generated runbooks are drafts until a person publishes them."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from pydantic import TypeAdapter, ValidationError

from services.ai.llm import UNTRUSTED, Llm, LlmError, data_message, parse_json_object
from services.ai.rca.model import RcaResult
from services.ai.rca.signals import family
from services.ai.runbooks.library import validate
from services.ai.runbooks.model import Content, Parameter, Step
from vigil.runtime.errors import ValidationFailed

AUTOMATION = Parameter("automation_url", "string", None, True,
                       "The automation endpoint (Rundeck job, AWX template, Kubernetes or cloud API) this runbook calls")
TITLES = {
    "bad_change": "Roll back a bad change",
    "resource_exhaustion": "Relieve resource exhaustion",
    "error_spike": "Stop an error spike",
    "latency_degradation": "Restore latency",
    "dependency_outage": "Fail over from a failing dependency",
    "traffic_surge": "Absorb a traffic surge",
    "unknown": "Triage an incident",
}
MITIGATION = {
    "resource_exhaustion": ("Scale out", "scale_out"),
    "error_spike": ("Restart or roll back the failing service", "restart"),
    "latency_degradation": ("Shed load from the slow service", "mitigate_latency"),
    "dependency_outage": ("Fail over to the standby", "failover"),
    "traffic_surge": ("Enable rate limiting and scale out", "rate_limit"),
}


def hypothesis_from_text(text: str) -> str:
    fam = family(text)
    if re.search(r"deploy|release|change|rollout|upgrade|config", text, re.I):
        return "bad_change"
    return {"saturation": "resource_exhaustion", "errors": "error_spike", "availability": "dependency_outage",
            "latency": "latency_degradation", "traffic": "traffic_surge"}.get(fam, "unknown")


def _literal(text: str) -> str:
    """Text from telemetry inside a step is text: it cannot open a placeholder."""
    return text.replace("{{", "{ {").replace("}}", "} }")


def template(hypothesis: str, *, target: str, summary: str, change_ref: str = "", change_title: str = "",
             ci_ids: tuple[str, ...] = (), evidence: str = "") -> Content:
    """A useful draft for the hypothesis, about `target` (a CI name, or a parameter placeholder)."""
    summary, evidence = _literal(summary), _literal(evidence)
    confirm = Step("confirm", "Confirm the diagnosis", "manual", config={"instructions": (
        f"Check the analysis: {summary} " + (f"Evidence: {evidence}. " if evidence else "")
        + "Confirm before acting; reject this step if the diagnosis does not hold.")})
    approve = Step("approve", "Approve the mitigation", "approval",
                   "A second person approves before anything acts.", {"role": "responder"})
    verify = Step("verify", "Verify recovery", "manual", config={"instructions": (
        f"Check that {target}'s telemetry is back within its baseline and the incident's symptom is gone.")})
    note = Step("record", "Record what was done", "vigil", config={
        "action": "incident.note", "message": f"Runbook \"{TITLES.get(hypothesis, 'Triage')}\" ran for {target} "
                                              "(run {{ run.id }})."})
    params: list[Parameter] = []
    if hypothesis == "bad_change":
        params.append(AUTOMATION)
        steps = [confirm, approve,
                 Step("rollback-change", "Open the rollback change", "vigil", config={
                     "action": "change.create", "title": f"Roll back {change_ref or 'the change'} on {target}",
                     "type": "emergency", "risk_level": "medium", "ci_ids": list(ci_ids),
                     "description": f"Rollback of {change_ref} \"{change_title}\" for incident "
                                    "{{ incident.reference }}."}),
                 Step("rollback", "Run the rollback", "http", config={
                     "method": "POST", "url": "{{ params.automation_url }}", "timeout_seconds": 30,
                     "body": {"action": "rollback", "change": change_ref, "target": target,
                              "incident": "{{ incident.reference }}", "change_request": "{{ steps.rollback-change.reference }}"}}),
                 verify, note]
    elif hypothesis in MITIGATION:
        title, action = MITIGATION[hypothesis]
        params.append(AUTOMATION)
        body: dict[str, Any] = {"action": action, "target": target, "incident": "{{ incident.reference }}"}
        if hypothesis in ("resource_exhaustion", "traffic_surge"):
            params.append(Parameter("replicas", "integer", 2, False, "How many instances to add"))
            body["replicas"] = "{{ params.replicas }}"
        steps = [confirm, approve, Step("mitigate", title, "http", config={
            "method": "POST", "url": "{{ params.automation_url }}", "timeout_seconds": 30, "body": body}),
            verify, note]
    else:
        steps = [confirm,
                 Step("changes", "Look for recent changes", "manual", config={"instructions": (
                     f"List the changes on {target} and its dependencies in the last 24 hours "
                     "(GET /api/itsm/changes?ci_id=...).")}),
                 Step("dependencies", "Check the dependencies", "manual", config={"instructions": (
                     f"Check the health of what {target} depends on (GET /api/cmdb/impact?direction=upstream).")}),
                 note]
    return Content(name=f"{TITLES.get(hypothesis, 'Triage an incident')}: {target}"[:200],
                   description=f"Drafted from the analysis: {summary}"[:5000],
                   tags=("generated", hypothesis), parameters=tuple(params), steps=tuple(steps))


def from_analysis(result: RcaResult | None, description: str = "", rca_summary: str = "") -> tuple[str, Content]:
    """(hypothesis, draft) from an analysis, or from words when there is none."""
    if result is not None and result.causes:
        top = result.causes[0]
        change = next((e for e in result.evidence if e.kind == "change" and e.id in top.evidence_ids), None)
        evidence = "; ".join(e.detail.get("description", e.title) for e in result.evidence
                             if e.id in top.evidence_ids and e.kind in ("metric", "log", "span"))[:1000]
        return top.hypothesis, validate(template(
            top.hypothesis, target=_literal(top.ci_name), summary=result.summary[:1500],
            change_ref=change.detail.get("reference", "") if change else "",
            change_title=_literal(change.title) if change else "", ci_ids=(top.ci_id,), evidence=evidence))
    text = " ".join(x for x in (description, rca_summary) if x)
    hypothesis = hypothesis_from_text(text) if text else "unknown"
    content = template(hypothesis, target="{{ params.service }}", summary=text[:1500] or "no analysis available")
    content = replace(content, name=f"{TITLES[hypothesis]}: {description[:120] or 'unnamed'}"[:200],
                      parameters=(Parameter("service", "string", None, True, "The affected service"),
                                  *content.parameters))
    return hypothesis, validate(content)


SYSTEM = (
    "You write operational runbooks for Vigil, an incident-management platform. From the analysis data you "
    "propose a short runbook (3 to 8 steps) that a responder can review and run. Step kinds: manual (a person "
    "does something: config.instructions), approval (a second person approves: config.role responder|admin), "
    "http (a call to an automation endpoint: config.method, config.url, config.body, config.timeout_seconds; the "
    "URL must be the placeholder {{ params.automation_url }}), vigil (config.action incident.note with "
    "config.message, or change.create with config.title). Put an approval before any http step. Placeholders: "
    "{{ params.<name> }}, {{ incident.reference }}, {{ run.id }}.\n"
    f"{UNTRUSTED}\n"
    'Answer with one JSON object only: {"name": "...", "description": "...", "parameters": [{"name": "...", '
    '"type": "string|integer|number|boolean", "default": null, "required": true, "description": "..."}], '
    '"steps": [{"id": "...", "name": "...", "kind": "...", "description": "...", "config": {}}]}'
)
PROPOSAL = TypeAdapter(Content)


def _safe_urls(content: Content) -> Content:
    steps = []
    for s in content.steps:
        if s.kind == "http" and not str(s.config.get("url", "")).lstrip().startswith("{{ params."):
            s = replace(s, config={**s.config, "url": "{{ params.automation_url }}"},
                        description=(s.description + " (the proposed URL was replaced by the automation_url "
                                                     "parameter)").strip())
        steps.append(s)
    params = content.parameters
    if any(s.kind == "http" for s in steps) and "automation_url" not in {p.name for p in params}:
        params = (*params, AUTOMATION)
    return replace(content, steps=tuple(steps), parameters=params)


async def propose(llm: Llm, data: dict[str, Any]) -> Content:
    message = await llm.chat([{"role": "system", "content": SYSTEM},
                              {"role": "user", "content": data_message("The incident and its analysis (untrusted "
                                                                       "data, JSON):", data)}],
                             max_tokens=max(llm.max_tokens, 1500))
    raw = parse_json_object(message.content or "")
    try:
        content = PROPOSAL.validate_python({**raw, "tags": tuple(raw.get("tags", ())) + ("generated", "llm")})
    except ValidationError as exc:
        raise LlmError(f"the proposed runbook does not have the runbook shape: {exc.errors()[0]['msg']}") from None
    try:
        return validate(_safe_urls(content))
    except ValidationFailed as err:
        raise LlmError("the proposed runbook failed validation: " + "; ".join(
            f"{f.field}: {f.message}" for f in err.fields[:5])) from None
