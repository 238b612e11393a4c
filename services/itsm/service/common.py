"""What every ITSM aggregate shares: approvals, the events a mutation decides on, paging, validation helpers
and the role checks the domain repeats after the gateway (it does not trust one door)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vigil.runtime.context import CallContext
from vigil.runtime.errors import FieldError, Forbidden, ValidationFailed

APPROVER_ROLES = ("admin", "responder")
DECISIONS = {"approve": "approved", "reject": "rejected"}
MAX_LIMIT = 200
MAX_CI_IDS = 100
LIMITS = {"title": 500, "description": 20_000, "implementation_plan": 20_000, "rollback_plan": 20_000,
          "requested_by": 320, "ci_id": 128, "close_notes": 20_000, "comment": 5_000, "note": 5_000,
          "name": 200, "category": 100, "fulfillment_group": 200, "reason": 2_000, "q": 200}


@dataclass(frozen=True, slots=True)
class Approval:
    approver: str
    role: str
    decision: str
    comment: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Event:
    """An event a mutation decided to publish."""

    type: str
    from_status: str = ""
    to_status: str = ""
    changed_fields: tuple[str, ...] = ()
    approval: Approval | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one mutation decided: the new entity and its events (no events: nothing changed)."""

    entity: Any
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class Page:
    limit: int = 50
    offset: int = 0


def check_text(errors: list[FieldError], name: str, value: str, required: bool = False,
                limit_key: str | None = None) -> None:
    limit = LIMITS[limit_key or name]
    if required and not value.strip():
        errors.append(FieldError(name, "is required"))
    elif len(value) > limit:
        errors.append(FieldError(name, f"must be at most {limit} characters"))


def check_choice(errors: list[FieldError], name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        errors.append(FieldError(name, f"must be one of {', '.join(choices)}"))


def check_ci_ids(errors: list[FieldError], ci_ids: Sequence[str]) -> None:
    if len(ci_ids) > MAX_CI_IDS:
        errors.append(FieldError("ci_ids", f"at most {MAX_CI_IDS} items"))
    for i, ci in enumerate(ci_ids):
        if not ci or len(ci) > LIMITS["ci_id"]:
            errors.append(FieldError(f"ci_ids[{i}]", f"must be 1 to {LIMITS['ci_id']} characters"))


def refuse_unknown_cis(ci_ids: Sequence[str], unknown: Sequence[str]) -> None:
    """422 naming each of `ci_ids` the CMDB does not know (a typo, or another tenant's id)."""
    if unknown:
        missing = set(unknown)
        raise ValidationFailed("unknown configuration items", [
            FieldError(f"ci_ids[{i}]", f"unknown configuration item {ci}") for i, ci in enumerate(ci_ids) if ci in missing])


def check_window(errors: list[FieldError], start: datetime | None, end: datetime | None,
                  start_name: str, end_name: str) -> None:
    if start is None:
        errors.append(FieldError(start_name, "is required"))
    if end is None:
        errors.append(FieldError(end_name, "is required"))
    if start is not None and end is not None and end <= start:
        errors.append(FieldError(end_name, f"must be after {start_name}"))


def check_page(errors: list[FieldError], limit: int, offset: int, cursor: str = "") -> None:
    if not 1 <= limit <= MAX_LIMIT:
        errors.append(FieldError("limit", f"must be between 1 and {MAX_LIMIT}"))
    if offset < 0:
        errors.append(FieldError("offset", "must be 0 or more"))
    if cursor and offset:
        errors.append(FieldError("offset", "cannot be combined with cursor"))


def is_key(key: str, ref: re.Pattern[str] | None) -> bool:
    if ref is not None and ref.match(key):
        return True
    try:
        uuid.UUID(key)
    except ValueError:
        return False
    return True


def check_key(key: str, what: str, ref: re.Pattern[str] | None = None, example: str = "") -> None:
    if not is_key(key, ref):
        hint = f"a {what} UUID" + (f" or a reference like {example}" if example else "")
        raise ValidationFailed(f"malformed {what} id", [FieldError("id", f"must be {hint}")])


def check_decision(ctx: CallContext, decision: str, comment: str, what: str) -> None:
    """An approval decision's shape and the approver's role (who may decide on what is the caller's rule)."""
    if decision not in DECISIONS:
        raise ValidationFailed("invalid decision", [FieldError("decision", "must be approve or reject")])
    errors: list[FieldError] = []
    check_text(errors, "comment", comment)
    if errors:
        raise ValidationFailed("invalid decision", errors)
    if ctx.role not in APPROVER_ROLES:
        raise Forbidden(f"approving {what} needs the admin or responder role; you are {ctx.role or 'unknown'}")


def require_writer(ctx: CallContext) -> None:
    if ctx.role == "viewer":
        raise Forbidden("viewers cannot change anything")


def require_admin(ctx: CallContext, what: str) -> None:
    if ctx.role != "admin":
        raise Forbidden(f"only admins may {what}; you are {ctx.role}")
