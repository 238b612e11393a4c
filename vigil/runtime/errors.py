"""Domain errors, written once, and their mapping to gRPC status and to the HTTP envelope codes.

Services raise these from the domain layer (which knows nothing of gRPC or HTTP); the gRPC server
interceptor turns them into a status with the envelope code and failing fields in trailing metadata; the
gateway turns that back into `{"error", "code", "trace_id"}` with the documented HTTP status. An error may say
when to try again (`retry_after`, seconds): it travels in trailing metadata too, and the gateway answers it as
`Retry-After`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import grpc

CODE_KEY = "vigil-error-code"
FIELDS_KEY = "vigil-error-fields"
RETRY_AFTER_KEY = "vigil-retry-after"


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass
class VigilError(Exception):
    message: str
    fields: list[FieldError] = field(default_factory=list)
    # Seconds after which a retry may succeed (None: the class's default; no default: do not say).
    retry_after: float | None = None

    code = "ERROR"
    http_status = 500
    grpc_status = grpc.StatusCode.INTERNAL
    default_retry_after: float | None = None

    def __post_init__(self) -> None:
        if self.retry_after is None:
            self.retry_after = self.default_retry_after

    def __str__(self) -> str:
        return self.message


class ValidationFailed(VigilError):
    code, http_status, grpc_status = "VALIDATION_ERROR", 422, grpc.StatusCode.INVALID_ARGUMENT


class NotFound(VigilError):
    code, http_status, grpc_status = "NOT_FOUND", 404, grpc.StatusCode.NOT_FOUND


class InvalidTransition(VigilError):
    code, http_status, grpc_status = "INVALID_TRANSITION", 400, grpc.StatusCode.FAILED_PRECONDITION


class Conflict(VigilError):
    code, http_status, grpc_status = "CONFLICT", 409, grpc.StatusCode.ABORTED


class Forbidden(VigilError):
    code, http_status, grpc_status = "FORBIDDEN", 403, grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(VigilError):
    code, http_status, grpc_status = "UNAUTHORIZED", 401, grpc.StatusCode.UNAUTHENTICATED


class QuotaExceeded(VigilError):
    code, http_status, grpc_status = "QUOTA_EXCEEDED", 402, grpc.StatusCode.RESOURCE_EXHAUSTED


class RateLimited(VigilError):
    code, http_status, grpc_status = "RATE_LIMIT", 429, grpc.StatusCode.RESOURCE_EXHAUSTED
    default_retry_after = 1.0


class Unavailable(VigilError):
    code, http_status, grpc_status = "UNAVAILABLE", 503, grpc.StatusCode.UNAVAILABLE
    default_retry_after = 1.0


BY_CODE: dict[str, type[VigilError]] = {
    cls.code: cls
    for cls in (
        ValidationFailed,
        NotFound,
        InvalidTransition,
        Conflict,
        Forbidden,
        Unauthenticated,
        QuotaExceeded,
        RateLimited,
        Unavailable,
    )
}

# For statuses that did not come from a VigilError (deadline, transport failures, ...).
_BY_GRPC_STATUS: dict[grpc.StatusCode, type[VigilError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: ValidationFailed,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.FAILED_PRECONDITION: InvalidTransition,
    grpc.StatusCode.ABORTED: Conflict,
    grpc.StatusCode.ALREADY_EXISTS: Conflict,
    grpc.StatusCode.PERMISSION_DENIED: Forbidden,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.RESOURCE_EXHAUSTED: QuotaExceeded,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: Unavailable,
}


def trailing_metadata(err: VigilError) -> tuple[tuple[str, str], ...]:
    meta = ((CODE_KEY, err.code), (FIELDS_KEY, json.dumps([f.as_dict() for f in err.fields])))
    if err.retry_after is not None:
        meta += ((RETRY_AFTER_KEY, f"{err.retry_after:g}"),)
    return meta


def from_rpc_error(exc: grpc.aio.AioRpcError) -> VigilError:
    """Rebuild the domain error a service raised (or the closest one for transport failures)."""
    meta = {k: v for k, v in (exc.trailing_metadata() or ()) if isinstance(v, str)}
    cls = BY_CODE.get(meta.get(CODE_KEY, "")) or _BY_GRPC_STATUS.get(exc.code())
    if cls is None:
        return VigilError("internal error")
    fields = [FieldError(**f) for f in json.loads(meta.get(FIELDS_KEY) or "[]")]
    message = exc.details() or cls.code.lower()
    if cls is Unavailable and CODE_KEY not in meta:
        message = "an upstream service is unavailable"
    try:
        retry_after = float(meta[RETRY_AFTER_KEY]) if RETRY_AFTER_KEY in meta else None
    except ValueError:
        retry_after = None
    return cls(message, fields, retry_after)
