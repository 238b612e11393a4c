"""The runbook library's rules (pure): what a valid runbook is, its status moves, its parameters, and the
`{{ placeholder }}` templating of step configurations.

Placeholders name `params.<name>`, `incident.<id|reference|title|severity|status|ci_ids>`, `run.id`, or an earlier
step's output `steps.<step id>.<field>`. They are plain substitutions (no expressions, no code): a runbook is data
a person reviews, never a program."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from services.ai.runbooks.model import (
    PARAM_TYPES,
    STATUSES,
    STEP_KINDS,
    VIGIL_ACTIONS,
    Content,
    Parameter,
    Step,
)
from vigil.runtime.errors import FieldError, InvalidTransition, ValidationFailed

NAME = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
STEP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w\-]*(?:\.[\w\-]+)*)\s*\}\}")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
APPROVER_ROLES = ("responder", "admin")
INCIDENT_FIELDS = ("id", "reference", "title", "severity", "status", "ci_ids")
MAX_STEPS = 50
MAX_PARAMETERS = 30
MAX_HTTP_TIMEOUT = 60
MOVES = {"draft": {"published", "archived"}, "published": {"archived", "draft"}, "archived": {"draft"}}


def _text(errors: list[FieldError], name: str, value: Any, limit: int, required: bool = False) -> None:
    if not isinstance(value, str):
        errors.append(FieldError(name, "must be text"))
    elif required and not value.strip():
        errors.append(FieldError(name, "is required"))
    elif len(value) > limit:
        errors.append(FieldError(name, f"at most {limit} characters"))


def type_ok(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, int | float) and not isinstance(value, bool)


def _placeholders(value: Any) -> list[str]:
    if isinstance(value, str):
        return PLACEHOLDER.findall(value)
    if isinstance(value, dict):
        return [p for v in value.values() for p in _placeholders(v)]
    if isinstance(value, list):
        return [p for v in value for p in _placeholders(v)]
    return []


def _check_references(errors: list[FieldError], at: str, config: dict, params: set[str], earlier: list[str]) -> None:
    for ref in _placeholders(config):
        head, _, rest = ref.partition(".")
        if head == "params" and rest.split(".")[0] in params:
            continue
        if head == "incident" and rest in INCIDENT_FIELDS or ref == "run.id":
            continue
        if head == "steps" and rest.split(".")[0] in earlier:
            continue
        errors.append(FieldError(at, f"unknown placeholder {{{{ {ref} }}}}: use params.<name>, incident.<field>, "
                                     "run.id or steps.<earlier step id>.<field>"))


def _check_step_config(errors: list[FieldError], at: str, step: Step) -> None:
    c = step.config
    if step.kind == "approval":
        if c.get("role", "responder") not in APPROVER_ROLES:
            errors.append(FieldError(f"{at}.config.role", "must be responder or admin"))
    elif step.kind == "http":
        if c.get("method", "POST") not in HTTP_METHODS:
            errors.append(FieldError(f"{at}.config.method", f"one of {', '.join(HTTP_METHODS)}"))
        url = c.get("url")
        if not isinstance(url, str) or not url.strip():
            errors.append(FieldError(f"{at}.config.url", "is required"))
        elif not (url.startswith(("http://", "https://")) or url.startswith("{{")):
            errors.append(FieldError(f"{at}.config.url", "must be an http:// or https:// URL"))
        timeout = c.get("timeout_seconds", 10)
        if not type_ok("number", timeout) or not 1 <= timeout <= MAX_HTTP_TIMEOUT:
            errors.append(FieldError(f"{at}.config.timeout_seconds", f"between 1 and {MAX_HTTP_TIMEOUT}"))
        expected = c.get("expected_status", [])
        codes = expected if isinstance(expected, list) else [expected]
        if any(not type_ok("integer", x) or not 100 <= x <= 599 for x in codes):
            errors.append(FieldError(f"{at}.config.expected_status", "HTTP status codes (100-599)"))
        headers = c.get("headers", {})
        if not isinstance(headers, dict) or any(not isinstance(v, str) for v in headers.values()):
            errors.append(FieldError(f"{at}.config.headers", "an object of text values"))
        if "body" in c and not isinstance(c["body"], str | dict | list):
            errors.append(FieldError(f"{at}.config.body", "text or a JSON object"))
    elif step.kind == "vigil":
        action = c.get("action")
        if action not in VIGIL_ACTIONS:
            errors.append(FieldError(f"{at}.config.action", f"one of {', '.join(VIGIL_ACTIONS)}"))
        elif action == "incident.note" and not isinstance(c.get("message"), str):
            errors.append(FieldError(f"{at}.config.message", "is required for incident.note"))
        elif action == "incident.transition" and not isinstance(c.get("to_status"), str):
            errors.append(FieldError(f"{at}.config.to_status", "is required for incident.transition"))
        elif action == "change.create" and not isinstance(c.get("title"), str):
            errors.append(FieldError(f"{at}.config.title", "is required for change.create"))


def validate(content: Content) -> Content:
    """The content, checked; steps without an id get step-1, step-2, ... Raises ValidationFailed naming every
    failing field."""
    errors: list[FieldError] = []
    _text(errors, "name", content.name, 200, required=True)
    _text(errors, "description", content.description, 5000)
    if len(content.tags) > 20 or any(not isinstance(t, str) or not 0 < len(t) <= 50 for t in content.tags):
        errors.append(FieldError("tags", "at most 20 tags of 1 to 50 characters"))
    if len(content.parameters) > MAX_PARAMETERS:
        errors.append(FieldError("parameters", f"at most {MAX_PARAMETERS}"))
    names: set[str] = set()
    for i, p in enumerate(content.parameters):
        at = f"parameters[{i}]"
        if not isinstance(p.name, str) or not NAME.match(p.name):
            errors.append(FieldError(f"{at}.name", "lower_snake_case, at most 64 characters"))
        elif p.name in names:
            errors.append(FieldError(f"{at}.name", f"duplicate parameter {p.name}"))
        names.add(p.name)
        if p.type not in PARAM_TYPES:
            errors.append(FieldError(f"{at}.type", f"one of {', '.join(PARAM_TYPES)}"))
        elif p.default is not None and not type_ok(p.type, p.default):
            errors.append(FieldError(f"{at}.default", f"must be a {p.type}"))
        _text(errors, f"{at}.description", p.description, 1000)
    if not content.steps:
        errors.append(FieldError("steps", "a runbook has at least one step"))
    if len(content.steps) > MAX_STEPS:
        errors.append(FieldError("steps", f"at most {MAX_STEPS}"))
    steps: list[Step] = []
    for i, s in enumerate(content.steps):
        at = f"steps[{i}]"
        step = s if s.id else replace(s, id=f"step-{i + 1}")
        if not STEP_ID.match(step.id):
            errors.append(FieldError(f"{at}.id", "lower case letters, digits, - and _ (at most 64)"))
        elif step.id in {x.id for x in steps}:
            errors.append(FieldError(f"{at}.id", f"duplicate step id {step.id}"))
        _text(errors, f"{at}.name", step.name, 200, required=True)
        _text(errors, f"{at}.description", step.description, 5000)
        if step.kind not in STEP_KINDS:
            errors.append(FieldError(f"{at}.kind", f"one of {', '.join(STEP_KINDS)}"))
        elif not isinstance(step.config, dict):
            errors.append(FieldError(f"{at}.config", "must be an object"))
        else:
            _check_step_config(errors, at, step)
            _check_references(errors, f"{at}.config", step.config, names, [x.id for x in steps])
        steps.append(step)
    if errors:
        raise ValidationFailed("invalid runbook", errors)
    return replace(content, steps=tuple(steps), tags=tuple(dict.fromkeys(content.tags)))


def move(current: str, target: str) -> None:
    if target not in STATUSES:
        raise ValidationFailed("invalid status", [FieldError("status", f"one of {', '.join(STATUSES)}")])
    if target != current and target not in MOVES[current]:
        raise InvalidTransition(f"a {current} runbook cannot become {target}; allowed: "
                                f"{', '.join(sorted(MOVES[current]))}", [FieldError("status", "not allowed")])


def bind_parameters(declared: tuple[Parameter, ...], given: dict[str, Any]) -> dict[str, Any]:
    """The run's parameter values: given ones checked against their types, defaults for the rest."""
    errors: list[FieldError] = []
    known = {p.name: p for p in declared}
    for name in given:
        if name not in known:
            errors.append(FieldError(f"parameters.{name}", "not a parameter of this runbook"))
    values: dict[str, Any] = {}
    for p in declared:
        if p.name in given:
            value = given[p.name]
            if p.type == "number" and type_ok("integer", value):
                value = float(value)
            if p.type == "integer" and isinstance(value, float) and value.is_integer():
                value = int(value)
            if not type_ok(p.type, value):
                errors.append(FieldError(f"parameters.{p.name}", f"must be a {p.type}"))
            values[p.name] = value
        elif p.default is not None:
            values[p.name] = p.default
        elif p.required:
            errors.append(FieldError(f"parameters.{p.name}", "is required"))
    if errors:
        raise ValidationFailed("invalid parameters", errors)
    return values


def lookup(scope: dict[str, Any], ref: str) -> Any:
    value: Any = scope
    for part in ref.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return None
    return value


def render(value: Any, scope: dict[str, Any], *, url: bool = False, missing: str | None = None) -> Any:
    """Fill placeholders. A string that is exactly one placeholder takes the value as is (numbers stay numbers);
    inside longer text values are written as text (percent-encoded in a URL, except at its very start where a
    base URL may stand). Unknown values become `missing` (or stay as the placeholder)."""
    if isinstance(value, dict):
        return {k: render(v, scope, missing=missing) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, scope, missing=missing) for v in value]
    if not isinstance(value, str):
        return value
    whole = PLACEHOLDER.fullmatch(value.strip())
    if whole:
        found = lookup(scope, whole.group(1))
        if found is not None:
            return found
        return missing.format(whole.group(1)) if missing else value

    def one(m: re.Match) -> str:
        found = lookup(scope, m.group(1))
        if found is None:
            return missing.format(m.group(1)) if missing else m.group(0)
        text = ",".join(map(str, found)) if isinstance(found, list) else str(found).lower() if isinstance(
            found, bool) else str(found)
        return quote(text, safe="") if url and m.start() > 0 else text

    return PLACEHOLDER.sub(one, value)


def render_step(config: dict[str, Any], scope: dict[str, Any], missing: str | None = None) -> dict[str, Any]:
    """A step's configuration with its placeholders filled (the URL of an http step percent-encoded)."""
    rendered = render(config, scope, missing=missing)
    if "url" in config:
        rendered["url"] = render(config["url"], scope, url=True, missing=missing)
    return rendered
