"""Domain errors. Each carries a stable code that every interface maps the same way."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "ERROR"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    code = "NOT_FOUND"


class Conflict(DomainError):
    """A uniqueness rule; `existing_id` names the row that is in the way."""

    code = "CONFLICT"


class InvalidTransition(DomainError):
    code = "INVALID_TRANSITION"


class ValidationFailed(DomainError):
    """Input that breaks a rule; `field` names the input at fault."""

    code = "VALIDATION"


class NotResumable(DomainError):
    code = "NOT_RESUMABLE"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class PreconditionFailed(DomainError):
    """Optimistic concurrency: the caller's expected version is not the stored one."""

    code = "PRECONDITION_FAILED"
