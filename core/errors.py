"""Domain errors with a stable code; the GraphQL layer turns them into `extensions.code`."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    RATE_LIMITED = "RATE_LIMITED"
    CURSOR_EXPIRED = "CURSOR_EXPIRED"
    UNSAFE_WEBHOOK_URL = "UNSAFE_WEBHOOK_URL"


class ServiceError(Exception):
    """An expected failure that a client can act on."""

    code: ErrorCode = ErrorCode.BAD_USER_INPUT

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def extensions(self) -> dict[str, str]:
        """Picked up by graphql-core as the error's `extensions`."""
        return {"code": self.code.value}


class Unauthenticated(ServiceError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(ServiceError):
    code = ErrorCode.FORBIDDEN


class NotFound(ServiceError):
    code = ErrorCode.NOT_FOUND


class BadUserInput(ServiceError):
    code = ErrorCode.BAD_USER_INPUT


class ServiceUnavailable(ServiceError):
    code = ErrorCode.SERVICE_UNAVAILABLE


class RateLimited(ServiceError):
    code = ErrorCode.RATE_LIMITED


class CursorExpired(ServiceError):
    """Events after the cursor were pruned: refetch `activeSessions`, then subscribe without `after`."""

    code = ErrorCode.CURSOR_EXPIRED


class UnsafeWebhookUrl(ServiceError):
    """A webhook URL the service refuses to call: not https, or resolving to a loopback, link-local or private
    address (see SECURITY.md)."""

    code = ErrorCode.UNSAFE_WEBHOOK_URL
