"""The copilot without an LLM: common question shapes, recognised by patterns, answered by the same read-only
tools. It says so when it does not recognise a question, and lists what it understands.

Shapes: what caused an incident (by reference, or by severity and time: "the P1 incident last night"); what
changed on a CI (this week, today, in the last N days); logs of a service (errors, in the last hour); the blast
radius or the dependencies of a CI; incidents by status, severity and time. Pure parsing; the answer's text is
built from the tools' data."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

NAME = r"([A-Za-z0-9][\w.\-/:@]*)"
UNITS = {"minute": 1 / 60, "min": 1 / 60, "hour": 1, "day": 24, "week": 168, "month": 744}
HELP = ("I can answer without an LLM: \"what caused INC-00000042?\", \"what caused the P1 incident last night?\", "
        "\"what changed on orders-db this week?\", \"show error logs of checkout in the last hour\", \"what is "
        "the blast radius of orders-db?\", \"what does checkout depend on?\", \"open P1 incidents today\".")


@dataclass(frozen=True, slots=True)
class Intent:
    tool: str
    args: dict[str, Any] = field(default_factory=dict)
    # For "what caused": first find the incident, then its analysis.
    then: str = ""


def hours_back(text: str, at: datetime, default: float | None = None) -> float | None:
    """How far back a time phrase reaches, in hours."""
    t = text.lower()
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if "last night" in t:
        return (at - (midnight - timedelta(hours=6))).total_seconds() / 3600
    if "yesterday" in t:
        return (at - (midnight - timedelta(days=1))).total_seconds() / 3600
    if "today" in t or "this morning" in t:
        return max((at - midnight).total_seconds() / 3600, 1 / 60)
    if "this week" in t:
        return 168
    if "this month" in t:
        return 744
    m = re.search(r"(?:last|past)\s+(\d+)\s*(minute|min|hour|day|week|month)s?", t)
    if m:
        return int(m.group(1)) * UNITS[m.group(2)]
    m = re.search(r"(?:last|past)\s+(minute|hour|day|week|month)\b", t)
    if m:
        return UNITS[m.group(1)]
    return default


def parse(query: str, at: datetime) -> Intent | None:
    q = " ".join(query.strip().split())
    low = q.lower()
    reference = re.search(r"\bINC-\d{8}\b", q, re.I)
    severity = re.search(r"\b(P[1-4])\b", q, re.I)
    if re.search(r"\b(caus|root|why)", low):
        if reference:
            return Intent("get_rca", {"incident_id": reference.group(0).upper()})
        args: dict[str, Any] = {"since_hours": round(hours_back(low, at, 168.0), 3)}
        if severity:
            args["severity"] = severity.group(1).upper()
        return Intent("list_incidents", args, then="get_rca")
    m = re.search(r"(?:changed|changes?)\s+(?:on|to|in|for|of)\s+(?:the\s+)?" + NAME, q, re.I)
    if m:
        days = hours_back(low, at, 168.0) / 24
        return Intent("list_changes", {"ci": m.group(1).rstrip("?.,"), "days": max(1, min(31, round(days + 0.49)))})
    m = (re.search(r"logs?\s+(?:of|for|from|in)\s+(?:the\s+)?" + NAME, q, re.I)
         or re.search(NAME + r"(?:'s)?\s+(?:error\s+)?logs?\b", q, re.I))
    if m and "log" in low:
        service = m.group(1).rstrip("?.,")
        if service.lower() in ("error", "errors", "show", "the", "recent", "all"):
            service = ""
        if service:
            args = {"service": service, "minutes": round(hours_back(low, at, 1.0) * 60)}
            level = re.search(r"\b(error|warn|warning|fatal|info|debug)s?\b", low)
            if level:
                args["level"] = {"warning": "warn"}.get(level.group(1), level.group(1))
            return Intent("query_logs", args)
    m = re.search(r"(?:blast radius|impact)\s+(?:of|on)\s+(?:the\s+)?" + NAME, q, re.I) or re.search(
        r"what\s+depends\s+on\s+(?:the\s+)?" + NAME, q, re.I)
    if m:
        return Intent("ci_impact", {"ci": m.group(1).rstrip("?.,"), "direction": "downstream"})
    m = re.search(r"(?:dependencies\s+of|what\s+does)\s+(?:the\s+)?" + NAME + r"(?:\s+depend)?", q, re.I)
    if m and "depend" in low:
        return Intent("ci_impact", {"ci": m.group(1).rstrip("?.,"), "direction": "upstream"})
    if "incident" in low:
        args = {}
        status = re.findall(r"\b(triggered|open|acknowledged|investigating|resolved|closed|reopened)\b", low)
        if status:
            args["status"] = ",".join(dict.fromkeys(status))
        elif re.search(r"\b(active|current|ongoing|unresolved)\b", low):
            args["status"] = "triggered,open,acknowledged,investigating,reopened"
        if severity:
            args["severity"] = severity.group(1).upper()
        since = hours_back(low, at)
        if since:
            args["since_hours"] = round(since, 3)
        return Intent("list_incidents", args)
    return None


def _limit(persona: str) -> int:
    return {"executive": 1, "manager": 3}.get(persona, 10)


def answer(intent: Intent, data: Any, persona: str) -> str:
    """The answer's text from a tool's data."""
    n = _limit(persona)
    if intent.tool == "get_rca" or intent.then == "get_rca":
        if data.get("analysis_id") is None:
            return (f"{data['incident']} has no root-cause analysis yet; run one with POST /api/rca "
                    f"{{\"incident_id\": \"{data['incident']}\"}}.")
        if not data["causes"]:
            return f"The analysis {data['analysis_id']} of {data['incident']} found nothing anomalous: no cause named."
        top = data["causes"][0]
        text = (f"The probable cause of {data['incident']} is {top['ci']} ({top['hypothesis'].replace('_', ' ')}, "
                f"confidence {top['confidence']}), per analysis {data['analysis_id']}")
        if persona == "executive":
            return text + "."
        evidence = [e for e in data["evidence"] if e["id"] in top["evidence_ids"]][: max(n - 1, 1)]
        text += ". Evidence: " + "; ".join(f"{e['description'] or e['title']} [{e['id']}]" for e in evidence)
        others = data["causes"][1:n]
        if others:
            text += ". Also considered: " + ", ".join(c["ci"] for c in others)
        return text + "."
    if intent.tool == "list_changes":
        changes = data["changes"]
        where = f" on {data['ci']}" if data["ci"] else ""
        if not changes:
            return f"No change request{where} in the last {data['days']} day(s)."
        head = f"{len(changes)} change request(s){where} in the last {data['days']} day(s)"
        if persona == "executive":
            return head + "."
        return head + ": " + "; ".join(f"{c['reference']} \"{c['title']}\" ({c['status']}, {c['start']})"
                                       for c in changes[:n]) + "."
    if intent.tool == "query_logs":
        lines = data["lines"]
        what = f"{intent.args.get('level', '')} logs".strip()
        if not lines:
            return f"No {what} of {data['service']} in the last {data['minutes']} minute(s)."
        head = f"{len(lines)} {what} of {data['service']} in the last {data['minutes']} minute(s)"
        if persona == "executive":
            return head + "."
        return head + ": " + "; ".join(f"{x['at']} {x['body'][:160]} [{x['id']}]" for x in lines[:n]) + "."
    if intent.tool == "ci_impact":
        ci, items = data["ci"], data["items"]
        if not items:
            return (f"Nothing depends on {ci['name']}." if data["direction"] == "downstream"
                    else f"{ci['name']} depends on nothing in the CMDB.")
        head = (f"{data['total']} CI(s) depend on {ci['name']}" if data["direction"] == "downstream"
                else f"{ci['name']} depends on {data['total']} CI(s)")
        if persona == "executive":
            return head + "."
        return head + ": " + ", ".join(f"{x['name']} (depth {x['depth']})" for x in items[:n]) + "."
    incidents = data["incidents"]
    if not incidents:
        return "No incident matches."
    head = f"{len(incidents)} incident(s)"
    if persona == "executive":
        return head + f", the latest {incidents[0]['reference']} \"{incidents[0]['title']}\"."
    return head + ": " + "; ".join(f"{i['reference']} {i['severity']} {i['status']} \"{i['title']}\""
                                   for i in incidents[:n]) + "."
