"""Runbooks and runs between the domain and the protos."""

from __future__ import annotations

from google.protobuf import json_format
from google.protobuf.struct_pb2 import Value

from services.ai.protos import struct, ts
from services.ai.runbooks.model import Content, Parameter, Run, Runbook, Step
from vigil.ai.v1 import ai_pb2


def _value(v) -> Value | None:
    if v is None:
        return None
    out = Value()
    json_format.ParseDict(v, out)
    return out


def content_to_proto(c: Content) -> dict:
    return {"name": c.name, "description": c.description, "tags": list(c.tags),
            "parameters": [ai_pb2.RunbookParameter(name=p.name, type=p.type, default=_value(p.default),
                                                   required=p.required, description=p.description)
                           for p in c.parameters],
            "steps": [ai_pb2.RunbookStep(id=s.id, name=s.name, kind=s.kind, description=s.description,
                                         config=struct(s.config)) for s in c.steps]}


def content_from_proto(msg: ai_pb2.RunbookContent) -> Content:
    def default(p: ai_pb2.RunbookParameter):
        if not p.HasField("default") or p.default.WhichOneof("kind") in (None, "null_value"):
            return None
        value = json_format.MessageToDict(p.default)
        if p.type == "integer" and isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    def config(s: ai_pb2.RunbookStep) -> dict:
        raw = json_format.MessageToDict(s.config)
        return _integers(raw)

    return Content(
        name=msg.name, description=msg.description, tags=tuple(msg.tags),
        parameters=tuple(Parameter(p.name, p.type or "string", default(p), p.required, p.description)
                         for p in msg.parameters),
        steps=tuple(Step(s.id, s.name, s.kind, s.description, config(s)) for s in msg.steps))


def _integers(value):
    """Struct numbers are doubles; whole ones come back as integers (timeouts, status codes, counts)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integers(v) for v in value]
    return value


def runbook_to_proto(rb: Runbook) -> ai_pb2.Runbook:
    return ai_pb2.Runbook(
        id=rb.id, status=rb.status, version=rb.version, source=rb.source, generator=rb.generator,
        incident_id=rb.incident_id, rca_id=rb.rca_id, hypothesis=rb.hypothesis, created_by=rb.created_by,
        updated_by=rb.updated_by, created_at=ts(rb.created_at), updated_at=ts(rb.updated_at), llm_error=rb.llm_error,
        **content_to_proto(rb.content))


def run_to_proto(run: Run) -> ai_pb2.RunbookRun:
    p = run.preflight
    return ai_pb2.RunbookRun(
        id=run.id, runbook_id=run.runbook_id, runbook_name=run.runbook_name, runbook_version=run.runbook_version,
        incident_id=run.incident_id, status=run.status, dry_run=run.dry_run, parameters=struct(run.parameters),
        started_by=run.started_by, current_step_index=run.current_step_index, total_steps=len(run.steps),
        outputs=struct(run.outputs()), created_at=ts(run.created_at), updated_at=ts(run.updated_at),
        completed_at=ts(run.completed_at), version=run.version,
        preflight=ai_pb2.Preflight(
            decision=p.decision, reasons=list(p.reasons), target_ci_ids=list(p.target_ci_ids),
            blackouts=[ai_pb2.BlackoutHit(id=b["id"], name=b["name"], start=ts(b["start"]), end=ts(b["end"]))
                       for b in p.blackouts],
            active_changes=[ai_pb2.ActiveChange(id=c["id"], reference=c["reference"], status=c["status"],
                                                ci_ids=c["ci_ids"]) for c in p.active_changes],
            blast_radius=p.blast_radius, highest_criticality=p.highest_criticality, gaps=list(p.gaps)),
        steps=[ai_pb2.RunStep(
            index=s.index, step_id=s.step_id, name=s.name, kind=s.kind, status=s.status, output=struct(s.output),
            error=s.error, decided_by=s.decided_by, decision_comment=s.decision_comment,
            started_at=ts(s.started_at), completed_at=ts(s.completed_at), attempts=s.attempts,
            rendered=struct(s.rendered)) for s in run.steps])
