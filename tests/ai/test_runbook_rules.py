"""Runbook rules (pure): validation naming every failing field, placeholders, parameters, status moves, the run
state machine (approvals by someone else with the role, rejection, retry, cancel), pre-flight decisions, the
address policy of http steps, and drafts from templates."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest

from services.ai.runbooks import generation, library, preflight
from services.ai.runbooks import runs as machine
from services.ai.runbooks.actions import AddressPolicy, StepFailed, blocked
from services.ai.runbooks.model import (
    BLOCKED,
    CANCELLED,
    COMPLETED,
    FLAGGED,
    IN_PROGRESS,
    REJECTED,
    Content,
    Parameter,
    Preflight,
    Run,
    RunStep,
    Step,
)
from vigil.runtime.errors import Forbidden, InvalidTransition, ValidationFailed

AT = datetime(2026, 1, 1, tzinfo=UTC)


def fields(err: ValidationFailed) -> set[str]:
    return {f.field for f in err.fields}


def test_validation_names_every_failing_field():
    bad = Content(name=" ", parameters=(Parameter("Bad Name", "string"), Parameter("n", "integer", "x")),
                  steps=(Step("", "a", "teleport"), Step("s2", "", "http", config={"url": "ftp://x", "timeout_seconds": 0}),
                         Step("s3", "v", "vigil", config={"action": "incident.delete"}),
                         Step("s3", "dup", "manual"),
                         Step("s5", "refs", "manual", config={"text": "{{ params.nope }} {{ steps.s9.x }}"})))
    with pytest.raises(ValidationFailed) as err:
        library.validate(bad)
    assert {"name", "parameters[0].name", "parameters[1].default", "steps[0].kind", "steps[1].name",
            "steps[1].config.url", "steps[1].config.timeout_seconds", "steps[2].config.action", "steps[3].id",
            "steps[4].config"} <= fields(err.value)
    with pytest.raises(ValidationFailed) as err:
        library.validate(Content(name="empty"))
    assert fields(err.value) == {"steps"}


def test_valid_content_gets_step_ids_and_placeholders_resolve():
    content = library.validate(Content(
        name="restart", parameters=(Parameter("replicas", "integer", 2), Parameter("target", "string", None, True)),
        steps=(Step("", "call", "http", config={"url": "https://auto.example/{{ params.target }}/restart?n=1",
                                                "body": {"n": "{{ params.replicas }}", "who": "{{ incident.reference }}"}}),
               Step("", "note", "vigil", config={"action": "incident.note",
                                                 "message": "done: {{ steps.step-1.status }}"}))))
    assert [s.id for s in content.steps] == ["step-1", "step-2"]
    scope = {"params": {"replicas": 3, "target": "a b/c"}, "incident": {"reference": "INC-00000007"},
             "steps": {"step-1": {"status": 202}}}
    http = content.steps[0].config
    assert library.render(http["url"], scope, url=True) == "https://auto.example/a%20b%2Fc/restart?n=1"
    assert library.render(http["body"], scope) == {"n": 3, "who": "INC-00000007"}  # a whole placeholder keeps its type
    assert library.render(content.steps[1].config["message"], scope) == "done: 202"
    assert library.render("{{ params.missing }}", scope, missing="<{} at run time>") == "<params.missing at run time>"
    # A base URL given as a parameter is not escaped.
    assert library.render("{{ params.base }}/x", {"params": {"base": "https://a.example:8443"}}, url=True) == \
        "https://a.example:8443/x"


def test_parameters_are_typed_with_defaults():
    declared = (Parameter("replicas", "integer", 2), Parameter("ratio", "number"), Parameter("dry", "boolean", False),
                Parameter("target", "string", None, True))
    assert library.bind_parameters(declared, {"target": "api", "ratio": 1}) == {
        "replicas": 2, "ratio": 1.0, "dry": False, "target": "api"}
    with pytest.raises(ValidationFailed) as err:
        library.bind_parameters(declared, {"replicas": "two", "extra": 1})
    assert fields(err.value) == {"parameters.replicas", "parameters.extra", "parameters.target"}


def test_status_moves():
    library.move("draft", "published")
    library.move("published", "archived")
    library.move("archived", "draft")
    with pytest.raises(InvalidTransition):
        library.move("archived", "published")
    with pytest.raises(ValidationFailed):
        library.move("draft", "gone")


def a_run(*kinds: str, started_by: str = "alice", **config) -> Run:
    steps = tuple(RunStep(i, f"s{i}", f"step {i}", k, config=config.get(f"s{i}", {})) for i, k in enumerate(kinds))
    return Run(id="r1", tenant_id="t", runbook_id="rb", runbook_name="rb", runbook_version=1, incident=None,
               status=IN_PROGRESS, dry_run=False, parameters={}, started_by=started_by, started_by_role="responder",
               current_step_index=0, steps=steps, preflight=Preflight(), created_at=AT, updated_at=AT)


def test_approval_needs_someone_else_with_the_role():
    run, events = machine.wait(a_run("approval", "http", s0={"role": "admin"}), AT)
    assert run.status == BLOCKED and events == [("runbook_run.awaiting_approval", 0)]
    with pytest.raises(Forbidden):
        machine.decide(run, AT, "approve", "bob", "responder")  # needs admin
    with pytest.raises(Forbidden):
        machine.decide(run, AT, "approve", "alice", "admin")  # the starter
    with pytest.raises(Forbidden):
        machine.decide(run, AT, "approve", "vic", "viewer")
    with pytest.raises(InvalidTransition):
        machine.decide(run, AT, "confirm", "carol", "admin")  # an approval is approved, not confirmed
    with pytest.raises(InvalidTransition):
        machine.decide(run, AT, "approve", "carol", "admin", step_id="s1")  # not the waiting step
    approved, events = machine.decide(run, AT, "approve", "carol", "admin", "ok")
    assert approved.status == IN_PROGRESS and approved.current_step_index == 1
    assert approved.steps[0].output == {"decision": "approved", "by": "carol", "comment": "ok"}
    assert events == [("runbook_run.step_completed", 0)]
    with pytest.raises(InvalidTransition):  # the same approval again: nothing waits any more
        machine.decide(approved, AT, "approve", "dave", "admin")


def test_rejection_ends_the_run_and_manual_steps_are_confirmed_by_anyone():
    run, _ = machine.wait(a_run("manual", "approval"), AT)
    run, _ = machine.decide(run, AT, "confirm", "alice", "responder")  # the starter may confirm a manual step
    run, _ = machine.wait(run, AT)
    rejected, events = machine.decide(run, AT, "reject", "bob", "responder", "not now")
    assert rejected.status == REJECTED and rejected.steps[1].status == "rejected"
    assert events == [("runbook_run.rejected", 1)] and rejected.completed_at == AT


def test_claim_succeed_fail_retry_interrupt_cancel():
    run = a_run("http", "vigil")
    claimed = machine.claim(run, AT, {"url": "https://x"}, "exec-1", timedelta(seconds=25))
    step = claimed.current
    assert (step.status, step.attempts, step.executor, step.lease_until) == ("running", 1, "exec-1",
                                                                            AT + timedelta(seconds=25))
    failed, events = machine.fail(claimed, AT, "boom")
    assert failed.status == FLAGGED and events == [("runbook_run.flagged", 0)]
    retried, events = machine.decide(failed, AT, "retry", "bob", "responder")
    assert events == [("runbook_run.retried", 0)]
    assert retried.status == IN_PROGRESS and retried.current.status == "pending" and retried.current.attempts == 1
    done, _ = machine.succeed(machine.claim(retried, AT, {}, "e", timedelta(seconds=1)), AT, {"status": 200})
    stopped, events = machine.interrupted(machine.claim(done, AT, {}, "e", timedelta(seconds=1)), AT)
    assert stopped.status == FLAGGED and stopped.current.status == "interrupted"
    last, events = machine.succeed(machine.claim(machine.decide(stopped, AT, "retry", "bob", "responder")[0], AT, {},
                                                 "e", timedelta(seconds=1)), AT, {})
    assert last.status == COMPLETED and events[-1] == ("runbook_run.completed", -1)
    cancelled, _ = machine.cancel(a_run("manual", "http"), AT)
    assert cancelled.status == CANCELLED and {s.status for s in cancelled.steps} == {"skipped"}
    with pytest.raises(InvalidTransition):
        machine.cancel(cancelled, AT)


def test_preflight_decisions():
    assert preflight.decide(("a",), [], [], 3, "high", 25, []).decision == "allowed"
    refused = preflight.decide(("a",), [{"name": "freeze", "start": "s", "end": "e", "ci_ids": []}], [], 0, "",
                               25, [])
    assert refused.decision == "refused" and "every CI" in refused.reasons[0]
    assert preflight.decide(("a",), [], [{"reference": "CHG-1", "status": "implement", "ci_ids": ["a"]}], 0, "",
                            25, []).decision == "approval_required"
    assert preflight.decide(("a",), [], [], 26, "", 25, []).decision == "approval_required"
    assert preflight.decide(("a",), [], [], 1, "critical", 25, []).decision == "approval_required"
    assert preflight.decide(("a",), [], [], 0, "", 25, ["itsm: unavailable"]).decision == "approval_required"


def test_http_targets_follow_the_address_policy():
    assert blocked(ipaddress.ip_address("127.0.0.1")) and blocked(ipaddress.ip_address("10.1.2.3"))
    assert blocked(ipaddress.ip_address("169.254.169.254")) and blocked(ipaddress.ip_address("::ffff:192.168.0.1"))
    assert not blocked(ipaddress.ip_address("93.184.216.34"))
    strict = AddressPolicy(False, "")
    for url in ("http://127.0.0.1:8080/x", "http://[::1]/x", "https://169.254.169.254/latest", "file:///etc/passwd"):
        with pytest.raises(StepFailed):
            strict.check_url(url)
    assert strict.check_url("https://automation.example.com/job") == "automation.example.com"
    assert AddressPolicy(False, "127.0.0.1").check_url("http://127.0.0.1:9/x") == "127.0.0.1"
    assert AddressPolicy(True, "").check_url("http://10.0.0.1/x") == "10.0.0.1"


def test_templates_make_valid_drafts_for_every_hypothesis():
    for hypothesis in generation.TITLES:
        content = library.validate(generation.template(hypothesis, target="orders-db", summary="Probable cause: x {{",
                                                       change_ref="CHG-00000004", ci_ids=("ci-1",)))
        kinds = [s.kind for s in content.steps]
        assert kinds[0] == "manual" and content.steps[-1].config.get("action") == "incident.note"
        if "http" in kinds:  # nothing acts before an approval
            assert kinds.index("approval") < kinds.index("http")
            assert "automation_url" in {p.name for p in content.parameters}
    hypothesis, draft = generation.from_analysis(None, "High memory usage on web servers",
                                                 "Memory leak in session handler")
    assert hypothesis == "resource_exhaustion" and draft.parameters[0].name == "service"
    assert generation.hypothesis_from_text("bad deploy of v2.4") == "bad_change"


def test_a_model_cannot_point_an_http_step_anywhere():
    proposal = Content(name="x", steps=(Step("a", "approve", "approval"), Step("b", "call", "http", config={
        "url": "https://attacker.example/steal"})))
    safe = generation._safe_urls(proposal)
    assert safe.steps[1].config["url"] == "{{ params.automation_url }}"
    assert "automation_url" in {p.name for p in safe.parameters}
